# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
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
import numpy as np
import torch
from torch import nn

from helpers import (
    Accumulator,
    TensorLoader,
    confusion_matrix,
    get_fashion_mnist_labels,
    load_data_fashion_mnist,
    load_data_fashion_mnist_valid,
    load_fashion_mnist_tensors,
    plot_history,
    show_images,
)

# %% tags=["remove-cell"]
# %config InlineBackend.figure_formats = ["retina"]
_ = torch.manual_seed(0)

# %% [markdown]
# ## The data and the parameters
#
# We read Fashion-MNIST in minibatches of 256 with the loaders from {ref}`chap-dataset`.
# `load_data_fashion_mnist_valid` holds out 10,000 of the 60,000 training images for
# *validation* (a fixed draw from a seeded generator) and gives the rest to train on;
# `load_data_fashion_mnist` gives the test images.

# %%
batch_size = 256
train_iter, valid_iter = load_data_fashion_mnist_valid(batch_size)
_, test_iter = load_data_fashion_mnist(batch_size)
sets = {"train": train_iter, "validation": valid_iter, "test": test_iter}
for name, data in sets.items():
    print(f"{name:10} images: {len(data.labels):6,}")

# %% [markdown]
# Why three sets? This chapter makes choices: the learning rate, how to draw the starting
# weights, the loss, the number of epochs. Each is made by trying settings and keeping the
# one that scores best. A score used to choose is no longer a fair measure of the winner:
# the winner is partly the setting that happened to suit those particular images, so its
# score flatters it, and the more settings we try, the more it can flatter. So settings are
# compared on the validation set, which the model never trains on, and the test set decides
# nothing: the final model is evaluated on it once, and that number estimates its accuracy
# on new images because nothing was chosen with it. d2l (its section on model selection)
# and Stanford's CS231n notes do the same; CS231n's advice is to evaluate on the test set
# only a single time, at the very end. Until the final model below, every number in this
# chapter is measured on the validation set.
#
# Softmax regression does not use the 2-D structure of an image: it flattens each 28 × 28
# image into a vector of 784 inputs. With 10 classes, the model has a weight matrix
# $\mathbf{W}$ of shape 784 × 10 and a bias vector $\mathbf{b}$ of 10 entries. We draw the
# weights from a normal distribution with standard deviation 0.01 and start the biases at
# zero. `requires_grad=True` asks autograd to compute the gradients of the loss with respect
# to them (MXNet's notes call `attach_grad()` and record the forward pass inside
# `autograd.record()`; PyTorch records every operation on such a tensor, see
# {ref}`coming-from-mxnet`).

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
    X = X - X.max(dim=1, keepdim=True).values  # each row's largest becomes 0
    X_exp = torch.exp(X)
    return X_exp / X_exp.sum(1, keepdim=True)


print(softmax(O))
# the same result as the naive version where that one works:
print(torch.allclose(softmax(X), softmax_naive(X)))

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
print("row sums:", " ".join(f"{s:.4f}" for s in y_hat.sum(1)[:4].tolist()))

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
# with `range(n)` and the columns with the labels (MXNet's `nd.pick`). Here are two examples
# with three classes; the true classes are 0 and 2:

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
# The labels index the columns, so they must be integers. `torch.tensor` takes its type
# from the data: Python integers give `int64`, Python floats `float32`, and a NumPy array
# keeps NumPy's type, `float64` for floats. `torch.Tensor`, the class, always gives
# `float32`, even from integers:

# %%
print("torch.tensor([0, 2])       ", torch.tensor([0, 2]).dtype)
print("torch.Tensor([0, 2])       ", torch.Tensor([0, 2]).dtype)
print("torch.tensor(np.zeros(2))  ", torch.tensor(np.zeros(2)).dtype)

# %% [markdown]
# Labels stored as floats, built with `torch.Tensor` or read from a float array, fail
# twice: as an index, and in PyTorch's own loss, `nn.functional.cross_entropy` (met in
# {ref}`chap-softmax-concise`), whatever the scores:

# %% tags=["remove-cell"]
# %xmode Minimal
# Show the errors in one line, without a traceback through PyTorch's files.

# %% tags=["raises-exception"]
y_float = torch.Tensor([0, 2])
y_hat[range(2), y_float]

# %% tags=["raises-exception"]
nn.functional.cross_entropy(torch.zeros(2, 3), y_float)

# %% tags=["remove-cell"]
# %xmode Context

# %% [markdown]
# `.long()` turns them into `int64`, and both work again:

# %%
print(cross_entropy(y_hat, y_float.long()))
print(nn.functional.cross_entropy(torch.zeros(2, 3), y_float.long()))

# %% [markdown]
# Parameters made from a NumPy array are `float64` in the same way. A matrix product does
# not mix the two types, so the `float32` images must then be converted too, and the whole
# model runs in `float64`, with 8 bytes per number instead of 4.
# {ref}`softmax-scratch-raw-pixels` shows where that makes a difference, and why `float32`
# stays the default.
#
# (softmax-scratch-derivation)=
# ## Where the loss comes from, and its gradient
#
# Softmax regression reads $\hat{y}_j$ as the probability that the image shows class $j$.
# The best parameters are then those under which the labels we observed are most probable:
# *maximum likelihood*. For $n$ independent examples the probability of all their labels is
# a product, and its negative logarithm is a sum of our losses:
#
# $$-\log \prod_{i=1}^{n} \hat{y}^{(i)}_{y^{(i)}}
# = \sum_{i=1}^{n} -\log \hat{y}^{(i)}_{y^{(i)}}
# = \sum_{i=1}^{n} l\big(y^{(i)}, \hat{\mathbf{y}}^{(i)}\big).$$
#
# So minimizing the summed cross-entropy *is* maximizing the likelihood. To train, we need its
# gradient with respect to the scores $\mathbf{o}$ of one example. Writing the loss with the
# softmax spelled out,
#
# $$l = -\log \frac{\exp(o_y)}{\sum_k \exp(o_k)} = \log \sum_k \exp(o_k) - o_y,
# \qquad
# \frac{\partial l}{\partial o_j} = \frac{\exp(o_j)}{\sum_k \exp(o_k)} - [j = y]
# = \hat{y}_j - y_j,$$
#
# where $\mathbf{y}$ is the *one-hot* label, 1 for the true class and 0 elsewhere. The
# gradient is the predicted distribution minus the true one. Every entry lies between
# $-1$ and $1$, however large the loss. Since $\mathbf{o} = \mathbf{W}^\top \mathbf{x} +
# \mathbf{b}$, the chain rule gives the gradients of the parameters for a whole minibatch:
# $\mathbf{X}^\top(\hat{\mathbf{Y}} - \mathbf{Y})$ for $\mathbf{W}$ and the column sums of
# $\hat{\mathbf{Y}} - \mathbf{Y}$ for $\mathbf{b}$. Autograd agrees:

# %%
o = torch.normal(0, 3, (4, 10), requires_grad=True)
labels = torch.tensor([3, 0, 9, 3])
cross_entropy(softmax(o), labels).sum().backward()
by_hand = softmax(o.detach()) - nn.functional.one_hot(labels, 10)
print("autograd:", " ".join(f"{v:6.3f}" for v in o.grad[0]))
print("by hand: ", " ".join(f"{v:6.3f}" for v in by_hand[0]))
largest = float((o.grad - by_hand).abs().max())
print("largest difference below 1e-6:", largest < 1e-6)

# %% tags=["remove-cell"]
# claim: autograd agrees
assert torch.allclose(o.grad, by_hand, atol=1e-6)

# %% [markdown]
# The same check for the weights, on a real minibatch with the model's own parameters:

# %%
X_batch, y_batch = next(iter(train_iter))
cross_entropy(net(X_batch), y_batch).sum().backward()
with torch.no_grad():
    Y_hat = net(X_batch)
    Y = nn.functional.one_hot(y_batch, 10)
    grad_W = X_batch.reshape(-1, 784).T @ (Y_hat - Y)
same = torch.allclose(W.grad, grad_W, atol=1e-4)
print("X^T (Y_hat - Y) matches W.grad:", same)
W.grad, b.grad = None, None  # training starts from fresh gradients

# %% tags=["remove-cell"]
assert same

# %% [markdown]
# ## Classification accuracy
#
# The loss is what we optimize; accuracy, the fraction of correct predictions, is what we
# care about. The predicted class is the one with the highest probability (`argmax`).
# `accuracy` returns the *number* of correct predictions, so that counts from batches of
# different sizes add up correctly:


# %%
def accuracy(y_hat, y):
    """Return the number of correct predictions (not the fraction)."""
    if y_hat.ndim > 1 and y_hat.shape[1] > 1:
        y_hat = y_hat.argmax(dim=1)
    return float((y_hat.type(y.dtype) == y).sum())


print(accuracy(y_hat, y) / len(y))

# %% [markdown]
# In the two-example batch, the first row's highest probability is on class 2 (wrong) and the
# second's on class 2 (right): half of them.
#
# `argmax(dim=1)` runs along each row: one answer per example, the predicted class. With
# `dim=0` it runs down each column instead: one answer per class, the example that rates
# that class highest, a different question. `mean` works the same way:

# %%
print("argmax(dim=1), one per example:", y_hat.argmax(dim=1))
print("argmax(dim=0), one per class:  ", y_hat.argmax(dim=0))
print("mean(dim=1), one per example:  ", y_hat.mean(dim=1))
print("mean(dim=0), one per class:    ", y_hat.mean(dim=0))

# %% [markdown]
# The mean of each row is 1/3 whatever the model predicts, since the probabilities of a row
# sum to 1; the mean of each column is the average probability a class receives. With a
# batch of exactly as many examples as classes, comparing `argmax(dim=0)` with the labels
# would even run without an error.
#
# To evaluate a model on a whole dataset we add up correct predictions and examples over
# all batches. `Accumulator(n)` (d2l's, rewritten in `helpers`) keeps `n` running sums:

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


untrained = evaluate_accuracy(net, valid_iter)
print(f"accuracy of the untrained model: {untrained:.4f}")

# %% [markdown]
# With random weights the scores have nothing to do with the garments, so the model is
# guessing. Yet its accuracy is not the one in ten of a blind guess. A guess that ignored the
# image would be right about one time in ten whatever classes it favoured, since each class
# makes up about a tenth of the validation images. The untrained model does look at the
# image, only with random weights: similar images get similar scores, so whole groups of
# them land in the same class, right or wrong together. Counting the predicted classes
# shows how uneven that is:

# %%
with torch.no_grad():
    preds = torch.cat([net(X).argmax(dim=1) for X, _ in valid_iter])
counts = torch.bincount(preds, minlength=10).tolist()
print("predicted as each class:", counts)

# %% tags=["remove-cell"]
# claim: about a tenth of the validation images
shares = torch.bincount(valid_iter.labels) / len(valid_iter.labels)
assert shares.min() > 0.09 and shares.max() < 0.11, shares
# claim: its accuracy is not the one in ten of a blind guess
assert abs(untrained - 0.1) > 0.03, untrained
# claim: shows how uneven that is
assert max(counts) > 3 * sum(counts) / 10, counts

# %% [markdown]
# Which class a group lands in is decided by the draw of the weights, so the untrained
# accuracy is a matter of luck. Ten other draws of $\mathbf{W}$ spread it widely around 0.1:


# %%
def untrained_accuracy(seed):
    gen = torch.Generator().manual_seed(seed)
    W_random = torch.normal(0, 0.01, (784, 10), generator=gen)
    return evaluate_accuracy(
        lambda X: X.reshape(-1, 784) @ W_random, valid_iter
    )


draws = [untrained_accuracy(seed) for seed in range(1, 11)]
print("accuracies:", " ".join(f"{a:.3f}" for a in draws))
print(
    f"mean {sum(draws) / len(draws):.3f}, "
    f"min {min(draws):.3f}, max {max(draws):.3f}"
)

# %% tags=["remove-cell"]
# claim: spread it widely around 0.1
assert abs(sum(draws) / len(draws) - 0.1) < 0.02, draws
assert max(draws) - min(draws) > 0.05, draws

# %% [markdown]
# From here on, `accuracy` and `evaluate_accuracy` are saved in `helpers` (as
# `helpers.accuracy` and `helpers.evaluate_accuracy`): later chapters import them instead
# of rewriting them.
#
# ## Training
#
# Minibatch stochastic gradient descent updates each parameter against its gradient.
# `cross_entropy` returns a vector, one loss per example, and PyTorch's `backward()` starts
# from a single number only (MXNet's `backward()` silently summed a vector):

# %% tags=["remove-cell"]
# %xmode Minimal

# %% tags=["raises-exception"]
cross_entropy(net(X_batch), y_batch).backward()

# %% tags=["remove-cell"]
# %xmode Context
assert W.grad is None and b.grad is None  # the failed call computed nothing

# %% [markdown]
# So we sum the losses first, `l.sum().backward()`, as d2l 0.x's PyTorch code does with its
# per-example losses (`reduction='none'`). Since the loss is *summed* over the batch, `sgd`
# divides by the batch size to take a step of the same size whatever the batch, the
# division that gluon's `Trainer.step(batch_size)` makes. A `torch.optim` optimizer divides
# by nothing: it expects the *mean* loss, and a port that averages the loss and still
# divides by the batch size takes steps `batch_size` times too small. The update runs under
# `torch.no_grad()` (it must not become part of the graph), and the gradients are reset to
# zero afterwards, since autograd adds new gradients to old ones.


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
    """Train one epoch; return the average training loss and accuracy."""
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
        metric.add(
            float(l.sum()) if l.ndim else float(l) * len(y),
            accuracy(y_hat, y),
            y.numel(),
        )
    return metric[0] / metric[2], metric[1] / metric[2]


# %% [markdown]
# `train_ch3` repeats that for a number of epochs, measures the accuracy on a second dataset
# after each (d2l's name for it is `test_iter`), and draws the three curves once training is
# over. d2l 0.x drew them live with its `Animator`; d2l 1.x dropped `train_ch3` altogether,
# which is why notes written for the older book stop working. This version returns the
# numbers as well, as a dictionary of lists.


# %%
def train_ch3(
    net, train_iter, test_iter, loss, num_epochs, updater, plot=True
):
    """Train for `num_epochs`; return (and plot) the metrics per epoch."""
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
# Now we train for 10 epochs with a learning rate of 0.1, settings that the common mistakes
# below and {ref}`ex-softmax-scratch-2` compare with others. As the second dataset we give
# `train_ch3` the validation loader, so that the number of epochs is judged on validation
# data too, and we rename its curve to say so:

# %%
lr = 0.1


def updater(batch_size):
    return sgd([W, b], lr, batch_size)


num_epochs = 10
start = time.perf_counter()
history = train_ch3(
    net, train_iter, valid_iter, cross_entropy, num_epochs, updater, plot=False
)
training_time = time.perf_counter() - start
history["valid acc"] = history.pop("test acc")  # it measured valid_iter
plot_history(history)
plt.show()

# %% [markdown]
# The training loss falls quickly in the first epochs and then slowly. The training loss
# and accuracy are averages over each epoch, taken while the model changes; the validation
# accuracy is measured after it. So in the first epoch, which starts from a model that
# guesses, the training accuracy lies below the validation accuracy. After it the
# validation accuracy stays a little below the training accuracy, by a gap that does not
# grow with the epochs: a sign that in ten epochs a model this small does not overfit. Ten
# epochs are enough: over the last of them the validation accuracy gains little per epoch.
# The numbers after the last epoch:

# %% tags=["nbval-trained"]
for name, values in history.items():
    print(f"{name:10} {values[-1]:.4f}")

# %% tags=["remove-cell"]
loss_curve, train_acc, valid_acc = (
    history[k] for k in ("train loss", "train acc", "valid acc")
)
# claim: falls quickly in the first epochs and then slowly
assert loss_curve[0] - loss_curve[2] > 3 * (loss_curve[7] - loss_curve[9])
assert all(a > b for a, b in zip(loss_curve[:-1], loss_curve[1:], strict=True))
gaps = [t - v for t, v in zip(train_acc, valid_acc, strict=True)]
# claim: the training accuracy lies below the validation accuracy
assert gaps[0] < 0, gaps
# claim: by a gap that does not grow with the epochs
assert all(0 < g < 0.04 for g in gaps[1:]), gaps
assert gaps[-1] <= max(gaps[1:5]), gaps
# claim: gains little per epoch
assert (valid_acc[-1] - valid_acc[-4]) / 3 < 0.005, valid_acc

# %% [markdown]
# On this machine, the ten epochs took:

# %% tags=["nbval-ignore-output"]
print(f"training time: {training_time:.3f} s")

# %% tags=["remove-cell"]
assert training_time > 0, training_time

# %% [markdown]
# ### The test set, once
#
# Every setting is now fixed, so the model above is our final model, and only now do we
# measure it on the test set. The test accuracy measures the same thing as the validation
# accuracy, on other images; had our choices been tuned to the validation images, the test
# accuracy would tend to come out lower. Chance alone moves an accuracy $p$ measured on $n$
# images by about its standard error, $\sqrt{p(1-p)/n}$, and the difference of two
# accuracies measured on separate images by about $\sqrt{2}$ times that:

# %% tags=["nbval-trained"]
test_acc = evaluate_accuracy(net, test_iter)
se = math.sqrt(test_acc * (1 - test_acc) / len(test_iter.labels))
print(f"validation accuracy {history['valid acc'][-1]:.4f}")
print(f"test accuracy       {test_acc:.4f}, standard error {se:.4f}")

# %% tags=["remove-cell"]
# claim: within a few standard errors of each other
# claim: did not flatter the model measurably
assert abs(test_acc - history["valid acc"][-1]) < 3 * math.sqrt(2) * se
# claim: bring the test accuracy above 0.82
assert test_acc > 0.82, test_acc

# %% [markdown]
# The two lie within a few standard errors of each other: the validation set, used for a
# handful of choices, did not flatter the model measurably. This test accuracy is the number
# to report.
#
# For comparison, d2l reports a test accuracy of about 0.83 for this model. The
# Fashion-MNIST benchmark lists 0.842 for scikit-learn's `LogisticRegression`: also a
# linear classifier, but trained on standardized pixels (each pixel shifted and scaled to
# mean 0, variance 1) by a different solver, with a penalty on the size of the weights,
# and the best of twelve settings (L1 or L2 penalty, three penalty strengths, multinomial
# or one-vs-rest), picked by their test accuracy, which flatters it a little. So it shows
# what a tuned linear model can reach, not what our ten epochs of SGD should. `sgd`,
# `train_epoch_ch3` and `train_ch3` are saved in `helpers` too.
#
# ## Prediction
#
# Finally, the trained model labels test images. From here on we only look at the final
# model's test predictions; nothing is chosen with them. `predict_ch3` shows the first `n`
# images of the first batch it is given, titled with the true label above the predicted one.


# %%
def predict_ch3(net, test_iter, n=6):
    """Show the first `n` images titled "true / predicted"; return titles."""
    X, y = next(iter(test_iter))
    with torch.no_grad():
        preds = get_fashion_mnist_labels(net(X).argmax(dim=1))
    trues = get_fashion_mnist_labels(y)
    titles = [
        f"{true}\n{pred}" for true, pred in zip(trues, preds, strict=True)
    ][:n]
    show_images(X[:n, 0].cpu(), 1, n, titles=titles)
    return titles


# %% [markdown]
# Which test images does the trained model get wrong? One pass over the test set tells:

# %% tags=["nbval-trained"]
with torch.no_grad():
    X_all = torch.cat([X for X, _ in test_iter])
    y_all = torch.cat([y for _, y in test_iter])
    right = net(X_all).argmax(dim=1) == y_all
print(f"test images classified wrongly: {int((~right).sum()):,}")

# %% tags=["remove-cell"]
assert int((~right).sum()) == round((1 - test_acc) * 10_000), test_acc

# %% [markdown]
# The first few test images may all be classified correctly, which would flatter the
# model. Instead we give `predict_ch3` one batch of the first four test images it gets
# right and the first four it gets wrong:

# %%
pick = torch.cat([right.nonzero()[:4, 0], (~right).nonzero()[:4, 0]])
titles = predict_ch3(net, [(X_all[pick], y_all[pick])], n=8)
plt.show()

# %% tags=["remove-cell"]
# The functions above are the ones saved in `helpers` (same code, leaving
# out type annotations and docstrings), so later chapters import exactly
# what this chapter shows.
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
    return ast.dump(
        _Plain().visit(ast.parse(textwrap.dedent(inspect.getsource(fn))))
    )


for fn in (
    accuracy,
    evaluate_accuracy,
    sgd,
    train_epoch_ch3,
    train_ch3,
    predict_ch3,
):
    assert _code(fn) == _code(getattr(helpers, fn.__name__)), (
        f"{fn.__name__} differs"
    )

# %% [markdown]
# ## Common mistakes
#
# Each of these mistakes produces a model that runs without an error message, which is what
# makes them costly. Most come from notes written for older versions of this material. To
# measure what each one costs, `one_epoch` trains a fresh softmax regression for one epoch,
# from the same seed and on the same order of batches every time, and measures it on the
# validation set: its loss before and after the epoch, and its accuracy after it. The loss
# is the same yardstick for every variant, whatever loss it trains with: the mean
# cross-entropy of the validation images, computed from the scores with the log-sum-exp
# trick so that it stays finite however far apart the scores are. Its arguments are the
# mistakes we will make.


# %%
def stable_cross_entropy(o, y):
    """Cross-entropy from the scores `o`: log-sum-exp minus the true score."""
    return torch.logsumexp(o, dim=1) - o[range(len(o)), y]


def fresh_model(std=0.01, scale=1.0, lr=0.1, dtype=torch.float32):
    """Softmax regression's scores: weights of `std`, inputs times `scale`."""
    torch.manual_seed(0)
    W = torch.normal(0, std, size=(num_inputs, num_outputs)).to(dtype)
    b = torch.zeros(num_outputs, dtype=dtype)
    W.requires_grad_()
    b.requires_grad_()

    def scores(X):
        return (scale * X.to(dtype)).reshape((-1, num_inputs)) @ W + b

    return scores, lambda batch_size: sgd([W, b], lr, batch_size)


X_valid = torch.cat([X for X, _ in valid_iter])
y_valid = torch.cat([y for _, y in valid_iter])


def valid_loss(scores):
    with torch.no_grad():
        return float(stable_cross_entropy(scores(X_valid), y_valid).mean())


# %%
costs = {}  # validation loss before and after one epoch, validation accuracy


def one_epoch(name, loss=cross_entropy, on_scores=False, batch_size=256, **kw):
    """Train one epoch of `loss` on probabilities (or on scores)."""
    scores, model_updater = fresh_model(**kw)
    model = scores if on_scores else lambda X: softmax(scores(X))
    data = TensorLoader(
        train_iter.images, train_iter.labels, batch_size, shuffle=True
    )
    before = valid_loss(scores)
    torch.manual_seed(1)  # the same order of batches for every variant
    train_epoch_ch3(model, data, loss, model_updater)
    after, acc = valid_loss(scores), evaluate_accuracy(model, valid_iter)
    costs[name] = (before, after, acc)
    print(f"{name}: loss {before:.3f} -> {after:.3f}, accuracy {acc:.4f}")


# %% tags=["nbval-trained"]
one_epoch("correct setup")

# %% tags=["remove-cell"]
assert costs["correct setup"][2] > 0.7, costs

# %% [markdown]
# (softmax-scratch-raw-pixels)=
# ### Feeding raw pixels, 0 to 255
#
# Forget the division by 255 (for example by training on a torchvision dataset's `.data`,
# see {ref}`chap-dataset`) and every score is 255 times larger. The softmax saturates: for
# some images the true class's score lies so far below the largest that its probability
# underflows to exactly 0, the loss is $-\log 0 = \infty$, its gradient is `nan`, and one
# SGD step spreads the `nan` into every weight. A model whose scores are all `nan` predicts
# class 0 for every image, so its accuracy is the share of class 0 in the validation set.
#
# Older notes met a diverging loss here, shrank the learning rate to $10^{-6}$ with batches
# of 50, and trained on: they report the loss falling from about 4.7 to 2.7 in five epochs
# and an accuracy of about 0.71. Their run survived because their hand-written softmax
# computed in `float64`. A probability becomes 0 once it falls below half the smallest
# positive number its type holds. (Below about $10^{-38}$ in `float32` and $10^{-308}$ in
# `float64`, the numbers a type holds are *subnormal*: they keep ever fewer significant
# digits, down to that smallest one.) The cell prints that number for each type, as
# $e^{-x}$: a true class whose score lies more than about $x$ below the largest gets a
# probability of 0, so `float64` can hold on far longer. It also counts, for the raw-pixel
# model before any training, the validation images whose loss is already infinite:


# %%
def smallest_positive(dtype):
    zero = torch.zeros((), dtype=dtype)
    return float(torch.nextafter(zero, zero + 1))  # the next number after 0


for dtype in (torch.float32, torch.float64):
    tiny = smallest_positive(dtype)
    scores, _ = fresh_model(scale=255.0, dtype=dtype)
    with torch.no_grad():
        l = cross_entropy(softmax(scores(X_valid)), y_valid)
    print(
        f"{dtype}: smallest {tiny:.1e} = exp(-{-math.log(tiny):.0f}), "
        f"infinite losses: {int(l.isinf().sum())}"
    )

# %% tags=["remove-cell"]
# claim: so `float64` can hold on far longer
tiny32, tiny64 = map(smallest_positive, (torch.float32, torch.float64))
assert math.log(tiny64) < 5 * math.log(tiny32), (tiny32, tiny64)
# the probabilities that underflow are exactly 0 (subnormals are kept):
assert float(softmax(torch.tensor([[0.0, -95.0]]))[0, 1]) > 0
assert float(softmax(torch.tensor([[0.0, -110.0]]))[0, 1]) == 0
# claim: whose loss is already infinite
scores, _ = fresh_model(scale=255.0)
with torch.no_grad():
    assert cross_entropy(softmax(scores(X_valid)), y_valid).isinf().any()
assert int(l.isinf().sum()) == 0  # float64, the last of the loop

# %% [markdown]
# One epoch at the notes' settings, in each type:

# %% tags=["nbval-trained"]
one_epoch("raw pixels, float32", scale=255.0, lr=1e-6, batch_size=50)
one_epoch(
    "raw pixels, float64",
    scale=255.0,
    lr=1e-6,
    batch_size=50,
    dtype=torch.float64,
)

# %% tags=["remove-cell"]
raw32, raw64 = costs["raw pixels, float32"], costs["raw pixels, float64"]
# claim: the share of class 0 in the validation set
assert math.isnan(raw32[1]), raw32
assert raw32[2] == int((y_valid == 0).sum()) / len(y_valid), raw32
# claim: `float32` ends in `nan`; `float64` trains
assert math.isfinite(raw64[1]) and raw64[1] < raw64[0] / 5, raw64
assert raw64[2] > 0.5, raw64
# claim: trails the scaled `float32` one
assert raw64[1] > costs["correct setup"][1], costs
assert raw64[2] < costs["correct setup"][2] - 0.05, costs
# claim: trains the correct setup above without trouble
assert math.isfinite(costs["correct setup"][1]), costs

# %% [markdown]
# `float32` ends in `nan`; `float64` trains: its loss falls, as in the notes, which took five
# epochs to reach their numbers. Why does a learning rate of $10^{-6}$ suit raw pixels at
# all? The {ref}`gradient <softmax-scratch-derivation>` of $\mathbf{W}$,
# $\mathbf{X}^\top(\hat{\mathbf{Y}} - \mathbf{Y})$, is 255 times larger, and a change of
# $\mathbf{W}$ moves the scores 255 times more. Measured in scaled inputs, a step on
# $\mathbf{W}$ therefore acts like a learning rate of $255^2 \times 10^{-6} \approx 0.065$,
# close to our 0.1. What remains is the start: weights drawn with standard deviation 0.01
# for raw pixels are, for scaled pixels, weights with standard deviation 2.55, a saturated
# start, far from the honest $\log 10$ (the next section shows what that costs). The bias
# learns at $10^{-6}$ and hardly moves. After one epoch the `float64` model trails the
# scaled `float32` one (the table at the end).
#
# So `float64` hides the mistake instead of fixing it, and `float32` stays the default: with
# scaled inputs it trains the correct setup above without trouble. Every `float64` number
# takes twice the memory and twice the memory traffic, and most GPUs compute in `float64`
# far more slowly than in `float32`: the T4 of a free Colab at 1/32 of its `float32` rate,
# consumer GeForce cards at 1/64; only data-centre GPUs built for scientific computing,
# such as the A100 and H100, run it at half their `float32` rate. Scale the inputs, don't
# change the type.
#
# ### Initializing the weights with standard deviation 1
#
# With $\sigma = 0.01$ the initial scores are close to each other, the probabilities close
# to 1/10, and the loss close to $\log 10$: the model starts out honestly undecided. With
# $\sigma = 1$ it starts out confidently wrong, with a far higher loss. A large loss does not
# mean large steps, though: the gradient with respect to the scores is
# $\hat{\mathbf{y}} - \mathbf{y}$, each entry between $-1$ and $1$. The harm is
# *saturation*. Scores far apart make the softmax almost one-hot, so
# $\hat{\mathbf{y}} - \mathbf{y}$ is almost zero for every class but the predicted one and
# the true one: each image teaches about two classes instead of ten, and images predicted
# right and confidently teach nothing at all.


# %%
def saturation(std):
    scores, _ = fresh_model(std=std)
    with torch.no_grad():
        y_hat = softmax(scores(X_valid))
    grad = (y_hat - nn.functional.one_hot(y_valid, 10)).abs()
    stats = (
        float(cross_entropy(y_hat, y_valid).mean()),
        float(y_hat.max(dim=1).values.mean()),
        float((grad > 0.01).sum(1).float().mean()),
    )
    print(
        f"std {std:4}: loss {stats[0]:.3f}, top probability {stats[1]:.3f}, "
        f"classes with gradient > 0.01: {stats[2]:.1f}"
    )
    return stats


print(
    f"uniform guess: loss log(10) = {math.log(10):.3f}, top probability 0.100"
)
starts = {std: saturation(std) for std in (0.01, 1.0)}

# %% tags=["remove-cell"]
# claim: the loss close to $\log 10$
assert abs(starts[0.01][0] - math.log(10)) < 0.1, starts
# claim: with a far higher loss
assert starts[1.0][0] > 5 * starts[0.01][0], starts
# claim: about two classes instead of ten
assert 1.5 < starts[1.0][2] < 3.5 and starts[0.01][2] > 9.5, starts
# claim: far from the honest $\log 10$
assert raw64[0] > 10 * math.log(10), raw64

# %% [markdown]
# The model has to walk its scores back from that start, a bounded step at a time, before
# it can learn much. After one epoch:

# %% tags=["nbval-trained"]
one_epoch("weights with std 1", std=1.0)

# %% tags=["remove-cell"]
# claim: before it can learn much
assert costs["weights with std 1"][2] < costs["correct setup"][2] - 0.05, costs

# %% [markdown]
# ### Evaluating on one batch only
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
    """Yield the batches of `data_iter`; append each batch size to `seen`."""
    for X, y in data_iter:
        seen.append(len(y))
        yield X, y


seen_buggy, seen_right = [], []
evaluate_accuracy_buggy(net, counting(test_iter, seen_buggy))
evaluate_accuracy(net, counting(test_iter, seen_right))
print(f"buggy version:   {sum(seen_buggy):5} test images read")
print(f"correct version: {sum(seen_right):5} test images read")

# %% [markdown]
# Older notes made the mirror-image mistake: they ran the test loop and then computed the
# accuracy on the `X, y` left over from it, the *last* batch. The 10,000 test images in
# batches of 256 leave a last batch of only 16, so that "test accuracy" rests on 16 images:

# %% tags=["nbval-ignore-output"]
for X, y in test_iter:  # noqa: B007 - the mistake: keep only the last batch
    pass
with torch.no_grad():
    last_acc = accuracy(net(X), y) / len(y)
print(f"last batch: {len(y)} images, accuracy {last_acc:.4f}")
print(f"all {sum(seen_right):,} test images: accuracy {test_acc:.4f}")

# %% tags=["remove-cell"]
# The accuracies of the trained model differ slightly between machines.
# claim: leave a last batch of only 16
assert len(y) == 16 and 0 <= last_acc <= 1 and test_acc > 0.8, (
    len(y),
    test_acc,
)
assert sum(seen_right) == len(test_iter.labels) == 10_000, seen_right

# %% [markdown]
# ### A shuffled test loader
#
# Shuffling the test set changes nothing in a full evaluation: the same images are counted,
# in another order. What it changes is every number computed from part of the test set,
# such as the first batch that `predict_ch3` shows, or the last batch above: it becomes a
# different sample every time. Here is the last batch's accuracy over five passes of a
# shuffled test loader, against the full accuracy, which does not move:

# %% tags=["nbval-ignore-output"]
_, _, X_test_u8, y_test_all = load_fashion_mnist_tensors()
shuffled_iter = TensorLoader(X_test_u8, y_test_all, batch_size, shuffle=True)
last = []
for _ in range(5):
    for X, y in shuffled_iter:  # noqa: B007 - as above
        pass
    with torch.no_grad():
        last.append(accuracy(net(X), y) / len(y))
print("last batch, five passes:", " ".join(f"{a:.3f}" for a in last))
print(f"full, shuffled: {evaluate_accuracy(net, shuffled_iter):.4f}")
print(f"full, ordered:  {evaluate_accuracy(net, test_iter):.4f}")

# %% tags=["remove-cell"]
# The accuracies of the trained model differ slightly between machines.
assert abs(evaluate_accuracy(net, shuffled_iter) - test_acc) < 1e-9
assert all(0 <= a <= 1 for a in last), last
assert abs(evaluate_accuracy(net, test_iter) - test_acc) < 1e-9

# %% [markdown]
# A shuffled test loader costs a random permutation per pass and buys nothing: a test
# loader is never shuffled.
#
# ### Averaging per-batch accuracies
#
# Averaging the accuracy of each batch weighs the last batch of 16 images as much as a full
# one of 256. That is why `accuracy` returns a count, and `evaluate_accuracy` divides the
# total count by the total number of images. The error of the average can grow with the
# last batch's share of the test set:


# %%
def mean_of_batch_accuracies(net, data_iter):
    with torch.no_grad():
        accs = [accuracy(net(X), y) / len(y) for X, y in data_iter]
    return sum(accs) / len(accs)


# %% tags=["nbval-ignore-output"]
errors = {}
for size in (256, 3000, 9000):
    _, sized_iter = load_data_fashion_mnist(size)
    errors[size] = mean_of_batch_accuracies(net, sized_iter) - test_acc
    print(
        f"batches of {size:4}, last {10000 % size:4}: "
        f"error {errors[size]:+.4f}"
    )

# %% tags=["remove-cell"]
# The accuracies of the trained model differ slightly between machines.
# claim: the error is small but not zero
assert 0 < abs(errors[256]) < 0.005, errors
# claim: and here the error is larger
assert abs(errors[9000]) > 2 * abs(errors[256]), errors
assert all(abs(e) < 0.1 for e in errors.values()), errors

# %% [markdown]
# With batches of 256 the error is small but not zero; it is zero only if the last batch
# happens to be exactly as accurate as the rest. With batches of 9,000 the 1,000 images of
# the last batch count as much as the 9,000 of the first, and here the error is larger.
#
# ### Squared error instead of cross-entropy
#
# Squared error between the probabilities and the one-hot label also falls as the model
# improves, so it seems a reasonable loss. But through the softmax its gradient vanishes
# exactly when the model is confidently wrong, the case that most needs correcting; the
# gradient of cross-entropy with respect to the scores is simply
# $\hat{\mathbf{y}} - \mathbf{y}$, large whenever the prediction is wrong. Here is one
# example of class 0 that the model places firmly in class 2:


# %%
def squared_loss(y_hat, y):
    return ((y_hat - nn.functional.one_hot(y, y_hat.shape[1])) ** 2).sum(1) / 2


scores = torch.tensor([[-4.0, 0.0, 4.0]])  # confident and wrong
label = torch.tensor([0])  # the true class
grads = {}
for loss in (cross_entropy, squared_loss):
    o = scores.clone().requires_grad_()
    l = loss(softmax(o), label).sum()
    l.backward()
    grads[loss.__name__] = o.grad[0]
    print(f"{loss.__name__:13}: loss {l:.4f}, gradient {o.grad[0]}")

# %% tags=["remove-cell"]
# claim: with gradients close to 1
ce_grad, sq_grad = grads["cross_entropy"], grads["squared_loss"]
assert ce_grad[0] < -0.9 and ce_grad[2] > 0.9, ce_grad
# claim: squared error barely moves them
assert sq_grad.abs().max() < 0.05, sq_grad

# %% [markdown]
# Cross-entropy pushes the true class's score up and class 2's down with gradients close to
# 1; squared error barely moves them. Over a whole epoch that means slower learning; the
# table measures the squared-error model with cross-entropy too, like every row:

# %% tags=["nbval-trained"]
one_epoch("squared error loss", loss=squared_loss)

# %% tags=["remove-cell"]
# claim: that means slower learning
sq = costs["squared error loss"]
assert sq[2] < costs["correct setup"][2] and sq[1] > costs["correct setup"][1]

# %% [markdown]
# ### What the mistakes cost
#
# Each variant's validation loss (the same cross-entropy for every row) before and after
# its epoch, and the validation accuracy it reaches:

# %% tags=["nbval-trained"]
for name, (start, end, acc) in costs.items():
    print(f"{name:22} loss {start:7.3f} -> {end:7.3f}   accuracy {acc:.4f}")

# %% tags=["remove-cell"]
# claim: the lowest loss and the highest accuracy
others = [v for k, v in costs.items() if k != "correct setup"]
assert all(costs["correct setup"][2] > acc for _, _, acc in others), costs
ends = [end for _, end, _ in others]
assert all(costs["correct setup"][1] < e or math.isnan(e) for e in ends)
# claim: more than five times the standard error
best = costs["correct setup"][2]
se_valid = math.sqrt(best * (1 - best) / len(y_valid))
assert all(best - acc > 5 * se_valid for _, _, acc in others), costs

# %% [markdown]
# The correct setup ends with the lowest loss and the highest accuracy: every mistake costs.
# Each gap in accuracy is more than five times the standard error of an accuracy on the
# 10,000 validation images, $\sqrt{p(1-p)/n}$, too large for the draw of the validation
# images to explain.

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
# - Settings are chosen on a validation set held out from the training data; the test set
#   measures the final model once.
# - Ten epochs of minibatch SGD bring the test accuracy above 0.82.
# - Cross-entropy is maximum likelihood; its gradient with respect to the scores is
#   $\hat{\mathbf{y}} - \mathbf{y}$, bounded, which is why a saturated start, not a large
#   loss, is what slows training. Scale the inputs (`float64` only hides raw pixels);
#   evaluate on the whole, ordered test set and count, don't average.
#
# ## Exercises
#
# ````{exercise}
# :label: ex-softmax-scratch-1
# Our `cross_entropy` computes `-log(softmax(o))`. Find a row of scores for which it returns
# `inf` although the loss is finite, and compute the right value with `torch.logsumexp`.
# ````
#
# ````{exercise}
# :label: ex-softmax-scratch-2
# Train one epoch with `one_epoch` and learning rates 0.01 and 1, and compare them on the
# validation set with the correct setup's 0.1. What goes wrong at each end? Is the failure
# at 1 the learning rate's fault, or the loss's?
# ````
#
# ````{exercise}
# :label: ex-softmax-scratch-3
# By the {ref}`derivation <softmax-scratch-derivation>`, the gradient of the summed loss with
# respect to $\mathbf{b}$ is the column sums of $\hat{\mathbf{Y}} - \mathbf{Y}$. What does it
# come to at the very start of training, when every $\hat{y}_j$ is close to 1/10? Check
# your answer with autograd on one batch.
# ````
#
# ````{exercise}
# :label: ex-softmax-scratch-4
# Which pairs of classes does the trained model confuse most often? Use
# `helpers.confusion_matrix(true_labels, predicted_labels)`.
# ````
#
# ````{exercise}
# :label: ex-softmax-scratch-5
# Each column of `W` holds the weights of one class. Reshape the columns to 28 × 28 and show
# the ten of them with `show_images`. What do they look like?
# ````
#
# ### Solutions
#
# ```{solution-start} ex-softmax-scratch-1
# :class: dropdown
# ```
# Scores far apart make the true class's probability underflow to 0 when its score lies far
# below the largest; the loss is then $\log \sum_k \exp(o_k) - o_y$, about the gap between
# the scores:

# %%
o = torch.tensor([[0.0, 200.0]])
label = torch.tensor([0])
print("cross_entropy:", cross_entropy(softmax(o), label))
print("logsumexp:    ", torch.logsumexp(o, dim=1) - o[range(1), label])

# %% [markdown]
# {ref}`chap-softmax-concise` makes this the job of `nn.CrossEntropyLoss`.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-softmax-scratch-2
# :class: dropdown
# ```

# %% tags=["nbval-trained"]
for rate in (0.01, 1.0):
    one_epoch(f"lr {rate}", lr=rate)

# %% tags=["remove-cell"]
slow, fast = costs["lr 0.01"], costs["lr 1.0"]
# claim: after one epoch the loss is still high
assert slow[1] > costs["correct setup"][1] and math.isfinite(slow[1]), slow
# claim: an infinite loss and `nan` weights
assert math.isnan(fast[1]), fast

# %% [markdown]
# With 0.01 every step is ten times smaller, so after one epoch the loss is still high: the
# model is merely slow. With 1 the steps are so large that the scores of some images soon
# lie far apart; a true class's probability underflows to 0, and our `cross_entropy` turns
# that into an infinite loss and `nan` weights. That is the loss's fault, not the learning
# rate's: with `stable_cross_entropy`, computed from the scores, the same learning rate
# stays finite. Here are both rates again with that loss, recording the loss of every batch:


# %%
def recording(log):
    """`stable_cross_entropy` that appends each batch's mean loss to `log`."""

    def loss(o, y):
        l = stable_cross_entropy(o, y)
        log.append(float(l.detach().mean()))
        return l

    return loss


batch_losses = {0.1: [], 1.0: []}

# %% tags=["nbval-ignore-output"]
for rate, log in batch_losses.items():
    name = f"lr {rate}, stable loss"
    one_epoch(name, loss=recording(log), lr=rate, on_scores=True)
for rate, log in batch_losses.items():
    print(
        f"lr {rate}, last ten batches:",
        " ".join(f"{v:.2f}" for v in log[-10:]),
    )

# %% tags=["remove-cell"]
# Every step at lr 1 overshoots, so float rounding that differs between
# machines (CPU kernels, thread counts) grows within the epoch: the lr 1
# numbers are not reproducible (validation loss 2.49 with one CPU kernel,
# 3.41 with another). The asserts hold for both.
assert all(len(v) == len(train_iter) for v in batch_losses.values())
steady, jumpy = batch_losses[0.1], batch_losses[1.0]
stable = costs["lr 1.0, stable loss"]
# claim: the same learning rate stays finite
assert all(math.isfinite(v) for v in jumpy) and math.isfinite(stable[1])
# claim: jump up and down instead of settling
spread = {r: max(v[-10:]) - min(v[-10:]) for r, v in batch_losses.items()}
assert spread[1.0] > 2 * spread[0.1], spread
# claim: a much higher validation loss than at 0.1
assert stable[1] > 2 * costs["correct setup"][1], costs
# claim: 0.1 gives the lowest validation loss
ends = [costs[k][1] for k in ("lr 0.01", "lr 1.0", "lr 1.0, stable loss")]
assert all(costs["correct setup"][1] < e or math.isnan(e) for e in ends)
# claim: its numbers agree, up to rounding
same_model = costs["lr 0.1, stable loss"], costs["correct setup"]
assert all(abs(a - b) < 2e-3 for a, b in zip(*same_model, strict=True))

# %% [markdown]
# At 0.1 the stable loss trains the same model as the correct setup (its numbers agree, up
# to rounding). At 1 it no longer diverges, it oscillates: the losses of successive batches
# jump up and down instead of settling, and the epoch ends with a much higher validation
# loss than at 0.1; where its accuracy ends depends on where the last steps happened to
# land. Of the three rates, 0.1 gives the lowest validation loss, which is why the chapter
# trains with it.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-softmax-scratch-3
# :class: dropdown
# ```
# With $\hat{y}_j = 1/10$, the column sum for class $j$ is $n/10 - n_j$, where $n_j$ counts
# the images of class $j$ in the batch. Gradient descent moves against the gradient, so the
# bias of a class that is frequent in the batch goes up, that of a rare one down. With
# $\mathbf{W} = 0$ every probability is exactly 1/10, and autograd gives exactly that:

# %%
W_start = torch.zeros(784, 10)
b_start = torch.zeros(10, requires_grad=True)
y_hat = softmax(X_batch.reshape(-1, 784) @ W_start + b_start)
cross_entropy(y_hat, y_batch).sum().backward()
guess = len(y_batch) / 10 - torch.bincount(y_batch, minlength=10)
print("autograd:     ", " ".join(f"{v:5.1f}" for v in b_start.grad))
print("n/10 - counts:", " ".join(f"{v:5.1f}" for v in guess))

# %% tags=["remove-cell"]
assert torch.allclose(b_start.grad, guess, atol=1e-4), b_start.grad - guess

# %% [markdown]
# With our small random start the probabilities are only close to 1/10, and over a batch
# their small deviations add up. The untrained model leans towards the same few classes
# for most images (the counts of predicted classes above, for the very same start), so
# at that start the gradient of $\mathbf{b}$ is off from $n/10 - n_j$ by several units:

# %%
scores, _ = fresh_model()  # the chapter's start: std 0.01, the same seed
with torch.no_grad():
    Y_hat = softmax(scores(X_batch))
grad_b = (Y_hat - nn.functional.one_hot(y_batch, 10)).sum(0)
print("random start: ", " ".join(f"{v:5.1f}" for v in grad_b))
print("n/10 - counts:", " ".join(f"{v:5.1f}" for v in guess))

# %% tags=["remove-cell"]
# claim: is off from
assert (grad_b - guess).abs().max() > 2, grad_b - guess
# claim: the same few classes
assert sorted(counts)[-2] + max(counts) > sum(counts) / 2, counts

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{solution-start} ex-softmax-scratch-4
# :class: dropdown
# ```

# %% tags=["nbval-ignore-output"]
with torch.no_grad():
    matrix = confusion_matrix(y_all, net(X_all).argmax(dim=1))
pairs = [
    (int(matrix[i, j]), i, j) for i in range(10) for j in range(10) if i != j
]
for count, i, j in sorted(pairs, reverse=True)[:4]:
    true, pred = get_fashion_mnist_labels([i, j])
    print(f"{count:4} {true:>10}s taken for {pred}s")

# %% tags=["remove-cell"]
# The confusions of the trained model differ slightly between machines.
assert int(matrix.sum()) == 10000 and sorted(pairs)[-1][0] > 50, pairs
labels = set(get_fashion_mnist_labels(range(10)))
assert true != pred and {true, pred} <= labels, (true, pred)

# %% [markdown]
# The four classes with the upper-body silhouette of {ref}`chap-dataset` (t-shirt,
# pullover, coat and shirt) account for this share of all the mistakes:

# %% tags=["nbval-trained"]
tops = torch.tensor([0, 2, 4, 6])
wrong = matrix.sum() - matrix.trace()
among_tops = matrix[tops][:, tops].sum() - matrix[tops, tops].sum()
print(f"{among_tops / wrong:.2f} of the mistakes are tops taken for tops")

# %% tags=["remove-cell"]
assert 0 < among_tops < wrong, (among_tops, wrong)

# %% [markdown]
# These are the pairs a linear model cannot separate well; {ref}`chap-keras-mlp` adds a
# hidden layer and looks at the confusions again.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-softmax-scratch-5
# :class: dropdown
# ```

# %%
weights = W.detach().T.reshape(10, 28, 28)
show_images(weights, 2, 5, titles=get_fashion_mnist_labels(range(10)))
plt.show()

# %% [markdown]
# Each looks like a blurred template of its class: large where images of the class have
# ink and images of other classes do not, small where the others have ink. The resemblance
# can be measured: the correlation of each weight image with its class's mean image minus
# the mean of all images (the mean images of {ref}`ex-dataset-3`):

# %%
_, _, X_u8, y_u8 = load_fashion_mnist_tensors()
X_f = X_u8.float().reshape(-1, 784) / 255
class_means = torch.stack([X_f[y_u8 == k].mean(0) for k in range(10)])
centred = class_means - X_f.mean(0)
corr = [
    float(
        torch.corrcoef(torch.stack([weights[k].flatten(), centred[k]]))[0, 1]
    )
    for k in range(10)
]
print("correlations:", " ".join(f"{c:.2f}" for c in corr))

# %% tags=["remove-cell"]
# claim: Each looks like a blurred template of its class
assert min(corr) > 0.4, corr

# %% [markdown]
# ```{solution-end}
# ```
#
# Next: {ref}`chap-softmax-concise` builds the same model with PyTorch's own layers, loss
# and optimizer.
