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
# `nn.Linear` initializes its parameters with its own scheme (uniform, scaled by the number
# of inputs). To start where chapter 2 started, we draw the weights from a normal
# distribution with standard deviation 0.01 and set the biases to zero. `net.apply(fn)` calls
# `fn` on every layer of the network, so `init_weights` checks the type of layer it gets.


# %%
def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, std=0.01)
        nn.init.zeros_(m.bias)


net.apply(init_weights)
for name, param in net.named_parameters():
    print(f"{name:9} {str(param.shape):22} std {param.std():.4f}")
print("parameters:", sum(p.numel() for p in net.parameters()))

# %% [markdown]
# Note the shape of the weight: PyTorch stores it as `[outputs, inputs]`, 10 × 784, and
# computes $\mathbf{X}\mathbf{W}^\top + \mathbf{b}$; our `W` of chapter 2 was the transpose.
# The number of parameters is the same.
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
probs = torch.exp(shifted) / torch.exp(shifted).sum(
    1, keepdim=True
)  # chapter 2's softmax
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

# %% [markdown]
# d2l creates the loss with `reduction="none"`, which returns one loss per example, like our
# `cross_entropy`; the default, `reduction="mean"`, returns their average as a single number.
# `train_ch3` works with both: with an optimizer it back-propagates the mean, and for its
# running totals it multiplies a mean by the batch size. We follow d2l.

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
# `GradientDescentOptimizer`; its `AdamOptimizer` is `torch.optim.Adam`). Because it
# receives the gradient of
# the *mean* loss, it needs no division by the batch size, and the same learning rate of 0.1
# gives exactly the same steps as in chapter 2.

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
W0 = (
    net[1].weight.detach().clone()
)  # the starting weights, for the comparison below
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
# The curves look like those of chapter 2, as they should: the model, the starting point, the
# loss and the update are the same; only who wrote them changed.
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

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies after ten epochs of SGD differ slightly between machines.
rows = [
    ("from scratch", W.numel() + b.numel(), history_scratch, time_scratch),
    (
        "concise",
        sum(p.numel() for p in net.parameters()),
        history,
        time_concise,
    ),
]
print(
    f"{'implementation':15} {'parameters':>10} {'train loss':>10} "
    f"{'test acc':>8}  time"
)
for name, n_params, hist, seconds in rows:
    print(
        f"{name:15} {n_params:>10,} {hist['train loss'][-1]:>10.4f} "
        f"{hist['test acc'][-1]:>8.4f}  {seconds:.3f} s"
    )

# %% tags=["remove-cell"]
params = [n_params for _, n_params, _, _ in rows]
accs = [hist["test acc"][-1] for _, _, hist, _ in rows]
assert params == [7850, 7850], params
assert abs(accs[0] - accs[1]) < 1e-3, accs
assert all(0.80 < a < 0.86 for a in accs), accs
assert all(h["train loss"][-1] < 0.5 and t > 0 for _, _, h, t in rows), rows

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
#   `-log(softmax(o))` overflows to `inf`.
# - `torch.optim.SGD` replaces our `sgd`; `train_ch3` accepts either.
# - From the same starting weights and batches, the concise and the scratch implementations
#   end with the same parameters.
#
# ## Exercises
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
# initialization. How does the test accuracy compare with one epoch from our start?
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
# Try `torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)`. Does it reach 0.82 test
# accuracy in fewer epochs?
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
    batch = [next(iter(test_iter))]
    train_epoch_ch3(
        model, batch, nn.CrossEntropyLoss(reduction=reduction), optimizer
    )
    return model[1].weight.detach()


step_gap = (one_step("none") - one_step("mean")).abs().max()
print("same weights, up to rounding:", bool(step_gap < 1e-7))

# %% tags=["remove-cell"]
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


# %%
def first_epoch(model, **optimizer_args):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, **optimizer_args)
    torch.manual_seed(1)  # the same order of batches as the training above
    train_epoch_ch3(model, train_iter, loss, optimizer)
    return evaluate_accuracy(model, test_iter)


# %%
torch.manual_seed(0)
default_acc = first_epoch(nn.Sequential(nn.Flatten(), nn.Linear(784, 10)))
gap_init = abs(default_acc - history["test acc"][0])
print("within 0.03 of the accuracy after our first epoch:", gap_init < 0.03)

# %% tags=["remove-cell"]
assert gap_init < 0.03, (default_acc, history["test acc"][0])

# %% [markdown]
# About the same. PyTorch's default draws the weights uniformly from
# $\pm 1/\sqrt{784} \approx \pm 0.036$, small enough that the softmax does not saturate; for
# a linear model, any such small start leads to the same place.
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

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies after an epoch of SGD differ slightly between machines.
torch.manual_seed(0)
double = nn.Sequential(nn.Flatten(), nn.Linear(784, 10), nn.Softmax(dim=1))
double.apply(init_weights)
double_acc = first_epoch(double)
print(f"with a softmax layer, one epoch: {double_acc:.4f}")
print(f"without (history above):         {history['test acc'][0]:.4f}")

# %% tags=["remove-cell"]
assert double_acc < history["test acc"][0], double_acc

# %% [markdown]
# It learns, but more slowly. This is the trap of porting Keras code that ends with
# `Dense(10, activation="softmax")`; see {ref}`coming-from-tf1`.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-softmax-concise-4
# :class: dropdown
# ```

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies after an epoch of SGD differ slightly between machines.
torch.manual_seed(0)
fast = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
fast.apply(init_weights)
momentum_acc = first_epoch(fast, momentum=0.9)
plain = next(i + 1 for i, a in enumerate(history["test acc"]) if a >= 0.82)
print(f"momentum 0.9, after one epoch: {momentum_acc:.4f}")
print(f"plain SGD first reached 0.82 after {plain} epochs")

# %% tags=["remove-cell"]
assert momentum_acc > 0.7, momentum_acc
assert 1 <= plain <= len(history["test acc"]), plain

# %% [markdown]
# Momentum adds a fraction of the previous step to each step, which acts like a larger
# learning rate along directions the gradient keeps pointing in: here, an effective rate of
# about $0.1 / (1 - 0.9) = 1$. Compare the printed numbers: whether that is faster or
# just noisier depends on the learning rate, which {ref}`ex-softmax-scratch-2` varied.
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

# %% [markdown]
# The same number: `nn.CrossEntropyLoss` is exactly these two functions in one.
# ```{solution-end}
# ```
#
# Next: {ref}`chap-keras-mlp` adds a hidden layer, and a Keras-style way to train it.
