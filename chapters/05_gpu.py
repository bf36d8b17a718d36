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
# device, the batches should be big enough to keep it busy, the clock must wait for the GPU
# before it stops, and lower-precision arithmetic can make each step cheaper. This chapter
# trains the MLP of {ref}`chap-keras-mlp` on whatever device is available and measures each
# of these points live.
#
# Every cell also runs on a machine without a GPU: there it uses the CPU, runs smaller
# measurements, and says what a GPU would have shown.

# %%
import os
import time

import torch
from d2l import torch as d2l
from torch import nn

from helpers import (
    KerasModel,
    check_gpu_requirement,
    load_data_fashion_mnist,
    load_fashion_mnist_tensors,
    time_it,
    try_all_gpus,
    try_gpu,
)

# %% tags=["remove-cell"]
# %config InlineBackend.figure_formats = ["retina"]
_ = torch.manual_seed(0)
# On a 2-core runner shared with other jobs, two threads wait on each other and small steps
# run many times slower than with one; larger machines keep PyTorch's default.
if (os.cpu_count() or 1) <= 2:
    torch.set_num_threads(1)

# %% [markdown]
# When the course is run where a GPU is expected (a GPU runner in CI sets the environment
# variable `COURSE_REQUIRE_GPU=1`), a missing GPU must be an error, not a silent fall-back
# to the CPU that would make every timing below meaningless. `check_gpu_requirement` raises
# in that case and does nothing otherwise.

# %%
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
if torch.cuda.is_available():
    print("current device:", torch.cuda.current_device())
print("CPU threads:   ", torch.get_num_threads())

# %% [markdown]
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

# %% [markdown]
# We choose the device once, here, and use `device` everywhere below.

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
device = try_gpu()
on_gpu = device.type == "cuda"
print("device:", device)

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

# %% [markdown]
# Whatever the device, the copy and the new tensor are where we asked, and `x` has not moved:

# %%
print("y, z and y + z on the chosen device:", y.device == z.device == (y + z).device == device)
print("x is still on:", x.device)

# %% [markdown]
# PyTorch never moves data between devices behind our back: an operation whose inputs sit
# on different devices is an error, because a silent copy over the PCIe bus could cost more
# than the operation itself. On a GPU machine, `x + y` with `x` on the CPU and `y` on
# `cuda:0` raises
# `RuntimeError: Expected all tensors to be on the same device, but found at least two
# devices, cuda:0 and cpu!`. We can produce a real device mismatch on any machine with
# PyTorch's `meta` device, which stores only shapes and dtypes, no data:

# %%
a = torch.ones(2, 3, device="meta")
try:
    a + torch.ones(2, 3)
except RuntimeError as err:
    print("RuntimeError:", err)

# %% [markdown]
# And the same with the device chosen above: on a GPU this shows PyTorch's message; on the
# CPU both tensors are on the same device, so there is nothing to complain about.

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
try:
    print("no error, result on", (x + y).device, "(x and y are on the same device)")
except RuntimeError as err:
    print("RuntimeError:", err)

# %% [markdown]
# The cure is always an explicit `.to(...)`: `x.to(device) + y`, or `y.cpu()` to bring a
# result back, e.g. for NumPy or matplotlib, which only read CPU memory.
#
# ## A model on a device
#
# `net.to(device)` moves every parameter (and buffer) of the network; unlike a tensor's
# `.to`, it changes the module in place and returns it. The input must then be on the same
# device.


# %%
def make_net():
    """The MLP of chapter 4."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


net = make_net()
print("parameters:", sum(p.numel() for p in net.parameters()))
print("before:", {p.device.type for p in net.parameters()})

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present
net.to(device)
print("after: ", {str(p.device) for p in net.parameters()})
print("output:", net(torch.rand(4, 28, 28, device=device)).device)

# %%
print("every parameter on the chosen device:", all(p.device == device for p in net.parameters()))

# %% [markdown]
# ## Training with the data on the device
#
# Copying each minibatch from the CPU to the GPU at every step costs a transfer per step.
# Fashion-MNIST is small (below), so we copy all of it once and draw minibatches on the
# device. `load_data_fashion_mnist(batch_size, device=device)` does this for the d2l-style
# loaders; with `KerasModel` we move the tensors ourselves.

# %%
X_train, y_train, X_test, y_test = load_fashion_mnist_tensors()
X_train, X_test = X_train.float() / 255, X_test.float() / 255
Xd_train, yd_train = X_train.to(device), y_train.to(device)
Xd_test, yd_test = X_test.to(device), y_test.to(device)
train_iter, _ = load_data_fashion_mnist(256, device=device)
X, _ = next(iter(train_iter))
print("a loader batch:", tuple(X.shape), "on the chosen device:", X.device == device)

# %% [markdown]
# The chapter 4 model trains as before; `KerasModel` finds the device from the parameters.
# Two epochs in minibatches of 256 are enough to see it learn.

# %%
# NBVAL_IGNORE_OUTPUT
# Losses, accuracies and seconds depend on the hardware.
torch.manual_seed(0)
model = KerasModel(make_net().to(device))
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
history = model.fit(Xd_train, yd_train, epochs=2, batch_size=256)
test_loss, test_acc = model.evaluate(Xd_test, yd_test, batch_size=1024, verbose=0)
print(f"test accuracy: {test_acc:.4f}")

# %% tags=["remove-cell"]
assert test_acc >= 0.8, f"test accuracy {test_acc:.4f} is below 0.8"

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
A = torch.rand(2048, 2048, device=device)
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
print(f"without synchronize: {no_sync * 1000:.1f} ms")
print(f"with synchronize:    {with_sync * 1000:.1f} ms")
if not on_gpu:
    print("(no GPU: the CPU computes A @ A before returning, so both clocks measure the work)")

# %% [markdown]
# ## How batch size decides the speed
#
# One training step runs a few dozen small GPU programs (kernels): two matrix products, the
# ReLU, the loss, their gradients, Adam's update of four parameter tensors. Each launch costs
# a few microseconds of CPU time, whatever its size. At batch 32 the first matrix product
# is $32 \times 784$ by $784 \times 128$, about 3 million multiply-adds, which a GPU finishes
# in less time than the launch takes: the GPU waits for Python. Larger batches do more work
# per launch, so more images per second, until the GPU is busy.
#
# We measure training throughput (images per second) for three batch sizes on the CPU and,
# if there is one, on the GPU. On the CPU we time a 10,000-image slice to keep the chapter
# short; on the GPU, the full training set. The epoch time is computed from the throughput.


# %%
def throughput(device, batch_size, n):
    """Images per second of one training epoch over the first ``n`` images, on ``device``."""
    torch.manual_seed(0)
    m = KerasModel(make_net().to(device))
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    X, y = X_train[:n].to(device), y_train[:n].to(device)
    m.fit(X[: 4 * batch_size], y[: 4 * batch_size], batch_size=batch_size, verbose=0)  # warm-up
    return n / time_it(lambda: m.fit(X, y, batch_size=batch_size, verbose=0), device)


devices = {"cpu": 10_000} | ({str(device): len(X_train)} if on_gpu else {})
rates = {(d, b): throughput(torch.device(d), b, n) for d, n in devices.items()
         for b in (32, 256, 1024)}  # fmt: skip

# %%
# NBVAL_IGNORE_OUTPUT
# depends on whether a GPU is present, and on the hardware
print(f"{'device':8}{'batch':>6}{'throughput':>18}{'epoch (60,000)':>16}")
for (d, b), rate in rates.items():
    print(f"{d:8}{b:>6}{f'{rate:,.0f} img/s':>18}{f'{len(X_train) / rate:.3f} s':>16}")
for d in devices:
    print(f"{d}: batch 1024 is {rates[(d, 1024)] / rates[(d, 32)]:.1f}x faster than batch 32")
for b in (32, 256, 1024):
    if on_gpu:
        print(f"GPU over CPU at batch {b}: {rates[(str(device), b)] / rates[('cpu', b)]:.1f}x")
if not on_gpu:
    print("no GPU: only the CPU was measured")

# %% [markdown]
# Larger batches help on every device: fewer Python steps per epoch, and larger products
# that use the hardware better. Whether the GPU beats the CPU is another question, and the
# answer depends on the machine. This MLP is tiny: even at batch 1024 a step is a few
# million multiply-adds, and the fixed cost of each step (Python, autograd, launching
# kernels, Adam's loop over the parameters) is a large part of it, so a CPU with many cores
# can keep up with a GPU, while a laptop's two cores cannot. The GPU pays off when each
# kernel has enough work: wider layers, convolutions, larger batches (exercises 2 and 3).
# Larger batches also change training: fewer updates per epoch, so the learning rate and
# the number of epochs may need to change with them.
#
# ## Memory
#
# What must fit on the device: the data, the parameters, Adam's two running averages per
# parameter, the gradients, and the activations of one batch. The first ones are easy to
# compute from the shapes.


# %%
def megabytes(*tensors):
    return sum(t.numel() * t.element_size() for t in tensors) / 2**20


params = list(model.net.parameters())
print(f"training images: {megabytes(Xd_train):.1f} MiB")
print(f"test images:     {megabytes(Xd_test):.1f} MiB")
print(f"labels:          {megabytes(yd_train, yd_test):.1f} MiB")
print(f"parameters:      {megabytes(*params):.2f} MiB (x4 with gradients and Adam's state)")

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
    print(f"allocated before the epoch: {resident:.1f} MiB")
    print(f"peak during the epoch:      {peak:.1f} MiB")
    print(f"of the GPU's {torch.cuda.get_device_properties(device).total_memory / 2**30:.0f} GiB")
else:
    print("no GPU: torch.cuda.max_memory_allocated measures CUDA memory only. On a GPU it")
    print("would show the resident tensors above plus a few MiB of activations per batch.")

# %% [markdown]
# The whole data set and the model take a small fraction of any current GPU's memory, which
# is why keeping everything resident is the right choice here. With data sets that do not
# fit, a `DataLoader` with `pin_memory=True` and `non_blocking=True` copies overlaps the
# transfers with the computation.
#
# ## Mixed precision
#
# Numbers stored in 16 bits take half the memory and bandwidth of 32-bit floats, and recent
# GPUs multiply them several times faster. `bfloat16` keeps float32's 8 exponent bits (so
# the same range, no overflow) with only 8 bits of mantissa (about 3 significant digits).
# `torch.autocast` runs the operations that tolerate it, such as matrix products, in
# bfloat16, and keeps the sensitive ones, such as the softmax inside the loss, in float32.
# The parameters themselves stay float32, so the small Adam updates are not rounded away.

# %%
print("float32 :", torch.finfo(torch.float32).eps, torch.finfo(torch.float32).max)
print("bfloat16:", torch.finfo(torch.bfloat16).eps, torch.finfo(torch.bfloat16).max)
with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
    print("inside autocast, a product is", (torch.ones(2, 2) @ torch.ones(2, 2)).dtype)

# %% [markdown]
# Autocast should wrap only the forward pass and the loss, never the optimizer step. While
# its context is open it caches the bfloat16 copies of the weights it has made; a context
# opened around the whole of `fit` would keep computing with the copies of the first step
# and the network would learn nothing (we tried: accuracy below chance, and no error). So
# `KerasModel.compile(..., autocast=torch.bfloat16)` opens a fresh context inside each step,
# around the two lines `logits = self.net(X)` and `loss = self.loss(logits, Y)`.
#
# Autocast exists on the CPU too, but most CPUs have no fast bfloat16 arithmetic, so there
# it mostly shows that the code is correct. We train the same model for one epoch at batch
# 256, in float32 and under autocast, from the same initial weights (on the CPU, on 20,000
# images), and compare speed and test accuracy.


# %%
def train_once(autocast, n):
    torch.manual_seed(0)
    m = KerasModel(make_net().to(device))
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"],
              autocast=torch.bfloat16 if autocast else None)  # fmt: skip
    seconds = time_it(lambda: m.fit(Xd_train[:n], yd_train[:n], batch_size=256, verbose=0), device)
    _, acc = m.evaluate(Xd_test, yd_test, batch_size=1024, verbose=0)
    return seconds, acc, next(m.net.parameters()).dtype


n = len(X_train) if on_gpu else 20_000
results = {name: train_once(flag, n) for name, flag in (("float32", False), ("bf16", True))}

# %%
# NBVAL_IGNORE_OUTPUT
# Timings and accuracies depend on the hardware.
for name, (seconds, acc, dtype) in results.items():
    print(f"{name:8} {seconds:.3f} s  test accuracy {acc:.4f}  parameters {dtype}")
print(f"speed-up: {results['float32'][0] / results['bf16'][0]:.1f}x on {device.type}")

# %% tags=["remove-cell"]
for name, (_, acc, dtype) in results.items():
    assert acc >= 0.75, (name, acc)
    assert dtype == torch.float32, (name, dtype)
assert abs(results["float32"][1] - results["bf16"][1]) < 0.03, results

# %% [markdown]
# The accuracies agree to within normal run-to-run variation: 3 significant digits are
# enough for this training. Whether bfloat16 is faster depends on the hardware, which is
# why the speed-up is measured, not assumed. For a model as small as this one the matrix
# products are a minor part of a step, so even a GPU gains little; the gain grows with the
# size of the matrices.
#
# ## Summary
#
# - Choose the device once (`try_gpu()`, falling back to the CPU) and pass it everywhere;
#   `helpers.try_all_gpus()` returns `[cpu]` where d2l 1.0.3 returns `[]`.
# - Tensors are created on the CPU; `.to(device)` and `device=` put them on the GPU, and
#   results stay where their inputs are. Mixing devices is an error, never a silent copy.
# - `net.to(device)` moves the parameters in place. Keep the data resident on the device
#   when it fits, as Fashion-MNIST easily does.
# - GPU work is asynchronous: synchronize before reading the clock (`helpers.time_it`).
# - Small batches leave a GPU waiting on Python; throughput grows with the batch size.
# - `torch.autocast` with bfloat16 keeps float32 parameters and computes products in 16
#   bits, at the same accuracy here.
#
# ## Exercises
#
# 1. Time one epoch with the data on the CPU and only each minibatch moved to the GPU
#    (`X.to(device)` inside the loop). How much of the step is the copy?
# 2. Extend the throughput table to batch sizes 4096 and 16384. Where does a GPU stop
#    getting faster?
# 3. Make the hidden layer 4096 units wide and repeat the mixed-precision comparison. Does
#    bfloat16 now pay off?
# 4. Remove the synchronizations from `time_it` and time the throughput again on a GPU.
#    Which numbers become wrong, and by how much?
# 5. Run this notebook with `COURSE_REQUIRE_GPU=1` on a machine without a GPU. Which cell
#    fails, and why is a loud failure better than a fall-back here?
#
# Next: the {ref}`performance` appendix collects timings of all chapters on CPU and GPU.
