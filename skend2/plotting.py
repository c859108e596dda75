"""Displays for ensemble and EnD² uncertainty: maps, Dirichlet simplices, OOD ROC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import dirichlet
from sklearn.metrics import RocCurveDisplay, roc_curve
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch

from .metrics import ood_detection_auroc

__all__ = [
    "DirichletSimplexDisplay",
    "OODDetectionDisplay",
    "UncertaintyMapDisplay",
    "plot_uncertainty_maps",
]

_MEASURE_TITLES = {
    "total": "Total uncertainty",
    "data": "Data uncertainty",
    "knowledge": "Knowledge uncertainty",
    "epkl": "Expected pairwise KL",
    "mkl": "Reverse mutual information",
    "differential_entropy": "Differential entropy",
    "precision": "Precision α₀",
}

# Measures for which a larger value means a *more* confident model; they are
# negated before OOD detection so that "higher = more likely OOD" holds for all.
_CONFIDENCE_MEASURES = ("precision",)

# Colours of the training points on the maps, with the edge colour of each: the
# first three differ in lightness (white, black, magenta), so they stay apart
# under any colour-vision deficiency, and none of them occurs in viridis. A thin
# black edge keeps white points visible on yellow; black points get none, as a
# white edge on a marker this small turns them into grey specks like the white
# ones. Okabe–Ito orange and sky blue follow; tab10 beyond five classes.
_CLASS_COLOURS = ("#ffffff", "#000000", "#ff00ff", "#e69f00", "#56b4e9")
_CLASS_EDGES = ("#000000", "face", "face", "#000000", "#000000")

_SQRT3_2 = np.sqrt(3.0) / 2.0
# Corners of the probability simplex in the plane: class 0 bottom left, class 1
# bottom right, class 2 on top.
_SIMPLEX_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, _SQRT3_2]])
# Corner labels of the simplex: font size, and gap above the top corner (points).
_CORNER_LABEL_SIZE = 10
_CORNER_LABEL_OFFSET = 4


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _pyplot(caller: str):
    """Import ``matplotlib.pyplot`` lazily, so skend2 imports without matplotlib."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install it "
            "with `pip install skend2[plot]`."
        ) from exc
    return plt


def _final_step(estimator: Any, X: Any) -> tuple[Any, Any]:
    """Unwrap (nested) Pipelines: the final estimator and ``X`` transformed for it."""
    while isinstance(estimator, Pipeline):
        if len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    return estimator, X


def _final_estimator(estimator: Any) -> Any:
    while isinstance(estimator, Pipeline):
        estimator = estimator[-1]
    return estimator


def _predict_uncertainty(estimator: Any, X: Any) -> Bunch:
    """``predict_uncertainty(X)`` of an skend2 estimator or a Pipeline ending in one.

    A Pipeline does not expose ``predict_uncertainty``, so ``X`` goes through the
    transformers (``pipeline[:-1].transform``) and then to the last step.
    """
    final, Xt = _final_step(estimator, X)
    if not hasattr(final, "predict_uncertainty"):
        raise TypeError(
            f"{type(final).__name__} has no predict_uncertainty method; pass a "
            "fitted skend2 estimator (DeepEnsembleClassifier, EnsembleDistiller, "
            "PriorNetworkDistiller) or a Pipeline ending in one."
        )
    return Bunch(**final.predict_uncertainty(Xt))


def _check_measures(measures: str | Sequence[str]) -> tuple[str, ...]:
    if isinstance(measures, str):
        measures = (measures,)
    measures = tuple(measures)
    if not measures:
        raise ValueError("measures must name at least one uncertainty measure.")
    for m in measures:
        if not isinstance(m, str):
            raise TypeError(f"measures must be strings, got {m!r}.")
    return measures


def _check_axes(ax: Any, n: int, name: str) -> np.ndarray | None:
    """``ax`` as a flat object array of ``n`` Axes, or None."""
    if ax is None:
        return None
    axes = np.asarray(ax, dtype=object).ravel()
    if axes.shape[0] != n:
        raise ValueError(f"{name} needs {n} axes (one per panel), got {axes.shape[0]}.")
    return axes


def _per_measure(value: Any, measure: str) -> Any:
    return value.get(measure) if isinstance(value, Mapping) else value


def _extend(data: np.ndarray, lo: float, hi: float) -> str:
    """Colour-bar extension showing that some values lie outside [lo, hi]."""
    below, above = bool(np.min(data) < lo), bool(np.max(data) > hi)
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (below, above), "both"
    )


def _nondegenerate(
    lo: float, hi: float, pad: float | None = None
) -> tuple[float, float]:
    """Widen a zero-width colour range (e.g. EnD's knowledge uncertainty, all 0)."""
    if hi > lo:
        return lo, hi
    if pad is None:
        pad = max(abs(lo), 1.0) * 1e-3
        return (lo - pad if lo != 0 else lo), hi + pad
    return lo - pad, hi + pad


def _colorbar_ticks(contours: Any) -> np.ndarray:
    """At most 6 round ticks inside the levels of a contour set.

    A contour colour bar otherwise labels every other band with long decimals,
    and a locator alone also puts ticks on the extension arrows.
    """
    from matplotlib.ticker import MaxNLocator

    lo, hi = float(contours.levels[0]), float(contours.levels[-1])
    ticks = MaxNLocator(nbins=6).tick_values(lo, hi)
    tol = 1e-9 * (hi - lo)
    return ticks[(ticks >= lo - tol) & (ticks <= hi + tol)]


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


# ---------------------------------------------------------------------------
# Uncertainty maps
# ---------------------------------------------------------------------------


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
        estimator: Any,
        X: ArrayLike,
        y: ArrayLike | None = None,
        *,
        measures: str | Sequence[str] = ("total", "data", "knowledge"),
        grid_resolution: int = 200,
        eps: float = 0.1,
        xlabel: str | None = None,
        ylabel: str | None = None,
        name: str | None = None,
    ) -> UncertaintyMapDisplay:
        """The display with its data computed, not yet plotted."""
        measures = _check_measures(measures)
        if isinstance(grid_resolution, bool) or not isinstance(
            grid_resolution, int | np.integer
        ):
            raise TypeError(
                f"grid_resolution must be an int, got {type(grid_resolution).__name__}."
            )
        if grid_resolution < 2:
            raise ValueError(
                f"grid_resolution must be at least 2, got {grid_resolution}."
            )
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
        bunch = _predict_uncertainty(estimator, grid)
        missing = [m for m in measures if m not in bunch]
        if missing:
            raise ValueError(
                f"Unknown uncertainty measure(s) {missing}; the estimator returns "
                f"{list(bunch)}."
            )
        uncertainties = {
            m: np.asarray(bunch[m], dtype=np.float64).reshape(xx.shape)
            for m in measures
        }
        if name is None:
            name = type(_final_estimator(estimator)).__name__
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
        _pyplot(f"{cls.__name__}.from_estimator")
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
        plt = _pyplot(f"{type(self).__name__}.plot")
        measures = (
            tuple(self.uncertainties) if measures is None else _check_measures(measures)
        )
        missing = [m for m in measures if m not in self.uncertainties]
        if missing:
            raise ValueError(
                f"No uncertainty map for {missing}; the display has "
                f"{list(self.uncertainties)}."
            )
        axes = _check_axes(ax, len(measures), type(self).__name__)
        if axes is None:
            n = len(measures)
            fig, axes = plt.subplots(
                1,
                n,
                figsize=(3.9 * n + 0.6 * shared_colorbar, 3.6),
                layout="constrained",
                squeeze=False,
            )
            axes = axes.ravel()
        fig = axes[0].figure

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
            lo, hi = _nondegenerate(*ranges[m])
            extend = _extend(all_data if shared_colorbar else data, lo, hi)
            self.contours_[m] = a.contourf(
                self.xx,
                self.yy,
                data,
                levels=_levels(_per_measure(levels, m), lo, hi),
                cmap=cmap,
                extend=extend,
                **contour_kw,
            )
            a.set_title(_MEASURE_TITLES.get(m, m), fontsize=11)
            a.set_xlabel(self.xlabel, fontsize=10)
            a.set_ylabel(self.ylabel, fontsize=10)
            a.tick_params(labelsize=8)
            self.scatters_.append(
                self._scatter(a, plt, scatter_kw) if plot_points else []
            )
            if colorbar and not shared_colorbar:
                cbar = fig.colorbar(
                    self.contours_[m],
                    ax=a,
                    shrink=0.9,
                    ticks=_colorbar_ticks(self.contours_[m]),
                )
                cbar.set_label(_unit(m), fontsize=9)
                cbar.ax.tick_params(labelsize=8)
                self.colorbars_[m] = cbar
        if colorbar and shared_colorbar:
            cbar = fig.colorbar(
                self.contours_[measures[0]],
                ax=list(axes),
                shrink=0.9,
                ticks=_colorbar_ticks(self.contours_[measures[0]]),
            )
            units = {_unit(m) for m in measures}
            cbar.set_label(units.pop() if len(units) == 1 else "", fontsize=9)
            cbar.ax.tick_params(labelsize=8)
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


def _unit(measure: str) -> str:
    return "α₀" if measure == "precision" else "nats"


def plot_uncertainty_maps(
    estimators: Mapping[str, Any],
    X: ArrayLike,
    y: ArrayLike | None = None,
    *,
    measures: str | Sequence[str] = ("total", "data", "knowledge"),
    grid_resolution: int = 200,
    eps: float = 0.1,
    cmap: str = "viridis",
    levels: Any = 20,
    vmin: float | Mapping[str, float] | None = None,
    vmax: float | Mapping[str, float] | None = None,
    title: str | None = None,
    figsize: tuple[float, float] | None = None,
    plot_points: bool = True,
):
    """Uncertainty maps of several estimators, one row each, on common colour scales.

    Each column is one measure and has one colour scale (the range over all rows,
    unless ``vmin``/``vmax`` fix it) and one colour bar, so the maps of an
    ensemble and of its EnD² student can be compared directly, as in Figure 1
    of [1]_.

    Parameters
    ----------
    estimators : dict of str to fitted estimator
        Row label → fitted skend2 estimator (or Pipeline ending in one), e.g.
        ``{"Ensemble": ens, "EnD²": student}``.
    X : array-like of shape (n_samples, 2)
        Inputs setting the grid's extent, scattered on every map.
    y : array-like of shape (n_samples,), default=None
        Classes of ``X``, for the colours of the points.
    measures : str or sequence of str, default=("total", "data", "knowledge")
        One column per measure; every estimator must return them all.
    grid_resolution : int, default=200
        Grid points along each axis.
    eps : float, default=0.1
        Margin around the data, as a fraction of its range.
    cmap : str or Colormap, default="viridis"
        Colour map.
    levels : int, array-like or dict, default=20
        Number of colour bands per column, or their boundaries.
    vmin, vmax : float or dict of str to float, default=None
        Ends of the colour scale of each column; None takes the range over the
        rows.
    title : str, default=None
        Title of the figure.
    figsize : (float, float), default=None
        Figure size in inches; None scales it to the grid.
    plot_points : bool, default=True
        Whether to scatter ``X`` on the maps.

    Returns
    -------
    figure : matplotlib Figure
        The figure; ``figure.axes`` holds the maps row by row, then the colour bars.

    See Also
    --------
    UncertaintyMapDisplay : The maps of one estimator.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.frozen import FrozenEstimator
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
    >>> from skend2.datasets import make_spirals
    >>> from skend2.plotting import plot_uncertainty_maps
    >>> X, y = make_spirals(150, random_state=0)
    >>> X = StandardScaler().fit_transform(X)
    >>> ens = DeepEnsembleClassifier(n_members=2, max_epochs=5, random_state=0)
    >>> ens = ens.fit(X, y)
    >>> pnd = PriorNetworkDistiller(
    ...     teacher=FrozenEstimator(ens), max_epochs=5, random_state=0
    ... ).fit(X, y)
    >>> fig = plot_uncertainty_maps(
    ...     {"Ensemble": ens, "EnD²": pnd}, X, y, grid_resolution=30
    ... )
    >>> len(fig.axes)  # 2 rows x 3 maps + 3 colour bars
    9
    >>> matplotlib.pyplot.close(fig)
    """
    plt = _pyplot("plot_uncertainty_maps")
    if not isinstance(estimators, Mapping) or not estimators:
        raise TypeError(
            "estimators must be a non-empty dict of row label to fitted estimator, "
            f"got {type(estimators).__name__}."
        )
    measures = _check_measures(measures)
    displays = [
        UncertaintyMapDisplay._compute(
            est,
            X,
            y,
            measures=measures,
            grid_resolution=grid_resolution,
            eps=eps,
            name=str(label),
        )
        for label, est in estimators.items()
    ]
    lows, highs = {}, {}
    for m in measures:
        lo, hi = _per_measure(vmin, m), _per_measure(vmax, m)
        lows[m] = min(d.uncertainties[m].min() for d in displays) if lo is None else lo
        highs[m] = max(d.uncertainties[m].max() for d in displays) if hi is None else hi

    n_rows, n_cols = len(displays), len(measures)
    if figsize is None:
        figsize = (3.5 * n_cols + 0.5, 3.2 * n_rows + 0.9 + 0.4 * (title is not None))
    fig, axes = plt.subplots(
        n_rows,
        n_cols,
        figsize=figsize,
        layout="constrained",
        squeeze=False,
        sharex=True,
        sharey=True,
    )
    for i, display in enumerate(displays):
        display.plot(
            ax=axes[i],
            cmap=cmap,
            levels=levels,
            vmin=lows,
            vmax=highs,
            colorbar=False,
            plot_points=plot_points,
        )
        for j, a in enumerate(axes[i]):
            if i < n_rows - 1:
                a.set_xlabel("")
            if j > 0:
                a.set_ylabel("")
            if i > 0:
                a.set_title("")
        axes[i, 0].annotate(
            display.name,
            xy=(0, 0.5),
            xycoords=axes[i, 0].yaxis.label,
            xytext=(-6, 0),
            textcoords="offset points",
            ha="right",
            va="center",
            rotation=90,
            fontsize=13,
            fontweight="bold",
        )
    # Colour-bar thickness and gap in inches: constrained layout takes both as
    # fractions of the height of the column the bar hangs from, so fixed fractions
    # leave a gap growing with the number of rows and push the labels off the
    # bottom of the figure.
    column_height = max(figsize[1] - 1.0 - 0.4 * (title is not None), 1.0)
    for j, m in enumerate(measures):
        # The most extended contour set decides the arrows of the column's bar.
        contours = [d.contours_[m] for d in displays]
        order = ("neither", "min", "max", "both")
        mappable = max(contours, key=lambda c: order.index(c.extend))
        if {c.extend for c in contours} >= {"min", "max"}:
            mappable = contours[0]
            mappable.extend = "both"
        cbar = fig.colorbar(
            mappable,
            ax=axes[:, j],
            location="bottom",
            shrink=0.85,
            aspect=30,
            fraction=0.15 / column_height,
            pad=0.07 / column_height,
            ticks=_colorbar_ticks(mappable),
        )
        cbar.set_label(f"{_MEASURE_TITLES.get(m, m)} ({_unit(m)})", fontsize=9)
        cbar.ax.tick_params(labelsize=8)
    if title is not None:
        fig.suptitle(title, fontsize=14)
    return fig


# ---------------------------------------------------------------------------
# Dirichlet on the simplex
# ---------------------------------------------------------------------------


def _simplex_lattice(resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Barycentric points strictly inside the simplex and the triangles joining them.

    A regular lattice ``u = (i + 1/3, j + 1/3, k + 1/3) / (resolution + 1)``,
    ``i + j + k = resolution``, strictly inside the simplex (the density is finite
    at every point even when some αₖ < 1), warped to ``u² / Σ u²``: the points
    crowd towards the edges and corners, where the density of a confident Prior
    Network (large α₀, one dominant class) is a spike narrower than a regular
    grid's spacing.
    """
    n = resolution
    ij = [(i, j) for i in range(n + 1) for j in range(n + 1 - i)]
    index = {p: t for t, p in enumerate(ij)}
    counts = np.array([(i, j, n - i - j) for i, j in ij], dtype=np.float64)
    lattice = ((counts + 1.0 / 3.0) / (n + 1)) ** 2
    points = lattice / lattice.sum(axis=1, keepdims=True)
    triangles = [
        (index[(i, j)], index[(i + 1, j)], index[(i, j + 1)])
        for i, j in ij
        if i + j <= n - 1
    ] + [
        (index[(i + 1, j)], index[(i + 1, j + 1)], index[(i, j + 1)])
        for i, j in ij
        if i + j <= n - 2
    ]
    return points, np.asarray(triangles, dtype=np.int64)


def _point_areas(xy: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Area around each grid point: a third of each triangle it is a corner of."""
    a, b, c = (xy[triangles[:, k]] for k in range(3))
    area = 0.5 * np.abs(
        (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1])
        - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    )
    return np.bincount(triangles.ravel(), np.repeat(area / 3, 3), len(xy))


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    k = np.searchsorted(cumulative, q * cumulative[-1])
    return float(values[order][min(k, len(values) - 1)])


def _format_precision(alpha0: float) -> str:
    """α₀ for a title: 0.42, 45, 4739, 2.5·10¹⁵."""
    if alpha0 >= 1e5:
        exponent = int(np.floor(np.log10(alpha0)))
        superscript = str(exponent).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
        return f"{alpha0 / 10**exponent:.2g}·10{superscript}"
    if alpha0 >= 100:
        return f"{alpha0:.0f}"
    return f"{alpha0:.3g}"


def _to_cartesian(probabilities: np.ndarray) -> np.ndarray:
    return np.asarray(probabilities) @ _SIMPLEX_CORNERS


def _check_alphas(alphas: ArrayLike) -> np.ndarray:
    alphas = np.asarray(alphas, dtype=np.float64)
    if alphas.ndim == 1:
        alphas = alphas[np.newaxis]
    if alphas.ndim != 2:
        raise ValueError(f"alphas must have shape (n_inputs, 3), got {alphas.shape}.")
    if alphas.shape[1] != 3:
        raise ValueError(
            "The probability simplex can be drawn for 3 classes only; alphas has "
            f"K={alphas.shape[1]} classes."
        )
    if alphas.shape[0] == 0:
        raise ValueError("alphas is empty.")
    if not np.all(np.isfinite(alphas)) or np.any(alphas <= 0):
        raise ValueError("Dirichlet concentrations must be finite and positive.")
    return alphas


class DirichletSimplexDisplay:
    """Dirichlet densities of a Prior Network on the 3-class probability simplex.

    One triangle per input, corners labelled with the classes, coloured by the log
    density of Dir(π | α) and titled with the precision α₀; optionally with the
    ensemble members' predictions on top, as in the EnD² paper's figures of the
    Dirichlet against the members [1]_. An in-distribution input gives a sharp
    Dirichlet near one corner; an out-of-distribution input ideally a flat one
    (low α₀), spread like the disagreeing members.

    Parameters
    ----------
    alphas : ndarray of shape (n_inputs, 3)
        Concentrations α of each input.
    points : ndarray of shape (n_points, 3)
        Barycentric grid points inside the simplex.
    triangles : ndarray of shape (n_triangles, 3)
        Indices into ``points`` of the triangles of the grid.
    log_density : ndarray of shape (n_inputs, n_points)
        ``ln Dir(points | α)`` of each input.
    class_names : sequence of str, default=None
        Labels of the corners; None gives "class 0", "class 1", "class 2".
    labels : sequence of str, default=None
        Panel titles, one per input (α₀ is added below).
    member_proba : ndarray of shape (n_inputs, n_members, 3), default=None
        The ensemble members' probabilities, drawn as points.

    Attributes
    ----------
    axes_ : ndarray of matplotlib Axes
        One Axes per input.
    figure_ : matplotlib Figure
        Figure holding the axes.
    contours_ : list of matplotlib TriContourSet
        The filled density contours of each input.
    colorbars_ : list of matplotlib Colorbar
        Colour bar of each panel.
    mean_markers_ : list of matplotlib PathCollection
        The cross marking the mean α/α₀ in each panel.
    member_scatters_ : list of matplotlib PathCollection
        The members' points of each panel (empty without ``member_proba``).

    See Also
    --------
    skend2.PriorNetworkDistiller.predict_concentrations : Where α comes from.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skend2.plotting import DirichletSimplexDisplay
    >>> disp = DirichletSimplexDisplay.from_concentrations(
    ...     [[40.0, 3.0, 2.0], [0.9, 1.1, 1.0]],
    ...     labels=["in-distribution", "out-of-distribution"],
    ...     class_names=["cat", "dog", "bird"],
    ...     resolution=40,
    ... )
    >>> disp.log_density.shape
    (2, 861)
    >>> disp.axes_[0].get_title()
    'in-distribution\\nα₀ = 45'
    >>> matplotlib.pyplot.close(disp.figure_)
    """

    def __init__(
        self,
        *,
        alphas: np.ndarray,
        points: np.ndarray,
        triangles: np.ndarray,
        log_density: np.ndarray,
        class_names: Sequence[str] | None = None,
        labels: Sequence[str] | None = None,
        member_proba: np.ndarray | None = None,
    ) -> None:
        self.alphas = alphas
        self.points = points
        self.triangles = triangles
        self.log_density = log_density
        self.class_names = class_names
        self.labels = labels
        self.member_proba = member_proba

    @classmethod
    def _compute(
        cls,
        alphas: ArrayLike,
        *,
        labels: Sequence[str] | None = None,
        class_names: Sequence[Any] | None = None,
        member_proba: ArrayLike | None = None,
        resolution: int = 120,
    ) -> DirichletSimplexDisplay:
        alphas = _check_alphas(alphas)
        n_inputs = alphas.shape[0]
        if isinstance(resolution, bool) or not isinstance(resolution, int | np.integer):
            raise TypeError(
                f"resolution must be an int, got {type(resolution).__name__}."
            )
        if resolution < 2:
            raise ValueError(f"resolution must be at least 2, got {resolution}.")
        if labels is not None:
            labels = [str(s) for s in labels]
            if len(labels) != n_inputs:
                raise ValueError(
                    f"labels must have one title per input ({n_inputs}), "
                    f"got {len(labels)}."
                )
        if class_names is not None:
            class_names = [str(c) for c in class_names]
            if len(class_names) != 3:
                raise ValueError(
                    f"class_names must have 3 entries, got {len(class_names)}."
                )
        if member_proba is not None:
            member_proba = np.asarray(member_proba, dtype=np.float64)
            if member_proba.ndim == 2 and n_inputs == 1:
                member_proba = member_proba[np.newaxis]
            if member_proba.ndim != 3 or member_proba.shape[::2] != (n_inputs, 3):
                raise ValueError(
                    "member_proba must have shape (n_inputs, n_members, 3) = "
                    f"({n_inputs}, n_members, 3), got {member_proba.shape}."
                )
        points, triangles = _simplex_lattice(int(resolution))
        log_density = np.stack([dirichlet.logpdf(points.T, a) for a in alphas])
        return cls(
            alphas=alphas,
            points=points,
            triangles=triangles,
            log_density=log_density,
            class_names=class_names,
            labels=labels,
            member_proba=member_proba,
        )

    @classmethod
    def from_concentrations(
        cls,
        alphas: ArrayLike,
        *,
        labels: Sequence[str] | None = None,
        class_names: Sequence[Any] | None = None,
        member_proba: ArrayLike | None = None,
        resolution: int = 120,
        ax: Any = None,
        cmap: str = "viridis",
        dynamic_range: float = 12.0,
    ) -> DirichletSimplexDisplay:
        """Plot the Dirichlet densities of given concentrations.

        Parameters
        ----------
        alphas : array-like of shape (n_inputs, 3) or (3,)
            Positive concentrations α, one row per panel.
        labels : sequence of str, default=None
            Panel titles, e.g. ``["in-distribution", "out-of-distribution"]``.
        class_names : sequence, default=None
            Labels of the three corners.
        member_proba : array-like of shape (n_inputs, n_members, 3), default=None
            Ensemble members' probabilities to draw as points.
        resolution : int, default=120
            Subdivisions of each side of the triangle.
        ax : array-like of matplotlib Axes, default=None
            One Axes per input; None makes a new figure.
        cmap : str or Colormap, default="viridis"
            Colour map of the log density.
        dynamic_range : float, default=12.0
            Nats of log density shown below the top of each colour scale. The
            top is the log density exceeded on only 0.5% of the triangle's area,
            so that the infinite density at the corners for αₖ < 1 does not wash
            out the rest; lower values share the bottom colour. A spike narrower
            than the grid (α₀ in the thousands and more) shows as a bright tip,
            and a red cross marks the mean α/α₀ in every panel.

        Returns
        -------
        display : DirichletSimplexDisplay
            The plotted display.
        """
        _pyplot(f"{cls.__name__}.from_concentrations")
        display = cls._compute(
            alphas,
            labels=labels,
            class_names=class_names,
            member_proba=member_proba,
            resolution=resolution,
        )
        return display.plot(ax=ax, cmap=cmap, dynamic_range=dynamic_range)

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X: ArrayLike,
        *,
        labels: Sequence[str] | None = None,
        member_proba: ArrayLike | None = None,
        resolution: int = 120,
        ax: Any = None,
        cmap: str = "viridis",
        dynamic_range: float = 12.0,
    ) -> DirichletSimplexDisplay:
        """Plot the Dirichlet a fitted Prior Network predicts for each row of X.

        Parameters
        ----------
        estimator : fitted PriorNetworkDistiller or Pipeline ending in one
            Anything with ``predict_concentrations`` and 3 ``classes_``.
        X : array-like of shape (n_inputs, n_features)
            Inputs, one panel each (keep it to a few).
        labels : sequence of str, default=None
            Panel titles, e.g. ``["in-distribution", "out-of-distribution"]``.
        member_proba : array-like of shape (n_inputs, n_members, 3), default=None
            Ensemble members' probabilities to draw as points, e.g.
            ``estimator.teacher_.predict_member_proba(X)``.
        resolution : int, default=120
            Subdivisions of each side of the triangle.
        ax : array-like of matplotlib Axes, default=None
            One Axes per input; None makes a new figure.
        cmap : str or Colormap, default="viridis"
            Colour map of the log density.
        dynamic_range : float, default=12.0
            Nats of log density shown below the top of each colour scale.

        Returns
        -------
        display : DirichletSimplexDisplay
            The plotted display.

        Raises
        ------
        TypeError
            If the estimator has no ``predict_concentrations`` (not a Prior
            Network).
        ValueError
            If it has not exactly 3 classes.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.frozen import FrozenEstimator
        >>> from sklearn.preprocessing import StandardScaler
        >>> from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
        >>> from skend2.datasets import make_spirals
        >>> from skend2.plotting import DirichletSimplexDisplay
        >>> X, y = make_spirals(150, random_state=0)
        >>> X = StandardScaler().fit_transform(X)
        >>> ens = DeepEnsembleClassifier(n_members=2, max_epochs=5, random_state=0)
        >>> pnd = PriorNetworkDistiller(
        ...     teacher=FrozenEstimator(ens.fit(X, y)), max_epochs=5, random_state=0
        ... ).fit(X, y)
        >>> X_show = [[0.0, 0.0], [6.0, 6.0]]
        >>> disp = DirichletSimplexDisplay.from_estimator(
        ...     pnd,
        ...     X_show,
        ...     labels=["centre", "far away"],
        ...     member_proba=ens.predict_member_proba(X_show),
        ...     resolution=40,
        ... )
        >>> disp.alphas.shape, disp.member_proba.shape
        ((2, 3), (2, 2, 3))
        >>> matplotlib.pyplot.close(disp.figure_)
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        final, Xt = _final_step(estimator, X)
        if not hasattr(final, "predict_concentrations"):
            raise TypeError(
                f"{type(final).__name__} has no predict_concentrations method: "
                "the simplex shows the Dirichlet of a Prior Network "
                "(PriorNetworkDistiller). For an ensemble, pass its members' "
                "probabilities as member_proba to from_concentrations."
            )
        classes = getattr(final, "classes_", None)
        if classes is not None and len(classes) != 3:
            raise ValueError(
                "The probability simplex can be drawn for 3 classes only; the "
                f"estimator has K={len(classes)} classes."
            )
        alphas = final.predict_concentrations(Xt)
        if classes is not None and np.issubdtype(np.asarray(classes).dtype, np.number):
            classes = [f"class {c}" for c in classes]
        display = cls._compute(
            alphas,
            labels=labels,
            class_names=classes,
            member_proba=member_proba,
            resolution=resolution,
        )
        return display.plot(ax=ax, cmap=cmap, dynamic_range=dynamic_range)

    def plot(
        self,
        ax: Any = None,
        *,
        cmap: str = "viridis",
        dynamic_range: float = 12.0,
        levels: int = 20,
        colorbar: bool = True,
        legend: bool = True,
        member_kw: dict | None = None,
    ) -> DirichletSimplexDisplay:
        """Draw one triangle per input.

        Parameters
        ----------
        ax : array-like of matplotlib Axes, default=None
            One Axes per input; None makes a new figure.
        cmap : str or Colormap, default="viridis"
            Colour map of the log density.
        dynamic_range : float, default=12.0
            Nats of log density below the top of each colour scale (the log
            density exceeded on 0.5% of the triangle's area).
        levels : int, default=20
            Number of colour bands.
        colorbar : bool, default=True
            Whether to draw a colour bar per panel.
        legend : bool, default=True
            Whether to label the mean (and the members) in a legend.
        member_kw : dict, default=None
            Keyword arguments for the scatter of the members' probabilities.

        Returns
        -------
        display : DirichletSimplexDisplay
            ``self``, with ``figure_``, ``axes_``, ``contours_``, ``colorbars_``,
            ``mean_markers_`` and ``member_scatters_`` set.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        import matplotlib.tri as mtri

        if not np.isfinite(dynamic_range) or dynamic_range <= 0:
            raise ValueError(
                f"dynamic_range must be a positive number, got {dynamic_range!r}."
            )
        n_inputs = self.log_density.shape[0]
        axes = _check_axes(ax, n_inputs, type(self).__name__)
        own_figure = axes is None
        if own_figure:
            fig, axes = plt.subplots(
                1,
                n_inputs,
                figsize=(3.9 * n_inputs, 3.4),
                layout="constrained",
                squeeze=False,
            )
            axes = axes.ravel()
        fig = axes[0].figure
        xy = _to_cartesian(self.points)
        triangulation = mtri.Triangulation(xy[:, 0], xy[:, 1], self.triangles)
        areas = _point_areas(xy, np.asarray(self.triangles))
        names = self.class_names or [f"class {k}" for k in range(3)]
        alpha0 = np.sum(self.alphas, axis=1)

        self.contours_, self.colorbars_ = [], []
        self.mean_markers_, self.member_scatters_ = [], []
        for i, a in enumerate(axes):
            log_density = np.asarray(self.log_density[i], dtype=np.float64)
            # The top of the scale leaves out the densest 0.5% of the *area*
            # (the grid is finer near the edges, so not 0.5% of the points): the
            # density diverges at the corners when some αₖ < 1.
            hi = _weighted_quantile(log_density, areas, 0.995)
            # A spike of α₀ ~ 1e15 sits at log densities ~ -1e12 on the grid; show
            # it relative to the top of the scale, as colour-bar ticks cannot.
            # Shift before taking the range: at |hi| ~ 1e22 (α₀ ~ 1e23), hi - 12
            # rounds back to hi and the levels would not increase.
            shift = hi if abs(hi) > 1e4 else 0.0
            log_density, hi = log_density - shift, hi - shift
            lo = max(float(np.min(log_density)), hi - float(dynamic_range))
            lo, hi = _nondegenerate(lo, hi, pad=1.0)
            contours = a.tricontourf(
                triangulation,
                log_density,
                levels=np.linspace(lo, hi, int(levels) + 1),
                cmap=cmap,
                extend=_extend(log_density, lo, hi),
            )
            self.contours_.append(contours)
            outline = np.vstack([_SIMPLEX_CORNERS, _SIMPLEX_CORNERS[:1]])
            a.plot(outline[:, 0], outline[:, 1], color="black", linewidth=1.0)
            for (x, y), label, ha, va, offset in zip(
                _SIMPLEX_CORNERS,
                names,
                ("right", "left", "center"),
                ("top", "top", "bottom"),
                ((-2, -4), (2, -4), (0, _CORNER_LABEL_OFFSET)),
            ):
                # Off the corner, so that a mass point there stays visible; in
                # points, so that the top label's height above the triangle, and
                # the title pad clearing it, do not depend on the panel's size.
                a.annotate(
                    label,
                    xy=(x, y),
                    xytext=offset,
                    textcoords="offset points",
                    ha=ha,
                    va=va,
                    fontsize=_CORNER_LABEL_SIZE,
                    annotation_clip=False,
                )
            title = f"α₀ = {_format_precision(alpha0[i])}"
            if self.labels is not None:
                title = f"{self.labels[i]}\n{title}"
            # The top corner label hangs above the axes: lift the title over it
            # (text height ≈ 1.25 × font size), with a gap that keeps the label
            # from reading as a line of the title.
            a.set_title(
                title,
                fontsize=11,
                pad=_CORNER_LABEL_OFFSET + 1.25 * _CORNER_LABEL_SIZE + 8,
            )
            a.set_xlim(-0.12, 1.12)
            a.set_ylim(-0.1 - 0.12 * legend, _SQRT3_2 + 0.02)
            a.set_aspect("equal")
            a.set_axis_off()
            mean_xy = _to_cartesian(self.alphas[i] / alpha0[i])
            # The mean is marked too: for a large α₀ the density is a spike
            # narrower than the grid.
            self.mean_markers_.append(
                a.scatter(
                    mean_xy[0],
                    mean_xy[1],
                    s=40,
                    marker="x",
                    color="red",
                    linewidths=1.5,
                    label="Dirichlet mean",
                    zorder=4,
                )
            )
            if self.member_proba is not None:
                kw = {
                    "s": 18,
                    "color": "white",
                    "edgecolors": "black",
                    "linewidths": 0.6,
                    "label": "ensemble members",
                    "zorder": 3,
                }
                kw.update(member_kw or {})
                member_xy = _to_cartesian(self.member_proba[i])
                self.member_scatters_.append(
                    a.scatter(member_xy[:, 0], member_xy[:, 1], **kw)
                )
            if legend:
                a.legend(
                    loc="lower center",
                    ncols=2,
                    fontsize=8,
                    frameon=False,
                    handletextpad=0.2,
                    columnspacing=1.0,
                )
            if colorbar:
                cbar = fig.colorbar(
                    contours, ax=a, shrink=0.75, ticks=_colorbar_ticks(contours)
                )
                label = "log density"
                if shift:
                    label += f" {'−' if shift > 0 else '+'} {abs(shift):.4g}"
                cbar.set_label(label, fontsize=9)
                cbar.ax.tick_params(labelsize=8)
                self.colorbars_.append(cbar)
        if own_figure:
            # Constrained layout places equal-aspect Axes in two passes: after
            # only the one of a plain savefig, the titles can stick out of the top.
            fig.get_layout_engine().execute(fig)
        self.figure_, self.axes_ = fig, np.asarray(axes, dtype=object)
        return self


# ---------------------------------------------------------------------------
# OOD detection ROC curves
# ---------------------------------------------------------------------------


class OODDetectionDisplay:
    """ROC curves of OOD detection by several uncertainty measures, in one axes.

    Out-of-distribution inputs are the positive class and each measure is the
    score, so a curve shows how well thresholding that measure flags OOD inputs;
    the legend gives each AUROC, as :func:`skend2.metrics.ood_detection_auroc`
    computes it. Measures for which a larger value means *more* confidence
    (the precision α₀ of a Prior Network) are negated first.

    Parameters
    ----------
    fpr : dict of str to ndarray
        False positive rate (in-distribution inputs flagged) of each measure.
    tpr : dict of str to ndarray
        True positive rate (OOD inputs flagged) of each measure.
    aurocs : dict of str to float
        Area under each curve.
    negated : sequence of str, default=()
        Measures that were negated before scoring.
    name : str, default=None
        Name of the estimator, prefixed to the legend entries.

    Attributes
    ----------
    roc_displays_ : dict of str to sklearn.metrics.RocCurveDisplay
        The curve of each measure.
    aurocs_ : dict of str to float
        AUROC of each plotted measure.
    ax_ : matplotlib Axes
        The axes with the curves.
    figure_ : matplotlib Figure
        The figure holding it.
    chance_level_ : matplotlib Line2D or None
        The chance diagonal.

    See Also
    --------
    sklearn.metrics.RocCurveDisplay : One ROC curve.
    skend2.metrics.ood_detection_auroc : The AUROC of one measure.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076, Section 5.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from skend2.plotting import OODDetectionDisplay
    >>> rng = np.random.default_rng(0)
    >>> in_scores = {"knowledge": rng.normal(0, 1, 200),
    ...              "precision": rng.normal(9, 1, 200)}
    >>> out_scores = {"knowledge": rng.normal(2, 1, 200),
    ...               "precision": rng.normal(7, 1, 200)}
    >>> disp = OODDetectionDisplay.from_predictions(in_scores, out_scores)
    >>> {m: round(a, 1) for m, a in disp.aurocs_.items()}  # precision negated
    {'knowledge': 0.9, 'precision': 0.9}
    >>> matplotlib.pyplot.close(disp.figure_)
    """

    def __init__(
        self,
        *,
        fpr: Mapping[str, np.ndarray],
        tpr: Mapping[str, np.ndarray],
        aurocs: Mapping[str, float],
        negated: Sequence[str] = (),
        name: str | None = None,
    ) -> None:
        self.fpr = fpr
        self.tpr = tpr
        self.aurocs = aurocs
        self.negated = negated
        self.name = name

    @classmethod
    def from_predictions(
        cls,
        in_scores: Mapping[str, ArrayLike],
        out_scores: Mapping[str, ArrayLike],
        *,
        measures: str | Sequence[str] | None = None,
        negate: Sequence[str] = _CONFIDENCE_MEASURES,
        ax: Any = None,
        name: str | None = None,
        plot_chance_level: bool = True,
    ) -> OODDetectionDisplay:
        """ROC curves from uncertainty scores of in- and out-of-distribution inputs.

        Parameters
        ----------
        in_scores : dict of str to array-like of shape (n_in,)
            Each measure's uncertainty on the in-distribution inputs (a
            ``predict_uncertainty`` Bunch works).
        out_scores : dict of str to array-like of shape (n_out,)
            The same measures on the OOD inputs.
        measures : str or sequence of str, default=None
            Measures to plot; None plots every key of ``in_scores``.
        negate : sequence of str, default=("precision",)
            Measures where higher means *less* uncertain; they are negated.
        ax : matplotlib Axes, default=None
            Axes to draw in; None makes a new figure.
        name : str, default=None
            Name prefixed to the legend entries (to compare estimators in one
            axes).
        plot_chance_level : bool, default=True
            Whether to draw the chance diagonal.

        Returns
        -------
        display : OODDetectionDisplay
            The plotted display.
        """
        _pyplot(f"{cls.__name__}.from_predictions")
        for arg, value in (("in_scores", in_scores), ("out_scores", out_scores)):
            if not isinstance(value, Mapping):
                raise TypeError(
                    f"{arg} must be a dict of measure name to scores, "
                    f"got {type(value).__name__}."
                )
        measures = tuple(in_scores) if measures is None else _check_measures(measures)
        if not measures:
            raise ValueError("in_scores has no measures.")
        missing = [m for m in measures if m not in in_scores or m not in out_scores]
        if missing:
            raise ValueError(
                f"Measure(s) {missing} missing from in_scores or out_scores; "
                f"in_scores has {list(in_scores)}, out_scores {list(out_scores)}."
            )
        negate = (negate,) if isinstance(negate, str) else tuple(negate)
        fpr, tpr, aurocs = {}, {}, {}
        for m in measures:
            sign = -1.0 if m in negate else 1.0
            s_in = sign * np.asarray(in_scores[m], dtype=np.float64)
            s_out = sign * np.asarray(out_scores[m], dtype=np.float64)
            aurocs[m] = ood_detection_auroc(s_in, s_out)  # validates the scores
            is_ood = np.r_[np.zeros(s_in.shape[0]), np.ones(s_out.shape[0])]
            fpr[m], tpr[m], _ = roc_curve(is_ood, np.r_[s_in, s_out])
        display = cls(
            fpr=fpr,
            tpr=tpr,
            aurocs=aurocs,
            negated=[m for m in measures if m in negate],
            name=name,
        )
        return display.plot(ax=ax, plot_chance_level=plot_chance_level)

    @classmethod
    def from_estimator(
        cls,
        estimator: Any,
        X_in: ArrayLike,
        X_ood: ArrayLike,
        *,
        measures: str | Sequence[str] | None = None,
        negate: Sequence[str] = _CONFIDENCE_MEASURES,
        ax: Any = None,
        name: str | None = None,
        plot_chance_level: bool = True,
    ) -> OODDetectionDisplay:
        """ROC curves of OOD detection by a fitted estimator's uncertainty.

        Parameters
        ----------
        estimator : fitted skend2 estimator or Pipeline ending in one
            Anything with ``predict_uncertainty``.
        X_in : array-like of shape (n_in, n_features)
            In-distribution inputs (negatives).
        X_ood : array-like of shape (n_out, n_features)
            Out-of-distribution inputs (positives).
        measures : str or sequence of str, default=None
            Measures to plot; None plots all that ``predict_uncertainty`` returns.
        negate : sequence of str, default=("precision",)
            Measures where higher means *less* uncertain; they are negated.
        ax : matplotlib Axes, default=None
            Axes to draw in; None makes a new figure.
        name : str, default=None
            Name prefixed to the legend entries.
        plot_chance_level : bool, default=True
            Whether to draw the chance diagonal.

        Returns
        -------
        display : OODDetectionDisplay
            The plotted display.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from skend2 import DeepEnsembleClassifier
        >>> from skend2.datasets import load_digits_ood
        >>> from skend2.plotting import OODDetectionDisplay
        >>> data = load_digits_ood()
        >>> ens = DeepEnsembleClassifier(n_members=2, max_epochs=5, random_state=0)
        >>> ens = ens.fit(data.X_train, data.y_train)
        >>> disp = OODDetectionDisplay.from_estimator(
        ...     ens, data.X_test, data.X_ood, measures=["total", "knowledge"]
        ... )
        >>> sorted(disp.roc_displays_)
        ['knowledge', 'total']
        >>> matplotlib.pyplot.close(disp.figure_)
        """
        _pyplot(f"{cls.__name__}.from_estimator")
        in_scores = _predict_uncertainty(estimator, X_in)
        out_scores = _predict_uncertainty(estimator, X_ood)
        if measures is not None:
            measures = _check_measures(measures)
            unknown = [m for m in measures if m not in in_scores]
            if unknown:
                raise ValueError(
                    f"Unknown uncertainty measure(s) {unknown}; the estimator "
                    f"returns {list(in_scores)}."
                )
        return cls.from_predictions(
            in_scores,
            out_scores,
            measures=measures,
            negate=negate,
            ax=ax,
            name=name,
            plot_chance_level=plot_chance_level,
        )

    def plot(
        self,
        ax: Any = None,
        *,
        plot_chance_level: bool = True,
        curve_kwargs: Mapping[str, dict] | None = None,
    ) -> OODDetectionDisplay:
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw in; None makes a new figure.
        plot_chance_level : bool, default=True
            Whether to draw the chance diagonal.
        curve_kwargs : dict of str to dict, default=None
            Per measure, keyword arguments for the curve's
            :meth:`matplotlib.axes.Axes.plot`.

        Returns
        -------
        display : OODDetectionDisplay
            ``self``, with ``figure_``, ``ax_``, ``roc_displays_``, ``aurocs_``
            and ``chance_level_`` set.
        """
        plt = _pyplot(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots(figsize=(5.2, 5.0), layout="constrained")
        prefix = f"{self.name}: " if self.name else ""
        self.roc_displays_, self.aurocs_ = {}, {}
        self.chance_level_ = None
        chance_drawn = any(
            line.get_label().startswith("Chance") for line in ax.get_lines()
        )
        for i, (m, auroc) in enumerate(self.aurocs.items()):
            label = f"−{m}" if m in self.negated else m
            kw = {"label": f"{prefix}{label} (AUROC = {auroc:.3f})"}
            kw.update((curve_kwargs or {}).get(m, {}))
            chance = plot_chance_level and i == 0 and not chance_drawn
            roc = RocCurveDisplay(
                fpr=self.fpr[m], tpr=self.tpr[m], roc_auc=auroc, name=m
            ).plot(
                ax=ax,
                curve_kwargs=kw,
                plot_chance_level=chance,
                chance_level_kw={"label": "Chance (AUROC = 0.5)", "color": "grey"},
            )
            if chance:
                self.chance_level_ = roc.chance_level_
            self.roc_displays_[m] = roc
            self.aurocs_[m] = float(auroc)
        ax.set_xlabel("False positive rate (in-distribution flagged)", fontsize=10)
        ax.set_ylabel("True positive rate (OOD detected)", fontsize=10)
        ax.tick_params(labelsize=9)
        if not ax.get_title():
            ax.set_title("OOD detection", fontsize=12)
        handles, texts = ax.get_legend_handles_labels()
        # The chance line is drawn with the first curve; list it last.
        order = sorted(range(len(texts)), key=lambda k: texts[k].startswith("Chance"))
        ax.legend(
            [handles[k] for k in order],
            [texts[k] for k in order],
            loc="lower right",
            fontsize=8,
        )
        self.ax_, self.figure_ = ax, ax.figure
        return self
