"""Execute a chapter source in a fresh Jupyter kernel: what building any notebook starts with.

Both ``tools.notebooks`` (the CPU golden notebooks) and ``tools.gpu_runs`` (the GPU runs)
execute chapters with :func:`execute`; it lives here so that neither imports the other
for it. The imports run one way: ``notebooks`` -> ``gpu_runs`` -> ``kernel``.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient


def execute(source: Path, timeout: int = 900) -> nbformat.NotebookNode:
    """Execute a chapter top to bottom in a fresh kernel (cwd ``chapters/``); return it.

    The notebook is an in-memory copy read by jupytext: the source is never written to.
    """
    notebook = jupytext.read(source)
    client = NotebookClient(
        notebook, timeout=timeout, kernel_name="python3", record_timing=False,
        resources={"metadata": {"path": str(source.parent)}},
    )  # fmt: skip
    client.execute()
    return notebook
