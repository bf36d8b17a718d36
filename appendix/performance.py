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
# `benchmarks/run.py`. Each of its ratios compares two paths measured in the same run,
# minutes apart, on the same machine. This page only reads the files the benchmark wrote,
# `benchmarks/results/latest.json` and the GPU files beside it: it never runs the benchmark
# itself, and every measured number on it comes from those files.
#
# Each file records, for each of its sections, when it was measured, at which git commit,
# and a hash of every file whose code those numbers depend on: the `helpers` package, the
# benchmark's measuring modules, and the chapters it executes. A test of the course fails
# as soon as one of those files changes after this machine's results were measured, and
# says which command measures them again. Results from a lent GPU machine cannot be
# measured again at every change; when their code has changed since, they stay on the page,
# marked as measured on older code.

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
# Which measured files changed since (empty when none did):
stale = report.staleness(results, root)
chapters_now = sorted(p.stem for p in root.glob(report.CHAPTER_SOURCES))


def show(section: str) -> None:
    """Display one section of the results as a Markdown table."""
    if section == "chapters" and "chapters" in results["sections"]:
        text = report.chapters_table(results, present=chapters_now)
    elif section == "targets":
        text = report.targets_table(results, present=chapters_now)
    else:
        text = report.section_markdown(results, section)
    display(Markdown(text))


# %% tags=["remove-input"]
display(Markdown(report.freshness_note("latest", results, stale)))


# %% [markdown]
# ## What is measured
#
# - **Reading one epoch**: every training image once, through a `DataLoader` over
#   `helpers.fashion_mnist_dataset(train=True, transform=ToTensor())` with several numbers of
#   worker processes, and through `helpers.load_data_fashion_mnist`. Nothing is computed on
#   the batches: this is the cost of the data path alone.
# - **Training each chapter's model** with its chapter's settings, through d2l's loop and
#   data path (a `DataLoader` with d2l's `get_dataloader_workers()` workers) and through the
#   course's path: softmax regression from scratch ({ref}`chap-softmax-scratch`) and its
#   concise version ({ref}`chap-softmax-concise`) with `train_ch3` on both paths; the MLP of
#   {ref}`chap-keras-mlp` through `train_ch3` against `helpers.KerasModel.fit`, which
#   compiles `"adam"` as the chapter does (PyTorch's Adam with its fused update). Both paths
#   start from the same seed, and the final test accuracy of each is part of the result: a
#   faster path that learned less would not count.
# - **Executing each chapter** top to bottom in a fresh kernel, as the book build does, and
#   **building the whole book** from a fresh copy of the repository (cold: an empty execution
#   cache) and again with the cache filled (warm).
# - **On a GPU**, when the machine has one: the MLP with the data resident on the GPU at
#   several batch sizes, in float32 and with `torch.autocast` in bfloat16, and the time until
#   the test accuracy first reaches a target accuracy, named in the GPU table.
#
# Each figure is the median of several repetitions, with the fastest and the slowest in
# brackets; the machine table below says how many. The settings of each measurement (batch
# size, epochs, optimizer, worker processes) are in its table.

# %% [markdown]
# ## Why the classic path is slow
#
# Indexing torchvision's dataset does, for *one* image, what the course's loader does once
# for a whole batch. `dataset[i]` takes the image's 28×28 bytes, wraps them into a PIL image
# (`Image.fromarray`), and `ToTensor` turns that image back into a tensor: a NumPy copy, a
# reshape to channels-first, a conversion to float and a division by 255. Then the
# `DataLoader`'s `default_collate` stacks such tensors, one per image, into a batch.
# That is several Python calls and small allocations per image, 60,000 times an epoch:
#
# ```python
# # the classic path, per image
# # (torchvision's FashionMNIST.__getitem__, then ToTensor)
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
# The numbers on this page come from this machine, except those of the GPU files at the
# end, which name their own machine:

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("machine")

# %% [markdown]
# When, at which commit and by which command each section was measured, how long it took,
# the machine's load average when that run started, and whether the code it measured is
# still the code of this book:

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
display(Markdown(report.provenance_table(results, stale)))

# %% [markdown]
# ## Reading one epoch

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("reading")

# %% [markdown]
# ## Training each chapter's model

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("training")

# %% [markdown]
# ## The MLP at batch 32: threads and the floor
#
# A training step of the MLP of {ref}`chap-keras-mlp` at batch 32 is small: five matrix
# products (two forward; in the backward pass the gradient of the hidden activations and of
# both weight matrices) and some twenty smaller operations around them: ReLU, the loss and
# their gradients, the gradients of the biases (the forward products add the biases
# themselves), autograd's bookkeeping, Adam's update of 101,770 parameters, the batch's
# indexing and Python's loop. The benchmark measures two things about it in the same run as
# the training above, where `fit` trains with the chapter's one thread and d2l's loop with
# torch's default. First, `fit` with one thread and with torch's default, in alternating
# rounds, on the quiet machine and while another process keeps one core busy: the chapter's
# choice of `torch.set_num_threads(1)` rests on it (the count whose worse state has the
# lower mean time per step). Second, the *floor*: the five products alone, on real batches
# and in the layouts autograd uses. A step at the same thread count can hardly take less,
# and the ratio of `fit`'s time to the floor shows how much everything else in `fit` adds.

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("mlp")

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
#
# Each chapter has a time budget on this machine: the MLP chapter, {ref}`chap-keras-mlp`,
# trains for longer and has a larger one. The table gives each chapter's budget and whether
# its median execution time stayed within it; a chapter the run did not execute shows as not
# measured.

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("chapters")

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("book")

# %% [markdown]
# ## On a GPU
#
# This machine's run measures the GPU section only when it has a GPU. The GPU files below
# come from lent GPU machines: `gpu-<device>.json` from the benchmark with `--only
# reading,gpu`, `gpu-targets-<device>.json` from `python -m benchmarks.gpu` (the targets of
# {ref}`chap-gpu`). Each names its machine, its date and its commit, and says whether the
# code it measured has changed since.

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("gpu")
for path, kind in report.gpu_results(root / RESULTS.parent):
    if kind is None:
        display(Markdown(f"`{path.name}`: not a benchmark result, skipped."))
        continue
    other = json.loads(path.read_text())
    note = report.freshness_note(path.stem, other, report.staleness(other, root))
    display(Markdown(f"**From `{path.name}`.** {note}"))
    display(Markdown(report.machine_table(other)))
    if kind == "gpu-targets":
        display(Markdown(report.gpu_targets_table(other)))
        continue
    display(Markdown(report.section_markdown(other, "reading")))
    display(Markdown(report.section_markdown(other, "gpu")))

# %% [markdown]
# ## Targets
#
# The course set itself targets before measuring: reading an epoch, and training each
# chapter's model at the same test accuracy, a given number of times faster than the
# classic path; each chapter executing within its budget; and the whole book building from
# scratch within a few minutes. The table states each target with its threshold, what was
# measured and whether it was met. A target that was missed stays in the table as missed:
# the benchmark's README says what bounds it.

# %% tags=["remove-input"] mystnb={"markdown_format": "gfm"}
show("targets")

# %% tags=["remove-input"]
counts = {status: 0 for status in (report.MET, report.MISSED, report.NOT_MEASURED)}
targets = report.page_targets(results, present=chapters_now)
for target in targets:
    counts[target["status"]] += 1
print(
    f"These results met {counts[report.MET]} of their {len(targets)} "
    f"targets, missed {counts[report.MISSED]}, and did not measure "
    f"{counts[report.NOT_MEASURED]}."
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
# The "Took" column of the table under "The machine" says how long each part took here.
# `--only reading,training` picks sections (`reading`, `training`, `chapters`, `book`,
# `gpu`), and with `--merge` a run replaces only those sections and keeps the others, each
# with its own date and commit. `--repeat N` sets the repetitions, and `--tiny` runs a quick
# check on a small part of the data for one epoch (it writes into `benchmarks/out/`, so that
# it never replaces the results). Close other programs first: the ratios are only as fair
# as the machine is quiet.
#
# Next: back to the beginning, {ref}`chap-dataset`, or on to a GPU in {ref}`chap-gpu`.
