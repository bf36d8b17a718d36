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
    TensorLoader,
    confusion_matrix,
    get_fashion_mnist_labels,
    load_data_fashion_mnist,
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
    X = (
        X - X.max(dim=1, keepdim=True).values
    )  # the largest score of each row becomes 0
    X_exp = torch.exp(X)
    return X_exp / X_exp.sum(1, keepdim=True)


print(softmax(O))
print(
    torch.allclose(softmax(X), softmax_naive(X))
)  # same result where the naive one works

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
print("autograd: ", o.grad[0])
print("by hand:  ", by_hand[0])
print("largest difference:", float((o.grad - by_hand).abs().max()) < 1e-6)

# %% tags=["remove-cell"]
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


print(
    f"accuracy of the untrained model: {evaluate_accuracy(net, test_iter):.4f}"
)

# %% [markdown]
# With random weights the scores have nothing to do with the garments, so the model is
# guessing. Yet its accuracy is not the one in ten of a blind guess. A guess that ignored the
# image would be right one time in ten whatever classes it favoured, since the test set has
# 1,000 images of each. The untrained model does look at the image, only with random
# weights: similar images get similar scores, so whole groups of them land in the same
# class, right or wrong together. Counting the predicted classes shows how uneven that is:

# %%
with torch.no_grad():
    preds = torch.cat([net(X).argmax(dim=1) for X, _ in test_iter])
counts = torch.bincount(preds, minlength=10).tolist()
print("test images predicted as each class:", counts)

# %% [markdown]
# Which class a group lands in is decided by the draw of the weights, so the untrained
# accuracy is a matter of luck. Ten other draws of $\mathbf{W}$ spread it widely around 0.1:


# %%
def untrained_accuracy(seed):
    gen = torch.Generator().manual_seed(seed)
    W_random = torch.normal(0, 0.01, (784, 10), generator=gen)
    return evaluate_accuracy(
        lambda X: X.reshape(-1, 784) @ W_random, test_iter
    )


draws = [untrained_accuracy(seed) for seed in range(1, 11)]
print("untrained accuracies:", " ".join(f"{a:.3f}" for a in draws))
print(
    f"mean {sum(draws) / len(draws):.3f}, "
    f"min {min(draws):.3f}, max {max(draws):.3f}"
)

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
# `train_ch3` repeats that for a number of epochs, measures the test accuracy after each, and
# draws the three curves once training is over. d2l 0.x drew them live with its `Animator`;
# d2l 1.x dropped `train_ch3` altogether, which is why notes written for the older book stop
# working. This version returns the numbers as well, as a dictionary of lists.


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
# Now we train for 10 epochs with a learning rate of 0.1.

# %%
lr = 0.1


def updater(batch_size):
    return sgd([W, b], lr, batch_size)


num_epochs = 10
start = time.perf_counter()
history = train_ch3(
    net, train_iter, test_iter, cross_entropy, num_epochs, updater
)
training_time = time.perf_counter() - start
plt.show()

# %% [markdown]
# The training loss falls quickly in the first epochs and then slowly; the test accuracy
# follows the training accuracy closely, a sign that a model this small does not overfit.
# The final numbers:

# %%
# NBVAL_IGNORE_OUTPUT
# Ten epochs of SGD amplify tiny floating-point differences between
# machines; the hidden cell below asserts the outcome instead.
for name, values in history.items():
    print(f"{name:10} {values[-1]:.4f}")
print(f"training time: {training_time:.3f} s")

# %% tags=["remove-cell"]
assert history["test acc"][-1] >= 0.82, history
assert history["train loss"][-1] < history["train loss"][0], history
assert training_time > 0, training_time

# %% [markdown]
# For comparison, d2l reports a test accuracy of about 0.83 for this model. The
# Fashion-MNIST benchmark lists 0.842 for scikit-learn's `LogisticRegression`: also a
# linear classifier, but trained on standardized pixels (each pixel shifted and scaled to
# mean 0, variance 1) by a different solver, with a penalty on the size of the weights,
# and the best of twelve settings (L1 or L2 penalty, three penalty strengths, multinomial
# or one-vs-rest). So it shows what a tuned linear model can reach, not what our ten epochs
# of SGD should. `sgd`, `train_epoch_ch3` and `train_ch3` are saved in `helpers` too.
#
# ## Prediction
#
# Finally, the trained model labels test images. `predict_ch3` shows the first `n` images of
# the first batch it is given, titled with the true label above the predicted one.


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

# %%
# NBVAL_IGNORE_OUTPUT
# The number of mistakes after ten epochs of SGD differs between machines.
with torch.no_grad():
    X_all = torch.cat([X for X, _ in test_iter])
    y_all = torch.cat([y for _, y in test_iter])
    right = net(X_all).argmax(dim=1) == y_all
print(f"test images classified wrongly: {int((~right).sum()):,}")

# %% tags=["remove-cell"]
assert 1000 < int((~right).sum()) < 1800, int((~right).sum())

# %% [markdown]
# The first few test images may all be classified correctly, which would flatter the
# model. Instead we give `predict_ch3` one batch of the first four test images it gets right and
# the first four it gets wrong:

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
# from the same seed and on the same order of batches every time. It prints the loss at the
# start and keeps the loss and the test accuracy after the epoch for the table at the end
# of this section. Its arguments are the mistakes we will make.


# %%
def fresh_model(std=0.01, scale=1.0, lr=0.1, scores=False):
    """A new softmax regression: weights of `std`, inputs times `scale`."""
    torch.manual_seed(0)
    W = torch.normal(
        0, std, size=(num_inputs, num_outputs), requires_grad=True
    )
    b = torch.zeros(num_outputs, requires_grad=True)

    def model(X):
        o = (scale * X).reshape((-1, num_inputs)) @ W + b
        return o if scores else softmax(o)  # scores: leave softmax to the loss

    return model, lambda batch_size: sgd([W, b], lr, batch_size)


X_test, y_test = next(iter(test_iter))  # one test batch, to look at the start
costs = {}  # what each variant reaches after one epoch


def one_epoch(name, loss=cross_entropy, **kwargs):
    model, model_updater = fresh_model(**kwargs)
    with torch.no_grad():
        start = loss(model(X_test), y_test).mean()
    # the same order of training batches for every variant
    torch.manual_seed(1)
    train_loss, _ = train_epoch_ch3(model, train_iter, loss, model_updater)
    acc = evaluate_accuracy(model, test_iter)
    costs[name] = (float(start), train_loss, acc)
    print(f"{name}: loss on a test batch before training {start:.3f}")


# %%
one_epoch("correct setup")

# %% tags=["remove-cell"]
assert costs["correct setup"][2] > 0.75, costs

# %% [markdown]
# ### Feeding raw pixels, 0 to 255
#
# Forget the division by 255 (for example by reading the `uint8` data directly) and every
# score is 255 times larger. The softmax saturates: the true class of some images gets a
# probability that underflows to exactly 0, its loss is $-\log 0 = \infty$, the gradient of
# that is `nan`, and one SGD step spreads the `nan` into every weight. A model whose scores
# are all `nan` predicts class 0 for every image, hence an accuracy of exactly one in ten.
#
# Older notes met a diverging loss here and shrank the learning rate to $10^{-6}$ (they
# report a loss of 2.7 after five epochs). With our `cross_entropy` that cannot help: the
# loss of the very first batch is already infinite, before any step is taken.

# %%
one_epoch("raw pixels, lr 1e-6", scale=255.0, lr=1e-6)

# %% tags=["remove-cell"]
assert math.isinf(costs["raw pixels, lr 1e-6"][0]), costs
assert math.isnan(costs["raw pixels, lr 1e-6"][1]), costs
assert costs["raw pixels, lr 1e-6"][2] == 0.1, costs

# %% [markdown]
# The notes' framework computed the loss from the scores with the log-sum-exp trick,
# $\log \sum_k \exp(o_k) - o_y$, which never takes the log of an underflowed 0
# ({ref}`chap-softmax-concise` does the same). With that loss, lr $10^{-6}$ gives finite
# numbers, and the {ref}`gradient <softmax-scratch-derivation>` shows why it only half
# works. The gradient of $\mathbf{W}$, $\mathbf{X}^\top(\hat{\mathbf{Y}} - \mathbf{Y})$, is
# 255 times larger, and a change of $\mathbf{W}$ moves the scores 255 times more: a step on
# $\mathbf{W}$ acts like $255^2 \approx 65{,}000$ times the learning rate, so $10^{-6}$ is
# about right for it. But the bias sees unscaled gradients, so it barely moves, and the
# start is still saturated, far from the honest $\log 10$:


# %%
def stable_cross_entropy(o, y):
    return torch.logsumexp(o, dim=1) - o[range(len(o)), y]


# %%
one_epoch(
    "raw, lr 1e-6, stable",
    loss=stable_cross_entropy,
    scale=255.0,
    lr=1e-6,
    scores=True,
)

# %% tags=["remove-cell"]
raw = costs["raw, lr 1e-6, stable"]
assert math.isfinite(raw[1]) and raw[0] > costs["correct setup"][0], costs
assert raw[1] > costs["correct setup"][1], costs

# %% [markdown]
# Scale the inputs, don't shrink the learning rate: the table below compares both with the
# scaled model, which starts at about $\log 10$.
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
    model, _ = fresh_model(std=std)
    with torch.no_grad():
        y_hat = model(X_test)
    grad = (y_hat - nn.functional.one_hot(y_test, 10)).abs()
    print(
        f"std {std:4}: loss {cross_entropy(y_hat, y_test).mean():.3f}, "
        f"top probability {y_hat.max(dim=1).values.mean():.3f}, "
        f"classes with gradient > 0.01: "
        f"{(grad > 0.01).sum(1).float().mean():.1f}"
    )


print(
    f"uniform guess: loss log(10) = {math.log(10):.3f}, top probability 0.100"
)
for std in (0.01, 1.0):
    saturation(std)

# %% [markdown]
# The model has to walk its scores back from that start, a bounded step at a time, before
# it can learn much; the table below shows where it stands after one epoch.

# %%
one_epoch("weights with std 1", std=1.0)

# %% tags=["remove-cell"]
assert costs["weights with std 1"][2] < costs["correct setup"][2], costs

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

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies of the trained model differ slightly between machines.
for X, y in test_iter:  # noqa: B007 - the mistake: keep only the last batch
    pass
with torch.no_grad():
    last_acc = accuracy(net(X), y) / len(y)
full_acc = evaluate_accuracy(net, test_iter)
print(f"last batch: {len(y)} images, accuracy {last_acc:.4f}")
print(f"all {sum(seen_right):,} test images: accuracy {full_acc:.4f}")

# %% tags=["remove-cell"]
assert len(y) == 16 and 0 <= last_acc <= 1 and full_acc > 0.8, (
    len(y),
    full_acc,
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

# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies of the trained model differ slightly between machines.
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
assert abs(evaluate_accuracy(net, shuffled_iter) - full_acc) < 1e-9
assert all(0 <= a <= 1 for a in last), last
assert abs(evaluate_accuracy(net, test_iter) - full_acc) < 1e-9

# %% [markdown]
# A shuffled test loader costs a random permutation per pass and buys nothing: a test
# loader is never shuffled.
#
# ### Averaging per-batch accuracies
#
# Averaging the accuracy of each batch weighs the last batch of 16 images as much as a full
# one of 256. That is why `accuracy` returns a count, and `evaluate_accuracy` divides the
# total count by the total number of images. The error of the average grows with the last
# batch's share of the test set:


# %%
def mean_of_batch_accuracies(net, data_iter):
    with torch.no_grad():
        accs = [accuracy(net(X), y) / len(y) for X, y in data_iter]
    return sum(accs) / len(accs)


# %%
# NBVAL_IGNORE_OUTPUT
# The accuracies of the trained model differ slightly between machines.
errors = {}
for size in (256, 3000, 9000):
    _, sized_iter = load_data_fashion_mnist(size)
    errors[size] = mean_of_batch_accuracies(net, sized_iter) - full_acc
    print(
        f"batches of {size:4}, last {10000 % size:4}: "
        f"error {errors[size]:+.4f}"
    )

# %% tags=["remove-cell"]
assert all(abs(e) < 0.1 for e in errors.values()), errors

# %% [markdown]
# With batches of 256 the error is small but not zero; it is zero only if the last batch
# happens to be exactly as accurate as the rest. With batches of 9,000 the 1,000 images of
# the last batch count as much as the 9,000 of the first, and the error grows.
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


scores = torch.tensor(
    [[-4.0, 0.0, 4.0]]
)  # confident and wrong: the class is 0
label = torch.tensor([0])
for loss in (cross_entropy, squared_loss):
    o = scores.clone().requires_grad_()
    l = loss(softmax(o), label).sum()
    l.backward()
    print(f"{loss.__name__:13}: loss {l:.4f}, gradient {o.grad[0]}")

# %% [markdown]
# Cross-entropy pushes the true class's score up and class 2's down with gradients close to
# 1; squared error barely moves them. Over a whole epoch that means slower learning (see
# the table):

# %%
one_epoch("squared error loss", loss=squared_loss)

# %% tags=["remove-cell"]
assert costs["squared error loss"][2] < costs["correct setup"][2], costs

# %% [markdown]
# ### What the mistakes cost
#
# The loss before and after one epoch of each variant, and the test accuracy it reaches:

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies after an epoch of SGD differ slightly between machines.
for name, (start, end, acc) in costs.items():
    print(
        f"{name:22} loss {start:7.3f} -> {end:7.3f}   test accuracy {acc:.4f}"
    )

# %% tags=["remove-cell"]
best = max(acc for start, end, acc in costs.values())
assert costs["correct setup"][2] == best, costs
assert all(0 <= acc <= 1 for start, end, acc in costs.values()), costs

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
# - Cross-entropy is maximum likelihood; its gradient with respect to the scores is
#   $\hat{\mathbf{y}} - \mathbf{y}$, bounded, which is why a saturated start, not a large
#   loss, is what slows training. Scale the inputs; evaluate on the whole, ordered test set
#   and count, don't average.
#
# ## Exercises
#
# ````{exercise}
# :label: ex-softmax-scratch-1
# Our `cross_entropy` computes `log(softmax(o))`. Find a row of scores for which it returns
# `inf` although the loss is finite, and compute the right value with `torch.logsumexp`.
# ````
#
# ````{exercise}
# :label: ex-softmax-scratch-2
# Train one epoch with `one_epoch` and learning rates 0.01 and 1, and compare them with the
# correct setup's 0.1. What goes wrong at each end?
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
# Scores far apart make the true class's probability underflow to 0 when its score is the
# lowest; the loss is then $\log \sum_k \exp(o_k) - o_y$, about the gap between the scores:

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

# %%
for rate in (0.01, 1.0):
    one_epoch(f"lr {rate}", lr=rate)

# %% tags=["remove-cell"]
assert costs["lr 0.01"][1] > costs["correct setup"][1], costs
assert all(0.1 <= costs[f"lr {r}"][2] <= 1 for r in (0.01, 1.0)), costs

# %%
# NBVAL_IGNORE_OUTPUT
# Losses and accuracies after an epoch of SGD differ slightly between machines.
for name in ("correct setup", "lr 0.01", "lr 1.0"):
    start, end, acc = costs[name]
    print(f"{name:14} loss {start:.3f} -> {end:.3f}, test accuracy {acc:.4f}")

# %% tags=["remove-cell"]
for name in ("correct setup", "lr 0.01", "lr 1.0"):
    start, end, acc = costs[name]
    assert math.isfinite(start) and 0.1 <= acc <= 1, (name, costs[name])
    assert end >= costs["correct setup"][1] or math.isnan(end), (name, end)

# %% [markdown]
# With 0.01 every step is ten times smaller, so after one epoch the loss is still high: the
# model is merely slow. With 1 the steps are so large that
# the scores of some images soon lie far apart; a true class's probability underflows to 0,
# and our `cross_entropy` turns that into an infinite loss and `nan` weights: the failure
# of raw pixels, by another road.
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
y_hat = softmax(X_test.reshape(-1, 784) @ W_start + b_start)
cross_entropy(y_hat, y_test).sum().backward()
guess = len(y_test) / 10 - torch.bincount(y_test, minlength=10)
print("autograd:      ", b_start.grad.round(decimals=1))
print("n/10 - counts: ", guess)

# %% tags=["remove-cell"]
assert torch.allclose(b_start.grad, guess, atol=1e-4), b_start.grad - guess

# %% [markdown]
# With our small random start the probabilities are only close to 1/10, so the gradient is
# close to these counts but not equal to them.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-softmax-scratch-4
# :class: dropdown
# ```

# %%
# NBVAL_IGNORE_OUTPUT
# The confusions of the trained model differ slightly between machines.
with torch.no_grad():
    matrix = confusion_matrix(y_all, net(X_all).argmax(dim=1))
pairs = [
    (int(matrix[i, j]), i, j) for i in range(10) for j in range(10) if i != j
]
for count, i, j in sorted(pairs, reverse=True)[:4]:
    true, pred = get_fashion_mnist_labels([i, j])
    print(f"{count:4} {true:>10}s taken for {pred}s")

# %% tags=["remove-cell"]
assert int(matrix.sum()) == 10000 and sorted(pairs)[-1][0] > 50, pairs
labels = set(get_fashion_mnist_labels(range(10)))
assert true != pred and {true, pred} <= labels, (true, pred)

# %% [markdown]
# The four classes with the upper-body silhouette of {ref}`chap-dataset` (t-shirt,
# pullover, coat and shirt) account for this share of all the mistakes:

# %%
# NBVAL_IGNORE_OUTPUT
# The confusions of the trained model differ slightly between machines.
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
centred = torch.stack([X_f[y_u8 == k].mean(0) for k in range(10)]) - X_f.mean(
    0
)
corr = [
    float(
        torch.corrcoef(torch.stack([weights[k].flatten(), centred[k]]))[0, 1]
    )
    for k in range(10)
]
print("correlations:", " ".join(f"{c:.2f}" for c in corr))

# %% tags=["remove-cell"]
assert min(corr) > 0, corr

# %% [markdown]
# ```{solution-end}
# ```
#
# Next: {ref}`chap-softmax-concise` builds the same model with PyTorch's own layers, loss
# and optimizer.
