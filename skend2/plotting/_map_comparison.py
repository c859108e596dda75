"""Uncertainty maps of several estimators side by side: :func:`plot_uncertainty_maps`.

It owns the layout of the comparison (one row per estimator, one column per
measure), the colour scale each column shares across the rows, and the one
colour bar under each column; each row is drawn by an
:class:`~skend2.plotting.UncertaintyMapDisplay`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from numpy.typing import ArrayLike

from .._measures import measure_title, measure_unit
from ._base import add_colorbar, check_measures, pyplot
from ._uncertainty_map import UncertaintyMapDisplay, _per_measure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_uncertainty_maps"]


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
) -> Figure:
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
    plt = pyplot("plot_uncertainty_maps")
    if not isinstance(estimators, Mapping) or not estimators:
        raise TypeError(
            "estimators must be a non-empty dict of row label to fitted estimator, "
            f"got {type(estimators).__name__}."
        )
    measures = check_measures(measures)
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
        add_colorbar(
            fig,
            mappable,
            f"{measure_title(m)} ({measure_unit(m)})",
            ax=axes[:, j],
            location="bottom",
            shrink=0.85,
            aspect=30,
            fraction=0.15 / column_height,
            pad=0.07 / column_height,
        )
    if title is not None:
        fig.suptitle(title, fontsize=14)
    return fig
