"""Dirichlet densities on the probability simplex: :class:`DirichletSimplexDisplay`.

It owns the lattice of points inside the triangle, the log density of
Dir(π | α) on it with a colour scale that survives densities diverging at the
corners, the corner labels, the precision α₀ in each title, and the Dirichlet
mean and the ensemble members' predictions drawn on top.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import dirichlet

from ._base import (
    add_colorbar,
    check_resolution,
    colorbar_extend,
    final_step_with,
    nondegenerate,
    panel_axes,
    pyplot,
)

__all__ = ["DirichletSimplexDisplay"]

_SQRT3_2 = np.sqrt(3.0) / 2.0
# Corners of the probability simplex in the plane: class 0 bottom left, class 1
# bottom right, class 2 on top.
_SIMPLEX_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, _SQRT3_2]])
# Corner labels of the simplex: font size, and gap above the top corner (points).
_CORNER_LABEL_SIZE = 10
_CORNER_LABEL_OFFSET = 4


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
        cls, alphas, labels, class_names, member_proba, resolution
    ) -> DirichletSimplexDisplay:
        alphas = _check_alphas(alphas)
        n_inputs = alphas.shape[0]
        resolution = check_resolution(resolution, "resolution")
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
        points, triangles = _simplex_lattice(resolution)
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
        pyplot(f"{cls.__name__}.from_concentrations")
        display = cls._compute(alphas, labels, class_names, member_proba, resolution)
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
        pyplot(f"{cls.__name__}.from_estimator")
        final, Xt = final_step_with(
            "predict_concentrations",
            estimator,
            X,
            ": the simplex shows the Dirichlet of a Prior Network "
            "(PriorNetworkDistiller). For an ensemble, pass its members' "
            "probabilities as member_proba to from_concentrations.",
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
        display = cls._compute(alphas, labels, classes, member_proba, resolution)
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
        pyplot(f"{type(self).__name__}.plot")
        import matplotlib.tri as mtri

        if not np.isfinite(dynamic_range) or dynamic_range <= 0:
            raise ValueError(
                f"dynamic_range must be a positive number, got {dynamic_range!r}."
            )
        n_inputs = self.log_density.shape[0]
        fig, axes, own_figure = panel_axes(
            ax, n_inputs, type(self).__name__, figsize=(3.9 * n_inputs, 3.4)
        )
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
            lo, hi = nondegenerate(lo, hi, pad=1.0)
            contours = a.tricontourf(
                triangulation,
                log_density,
                levels=np.linspace(lo, hi, int(levels) + 1),
                cmap=cmap,
                extend=colorbar_extend(log_density, lo, hi),
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
                label = "log density"
                if shift:
                    label += f" {'−' if shift > 0 else '+'} {abs(shift):.4g}"
                self.colorbars_.append(
                    add_colorbar(fig, contours, label, ax=a, shrink=0.75)
                )
        if own_figure:
            # Constrained layout places equal-aspect Axes in two passes: after
            # only the one of a plain savefig, the titles can stick out of the top.
            fig.get_layout_engine().execute(fig)
        self.figure_, self.axes_ = fig, np.asarray(axes, dtype=object)
        return self
