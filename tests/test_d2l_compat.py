"""d2l 1.0.3 in this environment: what helpers reuses from it, what it replaces, and why.

These tests pin down d2l's behaviour that the course relies on or works around, so that a
d2l upgrade that changes any of it fails here rather than in a chapter.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
from torch import nn

import helpers
from helpers import TensorLoader, get_fashion_mnist_labels, load_data_fashion_mnist
from helpers import training as ht


def test_d2l_torch_imports_and_is_1_0_3():
    import d2l
    from d2l import torch as d2l_torch

    assert d2l.__version__ == "1.0.3"
    assert callable(d2l_torch.try_gpu) and callable(d2l_torch.accuracy)


def test_d2l_1_x_lacks_the_classic_training_api_that_helpers_supplies():
    from d2l import torch as d2l

    for name in ("train_ch3", "train_epoch_ch3", "predict_ch3", "evaluate_accuracy"):
        assert not hasattr(d2l, name), f"d2l has {name} again: helpers' copy may be dropped"
        assert callable(getattr(helpers, name))


def test_accumulator_and_timer_behave_like_d2ls():
    from d2l import torch as d2l

    ours, theirs = ht.Accumulator(2), d2l.Accumulator(2)
    for metric in (ours, theirs):
        metric.add(3, 4.5)
        metric.add(torch.tensor(1.0), 0.5)
    assert [ours[0], ours[1]] == [theirs[0], theirs[1]] == [4.0, 5.0]
    ours.reset()
    assert [ours[0], ours[1]] == [0.0, 0.0]
    with pytest.raises(ValueError):
        ours.add(1, 2, 3)  # one value per sum, never silently dropped
    timer = ht.Timer()
    assert timer.stop() >= 0.0 and len(timer.times) == 1
    timer.start()
    timer.stop()
    assert timer.sum() == pytest.approx(sum(timer.times))
    assert timer.avg() == pytest.approx(timer.sum() / 2)
    assert helpers.Accumulator is ht.Accumulator and helpers.Timer is ht.Timer


def test_labels_agree_with_d2ls_two_label_functions(fashion_tensors):
    from d2l import torch as d2l

    y = fashion_tensors[3][:100]
    assert get_fashion_mnist_labels(y) == d2l.get_fashion_mnist_labels(y)
    assert list(helpers.TEXT_LABELS) == d2l.FashionMNIST.text_labels(None, range(10))


def test_sgd_and_accuracy_agree_with_d2l():
    from d2l import torch as d2l

    torch.manual_seed(0)
    X, y = torch.randn(40, 6), torch.randint(0, 4, (40,))
    init = torch.randn(6, 4)
    ours, theirs = init.clone().requires_grad_(), init.clone().requires_grad_()
    for w, step in ((ours, ht.sgd), (theirs, d2l.sgd)):
        nn.functional.cross_entropy(X @ w, y, reduction="sum").backward()
        step([w], 0.05, len(y))
    assert torch.equal(ours, theirs) and not torch.equal(ours.detach(), init)
    logits = X @ ours.detach()
    assert ht.accuracy(logits, y) == d2l.accuracy(logits, y)


def test_evaluate_accuracy_agrees_with_d2ls_gpu_version(fashion_tensors):
    from d2l import torch as d2l

    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    test_iter = TensorLoader(fashion_tensors[2][:2000], fashion_tensors[3][:2000], 256)
    assert ht.evaluate_accuracy(net, test_iter) == pytest.approx(
        d2l.evaluate_accuracy_gpu(net, test_iter)
    )


def test_d2ls_loader_reads_the_same_batches_from_the_project_data(real_raw, tmp_path, monkeypatch):
    """d2l reads root="../data": from a folder beside the project's data it finds the same files."""
    from d2l import torch as d2l

    (tmp_path / "data").symlink_to(real_raw.parent.parent, target_is_directory=True)
    (tmp_path / "chapters").mkdir()
    monkeypatch.chdir(tmp_path / "chapters")
    monkeypatch.setattr(d2l, "get_dataloader_workers", lambda: 0)  # no worker processes
    d2l_train, d2l_test = d2l.load_data_fashion_mnist(100)
    train_iter, test_iter = load_data_fashion_mnist(100)
    assert len(d2l_train) == len(train_iter) and len(d2l_test) == len(test_iter)
    X_d2l, y_d2l = next(iter(d2l_test))
    X, y = next(iter(test_iter))
    assert torch.equal(y, y_d2l)
    assert torch.allclose(X, X_d2l, rtol=0, atol=1e-7)


def test_d2ls_show_images_fails_on_a_single_image_where_helpers_works(close_figures):
    """The reason helpers has its own show_images (d2l's first definition is a stub that
    raises NotImplementedError; a later one overrides it but needs a grid of axes)."""
    from d2l import torch as d2l

    img = torch.rand(1, 28, 28)
    axes = d2l.show_images(torch.rand(2, 28, 28), 1, 2, titles=["a", "b"])
    assert [ax.get_title() for ax in axes] == ["a", "b"]  # the working definition won
    with pytest.raises(AttributeError):
        d2l.show_images(img, 1, 1)
    plt.close("all")
    axes = helpers.show_images(img, 1, 1, titles=["one"])
    assert [ax.get_title() for ax in axes] == ["one"]


# -- d2l 0.x code with `import helpers as d2l` (appendix "Coming from", section d2l 0.x) ------

# Softmax regression from scratch as d2l 0.17 wrote it for PyTorch (section 3.6), as notes
# that call the package through `d2l.` keep it: abridged (the demonstrations and the
# section's own copies of accuracy, train_ch3, ... are left out), the results kept in names
# for the asserts, and otherwise unchanged but for the import line and num_epochs (10 there).
D2L_0X_SCRATCH = """
import torch
import helpers as d2l  # was: from d2l import torch as d2l

batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

num_inputs = 784
num_outputs = 10

W = torch.normal(0, 0.01, size=(num_inputs, num_outputs), requires_grad=True)
b = torch.zeros(num_outputs, requires_grad=True)

def softmax(X):
    X_exp = d2l.exp(X)
    partition = d2l.reduce_sum(X_exp, 1, keepdim=True)
    return X_exp / partition  # The broadcasting mechanism is applied here

def net(X):
    return softmax(d2l.matmul(d2l.reshape(X, (-1, W.shape[0])), W) + b)

def cross_entropy(y_hat, y):
    return - d2l.log(y_hat[range(len(y_hat)), y])

untrained_acc = d2l.evaluate_accuracy(net, test_iter)

lr = 0.1

def updater(batch_size):
    return d2l.sgd([W, b], lr, batch_size)

num_epochs = 1
history = d2l.train_ch3(net, train_iter, test_iter, cross_entropy, num_epochs, updater)
titles = d2l.predict_ch3(net, test_iter)
"""

# The appendix's replacements for d2l's framework-neutral tensor functions, which helpers
# does not have ("d2l.reshape(X, s) is X.reshape(s)", ...), applied as a reader would.
PORTS = {
    "d2l.exp(X)": "torch.exp(X)",
    "d2l.reduce_sum(X_exp, 1, keepdim=True)": "X_exp.sum(1, keepdim=True)",
    "d2l.matmul(d2l.reshape(X, (-1, W.shape[0])), W)": "X.reshape((-1, W.shape[0])) @ W",
    "d2l.log(": "torch.log(",
}

# The concise version (d2l 0.17, section 3.7): nothing but the import line changes.
D2L_0X_CONCISE = """
import torch
from torch import nn
import helpers as d2l  # was: from d2l import torch as d2l

batch_size = 256
train_iter, test_iter = d2l.load_data_fashion_mnist(batch_size)

net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))

def init_weights(m):
    if type(m) == nn.Linear:
        nn.init.normal_(m.weight, std=0.01)

net.apply(init_weights);
loss = nn.CrossEntropyLoss(reduction='none')
trainer = torch.optim.SGD(net.parameters(), lr=0.1)
num_epochs = 1
history = d2l.train_ch3(net, train_iter, test_iter, loss, num_epochs, trainer)
"""


def _run(code: str) -> dict:
    namespace: dict = {}
    torch.manual_seed(0)
    exec(compile(code, "<d2l 0.x notes>", "exec"), namespace)
    return namespace


def test_d2l_0x_code_stops_at_the_tensor_functions_helpers_lacks(real_raw, close_figures):
    """Unchanged apart from the import, the scratch code fails on `d2l.matmul`: the list of
    what helpers lacks, on the appendix, is needed."""
    with pytest.raises(AttributeError, match="module 'helpers' has no attribute 'matmul'"):
        _run(D2L_0X_SCRATCH)


def test_d2l_0x_softmax_regression_trains_with_import_helpers_as_d2l(real_raw, close_figures):
    code = D2L_0X_SCRATCH
    for old, new in PORTS.items():
        assert old in code, old
        code = code.replace(old, new)
    assert "d2l.exp" not in code and "d2l.reshape" not in code
    ns = _run(code)
    assert 0.02 < ns["untrained_acc"] < 0.3  # about one in ten before training
    history = ns["history"]
    assert list(history) == ["train loss", "train acc", "test acc"]
    # d2l 0.17's own train_ch3 asserted train_acc > 0.7 and test_acc > 0.7 after 10 epochs;
    # one epoch of SGD with lr 0.1 already gets there (about 0.75 and 0.79).
    assert history["train loss"][0] < 1.0 < 2.3  # ln(10) = 2.30 before training
    assert history["train acc"][0] > 0.7 and history["test acc"][0] > 0.75
    assert history["test acc"][0] == pytest.approx(ht.evaluate_accuracy(ns["net"], ns["test_iter"]))
    titles = ns["titles"]
    assert len(titles) == 6 and all(t.count("\n") == 1 for t in titles)
    assert len(plt.get_fignums()) == 2  # train_ch3's history, predict_ch3's images


def test_d2l_0x_concise_softmax_regression_runs_unchanged_with_helpers(real_raw, close_figures):
    """reduction='none' (d2l 0.17): helpers' train_epoch_ch3 takes the mean, as d2l's did."""
    history = _run(D2L_0X_CONCISE)["history"]
    assert history["train loss"][0] < 1.0
    assert history["train acc"][0] > 0.7 and history["test acc"][0] > 0.75


def test_the_appendix_list_of_what_helpers_lacks_is_true():
    """d2l 1.0.3 still defines these (d2l 0.17's chapters call them); helpers does not."""
    from d2l import torch as d2l

    lacks = ["Animator", "plt", "use_svg_display", "plot", "train_ch6",
             "evaluate_accuracy_gpu", "get_dataloader_workers", "reshape", "matmul",
             "exp", "log", "reduce_sum", "argmax", "astype", "size"]  # fmt: skip
    for name in lacks:
        assert hasattr(d2l, name), f"d2l 1.0.3 has no {name}"
        assert not hasattr(helpers, name), f"helpers has {name} now: update the appendix"
    has = ["load_data_fashion_mnist", "get_fashion_mnist_labels", "show_images", "train_ch3",
           "train_epoch_ch3", "evaluate_accuracy", "predict_ch3", "accuracy", "Accumulator",
           "Timer", "sgd", "try_gpu", "try_all_gpus"]  # fmt: skip
    assert all(callable(getattr(helpers, name)) for name in has)
    notes = "animator = d2l.Animator(xlabel='epoch', xlim=[1, 10])"
    with pytest.raises(AttributeError, match="no attribute 'Animator'"):
        exec(notes, {"d2l": helpers})


def test_the_appendix_replacements_compute_what_d2ls_tensor_functions_do():
    """The appendix's replacements (`X.reshape(s)` for `d2l.reshape(X, s)`, ...) equal d2l's."""
    from d2l import torch as d2l

    torch.manual_seed(0)
    X, W = torch.randn(4, 6), torch.randn(6, 3)
    y = torch.tensor([0, 2, 1, 2])
    y_hat = X @ W
    assert torch.equal(d2l.reshape(X, (-1, 3)), X.reshape((-1, 3)))
    assert torch.equal(d2l.matmul(X, W), X @ W)
    assert torch.equal(d2l.exp(X), torch.exp(X)) and torch.equal(d2l.log(X.abs()), X.abs().log())
    assert torch.equal(d2l.reduce_sum(X, 1, keepdim=True), X.sum(1, keepdim=True))
    assert torch.equal(d2l.argmax(y_hat, axis=1), y_hat.argmax(dim=1))
    assert torch.equal(d2l.astype(y_hat, y.dtype), y_hat.type(y.dtype))
    assert d2l.size(y) == y.numel() == 4


def test_d2l_1_x_validation_accuracy_averages_batch_means_and_helpers_does_not(fashion_tensors):
    """The appendix: Classifier.validation_step plots accuracy(Y_hat, Y), a per-batch mean,
    and ProgressBoard averages those; the exact accuracy sums averaged=False over batches."""
    from d2l import torch as d2l

    torch.manual_seed(0)
    model = d2l.Classifier()
    model.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    test_iter = TensorLoader(fashion_tensors[2], fashion_tensors[3], 256)
    means, correct = [], 0.0
    with torch.no_grad():
        for X, y in test_iter:
            means.append(float(model.accuracy(model(X), y)))
            correct += float(model.accuracy(model(X), y, averaged=False).sum())
    board = d2l.ProgressBoard(display=False)
    for value in means:
        board.draw(1, value, "val_acc", every_n=len(means))
    plotted = board.data["val_acc"][0].y
    assert plotted == pytest.approx(sum(means) / len(means))
    exact = ht.evaluate_accuracy(model, test_iter)
    assert exact == correct / 10_000
    assert abs(plotted - exact) > 1e-4  # the last batch holds 16 images, not 256
