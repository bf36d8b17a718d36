"""Fault injection for helpers.keras: bad data and bad arguments, as an unlucky learner gives them.

Each test reproduces a finding of the fault report (issue 11, "The Keras-style wrapper") on real
Fashion-MNIST and checks that the wrapper now stops with a clear error naming the problem.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from helpers import KerasModel
from helpers.keras import NonFiniteError


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


@pytest.fixture(scope="module")
def small(fashion_tensors):
    """1,000 training and 500 test images as float [N, 28, 28] in [0, 1], with labels."""
    X_train, y_train, X_test, y_test = fashion_tensors
    return (X_train[:1000].float() / 255, y_train[:1000].clone(),
            X_test[:500].float() / 255, y_test[:500].clone())  # fmt: skip


def compiled(loss="sparse_categorical_crossentropy") -> KerasModel:
    model = KerasModel(mlp())
    model.compile("adam", loss, metrics=["accuracy"])
    return model


# --- 1. non-finite losses and outputs -------------------------------------------------------


def test_fit_stops_at_the_first_nan_loss_naming_epoch_and_step(small):
    """One NaN pixel used to train the whole net to NaN weights without a word."""
    x, y = small[0].clone(), small[1]
    x[700, 14, 14] = float("nan")
    model = compiled()
    torch.manual_seed(0)
    model.fit(x[:600], y[:600], epochs=1, batch_size=50, verbose=0)  # clean rows: trains
    trained = {k: v.clone() for k, v in model.net.state_dict().items()}
    with pytest.raises(NonFiniteError, match=r"epoch 1 of 2, step 15 of 20") as info:
        model.fit(x, y, epochs=2, batch_size=50, verbose=0, shuffle=False)  # row 700: step 15
    assert "the loss is nan" in str(info.value) and "torch.isfinite(x)" in str(info.value)
    assert (info.value.epoch, info.value.step) == (1, 15)
    # The weights are those of the start of the failing epoch: trained, finite, usable.
    for key, value in model.net.state_dict().items():
        assert torch.equal(value, trained[key]), key
    loss, acc = model.evaluate(small[2], small[3], verbose=0)
    assert np.isfinite(loss) and acc > 0.5


class NanOnCall:
    """Cross-entropy that returns NaN on its ``n``-th call, as a diverging run would."""

    def __init__(self, n: int) -> None:
        self.n, self.calls = n, 0

    def __call__(self, logits, y):
        self.calls += 1
        loss = F.cross_entropy(logits, y)
        return loss * float("nan") if self.calls == self.n else loss


def test_a_nan_in_a_later_epoch_names_that_epoch(small):
    model = KerasModel(mlp())
    model.compile("adam", NanOnCall(7), metrics=["accuracy"])  # 4 steps an epoch: epoch 2
    with pytest.raises(NonFiniteError, match=r"epoch 2 of 3, step 3 of 4") as info:
        model.fit(small[0][:200], small[1][:200], epochs=3, batch_size=50, verbose=0)
    assert (info.value.epoch, info.value.step) == (2, 3)
    assert all(torch.isfinite(v).all() for v in model.net.state_dict().values())
    assert int(model.optimizer.state_dict()["state"][0]["step"]) == 4  # after epoch 1's steps


def test_fit_restores_the_weights_of_the_start_of_the_failing_epoch(small):
    x, y = small[0][:200].clone(), small[1][:200]
    x[150] = float("inf")
    model = compiled()
    start = {k: v.clone() for k, v in model.net.state_dict().items()}
    with pytest.raises(NonFiniteError, match="epoch 1 of 3, step 4 of 4"):
        model.fit(x, y, epochs=3, batch_size=50, verbose=0, shuffle=False)
    for key, value in model.net.state_dict().items():
        assert torch.equal(value, start[key]), key
    assert model.optimizer.state_dict()["state"] == {}  # Adam's moments: as before the epoch


def test_fit_flags_a_nan_in_the_validation_data(small):
    x_val = small[2].clone()
    x_val[3, 0, 0] = float("nan")
    with pytest.raises(NonFiniteError, match=r"validation.*epoch 1 of 1, step 1 of 5"):
        compiled().fit(small[0][:200], small[1][:200], batch_size=100, verbose=0,
                       validation_data=(x_val, small[3]))  # fmt: skip


def test_evaluate_and_predict_refuse_non_finite_outputs(small):
    model = compiled()
    with torch.no_grad():
        model.net[3].bias[2] = float("nan")  # what NaN-trained weights look like
    with pytest.raises(NonFiniteError, match="evaluate"):
        model.evaluate(small[2], small[3], verbose=0)
    with pytest.raises(NonFiniteError, match="predict"):
        model.predict(small[2])


# --- 2. labels against the loss -------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 10, 32])
def test_categorical_loss_with_integer_labels_is_refused(small, batch_size):
    """It used to train through broadcasting at batch sizes 1 and 10 (loss ~105, acc 0.08)."""
    model = compiled("categorical_crossentropy")
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy") as info:
        model.fit(small[0][:100], small[1][:100], batch_size=batch_size, verbose=0)
    assert "one-hot" in str(info.value) and "(100,)" in str(info.value)
    with pytest.raises(ValueError, match="sparse_categorical_crossentropy"):
        model.evaluate(small[2], small[3], batch_size=batch_size, verbose=0)


def test_sparse_loss_with_one_hot_or_float_labels_is_refused(small):
    model = compiled("sparse_categorical_crossentropy")
    one_hot = F.one_hot(small[1][:100], 10)  # integer one-hot rows
    with pytest.raises(ValueError, match="'categorical_crossentropy'"):
        model.fit(small[0][:100], one_hot, verbose=0)
    with pytest.raises(ValueError, match="integer"):
        model.fit(small[0][:100], small[1][:100].float(), verbose=0)


def test_categorical_loss_with_the_wrong_number_of_columns_is_refused(small):
    model = compiled("categorical_crossentropy")
    with pytest.raises(ValueError, match="10 classes"):
        model.fit(small[0][:100], F.one_hot(small[1][:100], 12).float(), verbose=0)


# --- 3. empty data and bad argument values --------------------------------------------------


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_empty_x_is_refused_naming_x(small, method):
    model = compiled()
    args = (small[0][:0],) if method == "predict" else (small[0][:0], small[1][:0])
    with pytest.raises(ValueError, match="x is empty"):
        getattr(model, method)(*args, verbose=0) if method != "predict" else model.predict(*args)


@pytest.mark.parametrize("bad", [0, -1, True, 2.0, "32"])
@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_bad_batch_size_is_refused_at_the_call(small, method, bad):
    model = compiled()
    call = {
        "fit": lambda: model.fit(small[0][:10], small[1][:10], batch_size=bad, verbose=0),
        "evaluate": lambda: model.evaluate(small[0][:10], small[1][:10], bad, verbose=0),
        "predict": lambda: model.predict(small[0][:10], batch_size=bad),
    }[method]
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        call()


@pytest.mark.parametrize("bad", [0, True, 1.5])
def test_bad_epochs_is_refused(small, bad):
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        compiled().fit(small[0][:10], small[1][:10], epochs=bad, verbose=0)


@pytest.mark.parametrize("bad", ["three items", "tensor", "one item"])
def test_validation_data_must_be_a_pair(small, bad):
    value = {
        "three items": (small[2], small[3], torch.ones(500)),
        "tensor": small[2],
        "one item": (small[2],),
    }[bad]
    with pytest.raises(ValueError, match=r"validation_data must be a pair \(x_val, y_val\)"):
        compiled().fit(small[0][:10], small[1][:10], validation_data=value, verbose=0)


def test_validation_data_is_checked_before_training(small):
    model = compiled()
    start = {k: v.clone() for k, v in model.net.state_dict().items()}
    with pytest.raises(ValueError, match="validation_data: x and y differ in length"):
        model.fit(small[0][:100], small[1][:100], validation_data=(small[2], small[3][:9]),
                  verbose=0)  # fmt: skip
    assert all(torch.equal(v, start[k]) for k, v in model.net.state_dict().items())


def test_metrics_as_a_string_is_refused_naming_metrics():
    with pytest.raises(TypeError, match=r"metrics must be a list.*\['accuracy'\]"):
        KerasModel(mlp()).compile(metrics="accuracy")


def test_a_loss_that_does_not_reduce_is_refused_at_compile():
    with pytest.raises(ValueError, match="reduction='none'"):
        KerasModel(mlp()).compile(loss=nn.CrossEntropyLoss(reduction="none"))


@pytest.mark.parametrize("x_kind", ["list", "uint8"])
def test_inputs_that_are_not_float_arrays_are_refused_clearly(small, x_kind):
    x = small[0][:10].tolist() if x_kind == "list" else (small[0][:10] * 255).to(torch.uint8)
    with pytest.raises(TypeError, match=r"x must (be|hold floats)"):
        compiled().fit(x, small[1][:10], verbose=0)


# --- numpy inputs, as in the Keras tutorial -------------------------------------------------


def test_numpy_arrays_work_as_in_the_keras_tutorial(small):
    """uint8 labels and float64 images, as ``fashion_mnist.load_data()`` and ``/ 255.0`` give."""
    x = small[0].numpy().astype(np.float64)
    y = small[1].numpy().astype(np.uint8)
    model = compiled()
    torch.manual_seed(0)
    history = model.fit(x, y, epochs=2, batch_size=32, verbose=0,
                        validation_data=(small[2].numpy(), small[3].numpy()))  # fmt: skip
    assert history.history["val_accuracy"][-1] > 0.6
    loss, acc = model.evaluate(small[2].numpy(), small[3].numpy().astype(np.int32), verbose=0)
    assert acc == pytest.approx(history.history["val_accuracy"][-1])
    probs = model.predict(small[2].numpy())
    assert isinstance(probs, torch.Tensor) and probs.shape == (500, 10)
    assert probs.dtype == torch.float32
