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
# (chap-softmax-concise)=
# # The concise implementation of softmax regression
#
# In {ref}`chap-softmax-scratch` we wrote every piece of softmax regression by hand. PyTorch
# has each piece ready-made: layers in `torch.nn`, a loss that takes care of numerical
# stability, and optimizers in `torch.optim`. Using them means less code and fewer places
# for bugs, and the same pieces scale up to the deeper networks of the next chapters. This
# chapter rebuilds the same model with them, trains it with the same `train_ch3`, and
# checks, side by side with the scratch version, that nothing was lost on the way.

# %%
import math
import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from helpers import (
    evaluate_accuracy,
    load_data_fashion_mnist,
    load_data_fashion_mnist_valid,
    sgd,
    train_ch3,
    train_epoch_ch3,
)

# %% tags=["remove-cell"]
# %config InlineBackend.figure_formats = ["retina"]
_ = torch.manual_seed(0)

# %% [markdown]
# The data comes from the same loader, in minibatches of 256.

# %%
batch_size = 256
train_iter, test_iter = load_data_fashion_mnist(batch_size)

# %% [markdown]
# ## The model
#
# `nn.Flatten()` turns each `[1, 28, 28]` image into a vector of 784 values, and
# `nn.Linear(784, 10)` is the weight matrix and the bias of softmax regression. There is no
# softmax layer: the network outputs the raw scores, called *logits*, and the loss below
# applies the softmax itself. `nn.Sequential` chains the two layers.

# %%
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
print(net)

# %% [markdown]
# `nn.Linear` initializes its parameters with its own scheme (weights and biases uniform,
# scaled by the number of inputs; {ref}`ex-softmax-concise-2` looks at it). To start as
# chapter 2 started, we draw the weights from a normal distribution with standard deviation
# 0.01 and set the biases to zero. `net.apply(fn)` calls `fn` on every layer of the network,
# so `init_weights` checks the type of layer it gets.


# %%
def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.01)
        nn.init.zeros_(m.bias)


net.apply(init_weights)
for name, param in net.named_parameters():
    print(f"{name:9} {str(param.shape):22} std {param.std():.4f}")
print("parameters:", sum(p.numel() for p in net.parameters()))

# %% tags=["remove-cell"]
# claim: The number of parameters is the same
assert sum(p.numel() for p in net.parameters()) == 784 * 10 + 10
assert net[1].weight.shape == (10, 784), net[1].weight.shape

# %% [markdown]
# Note the shape of the weight: PyTorch stores it as `[outputs, inputs]`, 10 × 784, and
# computes $\mathbf{X}\mathbf{W}^\top + \mathbf{b}$; our `W` of chapter 2 was the transpose.
# The number of parameters is the same, 784 × 10 weights and 10 biases.
#
# ## Softmax and cross-entropy in one step
#
# In chapter 2 the loss took the logarithm of a probability computed by softmax. Even with
# the stable softmax, a probability can underflow to exactly 0, and then $-\log 0 = \infty$.
# `nn.CrossEntropyLoss` avoids that by never computing the probability. It takes the logits
# $\mathbf{o}$ and uses
#
# $$-\log \mathrm{softmax}(\mathbf{o})_y = -\log \frac{\exp(o_y)}{\sum_k \exp(o_k)}
# = \log \sum_k \exp(o_k) - o_y,$$
#
# where the first term is computed with the log-sum-exp trick (subtracting the largest
# logit), so that no exponential can overflow and no logarithm sees 0. This fusion of
# log-softmax and the loss is why the network has no softmax layer (Keras code with a
# softmax output layer, or `from_logits=True`, is mapped to this in {ref}`coming-from-tf1`).
# Here is an example of class 0 scored very low, first through chapter 2's two steps, then
# through the fused loss:

# %%
logits = torch.tensor([[0.0, 50.0, 200.0]])
label = torch.tensor([0])
shifted = logits - logits.max(dim=1, keepdim=True).values
exps = torch.exp(shifted)
probs = exps / exps.sum(1, keepdim=True)  # chapter 2's softmax
print("probabilities:", probs)
print("two steps, -log(softmax):", -torch.log(probs[range(1), label]))
print(
    "fused, CrossEntropyLoss: ",
    nn.CrossEntropyLoss(reduction="none")(logits, label),
)
print(
    "logsumexp(o) - o_y:      ",
    torch.logsumexp(logits, dim=1) - logits[range(1), label],
)

# %% tags=["remove-cell"]
# claim: a probability can underflow to exactly 0
assert probs[0, 0] == 0 and torch.isinf(-torch.log(probs[0, 0])), probs
fused = nn.CrossEntropyLoss()(logits, label)
assert torch.isfinite(fused) and abs(fused.item() - 200.0) < 1e-3, fused

# %% [markdown]
# d2l 0.x, which d2l-zh follows, creates the loss with `reduction="none"`, which returns one
# loss per example, like our `cross_entropy`; the default, `reduction="mean"`, returns their
# average as a single number. `train_ch3` works with both: with an optimizer it
# back-propagates the mean, and for its running totals it multiplies a mean by the batch
# size. We follow d2l.

# %%
loss = nn.CrossEntropyLoss(reduction="none")
X, y = next(iter(train_iter))
per_example = loss(net(X), y)
print("reduction='none':", per_example.shape)
print("reduction='mean':", nn.CrossEntropyLoss()(net(X), y).shape)
print(torch.allclose(per_example.mean(), nn.CrossEntropyLoss()(net(X), y)))

# %% [markdown]
# ## The optimizer
#
# `torch.optim.SGD` performs the update that our `sgd` did, for every parameter it is given:
# $\theta \leftarrow \theta - \eta \nabla_\theta \ell$ (TensorFlow 1.x's
# `GradientDescentOptimizer`; its `AdamOptimizer` is `torch.optim.Adam`, up to where
# $\epsilon$ enters, {ref}`coming-from-tf1`). Because it receives the gradient of the *mean*
# loss, it needs no division by the batch size, and the same learning rate of 0.1 gives the
# same steps as chapter 2's `sgd`, up to rounding (the side-by-side check below).

# %%
trainer = torch.optim.SGD(net.parameters(), lr=0.1)

# %% [markdown]
# ## Training
#
# `train_ch3` from {ref}`chap-softmax-scratch` (saved in `helpers`) needs no change: it
# calls `trainer.zero_grad()`, `backward()` and `trainer.step()` when the updater is a
# `torch.optim` optimizer. (d2l 1.x replaced `train_ch3` with a `Trainer` class; see
# {ref}`coming-from-d2l`.) We keep a copy of the starting weights and fix the order of the
# training batches for the comparison at the end of the chapter.

# %%
# The starting weights, for the comparison below.
W0 = net[1].weight.detach().clone()
num_epochs = 10
torch.manual_seed(1)  # the order of the training batches
start = time.perf_counter()
history = train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
time_concise = time.perf_counter() - start
plt.show()

# %% tags=["remove-cell"]
assert history["test acc"][-1] >= 0.82, history
assert history["train loss"][-1] < history["train loss"][0], history

# %% [markdown]
# The curves look like those of chapter 2, as they should: the model, the loss, the update
# and the way the starting weights are drawn are the same (the draw itself is a new one, so
# the starting point is not chapter 2's); only who wrote the code changed.
#
# ## Side by side with the scratch version
#
# To check that claim, we train chapter 2's scratch model again here, from the very same
# starting weights (`W0`, transposed into chapter 2's 784 × 10 layout) and on the training
# batches in the same order. The softmax and the loss are chapter 2's; `sgd` comes from
# `helpers`.


# %%
def softmax(O):
    O_exp = torch.exp(O - O.max(dim=1, keepdim=True).values)
    return O_exp / O_exp.sum(1, keepdim=True)


def cross_entropy(y_hat, y):
    return -torch.log(y_hat[range(len(y_hat)), y])


W = W0.T.clone().requires_grad_()
b = torch.zeros(10, requires_grad=True)


def net_scratch(X):
    return softmax(X.reshape((-1, 784)) @ W + b)


def updater(batch_size):
    return sgd([W, b], 0.1, batch_size)


torch.manual_seed(1)  # the same order of the training batches
start = time.perf_counter()
history_scratch = train_ch3(
    net_scratch,
    train_iter,
    test_iter,
    cross_entropy,
    num_epochs,
    updater,
    plot=False,
)
time_scratch = time.perf_counter() - start

# %% [markdown]
# The two models end with the same parameters, up to floating-point rounding: a strong check
# that the concise code computes what we derived by hand.

# %%
gap = (net[1].weight.detach() - W.detach().T).abs().max()
print(
    "largest difference between the trained weights below 1e-4:",
    bool(gap < 1e-4),
)

# %% tags=["remove-cell"]
# claim: end with the same parameters, up to floating-point rounding
# claim: gives the same steps as chapter 2's `sgd`, up to rounding
assert gap < 1e-4, gap
assert (net[1].bias.detach() - b.detach()).abs().max() < 1e-4
# claim: The curves look like those of chapter 2
for key in history:
    curves = zip(history[key], history_scratch[key], strict=True)
    assert max(abs(c - s) for c, s in curves) < 1e-3, key

# %% [markdown]
# Their results after ten epochs, the training loss and the accuracy of each final model on
# the test set:

# %% tags=["nbval-trained"]
rows = [
    ("from scratch", W.numel() + b.numel(), history_scratch),
    ("concise", sum(p.numel() for p in net.parameters()), history),
]
print(f"{'implementation':15} {'parameters':>10} {'train loss':>10} test acc")
for name, n_params, hist in rows:
    print(
        f"{name:15} {n_params:>10,} {hist['train loss'][-1]:>10.4f} "
        f"{hist['test acc'][-1]:>8.4f}"
    )

# %% tags=["remove-cell"]
params = [n_params for _, n_params, _ in rows]
accs = [hist["test acc"][-1] for _, _, hist in rows]
# claim: The parameter counts agree, the accuracies agree
assert params == [7850, 7850], params
assert abs(accs[0] - accs[1]) < 1e-3, accs
# claim: Both reach the test accuracy we asked of chapter 2
assert all(a >= 0.82 for a in accs), accs
assert all(h["train loss"][-1] < 0.5 for _, _, h in rows), rows

# %% [markdown]
# And the time each took to train, one run each on the machine that built this page:

# %%
print(f"training time, from scratch: {time_scratch:.3f} s")
print(f"training time, concise:      {time_concise:.3f} s")

# %% tags=["remove-cell"]
# claim: the times are of the same order
# One run each on a machine that may be busy: "the same order" means within
# a factor of 10, a ratio that load alone does not produce.
assert 0.1 < time_concise / time_scratch < 10, (time_concise, time_scratch)

# %% [markdown]
# The parameter counts agree, the accuracies agree, and the times are of the same order:
# both versions do the same matrix product on the same batches, so the concise version saves
# code, not computation. Both reach the test accuracy we asked of chapter 2.
#
# ## Summary
#
# - `nn.Sequential(nn.Flatten(), nn.Linear(784, 10))` is softmax regression without the
#   softmax: the network outputs logits.
# - `nn.CrossEntropyLoss` fuses log-softmax and the negative log-likelihood, computing
#   $\log\sum_k \exp(o_k) - o_y$ with the log-sum-exp trick, so it stays finite where
#   softmax underflows to 0 and `-log` of it gives `inf`.
# - `torch.optim.SGD` replaces our `sgd`; `train_ch3` accepts either.
# - From the same starting weights and batches, the concise and the scratch implementations
#   end with the same parameters, up to rounding.
#
# ## Exercises
#
# Exercises 2–4 compare settings. Compare them on a validation set, 10,000 of the training
# images held out by `load_data_fashion_mnist_valid`, and keep the test set for a final
# model ({ref}`chap-softmax-scratch` explains why).
#
# ````{exercise}
# :label: ex-softmax-concise-1
# Replace `reduction="none"` with the default `reduction="mean"`. Does anything change in
# training? Why must the learning rate not change?
# ````
#
# ````{exercise}
# :label: ex-softmax-concise-2
# Remove `net.apply(init_weights)` and train one epoch with PyTorch's default
# initialization. How does the validation accuracy compare with one epoch from our start?
# What does the default draw for the weights, and for the biases?
# ````
#
# ````{exercise}
# :label: ex-softmax-concise-3
# Add `nn.Softmax(dim=1)` as a third layer and keep `nn.CrossEntropyLoss`. The code still
# runs. What does the loss now compute, what is the smallest value it can reach, and what
# happens to the accuracy?
# ````
#
# ````{exercise}
# :label: ex-softmax-concise-4
# Try `torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)`. Does it reach 0.82
# validation accuracy in fewer epochs than plain SGD?
# ````
#
# ````{exercise}
# :label: ex-softmax-concise-5
# Compute the loss of the example above with `nn.functional.log_softmax` and
# `nn.functional.nll_loss`, and check it against `nn.CrossEntropyLoss`.
# ````
#
# ### Solutions
#
# ```{solution-start} ex-softmax-concise-1
# :class: dropdown
# ```
# Nothing changes. With an optimizer, `train_ch3` back-propagates `l.mean()`, and the mean
# of a single number is that number, so both losses give the optimizer the gradient of the
# mean loss. One step from the same weights on the same batch shows it:


# %%
def one_step(reduction):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batch = [next(iter(train_iter))]
    train_epoch_ch3(
        model, batch, nn.CrossEntropyLoss(reduction=reduction), optimizer
    )
    return model[1].weight.detach()


step_gap = (one_step("none") - one_step("mean")).abs().max()
print("same weights, up to rounding:", bool(step_gap < 1e-7))

# %% tags=["remove-cell"]
# claim: Nothing changes
assert step_gap < 1e-7, step_gap

# %% [markdown]
# The learning rate multiplies the gradient of the *mean* loss; with a summed loss it would
# have to be divided by the batch size, which is what chapter 2's `sgd` does by hand.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-softmax-concise-2
# :class: dropdown
# ```
# The solutions of exercises 2–4 train on the other 50,000 training images and measure the
# accuracy on the validation set:

# %%
train_part, valid_iter = load_data_fashion_mnist_valid(batch_size)
print(f"training:   {len(train_part.labels):,} images")
print(f"validation: {len(valid_iter.labels):,} images")

# %% tags=["remove-cell"]
# claim: train on the other 50,000 training images
assert len(train_part.labels) == 50_000 and len(valid_iter.labels) == 10_000


# %% [markdown]
# `softmax_regression` builds the model, from our start or from PyTorch's default, and
# `valid_accs` trains it and returns the validation accuracy after each epoch. The batches
# come in an order fixed by `order`, the same for every model.


# %%
def softmax_regression(ours=True):
    torch.manual_seed(0)  # the same draw of the weights every time
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    if ours:
        model.apply(init_weights)
    return model


def valid_accs(model, num_epochs=1, order=1, lr=0.1, **optimizer_args):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, **optimizer_args)
    torch.manual_seed(order)  # the order of the training batches
    accs = []
    for _ in range(num_epochs):
        train_epoch_ch3(model, train_part, loss, optimizer)
        accs.append(evaluate_accuracy(model, valid_iter))
    return accs


# %% tags=["nbval-trained"]
ours_acc = valid_accs(softmax_regression())[0]
default_acc = valid_accs(softmax_regression(ours=False))[0]
se = math.sqrt(ours_acc * (1 - ours_acc) / len(valid_iter.labels))
print(f"our start, one epoch:         {ours_acc:.4f}")
print(f"PyTorch's default, one epoch: {default_acc:.4f}")
print(f"standard error of each:       {se:.4f}")

# %% [markdown]
# What the default draws, against the bound $1/\sqrt{784}$:

# %%
default = softmax_regression(ours=False)[1]
print(f"1/sqrt(784):            {1 / math.sqrt(784):.4f}")
print(f"largest |weight| drawn: {default.weight.abs().max():.4f}")
print(f"largest |bias| drawn:   {default.bias.abs().max():.4f}")

# %% tags=["remove-cell"]
# claim: About the same
assert abs(ours_acc - default_acc) < 2 * se, (ours_acc, default_acc, se)
# claim: draws the weights and the biases uniformly from
bound = 1 / math.sqrt(784)
assert 0.9 * bound < default.weight.abs().max() <= bound, default.weight
assert 0.5 * bound < default.bias.abs().max() <= bound, default.bias
# claim: small enough that no softmax saturates
X_valid, _ = next(iter(valid_iter))
with torch.no_grad():
    for ours in (True, False):
        start_probs = torch.softmax(softmax_regression(ours)(X_valid), dim=1)
        assert start_probs.max() < 0.5, (ours, start_probs.max())

# %% [markdown]
# About the same: the two accuracies differ by less than two standard errors
# ($\sqrt{p(1-p)/10{,}000}$, printed), and by much less than the order of the batches alone
# moves the accuracy after one epoch ({ref}`ex-softmax-concise-4`). PyTorch's default draws
# the weights and the biases uniformly from $\pm 1/\sqrt{784} \approx \pm 0.036$ (the
# bound is $1/\sqrt{\text{inputs}}$ for both), so its biases do not start at zero. Either
# start is small enough that no softmax saturates, and the loss of softmax regression is
# convex (every local minimum is a global one), so from either start SGD heads for the same
# lowest loss.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-softmax-concise-3
# :class: dropdown
# ```
# The loss now applies softmax to probabilities: $-\log \mathrm{softmax}(\hat{\mathbf{y}})_y$.
# Its inputs lie in [0, 1], so even a perfect prediction, a one-hot $\hat{\mathbf{y}}$,
# leaves a loss of $\log(e + 9) - 1$, and the gradient keeps pushing towards a target it
# cannot reach while shrinking (the softmax of the third layer saturates):

# %%
print(f"smallest possible loss: {math.log(math.e + 9) - 1:.4f}")
perfect = nn.functional.one_hot(torch.tensor([3]), 10).float()
print(
    "loss of a perfect prediction: "
    f"{loss(perfect, torch.tensor([3])).item():.4f}"
)

# %% tags=["nbval-trained"]
torch.manual_seed(0)
double = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Softmax(dim=1))
double.apply(init_weights)
double_acc = valid_accs(double)[0]
print(f"with a softmax layer, one epoch: {double_acc:.4f}")
print(f"without (exercise 2):            {ours_acc:.4f}")

# %% tags=["remove-cell"]
# claim: It learns, but more slowly
assert 0.3 < double_acc < ours_acc - 0.05, (double_acc, ours_acc)
# claim: a gap of many standard errors
assert ours_acc - double_acc > 5 * se, (double_acc, ours_acc, se)

# %% [markdown]
# It learns, but more slowly: a gap of many standard errors. This is the trap of porting
# Keras code that ends with `Dense(10, activation="softmax")`; see {ref}`coming-from-tf1`.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-softmax-concise-4
# :class: dropdown
# ```
# The accuracy after one epoch depends on the order of the batches, so we train one epoch
# from our start with five orders, with momentum and without (order 1 is the run of
# {ref}`ex-softmax-concise-2`), then plain SGD for five epochs:

# %% tags=["nbval-trained"]
orders = range(1, 6)
momentum_accs = [
    valid_accs(softmax_regression(), order=o, momentum=0.9)[0] for o in orders
]
plain_accs = [ours_acc]  # order 1
plain_accs += [
    valid_accs(softmax_regression(), order=o)[0] for o in orders[1:]
]
plain_curve = valid_accs(softmax_regression(), num_epochs=5)
print(f"{'one epoch, batch orders 1 to 5:':51}mean")
for name, accs in [("momentum 0.9", momentum_accs), ("plain SGD", plain_accs)]:
    row = " ".join(f"{a:.4f}" for a in accs)
    print(f"  {name:12} {row}  {sum(accs) / len(accs):.4f}")
print("plain SGD, order 1, epochs 1 to 5:")
print("  " + " ".join(f"{a:.4f}" for a in plain_curve))

# %% tags=["remove-cell"]
assert plain_curve[0] == ours_acc, (plain_curve, ours_acc)  # reproducible
# claim: averages at least 0.82 over the five orders
assert sum(momentum_accs) / len(momentum_accs) >= 0.82, momentum_accs
# claim: four of the five are at or above 0.82
assert sum(a >= 0.82 for a in momentum_accs) == 4, momentum_accs
assert min(momentum_accs) > 0.8, momentum_accs
# claim: below 0.8 after one epoch in every order, and still below 0.82
assert max(plain_accs) < 0.8 and max(plain_curve[:3]) < 0.82, plain_curve
# claim: much less than the order of the batches alone
spread = max(plain_accs) - min(plain_accs)
assert spread > 3 * abs(ours_acc - default_acc), (plain_accs, default_acc)

# %% [markdown]
# Yes. After one epoch, momentum's validation accuracy averages at least 0.82 over the five
# orders (four of the five are at or above 0.82, and one falls a little short), while plain
# SGD from the same start is below 0.8 after one epoch in every order, and still below 0.82
# after three epochs.
#
# Momentum adds a fraction of the previous step to each step, which acts like a larger
# learning rate along directions the gradient keeps pointing in: here, an effective rate of
# about $0.1 / (1 - 0.9) = 1$. A rate of 1 is where the scratch training of
# {ref}`ex-softmax-scratch-2` ended in `nan`. The large steps spread the scores apart, but
# the `nan` came from chapter 2's `cross_entropy`, which took `-log` of a probability that
# had underflowed to 0. `nn.CrossEntropyLoss` never computes that probability, and plain SGD
# with a learning rate of 1 stays finite with it:

# %% tags=["nbval-ignore-output"]
big_steps = softmax_regression()
lr1_acc = valid_accs(big_steps, lr=1.0)[0]
finite = all(bool(p.isfinite().all()) for p in big_steps.parameters())
print(f"plain SGD, lr 1, one epoch: {lr1_acc:.4f}, weights finite: {finite}")

# %% tags=["remove-cell"]
# At lr 1 the run is chaotic: its accuracy differs between CPU kernels
# (AVX2 or not), so the output is ignored and only what the prose says is
# asserted.
# claim: stays finite with it
assert finite and 0.5 < lr1_acc <= 1, lr1_acc

# %% [markdown]
# So the `nan` was the naive loss's doing, not the step's. What momentum adds to a large rate is
# an average: each step follows the gradients of the last ten or so batches, not only the
# newest one.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-softmax-concise-5
# :class: dropdown
# ```

# %%
log_probs = nn.functional.log_softmax(logits, dim=1)
print("log_softmax + nll_loss:", nn.functional.nll_loss(log_probs, label))
print("CrossEntropyLoss:      ", nn.CrossEntropyLoss()(logits, label))

# %% tags=["remove-cell"]
# claim: The same number
two_steps = nn.functional.nll_loss(log_probs, label)
assert torch.allclose(two_steps, nn.CrossEntropyLoss()(logits, label))

# %% [markdown]
# The same number: `nn.CrossEntropyLoss` is exactly these two functions in one.
# ```{solution-end}
# ```
#
# Next: {ref}`chap-keras-mlp` adds a hidden layer, and a Keras-style way to train it.
