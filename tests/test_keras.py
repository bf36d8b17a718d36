"""helpers.keras: the Keras-style wrapper's compile/fit/evaluate/predict/summary on real data."""

from __future__ import annotations

import re

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from helpers import History, KerasModel
from helpers.keras import categorical_crossentropy

N_FIT, N_VAL = 6000, 1000


def mlp() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 10))


@pytest.fixture(scope="module")
def data(fashion_tensors):
    """6000 training and 1000 test images as float [N, 28, 28] in [0, 1], with labels."""
    X_train, y_train, X_test, y_test = fashion_tensors
    return (X_train[:N_FIT].float() / 255, y_train[:N_FIT],
            X_test[:N_VAL].float() / 255, y_test[:N_VAL])  # fmt: skip


@pytest.fixture(scope="module")
def fitted(data):
    """A model trained for 2 epochs with validation data, its History and the printed text."""
    import contextlib
    import io

    model = KerasModel(mlp())
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    out = io.StringIO()
    torch.manual_seed(0)
    with contextlib.redirect_stdout(out):
        history = model.fit(data[0], data[1], epochs=2, batch_size=64,
                            validation_data=(data[2], data[3]))  # fmt: skip
    return model, history, out.getvalue()


@pytest.mark.parametrize(
    ("name", "cls", "lr"),
    [("adam", torch.optim.Adam, 0.001), ("sgd", torch.optim.SGD, 0.01),
     ("rmsprop", torch.optim.RMSprop, 0.001), ("Adam", torch.optim.Adam, 0.001)],
)  # fmt: skip
def test_compile_builds_the_named_optimizer_with_keras_defaults(name, cls, lr):
    model = KerasModel(mlp())
    model.compile(name, "sparse_categorical_crossentropy", metrics=["accuracy"])
    assert type(model.optimizer) is cls
    assert model.optimizer.param_groups[0]["lr"] == lr
    # Adam's update runs as one fused kernel (half of a CPU step at batch 32 was its loop).
    assert bool(model.optimizer.defaults.get("fused")) == (cls is torch.optim.Adam)
    params = {id(p) for g in model.optimizer.param_groups for p in g["params"]}
    assert params == {id(p) for p in model.net.parameters()}
    assert isinstance(model.loss, nn.CrossEntropyLoss) and model.metrics == ["accuracy"]


def test_compile_accepts_objects():
    net = mlp()
    model = KerasModel(net)
    opt, loss = torch.optim.Adam(net.parameters(), lr=0.003), nn.CrossEntropyLoss()
    model.compile(optimizer=opt, loss=loss)
    assert model.optimizer is opt and model.loss is loss and model.metrics == []
    model.compile(optimizer=opt, loss="categorical_crossentropy")
    assert model.loss is categorical_crossentropy


@pytest.mark.parametrize(
    ("kwargs", "bad"),
    [({"optimizer": "adagrad"}, "adagrad"), ({"loss": "mse"}, "mse"),
     ({"metrics": ["accuracy", "precision"]}, "precision")],
)  # fmt: skip
def test_compile_rejects_unknown_names(kwargs, bad):
    with pytest.raises(ValueError, match=bad):
        KerasModel(mlp()).compile(**kwargs)


def test_compile_rejects_objects_of_the_wrong_kind():
    with pytest.raises(TypeError, match="optimizer"):
        KerasModel(mlp()).compile(optimizer=0.01)
    with pytest.raises(TypeError, match="loss"):
        KerasModel(mlp()).compile(loss=3)


def test_fit_and_evaluate_before_compile_raise(data):
    model = KerasModel(mlp())
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(data[0][:10], data[1][:10])
    with pytest.raises(RuntimeError, match="compile"):
        model.evaluate(data[0][:10], data[1][:10])


def test_fit_rejects_mismatched_lengths_and_bad_batch_size(data):
    model = KerasModel(mlp())
    model.compile()
    with pytest.raises(ValueError, match="length"):
        model.fit(data[0][:10], data[1][:9], verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(data[0][:10], data[1][:10], batch_size=0, verbose=0)


def test_fit_improves_the_loss_and_records_history(fitted):
    _, history, _ = fitted
    assert isinstance(history, History)
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 2 for v in history.history.values())
    assert len(history.epoch_seconds) == 2 and all(s > 0 for s in history.epoch_seconds)
    assert history.history["loss"][1] < history.history["loss"][0]
    assert history.history["accuracy"][1] > history.history["accuracy"][0]
    assert history.history["val_accuracy"][-1] > 0.75
    assert (
        repr(history) == "History(epochs=2, keys=['loss', 'accuracy', 'val_loss', 'val_accuracy'])"
    )


def test_fit_prints_one_keras_line_per_epoch(fitted):
    """One line per epoch, and the validation results on a second, indented one: each fits in
    79 characters (the book's code boxes)."""
    _, history, text = fitted
    lines = text.strip("\n").split("\n")
    assert len(lines) == 4 and max(len(line) for line in lines) <= 79, lines
    steps = -(-N_FIT // 64)
    pattern = (rf"Epoch (\d)/2 - {steps}/{steps} - [\d.]+s - loss: ([\d.]+) - accuracy: ([\d.]+)"
               r"\n    val_loss: ([\d.]+) - val_accuracy: ([\d.]+)")  # fmt: skip
    for epoch, line in enumerate(["\n".join(lines[i : i + 2]) for i in (0, 2)]):
        match = re.fullmatch(pattern, line)
        assert match, line
        assert int(match[1]) == epoch + 1
        assert float(match[2]) == pytest.approx(history.history["loss"][epoch], abs=5e-5)
        assert float(match[5]) == pytest.approx(history.history["val_accuracy"][epoch], abs=5e-5)


def test_fit_without_accuracy_metric_or_validation(data, capsys):
    model = KerasModel(mlp())
    model.compile("sgd", "sparse_categorical_crossentropy")
    history = model.fit(data[0][:500], data[1][:500], epochs=1, batch_size=100)
    assert list(history.history) == ["loss"]
    line = capsys.readouterr().out.strip()
    assert line.startswith("Epoch 1/1 - 5/5 - ") and "accuracy" not in line and "val_" not in line
    model.fit(data[0][:100], data[1][:100], verbose=0)
    assert capsys.readouterr().out == ""


def test_evaluate_agrees_with_a_hand_computation(fitted, data, capsys):
    model, _, _ = fitted
    x, y = data[2], data[3]
    loss, acc = model.evaluate(x, y, batch_size=128)
    with torch.no_grad():
        logits = model.net(x)
    assert loss == pytest.approx(float(F.cross_entropy(logits, y)), rel=1e-5)
    assert acc == pytest.approx(float((logits.argmax(1) == y).float().mean()))
    assert not model.net.training
    steps = -(-N_VAL // 128)
    assert capsys.readouterr().out == f"{steps}/{steps} - loss: {loss:.4f} - accuracy: {acc:.4f}\n"


def test_predict_gives_probability_rows_that_agree_with_the_net(fitted, data):
    model, _, _ = fitted
    x = data[2][:300]
    probs = model.predict(x, batch_size=64)
    assert probs.shape == (300, 10)
    assert torch.allclose(probs.sum(dim=1), torch.ones(300), atol=1e-5)
    assert float(probs.min()) >= 0.0
    with torch.no_grad():
        logits = model.net(x)
    assert torch.equal(probs.argmax(dim=1), logits.argmax(dim=1))
    assert torch.allclose(probs, F.softmax(logits, dim=1), atol=1e-6)


def test_categorical_loss_equals_sparse_loss_on_one_hot_labels(data):
    torch.manual_seed(0)
    logits = torch.randn(64, 10)
    y = data[1][:64]
    one_hot = F.one_hot(y, 10).float()
    assert float(categorical_crossentropy(logits, one_hot)) == pytest.approx(
        float(nn.CrossEntropyLoss()(logits, y)), rel=1e-6
    )


def test_fit_with_categorical_crossentropy_on_one_hot_labels(data):
    x, y = data[0][:1000], data[1][:1000]
    sparse, onehot = KerasModel(mlp()), KerasModel(mlp())  # same initial weights (seeded)
    sparse.compile("sgd", "sparse_categorical_crossentropy", metrics=["accuracy"])
    onehot.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    torch.manual_seed(1)
    h1 = sparse.fit(x, y, epochs=1, batch_size=100, verbose=0)
    torch.manual_seed(1)
    h2 = onehot.fit(x, F.one_hot(y, 10).float(), epochs=1, batch_size=100, verbose=0)
    assert h2.history["loss"][0] == pytest.approx(h1.history["loss"][0], rel=1e-5)
    assert h2.history["accuracy"] == h1.history["accuracy"]


def test_layers_and_summary_report_shapes_and_parameter_counts(capsys):
    model = KerasModel(mlp(), input_shape=(28, 28))
    layers = model.layers()
    assert [name for name, _, _ in layers] == ["Flatten", "Linear", "ReLU", "Linear"]
    assert [shape for _, shape, _ in layers] == [(None, 784), (None, 128), (None, 128), (None, 10)]
    counts = [params for _, _, params in layers]
    assert counts == [0, 784 * 128 + 128, 0, 128 * 10 + 10]
    total = sum(p.numel() for p in model.net.parameters())
    assert sum(counts) == total
    model.summary()
    out = capsys.readouterr().out
    assert f"Total params: {total:,}" in out and f"Trainable params: {total:,}" in out
    assert "(None, 784)" in out and "(None, 128)" in out and "(None, 10)" in out
    assert f"{784 * 128 + 128:,}" in out


def test_summary_counts_frozen_parameters_as_not_trainable(capsys):
    net = mlp()
    net[1].requires_grad_(False)
    KerasModel(net).summary()
    out = capsys.readouterr().out
    assert f"Trainable params: {128 * 10 + 10:,}" in out


def test_repr_names_the_input_shape_and_includes_the_summary():
    model = KerasModel(mlp(), input_shape=[28, 28])
    text = repr(model)
    assert text.startswith("KerasModel(input_shape=(28, 28))\n")
    assert text.endswith(model._summary_text())
    assert "Total params: 101,770" in text


def test_fit_with_bfloat16_autocast_learns_as_well_as_float32(data, fitted):
    """Autocast opened per step (compile(autocast=...)) trains; parameters stay float32."""
    model = KerasModel(mlp())
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"], torch.bfloat16)
    torch.manual_seed(0)
    model.fit(data[0], data[1], epochs=2, batch_size=64, verbose=0)
    _, acc = model.evaluate(data[2], data[3], verbose=0)
    _, acc_fp32 = fitted[0].evaluate(data[2], data[3], verbose=0)
    assert acc > 0.7 and abs(acc - acc_fp32) < 0.05, (acc, acc_fp32)
    assert {p.dtype for p in model.net.parameters()} == {torch.float32}


@pytest.mark.parametrize("bad", [torch.float32, torch.float64, "float16", "bfloat16"])
def test_compile_refuses_an_autocast_it_cannot_train_naming_both_16_bit_types(bad):
    with pytest.raises(ValueError, match=r"bfloat16 or torch\.float16.*GradScaler"):
        KerasModel(mlp()).compile("adam", autocast=bad)


def tiny_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cross-entropy times 1e-6: its weight gradients (about 1e-8) underflow in float16."""
    return 1e-6 * F.cross_entropy(logits, y)


def test_float16_gradients_this_small_round_to_zero_without_a_scaler(data):
    """The reason for the GradScaler, shown on the first layer of the chapter's MLP."""
    net = mlp()
    with torch.autocast("cpu", torch.float16):
        loss = tiny_loss(net(data[0][:64]), data[1][:64])
    loss.backward()
    assert float(net[1].weight.grad.abs().max()) == 0.0  # every gradient rounded to zero
    net.zero_grad()
    tiny_loss(net(data[0][:64]), data[1][:64]).backward()  # the same step in float32
    assert float(net[1].weight.grad.abs().max()) > 1e-9


def test_float16_autocast_trains_through_a_grad_scaler(data):
    """compile(autocast=torch.float16) scales the loss: the tiny gradients reach Adam."""
    model = KerasModel(mlp())
    model.compile("adam", tiny_loss, autocast=torch.float16)
    before = model.net[1].weight.detach().clone()
    torch.manual_seed(0)
    model.fit(data[0][:64], data[1][:64], epochs=1, batch_size=64, verbose=0)
    assert isinstance(model.scaler, torch.amp.GradScaler) and model.scaler_device == "cpu"
    assert model.scaler.get_scale() > 1.0  # the factor the loss was multiplied by
    assert not torch.equal(model.net[1].weight, before)  # the first layer learned
    assert {p.dtype for p in model.net.parameters()} == {torch.float32}


def test_float16_autocast_learns_and_evaluates_without_the_scaler(data):
    model = KerasModel(mlp())
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"], torch.float16)
    torch.manual_seed(0)
    history = model.fit(data[0][:2000], data[1][:2000], epochs=1, batch_size=64, verbose=0)
    scale = model.scaler.get_scale()
    _, acc = model.evaluate(data[2], data[3], verbose=0)
    assert history.history["loss"][0] < 1.5 and acc > 0.6, (history.history, acc)
    assert model.scaler.get_scale() == scale  # evaluate takes no step: the scaler is unused


def test_bfloat16_autocast_needs_no_scaler(data):
    model = KerasModel(mlp())
    model.compile("adam", autocast=torch.bfloat16)
    model.fit(data[0][:64], data[1][:64], epochs=1, batch_size=64, verbose=0)
    assert model.scaler is None
