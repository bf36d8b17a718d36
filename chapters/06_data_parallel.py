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
import textwrap
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
from helpers.distributed import run_here

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
# keeps the positions $k$, $k + W$, $k + 2W$, ... of that order, $W$ being `world_size`,
# as PyTorch's `DistributedSampler` does. `set_epoch` moves every rank to the next epoch's
# order.

# %%
X_train, y_train, X_test, y_test = load_fashion_mnist_tensors()
for r in range(2):
    part = TensorLoader(X_train, y_train, 4, True, rank=r, world_size=2)
    part.set_epoch(0)
    labels = next(iter(part))[1].tolist()
    print(f"rank {r}: {len(part)} batches, first labels {labels}")

# %% tags=["remove-cell"]
# claim: The two ranks see different examples
# claim: as many batches each; together they cover the
shards = []
for r in range(2):
    part = TensorLoader(X_train, y_train, 4, True, rank=r, world_size=2)
    part.set_epoch(0)
    shards.append(part._shard())
assert len(shards[0]) == len(shards[1]) == len(y_train) // 2
everything = torch.cat(shards).sort().values
assert torch.equal(everything, torch.arange(len(y_train))), "not a partition"

# %% [markdown]
# The two ranks see different examples and as many batches each; together they cover the
# epoch once.
#
# ## Workers are processes, launched by torchrun
#
# Each worker is a separate Python process, and the processes must find each other before
# they can all-reduce anything. PyTorch's launcher `torchrun` does that: it starts
# `--nproc_per_node` copies of a script and tells each its `RANK`, `WORLD_SIZE`,
# `LOCAL_RANK`, `LOCAL_WORLD_SIZE` and where to meet, through environment variables. The
# script then calls `torch.distributed.init_process_group`.
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
# the environment `torchrun` set, pick the backend and join the group.
# `helpers.pick_backend` returns `nccl` when every process *on this machine* has a GPU of
# its own, `gloo` otherwise, so it is given `LOCAL_WORLD_SIZE`, the processes on this
# machine, not `WORLD_SIZE`, those of the whole job. With `nccl`, each rank makes its
# GPU, `cuda:LOCAL_RANK`, the current device before it joins: nccl runs the rank's
# collectives there.

# %%
# %%writefile allreduce_train.py
import os
import sys
from time import perf_counter

import torch
import torch.distributed as dist
from torch import nn

from helpers.data import load_fashion_mnist_tensors
from helpers.distributed import pick_backend
from helpers.loaders import TensorLoader

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
local_rank = int(os.environ["LOCAL_RANK"])
backend = pick_backend(int(os.environ["LOCAL_WORLD_SIZE"]))
device = torch.device(f"cuda:{local_rank}" if backend == "nccl" else "cpu")
if device.type == "cuda":
    torch.cuda.set_device(device)  # this rank's GPU, before any collective
dist.init_process_group(backend)

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
# The script takes the batch size per rank, the number of steps and an output file, and
# uses only the images those steps need. The learning rate is 0.1.

# %%
# %%writefile -a allreduce_train.py

batch, steps, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
X, y, _, _ = load_fashion_mnist_tensors()
n = batch * world * steps  # the images these steps use
X, y = X[:n].to(device), y[:n].to(device)
loader = TensorLoader(X, y, batch, shuffle=True, rank=rank, world_size=world)
loader.set_epoch(0)
lr, loss = 0.1, nn.CrossEntropyLoss()

# %% [markdown]
# The loop is minibatch SGD written out, as in {ref}`chap-softmax-scratch`, with two lines
# more: after `backward()`, every gradient is all-reduced (summed over the ranks, in
# place) and divided by the number of ranks, before the update. Rank 0 prints how long the
# steps took and saves the final weights. (On a GPU, CUDA and nccl calls return before
# their work is done: `torch.cuda.synchronize()` waits for it before each reading of the
# clock.)

# %%
# %%writefile -a allreduce_train.py

if device.type == "cuda":
    torch.cuda.synchronize(device)  # the broadcasts are done
tic = perf_counter()
for Xb, yb in loader:
    net.zero_grad()
    loss(net(Xb), yb).backward()
    with torch.no_grad():
        for p in net.parameters():
            dist.all_reduce(p.grad)  # sum over the ranks
            p.grad /= world  # the mean of the ranks' gradients
            p -= lr * p.grad  # the SGD step
if device.type == "cuda":
    torch.cuda.synchronize(device)
if rank == 0:
    print(f"rank 0: {steps} steps in {perf_counter() - tic:.3f} s")
    torch.save(net.state_dict(), out)
dist.destroy_process_group()

# %% [markdown]
# `helpers.torchrun_command` writes the command line. On one machine it uses
# `--standalone`, which lets `torchrun` pick a free port for the meeting point, so two jobs
# started at once cannot collide. (It calls `torchrun` as `python -m torch.distributed.run`,
# the same program.) A long command is printed on several lines, each but the last
# ending in `\`, as a shell takes it:


# %%
def shell(words, width=72):
    """A command line, wrapped with the shell's backslash continuations."""
    lines = textwrap.wrap(
        " ".join(words), width, break_long_words=False, break_on_hyphens=False
    )
    return " \\\n    ".join(lines)


STEPS = 20
args = ["128", str(STEPS), "allreduce.pt"]
command = torchrun_command("allreduce_train.py", 2, args)
print(shell(["python", *command[1:]]))

# %% [markdown]
# `helpers.launch` runs that command in a subprocess and waits for it, with a timeout:
# a job that hangs is killed with all its workers and raises `LaunchTimeout`, and a job
# whose worker fails raises `LaunchError` with the failing rank's error. Two workers, 128
# images each per step:

# %%
tic = time.perf_counter()
printed = launch("allreduce_train.py", 2, args, timeout=300)
total = time.perf_counter() - tic
print(printed, end="")
print(f"2 workers, {STEPS} steps: {total:.3f} s in all")

# %% tags=["remove-cell"]
# claim: Most of that time is starting the processes
assert printed.startswith(f"rank 0: {STEPS} steps in "), printed
loop = float(printed.split()[-2])
assert 0 < loop < 0.5 * total, (loop, total)

# %% [markdown]
# Most of that time is starting the processes, importing PyTorch and loading the data in
# each; the steps themselves take the time rank 0 printed.
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
# bits, nothing more. The `assert` on the last line checks it, and would stop the notebook
# if the two runs disagreed.

# %% tags=["nbval-ignore-output"]
two = torch.load("allreduce.pt", map_location="cpu")
diffs = [(two[k] - v).abs().max().item() for k, v in net.state_dict().items()]
print(f"largest weight difference: {max(diffs):.2e}")
largest = max(v.abs().max().item() for v in two.values())
print(f"largest weight: {largest:.2f}")
assert max(diffs) < 1e-5, "the two runs reached different weights"

# %% tags=["remove-cell"]
# the last bits of float32 sums depend on the CPU's vector instructions
# claim: The weights agree to float32 rounding
# claim: reach the same weights as one with batch 256
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
local = int(os.environ["LOCAL_RANK"])
backend = pick_backend(int(os.environ["LOCAL_WORLD_SIZE"]))
device = torch.device(f"cuda:{local}" if backend == "nccl" else "cpu")
if device.type == "cuda":
    torch.cuda.set_device(device)  # where nccl runs this rank's collectives
dist.init_process_group(backend)
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
# For the cost section below, each rank also times two parts of a step apart, each the
# median of 20 runs after 3 untimed ones (the first calls pay for allocations and
# set-up). On a GPU the clock is read only after `torch.cuda.synchronize()`, which waits
# for every kernel and nccl operation queued so far: without it we would time how long
# they take to *start*.

# %%
# %%writefile -a ddp_train.py


def sync():
    """Wait until this rank's GPU has done all the work queued on it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(work, repeat=20, warmup=3):
    """The median seconds of `work()`, after `warmup` untimed calls."""
    for _ in range(warmup):
        work()
    times = []
    for _ in range(repeat):
        sync()
        tic = time.perf_counter()
        work()
        sync()
        times.append(time.perf_counter() - tic)
    return sorted(times)[repeat // 2]


# %% [markdown]
# The first part is the communication: an all-reduce of one tensor as large as all the
# gradients together.

# %%
# %%writefile -a ddp_train.py

grads = torch.zeros(sum(p.numel() for p in net.parameters()), device=device)
comm = timed(lambda: dist.all_reduce(grads))

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
    cost = dict(seconds=seconds, allreduce_s=comm, compute_s=compute)
    log.append(dict(row, **cost, device=device.type, acc=acc))
    head = f"epoch {epoch + 1}, world size {world}"
    print(f"{head}: {seconds:.3f} s, acc {acc:.3f}")
    state = dict(net=net.state_dict(), opt=opt.state_dict(), epoch=epoch + 1)
    torch.save(dict(state, log=log), ckpt.with_suffix(".tmp"))
    ckpt.with_suffix(".tmp").replace(ckpt)


# %% [markdown]
# The second part is the computation: forward and backward on one batch of this rank,
# with no all-reduce at all. Inside `model.no_sync()` DDP skips it, and without
# `opt.step()` the weights stay as they are.

# %%
# %%writefile -a ddp_train.py

X, y = X.to(device), y.to(device)
loader = TensorLoader(X, y, batch, shuffle=True, rank=rank, world_size=world)
loss = nn.CrossEntropyLoss()
loader.set_epoch(start)
Xb, yb = next(iter(loader))


def local_step():
    opt.zero_grad()
    with model.no_sync():  # this rank's gradients only
        loss(model(Xb), yb).backward()


compute = timed(local_step)

# %% [markdown]
# The loop has no communication in sight: it happens inside `backward()`. Waiting for the
# GPU and then for the other ranks (a barrier) before each reading of the clock makes it
# measure the slowest rank.

# %%
# %%writefile -a ddp_train.py

for epoch in range(start, start + epochs):
    loader.set_epoch(epoch)  # a new order, the same on every rank
    sync()
    dist.barrier()
    tic = time.perf_counter()
    for Xb, yb in loader:
        opt.zero_grad()
        loss(model(Xb), yb).backward()  # gradients all-reduced in here
        opt.step()
    sync()
    dist.barrier()
    if rank == 0:
        save_and_log(epoch, time.perf_counter() - tic, len(loader))
dist.destroy_process_group()

# %% [markdown]
# Two ranks with 128 images each (a global batch of 256, learning rate 0.1), one epoch
# over all 60,000 training images:

# %% tags=["nbval-ignore-output"]
out = launch("ddp_train.py", 2, ["128", "1", "mlp.pt"], timeout=300)
print(out, end="")

# %% tags=["remove-cell"]
# the timing depends on the machine and its load
assert "epoch 1, world size 2:" in out, out

# %% [markdown]
# ## Resuming on a different number of workers
#
# A checkpoint written by rank 0 holds plain tensors: nothing in it depends on how many
# ranks wrote it. We resume the run on **one** worker with batch 256, the same global batch,
# so the same learning rate, and train a second epoch.
#
# A job of one process needs no launcher: all `torchrun` would do for it is set the
# environment variables the script reads (`RANK` 0, `WORLD_SIZE` 1, `LOCAL_RANK` 0,
# `LOCAL_WORLD_SIZE` 1, and a meeting point, `MASTER_ADDR` and `MASTER_PORT`).
# `helpers.run_here` sets them, runs the script in this notebook's own process, without
# starting Python and PyTorch again, and returns what it printed:

# %% tags=["nbval-ignore-output"]
resumed = run_here("ddp_train.py", ["256", "1", "mlp.pt"])
print(resumed, end="")

# %% tags=["remove-cell"]
# the timing depends on the machine and its load
assert "world size 1:" in resumed, resumed

# %% [markdown]
# The checkpoint carries the log of every epoch, whichever run wrote it:

# %% tags=["nbval-trained"]
logs = torch.load("mlp.pt")["log"]
for row in logs:
    print(
        f"epoch {row['epoch']}: {row['world']} rank(s) x {row['batch']}, "
        f"{row['steps']} steps, test accuracy {row['acc']:.3f}"
    )

# %% tags=["remove-cell"]
# claim: is higher than after the first by far more than the standard error
runs = [(r["world"], r["epoch"], r["batch"]) for r in logs]
assert runs == [(2, 1, 128), (1, 2, 256)], logs
assert [r["steps"] for r in logs] == [235, 235], logs
assert 0.70 < logs[0]["acc"] < 0.86 and 0.74 < logs[1]["acc"] < 0.88, logs
se = (logs[1]["acc"] * (1 - logs[1]["acc"]) / 10_000) ** 0.5
assert 0.003 < se < 0.005 and logs[1]["acc"] - logs[0]["acc"] > 4 * se, logs
assert torch.load("mlp.pt")["epoch"] == 2

# %% [markdown]
# The second epoch, on one worker, continued where two workers stopped: its test accuracy
# is higher than after the first by far more than the standard error of an accuracy on
# 10,000 images, $\sqrt{p(1-p)/n} \approx 0.004$.
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
    print(f"# on node {node}:")
    print(shell(["torchrun", *cmd[3:]]))

# %% [markdown]
# The scripts do not change: `RANK` and `WORLD_SIZE` now count all four processes,
# `LOCAL_RANK` and `LOCAL_WORLD_SIZE` the two of one node, so with two GPUs in each
# machine `pick_backend` chooses `nccl` on every rank. The course's tests run such a
# launch on one machine, as two launchers on `127.0.0.1` meeting at a c10d rendezvous
# (`tests/test_data_parallel.py`, with a small script), so it is executed and not only
# described.
#
# ## When a worker fails
#
# If one rank raises, the others cannot go on: at their next all-reduce they fail too
# (`gloo` notices the closed connection), or wait for a partner that will never come
# (`nccl` waits up to its timeout, ten minutes by default). `torchrun` watches its
# workers: when one exits with an error it stops the others and exits with a report that
# names the failed rank as the root cause, printed after that rank's own traceback.
# `helpers.launch` turns the two into a `LaunchError`, and its `timeout` kills a job
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
# What the script measured on this machine, per step and on rank 0's clock: the whole
# step (the epoch's time, between barriers, divided by its steps), the forward and
# backward pass alone, and one all-reduce of all the gradients (medians of 20).

# %% tags=["nbval-ignore-output"]
print(f"CPU cores: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}")
cost = {}
for row in sorted(logs, key=lambda r: r["world"]):
    step = row["seconds"] / row["steps"]
    cost[row["world"]] = step, row["compute_s"], row["allreduce_s"]
    print(
        f"{row['world']} rank(s), {row['device']}: "
        f"step {step * 1e3:.1f} ms, "
        f"forward+backward {row['compute_s'] * 1e3:.1f} ms, "
        f"all-reduce {row['allreduce_s'] * 1e3:.1f} ms"
    )

# %% tags=["remove-cell"]
# the timings depend on the machine and its load
assert sorted(cost) == [1, 2], cost
assert all(t > 0 for times in cost.values() for t in times), cost
assert all(r["device"] in ("cpu", "cuda") for r in logs), logs
assert step > 0, step

# %% [markdown]
# Read each row as a sum: the step is the forward and backward pass, plus the all-reduce,
# plus the rest (drawing the batch, the update, DDP's own work, waiting for the other rank
# and, on a busy machine, for a core). Each rank runs one thread (`helpers.launch` sets
# `OMP_NUM_THREADS=1` where the environment does not set it, `run_here` sets one thread),
# so one process computes on one core and two processes on two, if the machine has them
# free. Splitting the batch halves the images of each rank's forward and backward pass; in
# exchange, every step of the two processes waits for an all-reduce of all the gradients
# through `gloo`, which costs next to nothing with one process. Whether two processes
# finish an epoch sooner than one depends on which of the two is larger, and on whether
# the second core is really free: compare the steps above (where the one-process row says
# `cuda`, it trained on a GPU, and the rows compare two devices). Data parallelism pays
# when the computation it splits is large against the all-reduce, and when each worker
# brings its own compute: a GPU, or a machine.

# %% tags=["remove-cell"]
# With a GPU, the one-process run trained on it: compare CPU rows only.
# claim: through `gloo`, which costs next
comm1, comm2 = cost[1][2], cost[2][2]
if all(r["device"] == "cpu" for r in logs):
    assert comm1 < 0.25 * comm2, cost  # medians of 20; typically 10x or more

# %% [markdown]
# How much data parallelism pays depends on how long two parts of a step take: the
# computation and the all-reduce. {ref}`chap-gpu` wrote one device's step on a batch of
# $b$ images as $t_0 + b\,c$: a fixed cost $t_0$ (on a GPU, mostly launching the step's
# kernels) plus a cost $c$ per image. With $K$ workers of $b$ images each and a model of
# $P$ float32 parameters, a ring all-reduce sends and receives $2\frac{K-1}{K} \cdot 4P$
# bytes per worker, so
#
# $$
# t_\text{step} \approx t_0 + b\,c
# + 2\,\frac{K-1}{K}\,\frac{4P}{\text{bandwidth}} + \text{latency},
# $$
#
# unless DDP hides the all-reduce behind the backward pass. Here is an estimate for
# 8 GPUs in one node (NVLink) and for 2 such nodes (a 100 Gbit/s network between them),
# 256 images per GPU and step. It is a model with assumed figures, not a measurement. The
# arithmetic rate is the float32 peak of NVIDIA's H100 SXM datasheet (67 TFLOP/s, without
# tensor cores); no real step reaches a peak, so $b\,c$ comes out low. $t_0$ comes from
# the course's own H100 run (the GPU table of the {ref}`performance` appendix): 10 epochs
# of this MLP at batch 256, with Adam, in about 2.8 s, some 1.2 ms per step, nearly all of
# it fixed cost.

# %%
FP32 = 67e12  # H100 SXM datasheet: peak float32 FLOP/s, no tensor cores
T0 = 1.2e-3  # fixed cost of one step on an H100, s (performance appendix)
LATENCY = 20e-6  # assumed fixed cost of one all-reduce, s
LINKS = {  # workers, assumed all-reduce bandwidth in bytes/s
    "8 GPUs, 1 node": (8, 200e9),  # NVLink
    "16 GPUs, 2 nodes": (16, 12.5e9),  # 100 Gbit/s between the nodes
}


def estimate(size, k, bandwidth, b=256):
    """Seconds of computation and of all-reduce per step, on each GPU."""
    # 4 FLOP per parameter and image: 2 forward, 2 for the weight's gradient
    # (the first layer's input needs no gradient, the second's is tiny)
    compute = T0 + 4 * size * b / FP32
    comm = 2 * (k - 1) / k * 4 * size / bandwidth + LATENCY
    return compute, comm


# %% tags=["remove-cell"]
# T0 is the course's own H100 measurement, where this checkout has it
# (benchmarks/results/gpu-h100.json is not installed on Colab).
# claim: in about 2.8 s, some 1.2 ms per step, nearly all of
# claim: of this MLP at batch 256, with Adam, in about 2.8 s
import json

import helpers

h100 = (
    Path(helpers.__file__).resolve().parents[1]
    / "benchmarks/results/gpu-h100.json"
)
if h100.exists():
    rows = json.loads(h100.read_text())["sections"]["gpu"]["rows"]
    (row,) = [
        r for r in rows if (r["batch_size"], r["precision"]) == (256, "fp32")
    ]
    seconds = row["seconds"]["median"]
    assert 2.5 < seconds < 3.1, seconds
    step_h100 = seconds / (row["epochs"] * -(-60_000 // 256))
    assert 0.8 * T0 < step_h100 < 1.2 * T0, step_h100
assert 4 * params * 256 / FP32 < 0.01 * T0  # the arithmetic: under 1% of t0

# %% [markdown]
# For this MLP and for one 100 times wider (as many kernels, so the same $t_0$):

# %%
share = {}
for name, size in (("this MLP", params), ("100x wider", 100 * params)):
    for link, (k, bandwidth) in LINKS.items():
        compute, comm = estimate(size, k, bandwidth)
        share[name, k] = comm / (compute + comm)
        print(
            f"{name:10} {link:16} compute {compute * 1e3:.2f} ms, "
            f"all-reduce {comm * 1e3:.3f} ms: {share[name, k]:.0%}"
        )

# %% [markdown]
# The last column is the all-reduce's share of the step. For this MLP, $t_0$ dwarfs both
# the arithmetic and the all-reduce: the GPUs wait for Python to launch kernels, not for
# each other, and the all-reduce is a few percent of the step. For the 100 times wider
# model the bytes grow 100-fold while the computation grows by little, since $t_0$ still
# dominates it: within a node NVLink keeps the all-reduce to about a fifth of the step,
# while between two nodes the network takes most of it. DDP's overlap would hardly help
# here: the first layer holds nearly all the weights, and backward computes its gradient
# last, so that bucket's all-reduce cannot start before backward ends. Larger batches per
# GPU raise the computation per byte sent, which is why large-scale training uses them;
# exercise 3 asks how large.

# %% tags=["remove-cell"]
# claim: For this MLP, $t_0$ dwarfs both
# claim: the all-reduce is a few percent of the step
# claim: NVLink keeps the all-reduce to about a fifth of the step
# claim: between two nodes the network takes
# claim: the computation grows by little
assert share["this MLP", 8] < 0.05 and share["this MLP", 16] < 0.1, share
assert 0.15 < share["100x wider", 8] < 0.3, share
assert share["100x wider", 16] > 0.5, share
wide = estimate(100 * params, 8, 200e9)[0] / estimate(params, 8, 200e9)[0]
assert wide < 1.2, wide
# claim: DDP's overlap would hardly help
# The model 100 times wider: its first layer holds nearly all the weights.
layers = [
    nn.Linear(784, 12_800, device="meta"),
    nn.Linear(12_800, 10, device="meta"),
]
sizes = [sum(p.numel() for p in layer.parameters()) for layer in layers]
assert abs(sum(sizes) / (100 * params) - 1) < 0.01, sizes
assert sizes[0] > 0.98 * sum(sizes), sizes

# %% [markdown]
# ## On a machine with one GPU
#
# Colab and most laptops have at most one GPU. There, `pick_backend` returns `nccl` for a
# one-process job, which then trains on the GPU (the resumed run above, and the
# one-process row of the cost table), and `gloo` for the two-process jobs, which train on
# the CPU: NCCL refuses two ranks on the same GPU. Everything in this chapter runs; only
# the speed differs. With $K$ GPUs, `--nproc_per_node=K` gives each rank its own
# `cuda:LOCAL_RANK`. (The course runs this chapter on a CPU and on one GPU; the scripts'
# path for several GPUs, one `nccl` rank on each, follows PyTorch's documented recipe but
# is not run by the course.)
#
# ## Summary
#
# - Data parallelism: every worker holds the model, takes $1/K$ of each batch, and the
#   gradients are averaged by an all-reduce, so all copies take the same steps. Two
#   workers with batch 128 reach the same weights as one with batch 256, to float
#   rounding.
# - Notebooks cannot `mp.spawn` their own functions: write the script to a file and start
#   it with `torchrun`, with a timeout (`helpers.launch`). `gloo` serves CPUs, `nccl` GPUs,
#   one process per GPU: compare a machine's GPUs with its own processes,
#   `LOCAL_WORLD_SIZE`, not with the whole job's. On a GPU, synchronize before reading
#   the clock.
# - `DistributedDataParallel` broadcasts the initial weights and overlaps bucketed
#   all-reduces with backward. We still shard the data per rank with a per-epoch seed,
#   save and log on rank 0 only, and scale the learning rate with the global batch.
# - A rank-0 checkpoint resumes on any number of workers; keep the global batch, or
#   rescale the learning rate. A job of one process needs no launcher (`run_here`).
# - Several machines: one `torchrun` per node, meeting at a c10d rendezvous endpoint.
# - An all-reduce moves about $2 \cdot 4P$ bytes per worker and step. Its share of the
#   step, against $t_0$ and the computation, decides how well data parallelism scales.
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
# In `allreduce_train.py`, remove the broadcast after the model is built. Does the check
# `assert max(diffs) < 1e-5` after the comparison with one worker still pass? Why does
# training run without an error either way?
# ````
#
# ````{exercise}
# :label: ex-dp-3
# In the estimate above, how many images per GPU per step does the model 100 times
# wider need before its computation is at least 4 times the all-reduce between two
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
# Add a row with 4 processes to the cost table: run `ddp_train.py` for one epoch on 1, 2
# and 4 processes, each from scratch, with the same global batch of 256. What do you
# expect from the number of cores of your machine? Measure it.
# ````
#
# ```{solution-start} ex-dp-1
# :class: dropdown
# ```
# `TensorLoader` first pads the shuffled order to a multiple of 3 by repeating its first
# indices (60,000 already is one, so nothing is added here); rank $k$ then takes the
# positions $k$, $k + 3$, $k + 6$, ... of that order:

# %%
part = TensorLoader(X_train, y_train, 128, shuffle=True, rank=0, world_size=3)
images = part._num_samples()
print(f"{images:,} images per rank, {len(part)} steps")
print(f"the last step has {images - 128 * (len(part) - 1)} images")

# %% tags=["remove-cell"]
# claim: 60,000 already is one, so nothing is added here
assert images * 3 == len(y_train) == 60_000, images

# %% [markdown]
# ```{solution-end}
# ```
#
# ```{solution-start} ex-dp-2
# :class: dropdown
# ```
# Each rank then starts from its own random weights (seeded by its rank). The all-reduce
# still averages the gradients, so every rank takes the same *update*, but applies it to
# different weights. The two ranks can be played in this notebook, without `torchrun`:
# two copies of the model, each with its own seed and its own share of the batches, and
# the mean of their gradients given to both, which is what the all-reduce does.


# %%
def two_ranks(broadcast):
    """Rank 0's weights after the steps of allreduce_train.py, played here."""
    X, y = X_train[: 256 * STEPS], y_train[: 256 * STEPS]
    nets, parts = [], []
    for r in range(2):
        torch.manual_seed(r)  # each rank's own start
        nets.append(make_net())
        parts.append(TensorLoader(X, y, 128, True, rank=r, world_size=2))
        parts[r].set_epoch(0)
    if broadcast:
        nets[1].load_state_dict(nets[0].state_dict())
    for batches in zip(*parts, strict=True):
        for m, (Xb, yb) in zip(nets, batches, strict=True):
            m.zero_grad()
            loss(m(Xb), yb).backward()
        pairs = zip(nets[0].parameters(), nets[1].parameters(), strict=True)
        with torch.no_grad():
            for p0, p1 in pairs:
                mean = (p0.grad + p1.grad) / 2  # the all-reduce
                p0 -= 0.1 * mean
                p1 -= 0.1 * mean
    return nets[0].state_dict()


# %% [markdown]
# With the broadcast, rank 0 ends where the script's rank 0 did; without it, its weights
# differ from the single-process run by far more than rounding:

# %% tags=["nbval-ignore-output"]
weights = {broadcast: two_ranks(broadcast) for broadcast in (True, False)}
for broadcast, w in weights.items():
    gap = max(
        (w[k] - v).abs().max().item() for k, v in net.state_dict().items()
    )
    print(f"broadcast {broadcast}: largest weight difference {gap:.2e}")
print(f"the check passes without it: {gap < 1e-5}")

# %% tags=["remove-cell"]
# the last bits of float32 sums depend on the CPU's vector instructions
# claim: rank 0 ends where the script's rank 0 did
# claim: differ from the single-process run by far more than rounding
assert gap > 1e-3, gap
assert list(weights) == [True, False], weights.keys()
for k, v in two.items():
    assert torch.allclose(weights[True][k], v, atol=1e-5), k

# %% [markdown]
# So the check `max(diffs) < 1e-5` fails. Training itself raises no error: every
# collective gets tensors of the right shapes from every rank, and nothing in the loop
# compares the copies' weights. That is why DDP broadcasts them for us at construction.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-dp-3
# :class: dropdown
# ```
# The computation grows with the images per GPU, the all-reduce does not: solve
# $t_0 + b\,c = 4 \times$ the all-reduce for $b$.

# %%
size, (k, bandwidth) = 100 * params, LINKS["16 GPUs, 2 nodes"]
_, comm = estimate(size, k, bandwidth)
per_image = 4 * size / FP32
b = (4 * comm - T0) / per_image
print(f"{b:,.0f} images per GPU per step")
print(f"{b * k:,.0f} images per step on {k} GPUs")

# %% tags=["remove-cell"]
# claim: a global batch larger than all 60,000 training images
# claim: no batch that this dataset allows reaches that ratio
assert b * k > len(y_train) == 60_000, b

# %% [markdown]
# On the 16 GPUs that is a global batch larger than all 60,000 training images: in the
# estimate, no batch that this dataset allows reaches that ratio between these two nodes.
# The estimate assumes the peak arithmetic rate, though; a real GPU is slower per image,
# so it reaches the ratio with fewer images, in longer steps.
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
# Give each run its own checkpoint file, so that none resumes another's:
#
# ```python
# rows = []
# for k in (1, 2, 4):
#     Path(f"cost{k}.pt").unlink(missing_ok=True)  # from scratch on a rerun too
#     launch("ddp_train.py", k, [str(256 // k), "1", f"cost{k}.pt"], timeout=600)
#     rows += torch.load(f"cost{k}.pt")["log"]
# ```
#
# and print `rows` as the cost table does. What to expect follows from the model of
# this chapter. Each rank runs one thread, so $k$ processes can use $k$ cores. With at
# least 4 free cores (or 4 GPUs), the forward and backward pass of each rank covers a
# quarter of the images, and the all-reduce among 4 ranks decides how close the epoch
# comes to 4 times faster. With fewer cores than processes, the ranks take turns on
# the cores: the computation of an epoch needs as much core time as before, and each
# all-reduce waits until every rank has had its turn, so expect no gain from the third
# and fourth process, more likely a loss. This page does not run it: it would add a
# launch of four processes to the chapter's time.
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
