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
# (chap-softmax-scratch)=
# # Softmax regression from scratch
#
# Softmax regression is the simplest classifier worth the name: one linear layer that turns
# the 784 pixels of an image into ten scores, and a softmax that turns the scores into
# probabilities. It is also the skeleton of every network in this course: the data
# pipeline, the loss, the accuracy, the training loop and the evaluation loop written here
# stay the same when the model in the middle grows. So we write all of it ourselves, with
# nothing but tensors and autograd, once. The next chapter replaces each piece with its
# PyTorch equivalent.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from helpers import (
    Accumulator,
    get_fashion_mnist_labels,
    load_data_fashion_mnist,
    plot_history,
    show_images,
)

# %% tags=["remove-cell"]
# %config InlineBackend.figure_formats = ["retina"]
_ = torch.manual_seed(0)

# %% [markdown]
# ## The data and the parameters
#
# We read Fashion-MNIST in minibatches of 256 with the loader from {ref}`chap-dataset`.

# %%
batch_size = 256
train_iter, test_iter = load_data_fashion_mnist(batch_size)

# %% [markdown]
# Softmax regression does not use the 2-D structure of an image: it flattens each 28 × 28
# image into a vector of 784 inputs. With 10 classes, the model has a weight matrix
# $\mathbf{W}$ of shape 784 × 10 and a bias vector $\mathbf{b}$ of 10 entries. We draw the
# weights from a normal distribution with standard deviation 0.01 and start the biases at
# zero. `requires_grad=True` asks autograd to compute the gradients of the loss with respect
# to them.

# %%
num_inputs, num_outputs = 28 * 28, 10
W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
b = torch.zeros(num_outputs, requires_grad=True)
print("W:", W.shape, " b:", b.shape, " parameters:", W.numel() + b.numel())

# %% [markdown]
# ## Softmax
#
# The model computes one score $o_j$ per class, any real number. Softmax turns the scores of
# one example into probabilities: positive numbers that sum to 1, in the same order as the
# scores.
#
# $$\mathrm{softmax}(\mathbf{o})_j = \frac{\exp(o_j)}{\sum_k \exp(o_k)}.$$
#
# For a minibatch the scores form a matrix with one row per example, so we need a sum along
# each row. `sum(dim, keepdim=True)` sums along one axis and keeps it with length 1, so that
# the result still lines up with the matrix:

# %%
X = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
print(X.sum(0, keepdim=True))  # down the columns: shape [1, 3]
print(X.sum(1, keepdim=True))  # along the rows: shape [2, 1]

# %% [markdown]
# Dividing the `[n, 10]` matrix of exponentials by the `[n, 1]` column of row sums then
# divides each row by its own sum (broadcasting). That is the whole of softmax:


# %%
def softmax_naive(X):
    X_exp = torch.exp(X)
    partition = X_exp.sum(1, keepdim=True)
    return X_exp / partition  # broadcasting divides each row by its sum


X = torch.normal(0, 1, (2, 5))
X_prob = softmax_naive(X)
print(X_prob)
print(X_prob.sum(1))

# %% [markdown]
# ## Numerical stability
#
# The version above is the textbook formula, and it breaks as soon as a score is large.
# `exp(1000)` does not fit in a `float32` (nothing above about $3.4 \times 10^{38}$ does), so it
# becomes `inf`, and `inf / inf` is `nan`:

# %%
O = torch.tensor([[1000.0, 1001.0, 1002.0]])
print(torch.exp(O))
print(softmax_naive(O))

# %% [markdown]
# Scores that large are not exotic: a model trained too fast, or fed unscaled inputs, produces
# them (see the common mistakes below). The fix costs nothing. Subtracting the same number $c$
# from every score of a row does not change the softmax, since the factor $\exp(-c)$ cancels:
#
# $$\frac{\exp(o_j - c)}{\sum_k \exp(o_k - c)} = \frac{\exp(-c)\exp(o_j)}{\exp(-c)\sum_k
# \exp(o_k)} = \mathrm{softmax}(\mathbf{o})_j.$$
#
# With $c = \max_k o_k$ the largest exponent is $\exp(0) = 1$ and nothing overflows. The
# smallest exponentials may still *underflow* to 0, which is harmless for the probabilities
# themselves.


# %%
def softmax(X):
    X = X - X.max(dim=1, keepdim=True).values  # the largest score of each row becomes 0
    X_exp = torch.exp(X)
    return X_exp / X_exp.sum(1, keepdim=True)


print(softmax(O))
print(torch.allclose(softmax(X), softmax_naive(X)))  # same result where the naive one works

# %% [markdown]
# The same shift rescues the logarithm of the denominator, which we will meet in the loss. It
# is the *log-sum-exp* trick: with $m = \max_k o_k$,
#
# $$\log \sum_k \exp(o_k) = m + \log \sum_k \exp(o_k - m),$$
#
# and PyTorch computes the right-hand side as `torch.logsumexp`. The log of a softmax
# probability is then $\log \mathrm{softmax}(\mathbf{o})_j = o_j - \log \sum_k \exp(o_k)$,
# which never takes the logarithm of an underflowed 0.

# %%
m = O.max(dim=1, keepdim=True).values
print(torch.log(torch.exp(O).sum(1)))  # naive: inf
print(m.squeeze(1) + torch.log(torch.exp(O - m).sum(1)))  # shifted by hand
print(torch.logsumexp(O, dim=1))

# %% [markdown]
# ## The model
#
# The model multiplies the flattened images by $\mathbf{W}$, adds $\mathbf{b}$ (broadcast to
# every row) and applies softmax, for a whole minibatch $\mathbf{X}$ at once:
#
# $$\hat{\mathbf{Y}} = \mathrm{softmax}(\mathbf{X}\mathbf{W} + \mathbf{b}).$$
#
# `reshape((-1, 784))` turns a batch of shape `[256, 1, 28, 28]` into `[256, 784]`.


# %%
def net(X):
    return softmax(torch.matmul(X.reshape((-1, W.shape[0])), W) + b)


X, y = next(iter(train_iter))
y_hat = net(X)
print("input:", X.shape, "-> output:", y_hat.shape)
print("row sums:", y_hat.sum(1)[:4].detach())

# %% [markdown]
# ## The cross-entropy loss
#
# For an example whose true class is $y$, the cross-entropy loss is minus the log of the
# probability the model gives to that class:
#
# $$l(y, \hat{\mathbf{y}}) = -\sum_j [j = y] \log \hat{y}_j = -\log \hat{y}_y.$$
#
# It is 0 when the model is sure of the right answer, and grows without bound as that
# probability goes to 0. Picking $\hat{y}_y$ out of each row needs no loop: index the rows
# with `range(n)` and the columns with the labels. Here are two examples with three classes;
# the true classes are 0 and 2:

# %%
y = torch.tensor([0, 2])
y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
print(y_hat[[0, 1], y])  # row 0, column 0 and row 1, column 2


# %%
def cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])


print(cross_entropy(y_hat, y))

# %% [markdown]
# The function returns one loss per example; the training loop decides how to sum or average
# them.
#
# ## Classification accuracy
#
# The loss is what we optimize; accuracy, the fraction of correct predictions, is what we
# care about. The predicted class is the one with the highest probability (`argmax`).
# `accuracy` returns the *number* of correct predictions, so that counts from batches of
# different sizes add up correctly:


# %%
def accuracy(y_hat, y):
    """Return the number of correct predictions (not the fraction), as d2l does."""
    if y_hat.ndim > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(dim=1)
    return float((y_hat.type(y.dtype) == y).sum())


print(accuracy(y_hat, y) / len(y))

# %% [markdown]
# In the two-example batch, the first row's highest probability is on class 2 (wrong) and the
# second's on class 2 (right): half of them.
#
# To evaluate a model on a whole dataset we add up correct predictions and examples over
# all batches. `Accumulator(n)` (from d2l, re-exported by `helpers`) keeps `n` running sums:

# %%
metric = Accumulator(2)
metric.add(3, 4)
metric.add(1, 2)
print(metric[0], metric[1])

# %% [markdown]
# `evaluate_accuracy` runs the model on every batch without recording gradients
# (`torch.no_grad()`). The `nn.Module` test only matters from the next chapter on, where
# models have a training and an evaluation mode.


# %%
def evaluate_accuracy(net, data_iter):
    """Return the accuracy of `net` over every batch of `data_iter`."""
    if isinstance(net, nn.Module):
        net.eval()
    metric = Accumulator(2)  # correct predictions, predictions
    with torch.no_grad():
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), y.numel())
    return metric[0] / metric[1]


print(f"accuracy of the untrained model: {evaluate_accuracy(net, test_iter):.4f}")

# %% [markdown]
# With random weights the scores have nothing to do with the garments, so the model is
# guessing, and its accuracy is near the one in ten of a blind guess. It need not be exactly
# that: random weights do not spread their guesses evenly over the classes, and the test set
# has 1,000 images of each. Counting the predicted classes shows how uneven the guessing is:

# %%
with torch.no_grad():
    preds = torch.cat([net(X).argmax(dim=1) for X, _ in test_iter])
print("test images predicted as each class:", torch.bincount(preds, minlength=10).tolist())

# %% [markdown]
# From here on, `accuracy` and `evaluate_accuracy` are saved in `helpers` (as `helpers.accuracy` and
# `helpers.evaluate_accuracy`): later chapters import them instead of rewriting them.
#
# ## Training
#
# Minibatch stochastic gradient descent updates each parameter against its gradient. Our loss
# is *summed* over the batch, so `sgd` divides by the batch size to take a step of the same
# size whatever the batch. The update runs under `torch.no_grad()` (it must not become part of
# the graph), and the gradients are reset to zero afterwards, since autograd adds new
# gradients to old ones.


# %%
def sgd(params, lr, batch_size):
    """Minibatch stochastic gradient descent on summed losses."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


# %% [markdown]
# One epoch is one pass over the training set: predict, compute the loss, back-propagate,
# update, and keep running sums of the loss and of the correct predictions. The `updater` is
# either our `sgd` wrapped in a function of the batch size, or (next chapter) a
# `torch.optim` optimizer, which expects a mean loss; the function handles both.


# %%
def train_epoch_ch3(net, train_iter, loss, updater):
    """Train one epoch; return the average training loss and training accuracy."""
    if isinstance(net, nn.Module):
        net.train()
    metric = Accumulator(3)  # summed loss, correct predictions, examples
    for X, y in train_iter:
        y_hat = net(X)
        l = loss(y_hat, y)
        if isinstance(updater, torch.optim.Optimizer):
            updater.zero_grad()
            l.mean().backward()
            updater.step()
        else:
            l.sum().backward()
            updater(X.shape[0])
        l = l.detach()
        metric.add(float(l.sum()) if l.ndim else float(l) * len(y), accuracy(y_hat, y), y.numel())
    return metric[0] / metric[2], metric[1] / metric[2]


# %% [markdown]
# `train_ch3` repeats that for a number of epochs, measures the test accuracy after each, and
# draws the three curves once training is over. d2l 0.x drew them live with its `Animator`;
# d2l 1.x dropped `train_ch3` altogether, which is why notes written for the older book stop
# working. This version returns the numbers as well, as a dictionary of lists.


# %%
def train_ch3(net, train_iter, test_iter, loss, num_epochs, updater, plot=True):
    """Train for `num_epochs`; return (and plot) loss and accuracies per epoch."""
    history = {"train loss": [], "train acc": [], "test acc": []}
    for _ in range(num_epochs):
        train_loss, train_acc = train_epoch_ch3(net, train_iter, loss, updater)
        history["train loss"].append(train_loss)
        history["train acc"].append(train_acc)
        history["test acc"].append(evaluate_accuracy(net, test_iter))
    if plot:
        plot_history(history, xlabel="epoch")
    return history


# %% [markdown]
# Now we train for 10 epochs with a learning rate of 0.1.

# %%
lr = 0.1


def updater(batch_size):
    return sgd([W, b], lr, batch_size)


num_epochs = 10
start = time.perf_counter()
history = train_ch3(net, train_iter, test_iter, cross_entropy, num_epochs, updater)
training_time = time.perf_counter() - start
plt.show()

# %% [markdown]
# The training loss falls quickly in the first epochs and then slowly; the test accuracy
# follows the training accuracy closely, a sign that a model this small does not overfit.
# The final numbers:

# %%
# NBVAL_IGNORE_OUTPUT
# Ten epochs of SGD amplify tiny floating-point differences between machines; the hidden
# cell below asserts the outcome instead.
for name, values in history.items():
    print(f"{name:10} {values[-1]:.4f}")
print(f"training time: {training_time:.3f} s")

# %% tags=["remove-cell"]
assert history["test acc"][-1] >= 0.82, history
assert history["train loss"][-1] < history["train loss"][0], history

# %% [markdown]
# For comparison, d2l reports a test accuracy of about 0.83 for this model, and the
# Fashion-MNIST paper lists 0.842 for a tuned logistic regression (the same model, trained
# differently). `sgd`, `train_epoch_ch3` and `train_ch3` are saved in `helpers` too.
#
# ## Prediction
#
# Finally, the trained model labels test images. `predict_ch3` shows the first `n` images of
# the test set, titled with the true label above the predicted one.


# %%
def predict_ch3(net, test_iter, n=6):
    """Show the first `n` test images titled "true / predicted"; return the titles."""
    X, y = next(iter(test_iter))
    with torch.no_grad():
        preds = get_fashion_mnist_labels(net(X).argmax(dim=1))
    trues = get_fashion_mnist_labels(y)
    titles = [f"{true}\n{pred}" for true, pred in zip(trues, preds, strict=True)][:n]
    show_images(X[:n, 0].cpu(), 1, n, titles=titles)
    return titles


titles = predict_ch3(net, test_iter, n=8)
plt.show()

# %% tags=["remove-cell"]
# The functions above are the ones saved in `helpers` (same code, leaving out type
# annotations and docstrings), so later chapters import exactly what this chapter shows.
import ast
import inspect
import textwrap

import helpers


class _Plain(ast.NodeTransformer):
    def visit_FunctionDef(self, node):
        node.returns = None
        if ast.get_docstring(node) is not None:
            node.body = node.body[1:]
        return self.generic_visit(node)

    def visit_arg(self, node):
        node.annotation = None
        return node

    def visit_AnnAssign(self, node):
        return ast.Assign(targets=[node.target], value=node.value)


def _code(fn):
    return ast.dump(_Plain().visit(ast.parse(textwrap.dedent(inspect.getsource(fn)))))


for fn in (accuracy, evaluate_accuracy, sgd, train_epoch_ch3, train_ch3, predict_ch3):
    assert _code(fn) == _code(getattr(helpers, fn.__name__)), f"{fn.__name__} differs"

# %% [markdown]
# ## Common mistakes
#
# Each of these mistakes produces a model that runs without an error message, which is what
# makes them costly. To try them, `fresh_model` builds a new softmax regression with its own
# parameters and its own `sgd` updater, from the same seed every time.


# %%
def fresh_model(std=0.01, scale=1.0):
    """A new softmax regression, initialized with `std`, multiplying its inputs by `scale`."""
    torch.manual_seed(0)
    W = torch.normal(0, std, size=(num_inputs, num_outputs), requires_grad=True)
    b = torch.zeros(num_outputs, requires_grad=True)

    def model(X):
        return softmax((scale * X).reshape((-1, num_inputs)) @ W + b)

    return model, lambda batch_size: sgd([W, b], lr, batch_size)


X_test, y_test = next(iter(test_iter))  # one test batch, to look at the start of training

# %% [markdown]
# ### Feeding raw pixels, 0 to 255
#
# Forget the division by 255 (for example by reading the `uint8` data directly) and every
# score is 255 times larger. The softmax saturates: the true class of some images gets a
# probability that underflows to exactly 0, its loss is $-\log 0 = \infty$, the gradient of
# that is `nan`, and one SGD step spreads the `nan` into every weight. A model whose scores are
# all `nan` predicts class 0 for every image, hence an accuracy of exactly one in ten.

# %%
model, model_updater = fresh_model(scale=255.0)
print(f"initial loss on one batch: {cross_entropy(model(X_test), y_test).mean():.3f}")
train_loss, _ = train_epoch_ch3(model, train_iter, cross_entropy, model_updater)
print(f"after one epoch: training loss {train_loss:.3f}, ", end="")
print(f"test accuracy {evaluate_accuracy(model, test_iter):.4f}")

# %% [markdown]
# ### Initializing the weights with standard deviation 1
#
# With $\sigma = 0.01$ the initial scores are close to each other, the probabilities close to
# 1/10, and the loss close to $\log 10$: the model starts out honestly undecided. With
# $\sigma = 1$ it starts out confidently wrong, with a far higher loss. It has to unlearn
# that confidence before it can learn anything, and the large loss makes its first steps
# large and erratic.

# %%
print(f"uniform guess: loss log(10) = {math.log(10):.3f}, top probability 0.100")
for std in (0.01, 1.0):
    model, _ = fresh_model(std=std)
    y_hat = model(X_test)
    print(
        f"std {std:4}: loss {cross_entropy(y_hat, y_test).mean():.3f}, "
        f"top probability {y_hat.max(dim=1).values.mean():.3f} on average"
    )

# %% [markdown]
# ### Returning from inside the evaluation loop
#
# One level of indentation too many puts the `return` inside the loop, so the function
# returns after the first batch. The number it returns looks like an accuracy, which is
# why the bug survives. Counting the images each version reads exposes it:


# %%
def evaluate_accuracy_buggy(net, data_iter):
    metric = Accumulator(2)
    with torch.no_grad():
        for X, y in data_iter:
            metric.add(accuracy(net(X), y), y.numel())
            return metric[0] / metric[1]  # BUG: inside the loop


def counting(data_iter, seen):
    """Yield the batches of `data_iter`, appending each batch size to `seen`."""
    for X, y in data_iter:
        seen.append(len(y))
        yield X, y


seen_buggy, seen_right = [], []
evaluate_accuracy_buggy(net, counting(test_iter, seen_buggy))
evaluate_accuracy(net, counting(test_iter, seen_right))
print(f"buggy version:   {sum(seen_buggy):5} test images read")
print(f"correct version: {sum(seen_right):5} test images read")

# %% [markdown]
# ### Squared error instead of cross-entropy
#
# Squared error between the probabilities and the one-hot label also falls as the model
# improves, so it seems a reasonable loss. But through the softmax its gradient vanishes
# exactly when the model is confidently wrong, the case that most needs correcting; the
# gradient of cross-entropy with respect to the scores is simply
# $\hat{\mathbf{y}} - \mathbf{e}_y$, large whenever the prediction is wrong. Here is one
# example of class 0 that the model places firmly in class 2:


# %%
def squared_loss(y_hat, y):
    return ((y_hat - nn.functional.one_hot(y, y_hat.shape[1])) ** 2).sum(1) / 2


scores = torch.tensor([[-4.0, 0.0, 4.0]])  # confident, and wrong: the true class is 0
label = torch.tensor([0])
for loss in (cross_entropy, squared_loss):
    o = scores.clone().requires_grad_()
    l = loss(softmax(o), label).sum()
    l.backward()
    print(f"{loss.__name__:13}: loss {l:.4f}, gradient of the scores {o.grad[0]}")

# %% [markdown]
# Cross-entropy pushes the true class's score up and class 2's down with gradients close to 1;
# squared error barely moves them. Over a whole epoch that means slower learning, as the next
# cell shows.
#
# ### What the mistakes cost
#
# One epoch of training for each variant, from the same seed and on the same batches order;
# the first row is the correct setup.

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies after an epoch of SGD differ slightly from machine to machine.
variants = {
    "correct setup": (fresh_model(), cross_entropy),
    "weights with std 1": (fresh_model(std=1.0), cross_entropy),
    "squared error loss": (fresh_model(), squared_loss),
}
for name, ((model, model_updater), loss) in variants.items():
    torch.manual_seed(1)  # the same order of training batches for every variant
    train_epoch_ch3(model, train_iter, loss, model_updater)
    print(f"{name:20} test accuracy after one epoch: {evaluate_accuracy(model, test_iter):.4f}")

# %% [markdown]
# ## Summary
#
# - Softmax regression is a linear layer followed by softmax; here it has 784 × 10 weights
#   and 10 biases.
# - Softmax must subtract each row's maximum before exponentiating, or large scores turn
#   into `nan`; the log-sum-exp trick does the same for the logarithm.
# - Cross-entropy is minus the log-probability of the true class, picked out by indexing
#   with `range(n)` and the labels.
# - `accuracy`, `evaluate_accuracy`, `sgd`, `train_epoch_ch3`, `train_ch3` and `predict_ch3`
#   are the classic d2l training API; they are saved in `helpers` for the chapters to come.
# - Ten epochs of minibatch SGD bring the test accuracy above 0.82.
#
# ## Exercises
#
# 1. Our `cross_entropy` computes `log(softmax(o))`. Show a row of scores for which it
#    returns `inf` although the loss is finite, and compute the right value with
#    `torch.logsumexp`.
# 2. Train with learning rates 0.01, 0.1 and 1. Which one reaches the best test accuracy after
#    10 epochs, and what goes wrong at each end?
# 3. Train for 30 epochs. Does the test accuracy keep rising? Compare it with the training
#    accuracy.
# 4. Show the test images the trained model gets wrong, with their true and predicted labels.
#    Which pairs of classes does it confuse?
# 5. Each column of `W` holds the weights of one class. Reshape a column to 28 × 28 and show
#    the ten of them with `show_images`. What do they look like?
#
# Next: {ref}`chap-softmax-concise` builds the same model with PyTorch's own layers, loss and
# optimizer.
