"""Tests for skend2.metrics."""

import pickle
import sys
import types

import numpy as np
import pytest
import torch
from scipy.special import softmax
from scipy.stats import dirichlet, entropy
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.datasets import load_digits, load_iris
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    auc,
    average_precision_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    cross_validate,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch

from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller
from skend2._measures import MEASURES, final_estimator, final_step
from skend2.metrics import (
    SCORERS,
    distillation_nll,
    distillation_nll_scorer,
    ece_scorer,
    evaluate_classifier,
    expected_calibration_error,
    get_scorer,
    misclassification_detection_aupr,
    misclassification_detection_auroc,
    negative_log_likelihood,
    ood_auroc_scorer,
    ood_detection_aupr,
    ood_detection_auroc,
    prediction_rejection_ratio,
)

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _reference_dirichlet_nll_loss(
    student_logits,
    teacher_logits,
    temperature=1.0,
    smoothing=1e-3,
    eps=1e-8,
    reduction="mean",
):
    """The EnD² loss of DESIGN.md, written out for tests (skend2.losses stand-in)."""
    n_classes = teacher_logits.shape[-1]
    probs = torch.softmax(teacher_logits / temperature, dim=-1)
    probs = (1 - smoothing) * probs + smoothing / n_classes
    mean_log = torch.log(probs + eps).mean(dim=1)
    alpha = torch.exp(student_logits / temperature)
    loss = (
        torch.lgamma(alpha).sum(-1)
        - torch.lgamma(alpha.sum(-1))
        - ((alpha - 1) * mean_log).sum(-1)
    ) * temperature**2
    _reference_dirichlet_nll_loss.calls.append(
        (student_logits.dtype, teacher_logits.dtype, temperature)
    )
    return loss.mean() if reduction == "mean" else loss


_reference_dirichlet_nll_loss.calls = []


@pytest.fixture
def reference_losses(monkeypatch):
    """Route ``from skend2.losses import dirichlet_nll_loss`` to the reference."""
    module = types.ModuleType("skend2.losses")
    module.dirichlet_nll_loss = _reference_dirichlet_nll_loss
    monkeypatch.setitem(sys.modules, "skend2.losses", module)
    _reference_dirichlet_nll_loss.calls.clear()
    return module


def _scipy_distillation_nll(member_logits, student_logits, offset=0.0):
    """-mean_n mean_m log Dir(smoothed pi_nm | exp(z_n) + offset), via scipy."""
    n_classes = member_logits.shape[-1]
    probs = softmax(member_logits, axis=-1)
    probs = (1 - 1e-3) * probs + 1e-3 / n_classes
    alphas = np.exp(student_logits) + offset
    values = [
        -np.mean([dirichlet.logpdf(p / p.sum(), a) for p in member_probs])
        for member_probs, a in zip(probs, alphas)
    ]
    return float(np.mean(values))


def _loop_ece(y_true_idx, y_prob, n_bins):
    """Guo et al.'s loop over (lower, upper] bins."""
    conf = y_prob.max(1)
    correct = y_prob.argmax(1) == y_true_idx
    edges = np.linspace(0, 1, n_bins + 1)
    ece = 0.0
    for lower, upper in zip(edges[:-1], edges[1:]):
        in_bin = (conf > lower) & (conf <= upper)
        if in_bin.any():
            ece += in_bin.mean() * abs(correct[in_bin].mean() - conf[in_bin].mean())
    return ece


def _loop_prr(errors, uncertainty):
    """Rejection curves written point by point, areas by sklearn's auc."""
    n = len(errors)
    order = np.argsort(-uncertainty, kind="stable")
    fractions = np.arange(n + 1) / n
    unc = [errors[order[k:]].sum() / n for k in range(n + 1)]
    total = errors.sum()
    rnd = [total / n * (1 - k / n) for k in range(n + 1)]
    orc = [max(total - k, 0) / n for k in range(n + 1)]
    a_unc, a_rnd, a_orc = (auc(fractions, c) for c in (unc, rnd, orc))
    return (a_rnd - a_unc) / (a_rnd - a_orc)


class _FakeTeacher:
    def __init__(self, lr, n_members=4, seed=0):
        self.lr = lr
        n_classes = len(lr.classes_)
        self.offsets = np.random.default_rng(seed).normal(size=(n_members, n_classes))

    def predict_member_logits(self, X):
        base = self.lr.predict_log_proba(X)
        return base[:, None, :] + self.offsets[None]


class FakePriorNetwork(ClassifierMixin, BaseEstimator):
    """Tiny stand-in exposing the PriorNetworkDistiller contract.

    alpha = precision * softmax(logistic-regression logits); knowledge uncertainty
    is the squared input norm, so far-away inputs look OOD.
    """

    def __init__(self, precision=10.0, offset=0.0):
        self.precision = precision
        self.offset = offset

    def fit(self, X, y):
        self.lr_ = LogisticRegression(max_iter=1000).fit(X, y)
        self.classes_ = self.lr_.classes_
        self.teacher_ = _FakeTeacher(self.lr_)
        self.concentration_offset_ = float(self.offset)
        return self

    def predict_logits(self, X):
        return np.log(self.precision) + self.lr_.predict_log_proba(X)

    def predict_concentrations(self, X):
        return np.exp(self.predict_logits(X)) + self.concentration_offset_

    def predict_proba(self, X):
        alphas = self.predict_concentrations(X)
        return alphas / alphas.sum(1, keepdims=True)

    def predict(self, X):
        return self.classes_[self.predict_proba(X).argmax(1)]

    def predict_uncertainty(self, X, measure=None):
        total = entropy(self.predict_proba(X), axis=1)
        knowledge = np.sum(np.asarray(X, dtype=float) ** 2, axis=1)
        bunch = Bunch(total=total, data=total / 2, knowledge=knowledge)
        return bunch if measure is None else bunch[measure]


# ---------------------------------------------------------------------------
# OOD detection
# ---------------------------------------------------------------------------


def test_ood_auroc_separated_identical_and_sklearn():
    assert ood_detection_auroc([0.1, 0.2, 0.3], [0.5, 0.7]) == 1.0
    assert ood_detection_auroc([0.5, 0.7], [0.1, 0.2, 0.3]) == 0.0
    assert ood_detection_auroc(np.ones(7), np.ones(3)) == 0.5
    rng = np.random.default_rng(0)
    in_u, out_u = rng.normal(size=50), rng.normal(0.5, size=30)
    labels = np.r_[np.zeros(50), np.ones(30)]
    assert ood_detection_auroc(in_u, out_u) == pytest.approx(
        roc_auc_score(labels, np.r_[in_u, out_u])
    )


def test_ood_aupr_in_and_out_differ_on_asymmetric_case():
    in_u, out_u = [0.1, 0.5, 0.3, 0.2], [0.4, 0.9]
    # Out: ranking 0.9(o) 0.5(i) 0.4(o) -> 0.5 * 1 + 0.5 * 2/3.
    assert ood_detection_aupr(in_u, out_u) == pytest.approx(5 / 6)
    # In, by negated scores: 0.1 0.2 0.3 (i) 0.4(o) 0.5(i) -> (1 + 1 + 1 + 4/5) / 4.
    assert ood_detection_aupr(in_u, out_u, positive="in") == pytest.approx(0.95)
    # Uninformative scores: chance level is the positive share, different per side.
    assert ood_detection_aupr(np.zeros(30), np.zeros(10)) == pytest.approx(0.25)
    assert ood_detection_aupr(
        np.zeros(30), np.zeros(10), positive="in"
    ) == pytest.approx(0.75)


@pytest.mark.parametrize(
    "in_scores, out_scores, match",
    [
        ([0.1, np.nan], [0.2], "in_scores contains NaN"),
        ([0.1], [np.inf], "out_scores contains NaN or infinite"),
        ([], [0.2], "in_scores is empty"),
        ([[0.1, 0.2]], [0.2], "in_scores must be a 1-D"),
    ],
)
def test_ood_bad_input(in_scores, out_scores, match):
    with pytest.raises(ValueError, match=match):
        ood_detection_auroc(in_scores, out_scores)
    with pytest.raises(ValueError, match=match):
        ood_detection_aupr(in_scores, out_scores)


def test_ood_aupr_bad_positive():
    with pytest.raises(ValueError, match="positive must be"):
        ood_detection_aupr([0.1], [0.2], positive="out")


# ---------------------------------------------------------------------------
# Misclassification detection and PRR
# ---------------------------------------------------------------------------


def test_misclassification_auroc_aupr_equal_sklearn_on_constructed_labels():
    rng = np.random.default_rng(1)
    y_true = rng.choice(["a", "b", "c"], size=200)
    y_pred = np.where(rng.random(200) < 0.3, rng.choice(["a", "b", "c"], 200), y_true)
    u = rng.random(200) + (y_true != y_pred)
    wrong = y_true != y_pred
    assert misclassification_detection_auroc(y_true, y_pred, u) == pytest.approx(
        roc_auc_score(wrong, u)
    )
    assert misclassification_detection_aupr(y_true, y_pred, u) == pytest.approx(
        average_precision_score(wrong, u)
    )
    assert misclassification_detection_auroc(y_true, y_pred, u) > 0.8


@pytest.mark.parametrize(
    "func",
    [
        misclassification_detection_auroc,
        misclassification_detection_aupr,
        prediction_rejection_ratio,
    ],
)
def test_misclassification_bad_input(func):
    with pytest.raises(ValueError, match="none of the 3 inputs are misclassified"):
        func([0, 1, 1], [0, 1, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="all of the 2 inputs are misclassified"):
        func([0, 1], [1, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        func([0, 1, 1], [0, 0, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        func([0, 1, 1], [0, 0], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="uncertainty contains NaN"):
        func([0, 1, 1], [0, 0, 1], [0.1, np.nan, 0.3])


def test_prr_oracle_and_reversed():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 3, 300)
    y_pred = np.where(rng.random(300) < 0.25, (y_true + 1) % 3, y_true)
    wrong = (y_true != y_pred).astype(float)
    oracle_u = wrong + 0.1 * rng.random(300)
    assert prediction_rejection_ratio(y_true, y_pred, oracle_u) == pytest.approx(1.0)
    reversed_prr = prediction_rejection_ratio(y_true, y_pred, -oracle_u)
    assert reversed_prr < -0.9
    assert isinstance(reversed_prr, float)


def test_prr_random_uncertainty_is_about_zero():
    rng = np.random.default_rng(3)
    values = []
    for _ in range(40):
        y_true = rng.integers(0, 2, 500)
        y_pred = np.where(rng.random(500) < 0.2, 1 - y_true, y_true)
        values.append(prediction_rejection_ratio(y_true, y_pred, rng.random(500)))
    assert abs(np.mean(values)) < 0.05
    # A useful but imperfect measure sits in between.
    y_true = rng.integers(0, 2, 500)
    y_pred = np.where(rng.random(500) < 0.2, 1 - y_true, y_true)
    u = (y_true != y_pred) + rng.normal(0, 0.5, 500)
    assert 0.3 < prediction_rejection_ratio(y_true, y_pred, u) < 0.95


def test_prr_matches_pointwise_curves():
    rng = np.random.default_rng(4)
    y_true = rng.integers(0, 4, 97)
    y_pred = np.where(rng.random(97) < 0.3, rng.integers(0, 4, 97), y_true)
    u = rng.random(97) + 0.5 * (y_true != y_pred)
    expected = _loop_prr((y_true != y_pred).astype(float), u)
    assert prediction_rejection_ratio(y_true, y_pred, u) == pytest.approx(expected)


def test_prr_ties_are_broken_by_input_order():
    y_true = np.array([0, 1, 0, 1, 1, 0])
    y_pred = np.array([0, 0, 0, 1, 0, 0])
    tied = prediction_rejection_ratio(y_true, y_pred, np.zeros(6))
    # Stable descending sort: equal uncertainties are rejected in input order.
    assert tied == pytest.approx(
        prediction_rejection_ratio(y_true, y_pred, -np.arange(6.0))
    )
    assert tied == prediction_rejection_ratio(y_true, y_pred, np.zeros(6))


# ---------------------------------------------------------------------------
# ECE and NLL
# ---------------------------------------------------------------------------


def test_ece_four_points_by_hand():
    y_prob = np.array([[0.95, 0.05], [0.75, 0.25], [0.3, 0.7], [0.45, 0.55]])
    y_true = np.array([0, 1, 1, 1])
    # 5 bins of width 0.2: (0.8, 1] holds 0.95 (right); (0.6, 0.8] holds 0.75
    # (wrong) and 0.7 (right); (0.4, 0.6] holds 0.55 (right).
    expected = (
        1 / 4 * abs(1 - 0.95) + 2 / 4 * abs(0.5 - (0.75 + 0.7) / 2) + 1 / 4 * 0.45
    )
    ece = expected_calibration_error(y_true, y_prob, n_bins=5)
    assert ece == pytest.approx(expected)
    assert ece == pytest.approx(0.2375)


def test_ece_extremes_and_loop_reference():
    onehot = np.eye(3)[[0, 1, 2, 1]]
    assert expected_calibration_error([0, 1, 2, 1], onehot) == 0.0
    assert expected_calibration_error([1, 2, 0, 0], onehot) == 1.0
    rng = np.random.default_rng(5)
    y_prob = softmax(rng.normal(size=(400, 4)) * 2, axis=1)
    y_true = rng.integers(0, 4, 400)
    for n_bins in (1, 7, 15):
        assert expected_calibration_error(
            y_true, y_prob, n_bins=n_bins
        ) == pytest.approx(_loop_ece(y_true, y_prob, n_bins))


def test_ece_string_labels_through_labels():
    rng = np.random.default_rng(6)
    y_prob = softmax(rng.normal(size=(50, 3)), axis=1)
    y_idx = rng.integers(0, 3, 50)
    names = np.array(["cat", "dog", "emu"])
    reference = expected_calibration_error(y_idx, y_prob)
    assert expected_calibration_error(names[y_idx], y_prob) == pytest.approx(reference)
    assert expected_calibration_error(
        names[y_idx], y_prob, labels=names
    ) == pytest.approx(reference)
    # Column k belongs to labels[k], whatever the order of labels.
    perm = np.array([2, 0, 1])
    assert expected_calibration_error(
        names[y_idx], y_prob[:, perm], labels=names[perm]
    ) == pytest.approx(reference)
    # Wrong mapping changes the value (the test can fail).
    assert expected_calibration_error(
        names[y_idx], y_prob[:, perm], labels=names
    ) != pytest.approx(reference)


def test_ece_integer_labels_missing_a_class_index_columns():
    y_prob = np.array([[0.1, 0.2, 0.7], [0.2, 0.6, 0.2], [0.3, 0.3, 0.4]])
    y_true = np.array([2, 2, 1])
    assert expected_calibration_error(y_true, y_prob) == pytest.approx(
        expected_calibration_error(y_true, y_prob, labels=[0, 1, 2])
    )
    assert negative_log_likelihood(y_true, y_prob) == pytest.approx(
        log_loss(y_true, y_prob, labels=[0, 1, 2])
    )


@pytest.mark.parametrize(
    "y_true, y_prob, kwargs, match",
    [
        ([0, 1], [[0.5, 0.5]], {}, "inconsistent numbers of samples"),
        ([0, 1], [[np.nan, 0.5], [0.5, 0.5]], {}, "y_prob contains NaN"),
        ([0, 1], [0.5, 0.5], {}, "y_prob must be a 2-D"),
        ([0, 1], [[1.5, -0.5], [0.5, 0.5]], {}, r"probabilities in \[0, 1\]"),
        (["a", "b"], [[0.5, 0.5], [0.5, 0.5]], {"labels": ["a", "c"]}, "not in labels"),
        (["a", "b"], [[0.5, 0.5], [0.5, 0.5]], {"labels": ["a"]}, "one entry per"),
        (["a", "a"], [[0.5, 0.5], [0.5, 0.5]], {"labels": ["a", "a"]}, "duplicate"),
        (["a", "a"], [[0.5, 0.5], [0.5, 0.5]], {}, "Cannot infer"),
        ([0, 3], [[0.5, 0.5, 0], [0.5, 0.5, 0]], {}, "Cannot infer"),
    ],
)
def test_ece_and_nll_bad_input(y_true, y_prob, kwargs, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(y_true, y_prob, **kwargs)
    with pytest.raises(ValueError, match=match):
        negative_log_likelihood(y_true, y_prob, **kwargs)


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True])
def test_ece_bad_n_bins(n_bins):
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        expected_calibration_error([0, 1], [[0.6, 0.4], [0.3, 0.7]], n_bins=n_bins)


def test_nll_equals_sklearn_log_loss():
    rng = np.random.default_rng(7)
    y_prob = softmax(rng.normal(size=(60, 4)) * 3, axis=1)
    y_idx = rng.integers(0, 4, 60)
    assert negative_log_likelihood(y_idx, y_prob) == pytest.approx(
        log_loss(y_idx, y_prob)
    )
    names = np.array(["w", "x", "y", "z"])
    assert negative_log_likelihood(names[y_idx], y_prob) == pytest.approx(
        log_loss(names[y_idx], y_prob)
    )
    # Unsorted labels: columns are reordered for log_loss, so the value is unchanged.
    perm = np.array([3, 1, 0, 2])
    assert negative_log_likelihood(
        names[y_idx], y_prob[:, perm], labels=names[perm]
    ) == pytest.approx(log_loss(names[y_idx], y_prob))
    # Exact zeros are clipped by sklearn, not turned into inf.
    assert np.isfinite(negative_log_likelihood([0, 1], [[0.0, 1.0], [0.0, 1.0]]))


# ---------------------------------------------------------------------------
# Distillation NLL
# ---------------------------------------------------------------------------


def _small_distillation_case(seed=8):
    rng = np.random.default_rng(seed)
    member_logits = rng.normal(size=(5, 3, 4)) * 2
    student_logits = rng.normal(size=(5, 4)) + 1.0
    return member_logits, student_logits


@pytest.mark.parametrize("offset", [0.0, 0.5, 1.0])
def test_distillation_nll_matches_scipy_with_reference_loss(reference_losses, offset):
    member_logits, student_logits = _small_distillation_case()
    value = distillation_nll(member_logits, student_logits, concentration_offset=offset)
    assert isinstance(value, float)
    assert value == pytest.approx(
        _scipy_distillation_nll(member_logits, student_logits, offset), rel=1e-6
    )
    # Computed in float64 at temperature 1.
    assert reference_losses.dirichlet_nll_loss.calls[-1] == (
        torch.float64,
        torch.float64,
        1.0,
    )


def test_distillation_nll_offset_is_stable_for_large_logits(reference_losses):
    member_logits, student_logits = _small_distillation_case()
    value = distillation_nll(
        member_logits, student_logits + 30.0, concentration_offset=1.0
    )
    assert np.isfinite(value)


def test_distillation_nll_matches_scipy_with_real_loss():
    losses = pytest.importorskip("skend2.losses")
    if not hasattr(losses, "dirichlet_nll_loss"):
        pytest.skip("skend2.losses.dirichlet_nll_loss not written yet")
    member_logits, student_logits = _small_distillation_case()
    for offset in (0.0, 1.0):
        assert distillation_nll(
            member_logits, student_logits, concentration_offset=offset
        ) == pytest.approx(
            _scipy_distillation_nll(member_logits, student_logits, offset), rel=1e-5
        )


@pytest.mark.parametrize(
    "member_shape, student_shape, offset, match",
    [
        ((5, 4), (5, 4), 0.0, "member_logits must have shape"),
        ((5, 3, 4), (5, 3, 4), 0.0, "student_logits must have shape"),
        ((5, 3, 4), (6, 4), 0.0, "disagree"),
        ((5, 3, 4), (5, 3), 0.0, "disagree"),
        ((5, 3, 4), (5, 4), -1.0, "concentration_offset must be"),
        ((5, 3, 4), (5, 4), np.nan, "concentration_offset must be"),
    ],
)
def test_distillation_nll_bad_input(member_shape, student_shape, offset, match):
    with pytest.raises(ValueError, match=match):
        distillation_nll(
            np.zeros(member_shape), np.zeros(student_shape), concentration_offset=offset
        )


def test_distillation_nll_rejects_nan():
    member_logits, student_logits = _small_distillation_case()
    student_logits[0, 0] = np.nan
    with pytest.raises(ValueError, match="must be finite"):
        distillation_nll(member_logits, student_logits)


# ---------------------------------------------------------------------------
# Scorers
# ---------------------------------------------------------------------------


def test_ece_scorer_sign_and_value(iris):
    X, y = iris
    model = FakePriorNetwork().fit(X, y)
    score = ece_scorer(model, X, y)
    assert score < 0
    assert score == pytest.approx(
        -expected_calibration_error(y, model.predict_proba(X), labels=model.classes_)
    )


def test_ece_scorer_in_cross_validate_with_string_labels(iris):
    X, y = iris
    y_named = np.array(["setosa", "versicolor", "virginica"])[y]
    cv = KFold(3, shuffle=True, random_state=0)
    res = cross_validate(
        LogisticRegression(max_iter=1000),
        X,
        y_named,
        cv=cv,
        scoring={"ece": ece_scorer, "acc": "accuracy"},
        return_estimator=True,
    )
    assert np.all(res["test_ece"] <= 0)
    for (_, test), est, score in zip(cv.split(X), res["estimator"], res["test_ece"]):
        proba = est.predict_proba(X[test])
        assert score == pytest.approx(
            -expected_calibration_error(y_named[test], proba, labels=est.classes_)
        )


def test_ece_scorer_grid_search_picks_lowest_ece(iris):
    X, y = iris
    cv = KFold(3, shuffle=True, random_state=0)
    grid = [1e-3, 1.0, 1e3]
    mean_ece = [
        np.mean(
            [
                expected_calibration_error(
                    y[test],
                    LogisticRegression(C=C, max_iter=1000)
                    .fit(X[train], y[train])
                    .predict_proba(X[test]),
                )
                for train, test in cv.split(X)
            ]
        )
        for C in grid
    ]
    assert len(set(np.round(mean_ece, 3))) == 3
    search = GridSearchCV(
        LogisticRegression(max_iter=1000), {"C": grid}, scoring=ece_scorer, cv=cv
    ).fit(X, y)
    # Greater is better: the best score is the lowest ECE.
    assert search.best_params_ == {"C": grid[int(np.argmin(mean_ece))]}
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], -np.array(mean_ece)
    )


def test_distillation_nll_scorer_sign_and_grid_search(iris, reference_losses):
    X, y = iris
    model = FakePriorNetwork(precision=10.0).fit(X, y)
    expected = distillation_nll(
        model.teacher_.predict_member_logits(X), model.predict_logits(X)
    )
    assert distillation_nll_scorer(model, X, y) == pytest.approx(-expected)
    # The offset attribute is used.
    model.concentration_offset_ = 1.0
    assert distillation_nll_scorer(model, X) == pytest.approx(
        -distillation_nll(
            model.teacher_.predict_member_logits(X),
            model.predict_logits(X),
            concentration_offset=1.0,
        )
    )

    # Sign convention: the search must pick the precision with the lowest
    # held-out distillation NLL, averaged over the same folds.
    precisions = [0.3, 3.0, 300.0]
    cv = KFold(3, shuffle=True, random_state=0)
    mean_nll = []
    for precision in precisions:
        fold_nll = []
        for train, test in cv.split(X):
            fitted = FakePriorNetwork(precision=precision).fit(X[train], y[train])
            fold_nll.append(
                distillation_nll(
                    fitted.teacher_.predict_member_logits(X[test]),
                    fitted.predict_logits(X[test]),
                )
            )
        mean_nll.append(np.mean(fold_nll))
    assert len(set(np.round(mean_nll, 3))) == 3
    search = GridSearchCV(
        FakePriorNetwork(),
        {"precision": precisions},
        scoring=get_scorer("neg_distillation_nll"),
        cv=cv,
    ).fit(X, y)
    assert search.best_params_["precision"] == precisions[int(np.argmin(mean_nll))]
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], -np.array(mean_nll)
    )


def test_distillation_nll_scorer_unwraps_pipeline(iris, reference_losses):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), FakePriorNetwork()).fit(X * 3 + 1, y)
    Xt = pipe[0].transform(X * 3 + 1)
    student = pipe[-1]
    assert distillation_nll_scorer(pipe, X * 3 + 1) == pytest.approx(
        -distillation_nll(
            student.teacher_.predict_member_logits(Xt), student.predict_logits(Xt)
        )
    )


def test_distillation_nll_scorer_type_errors(iris):
    X, y = iris
    lr = LogisticRegression(max_iter=1000).fit(X, y)
    with pytest.raises(TypeError, match="needs a fitted distiller with a teacher_"):
        distillation_nll_scorer(lr, X, y)
    teacher_only = types.SimpleNamespace(teacher_=FakePriorNetwork().fit(X, y).teacher_)
    with pytest.raises(
        TypeError, match="needs a Dirichlet student with predict_logits"
    ):
        distillation_nll_scorer(teacher_only, X, y)


def test_ood_auroc_scorer(iris):
    X, y = iris
    X_ood = X + 20.0
    model = FakePriorNetwork().fit(X, y)
    scorer = ood_auroc_scorer(X_ood)
    assert scorer(model, X, y) == 1.0
    assert scorer(model, X_ood) == 0.5
    assert "knowledge" in repr(scorer)
    clone = pickle.loads(pickle.dumps(scorer))
    assert clone(model, X) == 1.0

    total_scorer = ood_auroc_scorer(X_ood, measure="total")
    assert total_scorer(model, X) == pytest.approx(
        ood_detection_auroc(
            model.predict_uncertainty(X, "total"),
            model.predict_uncertainty(X_ood, "total"),
        )
    )

    res = cross_validate(
        FakePriorNetwork(), X, y, cv=3, scoring={"ood": scorer, "acc": "accuracy"}
    )
    np.testing.assert_array_equal(res["test_ood"], 1.0)

    # Pipelines are unwrapped; X_ood is in the pipeline's input space.
    pipe = make_pipeline(StandardScaler(), FakePriorNetwork()).fit(X, y)
    assert scorer(pipe, X) == 1.0


def test_ood_auroc_scorer_plain_classifier_total_only(iris):
    X, y = iris
    lr = LogisticRegression(max_iter=1000).fit(X, y)
    X_ood = np.random.default_rng(9).normal(size=(40, 4)) * 0.2
    u_in = entropy(lr.predict_proba(X), axis=1)
    u_out = entropy(lr.predict_proba(X_ood), axis=1)
    assert ood_auroc_scorer(X_ood, measure="total")(lr, X) == pytest.approx(
        roc_auc_score(np.r_[np.zeros(150), np.ones(40)], np.r_[u_in, u_out])
    )
    with pytest.raises(TypeError, match="has no predict_uncertainty"):
        ood_auroc_scorer(X_ood)(lr, X)
    with pytest.raises(TypeError, match="measure must be a string"):
        ood_auroc_scorer(X_ood, measure=3)


def test_get_scorer_and_registry():
    assert get_scorer("neg_expected_calibration_error") is ece_scorer
    assert get_scorer("neg_distillation_nll") is distillation_nll_scorer
    assert set(SCORERS) == {"neg_expected_calibration_error", "neg_distillation_nll"}
    X, y = load_iris(return_X_y=True)
    lr = LogisticRegression(max_iter=1000).fit(X, y)
    assert get_scorer("accuracy")(lr, X, y) == pytest.approx(lr.score(X, y))
    with pytest.raises(ValueError):
        get_scorer("no_such_scorer")


# ---------------------------------------------------------------------------
# evaluate_classifier
# ---------------------------------------------------------------------------


def test_evaluate_classifier_values_and_keys(iris):
    X, y = iris
    model = FakePriorNetwork(precision=5.0).fit(X[::2], y[::2])
    X_test, y_test, X_ood = X[1::2], y[1::2], X[1::2] * 5
    res = evaluate_classifier(model, X_test, y_test, X_ood)
    proba, pred = model.predict_proba(X_test), model.predict(X_test)
    u = model.predict_uncertainty(X_test)
    u_ood = model.predict_uncertainty(X_ood)
    assert res["error"] == pytest.approx(100 * np.mean(pred != y_test))
    assert 0 < res["error"] < 20
    assert res["nll"] == pytest.approx(log_loss(y_test, proba))
    assert res["ece"] == pytest.approx(expected_calibration_error(y_test, proba))
    onehot = np.eye(3)[y_test]
    assert res["brier"] == pytest.approx(np.mean(np.sum((onehot - proba) ** 2, 1)))
    assert res["brier"] == pytest.approx(
        brier_score_loss(y_test, proba, scale_by_half=False)
    )
    assert res["misclassification_auroc"] == pytest.approx(
        roc_auc_score(pred != y_test, u.total)
    )
    assert res["prr"] == pytest.approx(
        prediction_rejection_ratio(y_test, pred, u.total)
    )
    for name in ("total", "data", "knowledge"):
        assert res[f"ood_auroc_{name}"] == pytest.approx(
            ood_detection_auroc(u[name], u_ood[name])
        )
        assert res[f"ood_aupr_{name}"] == pytest.approx(
            ood_detection_aupr(u[name], u_ood[name])
        )
    assert res["ood_auroc_knowledge"] > 0.9
    assert all(isinstance(v, float) for v in res.values())

    only = evaluate_classifier(model, X_test, y_test, X_ood, measures=["knowledge"])
    assert {k for k in only if k.startswith("ood_")} == {
        "ood_auroc_knowledge",
        "ood_aupr_knowledge",
    }
    no_ood = evaluate_classifier(model, X_test, y_test)
    assert not any(k.startswith("ood_") for k in no_ood)
    with pytest.raises(ValueError, match="Unknown uncertainty measure"):
        evaluate_classifier(model, X_test, y_test, X_ood, measures=["epkl"])


def test_evaluate_classifier_plain_sklearn_and_string_labels(iris):
    X, y = iris
    y_named = np.array(["setosa", "versicolor", "virginica"])[y]
    lr = LogisticRegression(C=0.05, max_iter=1000).fit(X[::2], y_named[::2])
    res = evaluate_classifier(lr, X[1::2], y_named[1::2], X[1::2] * 4)
    assert {"ood_auroc_total", "ood_aupr_total"} <= set(res)
    assert res["nll"] == pytest.approx(
        log_loss(y_named[1::2], lr.predict_proba(X[1::2]))
    )


def test_evaluate_classifier_perfect_predictions_give_nan_with_warning(iris):
    X, y = iris
    keep = y < 2  # setosa vs versicolor: separable
    model = FakePriorNetwork().fit(X[keep], y[keep])
    with pytest.warns(UserWarning, match="0 of 100 test predictions are wrong"):
        res = evaluate_classifier(model, X[keep], y[keep])
    assert res["error"] == 0.0
    assert np.isnan(res["misclassification_auroc"]) and np.isnan(res["prr"])


# ---------------------------------------------------------------------------
# Scorers and evaluate_classifier orient every measure the same way
# ---------------------------------------------------------------------------

_ESTIMATORS = ("DeepEnsembleClassifier", "EnsembleDistiller", "PriorNetworkDistiller")


@pytest.fixture(scope="module")
def digits_pair():
    """Digits 0-4 (train/test) against 5-9 (OOD), pixels scaled to [0, 1]."""
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32) / 16
    X_train, X_test, y_train, y_test = train_test_split(
        X[y < 5], y[y < 5], test_size=0.3, stratify=y[y < 5], random_state=0
    )
    return X_train, y_train, X_test, y_test, X[y >= 5]


def _fit_estimators(X, y, wrap):
    """A small ensemble and its two students, each passed through ``wrap``."""
    teacher = wrap(
        DeepEnsembleClassifier(n_members=3, max_epochs=10, random_state=0)
    ).fit(X, y)
    # In a Pipeline the students' StandardScaler refits to the same statistics
    # as the teacher's, so the frozen teacher sees the inputs it was trained on.
    frozen = FrozenEstimator(final_estimator(teacher))
    # Without temperature annealing 10 epochs suffice for a useful student.
    students = {
        cls.__name__: wrap(
            cls(teacher=frozen, max_epochs=10, annealing=None, random_state=0)
        ).fit(X, y)
        for cls in (EnsembleDistiller, PriorNetworkDistiller)
    }
    return {"DeepEnsembleClassifier": teacher, **students}


@pytest.fixture(scope="module", params=["plain", "pipeline"])
def digits_estimators(request, digits_pair):
    """The three skend2 estimators fitted on digits 0-4, bare or in a Pipeline."""
    X_train, y_train, *_ = digits_pair
    if request.param == "plain":
        return _fit_estimators(X_train, y_train, lambda est: est)
    return _fit_estimators(
        X_train, y_train, lambda est: make_pipeline(StandardScaler(), est)
    )


@pytest.mark.parametrize("name", _ESTIMATORS)
def test_ood_auroc_scorer_equals_evaluate_classifier_for_every_measure(
    digits_estimators, digits_pair, name
):
    _, _, X_test, y_test, X_ood = digits_pair
    model = digits_estimators[name]
    measures = [m for m, fact in MEASURES.items() if name in fact.estimators]
    assert measures == list(final_estimator(model).predict_uncertainty(X_test[:2]))
    results = evaluate_classifier(model, X_test, y_test, X_ood)
    for measure in measures:
        score = ood_auroc_scorer(X_ood, measure=measure)(model, X_test, y_test)
        assert score == results[f"ood_auroc_{measure}"], measure


@pytest.mark.slow
def test_precision_auroc_is_oriented_as_uncertainty(digits_estimators, digits_pair):
    # OOD digits get a smaller Dirichlet precision: negated, it detects them
    # better than chance (the raw precision would score below 0.5).
    _, _, X_test, y_test, X_ood = digits_pair
    model = digits_estimators["PriorNetworkDistiller"]
    results = evaluate_classifier(model, X_test, y_test, X_ood)
    assert results["ood_auroc_precision"] > 0.5
    assert ood_auroc_scorer(X_ood, measure="precision")(model, X_test) > 0.5
    raw = [
        final.predict_uncertainty(Xt, measure="precision")
        for final, Xt in (final_step(model, X_test), final_step(model, X_ood))
    ]
    raw_auroc = ood_detection_auroc(*raw)
    assert raw_auroc == pytest.approx(1 - results["ood_auroc_precision"])


class _FakeDirichlet(FakePriorNetwork):
    """FakePriorNetwork whose precision falls as the knowledge uncertainty rises."""

    def predict_uncertainty(self, X, measure=None):
        bunch = super().predict_uncertainty(X)
        bunch["precision"] = 1.0 / (1.0 + bunch["knowledge"])
        return bunch if measure is None else bunch[measure]


def test_ood_auroc_scorer_negates_precision(iris):
    X, y = iris
    X_ood = X + 20.0
    model = _FakeDirichlet().fit(X, y)
    scorer = ood_auroc_scorer(X_ood, measure="precision")
    assert scorer(model, X) == 1.0
    assert evaluate_classifier(model, X, y, X_ood)["ood_auroc_precision"] == 1.0
    pipe = make_pipeline(StandardScaler(), _FakeDirichlet()).fit(X, y)
    assert scorer(pipe, X) == 1.0
