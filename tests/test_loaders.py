"""helpers.loaders: in-memory minibatches that match torchvision's, with checked arguments."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torchvision.transforms import ToTensor
from torchvision.transforms import functional as TF

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
