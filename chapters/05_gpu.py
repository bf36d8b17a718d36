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
# (chap-gpu)=
# # Using the GPU
#
# A GPU runs thousands of arithmetic operations at once, and deep learning is mostly large
# matrix products, which is exactly the work it is built for. Using one in PyTorch takes
# little code: choose a device, put the data and the model there, and the same training
# loop runs on it. Using it *well* takes a few more ideas: the data should already be on the
# device, each step should give the GPU enough work, the clock must wait for the GPU before
# it stops, the many small launches of a step can be recorded once and replayed, and
# lower-precision arithmetic can make each step cheaper. This chapter trains the MLP of
# {ref}`chap-keras-mlp` and two networks that do more arithmetic per image on whatever
# device it finds, and measures each of these points there.
#
# Every cell also runs on a machine without a GPU: there it uses the CPU, runs fewer steps,
# and says what it could not show. So what you read below depends on the machine that ran
# this page: the cell that prints `device:` says which it was, and where the text speaks of
# a GPU's numbers, they appear only when that device was a GPU.

# %%
import itertools
import os
import shutil
import statistics
import subprocess
import textwrap
import time

import torch
from d2l import torch as d2l
from torch import nn
from torch.nn import functional as F
from torch.utils.flop_counter import FlopCounterMode

from helpers import (
    KerasModel,
    load_data_fashion_mnist,
    load_fashion_mnist_tensors,
    time_it,
    try_all_gpus,
    try_gpu,
)

# %% tags=["remove-cell"]
# %config InlineBackend.figure_formats = ["retina"]
_ = torch.manual_seed(0)
# On 2 shared cores, two threads wait on each other and small steps run
# many times slower than with one; larger machines keep PyTorch's default.
if (os.cpu_count() or 1) <= 2:
    torch.set_num_threads(1)
# A GPU runner sets COURSE_REQUIRE_GPU=1: there a missing GPU is an
# error, not a silent CPU fall-back that would make every timing below
# meaningless.
from helpers import check_gpu_requirement  # noqa: E402

check_gpu_requirement()

# %% [markdown]
# ## Which devices are there?
#
# PyTorch calls a GPU a CUDA device. `torch.cuda` says whether one is visible, how many,
# and their names. Device numbers start at 0, and `cuda:0` is the default.

# %% tags=["nbval-ignore-output"]
print("CUDA available:", torch.cuda.is_available())
print("device count:  ", torch.cuda.device_count())
for i in range(torch.cuda.device_count()):
    print(f"cuda:{i}:", torch.cuda.get_device_name(i))
print("CPU threads:   ", torch.get_num_threads())

# %% tags=["remove-cell"]
# depends on whether a GPU is present
assert (torch.cuda.device_count() > 0) == torch.cuda.is_available()
assert torch.get_num_threads() >= 1

# %% [markdown]
# ### A CUDA build of PyTorch
#
# A GPU is usable only with a PyTorch *built* for CUDA. The version string says which
# build is installed: `2.5.1+cpu` is a CPU-only build, `2.5.1+cu124` one built against
# CUDA 12.4 (PyPI's default wheel for Linux, with no suffix, is a CUDA build too), and
# `torch.version.cuda` is `None` in a CPU build. A CUDA build on a machine
# without a GPU (or without NVIDIA's driver) still reports its CUDA version, and
# `torch.cuda.is_available()` is then `False`.

# %% tags=["nbval-ignore-output"]
print("torch:             ", torch.__version__)
print("torch.version.cuda:", torch.version.cuda)
print("a CUDA build:      ", torch.version.cuda is not None)
if torch.cuda.is_available():
    print("cuDNN:             ", torch.backends.cudnn.version())

# %% tags=["remove-cell"]
# depends on the installed build of PyTorch
assert ("+cpu" in torch.__version__) <= (torch.version.cuda is None)
assert torch.cuda.is_available() <= (torch.version.cuda is not None)

# %% [markdown]
# To install a CUDA build, take the command that the "Get started" page of pytorch.org
# gives for your system, e.g. `pip install torch --index-url
# https://download.pytorch.org/whl/cu126`: the index URL chooses the CUDA version, and the
# wheel brings its own CUDA libraries. The one thing it needs from the machine is NVIDIA's
# driver, new enough for that CUDA version: `nvidia-smi` prints the highest CUDA version
# the driver supports in its header. Colab's GPU runtimes come with a CUDA build installed.
#
# Older notes install a CUDA build with conda, `conda install pytorch cudatoolkit=10.2 -c
# pytorch` or the long-term-support PyTorch 1.8 from the `pytorch-lts` channel: that route
# is gone. The LTS line ended with 1.8, and PyTorch 2.5 was the last release published to
# PyTorch's own conda channel (its announcement, pytorch/pytorch issue 138506); the pip
# command above is the one to use.
#
# ### `nvidia-smi`
#
# NVIDIA's driver ships `nvidia-smi`, which prints one block per GPU. Its header gives the
# driver and the newest CUDA it supports. Per GPU: `Name`; `Persistence-M` (driver kept
# loaded); `Bus-Id` (PCIe address); `Disp.A` (a display attached); `Volatile Uncorr. ECC`
# (memory errors); `Fan`, `Temp`, `Perf` (performance state, P0 fastest to P12 idle);
# `Pwr:Usage/Cap` (watts); `Memory-Usage` (used of total); `GPU-Util` (share of the last
# sample period in which a kernel ran, not how much of the chip it used); `Compute M.`;
# `MIG M.` (split into instances). Below, the processes holding GPU memory.

# %% tags=["nbval-ignore-output"]
smi = shutil.which("nvidia-smi")
if smi:
    print(subprocess.run([smi], capture_output=True, text=True).stdout)
else:
    print("no nvidia-smi here: this machine has no NVIDIA driver")

# %% tags=["remove-cell"]
# depends on whether a GPU (and its driver) is present
assert smi is not None or not torch.cuda.is_available()

# %% [markdown]
# ### Choosing the device once
#
# Code that should run anywhere asks for a GPU and falls back to the CPU. d2l's `try_gpu(i)`
# returns `cuda:i` if that GPU exists and the CPU otherwise. Its `try_all_gpus()` is meant
# to return every GPU, or the CPU when there is none, but d2l 1.0.3 returns an empty list
# on a CPU-only machine, which breaks code that loops over the devices it returns. The
# course's `helpers.try_all_gpus` keeps the promise. (d2l's own GPU section also assumes
# two GPUs, `cuda:1` included; nothing in this chapter needs more than one.)

# %% tags=["nbval-ignore-output"]
print("try_gpu():        ", try_gpu())
print("try_gpu(7):       ", try_gpu(7))
print("try_all_gpus():   ", try_all_gpus())
print("d2l.try_all_gpus():", d2l.try_all_gpus())

# %% tags=["remove-cell"]
# depends on whether a GPU is present
assert try_all_gpus() == (d2l.try_all_gpus() or [torch.device("cpu")])
assert try_gpu(7).type in ("cpu", "cuda")
# claim: d2l 1.0.3 returns an empty list
assert torch.cuda.is_available() or d2l.try_all_gpus() == []

# %% [markdown]
# We choose the device once, here, and use `device` everywhere below.

# %% tags=["nbval-ignore-output"]
device = try_gpu()
on_gpu = device.type == "cuda"
print("device:", device)

# %% tags=["remove-cell"]
# depends on whether a GPU is present
assert on_gpu == torch.cuda.is_available()
assert device.type in ("cpu", "cuda"), device

# %% [markdown]
# ## Tensors on a device
#
# A new tensor lives on the CPU unless we say otherwise.

# %%
x = torch.ones(2, 3)
print(x.device)

# %% [markdown]
# `.to(device)` returns a copy on the device (or the same tensor if it is already there);
# `device=` creates a tensor directly on it, without a copy from the CPU. The result of an
# operation lives where its inputs live, so once the inputs are on the GPU, the whole
# computation stays there.

# %% tags=["nbval-ignore-output"]
y = x.to(device)
z = torch.rand(2, 3, device=device)
print("y:", y.device, " z:", z.device, " y + z:", (y + z).device)
print("x is y:", x is y)

# %% tags=["remove-cell"]
# depends on whether a GPU is present
assert y.device == z.device == (y + z).device == device, (y, z)
assert (x is y) == (x.device == device), x

# %%
same = y.device == z.device == (y + z).device == device
print("y, z and y + z on the chosen device:", same)
print("x is still on:", x.device)

# %% [markdown]
# Much code written for GPUs uses shorter spellings: `x.cuda()` is `x.to("cuda")`, which
# means the *current* GPU (`torch.cuda.current_device()` gives its number: 0 unless
# `torch.cuda.set_device(i)` changed it), `x.cuda(i)` is `x.to(f"cuda:{i}")`, and `x.cpu()`
# is `x.to("cpu")`. They are fine in a script that only ever runs on a GPU; on a machine
# without one, `.cuda()` raises, which is why this course writes `.to(device)`.

# %% tags=["nbval-ignore-output"]
try:
    w = x.cuda()
    print("current device:", torch.cuda.current_device())
    print("x.cuda():", w.device, " x.cuda(0):", x.cuda(0).device)
    print("w.cpu(): ", w.cpu().device)
    moved = True
except (RuntimeError, AssertionError) as err:
    error = f"{type(err).__name__}: {str(err).splitlines()[0]}"
    print(textwrap.fill(error, 79))
    moved = False

# %% tags=["remove-cell"]
# depends on whether a GPU is present
assert moved == on_gpu
assert moved or error.startswith(("RuntimeError", "AssertionError")), error
assert x.device.type == "cpu", x
assert not moved or w.device == torch.device("cuda:0")
assert not moved or torch.cuda.current_device() == 0

# %% [markdown]
# ### Mixing devices
#
# An operation whose inputs sit on different devices is an error: PyTorch does not copy a
# tensor over the PCIe bus on its own, because such a copy can cost more than the operation.
# Here is the error PyTorch raises for `x + y`, with `x` on the CPU and `y` on the chosen
# device (on a machine without a GPU both are on the CPU, and there is no error):

# %% tags=["nbval-ignore-output"]
mixing_error = None
try:
    print("no error, the result is on", (x + y).device)
except RuntimeError as err:
    mixing_error = str(err)
    print(textwrap.fill(f"RuntimeError: {mixing_error}", 79))

# %% tags=["remove-cell"]
# depends on whether a GPU is present
mixed_fails = on_gpu and x.device != y.device
try:
    x + y
    assert not mixed_fails
except RuntimeError:
    assert mixed_fails
assert (mixing_error is not None) == mixed_fails, mixing_error
assert not mixed_fails or "same device" in mixing_error, mixing_error
assert x.device.type == "cpu" and y.device == device, (x.device, y.device)

# %% [markdown]
# PyTorch's `meta` device, which stores only shapes and dtypes, shows the same check on
# any machine:

# %%
a = torch.ones(2, 3, device="meta")
try:
    a + torch.ones(2, 3)
except RuntimeError as err:
    print("RuntimeError:", err)

# %% [markdown]
# There are exceptions, and they are copies we did not write. A zero-dimensional CPU
# tensor (a scalar such as `torch.tensor(2.0)`) may be combined with a tensor on any
# device: PyTorch passes its value to the kernel. And reading a GPU value in Python
# (`.item()`, `float(t)`, `print(t)`, `if t > 0:`) copies it to the CPU and makes Python wait
# until the GPU has computed it, a hidden *synchronization* that slows a training loop
# when it happens at every step.

# %%
scalar = torch.tensor(2.0)
print("scalar on:", scalar.device, " y * scalar on the chosen device:",
      (y * scalar).device == device)  # fmt: skip
total = y.sum().item()  # a copy to the CPU, and a wait for the GPU
print("y.sum().item():", total, type(total).__name__)

# %% [markdown]
# The cure for a device mismatch is an explicit copy: `x.to(device) + y`, or `y.cpu()` to
# bring a result back, e.g. for NumPy or matplotlib, which only read CPU memory.
#
# ## A model on a device
#
# `net.to(device)` moves every parameter (and buffer) of the network; unlike a tensor's
# `.to`, it changes the module in place and returns it. `net.cuda()` and `net.cpu()` are
# the short forms. The input must then be on the same device.


# %%
def make_net():
    """The MLP of chapter 4."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10)
    )  # fmt: skip


net = make_net()
print("parameters:", sum(p.numel() for p in net.parameters()))
print("before:", {p.device.type for p in net.parameters()})

# %% [markdown]
# `named_parameters()` lists every parameter with its name, so we can check where each one
# lives, not only the first:

# %% tags=["nbval-ignore-output"]
net = net.cuda() if on_gpu else net.to(device)
for name, p in net.named_parameters():
    print(f"{name:9} {str(tuple(p.shape)):11} {p.device}")
print("output:", net(torch.rand(4, 28, 28, device=device)).device)

# %% tags=["remove-cell"]
# depends on whether a GPU is present
for name, p in net.named_parameters():
    assert p.device == device, (name, p.device)
assert net(torch.rand(1, 28, 28, device=device)).device == device

# %%
on_device = all(p.device == device for p in net.parameters())
print("every parameter on the chosen device:", on_device)

# %% [markdown]
# ## Training with the data on the device
#
# Copying each minibatch from the CPU to the GPU at every step costs a transfer per step.
# Fashion-MNIST is small, so we copy all of it once and draw minibatches on the device. We
# copy the images as bytes (`uint8`, as {ref}`chap-dataset`'s in-memory loader keeps them)
# and convert them to `float32` on the device: a quarter of the bytes to copy.


# %%
def megabytes(*tensors):
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


X_train, y_train, X_test, y_test = load_fashion_mnist_tensors()
print(f"training images as uint8:   {megabytes(X_train):.1f} MiB")
print(f"the same as float32:        {4 * megabytes(X_train):.1f} MiB")
Xd_train = X_train.to(device).float() / 255  # copy bytes, convert there
Xd_test = X_test.to(device).float() / 255
yd_train, yd_test = y_train.to(device), y_test.to(device)

# %% tags=["remove-cell"]
# claim: a quarter of the bytes to copy
assert X_train.dtype == torch.uint8
assert megabytes(X_train) * 4 == megabytes(Xd_train)

# %% [markdown]
# `load_data_fashion_mnist(batch_size, device=device)` does the same for the d2l-style
# loaders.

# %%
train_iter, _ = load_data_fashion_mnist(256, device=device)
X, _ = next(iter(train_iter))
print("a batch:", tuple(X.shape), X.dtype)
print("on the chosen device:", X.device == device)

# %% [markdown]
# The chapter 4 model trains as before; `KerasModel` finds the device from the parameters.
# Two epochs in minibatches of 256 are enough to see it learn.

# %% tags=["nbval-ignore-output"]
torch.manual_seed(0)
model = KerasModel(make_net().to(device))
model.compile(optimizer="adam", metrics=["accuracy"])
history = model.fit(Xd_train, yd_train, epochs=2, batch_size=256)
_, test_acc = model.evaluate(Xd_test, yd_test, batch_size=1024, verbose=0)
print(f"test accuracy: {test_acc:.4f}")

# %% tags=["remove-cell"]
# Losses, accuracies and seconds depend on the hardware.
# claim: Two epochs in minibatches of 256 are enough to see it learn
assert test_acc >= 0.8, f"test accuracy {test_acc:.4f} is below 0.8"
assert len(history.history["loss"]) == 2
assert history.history["loss"][1] < history.history["loss"][0], history

# %% [markdown]
# ## Timing honestly
#
# A GPU works asynchronously: PyTorch puts each operation in a queue and returns to Python
# at once, while the GPU works through the queue. A clock read right after `A @ A` measures
# how long it took to *queue* the product, not to compute it. `torch.cuda.synchronize()`
# waits until the queue is empty; `helpers.time_it(fn, device)` synchronizes before and
# after `fn()`. On the CPU, operations finish before they return, so both clocks measure
# the work and differ only by noise.
#
# One timing is one sample: on a busy machine another program may take the processor in
# the middle of it. So where this chapter compares short timings, it takes the median of
# several samples, which a few slow ones do not move.

# %%
size = 4096 if on_gpu else 1024  # a product the device needs a moment for
A = torch.rand(size, size, device=device)
A @ A  # a first call pays one-off start-up costs; time the next ones


def timed_without_sync():
    start = time.perf_counter()
    A @ A
    return time.perf_counter() - start


def median_time(fn, dev, repeats=5):
    """The median of ``repeats`` timings of ``fn()`` on ``dev``."""
    return statistics.median(time_it(fn, dev) for _ in range(repeats))


# %% tags=["nbval-ignore-output"]
no_sync = statistics.median(timed_without_sync() for _ in range(5))
with_sync = median_time(lambda: A @ A, device)
matmul_flops = 2 * size**3 / with_sync  # multiply-adds count as two operations
print(f"without synchronize: {no_sync * 1000:.3f} ms")
print(f"with synchronize:    {with_sync * 1000:.3f} ms")
print(f"float32 product rate: {matmul_flops / 1e9:,.0f} GFLOP/s")

# %% tags=["remove-cell"]
# Timings depend on the hardware.
assert no_sync > 0 and with_sync > 0 and matmul_flops > 1e8
# claim: differ only by noise
assert on_gpu or 1 / 3 < no_sync / with_sync < 3, (no_sync, with_sync)
# claim: how long it took to *queue* the product
assert not on_gpu or no_sync < with_sync / 3, (no_sync, with_sync)

# %% [markdown]
# ## Where the GPU wins, and why
#
# One training step runs a few dozen small programs on the device (*kernels*): the
# matrix products, the ReLU, the loss, their gradients, Adam's update of every parameter
# tensor. Launching a kernel costs a few microseconds of CPU time (Python, autograd,
# PyTorch's dispatcher, the driver), whatever the kernel's size. Some of the work does not
# depend on the batch either: Adam updates every parameter once per step, whether the
# batch holds 32 images or 4096. For a batch of $B$ images, a step's time is roughly a
# fixed cost plus a cost per image,
#
# $$ t_\text{step}(B) \approx t_0 + B\,c, \qquad
#    c \approx \frac{\text{FLOP per image}}{\text{FLOP/s of the device}}. $$
#
# When $t_0$ dominates, the step is *fixed-cost-bound*: its time hardly changes with $B$, so
# larger batches are almost free, and faster arithmetic does not help. On a GPU running a
# small network, $t_0$ is mostly the launches, and such a step is called *launch-bound*.
# When $B\,c$ dominates, the step is *compute-bound*: the time grows with $B$, the device's
# arithmetic rate sets the speed, and a GPU's many cores pay off.
#
# We measure three networks: the chapter 4 MLP, an MLP 32 times wider, and a small
# convolutional network in the style of LeNet, d2l's next step after the MLP.


# %%
def wide_mlp():
    """An MLP with one hidden layer of 4096 units."""
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 4096), nn.ReLU(), nn.Linear(4096, 10)
    )  # fmt: skip


def lenet():
    """A LeNet-style CNN: two convolutions with pooling, three dense layers."""
    return nn.Sequential(
        nn.Unflatten(1, (1, 28)),  # [N, 28, 28] -> [N, 1, 28, 28]
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, 10),
    )  # fmt: skip


models = {"MLP": make_net, "wide MLP": wide_mlp, "LeNet": lenet}

# %% tags=["remove-cell"]
# claim: an MLP 32 times wider
assert wide_mlp()[1].out_features == 32 * make_net()[1].out_features

# %% [markdown]
# The arithmetic per image follows from the layers: a dense layer does
# $n_\text{in} \times n_\text{out}$ multiply-adds, a convolution $C_\text{in} k^2$ per
# output value, and a multiply-add counts as two floating-point operations (FLOP). The
# backward pass computes two products per layer, each the size of the forward one: the
# gradient of the weights, and the gradient of the layer's input, which the layer below
# needs. The first layer has no layer below, and its input, the images, needs no gradient,
# so PyTorch skips that product. A training step is thus three times the forward pass,
# less one product of the first layer. PyTorch's `FlopCounterMode` counts the products a
# step really runs:


# %%
def train_flops(net):
    """Floating-point operations of one training step, per image."""
    X, y = torch.zeros(1, 28, 28), torch.zeros(1, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        F.cross_entropy(net(X), y).backward()
    return counter.get_total_flops()


flops = {name: train_flops(make()) for name, make in models.items()}
for name, make in models.items():
    n = sum(p.numel() for p in make().parameters())
    mflop = flops[name] / 1e6
    print(f"{name:9} {n:>10,} parameters  {mflop:6.2f} MFLOP/image")

# %% [markdown]
# For the chapter 4 MLP, the count by hand agrees:

# %%
forward = 2 * (784 * 128 + 128 * 10)
weights = 2 * (784 * 128 + 128 * 10)  # the gradients of both weight matrices
inputs = 2 * 128 * 10  # the input gradient of layer 2 only
print(f"by hand:         {forward + weights + inputs:,} FLOP per image")
print(f"FlopCounterMode: {flops['MLP']:,} FLOP per image")

# %% [markdown]
# Three products for every layer would overstate the arithmetic of both MLPs by about half,
# since their first layer does almost all of it.

# %% tags=["remove-cell"]
# claim: three times the forward pass
# claim: the count by hand agrees
assert flops["MLP"] == forward + weights + inputs, (flops, forward, inputs)
# claim: overstate the arithmetic of both MLPs by about half
for name, widths in (("MLP", (784, 128, 10)), ("wide MLP", (784, 4096, 10))):
    naive = 6 * (widths[0] * widths[1] + widths[1] * widths[2])
    assert 1.4 < naive / flops[name] < 1.6, (name, naive, flops[name])

# %% [markdown]
# A plain training step, and a function that times it: the data stays on the device, and
# nothing inside the loop reads a value back to Python. After a warm-up step, the GPU
# times 5 runs of 20 steps (within a run, nothing waits for the GPU); to keep the chapter
# short, the CPU times single steps, as many as make about 500 images but at least 5. The
# rate comes from the median run.


# %%
def train_step(net, opt, X, y):
    loss = F.cross_entropy(net(X), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def throughput(make, dev, batch, X, y, step=train_step):
    """Training images per second of ``make()`` on ``dev`` at ``batch``."""
    torch.manual_seed(0)
    net = make().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    step(net, opt, X[:batch], y[:batch])  # warm-up
    per, runs = (20, 5) if dev.type == "cuda" else (1, max(5, 512 // batch))
    starts = iter([(i * batch) % (len(X) - batch) for i in range(per * runs)])

    def run():
        for s in itertools.islice(starts, per):
            step(net, opt, X[s : s + batch], y[s : s + batch])

    return per * batch / median_time(run, dev, runs)


# %% [markdown]
# We measure every network at three batch sizes on the CPU and, where there is one, on
# the GPU, where we add a fourth, larger batch.

# %%
cpu = torch.device("cpu")
data = {cpu: (Xd_train.cpu(), yd_train.cpu())}
batches = {cpu: (32, 256, 1024)}
if on_gpu:
    data[device] = (Xd_train, yd_train)
    batches[device] = (32, 256, 1024, 4096)
rates = {
    (name, dev.type, b): throughput(make, dev, b, *data[dev])
    for name, make in models.items()
    for dev in data
    for b in batches[dev]
}

# %% [markdown]
# For each measurement: images per second, the time of one step, and the arithmetic rate
# it achieved (FLOP per image times images per second).

# %% tags=["nbval-ignore-output"]
print(f"{'network':9}{'device':>7}{'batch':>6}{'throughput':>17}"
      f"{'step':>11}{'GFLOP/s':>9}")  # fmt: skip
for (name, dev, b), rate in rates.items():
    gflops = flops[name] * rate / 1e9
    print(f"{name:9}{dev:>7}{b:>6}{f'{rate:,.0f} img/s':>17}"
          f"{f'{b / rate * 1000:.2f} ms':>11}{gflops:>9.1f}")  # fmt: skip

# %% tags=["remove-cell"]
# depends on whether a GPU is present, and on the hardware
assert all(rate > 0 for rate in rates.values())
assert len(rates) == 3 * sum(len(b) for b in batches.values())
assert gflops > 0, gflops

# %% [markdown]
# For each network and device, the step times at the smallest and the largest batch give
# the two terms of $t_0 + B\,c$: if many times more images cost little more time, the step
# was paying a fixed cost, not for arithmetic. The cell below calls a step fixed-cost-bound
# when $t_0$ is more than half of it at the smallest batch.

# %% tags=["nbval-ignore-output"]
t0s, kinds = {}, {}
for name in models:
    for dev, bs in batches.items():
        lo, hi = bs[0], bs[-1]
        t_lo = lo / rates[(name, dev.type, lo)]
        t_hi = hi / rates[(name, dev.type, hi)]
        c = max(t_hi - t_lo, 0) / (hi - lo)  # seconds per image
        t0 = t0s[(name, dev.type)] = max(t_lo - lo * c, 0)
        fixed = t0 / t_lo  # the share of t_0 in a step at batch lo
        kind = "fixed-cost" if fixed > 0.5 else "compute"
        kinds[(name, dev.type)] = kind
        print(f"{name:9}{dev.type:>5}: t0 {t0 * 1e3:.2f} ms, {fixed:.0%}"
              f" of a step at batch {lo}: {kind}-bound")  # fmt: skip

# %% tags=["remove-cell"]
# depends on whether a GPU is present, and on the hardware
assert t_lo > 0 and t_hi > 0 and 0 <= fixed <= 1
assert kind in ("fixed-cost", "compute") and len(kinds) == len(t0s)
assert t0 >= 0 and lo < hi and batches and models, (t0, lo, hi)

# %% [markdown]
# And where there is a GPU, its speed-up over the CPU of the same machine at batch 256:

# %% tags=["nbval-ignore-output"]
if on_gpu:
    for name in models:
        ratio = rates[(name, "cuda", 256)] / rates[(name, "cpu", 256)]
        print(f"{name:9} at batch 256, GPU over CPU: {ratio:.1f}x")
else:
    print("no GPU here, so no GPU-over-CPU speed-up to show")

# %% tags=["remove-cell"]
# depends on whether a GPU is present, and on the hardware
assert on_gpu or len(rates) == 3 * len(models) == 9, rates
if on_gpu:
    assert ratio > 0, ratio
    # claim: where the GPU wins
    wide = rates[("wide MLP", "cuda", 256)] / rates[("wide MLP", "cpu", 256)]
    assert wide > 2, rates

# %% [markdown]
# How much of $t_0$ is Adam's update? We time `opt.step()` apart, the median of 21 calls,
# for each network on each device.


# %%
def adam_seconds(make, dev):
    """The median time of one Adam update of every parameter of ``make()``."""
    torch.manual_seed(0)
    net = make().to(dev)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    X, y = data[dev]
    F.cross_entropy(net(X[:32]), y[:32]).backward()
    opt.step()  # the first step allocates Adam's state
    return median_time(opt.step, dev, 21)


adam = {(name, dev.type): adam_seconds(make, dev)
        for name, make in models.items() for dev in data}  # fmt: skip

# %% tags=["nbval-ignore-output"]
for (name, dev), seconds in adam.items():
    print(f"{name:9}{dev:>5}: Adam's update {seconds * 1e3:.3f} ms,"
          f" t0 {t0s[(name, dev)] * 1e3:.2f} ms")  # fmt: skip

# %% tags=["remove-cell"]
# depends on whether a GPU is present, and on the hardware
assert all(s > 0 for s in adam.values()) and adam.keys() == t0s.keys()
# claim: 32 times as many parameters
counts = [sum(p.numel() for p in make().parameters())
          for make in (make_net, wide_mlp)]  # fmt: skip
assert 31 < counts[1] / counts[0] < 33, counts
# claim: its update takes many times longer
assert adam[("wide MLP", "cpu")] > 3 * adam[("MLP", "cpu")], adam

# %% [markdown]
# Adam's update does the same work at every batch size, and that work grows with the
# parameters: on the CPU, the wide MLP has 32 times as many parameters to update as the
# chapter 4 MLP, and its update takes many times longer. On a CPU nothing is launched onto
# another device: its fixed cost is work of this kind (Adam's update, allocating memory for
# the gradients) plus Python and PyTorch's dispatcher, which is why the table calls such a
# step *fixed-cost-bound*, not launch-bound. The estimate of $t_0$ from two batch sizes is
# rough, on a CPU especially: there the cost per image itself changes with the batch (small
# products run less efficiently; a large batch's activations may not fit in the caches),
# and the estimate absorbs that change, so it can miss the fixed cost either way; where it
# would be negative, the cell prints 0.
#
# On a GPU, the chapter 4 MLP at batch 32 is the extreme case: a few million multiply-adds
# per step, which a GPU finishes in less time than Python takes to launch the step's
# kernels, so the GPU waits for Python. The wider MLP and the CNN do many times more
# arithmetic per image, and larger batches give each kernel more of it; that is where a
# GPU's thousands of cores can be kept busy. Where this page ran on a GPU, the tables have
# rows for both devices, and the lines "GPU over CPU" above give the GPU's speed-up over
# the CPU of the same machine; where it ran on a CPU, there are no GPU rows, and the line
# in their place says so. Larger batches also change training: fewer updates per epoch,
# so the learning rate and the number of epochs may need to change with them.

# %% tags=["remove-cell"]
# claim: a few million multiply-adds
assert 2e6 < 32 * flops["MLP"] / 2 < 1e7, flops
# claim: the GPU waits for Python
assert not on_gpu or kinds[("MLP", "cuda")] == "fixed-cost", kinds
# claim: The wider MLP and the CNN do many times more
# claim: two networks that do more arithmetic per image
assert min(flops["wide MLP"], flops["LeNet"]) > 4 * flops["MLP"], flops

# %% [markdown]
# ## Removing the launch overhead: CUDA graphs
#
# When the step is launch-bound, the fix is to launch less. A *CUDA graph* records every
# kernel one step launches, with its arguments and memory addresses, once; replaying it
# then launches the whole step with a single call, and the GPU runs the kernels back to
# back. The price is that the recorded step is frozen:
#
# - **Static shapes and addresses.** The graph reads its input from the tensors it was
#   recorded with. Each step copies the next batch *into* those buffers (`copy_`), and every
#   batch must have the recorded shape.
# - **The last partial batch.** 60,000 is not a multiple of most batch sizes: drop the
#   remainder each epoch (it is a different part of the data after each shuffle), or run it
#   without the graph.
# - **Capturable optimizers.** Adam keeps a step counter that it normally reads on the CPU;
#   `Adam(..., capturable=True)` keeps it on the GPU so the update can be recorded.
# - **Warm-up.** Run a few ordinary steps on a side stream first, so that one-off work
#   (allocating Adam's state, choosing kernels) is not recorded.
# - **No Python inside.** Python runs only while the step is recorded: what it decides then
#   (an `if` on the epoch, a learning rate set from Python) is frozen into the graph, and
#   reading a value from the GPU (`.item()`, an `if` on a tensor) is an error during the
#   recording.
#
# `torch.compile(net, mode="reduce-overhead")` records CUDA graphs automatically, but only
# of what it compiles: the model's forward and backward passes. The optimizer's step is not
# part of the model; it runs outside the graphs, with its own launches, unless it is
# compiled too (a function that calls `opt.step()`, passed to `torch.compile`). We write
# the graph by hand to see each point, and record the whole step, the update included. On
# the CPU there is nothing to record, and the class below runs the same step eagerly, with
# the same buffers.


# %%
class GraphedStep:
    """A training step on fixed buffers, recorded as a CUDA graph on a GPU."""

    def __init__(self, net, X0, y0):
        self.net, self.X, self.y = net, X0.clone(), y0.clone()
        self.cuda = X0.device.type == "cuda"
        self.opt = torch.optim.Adam(net.parameters(), lr=1e-3,
                                    capturable=self.cuda)  # fmt: skip
        self.graph = self._record() if self.cuda else None

    def _step(self):
        loss = F.cross_entropy(self.net(self.X), self.y)
        loss.backward()
        self.opt.step()

    def __call__(self, X, y):
        self.X.copy_(X)
        self.y.copy_(y)
        if self.graph is None:
            self.opt.zero_grad(set_to_none=True)
            self._step()
        else:
            self.graph.replay()


# %% [markdown]
# The recording: warm-up on a side stream, then `torch.cuda.graph` records one step. The
# gradients are set to `None` just before the recording, and the recorded step itself has
# no `zero_grad`; {ref}`ex-gpu-3` asks why that is right.


# %%
def _record(self):
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):  # warm-up: Adam's state, cuBLAS's workspaces
            self.opt.zero_grad(set_to_none=True)
            self._step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    self.opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        self._step()
    return graph


GraphedStep._record = _record

# %% [markdown]
# An epoch with the graph: shuffle on the device, cut the shuffled data into full batches,
# and drop the remainder. How much that drops depends on the batch size:

# %%
for b in (32, 256, 1024):
    print(f"batch {b:4}: {len(Xd_train) // b:5} full batches,"
          f" {len(Xd_train) % b:4} images left over per epoch")  # fmt: skip

# %% [markdown]
# A different part of the data is left over after each shuffle, so over several epochs
# every image is used.


# %%
def fit_graphed(net, X, y, batch, epochs):
    """Train ``net`` with a recorded step; partial batches are dropped."""
    step = GraphedStep(net, X[:batch], y[:batch])
    full = len(X) // batch * batch
    for _ in range(epochs):
        perm = torch.randperm(len(X), device=X.device)
        Xs, ys = X[perm[:full]], y[perm[:full]]
        for i in range(0, full, batch):
            step(Xs[i : i + batch], ys[i : i + batch])
    return len(X) - full  # images dropped per epoch


def test_accuracy(net):
    with torch.no_grad():
        return (net(Xd_test).argmax(1) == yd_test).float().mean().item()


# %% [markdown]
# The chapter 4 MLP at batch 32, where a GPU waits for Python. First one epoch with
# ordinary steps (on the CPU: 5,000 images):

# %% tags=["remove-cell"]
# claim: where a GPU waits for Python
assert not on_gpu or kinds[("MLP", "cuda")] == "fixed-cost", kinds

# %%
n = len(Xd_train) if on_gpu else 5_000
torch.manual_seed(0)
net = make_net().to(device)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
seconds = time_it(lambda: [train_step(net, opt, Xd_train[i : i + 32],
                                      yd_train[i : i + 32])
                           for i in range(0, n, 32)], device)  # fmt: skip
runs = {"eager": (1, seconds, test_accuracy(net))}

# %% [markdown]
# Then, on a GPU, 10 epochs with the recorded step: the settings of chapter 4 (Keras's
# defaults: Adam with `lr=1e-3`, batch 32, ten epochs), here on all 60,000 training images.

# %%
if on_gpu:
    torch.manual_seed(0)
    net = make_net().to(device)
    seconds = time_it(lambda: fit_graphed(net, Xd_train, yd_train, 32, 10),
                      device)  # fmt: skip
    runs["graph"] = (10, seconds, test_accuracy(net))

# %% tags=["nbval-ignore-output"]
rate = {}
for how, (epochs, seconds, acc) in runs.items():
    rate[how] = epochs * n / seconds
    print(f"{how:6} {epochs:2} epoch(s) at batch 32: {seconds:.3f} s,"
          f" {rate[how]:,.0f} img/s, test accuracy {acc:.4f}")  # fmt: skip
if on_gpu:
    print(f"the graph trains {rate['graph'] / rate['eager']:.1f}x faster")
else:
    print("no GPU: no CUDA graph to record, so only the eager step ran")

# %% tags=["remove-cell"]
# depends on whether a GPU is present, and on the hardware
least = {"eager": 0.8 if on_gpu else 0.6, "graph": 0.85}
for how, (_, seconds, acc) in runs.items():
    assert seconds > 0 and acc >= least[how], (how, acc)
assert on_gpu == ("graph" in runs)
assert all(r > 0 for r in rate.values()), rate
# The printed "the graph trains ...x faster": a launch-bound step replayed
# with one launch instead of a few dozen (3x or more expected).
assert not on_gpu or rate["graph"] > 1.5 * rate["eager"], rate

# %% [markdown]
# ## Memory
#
# What must fit on the device: the data, the parameters, Adam's two running averages per
# parameter, the gradients, and the activations of one batch. The first ones are easy to
# compute from the shapes.

# %%
params = list(model.net.parameters())
print(f"training images: {megabytes(Xd_train):.1f} MiB (float32)")
print(f"test images:     {megabytes(Xd_test):.1f} MiB")
print(f"labels:          {megabytes(yd_train, yd_test):.1f} MiB")
print(f"parameters:      {megabytes(*params):.2f} MiB "
      "(x4 with gradients and Adam's state)")  # fmt: skip

# %% [markdown]
# On a GPU, `torch.cuda.max_memory_allocated` reports the most memory that tensors
# occupied since the last reset. PyTorch's caching allocator holds more than that: it keeps
# the blocks of freed tensors for reuse instead of returning them to the driver, and
# `torch.cuda.max_memory_reserved` reports the most it held. (`nvidia-smi` shows what the
# allocator holds, plus the memory of the CUDA context itself.) We reset both peaks, run
# one epoch at batch 1024, and compare them with what the resident tensors need.

# %% tags=["nbval-ignore-output"]
if on_gpu:
    torch.cuda.reset_peak_memory_stats(device)
    resident = torch.cuda.memory_allocated(device) / 2**20
    model.fit(Xd_train, yd_train, batch_size=1024, verbose=0)
    peak = torch.cuda.max_memory_allocated(device) / 2**20
    held = torch.cuda.max_memory_reserved(device) / 2**20
    total_gib = torch.cuda.get_device_properties(device).total_memory / 2**30
    print(f"allocated before the epoch:    {resident:.1f} MiB")
    print(f"peak allocated (tensors):      {peak:.1f} MiB")
    print(f"peak reserved (the allocator): {held:.1f} MiB")
    print(f"of the GPU's {total_gib:.0f} GiB")
else:
    print("no GPU: these functions measure CUDA memory only")

# %% tags=["remove-cell"]
# depends on whether a GPU is present
# claim: caching allocator holds more than that
assert not on_gpu or 0 < resident <= peak <= held < total_gib * 2**10
# claim: a small fraction of any current GPU's memory
data_mib = megabytes(Xd_train, Xd_test, yd_train, yd_test, *params)
assert data_mib < 512, data_mib
assert not on_gpu or held < total_gib * 2**10 / 4, (held, total_gib)

# %% [markdown]
# The whole data set and the model take a small fraction of any current GPU's memory, which
# is why keeping everything resident is the right choice here. With data sets that do not
# fit, a `DataLoader` with `pin_memory=True` and `non_blocking=True` copies overlaps the
# transfers with the computation.
#
# ## Mixed precision
#
# Numbers stored in 16 bits take half the memory and bandwidth of 32-bit floats, and the
# matrix units of recent GPUs multiply them many times faster. There are two 16-bit
# formats:
#
# - `float16` has 5 exponent bits and 10 stored mantissa bits ($\epsilon = 2^{-10}$,
#   about 3 significant digits), but its range ends at 65504; below about
#   $6 \times 10^{-5}$ (its smallest normal number) it loses precision, and below about
#   $3 \times 10^{-8}$ values round to zero: that is half of its smallest positive number,
#   $2^{-24} \approx 6 \times 10^{-8}$, and anything between rounds up to it. Small gradients
#   become zero.
# - `bfloat16` keeps float32's 8 exponent bits (the same range) and stores only 7 mantissa
#   bits ($\epsilon = 2^{-7}$, about 2 to 3 significant digits).

# %%
for dtype in (torch.float32, torch.float16, torch.bfloat16):
    info = torch.finfo(dtype)
    print(f"{str(dtype):15} eps {info.eps:.2e}  max {info.max:.2e}"
          f"  smallest {info.smallest_normal:.2e}")  # fmt: skip
print("1e-8 as float16:", torch.tensor(1e-8).half().item())
print("1e-8 as bfloat16:", torch.tensor(1e-8).bfloat16().item())
print("smallest float16 above 0:", 2.0**-24)
print(
    "3.1e-8, 2.9e-8 as float16:",
    torch.tensor([3.1e-8, 2.9e-8]).half().tolist(),
)

# %% tags=["remove-cell"]
# claim: values round to zero
# claim: round to zero in float16
assert torch.tensor(2.0**-25 * 0.99).half().item() == 0
assert torch.tensor(2.0**-25 * 1.01).half().item() == 2.0**-24
assert torch.tensor(2.0**-25 * 1.01).half().item() > 0
# claim: (its smallest normal number)
assert torch.finfo(torch.float16).smallest_normal == 2.0**-14  # about 6e-5

# %% [markdown]
# `torch.autocast` runs the operations that tolerate it, such as matrix products, in 16
# bits, and keeps the sensitive ones, such as the softmax inside the loss, in float32. The
# parameters themselves stay float32, so the small Adam updates are not rounded away. With
# float16 a `GradScaler` keeps small gradients from rounding to zero: it multiplies the loss
# by a large factor before the backward pass, divides the gradients by it before the update,
# and skips (and lowers the factor for) a step whose gradients overflowed. bfloat16 needs
# no scaler.
#
# Which one to use depends on the GPU. Fast bfloat16 arrived with NVIDIA's Ampere
# generation (compute capability 8.0 and above: the A100, the RTX 30 series and later
# GPUs). Older GPUs, such as Colab's free T4 (7.5), have fast float16 only. On a CPU,
# autocast uses bfloat16 unless told otherwise.


# %%
def half_dtype(dev):
    """bfloat16 where the device is fast at it, else float16."""
    if dev.type == "cuda" and torch.cuda.get_device_capability(dev) < (8, 0):
        return torch.float16
    return torch.bfloat16


# %% tags=["nbval-ignore-output"]
if on_gpu:
    print("compute capability:", torch.cuda.get_device_capability(device))
print("16-bit type for this device:", half_dtype(device))

# %% tags=["remove-cell"]
# depends on the device
assert half_dtype(cpu) == torch.bfloat16
assert half_dtype(device) in (torch.float16, torch.bfloat16)
assert torch.get_autocast_dtype("cpu") == torch.bfloat16

# %% [markdown]
# A `GradScaler` starts with a large factor and adapts it: it halves it after a step whose
# gradients overflowed, and doubles it after a run of good steps.

# %%
scaler = torch.amp.GradScaler(device.type)
print("a GradScaler's first factor:", scaler.get_scale())

# %% [markdown]
# Autocast wraps only the forward pass and the loss, never the backward pass or the
# optimizer step. (`KerasModel.compile(..., autocast=torch.bfloat16)` does the same inside
# each step; with `torch.float16` it also scales the loss with a `GradScaler`.) The
# optimizer is Adam with `fused=True`: one kernel updates every parameter,
# and with a scaler it takes the scale factor and the overflow check as tensors on the
# device. An ordinary Adam would make `scaler.step` read on the CPU whether a gradient
# overflowed: a synchronization at every step that only the float16 run pays, so comparing
# the formats would measure that wait as well. With a scaler, one epoch looks like this:


# %%
def fit_mixed(net, X, y, dtype, batch=256):
    """One epoch under autocast with ``dtype`` (float32: no autocast)."""
    dev = X.device.type
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, fused=True)
    scaler = torch.amp.GradScaler(dev, enabled=dtype == torch.float16)
    for i in range(0, len(X) - batch + 1, batch):
        with torch.autocast(dev, dtype=dtype, enabled=dtype != torch.float32):
            loss = F.cross_entropy(net(X[i : i + batch]), y[i : i + batch])
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


# %% [markdown]
# We train the wide MLP for one epoch of full batches of 256 (on the CPU: 8 batches) in
# float32 and in 16 bits: in float16 and in bfloat16 on a GPU of compute capability 8.0 or
# above, in float16 only on an older GPU, and in bfloat16 on the CPU, the type autocast
# uses there.

# %%
n = (len(Xd_train) if on_gpu else 2_048) // 256 * 256  # full batches
dtypes = [torch.float32, half_dtype(device)]
if on_gpu and half_dtype(device) == torch.bfloat16:
    dtypes.insert(1, torch.float16)
mixed = {}
for dtype in dtypes:
    torch.manual_seed(0)
    net = wide_mlp().to(device)
    fit_mixed(net, Xd_train[:256], yd_train[:256], dtype)  # warm-up
    seconds = time_it(lambda net=net, dtype=dtype: fit_mixed(
        net, Xd_train[:n], yd_train[:n], dtype), device)  # fmt: skip
    mixed[str(dtype)] = (seconds, test_accuracy(net))

# %% tags=["nbval-ignore-output"]
for name, (seconds, acc) in mixed.items():
    print(f"{name:15} {seconds:.3f} s  {n / seconds:,.0f} img/s  "
          f"test accuracy {acc:.4f}")  # fmt: skip
base = mixed["torch.float32"][0]
for name, (seconds, _) in list(mixed.items())[1:]:
    print(f"{name} over float32: {base / seconds:.1f}x on {device.type}")

# %% tags=["remove-cell"]
# Timings and accuracies depend on the hardware.
accs = [acc for _, acc in mixed.values()]
assert min(accs) >= (0.8 if on_gpu else 0.5), mixed
# claim: The accuracies are close
assert max(accs) - min(accs) < (0.03 if on_gpu else 0.05), mixed
assert base > 0 and n > 0 and device.type in ("cpu", "cuda"), (base, n)

# %% [markdown]
# The accuracies are close: the runs share their seed and their data, and 2 to 3
# significant digits are enough for this training. Whether 16 bits are faster depends on
# the hardware, which is why the speed-up is measured, not assumed. A GPU's matrix units
# run 16-bit products several times faster than float32 ones, provided the products are
# large enough to be compute-bound. A CPU needs instructions for it: recent server CPUs
# have bfloat16 instructions (AVX512-BF16 or AMX on x86, BF16 on Arm) and can multiply
# bfloat16 matrices faster than float32 ones; without them, bfloat16 is converted to
# float32 and back, and is often slower. On Linux, the CPU's flags say which kind it is:

# %% tags=["nbval-ignore-output"]
bf16_flags = None
if os.path.exists("/proc/cpuinfo"):
    with open("/proc/cpuinfo") as f:
        flags = set(f.read().split())
    bf16_flags = sorted(flags & {"avx512_bf16", "amx_bf16", "bf16"})
    print("bfloat16 instructions of this CPU:", bf16_flags or "none")
else:
    print("no /proc/cpuinfo here: look up the CPU's instruction sets")

# %% tags=["remove-cell"]
# depends on the CPU
assert bf16_flags is None or isinstance(bf16_flags, list), bf16_flags

# %% [markdown]
# ## Summary
#
# - Choose the device once (`try_gpu()`, falling back to the CPU) and pass it everywhere;
#   `helpers.try_all_gpus()` returns `[cpu]` where d2l 1.0.3 returns `[]`. `.cuda()`,
#   `.cuda(i)` and `.cpu()` are short forms of `.to(...)` that fail without a GPU.
# - `torch.version.cuda` says whether PyTorch is a CUDA build; `nvidia-smi` shows the
#   GPU, its driver, memory and load.
# - Results stay where their inputs are. Mixing devices is an error, except for CPU
#   scalars; reading a GPU value in Python (`.item()`, `print`) copies it and waits.
# - `net.to(device)` moves the parameters in place; `named_parameters()` shows where each
#   one lives. Keep the data resident on the device, moved as bytes and converted there.
# - GPU work is asynchronous: synchronize before reading the clock (`helpers.time_it`),
#   and compare medians of several timings.
# - A step costs a fixed part plus a part per image. On a GPU, small networks and small
#   batches are launch-bound: the GPU waits for Python. Work that ignores the batch size,
#   such as Adam's update, adds to the fixed part on any device. Wider layers, convolutions
#   and larger batches make steps compute-bound, where the GPU wins.
# - `FlopCounterMode` counts the products a step runs: three per layer, less the first
#   layer's input gradient, which nothing needs.
# - A CUDA graph records a whole step and replays it with one launch: static shapes, full
#   batches only, `capturable=True` for Adam, warm-up first.
# - `max_memory_allocated` counts the memory of tensors, `max_memory_reserved` what
#   PyTorch's caching allocator holds.
# - Autocast computes products in 16 bits with float32 parameters: bfloat16 from compute
#   capability 8.0, float16 with a `GradScaler` before (Colab's T4), with a fused Adam so
#   that no step waits for the overflow check.
#
# ## Exercises
#
# ````{exercise}
# :label: ex-gpu-1
# Keep the training data on the CPU and move each minibatch to the device inside the loop
# (`X.to(device)`). How much slower is an epoch of the chapter 4 MLP at batch 256 than
# with the data resident on the device?
# ````
#
# ````{exercise}
# :label: ex-gpu-2
# Add `print_loss = loss.item()` to `train_step`, as many training loops do to log the
# loss. What does it cost per step, and why more on a GPU than on the CPU?
# ````
#
# ````{exercise}
# :label: ex-gpu-3
# `GraphedStep` sets the gradients to `None` once, just before the recording, and the
# recorded step itself has no `zero_grad`. Why do the gradients not pile up from one replay
# to the next? What would go wrong if the gradients of the warm-up steps still existed when
# the step was recorded?
# ````
#
# ````{exercise}
# :label: ex-gpu-4
# A float16 weight `w` enters a small loss as `(w * 1e-4).float().sum() * 1e-4`, as
# under autocast (the layer in float16, the loss in float32). What is its gradient in
# float16, and how does multiplying the loss by 65536, as a `GradScaler` does, save it?
# ````
#
# ```{solution-start} ex-gpu-1
# :class: dropdown
# ```
# We time one epoch of each kind (on the CPU: 5,000 images), three times in turn, and
# compare the medians. A copy to the GPU from ordinary (pageable) memory first waits until
# the GPU has finished the work queued before it, and Python waits for the copy: each step
# now waits twice, and Python can no longer queue steps ahead of the GPU. On the CPU both
# epochs are the same work (the `.to` is a no-op), so the ratio is 1 up to noise there; the
# answer to the exercise appears when the line below says `cuda` (Colab's T4 will do).

# %%
X_host, y_host = Xd_train.cpu(), yd_train.cpu()
n = len(X_host) if on_gpu else 5_000
torch.manual_seed(0)
net = make_net().to(device)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)


def epoch(Xs, ys):
    for i in range(0, n, 256):
        X, y = Xs[i : i + 256].to(device), ys[i : i + 256].to(device)
        train_step(net, opt, X, y)


# %% tags=["nbval-ignore-output"]
sources = {"resident": (Xd_train, yd_train), "copied": (X_host, y_host)}
copy_s = {source: [] for source in sources}
for _ in range(3):  # in turn, so that a busy spell slows both kinds
    for source, Xy in sources.items():
        copy_s[source].append(time_it(lambda Xy=Xy: epoch(*Xy), device))
resident, copied = (statistics.median(t) for t in copy_s.values())
ratio = copied / resident
print(f"resident {resident:.3f} s, copied {copied:.3f} s:"
      f" {ratio:.1f}x on {device.type}")  # fmt: skip

# %% tags=["remove-cell"]
# depends on whether a GPU is present, and on the hardware
assert resident > 0 and copied > 0 and device.type in ("cpu", "cuda")
# claim: the ratio is 1 up to noise there
assert on_gpu or 1 / 3 < ratio < 3, copy_s
# claim: each step now waits twice
assert not on_gpu or ratio > 1, copy_s

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{solution-start} ex-gpu-2
# :class: dropdown
# ```
# `.item()` copies the loss to the CPU, and before it can, the CPU must wait until the GPU
# has run every kernel queued so far: the queue empties at every step, and the GPU sits
# idle while Python launches the next one. On the CPU, work is done when an operation
# returns, so `.item()` only reads one number, a cost too small to show above the noise of
# these timings.
#
# The cost per step is a difference of two step times, so it takes many steps to measure
# well: 200 of each kind, timed in runs of 20 that alternate between the two kinds, and
# the medians of the runs. The output says which device ran it.


# %%
def train_step_logged(net, opt, X, y):
    loss = F.cross_entropy(net(X), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()  # a copy, and a wait for the GPU


# %%
torch.manual_seed(0)
net = make_net().to(device)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)


def twenty_steps(step):
    for i in range(0, 20 * 32, 32):
        step(net, opt, Xd_train[i : i + 32], yd_train[i : i + 32])


twenty_steps(train_step_logged)  # warm-up
runs = {train_step: [], train_step_logged: []}
for _ in range(10):
    for step in runs:
        seconds = time_it(lambda step=step: twenty_steps(step), device)
        runs[step].append(seconds / 20)
plain, logged = (statistics.median(t) for t in runs.values())

# %% tags=["nbval-ignore-output"]
print(f"a step at batch 32:  {plain * 1e3:.3f} ms on {device.type}")
print(f"with .item():        {logged * 1e3:.3f} ms")
print(f"the cost per step:   {(logged - plain) * 1e6:.0f} µs")

# %% tags=["remove-cell"]
# depends on whether a GPU is present, and on the hardware
assert plain > 0 and logged > 0 and device.type in ("cpu", "cuda"), runs
# claim: too small to show above the noise
assert on_gpu or abs(logged - plain) < 0.5 * plain, runs

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{solution-start} ex-gpu-3
# :class: dropdown
# ```
# `loss.backward()` *adds* to existing `.grad` tensors, and writes new ones where there
# are none. With the gradients set to `None` before the recording, the recorded backward
# pass allocates them in the graph's memory pool and *writes* them; every replay runs the
# same kernels, which write them afresh, so nothing piles up. If the warm-up's gradients
# still existed at the recording, the recorded backward pass would add to them at every
# replay, and since nothing recorded resets them, the gradients would be the sum of every
# step so far. A `zero_grad(set_to_none=False)` *inside* the recorded step (it fills them
# with zeros) would work too, at the cost of one more kernel per step.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-gpu-4
# :class: dropdown
# ```
# Gradients below about $3 \times 10^{-8}$ (half of float16's smallest positive number)
# round to zero in float16: the weights stop changing. The scaler multiplies the loss (by
# its first factor, printed above), which lifts them into float16's range, and divides them
# again in float32 before the update. The gradient here is
# $10^{-4} \times 10^{-4} = 10^{-8}$, below that threshold:

# %%
w = torch.ones(2, dtype=torch.float16, device=device, requires_grad=True)


def tiny_loss():
    return (w * 1e-4).float().sum() * 1e-4  # float16 layer, float32 loss


tiny_loss().backward()
print("gradient in float16:      ", w.grad.tolist())
w.grad = None
(tiny_loss() * 65536).backward()  # what GradScaler does, by hand
print("with the loss scaled:     ", w.grad.tolist())
print("unscaled again in float32:", (w.grad.float() / 65536).tolist())

# %% tags=["remove-cell"]
# claim: The gradient here is
assert (w.grad.float() / 65536 - 1e-8).abs().max() < 1e-10, w.grad

# %% [markdown]
# ```{solution-end}
# ```
#
# Next: {ref}`chap-data-parallel` trains one model on several devices, or several
# machines, at once. The {ref}`performance` appendix collects the course's timings.
