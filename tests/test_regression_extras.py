"""Regression data sets, metrics and displays."""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import BayesianRidge

from skend2 import DeepEnsembleRegressor, PriorNetworkRegressor
from skend2.datasets import (
    load_mlbench_regression,
    load_regression_ood,
    make_regression_toy,
    split_pca_ood,
)
from skend2.metrics import (
    evaluate_regressor,
    interval_coverage,
    predictive_nll,
    rejection_auc,
    rejection_curve,
)

_MLBENCH = Path("/usr/share/datasets/mlbench")
needs_mlbench = pytest.mark.skipif(
    not any(
        (folder / "Servo.rda").is_file()
        for folder in (Path("/usr/lib/R/site-library/mlbench/data"), _MLBENCH)
    ),
    reason="r-cran-mlbench's data files not found (see .ci/run)",
)


# --- data -----------------------------------------------------------------------


def test_regression_toy():
    X, y = make_regression_toy(2000, random_state=0)
    assert X.shape == (2000, 1) and y.shape == (2000,)
    assert X.min() >= -3 and X.max() <= 3
    residual = y - X[:, 0] * np.sin(X[:, 0])
    # Heteroscedastic: σ(x) = 0.2 (0.5 + |x|/2).
    near, far = np.abs(X[:, 0]) < 1, np.abs(X[:, 0]) > 2
    assert residual[far].std() > 2 * residual[near].std()
    np.testing.assert_array_equal(
        make_regression_toy(50, random_state=3)[1],
        make_regression_toy(50, random_state=3)[1],
    )
    with pytest.raises(ValueError, match="x_range"):
        make_regression_toy(10, x_range=(1, -1))
    with pytest.raises(TypeError, match="n_samples"):
        make_regression_toy(2.5)


def test_pca_ood_split():
    rng = np.random.default_rng(0)
    z = rng.normal(size=500)
    # One dominant direction (all loadings positive), plus a little noise.
    X = z[:, None] * np.array([1.0, 2.0, 3.0, 4.0]) + 0.05 * rng.normal(size=(500, 4))
    y = z
    split = split_pca_ood(X, y, quantile=0.8, test_size=0.25, random_state=0)
    assert abs(len(split.X_ood) - 100) <= 1
    assert len(split.X_train) + len(split.X_test) + len(split.X_ood) == 500
    assert abs(len(split.X_test) - 0.25 * (500 - len(split.X_ood))) <= 1
    # The held-out rows are the top of the component: the largest z.
    assert split.y_ood.min() > np.quantile(z, 0.78)
    assert max(split.y_train.max(), split.y_test.max()) < np.quantile(z, 0.82)
    # The sign is fixed by the loadings, not by the SVD: negating the data
    # holds out the other end.
    flipped = split_pca_ood(-X, y, random_state=0)
    assert flipped.y_ood.max() < np.quantile(z, 0.22)
    with pytest.raises(ValueError, match="quantile"):
        split_pca_ood(X, y, quantile=1.0)


def test_diabetes_ood_split():
    split = load_regression_ood("diabetes", random_state=0)
    assert split.X_train.shape[1] == 10 and split.name == "diabetes"
    assert abs(len(split.X_ood) - 442 * 0.2) <= 1


def test_mlbench_regression_refuses_other_sets():
    with pytest.raises(ValueError, match="only BostonHousing and Servo"):
        load_mlbench_regression("Ozone")


@needs_mlbench
@pytest.mark.parametrize(
    "name, shape", [("BostonHousing", (506, 13)), ("Servo", (167, 12))]
)
def test_mlbench_regression_sets(name, shape):
    data = load_mlbench_regression(name)
    assert data.data.shape == shape and data.target.shape == (shape[0],)
    assert np.isfinite(data.data).all()
    if name == "Servo":
        onehot = data.data[:, :10]
        np.testing.assert_array_equal(onehot.sum(1), 2.0)  # motor and screw
    else:
        assert 5.0 <= data.target.min() and data.target.max() <= 50.0
    split = load_regression_ood(name)
    assert abs(len(split.X_ood) - 0.2 * shape[0]) <= 1


# --- metrics --------------------------------------------------------------------


def test_predictive_nll_and_coverage():
    rng = np.random.default_rng(0)
    y = rng.normal(1.0, 2.0, 50_000)
    loc, scale = np.ones_like(y), np.full_like(y, 2.0)
    assert predictive_nll(y, loc, scale) == pytest.approx(
        -stats.norm(1, 2).logpdf(y).mean()
    )
    df = np.full(len(y), 4.0)
    assert predictive_nll(y, loc, scale, df=df) == pytest.approx(
        -stats.t(4, 1, 2).logpdf(y).mean()
    )
    calibrated = interval_coverage(y, loc, scale)
    assert calibrated.calibration_error < 0.01
    overconfident = interval_coverage(y, loc, scale / 3)
    assert overconfident.calibration_error > 0.2
    assert (overconfident.coverage < overconfident.levels).all()
    with pytest.raises(ValueError, match="scale must be > 0"):
        predictive_nll([0.0], [0.0], [0.0])
    with pytest.raises(ValueError, match="same shape"):
        predictive_nll([0.0, 1.0], [0.0], [1.0])


def test_rejection_curve_and_auc():
    rng = np.random.default_rng(0)
    std = rng.uniform(0.1, 3.0, 2000)
    y = rng.normal(0.0, std)
    pred = np.zeros_like(y)
    curve = rejection_curve(y, pred, std)
    assert curve.rmse[0] == pytest.approx(np.sqrt(np.mean(y**2)))
    assert (curve.oracle <= curve.rmse + 1e-12).all()
    assert curve.rmse[-200:].mean() < 0.5 * curve.rmse[0]
    informative = rejection_auc(y, pred, std)
    useless = rejection_auc(y, pred, rng.uniform(size=len(y)))
    oracle = rejection_auc(y, pred, np.abs(y))
    assert oracle < informative < 0.8 < useless < 1.1
    with pytest.raises(ValueError, match="finite"):
        rejection_auc(y, pred, np.full(len(y), np.nan))


@pytest.fixture(scope="module")
def fitted(request):
    from sklearn.datasets import load_diabetes
    from sklearn.frozen import FrozenEstimator
    from sklearn.preprocessing import StandardScaler

    X, y = load_diabetes(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    ensemble = DeepEnsembleRegressor(
        n_members=3, max_epochs=20, random_state=0, module__hidden_layer_sizes=(16,)
    ).fit(X[:300], y[:300])
    student = PriorNetworkRegressor(
        FrozenEstimator(ensemble), max_epochs=20, random_state=0
    ).fit(X[:300], y[:300])
    return X, y, ensemble, student


def test_evaluate_regressor(fitted):
    X, y, ensemble, student = fitted
    for model in (ensemble, student):
        results = evaluate_regressor(model, X[300:], y[300:], X_ood=X[:50] * 4)
        assert results["rmse"] == pytest.approx(
            np.sqrt(np.mean((model.predict(X[300:]) - y[300:]) ** 2))
        )
        assert {"nll", "calibration_error", "rejection_auc_knowledge"} <= set(results)
        assert 0 <= results["ood_auroc_knowledge"] <= 1
    # Far from the data the ensemble's members disagree.
    far = evaluate_regressor(ensemble, X[300:], y[300:], X_ood=X[:50] * 4)
    assert far["ood_auroc_knowledge"] > 0.9
    # The student's NLL is its Student-t's.
    p = student.predict_params(X[300:])
    from skend2.uncertainty import student_t_predictive

    t = student_t_predictive(p.mean, p.scale, p.kappa, p.nu)
    expected = predictive_nll(y[300:], t.loc[:, 0], t.scale[:, 0], df=t.df)
    assert evaluate_regressor(student, X[300:], y[300:])["nll"] == pytest.approx(
        expected
    )
    # The ensemble's NLL is its mixture's.
    means, variances = ensemble.predict_member_params(X[300:])
    density = stats.norm(means[..., 0], np.sqrt(variances[..., 0])).pdf(y[300:, None])
    assert evaluate_regressor(ensemble, X[300:], y[300:])["nll"] == pytest.approx(
        -np.log(density.mean(1)).mean()
    )
    other = evaluate_regressor(BayesianRidge().fit(X, y), X, y, X_ood=X[:20])
    assert set(other) >= {"rmse", "nll", "ood_auroc_total_variance"}
    with pytest.raises(ValueError, match="Unknown measure"):
        evaluate_regressor(ensemble, X[300:], y[300:], measures=["precision"])


# --- displays -------------------------------------------------------------------


def test_displays(fitted):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    from skend2.plotting import RegressionBandsDisplay, RejectionCurveDisplay

    X, y, ensemble, student = fitted
    disp = RejectionCurveDisplay.from_estimator(student, X[300:], y[300:])
    assert set(disp.lines_) == {"total_variance", "knowledge"}
    assert disp.aucs["knowledge"] == pytest.approx(
        rejection_auc(
            y[300:],
            student.predict(X[300:]),
            student.predict_uncertainty(X[300:]).knowledge,
        )
    )
    matplotlib.pyplot.close(disp.figure_)
    X1, y1 = make_regression_toy(100, random_state=0)
    toy = DeepEnsembleRegressor(n_members=2, max_epochs=3, random_state=0).fit(X1, y1)
    grid = np.linspace(-5, 5, 50)[::-1, None]
    bands = RegressionBandsDisplay.from_estimator(toy, grid, X_train=X1, y_train=y1)
    assert np.all(np.diff(bands.x) > 0)
    assert (bands.total_std >= bands.data_std).all()
    np.testing.assert_allclose(bands.mean, toy.predict(grid[::-1]))
    matplotlib.pyplot.close(bands.figure_)
    with pytest.raises(ValueError, match="1-D"):
        RegressionBandsDisplay.from_estimator(toy, np.zeros((3, 2)))
