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

# %% [markdown]
# (appendix-coming-from)=
# # Coming from MXNet, TensorFlow 1.x or d2l 1.x
#
# Many study notes on Fashion-MNIST were written for software that has moved on: the first
# edition of *Dive into Deep Learning* (d2l 0.x) with MXNet's gluon, the TensorFlow 1.x and
# Keras "basic classification" tutorial, and d2l 1.x, which reorganized d2l's PyTorch code
# into classes. This page maps what those notes use to what this course uses: PyTorch and
# the course's `helpers`. Each table is followed by short examples of the PyTorch side,
# executed when the book is built.

# %%
import inspect
import sys
import textwrap
from importlib.metadata import version

import torch
from d2l import torch as d2l
from torch import nn
from torch.utils.data import DataLoader
from torchvision import transforms

import helpers

# %% tags=["remove-cell"]
# ruff: noqa: E501 - the Markdown tables of this page cannot be wrapped
_ = torch.manual_seed(0)

# %% [markdown]
# (coming-from-mxnet)=
# ## MXNet and gluon (d2l 0.x)
#
# | MXNet / gluon | PyTorch / `helpers` | Chapter |
# | --- | --- | --- |
# | `nd.pick(y_hat, y)`, shape `[n]` | `y_hat[range(len(y)), y]`, shape `[n]`; or `y_hat.gather(1, y[:, None])`, shape `[n, 1]` | {ref}`chap-softmax-scratch` |
# | `w.attach_grad()` | `torch.zeros(..., requires_grad=True)` or `w.requires_grad_()` | {ref}`chap-softmax-scratch` |
# | `with autograd.record(): l = loss(...)` | nothing to open: operations on such tensors are always recorded; `torch.no_grad()` turns recording off | {ref}`chap-softmax-scratch` |
# | `autograd.record()` also puts `Dropout` and `BatchNorm` in training mode | a separate switch: `net.train()`, and `net.eval()` for predictions | {ref}`chap-keras-mlp` |
# | `x.asscalar()` | `x.item()` or `float(x)` | {ref}`chap-softmax-scratch` |
# | images `(28, 28, 1)`, `uint8`, channels last (HWC) | `ToTensor` gives `[1, 28, 28]`, `float32` in [0, 1], channels first (CHW) | {ref}`chap-dataset` |
# | `dataset.transform_first(ToTensor())` | `FashionMNIST(..., transform=ToTensor())`: the transform only ever sees the image | {ref}`chap-dataset` |
# | `gluon.data.DataLoader(dataset, batch_size, shuffle, num_workers)` | `torch.utils.data.DataLoader(...)`, or `helpers.TensorLoader` | {ref}`chap-dataset` |
# | `DataLoader(..., last_batch="discard")` (or `"keep"`, `"rollover"`) | `DataLoader(..., drop_last=True)` (or `False`; no rollover) | {ref}`chap-dataset` |
# | `DataLoader(..., batchify_fn=f)` | `DataLoader(..., collate_fn=f)`, with `f` returning tensors | {ref}`chap-dataset` |
# | `num_workers = 0 if sys.platform.startswith("win") else 4` | the same line works; or `TensorLoader`, which needs no workers | {ref}`chap-dataset` |
#
# `nd.pick` picks one entry per row and returns one number per row. Indexing with two
# sequences does the same. `gather` along dimension 1 picks the same entries but keeps the
# dimension it picked along, so its result is a column, shape `[n, 1]`; mixing the two
# shapes broadcasts without an error:

# %%
y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
y = torch.tensor([0, 2])
picked = y_hat[range(len(y)), y]  # nd.pick(y_hat, y)
gathered = y_hat.gather(1, y[:, None])
print("indexing:", picked, tuple(picked.shape))
print("gather:  ", tuple(gathered.shape), "squeezed:", gathered.squeeze(1))
print("gathered - picked has shape", tuple((gathered - picked).shape))

# %% tags=["remove-cell"]
# claim: so its result is a column
assert picked.shape == (2,) and gathered.shape == (2, 1)
assert torch.equal(gathered.squeeze(1), picked)
# claim: mixing the two shapes broadcasts without an error
assert (gathered - picked).shape == (2, 2)

# %% [markdown]
# `attach_grad` plus `autograd.record` become one flag. PyTorch records every operation on a
# tensor that requires a gradient, so there is no recording block to forget; instead, code
# that must *not* be recorded (the SGD update, evaluation) goes under `torch.no_grad()`.
# `asscalar` is `item`:

# %%
w = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)  # w.attach_grad()
loss = (w**2).sum()  # recorded without any `with` block
loss.backward()
print("gradient:", w.grad)
with torch.no_grad():
    print("recorded under no_grad:", (w * 2).requires_grad)
print("loss.item():", loss.item(), type(loss.item()).__name__)

# %% [markdown]
# `autograd.record()` did a second thing: inside it, gluon's `Dropout` and `BatchNorm`
# behave as in training (dropout zeroes activations, batch normalization uses the batch's
# statistics); outside it, as in prediction. PyTorch keeps the two apart. Whether an
# operation is recorded follows `requires_grad` and `torch.no_grad()`; how such a layer
# behaves follows a flag of the module, which `net.train()` and `net.eval()` set, and a new
# module starts in training mode. So `torch.no_grad()` alone does not turn dropout off:

# %%
drop = nn.Dropout(p=0.5)  # a new module: training mode
x = torch.ones(1000)
with torch.no_grad():
    print("no_grad, training mode, x unchanged:", torch.equal(drop(x), x))
drop.eval()  # what leaving autograd.record() did in gluon
print("eval mode, x unchanged:", torch.equal(drop(x), x))

# %% tags=["remove-cell"]
# claim: does not turn dropout off
with torch.no_grad():
    drop.train()
    assert not torch.equal(drop(x), x)
    drop.eval()
    assert torch.equal(drop(x), x)

# %% [markdown]
# `helpers.train_epoch_ch3` calls `net.train()` and `helpers.evaluate_accuracy` calls
# `net.eval()`, as d2l's own versions do, so a network with dropout trained through them
# behaves as it did in gluon.
#
# gluon's Fashion-MNIST gives each image as `(28, 28, 1)` bytes, height, width and channel;
# PyTorch's layers expect channels first. `ToTensor` converts either a PIL image or such an
# HWC array into CHW floats in [0, 1], which is what gluon's own `ToTensor` did too:

# %%
X_train, y_train, _, _ = helpers.load_fashion_mnist_tensors()
hwc = X_train[0].unsqueeze(-1).numpy()  # the MXNet layout: (28, 28, 1) uint8
chw = transforms.ToTensor()(hwc)
print("HWC:", hwc.shape, hwc.dtype, "-> CHW:", tuple(chw.shape), chw.dtype)
same = torch.equal(chw, X_train[0][None].float() / 255)
print("same as permute and divide:", same)

# %% [markdown]
# gluon datasets return `(image, label)` pairs, and `transform_first` applies a transform to
# the image only. A torchvision dataset takes the image transform as `transform=` (and a
# label transform as `target_transform=`, rarely needed), so there is nothing to "first":

# %%
to_tensor = transforms.ToTensor()
dataset = helpers.fashion_mnist_dataset(train=True, transform=to_tensor)
X, label = dataset[0]
print(tuple(X.shape), X.dtype, "label:", label, type(label).__name__)

# %% [markdown]
# PyTorch's `DataLoader` takes many of gluon's arguments under the same names
# (`batch_size`, `shuffle`, `sampler`, `batch_sampler`, `num_workers`, `pin_memory`).
# Two differ:
#
# - gluon's `last_batch` says what to do with the images left over when the batch size does
#   not divide the dataset: `"keep"` them as a smaller last batch (the default), `"discard"`
#   them, or `"rollover"` them into the first batch of the next epoch. PyTorch's `drop_last`
#   has only the first two: `False` (the default) keeps, `True` discards.
# - gluon's `batchify_fn` is PyTorch's `collate_fn`: both are called with the list of one
#   batch's samples and return the batch. gluon's default stacks them into `NDArray`s and
#   keeps the NumPy dtype of the labels; PyTorch's default stacks the image tensors and
#   turns the Python `int` labels into one `int64` tensor. A custom `batchify_fn` ports once
#   it returns tensors instead of `NDArray`s.
#
# d2l 0.x chose the number of worker processes with the line of the table, 4 except on
# Windows; here 2 ({ref}`chap-dataset` discusses the choice):

# %%
num_workers = 0 if sys.platform.startswith("win") else 2
loader = DataLoader(dataset, 256, shuffle=True, num_workers=num_workers)
X, y = next(iter(loader))
print("batch:", tuple(X.shape), y.dtype, "from", num_workers, "workers")
kept = len(DataLoader(dataset, batch_size=256))  # last_batch="keep"
discarded = len(DataLoader(dataset, batch_size=256, drop_last=True))
print(f"batches of 256: {kept}, or {discarded} with drop_last=True")

# %% tags=["remove-cell"]
assert X.shape == (256, 1, 28, 28) and y.dtype == torch.int64
assert num_workers in (0, 2) and loader.num_workers == num_workers
# claim: `True` discards
assert (kept, discarded) == (-(-60_000 // 256), 60_000 // 256)

# %% [markdown]
# On Windows (and macOS) the worker processes are started by *spawning* a fresh Python
# that imports your script again; d2l 0.x simply used no workers on Windows. In PyTorch,
# where workers are spawned, a script with workers must put its top-level code under
# `if __name__ == "__main__":`; in a notebook, functions and dataset classes defined in the
# notebook cannot be sent to spawned workers. The in-memory `TensorLoader` of
# {ref}`chap-dataset` sidesteps all of it: it uses no workers, and that chapter times it
# against the `DataLoader`.
#
# (coming-from-tf1)=
# ## TensorFlow 1.x and Keras
#
# | TensorFlow 1.x / Keras | PyTorch / `helpers` | Chapter |
# | --- | --- | --- |
# | `tf.train.AdamOptimizer(learning_rate=0.001)` (TF 2: `tf.keras.optimizers.Adam()`) | `torch.optim.Adam(net.parameters(), lr=0.001)`; `KerasModel.compile(optimizer="adam")`; ε is added at another place (below) | {ref}`chap-keras-mlp` |
# | `tf.train.GradientDescentOptimizer(0.1)` | `torch.optim.SGD(net.parameters(), lr=0.1)` | {ref}`chap-softmax-concise` |
# | `Dense(10, activation="softmax")` + `loss="sparse_categorical_crossentropy"` | `nn.Linear(n, 10)` + `nn.LogSoftmax(dim=1)` + `nn.NLLLoss()`; or, as today, `nn.Linear(n, 10)` without softmax + `nn.CrossEntropyLoss()` | {ref}`chap-softmax-concise` |
# | `Dense(10)` + `SparseCategoricalCrossentropy(from_logits=True)` | the same pair: `nn.CrossEntropyLoss` always takes logits | {ref}`chap-softmax-concise` |
# | `model.predict(x)` (probabilities, with a softmax layer) | `torch.softmax(net(X), dim=1)` | {ref}`chap-keras-mlp` |
# | `tf.placeholder`, `tf.Session().run(..., feed_dict=...)` | nothing: PyTorch runs each line as it is called | all |
#
# TensorFlow 1.x's `AdamOptimizer` and PyTorch's `Adam` have the same defaults: learning
# rate $\eta = 0.001$, $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$ (Keras's
# `Adam`: $\epsilon = 10^{-7}$):

# %%
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
adam = torch.optim.Adam(net.parameters())
print({k: adam.defaults[k] for k in ("lr", "betas", "eps")})

# %% [markdown]
# The same $\epsilon$ does not give the same step, though. With the moving averages $m_t$
# and $v_t$ of the gradient and of its square after $t$ steps, and their bias-corrected
# versions $\hat m_t = m_t / (1 - \beta_1^t)$ and $\hat v_t = v_t / (1 - \beta_2^t)$,
# PyTorch follows Algorithm 1 of Kingma and Ba's paper and adds $\epsilon$ after the bias
# correction:
#
# $$\Delta w = -\eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \epsilon}.$$
#
# TensorFlow 1.x and Keras (2 and 3) fold the bias correction into the learning rate and
# add their $\epsilon$ to the uncorrected $\sqrt{v_t}$; their documentation calls it the
# paper's "epsilon hat" $\hat\epsilon$ (from the formula just before the paper's
# section 2.1):
#
# $$\Delta w = -\eta\, \frac{\sqrt{1 - \beta_2^t}}{1 - \beta_1^t}\,
#   \frac{m_t}{\sqrt{v_t} + \hat\epsilon}
#   = -\eta\, \frac{\hat m_t}{\sqrt{\hat v_t} + \hat\epsilon / \sqrt{1 - \beta_2^t}}.$$
#
# So Keras's $\hat\epsilon$ acts as PyTorch's
# $\epsilon = \hat\epsilon / \sqrt{1 - \beta_2^t}$, larger in the first steps and close
# to $\hat\epsilon$ after some thousands (the last lines below). It changes a step only
# where $\sqrt{\hat v_t}$ is as small as that $\epsilon$: a weight whose gradients are
# tiny, or any weight when $\epsilon$ is set large (TensorFlow's documentation suggests
# 1.0 or 0.1 for Inception on ImageNet). The first step of each, written out for three
# gradients from tiny to large:

# %%
lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
g = torch.tensor([1e-6, 1e-4, 1.0])  # three gradients, tiny to large
m, v = (1 - b1) * g, (1 - b2) * g**2  # the averages after one step
keras = lr * (1 - b2) ** 0.5 / (1 - b1) * m / (v.sqrt() + eps)


def torch_first_step(eps):
    w = torch.zeros(3, requires_grad=True)
    w.grad = g.clone()
    torch.optim.Adam([w], lr=lr, betas=(b1, b2), eps=eps).step()
    return -w.detach()


def show(name, step):
    print(f"{name:24}", " ".join(f"{s:.3e}" for s in step.tolist()))


show("Keras, epsilon 1e-7:", keras)
show("PyTorch, eps 1e-7:", torch_first_step(eps))
eps_1 = eps / (1 - b2) ** 0.5  # what Keras's epsilon acts as at step 1
show(f"PyTorch, eps {eps_1:.2e}:", torch_first_step(eps_1))
for t in (1, 100, 1000, 10_000):
    scale = 1 / (1 - b2**t) ** 0.5
    print(f"step {t:6}: Keras's epsilon acts as eps = {scale:.3f} x epsilon")

# %% tags=["remove-cell"]
# claim: acts as PyTorch's
same = torch_first_step(eps_1)
assert torch.allclose(keras, same, rtol=1e-4), (keras, same)
# claim: It changes a step only where
ours = torch_first_step(eps)
assert keras[0] < 0.5 * ours[0] and torch.allclose(keras[2], ours[2], rtol=1e-5)
# claim: larger in the first steps and close
assert 1 / (1 - b2) ** 0.5 > 30 and 1 / (1 - b2**10_000) ** 0.5 < 1.001

# %% [markdown]
# The tutorials of TensorFlow 1.x ended the network with a softmax layer and gave the loss
# probabilities; today's Keras tutorial outputs logits and says `from_logits=True`. PyTorch
# has both ways. The usual one gives logits to `nn.CrossEntropyLoss`, which applies
# log-softmax itself. The port of a softmax layer is `nn.LogSoftmax(dim=1)` as the last
# layer, followed by `nn.NLLLoss()`, which only picks the entry of the label and negates it
# (and averages over the batch):
# the network then outputs log-probabilities (`.exp()` turns them into probabilities),
# computed in one stable step. What goes wrong is mixing the two: a softmax layer kept from
# old code in front of `nn.CrossEntropyLoss` applies softmax twice. Nothing fails, but the
# loss is squeezed into a narrow range and stops rewarding confidence:

# %%
logits = torch.tensor([[8.0, 0.0, 0.0], [0.0, 8.0, 0.0]])
label = torch.tensor([0, 0])  # row 1 right and confident, row 2 wrong
ce = nn.CrossEntropyLoss(reduction="none")
nll = nn.NLLLoss(reduction="none")
print("logits (from_logits=True):", ce(logits, label))
print("LogSoftmax + NLLLoss:     ", nll(nn.LogSoftmax(dim=1)(logits), label))
probs = torch.softmax(logits, dim=1)
print("-log of the probabilities:", -torch.log(probs[range(2), label]))
print("softmax twice (a mistake):", ce(probs, label))

# %% tags=["remove-cell"]
# claim: The first three lines agree
reference = ce(logits, label)
assert torch.allclose(nll(nn.LogSoftmax(dim=1)(logits), label), reference)
assert torch.allclose(-torch.log(probs[range(2), label]), reference, rtol=1e-3)
# claim: squeezed into a narrow range
# Softmax of probabilities: the loss lies in [log(e + K - 1) - 1, log(e + K - 1)].
low = torch.log(torch.exp(torch.tensor(1.0)) + 2) - 1
twice = ce(probs, label)
assert ((twice >= low - 1e-5) & (twice <= low + 1 + 1e-5)).all(), twice
assert reference.max() - reference.min() > 7 > twice.max() - twice.min()

# %% [markdown]
# The first three lines agree: Keras's softmax layer with its default loss, and
# `LogSoftmax` with `NLLLoss`, compute the same number as logits with `from_logits=True`
# (taking `-log` of a probability is the least stable of the three: a probability that
# rounds to 0 gives `inf`, which is why Keras clips probabilities to
# $[10^{-7}, 1 - 10^{-7}]$ first). The fourth is the doubled softmax.
# {ref}`chap-softmax-concise` measures what it costs in training.
#
# (coming-from-d2l)=
# ## d2l 1.x and d2l 0.x
#
# d2l 1.x rewrote the book's PyTorch code as classes in the style of PyTorch Lightning: a
# `DataModule` for the data, a `Module` for the model with its loss and optimizer, and a
# `Trainer` that runs the loop. The package (d2l 1.0.3) dropped four functions of d2l 0.x's
# softmax regression, `train_ch3`, `train_epoch_ch3`, `evaluate_accuracy` and
# `predict_ch3`: this course keeps them, in `helpers`. The other functions that notes for
# d2l 0.x call on Fashion-MNIST are still in the package, even where the book's text now
# uses a class instead.
#
# | d2l 0.x | d2l 1.x | This course |
# | --- | --- | --- |
# | `train_iter, test_iter = d2l.load_data_fashion_mnist(256)` | `data = d2l.FashionMNIST(batch_size=256)`; `data.train_dataloader()`, `data.val_dataloader()` (the function is still in the package) | `helpers.load_data_fashion_mnist(256)` |
# | `d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, updater)` | `d2l.Trainer(max_epochs=10).fit(model, data)`, `model` a `d2l.Classifier` | `helpers.train_ch3(...)`, same arguments |
# | `d2l.evaluate_accuracy(net, test_iter)` | `model.accuracy(Y_hat, Y)` in `validation_step`, averaged over the batches (inexact, below); exact: the sum of `model.accuracy(Y_hat, Y, averaged=False)` over the batches, divided by the number of images | `helpers.evaluate_accuracy` (exact) |
# | `d2l.predict_ch3(net, test_iter)` | (none) | `helpers.predict_ch3` |
# | `d2l.get_fashion_mnist_labels(y)` | `data.text_labels(y)` (the function is still in the package) | `helpers.get_fashion_mnist_labels` |
# | `d2l.sgd(params, lr, batch_size)` (summed loss) | `d2l.SGD(params, lr)` (mean loss) in the text; `d2l.sgd` is still in the package | `helpers.sgd`, or `torch.optim.SGD` |
# | `d2l.Accumulator(n)`, `d2l.accuracy(y_hat, y)` (a count) | `Classifier.accuracy` in the text; both are still in the package | `helpers.Accumulator`, `helpers.accuracy` |
# | `d2l.Animator` (live plot) | `d2l.ProgressBoard` in the text; `d2l.Animator` is still in the package | `helpers.plot_history` (after training) |
#
# Which of these names does the installed d2l still have?

# %%
print("d2l", version("d2l"))
names = ["load_data_fashion_mnist", "get_fashion_mnist_labels", "sgd",
         "Accumulator", "accuracy", "Animator", "train_ch3",
         "train_epoch_ch3", "evaluate_accuracy", "predict_ch3",
         "FashionMNIST", "Classifier", "Trainer", "SGD",
         "ProgressBoard"]  # fmt: skip
for name in names:
    print(f"d2l.{name:25} {'present' if hasattr(d2l, name) else 'missing'}")

# %% tags=["remove-cell"]
# claim: dropped four functions of d2l 0.x
gone = ["train_ch3", "train_epoch_ch3", "evaluate_accuracy", "predict_ch3"]
assert [name for name in names if not hasattr(d2l, name)] == gone
assert all(callable(getattr(helpers, name)) for name in gone)

# %% [markdown]
# d2l 1.x's `Classifier.validation_step` plots `self.accuracy(Y_hat, Y)`, the accuracy of
# one batch, and its `ProgressBoard` draws the mean of those per-batch accuracies: a small
# last batch (10,000 test images in batches of 256 leave 16) then weighs as much as a full
# one, the mistake {ref}`chap-softmax-scratch` warns about. The exact accuracy counts the
# correct predictions, `averaged=False`, and divides by the number of images, as
# `helpers.evaluate_accuracy` does. With d2l's own `Classifier` around a linear model
# (untrained: the arithmetic is what matters here):

# %%
model = d2l.Classifier()
model.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
_, test_iter = helpers.load_data_fashion_mnist(256)
batch_accs, correct, count = [], 0.0, 0
with torch.no_grad():
    for X, y in test_iter:
        Y_hat = model(X)
        batch_accs.append(float(model.accuracy(Y_hat, y)))  # as plotted
        correct += float(model.accuracy(Y_hat, y, averaged=False).sum())
        count += len(y)
averaged = sum(batch_accs) / len(batch_accs)
exact = helpers.evaluate_accuracy(model, test_iter)
print(f"mean of {len(batch_accs)} batch accuracies: {averaged:.4f}")
print(f"correct / count:               {correct / count:.4f}")
print(f"helpers.evaluate_accuracy:     {exact:.4f}")

# %% tags=["remove-cell"]
# claim: the mistake
assert len(batch_accs) == 40 and count == 10_000 and exact == correct / count
assert abs(averaged - exact) > 1e-4, (averaged, exact)

# %% [markdown]
# (coming-from-d2l-0x)=
# ### Running d2l 0.x code
#
# Code written for d2l 0.x calls everything through the name `d2l`:
# `d2l.load_data_fashion_mnist(...)`, `d2l.train_ch3(...)`, `d2l.predict_ch3(...)`. Change
# its import line, `from d2l import torch as d2l`, into
#
# ```python
# import helpers as d2l
# ```
#
# and those calls reach `helpers`, which takes d2l 0.x's arguments in the same order (the
# course's tests train a d2l 0.x softmax regression this way, on the real data).
# `helpers.train_ch3` draws its plot once, after training, instead of animating it:

# %%
print(list(inspect.signature(helpers.train_ch3).parameters))

# %% [markdown]
# `helpers` is not all of d2l, though. Of the names that d2l 0.17's Fashion-MNIST sections
# (the dataset, softmax regression, multilayer perceptrons, LeNet) call through `d2l.`,
# these are missing:

# %%
called = ["load_data_fashion_mnist", "get_fashion_mnist_labels", "show_images",
          "get_dataloader_workers", "train_ch3", "train_epoch_ch3",
          "evaluate_accuracy", "predict_ch3", "accuracy", "Accumulator",
          "Timer", "sgd", "try_gpu", "try_all_gpus", "Animator", "plt",
          "use_svg_display", "plot", "train_ch6", "evaluate_accuracy_gpu",
          "reshape", "matmul", "exp", "log", "reduce_sum", "argmax", "astype",
          "size"]  # fmt: skip
lacks = [name for name in called if not hasattr(helpers, name)]
has = len(called) - len(lacks)
print(f"helpers has {has} of these {len(called)} names; it lacks:")
print(textwrap.fill(", ".join(lacks), width=79))

# %% tags=["remove-cell"]
# claim: these are missing
assert all(hasattr(d2l, name) for name in lacks), "d2l 1.0.3 has them all"
# claim: are still in the package
assert [name for name in called if not hasattr(d2l, name)] == gone
assert "train_ch3" not in lacks and {"Animator", "plt", "train_ch6"} <= set(lacks)

# %% [markdown]
# Each has a short replacement:
#
# - **Plots** (`Animator`, `plt`, `use_svg_display`, `plot`): use
#   `import matplotlib.pyplot as plt` directly, and `helpers.plot_history` for a training
#   history.
# - **Training on a GPU** (`train_ch6`, `evaluate_accuracy_gpu`): move the network and the
#   data to the device (`helpers.load_data_fashion_mnist(256, device=device)`,
#   {ref}`chap-gpu`) and call `helpers.train_ch3` with `torch.optim.SGD`;
#   `helpers.evaluate_accuracy` works on any device. `train_ch6` also re-initialized the
#   weights (Xavier): do that yourself if the notes rely on it.
# - **Workers** (`get_dataloader_workers`): the line of the MXNet table, or a
#   `TensorLoader`, which needs none.
# - **Tensor functions under framework-neutral names**: `d2l.reshape(X, s)` is
#   `X.reshape(s)`, `d2l.matmul(X, W)` is `X @ W`, `d2l.exp`/`d2l.log` are
#   `torch.exp`/`torch.log`, `d2l.reduce_sum(X, 1, keepdim=True)` is
#   `X.sum(1, keepdim=True)`, `d2l.argmax(y_hat, axis=1)` is `y_hat.argmax(dim=1)`,
#   `d2l.astype(x, t)` is `x.type(t)` and `d2l.size(y)` is `y.numel()`.
