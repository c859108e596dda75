"""The regressors' defaults: early stopping, variance rescaling, and what they fix.

``DeepEnsembleRegressor()`` holds out ``validation_fraction`` of the rows,
stops on their RMSE (restoring the best epoch) and rescales the members'
variances on them. The old default (100 epochs on every row) left single
networks badly overconfident on small tabular sets; the first test pins the
improvement on diabetes.
"""

import io
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_diabetes
from sklearn.frozen import FrozenEstimator
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from test_params import BAD_VALUES

import skend2
from skend2 import DeepEnsembleRegressor, PriorNetworkRegressor
from skend2._regression_training import VarianceScaled, fit_variance_scale
from skend2.metrics import predictive_nll

SMALL = {"module__hidden_layer_sizes": (16,)}


@pytest.fixture(scope="module")
def diabetes_split():
    X, y = load_diabetes(return_X_y=True)
    X_fit, X_val, y_fit, y_val = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_fit)
    return scaler.transform(X_fit), y_fit, scaler.transform(X_val), y_val


def _nll(model, X, y):
    mean, std = model.predict(X, return_std=True)
    return float(predictive_nll(y, mean, std))


def test_default_single_network_is_not_overconfident(diabetes_split):
    # Validation NLL of one network at a fixed seed: the defaults give 5.45
    # nats (5.45-5.46 over seeds 0-2, RMSE 57-58); 100 epochs on every row
    # (the old default) gave 8.9-9.8 nats (RMSE 65-66).
    X, y, X_val, y_val = diabetes_split
    new = DeepEnsembleRegressor(n_members=1, random_state=0).fit(X, y)
    old = DeepEnsembleRegressor(
        n_members=1, max_epochs=100, early_stopping=False, random_state=0
    ).fit(X, y)
    new_nll, old_nll = _nll(new, X_val, y_val), _nll(old, X_val, y_val)
    assert new_nll < 5.9
    assert old_nll > 5.9 + 2.0
    # ... at an RMSE no worse than the old default's.
    rmse = [np.sqrt(np.mean((m.predict(X_val) - y_val) ** 2)) for m in (new, old)]
    assert rmse[0] <= 1.02 * rmse[1]


def test_early_stopping_holds_out_stops_and_restores(diabetes_split):
    X, y, _, _ = diabetes_split
    model = DeepEnsembleRegressor(
        n_members=2, max_epochs=200, n_iter_no_change=5, random_state=0, **SMALL
    ).fit(X, y)
    assert model.n_validation_ == math.ceil(0.2 * len(X))
    history = model.history_
    assert len(history) < 200
    best = [i for i, row in enumerate(history) if row.get("valid_best")][-1]
    nll = history[:, "valid_nll_rescaled"]
    assert history[best, "valid_nll_rescaled"] == min(nll)
    # Stopped after n_iter_no_change epochs without an improvement.
    assert len(history) - 1 - best == 5
    assert isinstance(model.module_, VarianceScaled)
    assert model.variance_scale_.shape == (1,)
    assert np.all(model.variance_scale_ > 0)


def test_restored_weights_give_the_best_validation_rmse():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X[:, 0] + 0.3 * rng.normal(size=120)
    model = DeepEnsembleRegressor(
        n_members=2, n_iter_no_change=3, random_state=0, **SMALL
    )
    seen = {}
    original = model._validation_split

    def spy(X_, y_, seed):
        out = original(X_, y_, seed)
        seen["validation"] = out[2]
        return out

    model._validation_split = spy
    model.fit(X, y)
    X_valid, y_valid = seen["validation"]
    with torch.no_grad():
        raw = model.module_.module(X_valid)
    # The restored weights are the best epoch's, and the factor is the one
    # fitted on their held-out outputs.
    history = model.history_
    best = [i for i, row in enumerate(history) if row.get("valid_best")][-1]
    assert len(history) > best + 1
    y_np = y_valid.double().numpy()
    np.testing.assert_allclose(
        model.variance_scale_, fit_variance_scale(raw.double().numpy(), y_np)
    )
    mean = raw[..., :1].double().mean(1)
    rmse = float(torch.sqrt(((mean - y_valid.double()) ** 2).mean()))
    assert rmse == pytest.approx(history[best, "valid_rmse"], rel=1e-5)


def test_variance_scale_is_applied_everywhere(diabetes_split):
    X, y, X_val, _ = diabetes_split
    model = DeepEnsembleRegressor(n_members=3, random_state=0, **SMALL).fit(X, y)
    scale = model.variance_scale_
    with torch.no_grad():
        inner = model.module_.module(torch.as_tensor(X_val[:10], dtype=torch.float32))
    raw_variance = torch.nn.functional.softplus(inner[..., 1:].double()) + 1e-6
    _, variances = model.predict_member_params(X_val[:10])
    np.testing.assert_allclose(
        variances[..., 0],
        scale[0] * raw_variance[..., 0].numpy() * model.y_scale_[0] ** 2,
        rtol=1e-4,
    )
    # The teacher's outputs, as a student distils them, carry the factor too.
    outputs = model._predict_member_outputs(X_val[:10])
    np.testing.assert_allclose(
        np.log1p(np.exp(outputs[..., 1].astype(np.float64))) + 1e-6,
        scale[0] * raw_variance[..., 0].numpy(),
        rtol=1e-4,
    )
    buffer = io.BytesIO()
    skend2.save(model, buffer)
    buffer.seek(0)
    loaded = skend2.load(buffer)
    np.testing.assert_array_equal(loaded.variance_scale_, scale)
    np.testing.assert_array_equal(
        loaded.predict(X_val[:5], return_std=True)[1],
        model.predict(X_val[:5], return_std=True)[1],
    )


def test_fit_variance_scale_recovers_a_known_factor():
    rng = np.random.default_rng(0)
    n, members = 4000, 3
    means = rng.normal(size=(n, members, 1)) * 0.01
    variance = 0.25
    raw_variance = np.log(np.expm1(variance - 1e-6))
    raw = np.concatenate([means, np.full((n, members, 1), raw_variance)], axis=-1)
    y = rng.normal(scale=np.sqrt(9 * variance), size=(n, 1))  # 9 × too narrow
    assert fit_variance_scale(raw, y)[0] == pytest.approx(9.0, rel=0.08)


def test_early_stopping_off_and_with_a_train_split(diabetes_split):
    X, y, _, _ = diabetes_split
    off = DeepEnsembleRegressor(
        n_members=2, max_epochs=4, early_stopping=False, random_state=0, **SMALL
    ).fit(X, y)
    assert len(off.history_) == 4 and off.n_validation_ == 0
    np.testing.assert_array_equal(off.variance_scale_, [1.0])
    assert "valid_rmse" not in off.history_[-1]
    from skorch.dataset import ValidSplit

    user = DeepEnsembleRegressor(
        n_members=2,
        max_epochs=3,
        train_split=ValidSplit(5, stratified=False),
        random_state=0,
        **SMALL,
    ).fit(X, y)
    assert len(user.history_) == 3 and user.n_validation_ == 0
    assert "valid_loss" in user.history_[-1]


def test_early_stopping_is_unit_free_and_sequential_matches(diabetes_split):
    X, y, _, _ = diabetes_split
    kwargs = dict(n_members=2, random_state=0, **SMALL)
    first = DeepEnsembleRegressor(**kwargs).fit(X, y)
    shifted = DeepEnsembleRegressor(**kwargs).fit(X, 1000.0 * y - 7.0)
    np.testing.assert_allclose(shifted.variance_scale_, first.variance_scale_)
    np.testing.assert_allclose(
        shifted.predict(X[:5]), 1000.0 * first.predict(X[:5]) - 7.0, rtol=1e-4
    )
    sequential = DeepEnsembleRegressor(training="sequential", **kwargs).fit(X, y)
    assert sequential.n_validation_ == first.n_validation_
    assert isinstance(sequential.module_, VarianceScaled)
    assert sequential.predict(X[:5]).shape == (5,)


def test_warm_start_with_early_stopping(diabetes_split):
    X, y, _, _ = diabetes_split
    model = DeepEnsembleRegressor(
        n_members=2, max_epochs=5, warm_start=True, random_state=0, **SMALL
    ).fit(X, y)
    epochs = len(model.history_)
    model.fit(X, y)
    assert len(model.history_) > epochs
    # The wrapper is not stacked on a warm start.
    assert not isinstance(model.module_.module, VarianceScaled)


def test_default_student_distils_the_rescaled_default_teacher(diabetes_split):
    X, y, X_val, y_val = diabetes_split
    student = PriorNetworkRegressor(
        FrozenEstimator(DeepEnsembleRegressor(n_members=3, random_state=0).fit(X, y)),
        max_epochs=30,
        random_state=0,
    ).fit(X, y)
    assert np.isfinite(_nll(student, X_val, y_val))


@pytest.mark.parametrize(
    "name", ["early_stopping", "validation_fraction", "n_iter_no_change"]
)
def test_new_parameters_are_validated(name, diabetes_split):
    X, y, _, _ = diabetes_split
    wrong_type, out_of_range = BAD_VALUES[name]
    for value, error in ((wrong_type, TypeError), (out_of_range, ValueError)):
        if value is None:
            continue
        with pytest.raises(error, match=f"'{name}' parameter of DeepEnsembleRegressor"):
            DeepEnsembleRegressor(**{name: value}).fit(X, y)
