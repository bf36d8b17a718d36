# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% tags=["remove-cell"]
# Colab set-up: install the course's `helpers` (and d2l, without its stale
# pins) when missing. It does nothing where `helpers` is already installed
# (locally, in CI), and it never pins torch.
import importlib.util
import os
import subprocess
import sys

if importlib.util.find_spec("helpers") is None:
    source = os.environ.get(
        "COURSE_INSTALL_SOURCE",
        "git+https://github.com/fashion-mnist-course/from-scratch-to-gpu@main",
    )
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "--no-deps", "d2l==1.0.3"], check=True)
    subprocess.run([*pip, source], check=True)

# %% [markdown]
# (chap-keras-mlp)=
# # A Keras-style MLP
#
# Many people meet Fashion-MNIST in TensorFlow's "basic classification"
# tutorial: load the arrays, stack a few layers, call `model.compile` and
# `model.fit`, and read off an accuracy. Those two calls hide a training loop,
# a loss and an optimizer. This chapter adds a hidden layer to softmax
# regression, which makes it a *multilayer perceptron* (MLP), and builds it
# three times. First from scratch, trained exactly like softmax regression in
# {ref}`chap-softmax-scratch`, so that we can measure what the hidden layer
# alone gains. Then in PyTorch with a small Keras-style wrapper,
# `helpers.KerasModel`, whose methods are plain loops we can read. Last with
# the real Keras 3, running the tutorial's code on PyTorch. Readers of notes
# written for TensorFlow 1.x (`tf.train.AdamOptimizer`, a softmax output
# layer) find the translation to today's code in {ref}`coming-from-tf1`.

# %%
import inspect
import os
import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from helpers import (
    TEXT_LABELS,
    KerasModel,
    confusion_matrix,
    load_data_fashion_mnist,
    load_fashion_mnist_tensors,
    plot_confusion_matrix,
    plot_history,
    plot_image,
    plot_value_array,
    sgd,
    train_ch3,
)
from helpers.keras import categorical_crossentropy

# %% tags=["remove-cell"]
# %config InlineBackend.figure_formats = ["retina"]
_ = torch.manual_seed(0)

# %% [markdown]
# (mlp-scratch)=
# ## An MLP from scratch
#
# Softmax regression maps the 784 pixels of an image straight to ten scores.
# An MLP puts a *hidden layer* in between: $h$ hidden units, each a weighted
# sum of the pixels passed through a nonlinear *activation function*
# $\sigma$. For a minibatch $\mathbf{X}$ of shape $n \times 784$,
#
# $$
# \mathbf{H} = \sigma(\mathbf{X}\mathbf{W}_1 + \mathbf{b}_1), \qquad
# \mathbf{O} = \mathbf{H}\mathbf{W}_2 + \mathbf{b}_2,
# $$
#
# with $\mathbf{W}_1$ of shape $784 \times h$, $\mathbf{W}_2$ of shape
# $h \times 10$, and the scores $\mathbf{O}$ going into softmax and the
# cross-entropy loss as before. The activation is what makes the layer worth
# having. Without it,
#
# $$
# (\mathbf{X}\mathbf{W}_1 + \mathbf{b}_1)\mathbf{W}_2 + \mathbf{b}_2
# = \mathbf{X}(\mathbf{W}_1\mathbf{W}_2) + (\mathbf{b}_1\mathbf{W}_2
# + \mathbf{b}_2),
# $$
#
# one linear map: softmax regression again.
#
# ### Activation functions
#
# The usual choice today is the rectified linear unit,
# $\operatorname{ReLU}(x) = \max(x, 0)$. We write it by hand:


# %%
def relu(X):
    return torch.maximum(X, torch.zeros_like(X))


print(relu(torch.tensor([-2.0, -0.5, 0.0, 0.5, 2.0])))

# %% [markdown]
# Older networks used the sigmoid $1 / (1 + e^{-x})$ or $\tanh x$. Their
# derivatives, $\operatorname{sigmoid}(x)\,(1 - \operatorname{sigmoid}(x))$
# and $1 - \tanh^2 x$, tend to 0 for large $|x|$, so a unit that is far in
# either direction passes almost no gradient back. ReLU's derivative is 1
# for every positive input (and 0 for negative ones). We let autograd
# compute the three derivatives and plot them dashed.

# %%
x = torch.linspace(-5, 5, 200, requires_grad=True)  # 0 is not among them
activations = {"ReLU": relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}
fig, axes = plt.subplots(1, 3, figsize=(10, 2.8), sharey=True)
grads = {}
for ax, (name, f) in zip(axes, activations.items(), strict=True):
    y = f(x)
    (grads[name],) = torch.autograd.grad(y.sum(), x)
    ax.plot(x.detach(), y.detach(), label=name)
    ax.plot(x.detach(), grads[name], "--", label="derivative")
    ax.set_ylim(-1.2, 2.2)
    ax.grid(True, alpha=0.3)
    ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# Autograd's derivatives agree with the formulas above:

# %%
s, t = torch.sigmoid(x.detach()), torch.tanh(x.detach())
print("sigmoid:", torch.allclose(grads["sigmoid"], s * (1 - s), atol=1e-6))
print("tanh:   ", torch.allclose(grads["tanh"], 1 - t**2, atol=1e-6))
print("ReLU:   ", torch.equal(grads["ReLU"], (x > 0).float()))

# %% [markdown]
# ### The same setting as softmax regression
#
# To see what the hidden layer gains, everything else stays as in
# {ref}`chap-softmax-scratch`: minibatches of 256, minibatch SGD with
# learning rate 0.1, 10 epochs, weights drawn with standard deviation 0.01,
# biases at zero, and `train_ch3` from `helpers`. The hidden layer has 128
# units, as in the Keras tutorial.

# %%
batch_size, lr, num_epochs = 256, 0.1, 10
train_iter, test_iter = load_data_fashion_mnist(batch_size)
num_inputs, num_hiddens, num_outputs = 784, 128, 10


def normal(*shape):
    return torch.normal(0, 0.01, size=shape).requires_grad_()


def zeros(n):
    return torch.zeros(n, requires_grad=True)


W1, b1 = normal(num_inputs, num_hiddens), zeros(num_hiddens)
W2, b2 = normal(num_hiddens, num_outputs), zeros(num_outputs)
W, b = normal(num_inputs, num_outputs), zeros(num_outputs)

# %% [markdown]
# Both models flatten each image into a row of 784 values and return ten
# scores per image. The loss is PyTorch's cross-entropy on the scores,
# `reduction="none"` so that it returns one loss per image, as the
# `cross_entropy` of {ref}`chap-softmax-scratch` did.


# %%
def mlp(X):
    H = relu(X.reshape(-1, num_inputs) @ W1 + b1)
    return H @ W2 + b2


def softmax_regression(X):
    return X.reshape(-1, num_inputs) @ W + b


loss = nn.CrossEntropyLoss(reduction="none")

# %% [markdown]
# Each model trains from the same seed, so both see the same minibatches
# in the same order. The only difference left is the hidden layer.


# %%
def train(net, params):
    torch.manual_seed(1)  # the same shuffles for both models
    return train_ch3(
        net, train_iter, test_iter, loss, num_epochs,
        lambda n: sgd(params, lr, n), plot=False,
    )  # fmt: skip


runs, seconds = {}, {}
models = {"softmax regression": (softmax_regression, [W, b]),
          "MLP": (mlp, [W1, b1, W2, b2])}  # fmt: skip
for name, (forward, params) in models.items():
    start = time.perf_counter()
    runs[name] = train(forward, params)
    seconds[name] = time.perf_counter() - start

# %% [markdown]
# The test accuracy after each epoch, for both:

# %%
plot_history({f"{name} test acc": run["test acc"]
              for name, run in runs.items()})  # fmt: skip
plt.show()

# %% [markdown]
# And the final numbers:

# %%
# NBVAL_IGNORE_OUTPUT
# Ten epochs of SGD amplify tiny floating-point differences between machines;
# the hidden cell below asserts the outcome instead.
for name, run in runs.items():
    print(
        f"{name:18}  train loss {run['train loss'][-1]:.4f}  "
        f"test acc {run['test acc'][-1]:.4f}  {seconds[name]:.1f} s"
    )
final = {name: run["test acc"][-1] for name, run in runs.items()}
gain = final["MLP"] - final["softmax regression"]
print(f"the hidden layer's gain: {100 * gain:.1f} percentage points")

# %% tags=["remove-cell"]
for run in runs.values():
    assert run["train loss"][-1] < run["train loss"][0], run
assert 0.80 < runs["softmax regression"]["test acc"][-1] < 0.86, runs
assert 0.82 < runs["MLP"]["test acc"][-1] < 0.88, runs
assert 0.0 < gain < 0.03, gain
first = {name: run["test acc"][0] for name, run in runs.items()}
assert first["MLP"] < first["softmax regression"], first
assert all(seconds[name] > 0 for name in runs), seconds

# %% [markdown]
# The hidden layer helps, but in this setting by little: the MLP starts
# slower (its first epoch is the worse of the two) and ends ahead by the
# gain printed above, at the price of many more parameters and more
# arithmetic per step. The Keras tutorial's setting, Adam with minibatches
# of 32 (eight times as many steps per epoch), gets much more out of the
# same network, as the next sections show.

# %% [markdown]
# ## The data as arrays
#
# Now the Keras tutorial's way. It starts from four NumPy arrays.
# `load_fashion_mnist_tensors` returns the same four as PyTorch tensors:
# training images and labels, test images and labels. The images are `uint8`
# grey levels, one `[28, 28]` matrix each, and the labels are integers indexing
# the ten class names.

# %%
X_train, y_train, X_test, y_test = load_fashion_mnist_tensors()
print("train images:", tuple(X_train.shape), X_train.dtype)
print("train labels:", tuple(y_train.shape), y_train.dtype)
print("test images: ", tuple(X_test.shape), X_test.dtype)
print("test labels: ", tuple(y_test.shape), y_test.dtype)
print("label range: ", int(y_train.min()), "to", int(y_train.max()))
print("class names: ", TEXT_LABELS)

# %% [markdown]
# Each of the ten classes has the same number of images in both sets:

# %%
print("train per class:", torch.bincount(y_train).tolist())
print("test per class: ", torch.bincount(y_test).tolist())

# %% [markdown]
# A colorbar shows the range of the raw pixel values of the first training
# image.

# %%
plt.figure(figsize=(3.5, 3))
plt.imshow(X_train[0], cmap="gray_r")
plt.colorbar()
plt.title(TEXT_LABELS[int(y_train[0])])
plt.axis("off")
plt.show()

# %% [markdown]
# Networks train better on small inputs, so we divide by 255 to bring every
# pixel into $[0, 1]$, as the Keras tutorial does. The same scaling must be
# applied to the test images.

# %%
X_train = X_train.float() / 255
X_test = X_test.float() / 255
print(X_train.dtype, float(X_train.min()), float(X_train.max()))

# %% [markdown]
# The first 25 training images with their class names:

# %%
fig, axes = plt.subplots(5, 5, figsize=(6, 6.6))
for ax, img, label in zip(axes.flat, X_train[:25], y_train[:25], strict=True):
    ax.imshow(img, cmap=plt.cm.binary)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel(TEXT_LABELS[int(label)], fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## The model
#
# `nn.Flatten()` turns each `[28, 28]` image into 784 values (Keras's
# `Flatten`), the first `nn.Linear` maps them to 128 hidden units, `nn.ReLU()`
# sets the negative ones to zero, and the last `nn.Linear` gives ten logits
# (Keras's `Dense(128, activation="relu")` then `Dense(10)`). As in
# {ref}`mlp-scratch`, the ReLU keeps the two linear layers from collapsing
# into one.

# %%
net = nn.Sequential(
    nn.Flatten(),
    nn.Linear(784, 128),
    nn.ReLU(),
    nn.Linear(128, 10),
)
model = KerasModel(net, input_shape=(28, 28))

# %% [markdown]
# `compile` chooses the optimizer, the loss and the metrics, here by name as in
# Keras: `"adam"` becomes `torch.optim.Adam` with Keras's default learning rate
# 0.001 and `fused=True` (one kernel updates every parameter, instead of a
# loop over them), and `"sparse_categorical_crossentropy"` becomes
# `nn.CrossEntropyLoss()`. Objects work too:
# `compile(optimizer=torch.optim.Adam(net.parameters(), lr=1e-3,
# fused=True), loss=nn.CrossEntropyLoss())` is the same thing. `summary()` lists each
# layer's output shape (`None` stands for the batch size) and its parameter
# count.

# %%
model.compile(
    optimizer="adam",
    loss="sparse_categorical_crossentropy",
    metrics=["accuracy"],
)
model.summary()

# %% [markdown]
# The counts are easy to check by hand: the first layer has $784 \times 128$
# weights plus 128 biases, the second $128 \times 10$ weights plus 10 biases.

# %%
print(784 * 128 + 128, 128 * 10 + 10, 784 * 128 + 128 + 128 * 10 + 10)

# %% [markdown]
# (sparse-or-one-hot)=
# ## Sparse or one-hot labels
#
# Keras has two names for the same cross-entropy. *Sparse* categorical
# cross-entropy takes the label as an integer, like our `y_train`.
# *Categorical* cross-entropy takes it as a one-hot row: a 1 in the column of
# the class, 0 elsewhere. With logits $\mathbf{o}$ and a one-hot row
# $\mathbf{y}$, the loss of one example is
#
# $$
# -\sum_{k} y_k \log \operatorname{softmax}(\mathbf{o})_k
# = -\log \operatorname{softmax}(\mathbf{o})_{c},
# $$
#
# where $c$ is the true class: only one term of the sum survives. So both
# losses agree on every batch. We check it on the first eight training images
# with the untrained network.

# %%
X, y = X_train[:8], y_train[:8]
y_one_hot = nn.functional.one_hot(y, num_classes=10).float()
print("integer labels:", y.tolist())
print("one-hot row 0: ", y_one_hot[0].int().tolist())
with torch.no_grad():
    logits = net(X)
    sparse = nn.CrossEntropyLoss()(logits, y)
    one_hot = categorical_crossentropy(logits, y_one_hot)
equal = torch.allclose(sparse, one_hot)
print(f"sparse: {sparse:.4f}  one-hot: {one_hot:.4f}  equal: {equal}")

# %% [markdown]
# The sparse form saves memory (one integer instead of ten floats per label),
# which is why the tutorial uses it. The one-hot form is needed when a label is
# not a single class, e.g. with label smoothing, where the row holds
# probabilities.
#
# ## What `fit` does
#
# `fit` is a loop over epochs. In each epoch it calls `_run`, which goes
# through the data in shuffled minibatches and, for each one, computes the
# logits, the loss and its gradient and takes an optimizer step: the same four
# lines as `train_epoch_ch3` in {ref}`chap-softmax-scratch`. After the training
# pass it calls `_run` again on the validation data with `train=False` (no
# gradients, no steps) and prints one line per epoch. Here is `_run` itself,
# printed from the installed helper so it cannot drift from the code that runs:

# %%
print(inspect.getsource(KerasModel._run))

# %% [markdown]
# Each step's loss and the count of correct predictions stay on the model's
# device; they are stacked and summed once, at the end of the pass. Calling
# `float(loss)` at every step would force the program to wait for each step to
# finish; on a GPU that wait would cost more than the step itself
# ({ref}`chap-gpu`). The one check per pass also finds the first step whose
# loss is NaN or infinite: `fit` then stops with a `NonFiniteError` that names
# the epoch and the step, and puts back the weights and optimizer state of
# that epoch's start, instead of training on into a network of NaNs.
#
# ## Training
#
# The Keras tutorial trains on all 60,000 images and only looks at the test set
# at the end. To watch for overfitting while training, we need data the network
# does not train on. We could pass the test set as `validation_data`, but then
# the test set would guide our choices (how many epochs, which model), and its
# accuracy would no longer be an unbiased estimate. So we hold out 5,000
# randomly chosen training images as a validation set and keep the test set for
# the final evaluation.

# %%
order = torch.randperm(len(X_train))
X_fit, y_fit = X_train[order[5000:]], y_train[order[5000:]]
X_val, y_val = X_train[order[:5000]], y_train[order[:5000]]
print("fit:", tuple(X_fit.shape), " validation:", tuple(X_val.shape))

# %% [markdown]
# Ten epochs with Adam in minibatches of 32, as in today's version of the
# tutorial; the older version that many notes follow trained for 5 epochs. Each
# line shows the loss and accuracy on the training batches (averaged over the
# epoch while the weights were still changing) and on the validation set
# (measured at the end of the epoch).

# %%
# NBVAL_IGNORE_OUTPUT
# Losses, accuracies and seconds after training differ with the hardware's
# floating point.
history = model.fit(
    X_fit, y_fit, epochs=10, batch_size=32,
    validation_data=(X_val, y_val), verbose=1,
)  # fmt: skip

# %% tags=["remove-cell"]
h = history.history
assert all(len(values) == 10 for values in h.values()), h
assert h["loss"][-1] < h["loss"][0] < 0.7, h["loss"]
assert 0.86 < h["val_accuracy"][-1] < 0.92, h["val_accuracy"]
assert len(history.epoch_seconds) == 10, history.epoch_seconds

# %% [markdown]
# `history.history` holds one list per metric, as in Keras. We plot the losses
# and the accuracies side by side.

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.2))
h = history.history
plot_history({"train loss": h["loss"], "val loss": h["val_loss"]}, ax=ax_loss)
acc_curves = {"train acc": h["accuracy"], "val acc": h["val_accuracy"]}
plot_history(acc_curves, ax=ax_acc)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Evaluating on the test set
#
# Now, once, the test set. We also measure the accuracy on the training images
# the network trained on, with the final weights, so that both numbers are
# measured the same way.

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies after training differ with the hardware's floating point.
train_loss, train_acc = model.evaluate(X_fit, y_fit, verbose=0)
test_loss, test_acc = model.evaluate(X_test, y_test, verbose=0)
print(f"train accuracy: {train_acc:.4f}  loss: {train_loss:.4f}")
print(f"test accuracy:  {test_acc:.4f}  loss: {test_loss:.4f}")
print(f"gap: {100 * (train_acc - test_acc):.1f} percentage points")

# %% tags=["remove-cell"]
assert test_acc >= 0.875, f"test accuracy {test_acc:.4f} is below 0.875"
assert train_acc > test_acc, (train_acc, test_acc)
assert 0 < train_loss < test_loss < 0.6, (train_loss, test_loss)

# %% [markdown]
# The test accuracy is in line with the TensorFlow tutorial's "about 0.88" and
# with the MLP (256-128-100) of the Fashion-MNIST benchmark table, 0.8833. The
# network does better on images it has seen than on new ones: the gap printed
# above. This is *overfitting*: part of what the parameters counted by
# `summary()` learned is specific to the training images. The validation
# curves show it during training: the training loss keeps falling while the
# validation loss flattens. Held-out data, early stopping, weight decay and
# dropout are the usual remedies.
#
# The same network trained from scratch in softmax regression's setting
# ({ref}`mlp-scratch`) reached less:

# %%
# NBVAL_IGNORE_OUTPUT
# Both accuracies come from training and differ with the hardware.
print(f"SGD, batch 256, 60,000 images: {runs['MLP']['test acc'][-1]:.4f}")
print(f"Adam, batch 32, 55,000 images: {test_acc:.4f}")

# %% tags=["remove-cell"]
assert test_acc > runs["MLP"]["test acc"][-1] + 0.02, (test_acc, runs["MLP"])

# %% [markdown]
# ## Predictions
#
# `predict` returns, for each image, the softmax of the logits: ten
# probabilities that sum to 1. The predicted class is the most probable one.

# %%
probs = model.predict(X_test)
pred = probs.argmax(dim=1)
print("probs:", tuple(probs.shape))
print("sum of row 0:", round(float(probs[0].sum()), 4))
true0 = int(y_test[0])
print(f"true class of test image 0: {true0} ({TEXT_LABELS[true0]})")

# %% [markdown]
# The ten probabilities for the first test image, and the predicted class:

# %%
# NBVAL_IGNORE_OUTPUT
# The probabilities come from the trained network and differ with the hardware.
print("test image 0:", [round(p, 3) for p in probs[0].tolist()])
print(f"predicted: {int(pred[0])} ({TEXT_LABELS[int(pred[0])]})")

# %% tags=["remove-cell"]
assert torch.allclose(probs.sum(dim=1), torch.ones(len(probs)))
assert int(pred[0]) == int(y_test[0]) == 9, (pred[0], y_test[0])
assert float(probs[0, 9]) > 0.5, probs[0]

# %% [markdown]
# `plot_image` shows an image with its predicted class, the probability of that
# class and, in brackets, the true class: blue when the prediction is right,
# red when it is wrong. `plot_value_array` draws the ten probabilities, the
# predicted bar red and the true bar blue (so a right prediction has a single
# blue bar). We show the first test image the network gets right and the first
# it gets wrong.

# %%
right = int((pred == y_test).nonzero()[0])
wrong = int((pred != y_test).nonzero()[0])
fig, axes = plt.subplots(2, 2, figsize=(6, 5))
for row, i in zip(axes, (right, wrong), strict=True):
    plot_image(probs[i], int(y_test[i]), X_test[i], ax=row[0])
    plot_value_array(probs[i], int(y_test[i]), ax=row[1])
    row[0].set_title(f"test image {i}", fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# The same for the first 15 test images, in a 5 by 3 grid. The wrong
# predictions, and the confident ones among them, are worth a look.

# %%
fig, axes = plt.subplots(5, 6, figsize=(12, 10))
for i in range(15):
    ax_img, ax_bar = axes[i // 3, 2 * (i % 3)], axes[i // 3, 2 * (i % 3) + 1]
    plot_image(probs[i], int(y_test[i]), X_test[i], ax=ax_img)
    plot_value_array(probs[i], int(y_test[i]), ax=ax_bar)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## One image at a time
#
# A network works on batches: its input has a first dimension for the examples.
# A single image has shape `[28, 28]`. `nn.Flatten` keeps the first dimension
# as the batch, so it reads the image as 28 examples of 28 values each, and the
# first `nn.Linear`, which expects 784 values, refuses them. `x[None]` (or
# `x.unsqueeze(0)`) adds a batch dimension of size 1.

# %%
img = X_test[0]
print("one image:        ", tuple(img.shape))
print("as a batch of one:", tuple(img[None].shape))
print("the same:         ", tuple(img.unsqueeze(0).shape))
with torch.no_grad():
    print("logits of one:    ", tuple(net(img[None]).shape))
    try:
        net(img)
    except RuntimeError as err:
        print("without the batch dimension:", err)

# %%
# NBVAL_IGNORE_OUTPUT
# The prediction comes from the trained network and may differ with the
# hardware.
one = model.predict(img[None])
same = torch.allclose(one[0], probs[0], atol=1e-6)
print(tuple(one.shape), TEXT_LABELS[int(one.argmax())], same)

# %% tags=["remove-cell"]
assert one.shape == (1, 10), one.shape
assert int(one.argmax()) == int(pred[0]), (one, pred[0])
assert same, (one[0], probs[0])

# %% [markdown]
# ## Where the network goes wrong
#
# A confusion matrix counts, for every true class (row) and predicted class
# (column), the test images that fall there. The diagonal holds the right
# predictions, each row sums to the 1,000 test images of its class.

# %%
cm = confusion_matrix(y_test, pred)
print(cm.shape, cm.sum(dim=1).tolist())
plot_confusion_matrix(cm)
plt.show()

# %% [markdown]
# The off-diagonal cells are the mistakes. We list the five largest.

# %%
# NBVAL_IGNORE_OUTPUT
# Counts of mistakes come from the trained network and differ with the
# hardware.
mistakes = cm.clone()
mistakes.fill_diagonal_(0)
counts, flat = mistakes.flatten().topk(5)
for count, k in zip(counts.tolist(), flat.tolist(), strict=True):
    true, guess = divmod(k, 10)
    pair = f"{TEXT_LABELS[true]:>12} taken for {TEXT_LABELS[guess]:<12}"
    print(f"{pair} {count:4d} times")
per_class = cm.diag() / cm.sum(dim=1)
worst = int(per_class.argmin())
print(f"worst class: {TEXT_LABELS[worst]} ({per_class[worst]:.3f} recall)")

# %% tags=["remove-cell"]
# The prose below: the largest mistakes are among t-shirt, pullover, dress,
# coat and shirt; shirts are the worst class; shoes, bags and trousers are
# rarely confused.
similar = {0, 2, 3, 4, 6}
assert all(set(divmod(k, 10)) <= similar for k in flat.tolist()), flat
assert all(per_class[c] > 0.9 for c in (1, 5, 7, 8, 9)), per_class
assert counts[0] > 50, counts
assert TEXT_LABELS[worst] == "shirt" and per_class[worst] < 0.8, per_class
assert pair.split(" taken for ")[0].strip() in TEXT_LABELS, pair

# %% [markdown]
# The mistakes are not spread evenly. The largest ones are all among the
# garments of similar outline: T-shirts/tops, pullovers, dresses, coats and
# shirts, with shirts the worst class. At 28 by 28 grey pixels, a shirt and
# a T-shirt differ by little more than a collar or buttons, and a pullover
# and a coat by a zipper. Shoes, bags and trousers, whose outlines are
# distinctive, are rarely confused. A flat MLP sees each pixel separately.
# Convolutional networks, which look at local shapes (a collar, a row of
# buttons), are the usual next step; training them for accuracy is beyond
# this course, and {ref}`chap-gpu` uses a small LeNet-style one only to
# measure speed.

# %% [markdown]
# (keras3-on-torch)=
# ## The real Keras, on PyTorch
#
# Keras 3 runs on three backends: TensorFlow, JAX and PyTorch. The backend is
# read from the environment variable `KERAS_BACKEND` once, when Keras is
# first imported, so we set it before the import. (Colab preinstalls Keras 3
# with the TensorFlow backend; the same two lines switch it to PyTorch.)

# %%
os.environ["KERAS_BACKEND"] = "torch"
import keras

keras.utils.set_random_seed(0)
print("backend:", keras.backend.backend())

# %% [markdown]
# The tutorial works on NumPy arrays. Ours are tensors already scaled to
# $[0, 1]$; `.numpy()` gives the arrays without copying. We use the same
# training and validation images as for `KerasModel`.

# %%
train_images, train_labels = X_fit.numpy(), y_fit.numpy()
val_images, val_labels = X_val.numpy(), y_val.numpy()
test_images, test_labels = X_test.numpy(), y_test.numpy()
print(type(train_images).__name__, train_images.dtype, train_images.shape)

# %% [markdown]
# The tutorial's model and `compile`, unchanged except for the first layer:
# the tutorial passes `input_shape=(28, 28)` to `Flatten`, which Keras 3
# still accepts with a warning that asks for a separate `keras.Input`. The
# last layer returns logits, so the loss is told `from_logits=True`: it
# applies softmax itself, as `nn.CrossEntropyLoss` does.

# %%
tf_model = keras.Sequential([
    keras.Input(shape=(28, 28)),
    keras.layers.Flatten(),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dense(10),
])  # fmt: skip
tf_model.compile(
    optimizer="adam",
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)
print(f"{tf_model.count_params():,} parameters")
print([type(layer).__name__ for layer in tf_model.layers])

# %% [markdown]
# `fit` trains in minibatches of 32 by default. We train for 1 epoch, not
# the tutorial's 10, to keep this page quick (the time it prints is the
# reason), and time it.

# %%
# NBVAL_IGNORE_OUTPUT
# Losses, accuracies and seconds differ with the hardware.
keras_epochs = 1
start = time.perf_counter()
tf_history = tf_model.fit(
    train_images, train_labels, epochs=keras_epochs,
    validation_data=(val_images, val_labels), verbose=2,
)  # fmt: skip
keras_seconds = (time.perf_counter() - start) / keras_epochs

# %% tags=["remove-cell"]
th = tf_history.history
assert all(len(values) == keras_epochs for values in th.values()), th
assert 0.84 < th["val_accuracy"][-1] < 0.90, th
assert keras_seconds > 0, keras_seconds

# %% [markdown]
# `evaluate` and `predict` as in the tutorial, which wraps the model in a
# `Softmax` layer to turn the logits into probabilities:

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies and probabilities come from training and differ with the hardware.
tf_loss, tf_acc = tf_model.evaluate(test_images, test_labels, verbose=0)
probability_model = keras.Sequential([tf_model, keras.layers.Softmax()])
predictions = probability_model.predict(test_images, verbose=0)
print(f"test accuracy: {tf_acc:.4f}")
print(type(predictions).__name__, predictions.shape)
print("predicted class of test image 0:", int(predictions[0].argmax()))

# %% tags=["remove-cell"]
assert 0.80 < tf_acc < 0.90, tf_acc
assert predictions.shape == (10000, 10), predictions.shape
assert int(predictions[0].argmax()) == int(y_test[0]), predictions[0]

# %% [markdown]
# ### Side by side
#
# The two models have the same layers, the same optimizer with the same
# learning rate, the same batch size and the same data. Their parameter
# counts, their validation accuracy after the same number of epochs, their
# time per epoch (training pass and validation pass) and their test
# accuracy:

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies and times differ with the hardware.
ours_seconds = sum(history.epoch_seconds) / len(history.epoch_seconds)
k = keras_epochs - 1
rows = [
    ("parameters", f"{sum(p.numel() for p in net.parameters()):,}",
     f"{tf_model.count_params():,}"),
    (f"val acc, epoch {keras_epochs}", f"{h['val_accuracy'][k]:.4f}",
     f"{tf_history.history['val_accuracy'][k]:.4f}"),
    ("time per epoch", f"{ours_seconds:.1f} s", f"{keras_seconds:.1f} s"),
    ("test acc", f"{test_acc:.4f} (10 ep.)",
     f"{tf_acc:.4f} ({keras_epochs} ep.)"),
]  # fmt: skip
print(f"{'':22}{'KerasModel':>18}{'Keras 3':>18}")
for label, ours, theirs in rows:
    print(f"{label:22}{ours:>18}{theirs:>18}")
print(f"Keras 3 takes {keras_seconds / ours_seconds:.1f}x as long per epoch")

# %% tags=["remove-cell"]
assert sum(p.numel() for p in net.parameters()) == tf_model.count_params()
gap = abs(h["val_accuracy"][k] - tf_history.history["val_accuracy"][k])
assert gap < 0.03, gap
assert keras_seconds > ours_seconds, (keras_seconds, ours_seconds)
assert [len(row) for row in rows] == [3, 3, 3, 3], rows

# %% [markdown]
# The same network learns the same thing in both: equal parameter counts,
# and close validation accuracies after the same number of epochs (the two
# start from different random weights and draw different minibatches). The
# difference is speed. Both run PyTorch's arithmetic on the same batches of
# 32 images. Around it, Keras's PyTorch trainer does more at every step, as
# its source shows: a data adapter turns NumPy slices into tensors, metric
# objects are updated, callbacks are called, and its own Adam updates the
# weights one variable at a time with backend-neutral operations, all
# written to work the same on three backends. With more than a thousand
# small steps per epoch, such per-step costs add up to the factor printed
# above. `KerasModel` has none of that generality: it keeps the data as
# tensors, uses PyTorch's Adam and sums the metrics on the device.

# %% [markdown]
# ## Summary
#
# - An MLP adds a hidden layer with a nonlinear activation between the
#   pixels and the scores; without the activation it would collapse into
#   softmax regression.
# - ReLU passes a gradient of 1 for every positive input; sigmoid and tanh
#   pass almost none once their input is far from 0.
# - Trained exactly like softmax regression (SGD, learning rate 0.1,
#   batch 256, 10 epochs), the hidden layer gains little; Adam with
#   minibatches of 32 gets much more out of the same network.
# - `compile` picks an optimizer, a loss and metrics; `fit` is a loop over
#   epochs of the minibatch step from {ref}`chap-softmax-scratch`, with a
#   validation pass after each one.
# - Sparse categorical cross-entropy (integer labels, `nn.CrossEntropyLoss`)
#   and categorical cross-entropy (one-hot labels) give the same loss; the
#   sparse form is cheaper.
# - Held-out validation data lets us watch overfitting without touching the
#   test set; the test set is evaluated once. The remaining mistakes are
#   mostly between similar tops.
# - Networks take batches: add a batch dimension (`x[None]`) to classify one
#   image.
# - The tutorial's Keras code runs on PyTorch with `KERAS_BACKEND=torch`
#   set before the import (with `keras.Input` for the first layer's shape);
#   it learns the same, and spends more time per small step.
#
# ## Exercises
#
# ````{exercise}
# :label: ex-mlp-1
# Take the trained `W1, b1, W2, b2` of the MLP from scratch and drop the
# ReLU. Find a single weight matrix and bias vector that give exactly the
# same scores, and check it on the test images.
# ````
#
# ````{exercise}
# :label: ex-mlp-2
# Train `KerasModel` with `loss="categorical_crossentropy"` and one-hot
# labels, and again with sparse labels, from the same seed. Are the losses
# the same?
# ````
#
# ````{exercise}
# :label: ex-mlp-3
# After which epoch of the 10-epoch `fit` is the validation loss lowest?
# Early stopping with a *patience* of $p$ stops once the validation loss has
# not improved for $p$ epochs and keeps the best weights: with patience 1
# and 2, when would it stop, and which epoch's weights would it keep?
# ````
#
# ````{exercise}
# :label: ex-mlp-4
# Add `nn.Dropout(0.2)` after the ReLU. Call the untrained network twice on
# the same image in training mode, then twice in evaluation mode. What do
# you see, and why must `model.evaluate` switch the network to `eval()`?
# ````
#
# ````{exercise}
# :label: ex-mlp-5
# `KerasModel` and Keras 3 reach similar accuracies. Do they make the same
# mistakes? Count the test images on which their predictions agree, and
# those both get wrong.
# ````
#
# ```{solution-start} ex-mlp-1
# :class: dropdown
# ```
# Without the activation,
# $(\mathbf{X}\mathbf{W}_1 + \mathbf{b}_1)\mathbf{W}_2 + \mathbf{b}_2
# = \mathbf{X}\mathbf{W} + \mathbf{b}$ with
# $\mathbf{W} = \mathbf{W}_1\mathbf{W}_2$ (784 × 10) and
# $\mathbf{b} = \mathbf{b}_1\mathbf{W}_2 + \mathbf{b}_2$. The largest
# difference between the two ways of computing the scores is at the level of
# float32 rounding:

# %%
with torch.no_grad():
    X_flat = X_test.reshape(-1, num_inputs)
    two_layers = (X_flat @ W1 + b1) @ W2 + b2
    W_one, b_one = W1 @ W2, b1 @ W2 + b2
    one_layer = X_flat @ W_one + b_one
print("one matrix:", tuple(W_one.shape), "bias:", tuple(b_one.shape))
print("same scores:", torch.allclose(two_layers, one_layer, atol=1e-4))

# %% [markdown]
# So a stack of linear layers, however many, can only learn what softmax
# regression learns.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-mlp-2
# :class: dropdown
# ```
# One epoch on the first 5,000 fitting images for each, from the same seed:


# %%
# NBVAL_IGNORE_OUTPUT
# The losses come from training and differ with the hardware.
def one_epoch(loss_name, labels):
    torch.manual_seed(0)
    net2 = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(),
                         nn.Linear(128, 10))  # fmt: skip
    m = KerasModel(net2)
    m.compile(optimizer="adam", loss=loss_name)
    return m.fit(X_fit[:5000], labels[:5000], verbose=0).history["loss"][0]


sparse_loss = one_epoch("sparse_categorical_crossentropy", y_fit)
y_fit_one_hot = nn.functional.one_hot(y_fit, 10).float()
one_hot_loss = one_epoch("categorical_crossentropy", y_fit_one_hot)
print(f"sparse: {sparse_loss:.6f}  one-hot: {one_hot_loss:.6f}")

# %% tags=["remove-cell"]
assert abs(sparse_loss - one_hot_loss) < 1e-4, (sparse_loss, one_hot_loss)
assert 0.4 < sparse_loss < 1.5, sparse_loss

# %% [markdown]
# The same to the last digits shown, or within float32 rounding: the two
# losses compute the same function (the formula in
# {ref}`sparse-or-one-hot`) in a different
# order of operations, and the same seed gives the same weights and the
# same minibatches.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-mlp-3
# :class: dropdown
# ```

# %%
# NBVAL_IGNORE_OUTPUT
# The losses come from training and differ with the hardware.
val_loss = history.history["val_loss"]
best = min(range(len(val_loss)), key=val_loss.__getitem__) + 1
print("validation loss:", [round(v, 4) for v in val_loss])
print("lowest after epoch", best)


def early_stopping(losses, patience):
    """Return (epoch it stops after, or None; epoch whose weights it keeps)."""
    kept, waited = 1, 0
    for epoch, value in enumerate(losses[1:], start=2):
        if value < losses[kept - 1]:
            kept, waited = epoch, 0
        else:
            waited += 1
            if waited == patience:
                return epoch, kept
    return None, kept


for patience in (1, 2):
    stop, kept = early_stopping(val_loss, patience)
    when = f"stops after epoch {stop}" if stop else "does not stop early"
    print(f"patience {patience}: {when}, keeps epoch {kept}")

# %% tags=["remove-cell"]
for patience in (1, 2):
    stop, kept = early_stopping(val_loss, patience)
    end = stop or len(val_loss)
    assert val_loss[kept - 1] == min(val_loss[:end]), (val_loss, patience)
assert val_loss[best - 1] == min(val_loss)
assert when in (f"stops after epoch {stop}", "does not stop early"), when

# %% [markdown]
# Early stopping keeps the weights of the epoch with the lowest validation
# loss seen before it stops. Near its bottom the validation curve is noisy:
# a small patience can stop at a bump, before the lowest epoch of all; a
# larger patience waits it out, at the cost of more epochs. Either way the
# choice uses the validation set, never the test set.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-mlp-4
# :class: dropdown
# ```

# %%
torch.manual_seed(0)
dropout_net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(),
                            nn.Dropout(0.2), nn.Linear(128, 10))  # fmt: skip
with torch.no_grad():
    dropout_net.train()
    first, second = dropout_net(X_test[:1]), dropout_net(X_test[:1])
    print("training mode, equal:  ", torch.equal(first, second))
    dropout_net.eval()
    first, second = dropout_net(X_test[:1]), dropout_net(X_test[:1])
    print("evaluation mode, equal:", torch.equal(first, second))

# %% [markdown]
# In training mode dropout zeroes a random fifth of the hidden units on
# every call (and multiplies the others by $1/0.8$ so that the expected
# value stays the same): the same image gets different scores each time. In
# evaluation mode dropout does nothing, so predictions are deterministic
# and use the whole network. `KerasModel._run` calls
# `self.net.train(train)`, so `evaluate` and the validation pass use
# evaluation mode.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-mlp-5
# :class: dropdown
# ```

# %%
# NBVAL_IGNORE_OUTPUT
# Predictions come from training and differ with the hardware.
theirs = torch.from_numpy(predictions.argmax(axis=1))
agree = (theirs == pred).float().mean()
both_wrong = ((theirs != y_test) & (pred != y_test)).float().mean()
print(f"agree on {agree:.1%} of the test images")
print(f"wrong: KerasModel {1 - test_acc:.1%}, Keras 3 {1 - tf_acc:.1%}")
shared = both_wrong / (1 - test_acc)
print(f"both wrong on {both_wrong:.1%}: {shared:.0%} of KerasModel's mistakes")

# %% tags=["remove-cell"]
assert 0.85 < agree < 1.0, agree
assert 0.0 < both_wrong < min(1 - test_acc, 1 - tf_acc), both_wrong
assert shared > 0.5, shared

# %% [markdown]
# They agree on most images, and most of the images `KerasModel` gets
# wrong, Keras 3 gets wrong too, although it trained for fewer epochs: the
# hard images (shirts against T-shirts, coats against pullovers) are hard
# for this architecture, whoever trains it.
# ```{solution-end}
# ```
#
# Next: {ref}`chap-gpu` moves this model and its data to a GPU, and
# measures what it gains.
