"""Uncertainty scores of a fitted estimator, oriented for detection metrics.

The one place where the metrics read an estimator's uncertainty: Pipelines are
unwrapped and every measure is oriented so that higher means more uncertain,
both through :mod:`skend2._measures`. A scorer and
:func:`skend2.metrics.evaluate_classifier` both call :func:`uncertainty_scores`,
so they rank inputs by the same numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import entropy

from .._measures import as_uncertainty, final_step


def uncertainty_scores(
    estimator: Any, X: Any, measure: str | None = None
) -> dict[str, np.ndarray]:
    """The estimator's uncertainty measures for ``X``, higher = more uncertain.

    Parameters
    ----------
    estimator : fitted classifier or Pipeline ending in one
        Its ``predict_uncertainty`` gives the measures. Without one, the entropy
        of ``predict_proba`` is the only measure, ``"total"``.
    X : array-like of shape (n_samples, n_features)
        Inputs, in the estimator's (the Pipeline's) input space.
    measure : str, default=None
        One measure; None means all the estimator returns.

    Returns
    -------
    scores : dict of str to ndarray of shape (n_samples,)
        Each measure oriented by :func:`skend2._measures.as_uncertainty` (the
        precision α₀ of a Dirichlet, which grows with confidence, is negated).

    Raises
    ------
    TypeError
        If the estimator has no ``predict_uncertainty`` and ``measure`` is
        neither None nor ``"total"``.
    """
    final, Xt = final_step(estimator, X)
    if hasattr(final, "predict_uncertainty"):
        if measure is None:
            raw = dict(final.predict_uncertainty(Xt))
        else:
            raw = {measure: final.predict_uncertainty(Xt, measure=measure)}
    elif measure in (None, "total"):
        # Any probabilistic classifier: only the total uncertainty H[p] exists.
        raw = {"total": entropy(estimator.predict_proba(X), axis=1)}
    else:
        raise TypeError(
            f"{type(final).__name__} has no predict_uncertainty; only "
            "measure='total' (the entropy of predict_proba) is available, got "
            f"{measure!r}."
        )
    return {name: as_uncertainty(name, values) for name, values in raw.items()}
