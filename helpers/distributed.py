"""Launch data-parallel training with ``torchrun`` from a notebook, with timeouts and free ports.

A notebook cannot ``mp.spawn`` a function defined in ``__main__``, so the chapter writes its
training script to a file and starts it with ``torchrun`` in a subprocess. ``launch`` runs one
such job and turns a hang into a ``LaunchTimeout`` and a crashed worker into a
``LaunchError`` that names the failing rank. The workers call ``pick_backend``: ``nccl``
when every process on their machine has its own GPU, ``gloo`` (CPU) otherwise. A job of one
process needs no launcher: ``run_here`` runs it in the notebook's own process. Introduced
in "Data-parallel training" (``chapters/06_data_parallel.py``).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.distributed

REPO = Path(__file__).resolve().parent.parent


class LaunchError(RuntimeError):
    """Raised when a ``torchrun`` job exits with an error (a worker crashed or never met)."""


class LaunchTimeout(TimeoutError):
    """Raised when a ``torchrun`` job runs past its timeout; it is killed with its workers."""


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def pick_backend(local_world_size: int) -> str:
    """Return ``"nccl"`` when each process on this machine has a GPU of its own, else ``"gloo"``.

    ``local_world_size`` is the number of processes on *this* machine, which ``torchrun``
    sets as ``LOCAL_WORLD_SIZE`` (``--nproc-per-node``), not the whole job's ``WORLD_SIZE``:
    2 machines with 2 GPUs each run 4 processes, 2 per machine, and use ``nccl``. Every
    machine decides alone, so give them all the same number of GPUs.
    """
    if isinstance(local_world_size, bool) or not isinstance(local_world_size, int):
        raise TypeError(f"local_world_size must be an int, got {local_world_size!r}")
    if local_world_size < 1:
        raise ValueError(f"local_world_size must be >= 1, got {local_world_size}")
    enough_gpus = (
        torch.cuda.is_available()
        and torch.distributed.is_available()
        and torch.distributed.is_nccl_available()
        and torch.cuda.device_count() >= local_world_size
    )
    return "nccl" if enough_gpus else "gloo"


def torchrun_command(
    script: str | Path,
    nproc: int,
    args: Sequence[str] = (),
    *,
    nnodes: int = 1,
    node_rank: int = 0,
    endpoint: str | None = None,
) -> list[str]:
    """Return the ``torchrun`` command line that starts ``nproc`` copies of ``script``."""
    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be a positive int, got {nproc!r}")
    if not isinstance(nnodes, int) or nnodes < 1 or not 0 <= node_rank < nnodes:
        raise ValueError(f"need nnodes >= 1 and 0 <= node_rank < nnodes, got {nnodes}, {node_rank}")
    run = [sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}"]
    if nnodes == 1 and endpoint is None:
        # One machine: a private rendezvous on a port the OS picks, so jobs never collide.
        run.append("--standalone")
    else:
        if endpoint is None:
            raise ValueError("several nodes need endpoint='HOST:PORT', the same on every node")
        run += [
            f"--nnodes={nnodes}",
            f"--node-rank={node_rank}",
            "--rdzv-backend=c10d",
            f"--rdzv-endpoint={endpoint}",
            "--rdzv-id=course",
        ]
    return [*run, str(script), *map(str, args)]


def _worker_env(env: dict[str, str] | None) -> dict[str, str]:
    merged = dict(os.environ)
    # The workers must import this checkout's helpers, one thread each (cores are shared).
    path = merged.get("PYTHONPATH", "")
    merged["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), path) if p)
    merged.setdefault("OMP_NUM_THREADS", "1")
    merged["PYTHONUNBUFFERED"] = "1"
    merged.update(env or {})
    return merged


def start(command: Sequence[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``command`` (e.g. from ``torchrun_command``) in its own process group."""
    return subprocess.Popen(
        list(command),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_worker_env(env),
        start_new_session=True,  # so a timeout can kill torchrun and all its workers
    )


def _failure_summary(stderr: str) -> str:
    """Pick the lines of torchrun's error report that say which rank failed and why."""
    lines = [line.strip() for line in stderr.splitlines()]
    errors = [line for line in lines if re.search(r"(Error|Exception)\b[^:]*: ", line)]
    root = [line for line in lines if re.match(r"(rank|exitcode|host)\s*:", line)]
    summary = list(dict.fromkeys(root[:3] + errors[-3:]))
    return "\n".join(summary or lines[-8:])


def _descendants(pid: int) -> list[int]:
    """Return the pids of every process below ``pid`` (read from Linux's /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, ValueError, IndexError):
            continue  # the process ended while we looked
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_job(proc: subprocess.Popen) -> None:
    """Kill torchrun and its workers (torchrun starts each worker in its own session)."""
    for pid in [proc.pid, *_descendants(proc.pid)]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:  # a pipe still held open: stop reading it
        proc.kill()


def finish(proc: subprocess.Popen, timeout: float, what: str = "torchrun") -> str:
    """Wait for ``proc`` at most ``timeout`` seconds; return its output or raise."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_job(proc)
        raise LaunchTimeout(
            f"{what} did not finish within {timeout:g} s; it and its workers were killed"
        ) from None
    if proc.returncode != 0:
        raise LaunchError(
            f"{what} failed with exit code {proc.returncode}:\n{_failure_summary(err)}"
        )
    return out


def launch(
    script: str | Path,
    nproc: int,
    args: Sequence[str] = (),
    *,
    timeout: float = 60,
    env: dict[str, str] | None = None,
) -> str:
    """Run ``script`` on ``nproc`` processes of this machine; return what they printed."""
    command = torchrun_command(script, nproc, args)
    return finish(start(command, env), timeout, f"torchrun of {Path(script).name}")


def run_here(script: str | Path, args: Sequence[str] = ()) -> str:
    """Run ``script`` as a one-process job in this Python process; return what it printed.

    One process needs no launcher: this sets what ``torchrun`` would set for it (``RANK``,
    ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``MASTER_ADDR``, a free
    ``MASTER_PORT``), ``sys.argv`` and one thread, as ``launch`` gives each worker, runs
    the script with ``runpy``, and restores all of them afterwards. Python and PyTorch are
    not started again, which saves seconds in a notebook.
    """
    env = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0", "LOCAL_WORLD_SIZE": "1",
           "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(free_port())}  # fmt: skip
    saved_env = {name: os.environ.get(name) for name in env}
    saved_argv, saved_threads = sys.argv, torch.get_num_threads()
    printed = io.StringIO()
    try:
        os.environ.update(env)
        sys.argv = [str(script), *map(str, args)]
        torch.set_num_threads(1)
        with contextlib.redirect_stdout(printed):
            runpy.run_path(str(script), run_name="__main__")
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()  # the script failed before it did
        for name, value in saved_env.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        sys.argv = saved_argv
        torch.set_num_threads(saved_threads)
    return printed.getvalue()
