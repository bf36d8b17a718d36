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
# | `nd.pick(y_hat, y)` | `y_hat[range(len(y)), y]` or `y_hat.gather(1, y[:, None])` | {ref}`chap-softmax-scratch` |
# | `w.attach_grad()` | `torch.zeros(..., requires_grad=True)` or `w.requires_grad_()` | {ref}`chap-softmax-scratch` |
# | `with autograd.record(): l = loss(...)` | nothing to open: operations on such tensors are always recorded; `torch.no_grad()` turns recording off | {ref}`chap-softmax-scratch` |
# | `x.asscalar()` | `x.item()` or `float(x)` | {ref}`chap-softmax-scratch` |
# | images `(28, 28, 1)`, `uint8`, channels last (HWC) | `ToTensor` gives `[1, 28, 28]`, `float32` in [0, 1], channels first (CHW) | {ref}`chap-dataset` |
# | `dataset.transform_first(ToTensor())` | `FashionMNIST(..., transform=ToTensor())`: the transform only ever sees the image | {ref}`chap-dataset` |
# | `gluon.data.DataLoader(dataset, batch_size, shuffle, num_workers)` | `torch.utils.data.DataLoader(...)`, or `helpers.TensorLoader` | {ref}`chap-dataset` |
# | `num_workers = 0 if sys.platform.startswith("win") else 4` | the same line works; or `TensorLoader`, which needs no workers | {ref}`chap-dataset` |
#
# `nd.pick` picks one entry per row. Indexing with two sequences does the same, and so does
# `gather` along dimension 1:

# %%
y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
y = torch.tensor([0, 2])
print(y_hat[range(len(y)), y])
print(y_hat.gather(1, y[:, None]).squeeze(1))

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
# PyTorch's `DataLoader` takes the same arguments as gluon's. On Windows (and macOS) its
# worker processes are started by *spawning* a fresh Python that imports your script again,
# which is why d2l 0.x used no workers on Windows. In PyTorch a script with workers must
# put its top-level code under `if __name__ == "__main__":`; in a notebook, functions and
# datasets defined in the notebook cannot be sent to spawned workers. The in-memory
# `TensorLoader` of {ref}`chap-dataset` sidesteps all of it: it uses no workers and is
# faster anyway.

# %%
num_workers = 0 if sys.platform.startswith("win") else 2
loader = DataLoader(dataset, batch_size=256, shuffle=True, num_workers=0)
X, y = next(iter(loader))
print("batch:", tuple(X.shape))
print("on", sys.platform, "we would use", num_workers, "workers")

# %% [markdown]
# (coming-from-tf1)=
# ## TensorFlow 1.x and Keras
#
# | TensorFlow 1.x / Keras | PyTorch / `helpers` | Chapter |
# | --- | --- | --- |
# | `tf.train.AdamOptimizer(learning_rate=0.001)` (TF 2: `tf.keras.optimizers.Adam()`) | `torch.optim.Adam(net.parameters(), lr=0.001)`; `KerasModel.compile(optimizer="adam")` | {ref}`chap-keras-mlp` |
# | `tf.train.GradientDescentOptimizer(0.1)` | `torch.optim.SGD(net.parameters(), lr=0.1)` | {ref}`chap-softmax-concise` |
# | `Dense(10, activation="softmax")` + `loss="sparse_categorical_crossentropy"` | `nn.Linear(n, 10)` without softmax + `nn.CrossEntropyLoss()` | {ref}`chap-softmax-concise` |
# | `Dense(10)` + `SparseCategoricalCrossentropy(from_logits=True)` | the same pair: `nn.CrossEntropyLoss` always takes logits | {ref}`chap-softmax-concise` |
# | `model.predict(x)` (probabilities, with a softmax layer) | `torch.softmax(net(X), dim=1)` | {ref}`chap-keras-mlp` |
# | `tf.placeholder`, `tf.Session().run(..., feed_dict=...)` | nothing: PyTorch runs each line as it is called | all |
#
# TensorFlow 1.x's `AdamOptimizer` and PyTorch's `Adam` have the same defaults: learning
# rate 0.001, $\beta_1 = 0.9$, $\beta_2 = 0.999$, $\epsilon = 10^{-8}$ (Keras's `Adam` uses
# $\epsilon = 10^{-7}$, a difference that hardly ever matters):

# %%
net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
adam = torch.optim.Adam(net.parameters())
print({k: adam.defaults[k] for k in ("lr", "betas", "eps")})

# %% [markdown]
# The tutorials of TensorFlow 1.x ended the network with a softmax layer and gave the loss
# probabilities; today's Keras tutorial outputs logits and says `from_logits=True`. PyTorch
# has only the second way: `nn.CrossEntropyLoss` applies log-softmax itself. Feeding it
# probabilities (a softmax layer kept from old code) applies softmax twice. Nothing fails,
# but the loss is squeezed into a narrow range and stops rewarding confidence:

# %%
logits = torch.tensor([[8.0, 0.0, 0.0], [0.0, 8.0, 0.0]])
label = torch.tensor([0, 0])  # row 1 right and confident, row 2 wrong
ce = nn.CrossEntropyLoss(reduction="none")
print("logits (from_logits=True):", ce(logits, label))
probs = torch.softmax(logits, dim=1)
print("-log of the probabilities:", -torch.log(probs[range(2), label]))
print("softmax twice (a mistake):", ce(probs, label))

# %% [markdown]
# The first two lines agree: Keras's softmax layer with its default loss computes the same
# number as logits with `from_logits=True`, only less stably. The third is the doubled
# softmax. {ref}`chap-softmax-concise` measures what it costs in training.
#
# (coming-from-d2l)=
# ## d2l 1.x and d2l 0.x
#
# d2l 1.x rewrote the book's PyTorch code as classes in the style of PyTorch Lightning: a
# `DataModule` for the data, a `Module` for the model with its loss and optimizer, and a
# `Trainer` that runs the loop. Several functions that notes written for d2l 0.x call were
# removed; this course keeps them, in `helpers`.
#
# | d2l 0.x | d2l 1.x | This course |
# | --- | --- | --- |
# | `train_iter, test_iter = d2l.load_data_fashion_mnist(256)` | `data = d2l.FashionMNIST(batch_size=256)`; `data.train_dataloader()`, `data.val_dataloader()` (the function is still in the package) | `helpers.load_data_fashion_mnist(256)` |
# | `d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, updater)` | `d2l.Trainer(max_epochs=10).fit(model, data)`, `model` a `d2l.Classifier` | `helpers.train_ch3(...)`, same arguments |
# | `d2l.evaluate_accuracy(net, test_iter)` | `model.accuracy(...)` in `validation_step` | `helpers.evaluate_accuracy` |
# | `d2l.predict_ch3(net, test_iter)` | (none) | `helpers.predict_ch3` |
# | `d2l.get_fashion_mnist_labels(y)` | `data.text_labels(y)` (the function is still in the package) | `helpers.get_fashion_mnist_labels` |
# | `d2l.sgd(params, lr, batch_size)` (summed loss) | `d2l.SGD(params, lr)` (mean loss) | `helpers.sgd`, or `torch.optim.SGD` |
# | `d2l.Animator` (live plot) | `d2l.ProgressBoard` | `helpers.plot_history` (after training) |
#
# Which of these names does the installed d2l still have?

# %%
print("d2l", version("d2l"))
names = ["load_data_fashion_mnist", "train_ch3", "evaluate_accuracy",
         "predict_ch3", "get_fashion_mnist_labels", "FashionMNIST", "Trainer",
         "Classifier"]  # fmt: skip
for name in names:
    print(f"d2l.{name:25} {'present' if hasattr(d2l, name) else 'missing'}")

# %% [markdown]
# The package still has the data function (the book's text switched to the class), but
# the classic training API is gone. So d2l 0.x code that calls `train_ch3` runs here with
# one changed import, `from helpers import ...` instead of `from d2l import torch as d2l`:
# `helpers.train_ch3` takes d2l 0.x's arguments, in the same order.

# %%
print(list(inspect.signature(helpers.train_ch3).parameters))

# %% tags=["remove-cell"]
assert not hasattr(d2l, "train_ch3") and hasattr(d2l, "Trainer")
