"""What a user meets: uncertainty through Pipelines, warnings that help, progress."""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.frozen import FrozenEstimator
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skend2 import (
    DeepEnsembleClassifier,
    EnsembleDistiller,
    PriorNetworkDistiller,
    predict_uncertainty,
)
from skend2.metrics import ood_detection_auroc


def small(**kwargs):
    params = dict(n_members=3, max_epochs=10, random_state=0)
    return DeepEnsembleClassifier(**{**params, **kwargs})


@pytest.fixture(scope="module")
def digits_models(digits):
    teacher = small(max_epochs=30).fit(digits.X_train, digits.y_train)
    frozen = FrozenEstimator(teacher)
    return {
        "ensemble": teacher,
        "end": EnsembleDistiller(frozen, max_epochs=30, random_state=0).fit(
            digits.X_train, digits.y_train
        ),
        "end2": PriorNetworkDistiller(frozen, max_epochs=30, random_state=0).fit(
            digits.X_train, digits.y_train
        ),
    }


@pytest.mark.parametrize(
    "kind, measure",
    [("ensemble", "knowledge"), ("end", "total"), ("end2", "knowledge")],
)
def test_score_samples_is_minus_the_ood_measure(digits, digits_models, kind, measure):
    model = digits_models[kind]
    assert model.ood_measure == measure
    X_in, X_out = digits.X_test, digits.X_ood
    scores = model.score_samples(X_in)
    np.testing.assert_array_equal(
        scores, -model.predict_uncertainty(X_in, measure=measure)
    )
    labels = np.r_[np.zeros(len(X_in)), np.ones(len(X_out))]
    auroc = roc_auc_score(labels, -np.r_[scores, model.score_samples(X_out)])
    expected = ood_detection_auroc(
        model.predict_uncertainty(X_in, measure=measure),
        model.predict_uncertainty(X_out, measure=measure),
    )
    assert auroc == pytest.approx(expected, abs=1e-12)
    assert auroc > 0.8


@pytest.mark.parametrize("kind", ["ensemble", "end", "end2"])
def test_score_samples_and_uncertainty_through_a_pipeline(iris, kind):
    X, y = iris
    X = X * 10 + 3  # the scaler in the pipeline undoes it
    teacher = small()
    model = {
        "ensemble": teacher,
        "end": EnsembleDistiller(teacher, max_epochs=5, random_state=0),
        "end2": PriorNetworkDistiller(teacher, max_epochs=5, random_state=0),
    }[kind]
    pipe = make_pipeline(StandardScaler(), model).fit(X, y)
    Xt = pipe[0].transform(X)
    np.testing.assert_array_equal(pipe.score_samples(X), pipe[-1].score_samples(Xt))
    bunch = predict_uncertainty(pipe, X)
    direct = pipe[-1].predict_uncertainty(Xt)
    assert sorted(bunch) == sorted(direct)
    for name in direct:
        np.testing.assert_array_equal(bunch[name], direct[name])
    np.testing.assert_array_equal(
        predict_uncertainty(pipe, X, measure="total"), direct.total
    )


def test_predict_uncertainty_needs_an_skend2_estimator(iris):
    from sklearn.linear_model import LogisticRegression

    pipe = make_pipeline(StandardScaler(), LogisticRegression()).fit(*iris)
    with pytest.raises(TypeError, match="LogisticRegression has no predict_unc"):
        predict_uncertainty(pipe, iris[0])


def test_a_fitted_teacher_without_frozen_estimator_warns(iris):
    X, y = iris
    teacher = small(max_epochs=2).fit(X, y)
    with pytest.warns(UserWarning, match="FrozenEstimator"):
        PriorNetworkDistiller(teacher, max_epochs=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        PriorNetworkDistiller(FrozenEstimator(teacher), max_epochs=1).fit(X, y)
        PriorNetworkDistiller(small(max_epochs=2), max_epochs=1).fit(X, y)


def test_unscaled_inputs_get_a_hint():
    X, y = load_breast_cancer(return_X_y=True)
    with pytest.warns(UserWarning, match="StandardScaler"):
        small(max_epochs=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        make_pipeline(StandardScaler(), small(max_epochs=1)).fit(X, y)


def test_verbose_levels(iris, capsys):
    X, y = iris
    small(max_epochs=2).fit(X, y)
    quiet = capsys.readouterr()
    assert quiet.out == "" and quiet.err == ""
    small(max_epochs=2, verbose=1).fit(X, y)
    bar = capsys.readouterr()
    assert "DeepEnsembleClassifier (3 members, fused)" in bar.err
    assert "2/2" in bar.err
    small(max_epochs=2, verbose=1, training="sequential").fit(X, y)
    assert "member 3 of 3" in capsys.readouterr().err
    PriorNetworkDistiller(
        FrozenEstimator(small(max_epochs=2).fit(X, y)), max_epochs=2, verbose=1
    ).fit(X, y)
    assert "PriorNetworkDistiller student" in capsys.readouterr().err
    small(max_epochs=2, verbose=2).fit(X, y)
    table = capsys.readouterr().out
    assert "train_loss" in table and "epoch" in table
