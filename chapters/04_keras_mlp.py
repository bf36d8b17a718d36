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
# Many people meet Fashion-MNIST in TensorFlow's "basic classification" tutorial: load the
# arrays, stack a few layers, call `model.compile` and `model.fit`, and read off an accuracy.
# Those two calls hide a training loop, a loss and an optimizer. This chapter walks the same
# path in PyTorch with a small Keras-style wrapper, `helpers.KerasModel`, whose methods are
# plain loops we can read. Compared with {ref}`chap-softmax-concise`, the model gains a
# hidden layer, which makes it a *multilayer perceptron* (MLP), and the optimizer becomes
# Adam.

# %%
import inspect

import matplotlib.pyplot as plt
import torch
from torch import nn

from helpers import (
    TEXT_LABELS,
    KerasModel,
    confusion_matrix,
    load_fashion_mnist_tensors,
    plot_confusion_matrix,
    plot_history,
    plot_image,
    plot_value_array,
)
from helpers.keras import categorical_crossentropy

# %% tags=["remove-cell"]
# %config InlineBackend.figure_formats = ["retina"]
_ = torch.manual_seed(0)
# Small batches (32 images) give each thread too little work: on a busy 2-core runner two
# threads wait on each other and a step takes tens of times longer than with one. Larger
# machines keep PyTorch's default.
if torch.get_num_threads() <= 2:
    torch.set_num_threads(1)

# %% [markdown]
# ## The data as arrays
#
# The Keras tutorial starts from four NumPy arrays. `load_fashion_mnist_tensors` returns the
# same four as PyTorch tensors: training images and labels, test images and labels. The
# images are `uint8` grey levels, one `[28, 28]` matrix each, and the labels are integers
# indexing the ten class names.

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
# A colorbar shows the range of the raw pixel values of the first training image.

# %%
plt.figure(figsize=(3.5, 3))
plt.imshow(X_train[0], cmap="gray_r")
plt.colorbar()
plt.title(TEXT_LABELS[int(y_train[0])])
plt.axis("off")
plt.show()

# %% [markdown]
# Networks train better on small inputs, so we divide by 255 to bring every pixel into
# $[0, 1]$, as the Keras tutorial does. The same scaling must be applied to the test images.

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
# `nn.Flatten()` turns each `[28, 28]` image into 784 values (Keras's `Flatten`), the first
# `nn.Linear` maps them to 128 hidden units, `nn.ReLU()` sets the negative ones to zero,
# and the last `nn.Linear` gives ten logits (Keras's `Dense(128, activation="relu")` then
# `Dense(10)`). Without the ReLU the two linear layers would collapse into a single linear
# map, and we would be back to softmax regression.

# %%
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))
model = KerasModel(net, input_shape=(28, 28))

# %% [markdown]
# `compile` chooses the optimizer, the loss and the metrics, here by name as in Keras:
# `"adam"` becomes `torch.optim.Adam` with Keras's default learning rate 0.001, and
# `"sparse_categorical_crossentropy"` becomes `nn.CrossEntropyLoss()`. Objects work too:
# `compile(optimizer=torch.optim.Adam(net.parameters(), lr=1e-3), loss=nn.CrossEntropyLoss())`
# is the same thing. `summary()` lists each layer's output shape (`None` stands for the
# batch size) and its parameter count.

# %%
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.summary()

# %% [markdown]
# The counts are easy to check by hand: the first layer has $784 \times 128$ weights plus 128
# biases, the second $128 \times 10$ weights plus 10 biases.

# %%
print(784 * 128 + 128, 128 * 10 + 10, 784 * 128 + 128 + 128 * 10 + 10)

# %% [markdown]
# ## Sparse or one-hot labels
#
# Keras has two names for the same cross-entropy. *Sparse* categorical cross-entropy takes
# the label as an integer, like our `y_train`. *Categorical* cross-entropy takes it as a
# one-hot row: a 1 in the column of the class, 0 elsewhere. With logits $\mathbf{o}$ and a
# one-hot row $\mathbf{y}$, the loss of one example is
#
# $$
# -\sum_{k} y_k \log \operatorname{softmax}(\mathbf{o})_k
# = -\log \operatorname{softmax}(\mathbf{o})_{c},
# $$
#
# where $c$ is the true class: only one term of the sum survives. So both losses agree on
# every batch. We check it on the first eight training images with the untrained network.

# %%
X, y = X_train[:8], y_train[:8]
y_one_hot = nn.functional.one_hot(y, num_classes=10).float()
print("integer labels:", y.tolist())
print("one-hot row 0: ", y_one_hot[0].int().tolist())
with torch.no_grad():
    logits = net(X)
    sparse = nn.CrossEntropyLoss()(logits, y)
    one_hot = categorical_crossentropy(logits, y_one_hot)
print(f"sparse: {sparse:.4f}  one-hot: {one_hot:.4f}  equal: {torch.allclose(sparse, one_hot)}")

# %% [markdown]
# The sparse form saves memory (one integer instead of ten floats per label), which is why
# the tutorial uses it. The one-hot form is needed when a label is not a single class,
# e.g. with label smoothing, where the row holds probabilities.
#
# ## What `fit` does
#
# `fit` is a loop over epochs. In each epoch it calls `_run`, which goes through the data in
# shuffled minibatches and, for each one, computes the logits, the loss and its gradient and
# takes an optimizer step: the same four lines as `train_epoch_ch3` in
# {ref}`chap-softmax-scratch`. After the training pass it calls `_run` again on the
# validation data with `train=False` (no gradients, no steps) and prints one line per epoch.
# Here is `_run` itself, printed from the installed helper so it cannot drift from the code
# that runs:

# %%
print(inspect.getsource(KerasModel._run))

# %% [markdown]
# The running loss and the count of correct predictions are added up as tensors on the
# model's device. Calling `float(loss)` at every step would force the program to wait for
# each step to finish; on a GPU that wait would cost more than the step itself
# ({ref}`chap-gpu`). Here we convert once per epoch.
#
# ## Training
#
# The Keras tutorial trains on all 60,000 images and only looks at the test set at the end.
# To watch for overfitting while training, we need data the network does not train on. We
# could pass the test set as `validation_data`, but then the test set would guide our
# choices (how many epochs, which model), and its accuracy would no longer be an unbiased
# estimate. So we hold out 5,000 randomly chosen training images as a validation set and
# keep the test set for the final evaluation.

# %%
order = torch.randperm(len(X_train))
X_fit, y_fit = X_train[order[5000:]], y_train[order[5000:]]
X_val, y_val = X_train[order[:5000]], y_train[order[:5000]]
print("fit:", tuple(X_fit.shape), " validation:", tuple(X_val.shape))

# %% [markdown]
# Ten epochs with Adam in minibatches of 32, as in the tutorial. Each line shows the loss and
# accuracy on the training batches (averaged over the epoch while the weights were still
# changing) and on the validation set (measured at the end of the epoch).

# %%
# NBVAL_IGNORE_OUTPUT
# Losses, accuracies and seconds after training differ with the hardware's floating point.
history = model.fit(
    X_fit, y_fit, epochs=10, batch_size=32, validation_data=(X_val, y_val), verbose=1
)

# %% [markdown]
# `history.history` holds one list per metric, as in Keras. We plot the losses and the
# accuracies side by side.

# %%
fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.2))
h = history.history
plot_history({"train loss": h["loss"], "val loss": h["val_loss"]}, ax=ax_loss)
plot_history({"train acc": h["accuracy"], "val acc": h["val_accuracy"]}, ax=ax_acc)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Evaluating on the test set
#
# Now, once, the test set. We also measure the accuracy on the training images the network
# trained on, with the final weights, so that both numbers are measured the same way.

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

# %% [markdown]
# The test accuracy is in line with the TensorFlow tutorial's "about 0.88" and with the
# MLP (256-128-100) of the Fashion-MNIST benchmark table, 0.8833. The network does better on
# images it has seen than on new ones: the gap printed above. This is *overfitting*: part of
# what the parameters counted by `summary()` learned is specific to the training images. The
# validation curves show it during training: the training loss keeps falling while the
# validation loss flattens. Held-out data, early stopping, weight decay and dropout are the
# usual remedies.
#
# ## Predictions
#
# `predict` returns, for each image, the softmax of the logits: ten probabilities that sum
# to 1. The predicted class is the most probable one.

# %%
# NBVAL_IGNORE_OUTPUT
# The probabilities come from the trained network and differ with the hardware.
probs = model.predict(X_test)
print("probs:", tuple(probs.shape))
print("test image 0:", [round(p, 3) for p in probs[0].tolist()])
print("sum:", round(float(probs[0].sum()), 4))
pred = probs.argmax(dim=1)
print(f"predicted: {int(pred[0])} ({TEXT_LABELS[int(pred[0])]})")
print(f"true:      {int(y_test[0])} ({TEXT_LABELS[int(y_test[0])]})")

# %% [markdown]
# `plot_image` shows an image with its predicted class, the probability of that class and,
# in brackets, the true class: blue when the prediction is right, red when it is wrong.
# `plot_value_array` draws the ten probabilities, the predicted bar red and the true bar
# blue (so a right prediction has a single blue bar). We show the first test image the
# network gets right and the first it gets wrong.

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
# The same for the first 15 test images, in a 5 by 3 grid. The wrong predictions, and the
# confident ones among them, are worth a look.

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
# A network works on batches: its input has a first dimension for the examples. A single
# image has shape `[28, 28]`. `nn.Flatten` keeps the first dimension as the batch, so it
# reads the image as 28 examples of 28 values each, and the first `nn.Linear`, which
# expects 784 values, refuses them. `x[None]` (or `x.unsqueeze(0)`) adds a batch dimension
# of size 1.

# %%
img = X_test[0]
print("one image:        ", tuple(img.shape))
print("as a batch of one:", tuple(img[None].shape), tuple(img.unsqueeze(0).shape))
with torch.no_grad():
    print("logits of one:    ", tuple(net(img[None]).shape))
    try:
        net(img)
    except RuntimeError as err:
        print("without the batch dimension:", err)

# %%
# NBVAL_IGNORE_OUTPUT
# The prediction comes from the trained network and may differ with the hardware.
one = model.predict(img[None])
print(tuple(one.shape), TEXT_LABELS[int(one.argmax())], torch.allclose(one[0], probs[0]))

# %% [markdown]
# ## Where the network goes wrong
#
# A confusion matrix counts, for every true class (row) and predicted class (column), the
# test images that fall there. The diagonal holds the right predictions, each row sums to
# the 1,000 test images of its class.

# %%
cm = confusion_matrix(y_test, pred)
print(cm.shape, cm.sum(dim=1).tolist())
plot_confusion_matrix(cm)
plt.show()

# %% [markdown]
# The off-diagonal cells are the mistakes. We list the five largest.

# %%
# NBVAL_IGNORE_OUTPUT
# Counts of mistakes come from the trained network and differ with the hardware.
mistakes = cm.clone()
mistakes.fill_diagonal_(0)
counts, flat = mistakes.flatten().topk(5)
for count, k in zip(counts.tolist(), flat.tolist(), strict=True):
    true, guess = divmod(k, 10)
    print(f"{TEXT_LABELS[true]:>12} taken for {TEXT_LABELS[guess]:<12} {count:4d} times")
per_class = cm.diag() / cm.sum(dim=1)
worst = int(per_class.argmin())
print(f"worst class: {TEXT_LABELS[worst]} ({per_class[worst]:.3f} recall)")

# %% [markdown]
# The mistakes are not spread evenly. They cluster among the upper-body garments: shirts
# taken for T-shirts/tops, pullovers or coats, and pullovers and coats taken for each other.
# At 28 by 28 grey pixels, a shirt and a T-shirt differ by little more than a collar or
# buttons, and a pullover and a coat by a zipper. Shoes, bags and trousers, whose outlines
# are distinctive, are rarely confused. A flat MLP sees each pixel separately; the
# convolutional networks of later chapters look at local shapes, and do better on exactly
# these classes.
#
# ## Summary
#
# - `compile` picks an optimizer, a loss and metrics; `fit` is a loop over epochs of the
#   minibatch step from {ref}`chap-softmax-scratch`, with a validation pass after each one.
# - Sparse categorical cross-entropy (integer labels, `nn.CrossEntropyLoss`) and
#   categorical cross-entropy (one-hot labels) give the same loss; the sparse form is
#   cheaper.
# - Held-out validation data lets us watch overfitting without touching the test set; the
#   test set is evaluated once.
# - A hidden layer of 128 ReLU units lifts the test accuracy above softmax regression's;
#   the remaining mistakes are mostly between similar tops.
# - Networks take batches: add a batch dimension (`x[None]`) to classify one image.
#
# ## Exercises
#
# 1. Train with `loss="categorical_crossentropy"` and one-hot labels. Are the training
#    curves the same as with sparse labels, from the same seed?
# 2. Change the hidden layer to 64 or 512 units. How do the test accuracy and the gap to
#    the training accuracy change?
# 3. Train for 30 epochs and plot the history. After which epoch does the validation loss
#    stop falling? What would early stopping choose?
# 4. Add `nn.Dropout(0.2)` after the ReLU. What happens to the gap between training and
#    test accuracy? Why must `model.evaluate` switch the network to `eval()` mode?
# 5. Replace `"adam"` with `"sgd"` (learning rate 0.01). How many epochs does it need to
#    reach the same test accuracy?
#
# Next: {ref}`chap-gpu` moves this model and its data to a GPU, and measures what it gains.
