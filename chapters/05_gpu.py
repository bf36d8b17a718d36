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
# (chap-gpu)=
# # Using the GPU
#
# A GPU runs thousands of arithmetic operations at once, and deep learning is mostly large
# matrix products, which is exactly the work it is built for. Using one in PyTorch takes
# little code: choose a device, put the data and the model there, and the same training
# loop runs on it. Using it *well* takes a few more ideas: the data should already be on the
# device, each step should give the GPU enough work, the clock must wait for the GPU before
# it stops, the many small launches of a step can be recorded once and replayed, and
# lower-precision arithmetic makes each step cheaper. This chapter trains the MLP of
# {ref}`chap-keras-mlp` and two larger networks on whatever device is available and
# measures each of these points live.
#
# Every cell also runs on a machine without a GPU: there it uses the CPU, runs fewer steps,
# and says what it could not show.

# %%
import os
import shutil
import subprocess
import time

import torch
from d2l import torch as d2l
from torch import nn
from torch.nn import functional as F

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

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
print("CUDA available:", torch.cuda.is_available())
print("device count:  ", torch.cuda.device_count())
for i in range(torch.cuda.device_count()):
    print(f"cuda:{i}:", torch.cuda.get_device_name(i))
print("CPU threads:   ", torch.get_num_threads())

# %% tags=["remove-cell"]
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

# %%
# NBVAL_IGNORE_OUTPUT
# depends on the installed build of PyTorch
print("torch:             ", torch.__version__)
print("torch.version.cuda:", torch.version.cuda)
print("a CUDA build:      ", torch.version.cuda is not None)
if torch.cuda.is_available():
    print("cuDNN:             ", torch.backends.cudnn.version())

# %% tags=["remove-cell"]
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
# ### `nvidia-smi`
#
# NVIDIA's driver ships `nvidia-smi`, which prints one block per GPU. Its header gives the
# driver and the newest CUDA it supports. Per GPU: `Name`; `Persistence-M` (driver kept
# loaded); `Bus-Id` (PCIe address); `Disp.A` (a display attached); `Volatile Uncorr. ECC`
# (memory errors); `Fan`, `Temp`, `Perf` (performance state, P0 fastest to P12 idle);
# `Pwr:Usage/Cap` (watts); `Memory-Usage` (used of total); `GPU-Util` (share of the last
# sample period in which a kernel ran, not how much of the chip it used); `Compute M.`;
# `MIG M.` (split into instances). Below, the processes holding GPU memory.

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU (and its driver) is present
smi = shutil.which("nvidia-smi")
if smi:
    print(subprocess.run([smi], capture_output=True, text=True).stdout)
else:
    print("no nvidia-smi here: this machine has no NVIDIA driver")

# %% tags=["remove-cell"]
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

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
print("try_gpu():        ", try_gpu())
print("try_gpu(7):       ", try_gpu(7))
print("try_all_gpus():   ", try_all_gpus())
print("d2l.try_all_gpus():", d2l.try_all_gpus())

# %% tags=["remove-cell"]
assert try_all_gpus() == (d2l.try_all_gpus() or [torch.device("cpu")])
assert try_gpu(7).type in ("cpu", "cuda")

# %% [markdown]
# We choose the device once, here, and use `device` everywhere below.

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
device = try_gpu()
on_gpu = device.type == "cuda"
print("device:", device)

# %% tags=["remove-cell"]
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

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
y = x.to(device)
z = torch.rand(2, 3, device=device)
print("y:", y.device, " z:", z.device, " y + z:", (y + z).device)
print("x is y:", x is y)

# %% tags=["remove-cell"]
assert y.device == z.device == (y + z).device == device, (y, z)
assert (x is y) == (x.device == device), x

# %%
same = y.device == z.device == (y + z).device == device
print("y, z and y + z on the chosen device:", same)
print("x is still on:", x.device)

# %% [markdown]
# Much code written for GPUs uses shorter spellings: `x.cuda()` is `x.to("cuda")` (the
# current GPU, `cuda:0` unless changed), `x.cuda(i)` is `x.to(f"cuda:{i}")`, and `x.cpu()`
# is `x.to("cpu")`. They are fine in a script that only ever runs on a GPU; on a machine
# without one, `.cuda()` raises, which is why this course writes `.to(device)`.

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
try:
    w = x.cuda()
    print("x.cuda():", w.device, " x.cuda(0):", x.cuda(0).device)
    print("w.cpu(): ", w.cpu().device)
    moved = True
except (RuntimeError, AssertionError) as err:
    error = f"{type(err).__name__}: {str(err).splitlines()[0]}"
    print(error)
    moved = False

# %% tags=["remove-cell"]
assert moved == on_gpu
assert moved or error.startswith(("RuntimeError", "AssertionError")), error
assert x.device.type == "cpu", x
assert not moved or w.device == torch.device("cuda:0")

# %% [markdown]
# ### Mixing devices
#
# An operation whose inputs sit on different devices is an error: PyTorch does not copy a
# tensor over the PCIe bus on its own, because such a copy can cost more than the operation.
# Here is the error PyTorch raises for `x + y`, with `x` on the CPU and `y` on the chosen
# device (on a machine without a GPU both are on the CPU, and there is no error):

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
mixing_error = None
try:
    print("no error, the result is on", (x + y).device)
except RuntimeError as err:
    mixing_error = str(err)
    print("RuntimeError:", mixing_error)

# %% tags=["remove-cell"]
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

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
net = net.cuda() if on_gpu else net.to(device)
for name, p in net.named_parameters():
    print(f"{name:9} {str(tuple(p.shape)):11} {p.device}")
print("output:", net(torch.rand(4, 28, 28, device=device)).device)

# %% tags=["remove-cell"]
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
# Fashion-MNIST is small, so we copy all of it once and draw minibatches on the device. As
# {ref}`chap-dataset` recommends, we move the images as bytes (`uint8`) and convert them to
# `float32` on the device: a quarter of the bytes to copy.


# %%
def megabytes(*tensors):
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


X_train, y_train, X_test, y_test = load_fashion_mnist_tensors()
print(f"training images as uint8:   {megabytes(X_train):.1f} MiB")
print(f"the same as float32:        {4 * megabytes(X_train):.1f} MiB")
Xd_train = X_train.to(device).float() / 255  # copy bytes, convert there
Xd_test = X_test.to(device).float() / 255
yd_train, yd_test = y_train.to(device), y_test.to(device)

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

# %%
# NBVAL_IGNORE_OUTPUT
# Losses, accuracies and seconds depend on the hardware.
torch.manual_seed(0)
model = KerasModel(make_net().to(device))
model.compile(optimizer="adam", metrics=["accuracy"])
history = model.fit(Xd_train, yd_train, epochs=2, batch_size=256)
_, test_acc = model.evaluate(Xd_test, yd_test, batch_size=1024, verbose=0)
print(f"test accuracy: {test_acc:.4f}")

# %% tags=["remove-cell"]
assert test_acc >= 0.8, f"test accuracy {test_acc:.4f} is below 0.8"
assert len(history.history["loss"]) == 2

# %% [markdown]
# ## Timing honestly
#
# A GPU works asynchronously: PyTorch puts each operation in a queue and returns to Python
# at once, while the GPU works through the queue. A clock read right after `A @ A` measures
# how long it took to *queue* the product, not to compute it. `torch.cuda.synchronize()`
# waits until the queue is empty; `helpers.time_it(fn, device)` synchronizes before and
# after `fn()`. On the CPU, operations finish before they return, so both clocks measure
# the work and differ only by noise.

# %%
size = 4096 if on_gpu else 1024  # a product the device needs a moment for
A = torch.rand(size, size, device=device)
A @ A  # a first call pays one-off start-up costs; time the second


def timed_without_sync():
    start = time.perf_counter()
    A @ A
    return time.perf_counter() - start


# %%
# NBVAL_IGNORE_OUTPUT
# Timings depend on the hardware.
no_sync = timed_without_sync()
with_sync = time_it(lambda: A @ A, device)
matmul_flops = 2 * size**3 / with_sync  # multiply-adds count as two operations
print(f"without synchronize: {no_sync * 1000:.1f} ms")
print(f"with synchronize:    {with_sync * 1000:.1f} ms")
print(f"float32 product rate: {matmul_flops / 1e9:,.0f} GFLOP/s")

# %% tags=["remove-cell"]
assert no_sync > 0 and with_sync > 0 and matmul_flops > 1e8

# %% [markdown]
# ## Where the GPU wins, and why
#
# One training step runs a few dozen small programs on the device (*kernels*): the
# matrix products, the ReLU, the loss, their gradients, Adam's update of every parameter
# tensor. Launching a kernel costs a few microseconds of CPU time (Python, autograd,
# PyTorch's dispatcher, the driver), whatever the kernel's size. For a batch of $B$
# images, a step's time is roughly a fixed cost plus a cost per image,
#
# $$ t_\text{step}(B) \approx t_0 + B\,c, \qquad
#    c \approx \frac{\text{FLOP per image}}{\text{FLOP/s of the device}}. $$
#
# When $t_0$ dominates, the step is *launch-bound*: its time hardly changes with $B$, so
# larger batches are almost free, and a faster device does not help. When $B\,c$
# dominates, it is *compute-bound*: the time grows with $B$, the device's arithmetic rate
# sets the speed, and a GPU's many cores pay off.
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

# %% [markdown]
# The arithmetic per image follows from the layers: a dense layer does
# $n_\text{in} \times n_\text{out}$ multiply-adds, a convolution
# $C_\text{in} k^2$ per output value. A training step costs about three times the
# forward pass (the backward pass computes two products per layer), and a multiply-add
# counts as two floating-point operations (FLOP).


# %%
def train_flops(net):
    """Floating-point operations of one training step, per image."""
    macs = []

    def count(layer, inputs, out):
        if isinstance(layer, nn.Linear):
            macs.append(layer.in_features * layer.out_features)
        elif isinstance(layer, nn.Conv2d):
            k = layer.kernel_size[0] * layer.kernel_size[1]
            macs.append(out[0].numel() * layer.in_channels * k)

    hooks = [m.register_forward_hook(count) for m in net.modules()]
    net(torch.zeros(1, 28, 28))
    for hook in hooks:
        hook.remove()
    return 3 * 2 * sum(macs)


flops = {name: train_flops(make()) for name, make in models.items()}
for name, make in models.items():
    n = sum(p.numel() for p in make().parameters())
    mflop = flops[name] / 1e6
    print(f"{name:9} {n:>10,} parameters  {mflop:6.2f} MFLOP/image")

# %% [markdown]
# A plain training step, and a function that times it: the data stays on the device, and
# nothing inside the loop reads a value back to Python. On the GPU each configuration
# runs 100 steps after a warm-up; on the CPU about 500 images, to keep the chapter short.


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
    steps = 100 if dev.type == "cuda" else max(1, 512 // batch)
    starts = [(i * batch) % (len(X) - batch) for i in range(steps)]
    step(net, opt, X[:batch], y[:batch])  # warm-up

    def run():
        for s in starts:
            step(net, opt, X[s : s + batch], y[s : s + batch])

    seconds = time_it(run, dev)
    return steps * batch / seconds


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

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present, and on the hardware
print(f"{'network':9}{'device':>7}{'batch':>6}{'throughput':>17}"
      f"{'step':>11}{'GFLOP/s':>9}")  # fmt: skip
for (name, dev, b), rate in rates.items():
    gflops = flops[name] * rate / 1e9
    print(f"{name:9}{dev:>7}{b:>6}{f'{rate:,.0f} img/s':>17}"
          f"{f'{b / rate * 1000:.2f} ms':>11}{gflops:>9.1f}")  # fmt: skip

# %% tags=["remove-cell"]
assert all(rate > 0 for rate in rates.values())
assert len(rates) == 3 * sum(len(b) for b in batches.values())
assert gflops > 0, gflops

# %% [markdown]
# The table answers both questions. For each network and device, the step times at the
# smallest and the largest batch give the two terms of $t_0 + B\,c$: if many times more
# images cost little more time, the step was paying a fixed cost, not for arithmetic. (On
# a CPU, the estimated fixed cost also holds the lower efficiency of small products.)

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present, and on the hardware
for name in models:
    for dev, bs in batches.items():
        lo, hi = bs[0], bs[-1]
        t_lo = lo / rates[(name, dev.type, lo)]
        t_hi = hi / rates[(name, dev.type, hi)]
        c = max(t_hi - t_lo, 0) / (hi - lo)  # seconds per image
        t0 = max(t_lo - lo * c, 0)
        fixed = t0 / t_lo  # the share of t_0 in a step at batch lo
        kind = "launch" if fixed > 0.5 else "compute"
        print(f"{name:9}{dev.type:>5}: t0 {t0 * 1e3:.2f} ms, {fixed:.0%}"
              f" of a step at batch {lo}: {kind}-bound")  # fmt: skip
if on_gpu:
    for name in models:
        ratio = rates[(name, "cuda", 256)] / rates[(name, "cpu", 256)]
        print(f"{name:9} at batch 256, GPU over CPU: {ratio:.1f}x")

# %% tags=["remove-cell"]
assert t_lo > 0 and t_hi > 0 and 0 <= fixed <= 1
assert kind in ("launch", "compute")
assert t0 >= 0 and lo < hi and batches and models, (t0, lo, hi)
if on_gpu:
    assert ratio > 0, ratio

# %% [markdown]
# On a GPU, the chapter 4 MLP at batch 32 is the extreme case: about a hundred thousand
# multiply-adds per image, a few million per step, which a GPU finishes in less time than
# Python takes to launch the step's kernels. The GPU waits, and a CPU, which launches
# nothing, can keep up with it: on a GPU machine, compare the rows of the two devices at
# batch 32. The wider MLP and the CNN do many times more arithmetic per image, and larger
# batches give each kernel more of it; that is where a GPU's thousands of cores can be
# kept busy, and the last lines above give the GPU's speed-up over the CPU on the machine
# that ran this page. Larger batches also change training: fewer updates per epoch, so the
# learning rate and the number of epochs may need to change with them.
#
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
# - **No Python inside.** Anything Python decides at each step (an `if` on a value, a
#   `.item()`) is recorded once and never looked at again.
#
# `torch.compile(net, mode="reduce-overhead")` applies the same idea automatically. We
# write the graph by hand to see each point. On the CPU there is nothing to record, and
# the class below runs the same step eagerly, with the same buffers.


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
# gradients are set to `None` before the recording, so the backward pass that is
# recorded writes them afresh at every replay instead of adding to old ones.


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
# The chapter 4 MLP at batch 32, the launch-bound case. First one epoch with ordinary
# steps (on the CPU: 5,000 images):

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
# Then, on a GPU, 10 epochs with the recorded step: the training that chapter 4 ran with
# Keras's defaults.

# %%
if on_gpu:
    torch.manual_seed(0)
    net = make_net().to(device)
    seconds = time_it(lambda: fit_graphed(net, Xd_train, yd_train, 32, 10),
                      device)  # fmt: skip
    runs["graph"] = (10, seconds, test_accuracy(net))

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present, and on the hardware
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
least = {"eager": 0.8 if on_gpu else 0.6, "graph": 0.85}
for how, (_, seconds, acc) in runs.items():
    assert seconds > 0 and acc >= least[how], (how, acc)
assert on_gpu == ("graph" in runs)
assert all(r > 0 for r in rate.values()), rate

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
# On a GPU, `torch.cuda.max_memory_allocated` reports the largest amount PyTorch's
# allocator held since the last reset. We reset it, run one epoch at batch 1024, and compare
# the peak with what the resident tensors need.

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
if on_gpu:
    torch.cuda.reset_peak_memory_stats(device)
    resident = torch.cuda.memory_allocated(device) / 2**20
    model.fit(Xd_train, yd_train, batch_size=1024, verbose=0)
    peak = torch.cuda.max_memory_allocated(device) / 2**20
    total_gib = torch.cuda.get_device_properties(device).total_memory / 2**30
    print(f"allocated before the epoch: {resident:.1f} MiB")
    print(f"peak during the epoch:      {peak:.1f} MiB")
    print(f"of the GPU's {total_gib:.0f} GiB")
else:
    print("no GPU: torch.cuda.max_memory_allocated measures CUDA memory only")

# %% tags=["remove-cell"]
assert not on_gpu or 0 < resident <= peak < total_gib * 2**10

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
#   $6 \times 10^{-5}$ it loses precision, and below $6 \times 10^{-8}$ values round to
#   zero: small gradients vanish.
# - `bfloat16` keeps float32's 8 exponent bits (the same range) and stores only 7 mantissa
#   bits ($\epsilon = 2^{-7}$, about 2 to 3 significant digits).

# %%
for dtype in (torch.float32, torch.float16, torch.bfloat16):
    info = torch.finfo(dtype)
    print(f"{str(dtype):15} eps {info.eps:.2e}  max {info.max:.2e}"
          f"  smallest {info.smallest_normal:.2e}")  # fmt: skip
print("1e-8 as float16:", torch.tensor(1e-8).half().item())
print("1e-8 as bfloat16:", torch.tensor(1e-8).bfloat16().item())

# %% [markdown]
# `torch.autocast` runs the operations that tolerate it, such as matrix products, in 16
# bits, and keeps the sensitive ones, such as the softmax inside the loss, in float32. The
# parameters themselves stay float32, so the small Adam updates are not rounded away. With
# float16 a `GradScaler` is needed against vanishing gradients: it multiplies the loss by a
# large factor before the backward pass, divides the gradients by it before the update,
# and skips (and lowers the factor for) a step whose gradients overflowed. bfloat16 needs
# no scaler.
#
# Which one to use depends on the GPU. Fast bfloat16 arrived with NVIDIA's Ampere
# generation (compute capability 8.0: A100, RTX 30xx and later). Older GPUs, such as
# Colab's free T4 (7.5), have fast float16 only. CPUs use bfloat16.


# %%
def half_dtype(dev):
    """bfloat16 where the device is fast at it, else float16."""
    if dev.type == "cuda" and torch.cuda.get_device_capability(dev) < (8, 0):
        return torch.float16
    return torch.bfloat16


# %%
# NBVAL_IGNORE_OUTPUT
# depends on the device
if on_gpu:
    print("compute capability:", torch.cuda.get_device_capability(device))
print("16-bit type for this device:", half_dtype(device))

# %% tags=["remove-cell"]
assert half_dtype(cpu) == torch.bfloat16
assert half_dtype(device) in (torch.float16, torch.bfloat16)

# %% [markdown]
# A `GradScaler` starts with a large factor and adapts it: it halves it after a step whose
# gradients overflowed, and doubles it after a run of good steps.

# %%
scaler = torch.amp.GradScaler(device.type)
print("a GradScaler's first factor:", scaler.get_scale())

# %% [markdown]
# Autocast wraps only the forward pass and the loss, never the backward pass or the
# optimizer step. (`KerasModel.compile(..., autocast=torch.bfloat16)` does the same inside
# each step.) With a scaler, one epoch looks like this:


# %%
def fit_mixed(net, X, y, dtype, batch=256):
    """One epoch under autocast with ``dtype`` (float32: no autocast)."""
    dev = X.device.type
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler(dev, enabled=dtype == torch.float16)
    for i in range(0, len(X) - batch + 1, batch):
        with torch.autocast(dev, dtype=dtype, enabled=dtype != torch.float32):
            loss = F.cross_entropy(net(X[i : i + batch]), y[i : i + batch])
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()


# %% [markdown]
# We train the wide MLP for one epoch at batch 256 (on the CPU: 2,000 images) in float32
# and in each 16-bit type the device does fast: float16 and bfloat16 from compute
# capability 8.0 on, only float16 before, only bfloat16 on the CPU.

# %%
n = len(Xd_train) if on_gpu else 2_000
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

# %%
# NBVAL_IGNORE_OUTPUT
# Timings and accuracies depend on the hardware.
for name, (seconds, acc) in mixed.items():
    print(f"{name:15} {seconds:.3f} s  {n / seconds:,.0f} img/s  "
          f"test accuracy {acc:.4f}")  # fmt: skip
base = mixed["torch.float32"][0]
for name, (seconds, _) in list(mixed.items())[1:]:
    print(f"{name} over float32: {base / seconds:.1f}x on {device.type}")

# %% tags=["remove-cell"]
accs = [acc for _, acc in mixed.values()]
assert min(accs) >= (0.8 if on_gpu else 0.5), mixed
assert max(accs) - min(accs) < (0.03 if on_gpu else 0.05), mixed
assert base > 0 and n > 0 and device.type in ("cpu", "cuda"), (base, n)

# %% [markdown]
# The accuracies agree to within run-to-run variation: 2 to 3 significant digits are
# enough for this training. Whether 16 bits are faster depends on the hardware, which is
# why the speed-up is measured, not assumed: most CPUs have no fast 16-bit arithmetic,
# while a GPU's matrix units run 16-bit products several times faster than float32 ones,
# provided the products are large enough to be compute-bound.
#
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
# - GPU work is asynchronous: synchronize before reading the clock (`helpers.time_it`).
# - Small networks and small batches are launch-bound: the GPU waits for Python. Wider
#   layers, convolutions and larger batches make steps compute-bound, where the GPU wins.
# - A CUDA graph records a whole step and replays it with one launch: static shapes, full
#   batches only, `capturable=True` for Adam, warm-up first.
# - Autocast computes products in 16 bits with float32 parameters: bfloat16 from compute
#   capability 8.0, float16 with a `GradScaler` before (Colab's T4).
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
# Why does the recorded step in `fit_graphed` set the gradients to `None` before the
# recording, and what would go wrong if the graph was recorded with
# `zero_grad(set_to_none=False)` left out of it?
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
# We time one epoch of each kind. On the CPU both are the same work (the `.to` is a
# no-op), so this solution's numbers mean something on a GPU; the page's stored GPU run
# shows them.

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present, and on the hardware
X_host, y_host = Xd_train.cpu(), yd_train.cpu()
n = len(X_host) if on_gpu else 5_000
copy_s = {}
for source in ("resident", "copied"):
    torch.manual_seed(0)
    net = make_net().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    Xs, ys = (Xd_train, yd_train) if source == "resident" else (X_host, y_host)

    def epoch(net=net, opt=opt, Xs=Xs, ys=ys):
        for i in range(0, n, 256):
            X, y = Xs[i : i + 256].to(device), ys[i : i + 256].to(device)
            train_step(net, opt, X, y)

    copy_s[source] = time_it(epoch, device)
ratio = copy_s["copied"] / copy_s["resident"]
print(f"resident {copy_s['resident']:.3f} s, copied {copy_s['copied']:.3f} s:"
      f" {ratio:.1f}x on {device.type}")  # fmt: skip

# %% tags=["remove-cell"]
assert ratio > 0 and all(s > 0 for s in copy_s.values())
assert device.type in ("cpu", "cuda"), device

# %% [markdown]
# On a GPU each step now waits for a copy over PCIe from pageable memory; for a model this
# small the copy is a large part of the step.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-gpu-2
# :class: dropdown
# ```
# `.item()` copies the loss to the CPU, and before it can, the CPU must wait until the GPU
# has run every kernel queued so far: the queue empties at every step, and the GPU sits
# idle while Python launches the next one. On the CPU, work is done when an operation
# returns, so the cost is only the small copy. The numbers below come from the machine
# that ran this page; the GPU's are in the page's stored GPU run.


# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present, and on the hardware
def train_step_logged(net, opt, X, y):
    loss = F.cross_entropy(net(X), y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()  # a copy, and a wait for the GPU


plain = throughput(make_net, device, 32, Xd_train, yd_train)
logged = throughput(make_net, device, 32, Xd_train, yd_train,
                    step=train_step_logged)  # fmt: skip
print(f"batch 32: {plain:,.0f} img/s, with .item(): {logged:,.0f} img/s")

# %% tags=["remove-cell"]
assert plain > 0 and logged > 0

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{solution-start} ex-gpu-3
# :class: dropdown
# ```
# `loss.backward()` *adds* to existing `.grad` tensors. If they exist when the step is
# recorded, the recorded backward pass adds to them at every replay, and since nothing
# recorded resets them, the gradients would grow with every step. With `set_to_none=True`
# before the recording, the backward pass allocates the gradients inside the graph's
# memory pool and writes (not adds) them, so each replay starts afresh. A `zero_grad`
# *inside* the recorded step (with `set_to_none=False`, which fills with zeros) would work
# too, at the cost of one more kernel per step.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-gpu-4
# :class: dropdown
# ```
# Gradients below float16's smallest value round to zero: the weights stop changing. The
# scaler multiplies the loss (by its first factor, printed above), which lifts them into
# float16's range, and divides them again in float32 before the update. The gradient here is
# $10^{-4} \times 10^{-4} = 10^{-8}$, below float16's smallest value:

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

# %% [markdown]
# ```{solution-end}
# ```
#
# Next: the {ref}`performance` appendix collects timings of all chapters on CPU and GPU.
