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
# (chap-dataset)=
# # The Fashion-MNIST dataset
#
# Every model in this course learns to tell apart ten kinds of clothing from small grayscale
# pictures. Before we build any model, we get to know the data: how to load it, what one
# example looks like as numbers, how to cut it into minibatches, and how fast those
# minibatches arrive. The last point matters more than it seems: a small model on
# Fashion-MNIST can spend more time waiting for its data than computing, so a slow data
# pipeline makes every later chapter, every exercise and every test run slower.

# %%
import hashlib
import inspect
import itertools
import os
import time
import warnings

import matplotlib.pyplot as plt
import torch
from torch.utils.data import DataLoader
from torchvision import transforms

import helpers
from helpers import (
    TensorLoader,
    ascii_art,
    fashion_mnist_dataset,
    get_fashion_mnist_labels,
    load_data_fashion_mnist,
    load_data_fashion_mnist_valid,
    show_images,
)

# %% tags=["remove-cell"]
# %config InlineBackend.figure_formats = ["retina"]
_ = torch.manual_seed(0)

# %% [markdown]
# ## What Fashion-MNIST is
#
# Fashion-MNIST was published by Zalando Research in 2017 (Xiao, Rasul and Vollgraf,
# [arXiv:1708.07747](https://arxiv.org/abs/1708.07747)). It holds 70,000 grayscale product
# photos of 28 × 28 pixels, one garment or accessory per picture, each labelled with one of
# ten classes: t-shirt, trouser, pullover, dress, coat, sandal, shirt, sneaker, bag and ankle
# boot. It is split into 60,000 training and 10,000 test images, with the same number of
# images of every class.
#
# Those numbers are no accident: they are exactly the size, the image format and the split of
# MNIST, the handwritten-digit dataset that was for decades the first thing everyone trained
# on. Fashion-MNIST was designed as a drop-in replacement, because MNIST had stopped being
# informative. Digits are too easy: classical methods get above 97 % and convolutional
# networks above 99.7 %, so almost every idea "works" and two ideas can hardly be told apart.
# Clothing is harder (a shirt, a t-shirt, a pullover and a coat look much alike at this
# resolution), so the differences between models show, while a laptop still trains a
# classifier in seconds.

# %% [markdown]
# ## Loading it with torchvision
#
# torchvision ships a `Dataset` class for it, `torchvision.datasets.FashionMNIST`. We combine
# it with the `ToTensor` transform, which turns each image into a `float32` tensor scaled from
# 0–255 down to [0, 1]. The course reads the data through
# `helpers.fashion_mnist_dataset(train, transform)`: it first makes sure verified copies of
# the four data files are on disk (see the last section) and then returns exactly
# torchvision's class, pointed at them. In Colab, or anywhere with internet access, you can
# also write `torchvision.datasets.FashionMNIST(root="../data", train=True,
# transform=trans, download=True)` and get the same object.

# %%
trans = transforms.ToTensor()
mnist_train = fashion_mnist_dataset(train=True, transform=trans)
mnist_test = fashion_mnist_dataset(train=False, transform=trans)
print(type(mnist_train))
print("training examples:", len(mnist_train))
print("test examples:    ", len(mnist_test))

# %% tags=["remove-cell"]
# claim: with the same number of images of every class
for ds, n in ((mnist_train, 6000), (mnist_test, 1000)):
    assert torch.bincount(ds.targets).tolist() == [n] * 10, ds

# %% [markdown]
# Indexing the dataset gives one example: an image and its label. The image has the shape
# `[channels, height, width]`; grayscale means one channel. The label is a plain Python `int`,
# the number of the class. (Notes written for MXNet's gluon get `(28, 28, 1)` `uint8` images,
# channels last, and a `transform_first` to convert them: {ref}`coming-from-mxnet` maps
# those to PyTorch.)

# %%
X, y = mnist_train[0]
print("image:", type(X).__name__, X.shape, X.dtype)
print(f"pixel values from {X.min():.1f} to {X.max():.1f}")
print("label:", type(y).__name__, y)

# %% [markdown]
# Numbers are what the model predicts; people prefer names. The course's
# `get_fashion_mnist_labels` (d2l 0.x's function, which d2l 1.0.3 still ships, although the
# d2l 1.x book uses the `text_labels` method of its `FashionMNIST` class instead) looks each
# number up in a tuple of ten names. torchvision's dataset carries names of its own, in
# `mnist_train.classes`, spelled the way the dataset's authors wrote them:

# %%
print(inspect.getsource(get_fashion_mnist_labels))
for i, name in enumerate(helpers.TEXT_LABELS):
    print(i, f"{name:10}", mnist_train.classes[i])

# %%
labels = [mnist_train[i][1] for i in range(6)]
print(labels)
print(get_fashion_mnist_labels(labels))

# %% [markdown]
# ## Looking at the data
#
# `show_images(imgs, num_rows, num_cols, titles)` draws a grid of images with a title above
# each. Here are the first 18 training images with their labels. Trousers, bags and shoes have
# shapes of their own, but t-shirts, shirts, pullovers and coats share one silhouette: that
# is where we should expect a model to make most of its mistakes.

# %%
X, y = next(iter(DataLoader(mnist_train, batch_size=18)))
show_images(X.reshape(18, 28, 28), 2, 9, titles=get_fashion_mnist_labels(y))
plt.show()

# %% [markdown]
# A model never sees a picture, only numbers. `ascii_art` prints an image with one character
# per pixel (two, so that it is not squashed), denser characters for darker pixels. This is
# the first training image, the ankle boot above:

# %%
print(ascii_art(mnist_train[0][0]))

# %% [markdown]
# On disk each pixel is a byte from 0 (background) to 255 (darkest ink); torchvision keeps
# them all in `mnist_train.data`. Here is a patch of 4 × 8 raw pixels from the top of the
# boot, and the same patch after `ToTensor`, which divides by 255:

# %%
print(mnist_train.data[0, 4:8, 12:20])
print(mnist_train[0][0][0, 4:8, 12:20])

# %% [markdown]
# `mnist_train.data` and `mnist_train.targets` are the raw tensors torchvision read from the
# files, and the `transform=` we passed never touches them: torchvision applies it only when
# we index the dataset, one example at a time.

# %%
raw_pixels = mnist_train.data
print("data:   ", raw_pixels.dtype, tuple(raw_pixels.shape))
print("pixels: ", int(raw_pixels.min()), "to", int(raw_pixels.max()))
print("targets:", mnist_train.targets.dtype, mnist_train.targets[:10])

# %% [markdown]
# Code that trains on `mnist_train.data` directly (tempting: it is already one tensor)
# therefore trains on raw pixels from 0 to 255, not on the values in [0, 1] that `ToTensor`
# promised; the common mistakes of {ref}`chap-softmax-scratch` show what that does to
# training. Indexing holds a second surprise. A tensor takes a slice, but a torchvision
# dataset takes one index at a time, so asking for the first nine examples with a slice
# fails:

# %% tags=["remove-cell"]
# %xmode Minimal
# The error in one line, without a traceback through torchvision's files.

# %% tags=["raises-exception"]
mnist_train[0:9]

# %% tags=["remove-cell"]
# %xmode Context

# %% [markdown]
# (`__getitem__` converts `self.targets[index]` with `int(...)`, which accepts one number
# only.) For a part of a dataset, take a `Subset`, a dataset of chosen indices; for one batch
# of examples, let a `DataLoader` stack them:

# %%
first_nine = torch.utils.data.Subset(mnist_train, range(9))
print("Subset labels:", [label for _, label in first_nine])
X, y = next(iter(DataLoader(mnist_train, batch_size=9)))
print("DataLoader:   ", X.shape, y)

# %% [markdown]
# ## Minibatches with a `DataLoader`
#
# Models are trained on minibatches: a few hundred examples at a time. A `DataLoader` draws
# examples from a `Dataset`, in a random order when `shuffle=True`, and stacks them into
# batch tensors. With `num_workers > 0` it prepares batches in separate worker processes
# while the main process trains. d2l uses 4 workers. We use 2: a free Colab machine has 2 CPU
# cores, and no model trains in this chapter, so the main process mostly waits for batches
# while the two workers use both cores. A main process that trains a model needs a core
# too; on 2 cores, 2 workers would already compete with it ({ref}`ex-dataset-2` times
# several worker counts). (Notes written for MXNet set `num_workers=0` on Windows;
# {ref}`coming-from-mxnet` says what that means in PyTorch.)

# %%
batch_size = 256
train_iter = DataLoader(mnist_train, batch_size, shuffle=True, num_workers=2)
X, y = next(iter(train_iter))
print("X:", X.shape, X.dtype, " [batch, channels, height, width]")
print("y:", y.shape, y.dtype)
print("batches per epoch:", len(train_iter))

# %% [markdown]
# How long does one pass over the 60,000 training images take, without any model at all?
# `batch_times` records how long each batch takes to arrive. Their sum is the time of the
# whole pass. Their median, the cost of a typical batch, is the fairer summary on a busy
# machine: a few batches that had to wait for a free core move the sum, not the median.


# %%
def batch_times(data_iter, clock=time.perf_counter):
    """Return the seconds each batch of one pass over data_iter took."""
    times, start = [], clock()
    for _ in data_iter:
        now = clock()
        times.append(now - start)
        start = now
    return torch.tensor(times)


dl_times = batch_times(train_iter)
print(
    f"DataLoader, 2 workers: {dl_times.sum():.3f} s per epoch,",
    f"{1e3 * dl_times.median():.2f} ms per batch",
)

# %% [markdown]
# Now the same pass through the course's in-memory loader, `TensorLoader`. It holds the whole
# training set as one `uint8` tensor (one byte per pixel), and cuts every batch from it
# with a single indexing operation. One setting first: torch splits a large enough
# operation across all the cores, but a batch of 256 small images is little work, and on a
# busy machine the threads of one small operation can spend longer waiting for each other
# than computing.
# So we give torch one thread, as PyTorch gives each `DataLoader` worker:

# %%
torch.set_num_threads(1)
X_train, y_train, _, _ = helpers.load_fashion_mnist_tensors()
print(
    "X_train:", X_train.shape, X_train.dtype, f"{X_train.nbytes / 1e6:.1f} MB"
)
print("y_train:", y_train.shape, y_train.dtype)
fast_iter = TensorLoader(X_train, y_train, batch_size, shuffle=True)
mem_times = batch_times(fast_iter)
print(
    f"TensorLoader:          {mem_times.sum():.3f} s per epoch,",
    f"{1e3 * mem_times.median():.2f} ms per batch",
)
ratio = dl_times.median() / mem_times.median()
print(f"per batch (median), the in-memory loader is {ratio:.1f}x faster")

# %% tags=["remove-cell"]
# claim: the in-memory loader is several times faster
# claim: several times faster per batch
# Medians per batch, not totals: a busy machine inflates single batches (the
# committed notebook once showed 1.6x for the totals), not the median.
assert ratio > 3, (dl_times.median(), mem_times.median())

# %% [markdown]
# Per batch, the in-memory loader is several times faster; the last line gives the factor
# on the machine that ran this page. Why the difference? For every single image the
# `DataLoader` path calls the dataset's `__getitem__`, which wraps the bytes in a PIL
# image, runs `ToTensor` on it (a conversion and a division), and then `collate` stacks 256
# separate small tensors into one batch; the worker processes must also send every batch
# back to the main process. That is several Python function calls for each of the 60,000
# images, every epoch. `TensorLoader` does a whole batch in a handful of tensor operations.
# Its core is these lines from `helpers/loaders.py`:

# %%
print(inspect.getsource(TensorLoader.__iter__))

# %% [markdown]
# Shuffling draws a new random permutation every epoch from torch's global generator (so
# `torch.manual_seed` makes it reproducible); a batch is `images[idx]`, turned into floats in
# [0, 1] with a channel dimension, exactly what `ToTensor` produces. We can check that the
# two routes give the very same numbers for the first image:

# %%
print(torch.equal(mnist_train[0][0], X_train[0].unsqueeze(0).float() / 255))

# %% [markdown]
# Only the route differs. The {ref}`performance` appendix measures the two routes more
# carefully, with several repetitions and worker counts.

# %% [markdown]
# ## Putting it together
#
# `load_data_fashion_mnist(batch_size, resize=None)` returns d2l's pair
# `(train_iter, test_iter)`: a shuffled training loader and an ordered test loader, both
# `TensorLoader`s. Its `resize` argument enlarges the images, for models designed for
# larger inputs (such as the convolutional networks of d2l's later chapters, beyond this
# course); the loader does it on whole batches with bilinear interpolation (`F.interpolate`)
# instead of resizing one PIL image at a time with `transforms.Resize`.

# %%
train_iter, test_iter = load_data_fashion_mnist(32, resize=64)
for X, y in train_iter:
    print("X:", X.shape, X.dtype, "y:", y.shape, y.dtype)
    break
print("training batches:", len(train_iter), "test batches:", len(test_iter))

# %% [markdown]
# From the next chapter on, the chapters get their minibatches with this one call or with
# the one below, or build a `TensorLoader` on the tensors of `load_fashion_mnist_tensors`
# where they need the tensors themselves. `load_data_fashion_mnist` has the name and the
# arguments of d2l 0.x's function, which d2l 1.0.3 still ships (returning `DataLoader`s
# with 4 workers), although the d2l 1.x book uses a `FashionMNIST` class instead
# ({ref}`coming-from-d2l`).
#
# Settings such as the learning rate are chosen on a validation set: 10,000 of the 60,000
# training images, held out from training while the choice is made. The test set is used
# once, for the final model; {ref}`chap-softmax-scratch` explains why.
# `load_data_fashion_mnist_valid` returns that split, a fixed draw from a seeded generator:

# %%
train_iter, valid_iter = load_data_fashion_mnist_valid(256)
print(f"training images:   {len(train_iter.labels):,}")
print(f"validation images: {len(valid_iter.labels):,}")

# %% [markdown]
# ## Where the data comes from, and working offline
#
# The `helpers` data layer looks for the four data files (training and test images, training
# and test labels, in the IDX format of the original MNIST) in this order:
#
# 1. the folder given as `root=`, or in the environment variable `FASHION_MNIST_ROOT`, or else
#    the project's own `data/` folder (`~/.cache/fashion-mnist` when `helpers` is installed
#    as a package);
# 2. the copy installed by Debian's package (`sudo apt-get install dataset-fashion-mnist`,
#    files in `/usr/share/datasets/fashion-mnist`), which it decompresses into that folder;
# 3. only as the last resort, torchvision's download, which needs internet access.
#
# Each file is checked against its size, its IDX header and the MD5 checksum below, on
# every call: hashing the four files costs a fraction of a second of CPU time (the next
# cells measure it), cheap insurance against a file that changed since the last run. When
# the files are good, the check writes nothing; when they must be fetched, each file
# appears under its final name only once it is complete, so two notebooks started at the
# same time on a fresh machine cannot read each other's half-written file. A truncated or
# corrupted file is replaced from the next place that has a good copy; where none has, the
# error says which file is wrong and how to get a good one, instead of failing later with
# a baffling shape error. So, to work offline, install the Debian package or copy the four
# files once into a folder and point `FASHION_MNIST_ROOT` at it.

# %%
for name, (md5, _, shape) in helpers.data.FILES.items():
    print(f"{name:24} {str(list(shape)):16} md5 {md5}")

# %% [markdown]
# The check is nothing more than `hashlib` over the bytes of each file. Done by hand, in
# blocks of 1 MB so that a large file is never read into memory whole:


# %%
def md5_of(path):
    digest = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


raw = helpers.ensure_fashion_mnist()
# CPU time: what other programs on the machine do does not add to it.
start = time.process_time()
ok = [
    md5_of(raw / name) == md5
    for name, (md5, _, _) in helpers.data.FILES.items()
]
cpu_seconds = time.process_time() - start
print("all four checksums match:", all(ok))
print(f"hashing the four files: {cpu_seconds:.3f} s of CPU time")

# %% tags=["remove-cell"]
# claim: costs a fraction of a second of CPU time
# About 55 MB of files; md5 runs at several hundred MB/s on one core.
assert all(ok) and cpu_seconds < 1, cpu_seconds

# %% [markdown]
# ## Summary
#
# - Fashion-MNIST has 10 classes of clothing, 60,000 training and 10,000 test images of
#   28 × 28 grayscale pixels; it replaced MNIST because digits had become too easy to tell
#   models apart.
# - `helpers.fashion_mnist_dataset` is torchvision's `FashionMNIST` on verified local files;
#   with `ToTensor` an example is a `float32` tensor `[1, 28, 28]` in [0, 1] and an `int`
#   label, and `get_fashion_mnist_labels` turns labels into names.
# - A `DataLoader` converts images one at a time and then stacks them; keeping the dataset
#   as one tensor and indexing whole batches is several times faster per batch, and is
#   what `load_data_fashion_mnist` does.
# - `mnist_train.data` and `.targets` are the raw `uint8` pixels and labels, untouched by
#   `transform=`; a torchvision dataset takes one index, not a slice (use a `Subset` or a
#   `DataLoader`).
# - Settings are chosen on a validation set held out from the training images
#   (`load_data_fashion_mnist_valid`); the test set is for the final model only.
#
# ## Exercises
#
# ````{exercise}
# :label: ex-dataset-1
# Time one pass of a `DataLoader` (no workers) over the first 3,000 training images with
# `batch_size=1` and with `batch_size=256`. What does the batch size change, when no model
# is involved?
# ````
#
# ````{exercise}
# :label: ex-dataset-2
# Time the first 20 batches of a `DataLoader` with `num_workers` of 0, 1, 2 and 4. Where
# does the time stop improving, and why? Can more workers than CPU cores ever help?
# ````
#
# ````{exercise}
# :label: ex-dataset-3
# Compute the mean image of each class (`X_train[y_train == k].float().mean(0)`) and show the
# ten of them with `show_images`. Which two classes have the most similar mean images, and
# what does that suggest about a linear classifier?
# ````
#
# ````{exercise}
# :label: ex-dataset-4
# Compare the test batches of `load_data_fashion_mnist(256, resize=64)` with a `DataLoader`
# over a dataset whose transform is
# `transforms.Compose([transforms.Resize(64), transforms.ToTensor()])`: the time per batch
# over the first eight batches, and the largest difference between the pixel values of the
# same image.
# ````
#
# ### Solutions
#
# ```{solution-start} ex-dataset-1
# :class: dropdown
# ```
# The batch size decides how often the loop body, the `collate` function and the loader's
# own bookkeeping run; the per-image work (`__getitem__`, PIL, `ToTensor`) is the same
# either way. With one image per batch all the per-batch costs are paid 3,000 times. With
# no workers, all the work happens in this process, so its CPU time (`time.process_time`,
# as for the checksums) counts all of it, and nothing that other programs do:

# %%
subset = torch.utils.data.Subset(mnist_train, range(3000))
cpu = {}
for bs in (1, 256):
    cpu[bs] = batch_times(DataLoader(subset, bs), time.process_time).sum()
    print(f"batch_size={bs:3}: {cpu[bs]:.3f} s of CPU time")
print(f"batch size 1 costs {cpu[1] / cpu[256]:.1f}x as much")

# %% tags=["remove-cell"]
# CPU time of this process, not wall time: a busy machine does not add to it
# (wall-clock totals gave 2.6x to 3.0x under load, CPU time 2.2x).
assert cpu[1] > 1.3 * cpu[256], cpu

# %% [markdown]
# With a model, the batch size also changes how much work each step of the optimizer
# gets, which is a different question ({ref}`chap-softmax-scratch`).
# ```{solution-end}
# ```
#
# ```{solution-start} ex-dataset-2
# :class: dropdown
# ```
# Twenty batches of 256 with each worker count; the first batch also pays for starting the
# worker processes. (PyTorch warns when a `DataLoader` has more workers than the machine
# has cores; the cell silences that warning, since exceeding the count is the point here.)


# %%
def time_workers(workers, batches=20):
    loader = DataLoader(mnist_train, 256, shuffle=True, num_workers=workers)
    return batch_times(itertools.islice(loader, batches))


with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    for workers in (0, 1, 2, 4):
        t = time_workers(workers)
        print(
            f"num_workers={workers}: first batch {1e3 * t[0]:.1f} ms,",
            f"20 batches {t.sum():.3f} s",
        )

# %% [markdown]
# On a machine with 2 cores and nothing else to run, such as a free Colab machine, three
# effects explain the rows:
#
# - **From 0 to 1 worker** nothing is gained. With no model to train, the main process
#   only waits while the one worker does exactly the work it would have done itself; on
#   top of that, the worker must be started and must send every batch back to the main
#   process (through shared memory). One worker can only match no workers here, or lose
#   to them. It pays off when the main process has work of its own, a model to train,
#   while the worker prepares the next batch.
# - **From 1 to 2 workers** a second core starts converting images: the only step in this
#   table that adds computing power, once the cost of starting the workers is paid.
# - **From 2 to 4 workers** adds no computing power: two cores convert no more images per
#   second however many processes share them, and there are more processes to start and
#   to switch between. Twenty batches timed once are too few to show it reliably: the
#   4-worker row comes out ahead of the 2-worker row in some runs and behind it in others.
#   Over whole epochs, with the median of several repetitions, the
#   {ref}`performance` appendix finds 4 workers no faster than 2 on its 2-core machine: the
#   time stops improving once every core is busy.
#
# On a busy machine other programs hold the cores as well, so a worker seldom finds one
# free, and the rows show mostly what it costs to start and to feed the workers. With more
# cores, the time keeps improving up to about one worker per core. The count that matters
# is this one:

# %% tags=["nbval-ignore-output"]
cores = os.cpu_count()
print("CPU cores here:", cores)

# %% tags=["remove-cell"]
# The number of cores depends on the machine that runs the notebook.
assert isinstance(cores, int) and cores >= 1, cores

# %% [markdown]
# More workers than cores do help when the workers spend their time waiting rather than
# computing: reading image files from a slow disk or a network file system, or fetching
# data over the network. A worker that waits for its data leaves its core free for another
# worker, so several workers per core keep the cores busy. Here every image is already in
# memory and every worker computes all the time, so more workers than cores only compete.
#
# On Windows and macOS, workers are started with *spawn*: each one imports the script
# anew, so a script must guard its training code with `if __name__ == "__main__":`; that
# is why older notes simply set `num_workers=0` there ({ref}`coming-from-mxnet`).
# ```{solution-end}
# ```
#
# ```{solution-start} ex-dataset-3
# :class: dropdown
# ```

# %%
means = torch.stack([X_train[y_train == k].float().mean(0) for k in range(10)])
show_images(means, 2, 5, titles=list(helpers.TEXT_LABELS))
plt.show()

# %% [markdown]
# The distance between two mean images (in pixel units, 0 to 255) picks out the closest
# pair:

# %%
dist = torch.cdist(means.reshape(10, -1), means.reshape(10, -1))
dist.fill_diagonal_(float("inf"))
a, b = divmod(int(dist.argmin()), 10)
names = get_fashion_mnist_labels([a, b])
print(f"closest mean images: {names[0]} and {names[1]} ({dist[a, b]:.0f})")

# %% [markdown]
# A linear classifier gives each class a score that is a weighted sum of the pixels: one
# weight image per class, compared with the input. Classes whose typical images are this
# alike need weight images that tell small differences apart, so expect the classifier to
# confuse them. A mean image hides how much the images of a class vary, though: two
# classes whose means lie further apart can still have many images that look alike, so
# the closest pair of means need not be the pair the classifier confuses most often. The
# confusion matrix of {ref}`chap-softmax-scratch` shows which pairs it really mixes up.
# ```{solution-end}
# ```
#
# ```{solution-start} ex-dataset-4
# :class: dropdown
# ```

# %%
resize = transforms.Compose([transforms.Resize(64), transforms.ToTensor()])
slow_iter = DataLoader(
    fashion_mnist_dataset(train=False, transform=resize), 256
)
_, fast_test = load_data_fashion_mnist(256, resize=64)
cpu_time = time.process_time  # both routes run in this process
t_slow = batch_times(itertools.islice(slow_iter, 8), cpu_time).median()
t_fast = batch_times(itertools.islice(fast_test, 8), cpu_time).median()
print(f"DataLoader + Resize: {1e3 * t_slow:.1f} ms of CPU time per batch")
print(f"TensorLoader:        {1e3 * t_fast:.1f} ms of CPU time per batch")
print(f"per batch, the batched route is {t_slow / t_fast:.1f}x faster")

# %% tags=["remove-cell"]
# claim: batched route is faster per batch as well
# Medians of eight batches of CPU time, both in this process on one thread;
# PIL resizes one image at a time (8x slower while this was written).
assert t_slow > 2 * t_fast, (t_slow, t_fast)


# %% [markdown]
# And the pixels of the first four batches:


# %%
def first_batches(data_iter, n=4):
    return torch.cat([X for X, _ in itertools.islice(data_iter, n)])


gap = (first_batches(slow_iter) - first_batches(fast_test)).abs()
print(
    f"largest pixel difference: {gap.max():.4f} = {255 * gap.max():.2f} / 255"
)

# %% tags=["remove-cell"]
# claim: agree up to about one step of 1/255
assert 0 < 255 * gap.max() < 1.5, gap.max()

# %% [markdown]
# Both interpolate bilinearly (the antialiasing both apply matters only when shrinking),
# so the two routes agree up to about one step of 1/255: PIL rounds to whole bytes after
# each of its two passes (along the rows, then along the columns), while the batched route
# keeps floats. That is far too small to matter to a model. What differs is the time: the
# batched route is faster per batch as well, by the factor printed above.
# ```{solution-end}
# ```
#
# Next: {ref}`chap-softmax-scratch` trains our first classifier on these batches.
