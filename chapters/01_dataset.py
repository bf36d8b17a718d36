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
    show_images,
    time_it,
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
# `get_fashion_mnist_labels` (d2l 0.x had the same function; d2l 1.x moved it into a class)
# looks each number up in a tuple of ten names:

# %%
print(inspect.getsource(get_fashion_mnist_labels))
for i, name in enumerate(helpers.TEXT_LABELS):
    print(i, name)

# %%
print(get_fashion_mnist_labels([mnist_train[i][1] for i in range(10)]))

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
# them all in `mnist_train.data`. Here is a patch of 4 × 12 raw pixels from the top of the
# boot, and the same patch after `ToTensor`, which divides by 255:

# %%
print(mnist_train.data[0, 4:8, 8:20])
print(mnist_train[0][0][0, 4:8, 8:20])

# %% [markdown]
# ## Minibatches with a `DataLoader`
#
# Models are trained on minibatches: a few hundred examples at a time. A `DataLoader` draws
# examples from a `Dataset`, in a random order when `shuffle=True`, and stacks them into
# batch tensors. With `num_workers > 0` it prepares batches in separate worker processes
# while the main process trains. d2l uses 4 workers; we use 2, because a free Colab machine
# has 2 CPU cores, and workers beyond the number of cores only compete with each other and
# with the training for those cores ({ref}`ex-dataset-2`). (Notes written for MXNet set
# `num_workers=0` on Windows; {ref}`coming-from-mxnet` says what that means in PyTorch.)

# %%
batch_size = 256
train_iter = DataLoader(mnist_train, batch_size, shuffle=True, num_workers=2)
X, y = next(iter(train_iter))
print("X:", X.shape, X.dtype, "  [batch, channels, height, width]")
print("y:", y.shape, y.dtype)
print("batches per epoch:", len(train_iter))

# %% [markdown]
# How long does one pass over the 60,000 training images take, without any model at all?
# `time_it(fn)` from `helpers` returns the seconds that `fn()` takes.


# %%
def read_all(data_iter):
    for _ in data_iter:
        pass


t_dataloader = time_it(lambda: read_all(train_iter))
print(f"DataLoader, 2 workers: {t_dataloader:.3f} s")

# %% [markdown]
# Now the same pass through the course's in-memory loader, `TensorLoader`. It holds the whole
# training set as one `uint8` tensor (one byte per pixel), and every batch is a single
# indexing operation on it:

# %%
X_train, y_train, _, _ = helpers.load_fashion_mnist_tensors()
print(
    "X_train:", X_train.shape, X_train.dtype, f"{X_train.nbytes / 1e6:.1f} MB"
)
print("y_train:", y_train.shape, y_train.dtype)
fast_iter = TensorLoader(X_train, y_train, batch_size, shuffle=True)
t_memory = time_it(lambda: read_all(fast_iter))
print(f"TensorLoader: {t_memory:.3f} s")
print(f"the in-memory loader is {t_dataloader / t_memory:.1f}x faster")

# %% [markdown]
# Why the difference? For every single image the `DataLoader` path calls the dataset's
# `__getitem__`, which wraps the bytes in a PIL image, runs `ToTensor` on it (a conversion
# and a division), and then `collate` stacks 256 separate small tensors into one batch; the
# worker processes must also send every batch back to the main process. That is several
# Python function calls for each of the 60,000 images, every epoch. `TensorLoader` does a
# whole batch in a handful of tensor operations. Its core is these lines from `helpers/loaders.py`:

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
# From the next chapter on, every chapter gets its data with this one call. It is d2l 0.x's
# function; the d2l 1.x book uses a `FashionMNIST` class instead ({ref}`coming-from-d2l`).

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
# every call: hashing the four files takes a fraction of a second (the next cells measure
# it), cheap insurance against a file that changed since the last run. When the files are
# good, the check writes nothing; when they must be fetched, each file appears under its
# final name only once it is complete, so two notebooks started at the same time on a fresh
# machine cannot read each other's half-written file. A truncated or corrupted file raises an error
# that says which file is wrong and how to get a good copy, instead of failing later with a
# baffling shape error. So, to work offline, install the Debian package or copy the four
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
start = time.perf_counter()
ok = [
    md5_of(raw / name) == md5
    for name, (md5, _, _) in helpers.data.FILES.items()
]
print("all four checksums match:", all(ok))
print(f"hashing the four files: {time.perf_counter() - start:.3f} s")

# %% [markdown]
# ## Summary
#
# - Fashion-MNIST has 10 classes of clothing, 60,000 training and 10,000 test images of
#   28 × 28 grayscale pixels; it replaced MNIST because digits had become too easy to tell
#   models apart.
# - `helpers.fashion_mnist_dataset` is torchvision's `FashionMNIST` on verified local files;
#   with `ToTensor` an example is a `float32` tensor `[1, 28, 28]` in [0, 1] and an `int`
#   label, and `get_fashion_mnist_labels` turns labels into names.
# - A `DataLoader` converts and stacks images one at a time; keeping the dataset as one tensor
#   and indexing whole batches is much faster, and is what `load_data_fashion_mnist` does.
#
# ## Exercises
#
# ````{exercise}
# :label: ex-dataset-1
# Time one pass of a `DataLoader` (no workers) over the first 3,000 training images with
# `batch_size=1` and with `batch_size=1024`. What does the batch size change, when no model
# is involved?
# ````
#
# ````{exercise}
# :label: ex-dataset-2
# Try `num_workers` of 0, 1, 2 and 4. Why does the time stop improving, and can more workers
# than CPU cores help?
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
# `transforms.Compose([transforms.Resize(64), transforms.ToTensor()])`: the time for the
# first four batches, and the largest difference between the pixel values of the same image.
# ````
#
# ### Solutions
#
# ```{solution-start} ex-dataset-1
# :class: dropdown
# ```
# The batch size decides how often the loop body, the `collate` function and the loader's
# own bookkeeping run; the per-image work (`__getitem__`, PIL, `ToTensor`) is the same
# either way. With one image per batch all the per-batch costs are paid 3,000 times:

# %%
subset = torch.utils.data.Subset(mnist_train, range(3000))
times = {}
for bs in (1, 1024):
    times[bs] = time_it(lambda bs=bs: read_all(DataLoader(subset, bs)))
    print(f"batch_size={bs:4}: {times[bs]:.3f} s")
print(f"batch size 1 is {times[1] / times[1024]:.1f}x slower")

# %% tags=["remove-cell"]
assert times[1] > times[1024], times

# %% [markdown]
# With a model, the batch size also changes how much work each step of the optimizer
# gets, which is a different question ({ref}`chap-softmax-scratch`).
# ```{solution-end}
# ```
#
# ```{solution-start} ex-dataset-2
# :class: dropdown
# ```
# Each worker is a separate process that converts images while the others do, so the time
# falls while there are idle cores to run them. Once every core is busy, another worker only
# adds a process to start, more batches to send back to the main process, and more
# competition for the same cores (including the core that trains the model). The
# {ref}`performance` appendix measures worker counts on the machine that built this book.
# The count that matters is this one:

# %%
# NBVAL_IGNORE_OUTPUT
# The number of cores depends on the machine that runs the notebook.
cores = os.cpu_count()
print("CPU cores here:", cores)

# %% tags=["remove-cell"]
assert isinstance(cores, int) and cores >= 1, cores

# %% [markdown]
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
# alike need weight images that tell small differences apart, and they are where the
# classifier of {ref}`chap-softmax-scratch` makes most of its mistakes (its exercises show
# the weight images and the confusions).
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


def first_batches(data_iter, n=4):
    return torch.cat([X for X, _ in itertools.islice(data_iter, n)])


t_slow = time_it(lambda: first_batches(slow_iter))
t_fast = time_it(lambda: first_batches(fast_test))
print(f"DataLoader + Resize: {t_slow:.3f} s, TensorLoader: {t_fast:.3f} s")
gap = (first_batches(slow_iter) - first_batches(fast_test)).abs()
print(
    f"largest pixel difference: {gap.max():.4f} = {255 * gap.max():.2f} / 255"
)

# %% [markdown]
# Both interpolate bilinearly (with antialiasing), so the two routes agree up to about
# one step of 1/255: PIL rounds its result back to whole bytes, while the batched route
# keeps floats. That is far too small to matter to a model; the times above are what
# differs.
# ```{solution-end}
# ```
#
# Next: {ref}`chap-softmax-scratch` trains our first classifier on these batches.
