"""Shared fixtures: small data sets and fixed seeds."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

# Small networks gain nothing from intra-op threads, and with the 2 cores shared
# (pytest plus joblib workers) threads only contend.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _fixed_seeds():
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def iris():
    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X), y


@pytest.fixture(scope="session")
def digits():
    from skend2.datasets import load_digits_ood

    return load_digits_ood(random_state=0)


@pytest.fixture(scope="session")
def digits_ensemble(digits):
    """The issue's setting: 10 MLP members, digits 0-4, pixels in [0, 1]."""
    from skend2 import DeepEnsembleClassifier

    return DeepEnsembleClassifier(n_members=10, max_epochs=60, random_state=0).fit(
        digits.X_train, digits.y_train
    )


def assert_same_members(a, b, X):
    """Two ensembles with the same weights and the same member logits on X."""
    for (name, pa), (_, pb) in zip(
        a.module_.state_dict().items(), b.module_.state_dict().items()
    ):
        assert torch.equal(pa, pb), name
    np.testing.assert_array_equal(
        a.predict_member_logits(X), b.predict_member_logits(X)
    )


def linear_problem(n: int, d: int):
    """A small two-class problem: float32 Gaussian X, y from a linear rule."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(n, d)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, y
