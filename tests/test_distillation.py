"""EnsembleDistiller (EnD) and PriorNetworkDistiller (EnD²)."""

import numpy as np
import pytest
from joblib import Memory
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, train_test_split
from sklearn.preprocessing import StandardScaler

from skend2 import (
    ConstantTemperature,
    DeepEnsembleClassifier,
    EnsembleDistiller,
    ExponentialAnnealing,
    PriorNetworkDistiller,
    TemperatureAnnealing,
)
from skend2.datasets import make_spirals
from skend2.metrics import distillation_nll, ood_detection_auroc
from skend2.uncertainty import dirichlet_uncertainty

FIT_COUNT = {"n": 0}


class CountingEnsemble(DeepEnsembleClassifier):
    """A teacher that counts its fits (in this process)."""

    def fit(self, X, y):
        FIT_COUNT["n"] += 1
        return super().fit(X, y)


def teacher(**kwargs):
    params = dict(n_members=3, max_epochs=10, random_state=0)
    params.update(kwargs)
    return DeepEnsembleClassifier(**params)


@pytest.fixture(scope="module")
def iris_teacher(iris):
    X, y = iris
    return teacher(max_epochs=30).fit(X, y)


# -- teacher handling -----------------------------------------------------------------
def test_unfitted_teacher_is_cloned_and_fitted(iris):
    X, y = iris
    original = teacher()
    student = PriorNetworkDistiller(original, max_epochs=3, random_state=0).fit(X, y)
    assert not hasattr(original, "module_")
    assert student.teacher_ is not original
    assert hasattr(student.teacher_, "module_")


def test_frozen_teacher_is_used_as_is(iris, iris_teacher):
    X, y = iris
    frozen = FrozenEstimator(iris_teacher)
    student = EnsembleDistiller(frozen, max_epochs=3, random_state=0).fit(X, y)
    assert student.teacher_ is iris_teacher
    np.testing.assert_array_equal(student.classes_, iris_teacher.classes_)


@pytest.mark.slow
def test_default_teacher(iris):
    X, y = iris
    student = PriorNetworkDistiller(max_epochs=2, random_state=0)
    student.set_params(annealing=None).fit(X, y)
    assert isinstance(student.teacher_, DeepEnsembleClassifier)
    assert student.teacher_.random_state == 0


def test_wrong_teacher_type(iris):
    X, y = iris
    with pytest.raises(TypeError, match="DeepEnsembleClassifier"):
        PriorNetworkDistiller(LogisticRegression()).fit(X, y)


def test_student_defaults_to_teacher_architecture(iris):
    X, y = iris
    student = PriorNetworkDistiller(
        teacher(module__hidden_layer_sizes=(11,)), max_epochs=2, random_state=0
    ).fit(X, y)
    assert student.module_.layers[1].out_features == 11


def test_auxiliary_inputs_join_the_distillation_set(iris, iris_teacher):
    X, y = iris
    rng = np.random.RandomState(0)
    X_aux = rng.normal(size=(90, 4))
    student = PriorNetworkDistiller(
        FrozenEstimator(iris_teacher), max_epochs=2, batch_size=60, random_state=0
    )
    student.fit(X, y, X_aux=X_aux)
    assert student.history_[-1, "train_batch_count"] == 4  # (150 + 90) / 60
    with pytest.raises(ValueError, match="X_aux"):
        student.fit(X, y, X_aux=X_aux[:, :3])


# -- outputs ------------------------------------------------------------------
def test_prior_network_outputs(iris, iris_teacher):
    X, y = iris
    student = PriorNetworkDistiller(
        FrozenEstimator(iris_teacher), max_epochs=60, random_state=0
    ).fit(X, y)
    alphas = student.predict_concentrations(X)
    proba = student.predict_proba(X)
    assert (alphas > 0).all()
    np.testing.assert_allclose(proba, alphas / alphas.sum(1, keepdims=True), rtol=1e-6)
    logits = student.predict_logits(X)
    np.testing.assert_allclose(alphas, np.exp(logits.astype(np.float64)), rtol=1e-6)
    result = student.predict_uncertainty(X)
    expected = dirichlet_uncertainty(alphas)
    for name in expected:
        np.testing.assert_allclose(result[name], expected[name], rtol=1e-5, atol=1e-8)
    assert student.score(X, y) >= iris_teacher.score(X, y) - 0.05


def test_proxy_loss_concentrations_exceed_one(iris, iris_teacher):
    X, y = iris
    student = PriorNetworkDistiller(
        FrozenEstimator(iris_teacher), loss="proxy", max_epochs=30, random_state=0
    ).fit(X, y)
    assert student.concentration_offset_ == 1.0
    alphas = student.predict_concentrations(X)
    assert (alphas > 1).all()
    np.testing.assert_allclose(
        student.predict_proba(X), alphas / alphas.sum(1, keepdims=True), rtol=1e-6
    )
    assert student.score(X, y) > 0.85
    with pytest.raises(ValueError, match="loss"):
        PriorNetworkDistiller(FrozenEstimator(iris_teacher), loss="kl").fit(X, y)


def test_end_has_no_knowledge_uncertainty(iris, iris_teacher):
    X, y = iris
    student = EnsembleDistiller(
        FrozenEstimator(iris_teacher), max_epochs=30, random_state=0
    ).fit(X, y)
    u = student.predict_uncertainty(X)
    np.testing.assert_array_equal(u.knowledge, 0)
    np.testing.assert_array_equal(u.data, u.total)
    p = student.predict_proba(X)
    np.testing.assert_allclose(u.total, -(p * np.log(p)).sum(1), rtol=1e-5)
    assert student.score(X, y) > 0.85


def test_same_random_state_same_student(iris, iris_teacher):
    X, y = iris
    a, b = (
        PriorNetworkDistiller(
            FrozenEstimator(iris_teacher), max_epochs=3, random_state=4
        )
        .fit(X, y)
        .predict_logits(X)
        for _ in range(2)
    )
    np.testing.assert_array_equal(a, b)


def test_string_labels(iris):
    X, y = iris
    names = np.array(["a", "b", "c"])[y]
    student = EnsembleDistiller(teacher(), max_epochs=20, random_state=0).fit(X, names)
    assert set(student.predict(X)) <= {"a", "b", "c"}


# -- grid search, memory -------------------------------------------------------
@pytest.mark.slow
def test_grid_search_with_memory_fits_each_teacher_once(iris, tmp_path):
    X, y = iris
    cv = KFold(3, shuffle=True, random_state=0)
    grid = {"annealing__start": [1.0, 5.0, 10.0]}

    def search(memory):
        FIT_COUNT["n"] = 0
        student = PriorNetworkDistiller(
            CountingEnsemble(n_members=2, max_epochs=5, random_state=0),
            max_epochs=6,
            memory=memory,
            random_state=0,
        )
        result = GridSearchCV(student, grid, cv=cv).fit(X, y)
        return result, FIT_COUNT["n"]

    cached, cached_fits = search(Memory(tmp_path, verbose=0))
    plain, plain_fits = search(None)
    assert cached_fits == 3 + 1  # one teacher per fold, one for the refit
    assert plain_fits == 3 * 3 + 1
    assert cached.best_params_ == plain.best_params_
    np.testing.assert_allclose(
        cached.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )
    # A path works too, as in Pipeline(memory=...).
    search(str(tmp_path / "cache"))


@pytest.mark.slow
def test_grid_search_over_schedule_objects(iris, iris_teacher):
    X, y = iris
    schedules = [TemperatureAnnealing(), ExponentialAnnealing(), ConstantTemperature()]
    search = GridSearchCV(
        PriorNetworkDistiller(
            FrozenEstimator(iris_teacher), max_epochs=6, random_state=0
        ),
        {"annealing": schedules + [None]},
        cv=2,
    ).fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 4


# -- the statistical targets -------------------------------------------
# The paper's EnD² keeps the ensemble's error on the 2-D spirals, and so do the
# defaults (cross-entropy term, transfer inputs, and then no annealing). With
# annealing on top of the cross-entropy term the student underfitted: 10.3 %
# against the ensemble's 7.2 % (seeds 1, 2: +1.5 and +3.6 points; at T = 1:
# 8.5 %, and +0.1, +0.9; issue 11).
@pytest.mark.slow
@pytest.mark.parametrize(
    "settings",
    [
        pytest.param(dict(criterion__ce_weight=0.0, transfer=None), id="paper"),
        pytest.param({}, id="defaults"),
    ],
)
def test_spirals_end2_error_close_to_ensemble(settings):
    X, y = make_spirals(3000, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.5, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    ensemble = DeepEnsembleClassifier(n_members=5, random_state=0).fit(X_train, y_train)
    student = PriorNetworkDistiller(
        FrozenEstimator(ensemble), random_state=0, **settings
    )
    student.fit(X_train, y_train)
    ensemble_error = 100 * (1 - ensemble.score(X_test, y_test))
    student_error = 100 * (1 - student.score(X_test, y_test))
    assert ensemble_error < 15  # the ensemble itself learned the spirals
    assert abs(student_error - ensemble_error) <= 1.5


@pytest.mark.slow
def test_digits_end2_keeps_ood_detection_and_annealing_helps(digits, digits_ensemble):
    def auroc(model):
        return ood_detection_auroc(
            model.predict_uncertainty(digits.X_test, "knowledge"),
            model.predict_uncertainty(digits.X_ood, "knowledge"),
        )

    frozen = FrozenEstimator(digits_ensemble)
    # The paper's EnD² (its likelihood alone, no transfer inputs), whose
    # distillation NLL annealing is meant to improve. With the default
    # cross-entropy term annealing does not lower it on digits (-29.3 annealed
    # vs -30.7 at T = 1), which is why annealing="auto" is T = 1 there.
    paper = dict(criterion__ce_weight=0.0, transfer=None)
    annealed = PriorNetworkDistiller(frozen, random_state=0, **paper).fit(
        digits.X_train, digits.y_train
    )
    constant = clone(annealed).set_params(annealing=None)
    constant.fit(digits.X_train, digits.y_train)
    assert auroc(annealed) >= auroc(digits_ensemble) - 0.02
    members = digits_ensemble.predict_member_logits(digits.X_test)
    assert distillation_nll(members, annealed.predict_logits(digits.X_test)) < (
        distillation_nll(members, constant.predict_logits(digits.X_test))
    )
