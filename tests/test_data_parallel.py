"""helpers.distributed: torchrun jobs end, fail loudly, never hang, and meet across "nodes".

Each test writes a tiny worker script into ``tmp_path`` and runs it with ``torchrun`` in a
subprocess. The timeouts are generous because the runner's 2 cores may be shared; what
each test checks is *which* error ends the job, not how fast the machine is.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import jupytext
import pytest
import torch

from helpers.distributed import (
    LaunchError,
    LaunchTimeout,
    finish,
    free_port,
    launch,
    pick_backend,
    run_here,
    start,
    torchrun_command,
)

CHAPTER = Path(__file__).resolve().parent.parent / "chapters" / "06_data_parallel.py"
JOB_TIMEOUT = 300  # seconds: far more than a healthy job needs, even on a loaded runner

WORKER_HEAD = """\
import os
import sys
import time

import torch
import torch.distributed as dist

from helpers.distributed import pick_backend

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
local_world = int(os.environ["LOCAL_WORLD_SIZE"])
# The workers all-reduce CPU tensors: gloo, whatever GPUs the machine has.
dist.init_process_group("gloo")
"""


def script(tmp_path: Path, body: str, name: str = "worker.py") -> Path:
    """Write a worker script (the common head plus ``body``) and return its path."""
    path = tmp_path / name
    path.write_text(WORKER_HEAD + textwrap.dedent(body))
    return path


SUM_OF_RANKS = """\
t = torch.tensor([float(rank)])
dist.all_reduce(t)
print(f"rank {rank} of {world}: sum {t.item():g}", flush=True)
dist.destroy_process_group()
"""


def test_free_port_is_free_and_bindable():
    port = free_port()
    assert 1024 <= port <= 65535
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # raises if the port was taken


def test_pick_backend_is_gloo_without_a_gpu_per_process():
    gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    assert pick_backend(gpus + 1) == "gloo"
    if gpus and torch.distributed.is_nccl_available():
        assert pick_backend(gpus) == "nccl"


def fake_gpus(monkeypatch, count: int) -> None:
    """Make this process see ``count`` CUDA GPUs, and NCCL, whatever the machine has."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: count > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: count)
    monkeypatch.setattr(torch.distributed, "is_nccl_available", lambda: True)


def test_pick_backend_counts_the_processes_of_one_machine(monkeypatch):
    # 2 machines x 2 processes, 2 GPUs each: 4 processes in all, but 2 per machine.
    fake_gpus(monkeypatch, 2)
    assert pick_backend(2) == "nccl"
    assert pick_backend(1) == "nccl"
    assert pick_backend(3) == "gloo"  # two processes would share a GPU
    fake_gpus(monkeypatch, 0)
    assert pick_backend(1) == "gloo"
    with pytest.raises(ValueError, match="local_world_size"):
        pick_backend(0)
    with pytest.raises(TypeError, match="local_world_size"):
        pick_backend("2")


def test_pick_backend_is_gloo_where_torch_has_no_nccl(monkeypatch):
    fake_gpus(monkeypatch, 2)
    monkeypatch.setattr(torch.distributed, "is_nccl_available", lambda: False)
    assert pick_backend(2) == "gloo"  # e.g. CUDA on Windows


def chapter_scripts() -> dict[str, str]:
    """The scripts chapter 6 writes with ``%%writefile`` (``-a`` appends), by file name."""
    scripts: dict[str, str] = {}
    for cell in jupytext.read(CHAPTER).cells:
        first, _, body = cell.source.partition("\n")
        if cell.cell_type == "code" and first.startswith("%%writefile"):
            name = first.split()[-1]
            scripts[name] = (scripts.get(name, "") if "-a" in first.split() else "") + body
    return scripts


def test_the_chapter_scripts_are_ready_for_several_gpus():
    """No GPU ran these paths here: check what they must do for nccl (issue 18, 3.1-3.2)."""
    scripts = chapter_scripts()
    assert sorted(scripts) == ["allreduce_train.py", "ddp_train.py"], sorted(scripts)
    for name, code in scripts.items():
        calls = re.findall(r"pick_backend\((.*)\)", code)
        assert calls == ['int(os.environ["LOCAL_WORLD_SIZE"])'], (name, calls)
        # Each rank's GPU is its current device before nccl's first collective...
        assert code.index("torch.cuda.set_device(") < code.index("dist.init_process_group("), name
        # ...and the clock is read only after the GPU has finished.
        assert "torch.cuda.synchronize(" in code, name


def test_torchrun_command_single_node_uses_a_private_port():
    cmd = torchrun_command("train.py", 2, ["128", 3])
    assert cmd[1:4] == ["-m", "torch.distributed.run", "--nproc-per-node=2"]
    assert "--standalone" in cmd and cmd[-3:] == ["train.py", "128", "3"]


def test_torchrun_command_several_nodes_and_bad_arguments():
    cmd = torchrun_command("t.py", 1, nnodes=2, node_rank=1, endpoint="h:29400")
    assert {"--nnodes=2", "--node-rank=1", "--rdzv-backend=c10d"} <= set(cmd)
    assert "--rdzv-endpoint=h:29400" in cmd and "--standalone" not in cmd
    with pytest.raises(ValueError, match="endpoint"):
        torchrun_command("t.py", 1, nnodes=2, node_rank=0)
    with pytest.raises(ValueError, match="nproc"):
        torchrun_command("t.py", 0)
    with pytest.raises(ValueError, match="node_rank"):
        torchrun_command("t.py", 1, nnodes=2, node_rank=2, endpoint="h:1")


@pytest.fixture(scope="module")
def two_jobs_at_once(tmp_path_factory) -> list[str]:
    """Two jobs of two ranks, run at the same time: one by ``launch`` (in a thread), one by
    ``start`` and ``finish``; return what each printed."""
    path = script(tmp_path_factory.mktemp("jobs"), SUM_OF_RANKS)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        launched = pool.submit(launch, path, 2, timeout=JOB_TIMEOUT)
        started = finish(start(torchrun_command(path, 2)), JOB_TIMEOUT)
        return [launched.result(), started]


def test_launch_returns_what_the_ranks_printed(two_jobs_at_once):
    out = two_jobs_at_once[0]
    assert "rank 0 of 2: sum 1" in out and "rank 1 of 2: sum 1" in out


def test_run_here_runs_a_one_process_job_and_restores_what_it_set(tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.setenv("MASTER_PORT", "1")  # a value of ours, to be restored
    argv, threads = list(sys.argv), torch.get_num_threads()
    body = """\
    print(f"argv {sys.argv[1:]}, threads {torch.get_num_threads()}", flush=True)
    """
    out = run_here(script(tmp_path, SUM_OF_RANKS + textwrap.dedent(body)), ["a", 2])
    assert out == "rank 0 of 1: sum 0\nargv ['a', '2'], threads 1\n", out
    assert "RANK" not in os.environ and os.environ["MASTER_PORT"] == "1"
    assert sys.argv == argv and torch.get_num_threads() == threads
    assert not torch.distributed.is_initialized()


def test_run_here_leaves_no_process_group_behind_when_the_script_raises(tmp_path, monkeypatch):
    monkeypatch.delenv("RANK", raising=False)
    body = """\
    raise RuntimeError("planted failure")
    """
    with pytest.raises(RuntimeError, match="planted failure"):
        run_here(script(tmp_path, body))
    assert not torch.distributed.is_initialized()
    assert "RANK" not in os.environ


def test_a_worker_that_raises_at_step_10_ends_the_job_with_a_clear_error(tmp_path):
    # Rank 0 would all-reduce forever: only torchrun stopping it can end this job.
    body = """\
    for step in range(10**9):
        if rank == 1 and step == 10:
            raise RuntimeError(f"planted failure at step {step}")
        dist.all_reduce(torch.ones(1))
    """
    tic = time.perf_counter()
    with pytest.raises(LaunchError) as err:
        launch(script(tmp_path, body), 2, timeout=JOB_TIMEOUT)
    message = str(err.value)
    assert "planted failure at step 10" in message, message
    assert re.search(r"rank\s*:\s*1\b|\[rank1\]", message), message
    assert time.perf_counter() - tic < JOB_TIMEOUT


def test_a_hanging_job_is_killed_at_its_timeout_with_its_workers(tmp_path):
    pids = tmp_path / "pids"
    pids.mkdir()
    body = """\
    open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
    dist.barrier()
    time.sleep(3600)
    """
    proc = start(torchrun_command(script(tmp_path, body), 2, [pids]))
    deadline = time.monotonic() + JOB_TIMEOUT
    while len(list(pids.iterdir())) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    workers = [int(p.name) for p in pids.iterdir()]
    assert len(workers) == 2, "the workers never started"
    tic = time.perf_counter()
    # The workers sleep for an hour: any timeout is reached, the shortest is cheapest.
    with pytest.raises(LaunchTimeout, match="did not finish within 1 s"):
        finish(proc, timeout=1)
    assert time.perf_counter() - tic < 60  # not blocked on the workers' open pipes
    assert not [pid for pid in workers if alive(pid)], "workers were left running"


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_two_concurrent_launches_do_not_collide(two_jobs_at_once):
    for out in two_jobs_at_once:
        assert "rank 0 of 2: sum 1" in out and "rank 1 of 2: sum 1" in out


TWO_GPUS_PER_NODE = """\
from unittest import mock

t = torch.tensor([float(rank)])
dist.all_reduce(t)
# What pick_backend would choose here if each "node" had 2 GPUs.
with (
    mock.patch.object(torch.cuda, "is_available", return_value=True),
    mock.patch.object(torch.cuda, "device_count", return_value=2),
    mock.patch.object(dist, "is_nccl_available", return_value=True),
):
    choice = pick_backend(local_world)
print(f"rank {rank} of {world}: sum {t.item():g}, {local_world} here: {choice}", flush=True)
dist.destroy_process_group()
"""


def test_two_nodes_on_localhost_meet_at_a_c10d_rendezvous(tmp_path):
    path = script(tmp_path, TWO_GPUS_PER_NODE)
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [
        start(torchrun_command(path, 2, nnodes=2, node_rank=n, endpoint=endpoint)) for n in range(2)
    ]
    outs = [finish(node, JOB_TIMEOUT, f"node {n}") for n, node in enumerate(nodes)]
    printed = "".join(outs)
    # Four ranks over two launchers: 0 + 1 + 2 + 3 = 6 on every rank. Each launcher runs
    # 2 of them, so with 2 GPUs per node every rank would pick nccl (issue 18, 3.1).
    for rank in range(4):
        assert f"rank {rank} of 4: sum 6, 2 here: nccl" in printed, printed


def test_descendants_skips_a_process_that_ends_while_it_looks(tmp_path, monkeypatch):
    from helpers import distributed

    proc = tmp_path / "proc"
    (proc / "123").mkdir(parents=True)
    (proc / "123" / "stat").write_text("123 (python (x)) S 1 123 123 0")
    (proc / "124").mkdir()
    (proc / "124" / "stat").mkdir()  # reading it fails, as for a process that just ended
    (proc / "125").mkdir()
    (proc / "125" / "stat").write_text("125 (worker) S 123 125 125 0")
    monkeypatch.setattr(distributed, "Path", lambda p: proc if p == "/proc" else Path(p))
    assert distributed._descendants(1) == [123, 125]


def test_kill_job_stops_reading_a_pipe_that_stays_open():
    from helpers import distributed

    class StuckJob:
        """A finished job whose output pipe a leftover process still holds open."""

        def __init__(self, pid: int) -> None:
            self.pid, self.killed = pid, False

        def communicate(self, timeout: float):
            raise subprocess.TimeoutExpired("torchrun", timeout)

        def kill(self) -> None:
            self.killed = True

    job = StuckJob(pid=2**22 + 1)  # above Linux's largest pid: no such process
    distributed._kill_job(job)
    assert job.killed
