"""helpers.loaders: in-memory minibatches that match torchvision's, with checked arguments."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torchvision.transforms import ToTensor
from torchvision.transforms import functional as TF

import helpers
from helpers import TensorLoader, load_data_fashion_mnist

B = 256


@pytest.fixture(scope="module")
def iters(fashion_tensors):
    """``(train_iter, test_iter)`` with batch size 256 on the CPU."""
    return load_data_fashion_mnist(B)


def test_batches_are_float_images_in_unit_range_with_int_labels(iters):
    for loader in iters:
        X, y = next(iter(loader))
        assert X.shape == (B, 1, 28, 28) and X.dtype == torch.float32
        assert y.shape == (B,) and y.dtype == torch.int64
        assert float(X.min()) >= 0.0 and float(X.max()) <= 1.0
        assert float(X.max()) > 0.5  # really scaled by 1/255, not by a larger factor
        assert X.device.type == "cpu"


@pytest.mark.parametrize(("split", "n"), [(0, 60000), (1, 10000)], ids=["train", "test"])
def test_length_and_last_batch_size(iters, split, n):
    loader = iters[split]
    assert len(loader) == math.ceil(n / B)
    sizes = [len(y) for _, y in loader]
    assert len(sizes) == len(loader)
    assert sizes[:-1] == [B] * (len(loader) - 1) and sizes[-1] == n - B * (len(loader) - 1)


def test_train_iterator_reshuffles_every_epoch(iters):
    first = next(iter(iters[0]))[0]
    second = next(iter(iters[0]))[0]
    assert not torch.equal(first, second)


def test_test_iterator_keeps_the_file_order(iters, fashion_tensors):
    X1, y1 = next(iter(iters[1]))
    X2, y2 = next(iter(iters[1]))
    assert torch.equal(X1, X2) and torch.equal(y1, y2)
    assert torch.equal(y1, fashion_tensors[3][:B])


def test_seeding_reproduces_the_training_order(iters):
    torch.manual_seed(123)
    X1, y1 = next(iter(iters[0]))
    torch.manual_seed(123)
    X2, y2 = next(iter(iters[0]))
    assert torch.equal(X1, X2) and torch.equal(y1, y2)


def test_one_training_epoch_visits_every_image_exactly_once(iters, fashion_tensors):
    X_train, y_train = fashion_tensors[:2]
    weights = torch.rand(784, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def keys(pixels):  # one number per image (0..255 pixels), so two multisets can be compared
        return (pixels.reshape(len(pixels), -1).double() @ weights).sort().values

    seen = [(X, y) for X, y in iters[0]]
    X_all = torch.cat([X for X, _ in seen])
    y_all = torch.cat([y for _, y in seen])
    assert len(y_all) == 60000
    assert torch.equal(torch.bincount(y_all), torch.bincount(y_train))
    assert torch.allclose(keys((X_all[:, 0] * 255).round()), keys(X_train), rtol=0, atol=1e-6)


def test_tensor_loader_shuffle_is_a_permutation():
    images = torch.zeros(1000, 28, 28, dtype=torch.uint8)
    loader = TensorLoader(images, torch.arange(1000), batch_size=64, shuffle=True)
    order = torch.cat([y for _, y in loader])
    assert not torch.equal(order, torch.arange(1000))
    assert torch.equal(order.sort().values, torch.arange(1000))


@pytest.mark.parametrize(("resize", "shape"), [(64, (64, 64)), ((32, 48), (32, 48))])
def test_resize_gives_the_requested_shape(fashion_tensors, resize, shape):
    _, test_iter = load_data_fashion_mnist(B, resize=resize)
    X, y = next(iter(test_iter))
    assert X.shape == (B, 1, *shape) and X.dtype == torch.float32 and y.shape == (B,)
    tensors = torch.stack([ToTensor()(img.numpy()) for img in fashion_tensors[2][:B]])
    reference = TF.resize(tensors, list(shape), antialias=True)
    assert torch.allclose(X, reference, atol=1e-6)


def test_test_batches_equal_torchvision_to_tensor(iters, real_raw):
    ref = torchvision.datasets.FashionMNIST(
        root=str(real_raw.parent.parent), train=False, transform=ToTensor()
    )
    batches = iter(iters[1])
    for b in range(2):
        X, y = next(batches)
        expected = [ref[i] for i in range(b * B, (b + 1) * B)]
        assert torch.equal(X, torch.stack([img for img, _ in expected]))
        assert y.tolist() == [label for _, label in expected]


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "256"])
def test_bad_batch_size_is_rejected_by_name(batch_size):
    with pytest.raises((ValueError, TypeError), match="batch_size"):
        load_data_fashion_mnist(batch_size)


@pytest.mark.parametrize("resize", [0, (28,), "64", (1.5, 2), (28, 0), True])
def test_bad_resize_is_rejected_by_name(resize):
    with pytest.raises((ValueError, TypeError), match="resize"):
        load_data_fashion_mnist(B, resize=resize)


def test_unknown_device_is_rejected_by_name():
    with pytest.raises((ValueError, TypeError), match="device"):
        load_data_fashion_mnist(B, device="gpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_cuda_without_a_gpu_is_rejected_by_name():
    with pytest.raises(ValueError, match="device 'cuda'.*no CUDA GPU"):
        load_data_fashion_mnist(B, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_batches_live_on_the_gpu(fashion_tensors):
    train_iter, test_iter = load_data_fashion_mnist(B, device="cuda")
    for loader in (train_iter, test_iter):
        X, y = next(iter(loader))
        assert X.device.type == "cuda" and y.device.type == "cuda"
    assert torch.equal(next(iter(test_iter))[1].cpu(), fashion_tensors[3][:B])


def test_device_object_is_accepted(fashion_tensors):
    _, test_iter = load_data_fashion_mnist(B, device=torch.device("cpu"))
    assert next(iter(test_iter))[0].device == torch.device("cpu")


def test_root_that_is_a_file_is_rejected_by_name(tmp_path):
    a_file = tmp_path / "data.txt"
    a_file.write_text("not a folder")
    with pytest.raises(ValueError, match="root"):
        load_data_fashion_mnist(B, root=a_file)


# Data parallelism: each rank's share of an epoch, the counterpart of DistributedSampler.


def _shares(n, world_size, batch_size=4, shuffle=True, seed=0, epoch=None):
    """The labels (here: the indices) each rank sees in one epoch."""
    images = torch.zeros(n, 2, 2, dtype=torch.uint8)
    shares = []
    for rank in range(world_size):
        loader = TensorLoader(
            images,
            torch.arange(n),
            batch_size,
            shuffle,
            rank=rank,
            world_size=world_size,
            seed=seed,
        )
        if epoch is not None:
            loader.set_epoch(epoch)
        batches = [y for _, y in loader]
        assert len(batches) == len(loader)
        shares.append(torch.cat(batches) if batches else torch.zeros(0, dtype=torch.int64))
    return shares


@pytest.mark.parametrize(("n", "world_size"), [(100, 4), (10, 4), (3, 4), (60, 1), (0, 2)])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("epoch", [None, 0, 3])
def test_rank_shares_equal_distributed_sampler(n, world_size, shuffle, epoch):
    shares = _shares(n, world_size, shuffle=shuffle, seed=7, epoch=epoch)
    for rank, share in enumerate(shares):
        if world_size == 1 and epoch is None:
            continue  # the unsharded path, tested below
        sampler = torch.utils.data.DistributedSampler(
            range(n), num_replicas=world_size, rank=rank, shuffle=shuffle, seed=7
        )
        sampler.set_epoch(epoch or 0)
        assert share.tolist() == list(sampler)


def test_ranks_split_an_epoch_into_disjoint_equal_shares():
    shares = _shares(1000, 4, batch_size=64, epoch=2)
    assert [len(s) for s in shares] == [250] * 4
    assert torch.equal(torch.cat(shares).sort().values, torch.arange(1000))


def test_uneven_split_is_padded_by_repeating_indices():
    shares = _shares(10, 4, epoch=0)
    assert [len(s) for s in shares] == [3] * 4  # 12 places for 10 images
    everything = torch.cat(shares)
    assert set(everything.tolist()) == set(range(10))
    counts = torch.bincount(everything, minlength=10)
    assert sorted(counts.tolist()) == [1] * 8 + [2] * 2


def test_set_epoch_reshuffles_and_the_same_epoch_repeats():
    assert not torch.equal(_shares(200, 2, epoch=0)[0], _shares(200, 2, epoch=1)[0])
    assert torch.equal(_shares(200, 2, epoch=1)[0], _shares(200, 2, epoch=1)[0])
    assert not torch.equal(_shares(200, 2, seed=1, epoch=1)[0], _shares(200, 2, epoch=1)[0])


def test_sharded_order_ignores_the_global_generator():
    torch.manual_seed(1)
    first = _shares(200, 2, epoch=5)
    state = torch.get_rng_state()
    torch.manual_seed(2)
    assert all(torch.equal(a, b) for a, b in zip(first, _shares(200, 2, epoch=5), strict=True))
    torch.manual_seed(1)
    _shares(200, 2, epoch=5)
    assert torch.equal(torch.get_rng_state(), state)  # drawing a shard used no global draw


def test_one_rank_without_set_epoch_is_unchanged():
    images, labels = torch.zeros(500, 2, 2, dtype=torch.uint8), torch.arange(500)
    torch.manual_seed(3)
    expected = torch.randperm(500)
    torch.manual_seed(3)
    order = torch.cat([y for _, y in TensorLoader(images, labels, 64, shuffle=True)])
    assert torch.equal(order, expected)
    plain = TensorLoader(images, labels, 64, world_size=1, rank=0)
    assert torch.equal(torch.cat([y for _, y in plain]), labels)


def test_set_epoch_on_one_rank_uses_the_seeded_generator():
    images, labels = torch.zeros(500, 2, 2, dtype=torch.uint8), torch.arange(500)
    loader = TensorLoader(images, labels, 64, shuffle=True, seed=4)
    loader.set_epoch(2)
    expected = torch.randperm(500, generator=torch.Generator().manual_seed(6))
    assert torch.equal(torch.cat([y for _, y in loader]), expected)


def test_sharded_batches_hold_the_right_images(fashion_tensors):
    X_test, y_test = fashion_tensors[2][:1000], fashion_tensors[3][:1000]
    loader = TensorLoader(X_test, y_test, 100, shuffle=True, rank=1, world_size=3, seed=9)
    loader.set_epoch(1)
    X, y = next(iter(loader))
    idx = loader._shard()[:100]
    assert torch.equal((X[:, 0] * 255).round().to(torch.uint8), X_test[idx])
    assert torch.equal(y, y_test[idx])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"world_size": 0}, "rank < world_size"),
        ({"world_size": 2, "rank": 2}, "rank < world_size"),
        ({"rank": -1}, "rank"),
        ({"world_size": 2.0}, "world_size"),
        ({"world_size": True}, "world_size"),
        ({"seed": -1}, "seed"),
        ({"seed": "0"}, "seed"),
    ],
)
def test_bad_rank_world_size_or_seed_is_rejected_by_name(kwargs, name):
    images, labels = torch.zeros(10, 2, 2, dtype=torch.uint8), torch.arange(10)
    with pytest.raises(ValueError, match=name):
        TensorLoader(images, labels, 4, **kwargs)


@pytest.mark.parametrize("epoch", [-1, 1.0, True, None])
def test_bad_epoch_is_rejected_by_name(epoch):
    loader = TensorLoader(torch.zeros(10, 2, 2, dtype=torch.uint8), torch.arange(10), 4)
    with pytest.raises(ValueError, match="epoch"):
        loader.set_epoch(epoch)


def test_images_and_labels_on_different_devices_are_rejected():
    images = torch.zeros(10, 2, 2, dtype=torch.uint8)
    labels = torch.zeros(10, dtype=torch.int64, device="meta")  # any second device will do
    with pytest.raises(ValueError, match="images on cpu but labels on meta"):
        TensorLoader(images, labels, 4)


def test_split_train_valid_holds_out_a_fixed_disjoint_draw(fashion_tensors):
    X, y = fashion_tensors[0], fashion_tensors[1]
    X_tr, y_tr, X_va, y_va = helpers.split_train_valid(X, y, valid_size=10_000)
    assert (len(y_tr), len(y_va)) == (50_000, 10_000)
    assert X_tr.shape[1:] == X_va.shape[1:] == (28, 28)
    # The same seed gives the same split; together the two parts are the training set.
    again = helpers.split_train_valid(X, y, valid_size=10_000)
    assert torch.equal(again[3], y_va) and torch.equal(again[2], X_va)
    assert torch.equal(torch.bincount(torch.cat([y_tr, y_va])), torch.bincount(y))
    # A random draw keeps the classes balanced: each has 1,000 +- 100 of the 10,000.
    assert (torch.bincount(y_va, minlength=10) - 1000).abs().max() < 100
    other = helpers.split_train_valid(X, y, valid_size=10_000, seed=1)
    assert not torch.equal(other[3], y_va)


@pytest.mark.parametrize("size", [0, 60_000, -5, 2.5, True])
def test_split_train_valid_rejects_a_bad_size(fashion_tensors, size):
    with pytest.raises(ValueError, match="valid_size"):
        helpers.split_train_valid(fashion_tensors[0], fashion_tensors[1], valid_size=size)


def test_load_data_fashion_mnist_valid_never_touches_the_test_set(fashion_tensors):
    train_iter, valid_iter = helpers.load_data_fashion_mnist_valid(500, valid_size=5_000)
    sizes = [sum(len(y) for _, y in loader) for loader in (train_iter, valid_iter)]
    assert sizes == [55_000, 5_000]
    X, y = next(iter(valid_iter))
    assert X.shape == (500, 1, 28, 28) and X.dtype == torch.float32
    # Every validation image is a training image, none is a test image (exact pixel match).
    train_set = {bytes(img.numpy()) for img in fashion_tensors[0][:60_000]}
    assert all(bytes((x[0] * 255).round().byte().numpy()) in train_set for x in X[:50])
