"""Regression displays: a 1-D model's uncertainty bands, and rejection curves.

:class:`RegressionBandsDisplay` draws a regressor's mean over a 1-D input with
its data and total standard-deviation bands (the gap between them is the
knowledge uncertainty); :class:`RejectionCurveDisplay` draws the retained RMSE
as the most uncertain predictions are rejected, per measure, with the oracle
and random references.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..metrics import rejection_auc, rejection_curve
from ._base import check_measures, final_step_with, panel_axes, predict_uncertainty

__all__ = ["RegressionBandsDisplay", "RejectionCurveDisplay"]


class RegressionBandsDisplay:
    """A 1-D regressor's mean with its data and total uncertainty bands.

    The inner band is ± ``n_std`` standard deviations of data uncertainty
    (√ ``data_variance``), the outer one of total uncertainty
    (√ ``total_variance``): where the outer band widens beyond the inner one,
    the model's knowledge is uncertain (an ensemble's members disagree, or a
    Prior Network's κ is small).

    Parameters
    ----------
    x : ndarray of shape (n_points,)
        The inputs, sorted.
    mean : ndarray of shape (n_points,)
        The predicted mean.
    data_std : ndarray of shape (n_points,)
        Standard deviation of data uncertainty.
    total_std : ndarray of shape (n_points,)
        Standard deviation of total uncertainty.
    n_std : float, default=2.0
        Half-width of the bands in standard deviations.
    name : str, default=None
        Name of the model, in the legend.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes.
    figure_ : matplotlib Figure
        The figure.
    line_ : matplotlib Line2D
        The mean.

    See Also
    --------
    skend2.DeepEnsembleRegressor.predict_uncertainty : The variances drawn.

    References
    ----------
    .. [1] A. Malinin, S. Chervontsev, I. Provilkov and M. Gales, "Regression
       Prior Networks", arXiv:2006.11590, 2020.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skend2.plotting import RegressionBandsDisplay
    >>> x = np.linspace(-1, 1, 5)
    >>> disp = RegressionBandsDisplay(
    ...     x=x, mean=x, data_std=np.ones(5), total_std=1 + x**2).plot()
    >>> matplotlib.pyplot.close(disp.figure_)
    """

    def __init__(
        self,
        *,
        x: np.ndarray,
        mean: np.ndarray,
        data_std: np.ndarray,
        total_std: np.ndarray,
        n_std: float = 2.0,
        name: str | None = None,
    ) -> None:
        self.x = x
        self.mean = mean
        self.data_std = data_std
        self.total_std = total_std
        self.n_std = n_std
        self.name = name

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        *,
        X_train: ArrayLike | None = None,
        y_train: ArrayLike | None = None,
        n_std: float = 2.0,
        ax: Any = None,
        name: str | None = None,
    ) -> RegressionBandsDisplay:
        """Draw a fitted single-target regressor's bands over 1-D inputs X.

        Parameters
        ----------
        estimator : fitted skend2 regressor or Pipeline ending in one
            A :class:`~skend2.DeepEnsembleRegressor` or
            :class:`~skend2.PriorNetworkRegressor` of one target.
        X : array-like of shape (n_points, 1)
            The inputs to draw over (sorted here).
        X_train : array-like of shape (n_train, 1), default=None
            Training inputs, drawn as points with ``y_train``.
        y_train : array-like of shape (n_train,), default=None
            Training targets.
        n_std : float, default=2.0
            Half-width of the bands in standard deviations.
        ax : matplotlib Axes, default=None
            Where to draw; ``None`` makes a new figure.
        name : str, default=None
            Legend name (default: the estimator's class name).

        Returns
        -------
        display : RegressionBandsDisplay
            The drawn display.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != 1:
            raise ValueError(
                f"X must have shape (n_points, 1) for a 1-D display; got {X.shape}."
            )
        X = X[np.argsort(X[:, 0], kind="stable")]
        final, _ = final_step_with(
            "predict", estimator, X[:1], "; pass a fitted regressor."
        )
        u = predict_uncertainty(estimator, X, ("data_variance", "total_variance"))
        mean = np.asarray(estimator.predict(X), dtype=np.float64)
        if mean.ndim != 1 and mean.shape[1:] != (1,):
            raise ValueError("RegressionBandsDisplay draws single-target regressors.")
        display = cls(
            x=X[:, 0],
            mean=mean.reshape(-1),
            data_std=np.sqrt(u.data_variance),
            total_std=np.sqrt(u.total_variance),
            n_std=n_std,
            name=name or type(final).__name__,
        )
        return display.plot(ax=ax, X_train=X_train, y_train=y_train)

    def plot(
        self,
        *,
        ax: Any = None,
        X_train: ArrayLike | None = None,
        y_train: ArrayLike | None = None,
    ) -> RegressionBandsDisplay:
        """Draw the mean and the two bands.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; ``None`` makes a new figure.
        X_train : array-like of shape (n_train, 1), default=None
            Training inputs, drawn as points.
        y_train : array-like of shape (n_train,), default=None
            Training targets.

        Returns
        -------
        display : RegressionBandsDisplay
            ``self``, with ``ax_``, ``figure_`` and ``line_`` set.
        """
        fig, axes, _ = panel_axes(ax, 1, type(self).__name__, figsize=(6.0, 3.5))
        ax = axes[0]
        k = float(self.n_std)
        label = f"{self.name}: " if self.name else ""
        ax.fill_between(
            self.x,
            self.mean - k * self.total_std,
            self.mean + k * self.total_std,
            color="tab:orange",
            alpha=0.3,
            label=f"{label}±{k:g} std, total (data + knowledge)",
        )
        ax.fill_between(
            self.x,
            self.mean - k * self.data_std,
            self.mean + k * self.data_std,
            color="tab:blue",
            alpha=0.35,
            label=f"{label}±{k:g} std, data",
        )
        if X_train is not None and y_train is not None:
            ax.scatter(
                np.asarray(X_train).reshape(-1),
                np.asarray(y_train).reshape(-1),
                s=4,
                color="0.3",
                label="training data",
            )
        (self.line_,) = ax.plot(self.x, self.mean, color="black", label="mean")
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.legend(fontsize=8, loc="upper left")
        self.ax_, self.figure_ = ax, fig
        return self


class RejectionCurveDisplay:
    """Retained RMSE as the most uncertain predictions are rejected, per measure.

    Each curve is :func:`skend2.metrics.rejection_curve` of one measure; the
    oracle (largest errors rejected first) and random references are drawn
    with it, and the legend gives each :func:`skend2.metrics.rejection_auc`.

    Parameters
    ----------
    rejected : ndarray of shape (n_samples,)
        Fractions rejected.
    curves : dict of str to ndarray
        Retained RMSE of each measure.
    oracle : ndarray of shape (n_samples,)
        The oracle's curve.
    random : ndarray of shape (n_samples,)
        Random rejection's curve.
    aucs : dict of str to float
        :func:`~skend2.metrics.rejection_auc` of each measure.

    Attributes
    ----------
    ax_ : matplotlib Axes
        The axes.
    figure_ : matplotlib Figure
        The figure.
    lines_ : dict of str to matplotlib Line2D
        The curve of each measure.

    See Also
    --------
    skend2.metrics.rejection_curve : One curve.

    References
    ----------
    .. [1] A. Malinin, S. Chervontsev, I. Provilkov and M. Gales, "Regression
       Prior Networks", arXiv:2006.11590, 2020.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skend2.plotting import RejectionCurveDisplay
    >>> rng = np.random.default_rng(0)
    >>> std = rng.uniform(0.1, 2.0, 300)
    >>> y = rng.normal(0, std)
    >>> disp = RejectionCurveDisplay.from_predictions(
    ...     y, np.zeros_like(y), {"std": std, "noise": rng.uniform(size=300)})
    >>> disp.aucs["std"] < disp.aucs["noise"]
    True
    >>> matplotlib.pyplot.close(disp.figure_)
    """

    def __init__(
        self,
        *,
        rejected: np.ndarray,
        curves: Mapping[str, np.ndarray],
        oracle: np.ndarray,
        random: np.ndarray,
        aucs: Mapping[str, float],
    ) -> None:
        self.rejected = rejected
        self.curves = curves
        self.oracle = oracle
        self.random = random
        self.aucs = aucs

    @classmethod
    def from_predictions(
        cls,
        y_true: ArrayLike,
        y_pred: ArrayLike,
        uncertainties: Mapping[str, ArrayLike],
        *,
        ax: Any = None,
    ) -> RejectionCurveDisplay:
        """Rejection curves from predictions and uncertainty scores.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        y_pred : array-like of the same shape
            Predictions.
        uncertainties : dict of str to array-like of shape (n_samples,)
            Each measure's uncertainty of every prediction.
        ax : matplotlib Axes, default=None
            Where to draw; ``None`` makes a new figure.

        Returns
        -------
        display : RejectionCurveDisplay
            The drawn display.
        """
        if not uncertainties:
            raise ValueError("uncertainties must hold at least one measure.")
        curves, aucs, curve = {}, {}, None
        for name, values in uncertainties.items():
            curve = rejection_curve(y_true, y_pred, values)
            curves[name] = curve.rmse
            aucs[name] = rejection_auc(y_true, y_pred, values)
        display = cls(
            rejected=curve.rejected,
            curves=curves,
            oracle=curve.oracle,
            random=curve.random,
            aucs=aucs,
        )
        return display.plot(ax=ax)

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        y: ArrayLike,
        *,
        measures: str | Sequence[str] = ("total_variance", "knowledge"),
        ax: Any = None,
    ) -> RejectionCurveDisplay:
        """Rejection curves of a fitted skend2 regressor's measures on X, y.

        Parameters
        ----------
        estimator : fitted skend2 regressor or Pipeline ending in one
            Gives ``predict`` and ``predict_uncertainty``.
        X : array-like of shape (n_samples, n_features)
            Test inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Their targets.
        measures : str or sequence of str, default=("total_variance", "knowledge")
            The measures to draw.
        ax : matplotlib Axes, default=None
            Where to draw; ``None`` makes a new figure.

        Returns
        -------
        display : RejectionCurveDisplay
            The drawn display.
        """
        measures = check_measures(measures)
        u = predict_uncertainty(estimator, X, measures)
        y_pred = estimator.predict(X)
        return cls.from_predictions(y, y_pred, {m: u[m] for m in measures}, ax=ax)

    def plot(self, *, ax: Any = None) -> RejectionCurveDisplay:
        """Draw the curves with the oracle and random references.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Where to draw; ``None`` makes a new figure.

        Returns
        -------
        display : RejectionCurveDisplay
            ``self``, with ``ax_``, ``figure_`` and ``lines_`` set.
        """
        fig, axes, _ = panel_axes(ax, 1, type(self).__name__, figsize=(5.0, 3.5))
        ax = axes[0]
        self.lines_ = {}
        for name, rmse in self.curves.items():
            (self.lines_[name],) = ax.plot(
                self.rejected, rmse, label=f"{name} (AUC {self.aucs[name]:.3f})"
            )
        ax.plot(self.rejected, self.oracle, "k--", lw=1, label="oracle")
        ax.plot(self.rejected, self.random, "k:", lw=1, label="random")
        ax.set_xlabel("fraction rejected")
        ax.set_ylabel("RMSE of retained")
        ax.legend(fontsize=8)
        self.ax_, self.figure_ = ax, fig
        return self
