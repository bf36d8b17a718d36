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
#   mystnb:
#     execution_mode: force
# ---

# %% [markdown]
# (performance)=
# # Performance
#
# The course starts from d2l's classic way of feeding Fashion-MNIST to a model: torchvision's
# `FashionMNIST` dataset with the `ToTensor` transform, batched by a `DataLoader` with worker
# processes. From {ref}`chap-dataset` on, though, the chapters train on the course's own
# `helpers` loaders, which keep the whole dataset in memory (or on the GPU) as one tensor.
# This page shows what that choice buys, and what it does not.
#
# Why it matters: a learner's time goes into waiting. A slow data path makes every chapter
# slower to run in Colab, in CI and each time you try an exercise, and it hides what the
# model itself costs. The figures below come from the course's benchmark,
# `benchmarks/run.py`, which measures everything in one process and one run, so that its
# ratios compare like with like on one machine. This page only reads the file the benchmark
# wrote, `benchmarks/results/latest.json`: it never runs the benchmark itself.

# %% tags=["remove-cell"]
# %config InlineBackend.figure_formats = ["retina"]

# %% tags=["hide-input"]
import json
import sys
from pathlib import Path

import matplotlib.pyplot as plt
from IPython.display import Markdown, display

# The repository root: the first folder upwards that holds the results.
RESULTS = Path("benchmarks") / "results" / "latest.json"
folders = [Path.cwd(), *Path.cwd().parents]
root = next(p for p in folders if (p / RESULTS).is_file())
sys.path.insert(0, str(root))
# The tables of benchmarks/results/latest.md:
from benchmarks import report  # noqa: E402

results = json.loads((root / RESULTS).read_text())


def show(section: str) -> None:
    """Display one section of the results as a Markdown table."""
    display(Markdown(report.section_markdown(results, section)))


# %% [markdown]
# ## What is measured
#
# - **Reading one epoch**: every training image once, in batches of 256, through a
#   `DataLoader` over `helpers.fashion_mnist_dataset(train=True, transform=ToTensor())` with 0,
#   2 and 4 worker processes, and through `helpers.load_data_fashion_mnist(256)`. Nothing is
#   computed on the batches: this is the cost of the data path alone.
# - **Training each chapter's model** with its chapter's settings, through d2l's loop and
#   data path (a `DataLoader` with 4 workers, as d2l's `get_dataloader_workers()` has it)
#   and through the course's path: softmax regression from scratch ({ref}`chap-softmax-scratch`)
#   and its concise version ({ref}`chap-softmax-concise`), 10 epochs at batch 256 with SGD at
#   learning rate 0.1 and `train_ch3`; the MLP of {ref}`chap-keras-mlp`, 10 epochs at batch 32
#   with Adam at $10^{-3}$, through `train_ch3` against `helpers.KerasModel.fit`. Both paths
#   start from the same seed, and the final test accuracy of each is part of the result: a
#   faster path that learned less would not count.
# - **Executing each chapter** top to bottom in a fresh kernel, as the book build does, and
#   **building the whole book** from a fresh copy of the repository (cold: an empty execution
#   cache) and again with the cache filled (warm).
# - **On a GPU**, when the machine has one: the MLP with the data resident on the GPU at
#   batch sizes 32, 256 and 1024, in float32 and with `torch.autocast` in bfloat16, and the
#   time until the test accuracy first reaches 0.88.
#
# Each figure is the median of several repetitions, with the fastest and the slowest in
# brackets; the machine table below says how many.

# %% [markdown]
# ## Why the classic path is slow
#
# Indexing torchvision's dataset does, for *one* image, what the course's loader does once
# for a whole batch. `dataset[i]` takes the image's 28×28 bytes, wraps them into a PIL image
# (`Image.fromarray`), and `ToTensor` turns that image back into a tensor: a NumPy copy, a
# reshape to channels-first, a conversion to float and a division by 255. Then the
# `DataLoader`'s `default_collate` stacks 256 such tensors into a batch. That is several
# Python calls and small allocations per image, 60,000 times an epoch:
#
# ```python
# # the classic path, per image (torchvision's FashionMNIST.__getitem__ + ToTensor)
# img = Image.fromarray(self.data[index].numpy(), mode="L")
# img = to_tensor(img)  # uint8 HxWxC -> float CxHxW in [0, 1]
# ```
#
# The course's `helpers.TensorLoader` holds all images as one `uint8` tensor of shape
# `[60000, 28, 28]`, and makes a batch with three tensor operations:
#
# ```python
# # the course's path, per batch (helpers/loaders.py)
# X = self.images[idx].unsqueeze(1).float().div_(255)
# ```
#
# Worker processes spread the per-image work over CPU cores, but they do not remove it, and
# they add costs of their own: d2l's `DataLoader` starts its workers anew at every epoch, for
# the training and for the test set, and every batch travels from a worker to the training
# process through shared memory. On a machine with few cores the workers also compete with
# the training process itself. The next table times each step in one process.

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("anatomy")

# %% [markdown]
# ## The machine
#
# The numbers on this page come from this machine and one run of the benchmark, except the
# GPU section, whose files name their own machine:

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("machine")

# %% [markdown]
# ## Reading one epoch

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("reading")

# %% [markdown]
# ## Training each chapter's model

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("training")

# %% [markdown]
# The same numbers as a picture: images per second on a logarithmic scale, for each data path
# and each chapter's training.


# %% tags=["remove-input"]
def speeds(results):
    """(label, images per second, path) for every reading and training measurement."""
    bars = []
    if "reading" in results["sections"]:
        for row in results["sections"]["reading"]["rows"]:
            bars.append((f"read: {row['name']}", row["img_per_s"], row["path"]))
    if "training" in results["sections"]:
        for model in results["sections"]["training"]["models"]:
            for path in ("classic", "course"):
                name = f"train {model['chapter']}: {path}"
                bars.append((name, model[path]["img_per_s"], path))
    return bars


bars = speeds(results)
if bars:
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(bars) + 0.8))
    colors = ["tab:gray" if path == "classic" else "tab:blue" for _, _, path in bars]
    ax.barh([label for label, _, _ in bars], [speed for _, speed, _ in bars], color=colors)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("images per second (log scale); grey: classic path, blue: course")
    fig.tight_layout()
    plt.show()

# %% [markdown]
# ## Executing the chapters and building the book

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("chapters")

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("book")

# %% [markdown]
# ## On a GPU
#
# This machine's run measures the GPU section only when it has a GPU. The benchmark was also
# run with `--only reading,gpu` on a GPU machine, and wrote `benchmarks/results/gpu-*.json`;
# each such file is shown below with the machine it came from.

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("gpu")
for path in sorted((root / RESULTS.parent).glob("gpu-*.json")):
    other = json.loads(path.read_text())
    display(Markdown(f"**From `{path.name}`**\n\n" + report.machine_table(other)))
    display(Markdown(report.section_markdown(other, "reading")))
    display(Markdown(report.section_markdown(other, "gpu")))

# %% [markdown]
# ## Targets
#
# The course set itself these targets before measuring: reading an epoch at least 20 times
# faster than the best `DataLoader` setting; each chapter's training at least 10 times faster
# than the classic path, at the same test accuracy; every chapter executing in under 30 s
# (the MLP chapter, {ref}`chap-keras-mlp`, in under 60 s); and the whole book building from
# scratch in under 3 minutes. A target that was missed stays in the table as missed: the
# benchmark's README says what bounds it.

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("targets")

# %% tags=["remove-input"]
counts = {status: 0 for status in (report.MET, report.MISSED, report.NOT_MEASURED)}
for target in results["targets"]:
    counts[target["status"]] += 1
print(
    f"This run met {counts[report.MET]} of its {len(results['targets'])} targets, "
    f"missed {counts[report.MISSED]}, and did not measure {counts[report.NOT_MEASURED]}."
)

# %% [markdown]
# ## Run it yourself
#
# From a checkout of the repository, one command measures everything and rewrites
# `benchmarks/results/latest.json` and `latest.md`; rebuilding the book then updates this
# page:
#
# ```bash
# make bench    # or: .venv/bin/python -m benchmarks.run
# ```
#
# It takes several minutes on a laptop-class CPU, most of them in the classic path and in the
# book build. `--only reading,training` picks sections (`reading`, `training`, `chapters`,
# `book`, `gpu`), `--repeat N` sets the repetitions, and `--tiny` runs a quick check on 2,000
# images for one epoch (it writes into `benchmarks/out/`, so that it never replaces the
# results). Close other programs first: the ratios are only as fair as the machine is quiet.
#
# Next: back to the beginning, {ref}`chap-dataset`, or on to a GPU in {ref}`chap-gpu`.
