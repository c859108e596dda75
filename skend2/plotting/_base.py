"""The set-up every display shares: matplotlib, axes, estimators, colour scales.

Each display imports matplotlib through :func:`pyplot` (so that skend2 imports
without it), gets its panels from :func:`panel_axes`, reaches an estimator's
uncertainty through :func:`predict_uncertainty` (a Pipeline's transformers
first) and draws colour bars with :func:`add_colorbar`, as scikit-learn's
``sklearn/utils/_plotting.py`` does for its displays. Facts about the measures
(titles, units, direction) are read from :mod:`skend2._measures`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.utils import Bunch

from .._measures import final_step

__all__: list[str] = []


def pyplot(caller: str) -> Any:
    """Import ``matplotlib.pyplot`` lazily, so skend2 imports without matplotlib."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install it "
            "with `pip install skend2[plot]`."
        ) from exc
    return plt


def panel_axes(
    ax: Any, n_panels: int, owner: str, *, figsize: tuple[float, float]
) -> tuple[Any, np.ndarray, bool]:
    """The figure, its ``n_panels`` Axes as a flat object array, and whether it is new.

    ``ax=None`` makes a new figure with a row of panels; otherwise ``ax`` must
    hold exactly ``n_panels`` Axes (``owner`` names the display in the error).
    """
    if ax is None:
        fig, axes = pyplot(f"{owner}.plot").subplots(
            1, n_panels, figsize=figsize, layout="constrained", squeeze=False
        )
        return fig, axes.ravel(), True
    axes = np.asarray(ax, dtype=object).ravel()
    if axes.shape[0] != n_panels:
        raise ValueError(
            f"{owner} needs {n_panels} axes (one per panel), got {axes.shape[0]}."
        )
    return axes[0].figure, axes, False


def check_measures(measures: str | Sequence[str]) -> tuple[str, ...]:
    """``measures`` as a non-empty tuple of names (one name may be passed alone)."""
    if isinstance(measures, str):
        measures = (measures,)
    measures = tuple(measures)
    if not measures:
        raise ValueError("measures must name at least one uncertainty measure.")
    for m in measures:
        if not isinstance(m, str):
            raise TypeError(f"measures must be strings, got {m!r}.")
    return measures


def check_resolution(value: Any, name: str) -> int:
    """A grid resolution: an int (not a bool) of at least 2."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < 2:
        raise ValueError(f"{name} must be at least 2, got {value}.")
    return int(value)


def final_step_with(
    method: str, estimator: Any, X: Any, advice: str
) -> tuple[Any, Any]:
    """The final step of ``estimator`` (a Pipeline's last) and ``X`` transformed for it.

    That step must have ``method``, or a TypeError says so, followed by
    ``advice`` (what to pass instead).
    """
    final, Xt = final_step(estimator, X)
    if not hasattr(final, method):
        raise TypeError(f"{type(final).__name__} has no {method} method{advice}")
    return final, Xt


def predict_uncertainty(
    estimator: Any, X: Any, measures: Sequence[str] | None = None
) -> Bunch:
    """``predict_uncertainty(X)`` of an skend2 estimator or a Pipeline ending in one.

    A Pipeline does not expose ``predict_uncertainty``, so ``X`` goes through the
    transformers (``pipeline[:-1].transform``) and then to the last step. Each
    of ``measures``, when given, must be among those the estimator returns.
    """
    final, Xt = final_step_with(
        "predict_uncertainty",
        estimator,
        X,
        "; pass a fitted skend2 estimator (DeepEnsembleClassifier, "
        "EnsembleDistiller, PriorNetworkDistiller) or a Pipeline ending in one.",
    )
    bunch = Bunch(**final.predict_uncertainty(Xt))
    missing = [m for m in measures or () if m not in bunch]
    if missing:
        raise ValueError(
            f"Unknown uncertainty measure(s) {missing}; the estimator returns "
            f"{list(bunch)}."
        )
    return bunch


def colorbar_extend(data: np.ndarray, lo: float, hi: float) -> str:
    """Colour-bar extension showing that some values lie outside [lo, hi]."""
    below, above = bool(np.min(data) < lo), bool(np.max(data) > hi)
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (below, above), "both"
    )


def nondegenerate(
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


def add_colorbar(figure: Any, contours: Any, label: str, **kwargs: Any) -> Any:
    """A labelled colour bar of ``contours`` with round ticks, in the displays' sizes.

    ``kwargs`` go to :meth:`matplotlib.figure.Figure.colorbar` (``ax``,
    ``shrink``, ``location``…).
    """
    cbar = figure.colorbar(contours, ticks=_colorbar_ticks(contours), **kwargs)
    cbar.set_label(label, fontsize=9)
    cbar.ax.tick_params(labelsize=8)
    return cbar
