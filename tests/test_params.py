"""Every public parameter of every estimator and schedule, checked from one table.

Each parameter gets a value of a wrong type (``TypeError``) and, where it has a
range or a set of options, a value outside it (``ValueError``); the message names
the parameter, and the error comes before any data is looked at.
"""

import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator

from skend2 import (
    ConstantTemperature,
    DeepEnsembleClassifier,
    EnsembleDistiller,
    ExponentialAnnealing,
    PriorNetworkDistiller,
    TemperatureAnnealing,
)
from skend2._base import BaseNeuralClassifier
from skend2.transfer import FeatureNoise, GaussianNoise, Mixup

# parameter: (a value of a wrong type, a value of the right type out of range or
# None where every value of the right type is valid)
BAD_VALUES = {
    "module": ("mlp", None),
    "n_members": ("3", 0),
    "optimizer": ("adam", None),
    "lr": ("0.1", -1.0),
    "max_epochs": (2.5, 0),
    "batch_size": ("64", 0),
    "train_split": (5, None),
    "callbacks": ("early", None),
    "training": (3, "parallel"),
    "n_groups": ("2", 0),
    "n_jobs": ("2", 0),
    "device": (3, "nonsense"),
    "n_threads": ("1", 0),
    "verbose": ("yes", -1),
    "warm_start": ("yes", None),
    "random_state": ("seed", -1),
    "teacher": ("ensemble", None),
    "annealing": (5, "linear"),
    "memory": (5, None),
    "gradient_clip": ("10", 0.0),
    "loss": (1, "mse"),
    "transfer": (5, "noise"),
    "transfer_weight": ("0.5", 1.0),
    "teacher_outputs": (1, "sometimes"),
    "early_stopping": ("yes", None),
    "validation_fraction": ("0.2", 1.0),
    "n_iter_no_change": (2.5, 0),
}

SCHEDULE_BAD_VALUES = {
    "start": ("10", 0.0),
    "end": ("1", -1.0),
    "hold_epochs": ("3", 1.5),
    "decay_epochs": ("3", -1),
    "value": ("1", 0.0),
    "scale": ("1", 0.0),
    "alpha": ("1", -1.0),
    "flip": ("0.1", 1.5),
}

ESTIMATORS = [DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller]
SCHEDULES = [TemperatureAnnealing, ExponentialAnnealing, ConstantTemperature]
GENERATORS = [GaussianNoise, Mixup]


def _cases(classes, table, kind):
    for cls in classes:
        for name in cls().get_params(deep=False):
            wrong_type, out_of_range = table[name]
            yield pytest.param(cls, name, wrong_type, TypeError, id=f"{kind}-{name}")
            if out_of_range is not None:
                yield pytest.param(
                    cls, name, out_of_range, ValueError, id=f"{kind}-{name}-range"
                )


@pytest.fixture
def data_untouched(monkeypatch):
    """Fail the test if fit reaches its input checks (i.e. validates too late)."""

    def touched(*args, **kwargs):
        raise AssertionError("fit looked at the data before checking parameters")

    monkeypatch.setattr(BaseNeuralClassifier, "_validate_fit_data", touched)


@pytest.mark.parametrize("cls", ESTIMATORS + SCHEDULES + GENERATORS)
def test_table_covers_every_parameter(cls):
    table = {**BAD_VALUES, **SCHEDULE_BAD_VALUES}
    assert set(cls().get_params(deep=False)) <= set(table)
    assert set(cls().get_params(deep=False)) == set(cls._parameter_constraints)


@pytest.mark.parametrize(
    "cls, name, value, error",
    [
        *_cases([DeepEnsembleClassifier], BAD_VALUES, "ensemble"),
        *_cases([EnsembleDistiller], BAD_VALUES, "end"),
        *_cases([PriorNetworkDistiller], BAD_VALUES, "end2"),
    ],
)
def test_estimator_parameter_errors(cls, name, value, error, data_untouched):
    estimator = cls(**{name: value})
    with pytest.raises(error, match=f"'{name}' parameter of {cls.__name__}") as info:
        estimator.fit([[0.0], [1.0]], [0, 1])
    # Exactly one of the two kinds: never the ambiguous scikit-learn error.
    other = ValueError if error is TypeError else TypeError
    assert not isinstance(info.value, other)


@pytest.mark.parametrize(
    "cls, name, value, error",
    [
        *_cases([TemperatureAnnealing], SCHEDULE_BAD_VALUES, "linear"),
        *_cases([ExponentialAnnealing], SCHEDULE_BAD_VALUES, "exp"),
        *_cases([ConstantTemperature], SCHEDULE_BAD_VALUES, "constant"),
    ],
)
def test_schedule_parameter_errors(cls, name, value, error, data_untouched):
    schedule = cls(**{name: value})
    match = f"'{name}' parameter of {cls.__name__}"
    with pytest.raises(error, match=match):
        schedule(0, 10)
    # A distiller checks its schedule at the start of fit, before training.
    with pytest.raises(error, match=match):
        PriorNetworkDistiller(annealing=schedule).fit([[0.0], [1.0]], [0, 1])


@pytest.mark.parametrize(
    "cls, name, value, error",
    [
        *_cases([GaussianNoise], SCHEDULE_BAD_VALUES, "noise"),
        *_cases([Mixup], SCHEDULE_BAD_VALUES, "mixup"),
        *_cases([FeatureNoise], SCHEDULE_BAD_VALUES, "feature-noise"),
    ],
)
def test_transfer_generator_parameter_errors(cls, name, value, error):
    generator = cls(**{name: value})
    match = f"'{name}' parameter of {cls.__name__}"
    with pytest.raises(error, match=match):
        generator.fit(np.zeros((4, 2)))
    with pytest.raises(error, match=match):
        PriorNetworkDistiller(transfer=generator).fit([[0.0], [1.0]], [0, 1])


@pytest.mark.parametrize("name", ["n_members", "max_epochs", "batch_size"])
def test_bool_is_not_an_int(name, data_untouched):
    with pytest.raises(TypeError, match=name):
        DeepEnsembleClassifier(**{name: True}).fit([[0.0], [1.0]], [0, 1])


def test_message_says_what_is_accepted():
    with pytest.raises(ValueError, match=r"must be an int in the range \[1, inf\)"):
        DeepEnsembleClassifier(n_members=0).fit([[0.0], [1.0]], [0, 1])
    with pytest.raises(TypeError, match="torch.optim.Optimizer class"):
        DeepEnsembleClassifier(optimizer=torch.nn.Linear).fit([[0.0], [1.0]], [0, 1])


def test_frozen_teacher_must_wrap_an_ensemble(data_untouched):
    from sklearn.linear_model import LogisticRegression

    frozen = FrozenEstimator(LogisticRegression())
    with pytest.raises(TypeError, match="'teacher' parameter"):
        PriorNetworkDistiller(frozen).fit([[0.0], [1.0]], [0, 1])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"criterion__nonsense": 1}, "criterion__nonsense"),
        ({"optimizer__nonsense": 1}, "optimizer__nonsense"),
        ({"iterator_train__nonsense": 1}, "iterator_train__nonsense"),
        ({"iterator_valid__nonsense": 1}, "iterator_valid__nonsense"),
        ({"dataset__nonsense": 1}, "dataset__nonsense"),
        ({"iterator_train__seed": 1}, "iterator_train__seed"),
        ({"nonsense": 1}, "unexpected parameters"),
    ],
)
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_routed_parameters_are_checked_by_name(cls, params, match, data_untouched):
    with pytest.raises(ValueError, match=match):
        cls(**params).fit([[0.0], [1.0]], [0, 1])
