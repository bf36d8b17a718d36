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
import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from helpers import load_data_fashion_mnist, sgd, train_ch3

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
# log-softmax and the loss is why the network has no softmax layer. Here is an example of
# class 0 scored very low, first through chapter 2's two steps, then through the fused loss:

# %%
logits = torch.tensor([[0.0, 50.0, 200.0]])
label = torch.tensor([0])
shifted = logits - logits.max(dim=1, keepdim=True).values
# chapter 2's softmax, then the fused loss
probs = torch.exp(shifted) / torch.exp(shifted).sum(1, keepdim=True)
fused = nn.CrossEntropyLoss(reduction="none")(logits, label)
lse = torch.logsumexp(logits, dim=1)
print("probabilities:", probs)
print("two steps, -log(softmax):", -torch.log(probs[range(1), label]))
print("fused, CrossEntropyLoss: ", fused)
print("logsumexp(o) - o_y:      ", lse - logits[range(1), label])

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
# $\theta \leftarrow \theta - \eta \nabla_\theta \ell$. Because it receives the gradient of
# the *mean* loss, it needs no division by the batch size, and the same learning rate of 0.1
# gives exactly the same steps as in chapter 2.

# %%
trainer = torch.optim.SGD(net.parameters(), lr=0.1)

# %% [markdown]
# ## Training
#
# `train_ch3` from {ref}`chap-softmax-scratch` (saved in `helpers`) needs no change: it
# calls `trainer.zero_grad()`, `backward()` and `trainer.step()` when the updater is a
# `torch.optim` optimizer. We keep a copy of the starting weights and fix the order of the
# training batches for the comparison at the end of the chapter.

# %%
W0 = net[1].weight.detach().clone()  # starting weights, compared below
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
scratch = train_iter, test_iter, cross_entropy, num_epochs, updater
history_scratch = train_ch3(net_scratch, *scratch, plot=False)
time_scratch = time.perf_counter() - start

# %% [markdown]
# The two models end with the same parameters, up to floating-point rounding: a strong check
# that the concise code computes what we derived by hand.

# %%
gap = (net[1].weight.detach() - W.detach().T).abs().max()
below = bool(gap < 1e-4)
print("largest difference between the trained weights below 1e-4:", below)

# %%
# NBVAL_IGNORE_OUTPUT
# Accuracies after ten epochs of SGD differ slightly between machines.
n_scratch = W.numel() + b.numel()
n_concise = sum(p.numel() for p in net.parameters())
rows = [
    ("from scratch", n_scratch, history_scratch, time_scratch),
    ("concise", n_concise, history, time_concise),
]
print("implementation  parameters train loss test acc  time")
for name, n_params, hist, seconds in rows:
    print(
        f"{name:15} {n_params:>10,} {hist['train loss'][-1]:>10.4f} "
        f"{hist['test acc'][-1]:>8.4f}  {seconds:.3f} s"
    )

# %% tags=["remove-cell"]
assert [n_params for _, n_params, _, _ in rows] == [7850, 7850], rows
accs = [hist["test acc"][-1] for _, _, hist, _ in rows]
assert abs(accs[0] - accs[1]) < 1e-3, rows
assert all(0.80 < a < 0.86 for a in accs), rows
assert all(hist["train loss"][-1] < 0.5 for _, _, hist, _ in rows), rows
assert all(seconds > 0 for *_, seconds in rows), rows

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
# 1. Replace `reduction="none"` with the default `reduction="mean"`. Does anything change in
#    training? Why must the learning rate not change?
# 2. Remove `net.apply(init_weights)` and train with PyTorch's default initialization. Does
#    the final accuracy change?
# 3. Add `nn.Softmax(dim=1)` as a third layer and keep `nn.CrossEntropyLoss`. The code still
#    runs. What does the loss now compute, and what happens to the accuracy?
# 4. Try `torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)`. Is it faster to reach
#    0.82 test accuracy?
# 5. Compute the loss of the example above with `nn.functional.log_softmax` and
#    `nn.functional.nll_loss`, and check it against `nn.CrossEntropyLoss`.
#
# Next: {ref}`chap-keras-mlp` adds a hidden layer, and a Keras-style way to train it.
