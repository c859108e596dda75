"""ROC curves of out-of-distribution detection: :class:`OODDetectionDisplay`.

It owns turning each measure's scores on in- and out-of-distribution inputs
into an ROC curve and its AUROC (confidences such as the precision α₀ negated
first, as :mod:`skend2._measures` marks them), and drawing the curves of several
measures, or estimators, in one axes with the chance diagonal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import RocCurveDisplay, roc_curve

from .._measures import MEASURES, is_confidence
from ..metrics import ood_detection_auroc
from ._base import check_measures, panel_axes, predict_uncertainty, pyplot

__all__ = ["OODDetectionDisplay"]

# The default of ``negate``: the measures whose larger values mean more confidence.
_CONFIDENCES = tuple(name for name in MEASURES if is_confidence(name))


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
        negate: Sequence[str] = _CONFIDENCES,
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
        pyplot(f"{cls.__name__}.from_predictions")
        for arg, value in (("in_scores", in_scores), ("out_scores", out_scores)):
            if not isinstance(value, Mapping):
                raise TypeError(
                    f"{arg} must be a dict of measure name to scores, "
                    f"got {type(value).__name__}."
                )
        measures = tuple(in_scores) if measures is None else check_measures(measures)
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
        negate: Sequence[str] = _CONFIDENCES,
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
        pyplot(f"{cls.__name__}.from_estimator")
        if measures is not None:
            measures = check_measures(measures)
        in_scores = predict_uncertainty(estimator, X_in, measures)
        out_scores = predict_uncertainty(estimator, X_ood)
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
        pyplot(f"{type(self).__name__}.plot")
        if ax is None:
            ax = panel_axes(None, 1, type(self).__name__, figsize=(5.2, 5.0))[1][0]
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
