"""helpers.distributed: torchrun jobs end, fail loudly, never hang, and meet across "nodes".

Each test writes a tiny worker script into ``tmp_path`` and runs it with ``torchrun`` in a
subprocess. The timeouts are generous because the runner's 2 cores may be shared; what
each test checks is *which* error ends the job, not how fast the machine is.
"""

from __future__ import annotations

import re
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest
import torch

from helpers.distributed import (
    LaunchError,
    LaunchTimeout,
    finish,
    free_port,
    launch,
    pick_backend,
    start,
    torchrun_command,
)

JOB_TIMEOUT = 300  # seconds: far more than a healthy job needs, even on a loaded runner

WORKER_HEAD = """\
import os
import sys
import time

import torch
import torch.distributed as dist

from helpers.distributed import pick_backend

rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
dist.init_process_group(pick_backend(world))
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
    if gpus:
        assert pick_backend(gpus) == "nccl"


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


def test_launch_returns_what_the_ranks_printed(tmp_path):
    out = launch(script(tmp_path, SUM_OF_RANKS), 2, timeout=JOB_TIMEOUT)
    assert "rank 0 of 2: sum 1" in out and "rank 1 of 2: sum 1" in out


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
        time.sleep(0.5)
    workers = [int(p.name) for p in pids.iterdir()]
    assert len(workers) == 2, "the workers never started"
    tic = time.perf_counter()
    with pytest.raises(LaunchTimeout, match="did not finish within 2 s"):
        finish(proc, timeout=2)
    assert time.perf_counter() - tic < 60  # not blocked on the workers' open pipes
    assert not [pid for pid in workers if alive(pid)], "workers were left running"


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_two_concurrent_launches_do_not_collide(tmp_path):
    path = script(tmp_path, SUM_OF_RANKS)
    jobs = [start(torchrun_command(path, 2)) for _ in range(2)]
    outs = [finish(job, JOB_TIMEOUT) for job in jobs]
    for out in outs:
        assert "rank 0 of 2: sum 1" in out and "rank 1 of 2: sum 1" in out


def test_two_nodes_on_localhost_meet_at_a_c10d_rendezvous(tmp_path):
    path = script(tmp_path, SUM_OF_RANKS)
    endpoint = f"127.0.0.1:{free_port()}"
    nodes = [
        start(torchrun_command(path, 2, nnodes=2, node_rank=n, endpoint=endpoint)) for n in range(2)
    ]
    outs = [finish(node, JOB_TIMEOUT, f"node {n}") for n, node in enumerate(nodes)]
    printed = "".join(outs)
    # Four ranks over two launchers: 0 + 1 + 2 + 3 = 6 on every rank.
    for rank in range(4):
        assert f"rank {rank} of 4: sum 6" in printed, printed


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
