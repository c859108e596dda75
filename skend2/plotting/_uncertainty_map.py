"""Uncertainty maps over a 2-D input space: :class:`UncertaintyMapDisplay`.

It owns the grid around the data and the uncertainty predicted on it, the
filled contours of each measure with their colour scales and bars, and the
training points scattered on top, coloured by class.
:func:`~skend2.plotting.plot_uncertainty_maps` stacks these maps for several
estimators.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._measures import final_estimator, measure_title, measure_unit
from ._base import (
    add_colorbar,
    check_measures,
    check_resolution,
    colorbar_extend,
    nondegenerate,
    panel_axes,
    predict_uncertainty,
    pyplot,
)

__all__ = ["UncertaintyMapDisplay"]

# Colours of the training points on the maps, with the edge colour of each: the
# first three differ in lightness (white, black, magenta), so they stay apart
# under any colour-vision deficiency, and none of them occurs in viridis. A thin
# black edge keeps white points visible on yellow; black points get none, as a
# white edge on a marker this small turns them into grey specks like the white
# ones. Okabe–Ito orange and sky blue follow; tab10 beyond five classes.
_CLASS_COLOURS = ("#ffffff", "#000000", "#ff00ff", "#e69f00", "#56b4e9")
_CLASS_EDGES = ("#000000", "face", "face", "#000000", "#000000")


def _per_measure(value: Any, measure: str) -> Any:
    return value.get(measure) if isinstance(value, Mapping) else value


def _levels(levels: Any, lo: float, hi: float) -> np.ndarray:
    if np.ndim(levels) == 0:
        n_levels = int(levels)
        if n_levels < 1:
            raise ValueError(f"levels must be a positive int, got {levels!r}.")
        return np.linspace(lo, hi, n_levels + 1)
    levels = np.asarray(levels, dtype=np.float64)
    if levels.ndim != 1 or levels.shape[0] < 2 or np.any(np.diff(levels) <= 0):
        raise ValueError(
            "levels must be an int or an increasing 1-D array of at least 2 values."
        )
    return levels


def _class_colours(n_classes: int, plt: Any) -> list[tuple[Any, Any]]:
    """Face and edge colour of the points of each class."""
    if n_classes <= len(_CLASS_COLOURS):
        return list(zip(_CLASS_COLOURS[:n_classes], _CLASS_EDGES[:n_classes]))
    cmap = plt.get_cmap("tab10" if n_classes <= 10 else "tab20")
    return [(cmap(i % cmap.N), "black") for i in range(n_classes)]


def _feature_names(X: Any, estimator: Any = None) -> list[str] | None:
    columns = getattr(X, "columns", None)
    if columns is not None:
        return [str(c) for c in columns]
    names = getattr(estimator, "feature_names_in_", None)
    return None if names is None else [str(c) for c in names]


class UncertaintyMapDisplay:
    """Uncertainty maps over a 2-D input space, one panel per measure.

    Total, data and knowledge uncertainty as filled contours over a grid, with the
    training points on top, as in the EnD² paper's spiral figure [1]_. Build it
    with :meth:`from_estimator`; or pass computed arrays to the constructor and
    call :meth:`plot`.

    Parameters
    ----------
    xx : ndarray of shape (grid_resolution, grid_resolution)
        First coordinate of the grid (as from :func:`numpy.meshgrid`).
    yy : ndarray of shape (grid_resolution, grid_resolution)
        Second coordinate of the grid.
    uncertainties : dict of str to ndarray of shape (grid_resolution, grid_resolution)
        Uncertainty of each measure at each grid point, in nats (the precision
        α₀ of a Prior Network has no unit).
    X : ndarray of shape (n_samples, 2), default=None
        Points to scatter on the maps (the training data).
    y : ndarray of shape (n_samples,), default=None
        Their classes, for the colours of the points.
    xlabel, ylabel : str, default="x₁", "x₂"
        Axis labels.
    name : str, default=None
        Name of the estimator (a row label in :func:`plot_uncertainty_maps`).

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        One Axes per measure.
    figure_ : matplotlib Figure
        Figure holding the axes.
    contours_ : dict of str to matplotlib QuadContourSet
        The filled contours of each measure.
    colorbars_ : dict of str to matplotlib Colorbar
        The colour bar of each measure (the same object for every measure when
        the colour bar is shared); empty with ``colorbar=False``.
    scatters_ : list of list of matplotlib PathCollection
        Per Axes, the scattered points of each class.

    See Also
    --------
    plot_uncertainty_maps : Compare several estimators on a common colour scale.
    sklearn.inspection.DecisionBoundaryDisplay : The decision regions of a classifier.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076, Figure 1.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skend2.plotting import UncertaintyMapDisplay
    >>> xx, yy = np.meshgrid(np.linspace(-1, 1, 30), np.linspace(-1, 1, 30))
    >>> total = np.log(3) * np.exp(-(xx**2 + yy**2))
    >>> disp = UncertaintyMapDisplay(
    ...     xx=xx, yy=yy, uncertainties={"total": total, "knowledge": 0.2 * total}
    ... ).plot()
    >>> [ax.get_title() for ax in disp.axes_]
    ['Total uncertainty', 'Knowledge uncertainty']
    >>> matplotlib.pyplot.close(disp.figure_)
    """

    def __init__(
        self,
        *,
        xx: np.ndarray,
        yy: np.ndarray,
        uncertainties: Mapping[str, np.ndarray],
        X: np.ndarray | None = None,
        y: np.ndarray | None = None,
        xlabel: str = "x₁",
        ylabel: str = "x₂",
        name: str | None = None,
    ) -> None:
        self.xx = xx
        self.yy = yy
        self.uncertainties = uncertainties
        self.X = X
        self.y = y
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.name = name

    # -- construction --------------------------------------------------------
    @classmethod
    def _compute(
        cls,
        estimator,
        X,
        y=None,
        *,
        measures=("total", "data", "knowledge"),
        grid_resolution=200,
        eps=0.1,
        xlabel=None,
        ylabel=None,
        name=None,
    ) -> UncertaintyMapDisplay:
        """The display with its data computed, not yet plotted."""
        measures = check_measures(measures)
        grid_resolution = check_resolution(grid_resolution, "grid_resolution")
        if not np.isfinite(eps) or eps < 0:
            raise ValueError(f"eps must be a non-negative fraction, got {eps!r}.")

        names = _feature_names(X, estimator)
        X_arr = np.asarray(X, dtype=np.float64)
        if X_arr.ndim != 2 or X_arr.shape[1] != 2:
            raise ValueError(
                "Uncertainty maps need 2-D inputs: X must have shape (n_samples, 2), "
                f"got {X_arr.shape}."
            )
        if X_arr.shape[0] == 0:
            raise ValueError("X is empty.")
        if not np.all(np.isfinite(X_arr)):
            raise ValueError("X contains NaN or infinite values.")
        y_arr = None
        if y is not None:
            y_arr = np.asarray(y)
            if y_arr.shape != (X_arr.shape[0],):
                raise ValueError(
                    f"y must have shape ({X_arr.shape[0]},) to match X, "
                    f"got {y_arr.shape}."
                )

        lo, hi = X_arr.min(axis=0), X_arr.max(axis=0)
        margin = eps * np.where(hi > lo, hi - lo, 1.0)
        xx, yy = np.meshgrid(
            np.linspace(lo[0] - margin[0], hi[0] + margin[0], grid_resolution),
            np.linspace(lo[1] - margin[1], hi[1] + margin[1], grid_resolution),
        )
        grid = np.column_stack([xx.ravel(), yy.ravel()])
        fitted_names = getattr(estimator, "feature_names_in_", None)
        if fitted_names is not None:
            # Keep the feature names the estimator was fitted with, so that it does
            # not warn about a nameless array.
            import pandas as pd

            grid = pd.DataFrame(grid, columns=list(fitted_names))
        bunch = predict_uncertainty(estimator, grid, measures)
        uncertainties = {
            m: np.asarray(bunch[m], dtype=np.float64).reshape(xx.shape)
            for m in measures
        }
        if name is None:
            name = type(final_estimator(estimator)).__name__
        return cls(
            xx=xx,
            yy=yy,
            uncertainties=uncertainties,
            X=X_arr,
            y=y_arr,
            xlabel=xlabel if xlabel is not None else (names or ["x₁", "x₂"])[0],
            ylabel=ylabel if ylabel is not None else (names or ["x₁", "x₂"])[1],
            name=name,
        )

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        y: ArrayLike | None = None,
        *,
        measures: str | Sequence[str] = ("total", "data", "knowledge"),
        grid_resolution: int = 200,
        eps: float = 0.1,
        ax: Any = None,
        cmap: str = "viridis",
        levels: Any = 20,
        vmin: float | Mapping[str, float] | None = None,
        vmax: float | Mapping[str, float] | None = None,
        shared_colorbar: bool = False,
        title: str | None = None,
        xlabel: str | None = None,
        ylabel: str | None = None,
        name: str | None = None,
        plot_points: bool = True,
    ) -> UncertaintyMapDisplay:
        """Compute the uncertainty of a fitted estimator over a grid and plot it.

        Parameters
        ----------
        estimator : fitted skend2 estimator or Pipeline ending in one
            Anything with ``predict_uncertainty`` (a Pipeline's transformers are
            applied to the grid first).
        X : array-like of shape (n_samples, 2)
            Inputs that set the extent of the grid and are scattered on the maps.
            A DataFrame's column names become the axis labels.
        y : array-like of shape (n_samples,), default=None
            Classes of ``X``, for the colours of the points.
        measures : str or sequence of str, default=("total", "data", "knowledge")
            Measures of ``predict_uncertainty`` to map, one panel each.
        grid_resolution : int, default=200
            Number of grid points along each axis.
        eps : float, default=0.1
            Margin around the data, as a fraction of its range on each axis.
        ax : array-like of matplotlib Axes, default=None
            One Axes per measure; None makes a new figure with a row of panels.
        cmap : str or Colormap, default="viridis"
            Colour map of the contours.
        levels : int, array-like or dict, default=20
            Number of colour bands between ``vmin`` and ``vmax``, or their
            boundaries; a dict gives it per measure.
        vmin, vmax : float or dict of str to float, default=None
            Ends of the colour scale (per measure with a dict); None uses the range
            of the data. Fix them to compare the maps of several estimators.
        shared_colorbar : bool, default=False
            Whether all panels share one colour scale and one colour bar
            (total, data and knowledge uncertainty are all in nats).
        title : str, default=None
            Title of the figure.
        xlabel, ylabel : str, default=None
            Axis labels; None uses the feature names, else "x₁" and "x₂".
        name : str, default=None
            Name of the estimator; None uses its class name.
        plot_points : bool, default=True
            Whether to scatter ``X`` on the maps.

        Returns
        -------
        display : UncertaintyMapDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.pipeline import make_pipeline
        >>> from sklearn.preprocessing import StandardScaler
        >>> from skend2 import DeepEnsembleClassifier
        >>> from skend2.datasets import make_spirals
        >>> from skend2.plotting import UncertaintyMapDisplay
        >>> X, y = make_spirals(150, random_state=0)
        >>> model = make_pipeline(
        ...     StandardScaler(),
        ...     DeepEnsembleClassifier(n_members=2, max_epochs=5, random_state=0),
        ... ).fit(X, y)
        >>> disp = UncertaintyMapDisplay.from_estimator(
        ...     model, X, y, grid_resolution=30
        ... )
        >>> disp.uncertainties["knowledge"].shape
        (30, 30)
        >>> len(disp.axes_)
        3
        >>> matplotlib.pyplot.close(disp.figure_)
        """
        pyplot(f"{cls.__name__}.from_estimator")
        display = cls._compute(
            estimator,
            X,
            y,
            measures=measures,
            grid_resolution=grid_resolution,
            eps=eps,
            xlabel=xlabel,
            ylabel=ylabel,
            name=name,
        )
        return display.plot(
            ax=ax,
            cmap=cmap,
            levels=levels,
            vmin=vmin,
            vmax=vmax,
            shared_colorbar=shared_colorbar,
            title=title,
            plot_points=plot_points,
        )

    # -- drawing --------------------------------------------------------------
    def plot(
        self,
        ax: Any = None,
        *,
        measures: str | Sequence[str] | None = None,
        cmap: str = "viridis",
        levels: Any = 20,
        vmin: float | Mapping[str, float] | None = None,
        vmax: float | Mapping[str, float] | None = None,
        shared_colorbar: bool = False,
        colorbar: bool = True,
        title: str | None = None,
        plot_points: bool = True,
        scatter_kw: dict | None = None,
        contour_kw: dict | None = None,
    ) -> UncertaintyMapDisplay:
        """Draw the maps.

        Parameters
        ----------
        ax : array-like of matplotlib Axes, default=None
            One Axes per measure; None makes a new figure.
        measures : str or sequence of str, default=None
            Which of ``uncertainties`` to draw; None draws them all.
        cmap : str or Colormap, default="viridis"
            Colour map.
        levels : int, array-like or dict, default=20
            Number of colour bands, or their boundaries (per measure with a dict).
        vmin, vmax : float or dict of str to float, default=None
            Ends of the colour scale (per measure with a dict); None uses the
            data's range. Values beyond them get the end colours, and the colour
            bar shows an arrow.
        shared_colorbar : bool, default=False
            One colour scale and one colour bar for all panels.
        colorbar : bool, default=True
            Whether to draw colour bars.
        title : str, default=None
            Title of the figure.
        plot_points : bool, default=True
            Whether to scatter ``X`` (if the display has it).
        scatter_kw : dict, default=None
            Keyword arguments for :meth:`matplotlib.axes.Axes.scatter`.
        contour_kw : dict, default=None
            Keyword arguments for :meth:`matplotlib.axes.Axes.contourf`.

        Returns
        -------
        display : UncertaintyMapDisplay
            ``self``, with ``figure_``, ``axes_``, ``contours_``, ``colorbars_``
            and ``scatters_`` set.
        """
        plt = pyplot(f"{type(self).__name__}.plot")
        measures = (
            tuple(self.uncertainties) if measures is None else check_measures(measures)
        )
        missing = [m for m in measures if m not in self.uncertainties]
        if missing:
            raise ValueError(
                f"No uncertainty map for {missing}; the display has "
                f"{list(self.uncertainties)}."
            )
        n = len(measures)
        fig, axes, _ = panel_axes(
            ax, n, type(self).__name__, figsize=(3.9 * n + 0.6 * shared_colorbar, 3.6)
        )

        ranges = {}
        for m in measures:
            data = self.uncertainties[m]
            lo, hi = _per_measure(vmin, m), _per_measure(vmax, m)
            ranges[m] = (
                float(np.min(data)) if lo is None else float(lo),
                float(np.max(data)) if hi is None else float(hi),
            )
        if shared_colorbar:
            lo = min(r[0] for r in ranges.values())
            hi = max(r[1] for r in ranges.values())
            ranges = dict.fromkeys(measures, (lo, hi))
            all_data = np.concatenate([self.uncertainties[m].ravel() for m in measures])

        contour_kw = {} if contour_kw is None else dict(contour_kw)
        self.contours_, self.colorbars_, self.scatters_ = {}, {}, []
        for a, m in zip(axes, measures):
            data = np.asarray(self.uncertainties[m])
            lo, hi = nondegenerate(*ranges[m])
            self.contours_[m] = a.contourf(
                self.xx,
                self.yy,
                data,
                levels=_levels(_per_measure(levels, m), lo, hi),
                cmap=cmap,
                extend=colorbar_extend(all_data if shared_colorbar else data, lo, hi),
                **contour_kw,
            )
            a.set_title(measure_title(m), fontsize=11)
            a.set_xlabel(self.xlabel, fontsize=10)
            a.set_ylabel(self.ylabel, fontsize=10)
            a.tick_params(labelsize=8)
            self.scatters_.append(
                self._scatter(a, plt, scatter_kw) if plot_points else []
            )
            if colorbar and not shared_colorbar:
                self.colorbars_[m] = add_colorbar(
                    fig, self.contours_[m], measure_unit(m), ax=a, shrink=0.9
                )
        if colorbar and shared_colorbar:
            units = {measure_unit(m) for m in measures}
            cbar = add_colorbar(
                fig,
                self.contours_[measures[0]],
                units.pop() if len(units) == 1 else "",
                ax=list(axes),
                shrink=0.9,
            )
            self.colorbars_ = dict.fromkeys(measures, cbar)
        if title is not None:
            fig.suptitle(title, fontsize=13)
        self.figure_, self.axes_ = fig, np.asarray(axes, dtype=object)
        return self

    def _scatter(self, ax: Any, plt: Any, scatter_kw: dict | None) -> list:
        if self.X is None:
            return []
        X = np.asarray(self.X)
        # Smaller markers for more points, so that the map stays visible.
        size = float(np.clip(5000.0 / max(len(X), 1), 3.5, 9.0))
        kw = {"s": size, "linewidths": 0.2, "alpha": 0.9}
        kw.update(scatter_kw or {})
        if self.y is None:
            if "c" not in kw and "color" not in kw:
                kw["c"] = "white"
            kw.setdefault("edgecolors", "black")
            return [ax.scatter(X[:, 0], X[:, 1], **kw)]
        classes = np.unique(self.y)
        colours = _class_colours(len(classes), plt)
        return [
            ax.scatter(
                X[self.y == c, 0],
                X[self.y == c, 1],
                **{"color": face, "edgecolors": edge, "label": f"class {c}", **kw},
            )
            for c, (face, edge) in zip(classes, colours)
        ]
