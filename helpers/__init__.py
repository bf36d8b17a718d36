"""helpers: the small library behind the course "Fashion-MNIST, from scratch to GPU".

One module per concern: ``data`` (finding and verifying the files), ``loaders`` (in-memory
minibatches), ``training`` (d2l's classic ``train_ch3`` API), ``plotting``, ``device``,
``keras`` (a Keras-style wrapper) and ``distributed`` (launching ``torchrun`` jobs). Each
chapter shows the code of what it adds here.
"""

from helpers.data import (
    TEXT_LABELS,
    CorruptDataError,
    DataNotFoundError,
    ensure_fashion_mnist,
    fashion_mnist_dataset,
    get_fashion_mnist_labels,
    load_fashion_mnist_tensors,
)
from helpers.device import check_gpu_requirement, synchronize, time_it, try_all_gpus, try_gpu
from helpers.distributed import (
    LaunchError,
    LaunchTimeout,
    free_port,
    launch,
    pick_backend,
    run_here,
    torchrun_command,
)
from helpers.keras import History, KerasModel, NonFiniteError
from helpers.loaders import (
    TensorLoader,
    load_data_fashion_mnist,
    load_data_fashion_mnist_valid,
    split_train_valid,
)
from helpers.plotting import (
    ascii_art,
    confusion_matrix,
    plot_confusion_matrix,
    plot_history,
    plot_image,
    plot_value_array,
    show_images,
)
from helpers.training import (
    Accumulator,
    Timer,
    accuracy,
    evaluate_accuracy,
    predict_ch3,
    sgd,
    train_ch3,
    train_epoch_ch3,
)

__all__ = [
    "TEXT_LABELS", "Accumulator", "CorruptDataError", "DataNotFoundError", "History",
    "KerasModel", "LaunchError", "LaunchTimeout", "NonFiniteError", "TensorLoader", "Timer",
    "accuracy",
    "ascii_art", "check_gpu_requirement", "confusion_matrix", "ensure_fashion_mnist",
    "evaluate_accuracy", "fashion_mnist_dataset", "free_port", "get_fashion_mnist_labels",
    "launch", "load_data_fashion_mnist", "load_data_fashion_mnist_valid",
    "load_fashion_mnist_tensors", "pick_backend",
    "plot_confusion_matrix", "plot_history", "plot_image", "plot_value_array", "predict_ch3",
    "run_here",
    "sgd", "show_images", "split_train_valid", "synchronize", "time_it", "torchrun_command",
    "train_ch3", "train_epoch_ch3", "try_all_gpus", "try_gpu",
]  # fmt: skip
