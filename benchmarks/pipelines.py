"""Reading and training: the classic d2l data path against the course's ``helpers``.

The classic path is d2l 0.17's ``load_data_fashion_mnist``: torchvision's ``FashionMNIST``
``Dataset`` with ``ToTensor`` (one PIL image per sample, converted back to a tensor), batched
by a ``DataLoader`` with worker processes that collate the samples one by one. The course's
path keeps the whole set as one uint8 tensor and slices batches out of it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import transforms

import helpers
from benchmarks import mlp
from benchmarks.measure import log, summarize, timed

D2L_WORKERS = 4  # d2l's get_dataloader_workers()
# torch warns when workers outnumber the cores; measuring d2l's setting as it is, is the point.
warnings.filterwarnings("ignore", message="This DataLoader will create", category=UserWarning)
ACC_TOLERANCE = 0.01  # "the same accuracy": medians within one percentage point


def classic_dataset(train: bool, limit: int | None = None):
    """torchvision's Dataset over the verified local files, with d2l's ``ToTensor``."""
    dataset = helpers.fashion_mnist_dataset(train=train, transform=transforms.ToTensor())
    return dataset if limit is None else Subset(dataset, range(min(limit, len(dataset))))


def classic_loaders(batch_size: int, workers: int, limit: tuple[int | None, int | None]):
    """d2l 0.17's ``load_data_fashion_mnist``: shuffled training set, ordered test set."""
    train = DataLoader(
        classic_dataset(True, limit[0]), batch_size, shuffle=True, num_workers=workers
    )
    test = DataLoader(
        classic_dataset(False, limit[1]), batch_size, shuffle=False, num_workers=workers
    )
    return train, test


def course_loaders(batch_size: int, limit: tuple[int | None, int | None]):
    """``helpers.load_data_fashion_mnist``, cut to the first images when ``limit`` says so."""
    train, test = helpers.load_data_fashion_mnist(batch_size)
    if limit[0] is not None:
        train = helpers.TensorLoader(
            train.images[: limit[0]], train.labels[: limit[0]], batch_size, shuffle=True
        )
    if limit[1] is not None:
        test = helpers.TensorLoader(test.images[: limit[1]], test.labels[: limit[1]], batch_size)
    return train, test


def drain(loader) -> int:
    """Read every batch of ``loader`` once; return the number of images seen."""
    return sum(len(y) for _, y in loader)


def _load_tensors_cold() -> int:
    # Every call reads and hashes the files again: helpers keeps no in-process copy.
    return len(helpers.load_fashion_mnist_tensors()[1])


def anatomy(batch_size: int, samples: int = 2000) -> dict[str, float]:
    """Seconds per image of each step of the classic path, and per batch of helpers'."""
    from PIL import Image
    from torch.utils.data import default_collate

    raw = helpers.fashion_mnist_dataset(train=True)  # no transform: PIL images
    dataset = classic_dataset(True)
    pixels = [raw.data[i].numpy() for i in range(samples)]
    pil = timed(lambda: [Image.fromarray(p, mode="L") for p in pixels])
    to_tensor = transforms.ToTensor()
    tensors = timed(lambda: [to_tensor(img) for img in pil[1]])[0]
    getitem = timed(lambda: [dataset[i] for i in range(samples)])
    collate = timed(lambda: [default_collate(getitem[1][:batch_size]) for _ in range(20)])[0]
    train, _ = course_loaders(batch_size, (None, None))
    batches = iter(train)
    one_batch = timed(lambda: [next(batches) for _ in range(20)])[0]
    return {
        "getitem_per_image": getitem[0] / samples,
        "pil_per_image": pil[0] / samples,
        "to_tensor_per_image": tensors / samples,
        "collate_per_batch": collate / 20,
        "course_per_batch": one_batch / 20,
    }


def reading(repeat: int, limit: int | None = None, batch_size: int = 256) -> dict[str, Any]:
    """Time one epoch over the training set through each data path."""
    rows = []
    n = len(classic_dataset(True, limit))
    for workers in (0, 2, D2L_WORKERS):
        loader = DataLoader(
            classic_dataset(True, limit), batch_size, shuffle=True, num_workers=workers
        )
        times = []
        for _ in range(repeat):
            seconds, seen = timed(drain, loader)
            assert seen == n, f"the DataLoader gave {seen} images, expected {n}"
            times.append(seconds)
        rows.append(_row("classic", f"DataLoader + ToTensor, {workers} workers", times, n))
        log(f"reading: {rows[-1]['name']}: {rows[-1]['seconds']['median']:.3f} s")
    load = [timed(_load_tensors_cold)[0] for _ in range(repeat)]
    train, _ = course_loaders(batch_size, (limit, None))
    times = []
    for _ in range(repeat):
        seconds, seen = timed(drain, train)
        assert seen == n, f"helpers gave {seen} images, expected {n}"
        times.append(seconds)
    rows.append(_row("course", "helpers.load_data_fashion_mnist (in memory)", times, n))
    log(f"reading: {rows[-1]['name']}: {rows[-1]['seconds']['median']:.3f} s")
    best = min((r for r in rows if r["path"] == "classic"), key=lambda r: r["seconds"]["median"])
    return {
        "batch_size": batch_size,
        "images": n,
        "rows": rows,
        "course_load_once": summarize(load),
        "best_classic": best["name"],
        "speedup": best["seconds"]["median"] / rows[-1]["seconds"]["median"],
        "anatomy": anatomy(batch_size, samples=min(limit or 2000, 2000)),
    }


def _row(path: str, name: str, times: list[float], images: int) -> dict[str, Any]:
    stats = summarize(times)
    return {"path": path, "name": name, "seconds": stats, "img_per_s": images / stats["median"]}


# --- the three chapter models, each with its chapter's settings -------------------------


def scratch_softmax() -> tuple[Callable, Callable, Callable]:
    """Chapter 2: W ~ N(0, 0.01^2) of shape 784x10, b = 0, minibatch SGD with lr 0.1."""
    W = torch.normal(0, 0.01, size=(784, 10), requires_grad=True)
    b = torch.zeros(10, requires_grad=True)

    def net(X):
        X_exp = torch.exp(X.reshape(-1, 784) @ W + b)
        return X_exp / X_exp.sum(1, keepdim=True)

    def cross_entropy(y_hat, y):
        return -torch.log(y_hat[range(len(y_hat)), y])

    return net, cross_entropy, lambda batch_size: helpers.sgd([W, b], 0.1, batch_size)


def concise_softmax() -> tuple[nn.Module, nn.Module, torch.optim.Optimizer]:
    """Chapter 3: Flatten + Linear(784, 10), weights N(0, 0.01^2), torch.optim.SGD(0.1)."""
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    nn.init.normal_(net[1].weight, std=0.01)
    return net, nn.CrossEntropyLoss(reduction="none"), torch.optim.SGD(net.parameters(), lr=0.1)


def keras_mlp() -> nn.Module:
    """Chapter 4: Flatten - Linear(784, 128) - ReLU - Linear(128, 10) (Adam 1e-3)."""
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


MODELS = {
    "02_softmax_scratch": {"model": "softmax from scratch", "batch_size": 256, "epochs": 10,
                           "optimizer": "helpers.sgd, lr 0.1"},
    "03_softmax_concise": {"model": "nn.Sequential(Flatten, Linear)", "batch_size": 256,
                           "epochs": 10, "optimizer": "torch.optim.SGD, lr 0.1"},
    "04_keras_mlp": {"model": "MLP 784-128-10", "batch_size": 32, "epochs": 10,
                     "optimizer": "torch.optim.Adam, lr 1e-3 (helpers: fused)"},
}  # fmt: skip


def train_classic(chapter: str, epochs: int, limit) -> float:
    """d2l's loop (``train_ch3``) on the DataLoader path; return the final test accuracy."""
    batch_size = MODELS[chapter]["batch_size"]
    train_iter, test_iter = classic_loaders(batch_size, D2L_WORKERS, limit)
    if chapter == "02_softmax_scratch":
        net, loss, updater = scratch_softmax()
    elif chapter == "03_softmax_concise":
        net, loss, updater = concise_softmax()
    else:
        net = keras_mlp()
        loss = nn.CrossEntropyLoss(reduction="none")
        updater = torch.optim.Adam(net.parameters(), lr=1e-3)
    history = helpers.train_ch3(net, train_iter, test_iter, loss, epochs, updater, plot=False)
    return history["test acc"][-1]


def train_course(chapter: str, epochs: int, limit) -> float:
    """The course's path: the same loop on helpers' loaders, or KerasModel for the MLP."""
    batch_size = MODELS[chapter]["batch_size"]
    if chapter != "04_keras_mlp":
        train_iter, test_iter = course_loaders(batch_size, limit)
        net, loss, updater = (scratch_softmax if "scratch" in chapter else concise_softmax)()
        history = helpers.train_ch3(net, train_iter, test_iter, loss, epochs, updater, False)
        return history["test acc"][-1]
    X_train, y_train, X_test, y_test = helpers.load_fashion_mnist_tensors()
    x_train, y_train = X_train[: limit[0]].float() / 255, y_train[: limit[0]]
    x_test, y_test = X_test[: limit[1]].float() / 255, y_test[: limit[1]]
    model = helpers.KerasModel(keras_mlp(), input_shape=(28, 28))
    # As chapter 4 does: "adam" is torch.optim.Adam, lr 1e-3, with its fused update, and
    # torch.set_num_threads(1) for the small products of batch 32.
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with mlp.threads_set(mlp.MLP_THREADS):
        history = model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size,
                            validation_data=(x_test, y_test), verbose=0)  # fmt: skip
    return history.history["val_accuracy"][-1]


def training(
    repeat: int, tiny: bool, chapters: list[str] | None = None, epochs: int | None = None
) -> dict[str, Any]:
    """Train each chapter's model (or those of ``chapters``) on both paths, seeds 0, 1, ...

    ``epochs`` replaces each chapter's number of epochs (``tiny``: 1).
    """
    limit = (2000, 1000) if tiny else (None, None)
    n_train = limit[0] or 60000
    models = []
    for chapter, settings in MODELS.items():
        if chapters is not None and chapter not in chapters:
            continue
        n_epochs = 1 if tiny else epochs or settings["epochs"]
        result = {"chapter": chapter, **settings, "epochs": n_epochs, "train_images": n_train,
                  "test_images": limit[1] or 10000}  # fmt: skip
        result["chapter_epochs"] = settings["epochs"]
        for path, train in (("classic", train_classic), ("course", train_course)):
            times, accs = [], []
            for seed in range(repeat):
                torch.manual_seed(seed)
                seconds, acc = timed(train, chapter, n_epochs, limit)
                times.append(seconds)
                accs.append(acc)
                log(f"training {chapter} {path} seed {seed}: {seconds:.3f} s, test acc {acc:.4f}")
            stats = summarize(times)
            result[path] = {
                "seconds": stats,
                "img_per_s": n_epochs * n_train / stats["median"],
                "test_acc": summarize(accs),
            }
        classic, course = result["classic"], result["course"]
        result["speedup"] = classic["seconds"]["median"] / course["seconds"]["median"]
        result["acc_diff"] = course["test_acc"]["median"] - classic["test_acc"]["median"]
        result["same_accuracy"] = abs(result["acc_diff"]) <= ACC_TOLERANCE
        if chapter == "04_keras_mlp":  # how many threads, and how far from the floor
            result.update(mlp.limits(repeat, tiny, n_epochs, n_train, limit[1] or 10000))
            floor = result["floor"]
            result["floor_ratio"] = course["seconds"]["median"] / floor["seconds"]
            result["floor_ratio_best"] = course["seconds"]["median"] / floor["seconds_best"]
        models.append(result)
    return {
        "workers_classic": D2L_WORKERS,
        "acc_tolerance": ACC_TOLERANCE,
        "models": models,
    }
