"""Fidelity of EnD² to its ensemble on real data, pinned on a fast subset.

The full panel is ``benchmarks/fidelity.py`` (results in docs/benchmarks.md);
these tests pin, with fixed seeds, what a regression would lose: the defaults
(``criterion__ce_weight=100``, ``transfer="auto"``) keep the ensemble's OOD
detection on Fashion-MNIST where the paper's loss alone loses it, the
Proxy-Dirichlet loss normalised by its target precision keeps EnD²'s accuracy
where the plain reverse KL loses it, and EnD² keeps the ensemble's OOD detection
on Vehicle.
"""

import numpy as np
import pytest
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import StandardScaler

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
from skend2.datasets import load_fashion_mnist_ood, load_mlbench_ood
from skend2.metrics import ood_detection_auroc


def _error(model, X, y):
    return 100.0 * float(np.mean(model.predict(X) != y))


@pytest.fixture(scope="module")
def vehicle():
    try:
        data = load_mlbench_ood("Vehicle", random_state=0)
    except (FileNotFoundError, ImportError) as exc:
        pytest.skip(f"mlbench data not available: {exc}")
    scaler = StandardScaler().fit(data.X_train)
    for key in ("X_train", "X_test", "X_ood"):
        data[key] = scaler.transform(data[key])
    data.teacher = DeepEnsembleClassifier(random_state=0).fit(
        data.X_train, data.y_train
    )
    return data


@pytest.mark.slow
def test_normalised_proxy_loss_keeps_the_accuracy_on_vehicle(vehicle):
    d = vehicle

    def student(**kwargs):
        model = PriorNetworkDistiller(
            FrozenEstimator(d.teacher), random_state=0, **kwargs
        ).fit(d.X_train, d.y_train)
        return _error(model, d.X_test, d.y_test)

    nll = student()
    proxy = student(loss="proxy")
    raw = student(loss="proxy", criterion__normalize=False)
    assert proxy <= nll + 1.5, (proxy, nll)
    assert raw >= proxy + 3.0, (raw, proxy)


@pytest.mark.slow
def test_end2_keeps_the_ensembles_ood_detection_on_vehicle(vehicle):
    d = vehicle
    student = PriorNetworkDistiller(FrozenEstimator(d.teacher), random_state=0).fit(
        d.X_train, d.y_train
    )

    def auroc(model, measure):
        return ood_detection_auroc(
            model.predict_uncertainty(d.X_test, measure),
            model.predict_uncertainty(d.X_ood, measure),
        )

    assert auroc(student, "knowledge") >= 0.97 * auroc(d.teacher, "knowledge")
    assert (
        _error(student, d.X_test, d.y_test)
        <= _error(d.teacher, d.X_test, d.y_test) + 2.0
    )


@pytest.mark.slow
def test_defaults_keep_the_ensembles_ood_detection_on_fashion_mnist():
    # 1,000 training images, the default MLP on the pixels. Measured: ensemble
    # error 20.2 %, knowledge AUROC against MNIST 0.876; the paper's EnD²
    # (criterion__ce_weight=0, transfer=None) 19.5 % and 0.786 (90 % of the
    # ensemble's: it learns nothing off the training images, where the members
    # agree); the defaults 19.2 % and 0.880 (19.6 % and 0.893 when they still
    # annealed). On the full panel (10,000 images): 0.73 -> 0.93 against the
    # ensemble's 0.89.
    try:
        data = load_fashion_mnist_ood(
            n_train=1000, n_test=1000, n_ood=1000, random_state=0
        )
    except (FileNotFoundError, ImportError) as exc:
        pytest.skip(f"Fashion-MNIST / MNIST data not available: {exc}")
    X_train, X_test, X_ood = (
        data[k].reshape(len(data[k]), -1) for k in ("X_train", "X_test", "X_ood")
    )
    with pytest.warns(UserWarning, match="unscaled"):
        teacher = DeepEnsembleClassifier(max_epochs=60, random_state=0).fit(
            X_train, data.y_train
        )

    def fit(**kwargs):
        with pytest.warns(UserWarning, match="unscaled"):
            return PriorNetworkDistiller(
                FrozenEstimator(teacher), max_epochs=100, random_state=0, **kwargs
            ).fit(X_train, data.y_train)

    def knowledge_auroc(model):
        return ood_detection_auroc(
            model.predict_uncertainty(X_test, "knowledge"),
            model.predict_uncertainty(X_ood, "knowledge"),
        )

    ensemble = knowledge_auroc(teacher)
    defaults = fit()
    paper = fit(criterion__ce_weight=0.0, transfer=None)
    assert knowledge_auroc(defaults) >= 0.97 * ensemble
    assert knowledge_auroc(defaults) >= knowledge_auroc(paper) + 0.06
    assert _error(defaults, X_test, data.y_test) <= (
        _error(teacher, X_test, data.y_test) + 1.0
    )
