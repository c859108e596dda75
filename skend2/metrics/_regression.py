"""Regression uncertainty: NLL, interval calibration, rejection curves, evaluation.

The predictive distributions of skend2's regressors are Gaussian (one
network), a mixture of Gaussians (an ensemble) or a Student-t (a Normal-Wishart
Prior Network); the functions here take a distribution's location, scale and
(for a Student-t) degrees of freedom, and :func:`evaluate_regressor` picks the
exact one for each estimator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats
from scipy.special import logsumexp
from sklearn.utils import Bunch
from sklearn.utils.validation import check_consistent_length

from .._measures import final_step
from ._ood import ood_detection_auroc
from ._uncertainty_scores import uncertainty_scores
from ._validation import check_scores

__all__ = [
    "predictive_nll",
    "interval_coverage",
    "rejection_curve",
    "rejection_auc",
    "evaluate_regressor",
]

_LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)


def _as_2d(values: ArrayLike, name: str) -> np.ndarray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or not np.isfinite(array).all():
        raise ValueError(
            f"{name} must be a finite array of shape (n_samples,) or "
            f"(n_samples, n_targets); got shape {array.shape}."
        )
    return array


def _distribution(y_true, loc, scale, df):
    y_true, loc, scale = (
        _as_2d(v, n) for v, n in ((y_true, "y_true"), (loc, "loc"), (scale, "scale"))
    )
    if not (y_true.shape == loc.shape == scale.shape):
        raise ValueError(
            "y_true, loc and scale must have the same shape; got "
            f"{y_true.shape}, {loc.shape} and {scale.shape}."
        )
    if not (scale > 0).all():
        raise ValueError("scale must be > 0.")
    if df is None:
        return y_true, stats.norm(loc, scale)
    df = np.asarray(df, dtype=np.float64)
    df = df.reshape(-1, 1) if df.ndim == 1 else df
    if not (np.isfinite(df).all() and (df > 0).all()):
        raise ValueError("df must be finite and > 0.")
    return y_true, stats.t(df, loc, scale)


def predictive_nll(
    y_true: ArrayLike, loc: ArrayLike, scale: ArrayLike, *, df: ArrayLike | None = None
) -> float:
    """Mean negative log-likelihood of targets under Gaussian or Student-t predictives.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        True targets.
    loc : array-like of the same shape
        Predictive means (locations).
    scale : array-like of the same shape
        Predictive standard deviations (Gaussian) or scales (Student-t).
    df : array-like of shape (n_samples,) or None, default=None
        Degrees of freedom of a Student-t predictive (as a Normal-Wishart's);
        ``None`` for a Gaussian.

    Returns
    -------
    nll : float
        Minus the log density, summed over targets, averaged over samples
        (lower is better).

    Examples
    --------
    >>> from skend2.metrics import predictive_nll
    >>> round(predictive_nll([0.0], [0.0], [1.0]), 4)  # ½ ln 2π
    0.9189
    """
    y_true, distribution = _distribution(y_true, loc, scale, df)
    return float(-distribution.logpdf(y_true).sum(1).mean())


def interval_coverage(
    y_true: ArrayLike,
    loc: ArrayLike,
    scale: ArrayLike,
    *,
    df: ArrayLike | None = None,
    levels: Iterable[float] = _LEVELS,
) -> Bunch:
    """Coverage of central predictive intervals: calibration of the uncertainty.

    For each level p, the fraction of targets inside the central p-interval of
    their predictive (the probability integral transform F(y) lies in
    [(1 − p)/2, (1 + p)/2]). A calibrated model covers p of them.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        True targets.
    loc : array-like of the same shape
        Predictive means.
    scale : array-like of the same shape
        Predictive standard deviations (Gaussian) or scales (Student-t).
    df : array-like of shape (n_samples,) or None, default=None
        Degrees of freedom of a Student-t predictive; ``None`` for a Gaussian.
    levels : iterable of float, default=(0.1, 0.2, ..., 0.9, 0.95)
        Interval levels in (0, 1).

    Returns
    -------
    calibration : Bunch
        ``levels``, ``coverage`` (the observed fractions) and
        ``calibration_error``, the mean absolute difference of coverage and
        level.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.metrics import interval_coverage
    >>> y = np.random.default_rng(0).normal(size=20000)
    >>> c = interval_coverage(y, np.zeros_like(y), np.ones_like(y), levels=[0.9])
    >>> round(float(c.coverage[0]), 2)
    0.9
    """
    y_true, distribution = _distribution(y_true, loc, scale, df)
    return _coverage(distribution.cdf(y_true), levels)


def _coverage(pit: np.ndarray, levels: Iterable[float]) -> Bunch:
    levels = np.asarray(list(levels), dtype=np.float64)
    if levels.ndim != 1 or not ((levels > 0) & (levels < 1)).all() or not len(levels):
        raise ValueError(f"levels must be numbers in (0, 1); got {levels}.")
    pit = np.asarray(pit).ravel()
    coverage = np.array(
        [np.mean((pit >= (1 - p) / 2) & (pit <= (1 + p) / 2)) for p in levels]
    )
    return Bunch(
        levels=levels,
        coverage=coverage,
        calibration_error=float(np.mean(np.abs(coverage - levels))),
    )


def _squared_errors(y_true, y_pred, uncertainty):
    y_true = _as_2d(y_true, "y_true")
    y_pred = _as_2d(y_pred, "y_pred")
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape; got {y_true.shape} and "
            f"{y_pred.shape}."
        )
    uncertainty = check_scores(uncertainty, "uncertainty")
    check_consistent_length(y_true, uncertainty)
    return ((y_true - y_pred) ** 2).mean(1), uncertainty


def rejection_curve(
    y_true: ArrayLike, y_pred: ArrayLike, uncertainty: ArrayLike
) -> Bunch:
    """RMSE of the retained predictions as the most uncertain are rejected.

    Inputs are sorted by decreasing uncertainty (a stable sort); after
    rejecting the k most uncertain of n, the RMSE of the n − k others is
    recorded, for k = 0, …, n − 1. A useful measure makes the curve fall.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        True targets.
    y_pred : array-like of the same shape
        Predictions.
    uncertainty : array-like of shape (n_samples,)
        Uncertainty of each prediction; the most uncertain are rejected first.

    Returns
    -------
    curve : Bunch
        ``rejected`` (fractions k/n), ``rmse`` (of the retained inputs),
        ``oracle`` (the same curve when rejecting the largest errors first) and
        ``random`` (random rejection keeps the mean squared error of all
        inputs in expectation: the square root of that, constant).

    See Also
    --------
    rejection_auc : The area under this curve.

    Examples
    --------
    >>> from skend2.metrics import rejection_curve
    >>> curve = rejection_curve([0, 0, 0, 0], [0, 0, 0, 2], [0, 0, 0, 1])
    >>> curve.rmse.tolist()
    [1.0, 0.0, 0.0, 0.0]
    """
    errors, uncertainty = _squared_errors(y_true, y_pred, uncertainty)
    n = len(errors)

    def retained_rmse(order):
        # Suffix means: after rejecting the first k of ``order``.
        suffix = np.cumsum(errors[order][::-1])[::-1]
        return np.sqrt(suffix / np.arange(n, 0, -1))

    order = np.argsort(-uncertainty, kind="stable")
    return Bunch(
        rejected=np.arange(n) / n,
        rmse=retained_rmse(order),
        oracle=retained_rmse(np.argsort(-errors, kind="stable")),
        random=np.full(n, np.sqrt(errors.mean())),
    )


def rejection_auc(
    y_true: ArrayLike, y_pred: ArrayLike, uncertainty: ArrayLike
) -> float:
    """Area under the rejection curve, as a fraction of the random one's.

    The mean over rejection fractions k/n (k = 0, …, n − 1) of the retained
    RMSE of :func:`rejection_curve`, divided by the RMSE of all predictions
    (the random-rejection curve's constant value): below 1 when the
    uncertainty finds the large errors, 1 for a useless one, and the
    oracle's value is the lower bound. Dividing by the overall RMSE makes
    models with different accuracy comparable on how well they rank.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
        True targets.
    y_pred : array-like of the same shape
        Predictions.
    uncertainty : array-like of shape (n_samples,)
        Uncertainty of each prediction.

    Returns
    -------
    auc : float
        Lower is better.

    See Also
    --------
    rejection_curve : The curve itself.

    Examples
    --------
    >>> from skend2.metrics import rejection_auc
    >>> rejection_auc([0, 0, 0, 0], [0, 0, 0, 2], [0, 0, 0, 1])
    0.25
    """
    curve = rejection_curve(y_true, y_pred, uncertainty)
    overall = curve.random[0]
    if overall == 0:
        return 0.0
    return float(curve.rmse.mean() / overall)


def _predictive(final: Any, X: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """Mean, and a function of y that gives (log density, PIT) per target."""
    if hasattr(final, "predict_member_params"):  # an ensemble: a mixture
        means, variances = final.predict_member_params(X)
        std = np.sqrt(variances)

        def density(y):
            z = (y[:, None, :] - means) / std
            log_pdf = stats.norm.logpdf(z) - np.log(std)
            log_mix = logsumexp(log_pdf, axis=1) - np.log(means.shape[1])
            return log_mix, stats.norm.cdf(z).mean(1)

        return means.mean(1), density
    if hasattr(final, "predict_params"):  # a Normal-Wishart: a Student-t
        from ..uncertainty import student_t_predictive

        p = final.predict_params(X)
        t = student_t_predictive(p.mean, p.scale, p.kappa, p.nu)
        dist = stats.t(t.df[:, None], t.loc, t.scale)
        return t.loc, lambda y: (dist.logpdf(y), dist.cdf(y))
    mean, std = final.predict(X, return_std=True)
    mean, std = _as_2d(mean, "mean"), _as_2d(std, "std")
    dist = stats.norm(mean, std)
    return mean, lambda y: (dist.logpdf(y), dist.cdf(y))


def evaluate_regressor(
    estimator: Any,
    X_test: ArrayLike,
    y_test: ArrayLike,
    X_ood: ArrayLike | None = None,
    *,
    measures: Iterable[str] | None = None,
) -> dict[str, float]:
    """Evaluate a fitted regressor's predictions and uncertainty.

    The NLL is exact for each predictive: a Gaussian mixture for a
    :class:`~skend2.DeepEnsembleRegressor`, the Student-t of a
    :class:`~skend2.PriorNetworkRegressor`, a Gaussian for any other
    regressor whose ``predict`` takes ``return_std``.

    Parameters
    ----------
    estimator : fitted regressor
        An skend2 regressor (bare or ending a Pipeline), or any regressor with
        ``predict(X, return_std=True)``.
    X_test : array-like of shape (n_samples, n_features)
        In-distribution test inputs.
    y_test : array-like of shape (n_samples,) or (n_samples, n_targets)
        Their targets.
    X_ood : array-like of shape (n_ood, n_features), default=None
        Out-of-distribution inputs, for the OOD AUROC of each measure.
    measures : iterable of str, default=None
        Uncertainty measures to score; ``None``: every measure of
        ``predict_uncertainty`` (for other regressors, the predictive
        variance as ``"total_variance"``).

    Returns
    -------
    results : dict
        ``rmse``, ``nll``, ``calibration_error`` (:func:`interval_coverage`),
        and per measure ``rejection_auc_<measure>`` and, with ``X_ood``,
        ``ood_auroc_<measure>``.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.linear_model import BayesianRidge
    >>> from skend2.metrics import evaluate_regressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> results = evaluate_regressor(BayesianRidge().fit(X, y), X, y)
    >>> sorted(results)[:3]
    ['calibration_error', 'nll', 'rejection_auc_total_variance']
    """
    final, X = final_step(estimator, X_test)
    _, X_ood_t = final_step(estimator, X_ood) if X_ood is not None else (None, None)
    y = _as_2d(y_test, "y_test")
    mean, density = _predictive(final, X)
    if mean.shape != y.shape:
        raise ValueError(
            f"y_test has shape {np.shape(y_test)}, but the estimator predicts "
            f"{mean.shape[1]} target(s)."
        )
    log_density, pit = density(y)
    results = {
        "rmse": float(np.sqrt(np.mean((mean - y) ** 2))),
        "nll": float(-log_density.sum(1).mean()),
        "calibration_error": _coverage(pit, _LEVELS).calibration_error,
    }
    if hasattr(final, "predict_uncertainty"):
        # Through the one reader of estimators' measures, as the classifiers'.
        uncertainty = uncertainty_scores(estimator, X_test)
        ood = None if X_ood is None else uncertainty_scores(estimator, X_ood)
    else:
        _, std = final.predict(X, return_std=True)
        uncertainty = {"total_variance": (_as_2d(std, "std") ** 2).sum(1)}
        ood = None
        if X_ood is not None:
            _, std_ood = final.predict(X_ood_t, return_std=True)
            ood = {"total_variance": (_as_2d(std_ood, "std") ** 2).sum(1)}
    for name in measures if measures is not None else list(uncertainty):
        if name not in uncertainty:
            raise ValueError(
                f"Unknown measure {name!r}; the estimator gives {sorted(uncertainty)}."
            )
        results[f"rejection_auc_{name}"] = rejection_auc(y, mean, uncertainty[name])
        if ood is not None:
            results[f"ood_auroc_{name}"] = ood_detection_auroc(
                uncertainty[name], ood[name]
            )
    return results
