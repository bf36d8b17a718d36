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
# (chap-data-parallel)=
# # Data-parallel training
#
# One device trains the MLP of {ref}`chap-keras-mlp` in seconds, but real models take days,
# and the first way to use more than one device, or more than one machine, is *data
# parallelism*: every worker holds a full copy of the model, each takes a different part of
# every minibatch, and the workers average their gradients before each update. This chapter
# writes that algorithm by hand with `torch.distributed`, then uses PyTorch's
# `DistributedDataParallel` (DDP), launches both with `torchrun`, resumes from a checkpoint
# on a different number of workers, and measures what the communication costs.
#
# Nothing here needs a GPU: the workers are processes on this machine's CPU, talking
# through the `gloo` backend. The same scripts run one process per GPU with `nccl`, and
# across machines, without a change.

# %%
import os
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from helpers import (
    TensorLoader,
    launch,
    load_fashion_mnist_tensors,
    torchrun_command,
)

# %% tags=["remove-cell"]
_ = torch.manual_seed(0)
# On 2 shared cores, two threads wait on each other and small steps run
# many times slower than with one; larger machines keep PyTorch's default.
if (os.cpu_count() or 1) <= 2:
    torch.set_num_threads(1)

# %% [markdown]
# ## The idea: split the batch, average the gradients
#
# Minibatch SGD updates the weights $\mathbf{w}$ with the gradient of the mean loss over a
# batch $\mathcal{B}$ of $B$ examples. Split the batch into $K$ equal parts
# $\mathcal{B}_1, \dots, \mathcal{B}_K$, one per worker. Because a mean of equal-sized
# means is the overall mean,
#
# $$
# \nabla_{\mathbf{w}} \frac{1}{B} \sum_{i \in \mathcal{B}} \ell_i
# = \frac{1}{K} \sum_{k=1}^{K} \underbrace{\nabla_{\mathbf{w}} \frac{K}{B}
#   \sum_{i \in \mathcal{B}_k} \ell_i}_{\text{worker } k\text{'s gradient}} .
# $$
#
# So each worker computes the usual gradient on its own $B/K$ examples, the workers sum
# their gradients and divide by $K$, and every worker applies the same update to the same
# weights. The collective operation that leaves the sum of everyone's tensor on everyone is
# called an **all-reduce**. If the workers start from the same weights, they stay identical,
# step after step, and the training is the same as on one worker with the whole batch.
#
# The model is the MLP of {ref}`chap-keras-mlp`:


# %%
def make_net():
    """The MLP of chapter 4."""
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )


loss = nn.CrossEntropyLoss()  # the mean over the batch
params = sum(p.numel() for p in make_net().parameters())
print(f"{params:,} parameters")

# %% [markdown]
# Each worker also needs its own share of the data. `TensorLoader` from
# {ref}`chap-dataset` takes a `rank` (the worker's number) and a `world_size` (the number
# of workers): all ranks draw the same shuffled order from `seed + epoch`, and rank $k$
# keeps every `world_size`-th index from position $k$, as PyTorch's `DistributedSampler`
# does. `set_epoch` moves every rank to the next epoch's order.

# %%
X_train, y_train, X_test, y_test = load_fashion_mnist_tensors()
for r in range(2):
    part = TensorLoader(X_train, y_train, 4, True, rank=r, world_size=2)
    part.set_epoch(0)
    labels = next(iter(part))[1].tolist()
    print(f"rank {r}: {len(part)} batches, first labels {labels}")

# %% [markdown]
# The two ranks see different examples and as many batches each; together they cover the
# epoch once.
#
# ## Workers are processes, launched by torchrun
#
# Each worker is a separate Python process, and the processes must find each other before
# they can all-reduce anything. PyTorch's launcher `torchrun` does that: it starts
# `--nproc_per_node` copies of a script and tells each its `RANK`, `WORLD_SIZE`,
# `LOCAL_RANK` and where to meet, through environment variables. The script then calls
# `torch.distributed.init_process_group`.
#
# From a notebook there is a catch: `torch.multiprocessing.spawn` would have to pickle a
# function defined in the notebook's `__main__`, which the child processes cannot import.
# So we write the training script to a file (IPython's `%%writefile`) and run `torchrun`
# on it. The scripts, and everything they write, go to a fresh temporary folder, which we
# make the working directory:

# %%
home = Path.cwd()
os.chdir(tempfile.mkdtemp(prefix="data-parallel-"))

# %% [markdown]
# ## All-reduce by hand
#
# The first script is data parallelism with nothing hidden. It starts like any worker: read
# the environment `torchrun` set, pick the backend (`helpers.pick_backend` returns `nccl`
# when every process has its own GPU, `gloo` otherwise) and join the group.

# %%
# %%writefile allreduce_train.py
import os
import sys

import torch
import torch.distributed as dist
from torch import nn

from helpers.data import load_fashion_mnist_tensors
from helpers.distributed import pick_backend
from helpers.loaders import TensorLoader

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
local_rank = int(os.environ["LOCAL_RANK"])
backend = pick_backend(world)
dist.init_process_group(backend)
device = torch.device(f"cuda:{local_rank}" if backend == "nccl" else "cpu")

# %% [markdown]
# Next, the model. To show why the starting weights need care, each rank seeds its
# generator differently, so the ranks start from different weights. A **broadcast** then
# copies rank 0's tensors to all ranks, and from there on they agree.

# %%
# %%writefile -a allreduce_train.py

torch.manual_seed(rank)  # a different start on each rank, on purpose
net = nn.Sequential(
    nn.Flatten(),
    nn.Linear(784, 128),
    nn.ReLU(),
    nn.Linear(128, 10),
).to(device)
for p in net.parameters():
    dist.broadcast(p.data, src=0)  # now every rank holds rank 0's weights

# %% [markdown]
# The loop is the usual one with two lines more: after `backward()`, every gradient is
# all-reduced (summed over the ranks, in place) and divided by the number of ranks. The
# script takes the batch size per rank, the number of steps and an output file; it uses
# only the images those steps need, and rank 0 saves the final weights.

# %%
# %%writefile -a allreduce_train.py

batch, steps, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
X, y, _, _ = load_fashion_mnist_tensors()
n = batch * world * steps  # the images these steps use
X, y = X[:n].to(device), y[:n].to(device)
loader = TensorLoader(X, y, batch, shuffle=True, rank=rank, world_size=world)
loader.set_epoch(0)
opt = torch.optim.SGD(net.parameters(), lr=0.1)
loss = nn.CrossEntropyLoss()
for Xb, yb in loader:
    opt.zero_grad()
    loss(net(Xb), yb).backward()
    for p in net.parameters():
        dist.all_reduce(p.grad)  # sum over the ranks
        p.grad /= world  # the mean of the ranks' gradients
    opt.step()
if rank == 0:
    torch.save(net.state_dict(), out)
dist.destroy_process_group()

# %% [markdown]
# `helpers.torchrun_command` writes the command line. On one machine it uses
# `--standalone`, which lets `torchrun` pick a free port for the meeting point, so two jobs
# started at once cannot collide. (It calls `torchrun` as `python -m torch.distributed.run`,
# the same program.)

# %%
STEPS = 50
args = ["128", str(STEPS), "allreduce.pt"]
command = torchrun_command("allreduce_train.py", 2, args)
print("python", " ".join(command[1:]))

# %% [markdown]
# `helpers.launch` runs that command in a subprocess and waits for it, with a timeout:
# a job that hangs is killed with all its workers and raises `LaunchTimeout`, and a job
# whose worker fails raises `LaunchError` with the failing rank's error. Two workers, 128
# images each per step:

# %%
tic = time.perf_counter()
launch("allreduce_train.py", 2, args, timeout=300)
print(f"2 workers, {STEPS} steps: {time.perf_counter() - tic:.3f} s")

# %% [markdown]
# Most of that time is starting the processes and importing PyTorch in each; the 50 steps
# themselves take a fraction of a second.
#
# ## The same steps as one worker with twice the batch
#
# The claim of the first section is testable. Here is the same training in this notebook,
# on one process, with batch 256: the same starting weights (rank 0's, seed 0), the same
# shuffled order (`seed + epoch`), and the full batch at each step.

# %%
torch.manual_seed(0)
net = make_net()
n = 256 * STEPS
loader = TensorLoader(X_train[:n], y_train[:n], 256, shuffle=True)
loader.set_epoch(0)
opt = torch.optim.SGD(net.parameters(), lr=0.1)
for X, y in loader:
    opt.zero_grad()
    loss(net(X), y).backward()
    opt.step()

# %% [markdown]
# The weights agree to float32 rounding: summing in a different order changes the last
# bits, nothing more.

# %%
# NBVAL_IGNORE_OUTPUT
# the last bits of float32 sums depend on the CPU's vector instructions
two = torch.load("allreduce.pt")
diffs = [(two[k] - v).abs().max().item() for k, v in net.state_dict().items()]
print(f"largest weight difference: {max(diffs):.2e}")
largest = max(v.abs().max().item() for v in two.values())
print(f"largest weight: {largest:.2f}")

# %% tags=["remove-cell"]
assert two.keys() == net.state_dict().keys()
assert max(diffs) < 1e-5, diffs
assert 0 < largest < 100, largest
for k, v in net.state_dict().items():
    assert torch.allclose(two[k], v, atol=1e-5), k

# %% [markdown]
# ## DistributedDataParallel
#
# The hand-written loop sends one message per parameter tensor and only after the whole
# backward pass. `torch.nn.parallel.DistributedDataParallel` wraps the model and does
# better:
#
# - at construction it **broadcasts** rank 0's weights, so the ranks start equal;
# - it groups gradients into **buckets** of about 25 MB and all-reduces a bucket as soon
#   as backward has filled it, **overlapping communication with the rest of backward**;
# - it averages, so `backward()` returns with the mean gradient on every rank.
#
# What it leaves to us: **shard the data** per rank (`TensorLoader(rank=, world_size=)`
# and `set_epoch`), **log and save checkpoints on rank 0 only** (otherwise every rank
# writes the same file at once), and **scale the learning rate** with the global batch,
# $B = K \times$ the batch per rank. With a linear scaling rule the rate stays
# proportional to $B$, here $0.1 \times B / 256$.
#
# The script starts as before and reads its arguments: the batch per rank, the number of
# epochs and the checkpoint file.

# %%
# %%writefile ddp_train.py
import os
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from helpers.data import load_fashion_mnist_tensors
from helpers.distributed import pick_backend
from helpers.loaders import TensorLoader

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
backend = pick_backend(world)
dist.init_process_group(backend)
local = int(os.environ["LOCAL_RANK"])
device = torch.device(f"cuda:{local}" if backend == "nccl" else "cpu")
if device.type == "cuda":
    torch.cuda.set_device(device)  # where nccl runs this rank's collectives
batch, epochs, ckpt = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])

# %% [markdown]
# The model and optimizer resume from the checkpoint when there is one, with the log of
# the epochs so far. Every rank reads the same file, so they agree before DDP even
# broadcasts. The learning rate is set from *this* run's global batch, not taken from the
# checkpoint.

# %%
# %%writefile -a ddp_train.py

torch.manual_seed(0)
net = nn.Sequential(
    nn.Flatten(),
    nn.Linear(784, 128),
    nn.ReLU(),
    nn.Linear(128, 10),
).to(device)
lr = 0.1 * batch * world / 256  # linear scaling with the global batch
opt = torch.optim.SGD(net.parameters(), lr=lr)
start, log = 0, []
if ckpt.exists():
    state = torch.load(ckpt, map_location=device)
    net.load_state_dict(state["net"])
    opt.load_state_dict(state["opt"])
    start, log = state["epoch"], state["log"]
for group in opt.param_groups:
    group["lr"] = lr
model = DistributedDataParallel(net)

# %% [markdown]
# For the cost section below, all ranks time an all-reduce of one tensor as large as all
# the gradients together.

# %%
# %%writefile -a ddp_train.py

grads = torch.zeros(sum(p.numel() for p in net.parameters()), device=device)
dist.barrier()
tic = time.perf_counter()
for _ in range(20):
    dist.all_reduce(grads)
comm = (time.perf_counter() - tic) / 20

# %% [markdown]
# After each epoch rank 0, and only rank 0, measures the test accuracy, adds a line to the
# log and saves the checkpoint, to a temporary name first, so that a crash mid-write
# never leaves half a file behind.

# %%
# %%writefile -a ddp_train.py

X, y, X_test, y_test = load_fashion_mnist_tensors()
X_test = X_test.to(device).unsqueeze(1).float() / 255


def save_and_log(epoch, seconds, steps):
    """Rank 0's work after an epoch: evaluate, log, checkpoint."""
    with torch.no_grad():
        pred = net(X_test).argmax(dim=1)
    acc = (pred == y_test.to(device)).float().mean().item()
    row = dict(world=world, batch=batch, epoch=epoch + 1, steps=steps)
    log.append(dict(row, seconds=seconds, allreduce_s=comm, acc=acc))
    head = f"epoch {epoch + 1}, world size {world}"
    print(f"{head}: {seconds:.3f} s, acc {acc:.3f}")
    state = dict(net=net.state_dict(), opt=opt.state_dict(), epoch=epoch + 1)
    torch.save(dict(state, log=log), ckpt.with_suffix(".tmp"))
    ckpt.with_suffix(".tmp").replace(ckpt)


# %% [markdown]
# The loop has no communication in sight: it happens inside `backward()`. Barriers around
# the epoch make the clock measure the slowest rank.

# %%
# %%writefile -a ddp_train.py

X, y = X.to(device), y.to(device)
loader = TensorLoader(X, y, batch, shuffle=True, rank=rank, world_size=world)
loss = nn.CrossEntropyLoss()
for epoch in range(start, start + epochs):
    loader.set_epoch(epoch)  # a new order, the same on every rank
    dist.barrier()
    tic = time.perf_counter()
    for Xb, yb in loader:
        opt.zero_grad()
        loss(model(Xb), yb).backward()  # gradients all-reduced in here
        opt.step()
    dist.barrier()
    if rank == 0:
        save_and_log(epoch, time.perf_counter() - tic, len(loader))
dist.destroy_process_group()

# %% [markdown]
# Two ranks with 128 images each (a global batch of 256, learning rate 0.1), one epoch
# over all 60,000 training images:

# %%
# NBVAL_IGNORE_OUTPUT
# the timing depends on the machine and its load
out = launch("ddp_train.py", 2, ["128", "1", "mlp.pt"], timeout=300)
print(out, end="")

# %% tags=["remove-cell"]
assert "epoch 1, world size 2:" in out, out

# %% [markdown]
# ## Resuming on a different number of workers
#
# A checkpoint written by rank 0 holds plain tensors: nothing in it depends on how many
# ranks wrote it. We resume the run on **one** worker with batch 256, the same global batch,
# so the same learning rate, and train a second epoch:

# %%
# NBVAL_IGNORE_OUTPUT
# the timing depends on the machine and its load
resumed = launch("ddp_train.py", 1, ["256", "1", "mlp.pt"], timeout=300)
print(resumed, end="")

# %% tags=["remove-cell"]
assert "world size 1:" in resumed, resumed

# %% [markdown]
# The checkpoint carries the log of every epoch, whichever run wrote it:

# %%
# NBVAL_IGNORE_OUTPUT
# timings and the last digits of the accuracy depend on the machine
logs = torch.load("mlp.pt")["log"]
for row in logs:
    print(
        f"epoch {row['epoch']}: {row['world']} rank(s) x {row['batch']}, "
        f"{row['steps']} steps, test accuracy {row['acc']:.3f}"
    )

# %% tags=["remove-cell"]
runs = [(r["world"], r["epoch"], r["batch"]) for r in logs]
assert runs == [(2, 1, 128), (1, 2, 256)], logs
assert [r["steps"] for r in logs] == [235, 235], logs
assert 0.70 < logs[0]["acc"] < 0.86 and 0.74 < logs[1]["acc"] < 0.88, logs
assert torch.load("mlp.pt")["epoch"] == 2

# %% [markdown]
# The second epoch, on one worker, continued where two workers stopped: its accuracy is
# at least as good as after the first.
#
# ## Several machines
#
# On several machines `torchrun` runs once per machine ("node"), and the launchers meet at
# a **rendezvous**: `--rdzv-backend=c10d` keeps the meeting point in a small key-value
# store served by one of them, at `--rdzv-endpoint=HOST:PORT`, which every node is given.
# `--nnodes` says how many launchers to wait for, `--node-rank` which one this is, and
# `--rdzv-id` names the job so that two jobs on the same store do not mix. Ranks are then
# numbered across all nodes, `LOCAL_RANK` within a node. The commands for two nodes, with
# two processes each, with the first machine at `10.0.0.1`:

# %%
for node in range(2):
    cmd = torchrun_command(
        "ddp_train.py",
        2,
        ["128", "1", "mlp.pt"],
        nnodes=2,
        node_rank=node,
        endpoint="10.0.0.1:29400",
    )
    print(f"node {node}:", " ".join(cmd[3:]))

# %% [markdown]
# The scripts do not change: `RANK` and `WORLD_SIZE` now count all four processes. The
# course's tests run exactly this path on one machine, as two launchers on `127.0.0.1`
# (`tests/test_data_parallel.py`), so it is executed and not only described.
#
# ## When a worker fails
#
# If one rank raises, the others are left waiting in their next all-reduce for a partner
# that will never come. `torchrun` watches its workers: when one exits with an error it
# stops the others and exits with a report that names the failed rank and its exception.
# `helpers.launch` turns that report into a `LaunchError`, and its `timeout` kills a job
# that hangs for any other reason (a rendezvous that never completes, a deadlock) and
# raises `LaunchTimeout`. The tests start a worker that raises at step 10 and check that
# the whole job ends with a clear error within a bounded time.
#
# ## What it costs
#
# Each step, every rank computes on its share of the batch and then waits for the
# all-reduce of all gradients: for this MLP, every parameter in float32.

# %%
grad_bytes = 4 * params
print(f"{params:,} parameters: {grad_bytes / 1e6:.2f} MB of gradients")

# %% [markdown]
# Measured on this machine (rank 0's clock, the slowest rank included by the barriers),
# per step: the computation is the epoch time divided by the steps, the communication is
# the all-reduce of a tensor of that size timed by the script.

# %%
# NBVAL_IGNORE_OUTPUT
# the timings depend on the machine and its load
print(f"CPU cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
for row in sorted(logs, key=lambda r: r["world"]):
    step = row["seconds"] / row["steps"]
    print(
        f"{row['world']} process(es): epoch {row['seconds']:.3f} s, "
        f"step {step * 1e3:.1f} ms, "
        f"all-reduce {row['allreduce_s'] * 1e3:.1f} ms"
    )

# %% tags=["remove-cell"]
assert all(r["seconds"] > 0 and r["allreduce_s"] > 0 for r in logs), logs
for row in logs:
    step = row["seconds"] / row["steps"]
    assert step > 0, row

# %% [markdown]
# On a CPU the two processes share the cores that one process had, so the computation
# per rank halves at best, while the all-reduce is added to every step. With as few cores
# as a course runner has, two processes are no faster than one (exercise 5 adds four).
# Data parallelism pays when each worker brings its own compute: a GPU, or a machine.
#
# How much it pays is a matter of two times per step. With $K$ workers, batch $B$ and a
# model of $P$ float32 parameters, a ring all-reduce sends and receives
# $2\frac{K-1}{K} \cdot 4P$ bytes per worker, so
#
# $$
# t_\text{step} \approx \frac{t_\text{compute}(B)}{K}
# + 2\,\frac{K-1}{K}\,\frac{4P}{\text{bandwidth}} + \text{latency},
# $$
#
# unless DDP hides the second term behind the backward pass. A back-of-the-envelope
# estimate for 8 GPUs in one node (NVLink) and for 2 such nodes (a 100 Gbit/s network
# between them), with round figures that are assumptions, not measurements:

# %%
FLOPS = 100e12  # assumed sustained float32 rate of one GPU, FLOP/s
LINKS = {
    "8 GPUs, 1 node": (8, 200e9),  # NVLink, bytes/s
    "16 GPUs, 2 nodes": (16, 12.5e9),  # 100 Gbit/s between the nodes
}
LATENCY = 20e-6  # assumed fixed cost of one all-reduce, s
for name, size in (("this MLP", params), ("100x larger", 100 * params)):
    compute = 6 * size * 256 / FLOPS  # 6 FLOP per parameter per example
    for link, (k, bandwidth) in LINKS.items():
        comm = 2 * (k - 1) / k * 4 * size / bandwidth + LATENCY
        print(
            f"{name:11} {link:16} compute {compute * 1e6:5.1f} us, "
            f"all-reduce {comm * 1e6:6.1f} us, "
            f"{compute / (compute + comm):.0%} busy"
        )

# %% [markdown]
# Each GPU computes 256 images per step here. For this MLP a step is so short that the
# fixed cost of an all-reduce alone exceeds it: more GPUs only add waiting. For the model
# 100 times larger the computation grows 100-fold, but so do the bytes; within a node
# NVLink keeps the communication in the same range as the computation (and DDP overlaps
# much of it with backward), while between two nodes the network is the bottleneck. Larger
# batches per GPU raise the computation per byte sent, which is why large-scale training
# uses them; exercise 3 asks how large.
#
# ## On a machine with one GPU
#
# Colab and most laptops have at most one GPU. There, `pick_backend` returns `nccl` for a
# one-process job, which then trains on the GPU (the resumed run above), and `gloo` for
# the two-process jobs, which train on the CPU: NCCL refuses two ranks on the same GPU.
# Everything in this chapter runs; only the speed differs. With $K$ GPUs,
# `--nproc_per_node=K` gives each rank its own `cuda:LOCAL_RANK`.
#
# ## Summary
#
# - Data parallelism: every worker holds the model, takes $1/K$ of each batch, and the
#   gradients are averaged by an all-reduce, so all copies take the same steps. Two
#   workers with batch 128 reach the same weights as one with batch 256, to float
#   rounding.
# - Notebooks cannot `mp.spawn` their own functions: write the script to a file and start
#   it with `torchrun`, with a timeout (`helpers.launch`). `gloo` serves CPUs, `nccl` GPUs.
# - `DistributedDataParallel` broadcasts the initial weights and overlaps bucketed
#   all-reduces with backward. We still shard the data per rank with a per-epoch seed,
#   save and log on rank 0 only, and scale the learning rate with the global batch.
# - A rank-0 checkpoint resumes on any number of workers; keep the global batch, or
#   rescale the learning rate.
# - Several machines: one `torchrun` per node, meeting at a c10d rendezvous endpoint.
# - Communication costs about $2 \cdot 4P$ bytes per worker and step: it pays only when
#   the computation per step is large against it.
#
# ## Exercises
#
# ````{exercise}
# :label: ex-dp-1
# With 3 workers and batch 128 per worker, how many steps does one epoch of the 60,000
# training images take, and how many images does each rank see, padding included?
# ````
#
# ````{exercise}
# :label: ex-dp-2
# In `allreduce_train.py`, remove the broadcast after the model is built. Which assertion
# of this chapter fails, and why does training still run without an error?
# ````
#
# ````{exercise}
# :label: ex-dp-3
# In the estimate above, how many images per GPU per step does the model 100 times
# larger need before the computation is at least 4 times the all-reduce between two
# nodes?
# ````
#
# ````{exercise}
# :label: ex-dp-4
# Resume the checkpoint on 4 workers with batch 128 each. What learning rate does the
# script use, and why not 0.1?
# ````
#
# ````{exercise}
# :label: ex-dp-5
# Add a row with 4 processes to the cost table: delete `mlp.pt`, then run
# `ddp_train.py` on 1, 2 and 4 processes in turn. Explain the times from the number of
# cores of your machine.
# ````
#
# ```{solution-start} ex-dp-1
# :class: dropdown
# ```
# `TensorLoader` pads the epoch to a multiple of the number of ranks, then each rank
# takes every third index:

# %%
share = TensorLoader(X_train, y_train, 128, shuffle=True, rank=0, world_size=3)
print(f"{share._num_samples():,} images per rank, {len(share)} steps")

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{solution-start} ex-dp-2
# :class: dropdown
# ```
# Each rank then starts from its own random weights (seeded by its rank). The all-reduce
# still averages the gradients, so every rank takes the same *update*, but applies it to
# different weights: the copies never agree, and the weights saved by rank 0 differ from
# the single-process run, so the equivalence assertion fails. Nothing checks that the
# copies agree, which is why DDP broadcasts the weights for us.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-dp-3
# :class: dropdown
# ```
# The computation grows with the images per GPU, the all-reduce does not:

# %%
size, (k, bandwidth) = 100 * params, LINKS["16 GPUs, 2 nodes"]
comm = 2 * (k - 1) / k * 4 * size / bandwidth + LATENCY
per_image = 6 * size / FLOPS
print(f"{4 * comm / per_image:,.0f} images per GPU per step")

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{solution-start} ex-dp-4
# :class: dropdown
# ```
# The global batch is $4 \times 128 = 512$, so the linear scaling rule gives
# $0.1 \times 512 / 256 = 0.2$. With 0.1 each step would average over twice as many
# images but move the weights no further, and training would progress more slowly per
# epoch. The script sets `lr` from its own global batch, after loading the checkpoint.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-dp-5
# :class: dropdown
# ```
# Each run starts fresh, so every row times the same first epoch: `launch("ddp_train.py",
# k, [str(256 // k), "1", "mlp.pt"])` for `k` in 1, 2, 4, reading `torch.load("mlp.pt")
# ["log"]` after each. With fewer cores than processes, the processes take turns on the
# cores: the computation per epoch does not shrink, and every step adds an all-reduce
# and the switching between processes, so 4 processes are slower than 2. On a machine
# with at least 4 free cores, or 4 GPUs, the computation per rank falls to about a
# quarter, and the time of the all-reduce decides how close the speed-up comes to 4.
# ```{solution-end}
# ```
#
# %% tags=["remove-cell"]
import shutil  # noqa: E402 - clean-up only

work = Path.cwd()
os.chdir(home)
shutil.rmtree(work)

# %% [markdown]
# Next: the {ref}`performance` appendix collects timings of all chapters on CPU and GPU.
