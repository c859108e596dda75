"""Temperature schedules and the annealing callback."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator

from skend2 import (
    ConstantTemperature,
    DeepEnsembleClassifier,
    EnsembleDistiller,
    ExponentialAnnealing,
    PriorNetworkDistiller,
    TemperatureAnnealing,
)


def test_reference_schedule_shape():
    schedule = TemperatureAnnealing(start=10, end=1, hold_epochs=3, decay_epochs=3)
    temps = [schedule(e, 10) for e in range(10)]
    assert temps[:3] == [10, 10, 10]
    np.testing.assert_allclose(temps[3:6], [7, 4, 1])
    assert temps[6:] == [1, 1, 1, 1]


def test_fractions_of_max_epochs():
    schedule = TemperatureAnnealing()  # hold a third, decay a third
    temps = [schedule(e, 30) for e in range(30)]
    assert temps[:10] == [10.0] * 10
    assert temps[19] == 1.0 and temps[-1] == 1.0
    assert all(a >= b for a, b in zip(temps, temps[1:]))


def test_exponential_is_geometric_and_below_linear():
    lin = TemperatureAnnealing(start=16, hold_epochs=0, decay_epochs=4)
    exp = ExponentialAnnealing(start=16, hold_epochs=0, decay_epochs=4)
    np.testing.assert_allclose([exp(e, 4) for e in range(4)], [8, 4, 2, 1])
    assert all(exp(e, 4) <= lin(e, 4) for e in range(4))


def test_constant():
    assert ConstantTemperature(3.0)(5, 10) == 3.0


@pytest.mark.parametrize(
    "schedule, error",
    [
        (TemperatureAnnealing(start=0), ValueError),
        (TemperatureAnnealing(end=-1), ValueError),
        (TemperatureAnnealing(hold_epochs=1.5), ValueError),
        (TemperatureAnnealing(hold_epochs=-2), ValueError),
        (TemperatureAnnealing(decay_epochs="3"), TypeError),
        (ConstantTemperature(float("inf")), ValueError),
    ],
)
def test_bad_schedules(schedule, error):
    with pytest.raises(error):
        schedule(0, 10)


def test_schedules_are_sklearn_style():
    schedule = TemperatureAnnealing(start=5)
    assert schedule.get_params()["start"] == 5
    copy = clone(schedule).set_params(start=2)
    assert copy.start == 2 and schedule.start == 5


@pytest.mark.slow
def test_callback_sets_temperature_each_epoch(iris):
    X, y = iris
    teacher = DeepEnsembleClassifier(n_members=2, max_epochs=3, random_state=0).fit(
        X, y
    )
    schedule = TemperatureAnnealing(start=4, hold_epochs=2, decay_epochs=3)
    student = PriorNetworkDistiller(
        FrozenEstimator(teacher), annealing=schedule, max_epochs=7, random_state=0
    ).fit(X, y)
    np.testing.assert_allclose(
        student.history_[:, "temperature"], [4, 4, 3, 2, 1, 1, 1]
    )
    assert student.net_.criterion_.temperature == 1.0
    none = PriorNetworkDistiller(
        FrozenEstimator(teacher), annealing=None, max_epochs=2, random_state=0
    ).fit(X, y)
    assert "temperature" not in none.history_[-1]


def test_nested_set_params_does_not_touch_the_shared_default():
    fresh = PriorNetworkDistiller().get_params()
    a = PriorNetworkDistiller().set_params(annealing__start=3.0)
    b = PriorNetworkDistiller()
    assert isinstance(a.annealing, TemperatureAnnealing)
    assert a.annealing.start == 3.0
    assert b.annealing == "auto"
    assert b.get_params() == fresh


def test_default_annealing_is_resolved_in_fit_and_never_shared(iris):
    X, y = iris
    teacher = DeepEnsembleClassifier(n_members=2, max_epochs=2, random_state=0)
    paper = dict(criterion__ce_weight=0.0, max_epochs=3, random_state=0)
    student = PriorNetworkDistiller(teacher, **paper).fit(X, y)
    other = PriorNetworkDistiller(teacher, **paper).fit(X, y)
    assert student.annealing == "auto"
    assert isinstance(student.annealing_, TemperatureAnnealing)
    assert student.annealing_ is not other.annealing_
    student.annealing_.start = 3.0
    assert PriorNetworkDistiller().annealing == "auto"
    assert other.annealing_.start == 10.0


@pytest.mark.parametrize(
    "params, annealed",
    [
        ({}, False),  # the default cross-entropy term fits the mean: T = 1
        ({"criterion__ce_weight": 1.0}, False),
        ({"criterion__ce_weight": 0.0}, True),  # the paper's likelihood alone
        ({"loss": "proxy"}, True),
        ({"loss": "proxy", "criterion__ce_weight": 10.0}, False),
    ],
)
def test_auto_annealing_depends_on_the_cross_entropy_term(iris, params, annealed):
    X, y = iris
    teacher = DeepEnsembleClassifier(n_members=2, max_epochs=2, random_state=0)
    student = PriorNetworkDistiller(teacher, max_epochs=2, random_state=0, **params)
    student.fit(X, y)
    assert isinstance(student.annealing_, TemperatureAnnealing) is annealed
    assert annealed or student.annealing_ is None
    # T = 1 without annealing: the criterion's temperature never moved.
    assert annealed or student.net_.criterion_.temperature == 1.0
    # An explicit nested setting is honoured whatever the loss.
    student.set_params(annealing__start=4.0).fit(X, y)
    assert student.annealing_.start == 4.0


def test_ensemble_distiller_keeps_the_papers_annealing(iris):
    X, y = iris
    teacher = DeepEnsembleClassifier(n_members=2, max_epochs=2, random_state=0)
    student = EnsembleDistiller(teacher, max_epochs=2, random_state=0).fit(X, y)
    assert isinstance(student.annealing_, TemperatureAnnealing)


def test_nested_annealing_param_on_none_is_a_clear_error():
    with pytest.raises(ValueError, match="annealing__start.*annealing=None"):
        PriorNetworkDistiller(annealing=None).set_params(annealing__start=3.0)
