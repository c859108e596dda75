"""skorch's surface through skend2's estimators: one fitted net, routed parameters."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import GridSearchCV, KFold, ParameterGrid
from skorch.dataset import ValidSplit
from skorch.history import History
from torch import nn

from skend2 import (
    DeepEnsembleClassifier,
    EnsembleDistiller,
    PriorNetworkDistiller,
    TemperatureAnnealing,
)


def small(**kwargs):
    return DeepEnsembleClassifier(n_members=3, max_epochs=4, random_state=0, **kwargs)


@pytest.fixture(scope="module")
def iris_teacher(iris):
    return small().fit(*iris)


def students(teacher, **kwargs):
    frozen = FrozenEstimator(teacher)
    return [
        EnsembleDistiller(frozen, max_epochs=4, random_state=0, **kwargs),
        PriorNetworkDistiller(frozen, max_epochs=4, random_state=0, **kwargs),
    ]


# -- one fitted network -------------------------------------------------------------
@pytest.mark.parametrize("training", ["fused", "sequential"])
def test_module_and_history_are_views_of_the_net(iris, training):
    ens = small(training=training).fit(*iris)
    assert ens.module_ is ens.net_.module_
    assert ens.history_ is ens.net_.history
    assert isinstance(ens.history_, History)
    assert len(ens.history_) == 4
    restored = pickle.loads(pickle.dumps(ens))
    assert restored.module_ is restored.net_.module_
    np.testing.assert_array_equal(
        restored.predict_member_logits(iris[0]), ens.predict_member_logits(iris[0])
    )


def test_unpickled_warm_start_ensemble_trains_the_module_it_predicts_with(iris):
    X, y = iris
    ens = small(warm_start=True).fit(X, y)
    restored = pickle.loads(pickle.dumps(ens))
    before = restored.predict_proba(X)
    restored.fit(X, y)
    assert len(restored.history_) == 8
    assert restored.module_ is restored.net_.module_
    assert not np.allclose(restored.predict_proba(X), before)
    # The original is untouched by the copy's training.
    np.testing.assert_array_equal(ens.predict_proba(X), before)


def test_warm_start_after_sequential_training_warns_and_reinitialises(iris):
    X, y = iris
    ens = small(training="sequential", warm_start=True).fit(X, y)
    with pytest.warns(UserWarning, match="re-initialised"):
        ens.fit(X, y)
    assert len(ens.history_) == 4


def test_distiller_warm_start_continues_training(iris, iris_teacher):
    X, y = iris
    for student in students(iris_teacher, warm_start=True):
        student.fit(X, y)
        before = student.predict_proba(X)
        restored = pickle.loads(pickle.dumps(student))
        restored.fit(X, y)
        assert len(restored.history_) == 8
        assert restored.module_ is restored.net_.module_
        assert not np.allclose(restored.predict_proba(X), before)


# -- routed parameters ----------------------------------------------------------------
def test_criterion_params_reach_the_loss(iris, iris_teacher):
    X, y = iris
    student = PriorNetworkDistiller(
        FrozenEstimator(iris_teacher),
        max_epochs=2,
        random_state=0,
        criterion__smoothing=0.05,
    ).fit(X, y)
    assert student.net_.criterion_.smoothing == 0.05
    ens = small(criterion__label_smoothing=0.2).fit(X, y)
    assert ens.net_.criterion_.label_smoothing == 0.2
    assert not np.allclose(ens.predict_proba(X), small().fit(X, y).predict_proba(X))


def test_optimizer_and_callback_params_reach_skorch(iris, iris_teacher):
    X, y = iris
    ens = small(optimizer=torch.optim.SGD, optimizer__momentum=0.5).fit(X, y)
    assert ens.net_.optimizer_.param_groups[0]["momentum"] == 0.5
    student = PriorNetworkDistiller(
        FrozenEstimator(iris_teacher),
        max_epochs=2,
        random_state=0,
        annealing=TemperatureAnnealing(),  # "auto" is T = 1 here: no callback
        callbacks__gradient_clip__gradient_clip_value=3.0,
        callbacks__annealing__schedule=lambda epoch, max_epochs: 2.0,
    ).fit(X, y)
    callbacks = dict(student.net_.callbacks_)
    assert callbacks["gradient_clip"].gradient_clip_value == 3.0
    np.testing.assert_array_equal(student.history_[:, "temperature"], [2.0, 2.0])


@pytest.mark.parametrize(
    "params, name",
    [
        ({}, "annealing"),  # the default cross-entropy term: T = 1, no callback
        ({"annealing": None}, "annealing"),
        ({"gradient_clip": None, "callbacks__gradient_clip__x": 1}, "gradient_clip"),
        ({"callbacks__typo__x": 1}, "typo"),
    ],
)
def test_params_of_a_callback_the_net_does_not_have_are_an_error(
    iris, iris_teacher, params, name
):
    X, y = iris
    if name == "annealing":
        params = {**params, "callbacks__annealing__schedule": lambda e, m: 2.0}
    student = PriorNetworkDistiller(
        FrozenEstimator(iris_teacher), max_epochs=2, random_state=0, **params
    )
    with pytest.raises(ValueError, match=f"callback\\(s\\) '{name}'"):
        student.fit(X, y)
    assert not hasattr(student, "net_")  # fit is atomic
    with pytest.raises(ValueError, match="'typo' that it does not have"):
        small(callbacks__typo__x=1).fit(X, y)


def test_iterator_train_params_reach_the_iterator(iris):
    X, y = iris
    ens = small(batch_size=64, iterator_train__drop_last=True).fit(X, y)
    assert ens.history_[-1, "train_batch_count"] == 2  # 150 // 64
    ens = small(batch_size=64).fit(X, y)
    assert ens.history_[-1, "train_batch_count"] == 3


class RecordingMLP(nn.Module):
    """A linear model that records the batch sizes it predicts on."""

    sizes: list = []

    def __init__(self, n_features=None, n_classes=None):
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)

    def forward(self, x):
        if not self.training:
            RecordingMLP.sizes.append(int(x.shape[0]))
        return self.linear(x)


def test_iterator_valid_batch_size_is_the_predict_batch_size(iris):
    X, y = iris
    student = PriorNetworkDistiller(
        small(),
        module=RecordingMLP,
        max_epochs=2,
        random_state=0,
        iterator_valid__batch_size=40,
    ).fit(X, y)
    RecordingMLP.sizes.clear()
    student.predict_proba(X)
    assert RecordingMLP.sizes == [40, 40, 40, 30]
    RecordingMLP.sizes.clear()
    student.set_params(iterator_valid__batch_size=100).predict_uncertainty(X)
    assert RecordingMLP.sizes == [100, 50]
    ens = small(module=RecordingMLP, iterator_valid__batch_size=60).fit(X, y)
    RecordingMLP.sizes.clear()
    ens.predict_proba(X)
    # A fused ensemble predicts member by member: 3 members x 3 batches.
    assert sorted(RecordingMLP.sizes) == sorted([60, 60, 30] * 3)


def test_short_predict_batches_are_padded_for_subset_invariance(iris):
    X, y = iris
    ens = small().fit(X, y)
    full = ens.predict_member_logits(X)
    one_by_one = np.concatenate(
        [ens.predict_member_logits(X[i : i + 1]) for i in range(20)]
    )
    np.testing.assert_array_equal(one_by_one, full[:20])


@pytest.mark.parametrize("kind", ["ensemble", "end", "end2"])
def test_stratified_valid_split(iris, iris_teacher, kind):
    X, y = iris
    split = ValidSplit(5, stratified=True)
    if kind == "ensemble":
        model = small(train_split=split)
    else:
        model = students(iris_teacher, train_split=split)[kind == "end2"]
    model.fit(X, y)
    assert np.isfinite(model.history_[-1, "valid_loss"])
    assert model.history_[-1, "valid_batch_count"] >= 1


def test_stratified_valid_split_with_aux_inputs(iris, iris_teacher):
    X, y = iris
    rng = np.random.default_rng(0)
    student = PriorNetworkDistiller(
        FrozenEstimator(iris_teacher),
        max_epochs=2,
        random_state=0,
        train_split=ValidSplit(5, stratified=True),
    ).fit(X, y, X_aux=rng.normal(size=(30, 4)))
    assert np.isfinite(student.history_[-1, "valid_loss"])


# -- grid search over routed and nested parameters ------------------------------------
@pytest.mark.slow
def test_grid_search_over_smoothing_and_annealing(iris, tmp_path):
    X, y = iris
    fresh = PriorNetworkDistiller().get_params()
    student = PriorNetworkDistiller(
        teacher=DeepEnsembleClassifier(n_members=2, max_epochs=4, random_state=0),
        max_epochs=8,
        memory=str(tmp_path),
        random_state=0,
    )
    grid = {"criterion__smoothing": [1e-4, 1e-1], "annealing__start": [1.0, 10.0]}
    search = GridSearchCV(
        student, grid, cv=KFold(2, shuffle=True, random_state=0), scoring="neg_log_loss"
    ).fit(X, y)
    assert len(search.cv_results_["mean_test_score"]) == 4
    assert search.best_estimator_.net_.criterion_.smoothing in (1e-4, 1e-1)
    # The four students differ: each setting reaches the training.
    probas = [
        clone(student).set_params(**params).fit(X, y).predict_proba(X)
        for params in ParameterGrid(grid)
    ]
    for i in range(4):
        for j in range(i):
            assert not np.allclose(probas[i], probas[j], atol=1e-6), (i, j)
    assert PriorNetworkDistiller().get_params() == fresh
    assert student.annealing == "auto"
