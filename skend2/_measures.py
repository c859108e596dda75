"""Facts about the uncertainty measures, and reaching the final step of a Pipeline.

One table owns what every part of skend2 needs to know about a measure: its
title and unit (plots, the demo's table), its direction (does a higher value
mean *more* uncertain? The precision α₀ of a Dirichlet grows with confidence)
and which estimators have it. Metrics, scorers, displays and the demo read it
here, so that a scorer and :func:`skend2.metrics.evaluate_classifier` orient a
measure the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from ._base import is_dask_collection
from .uncertainty import DIRICHLET_MEASURES

__all__: list[str] = []


@dataclass(frozen=True)
class Measure:
    """One uncertainty measure of ``predict_uncertainty``."""

    name: str
    title: str
    unit: str
    # True when a larger value means a more uncertain prediction.
    higher_is_uncertain: bool
    # Names of the estimator classes whose predict_uncertainty returns it.
    estimators: tuple[str, ...]


_ALL = ("DeepEnsembleClassifier", "EnsembleDistiller", "PriorNetworkDistiller")
_PRIOR_NETWORK = ("PriorNetworkDistiller",)

MEASURES: dict[str, Measure] = {
    m.name: m
    for m in (
        Measure("total", "Total uncertainty", "nats", True, _ALL),
        Measure("data", "Data uncertainty", "nats", True, _ALL),
        Measure("knowledge", "Knowledge uncertainty", "nats", True, _ALL),
        Measure("epkl", "Expected pairwise KL", "nats", True, _ALL),
        Measure("mkl", "Reverse mutual information", "nats", True, _ALL),
        Measure(
            "differential_entropy",
            "Differential entropy",
            "nats",
            True,
            _PRIOR_NETWORK,
        ),
        Measure("precision", "Precision α₀", "α₀", False, _PRIOR_NETWORK),
    )
}
assert tuple(MEASURES) == DIRICHLET_MEASURES


def measure_title(name: str) -> str:
    """The display title of a measure (the name itself when unknown)."""
    return MEASURES[name].title if name in MEASURES else name


def measure_unit(name: str) -> str:
    """The unit of a measure: ``"nats"`` for entropies and KLs."""
    return MEASURES[name].unit if name in MEASURES else "nats"


def is_confidence(name: str) -> bool:
    """True for a measure whose larger values mean *less* uncertainty."""
    return name in MEASURES and not MEASURES[name].higher_is_uncertain


def as_uncertainty(name: str, values: Any) -> np.ndarray:
    """``values`` of measure ``name`` oriented so that higher = more uncertain."""
    values = np.asarray(values)
    return -values if is_confidence(name) else values


def final_step(estimator: Any, X: Any = None) -> tuple[Any, Any]:
    """Unwrap (nested) Pipelines: the final estimator and ``X`` transformed for it.

    With ``X=None`` only the estimator is unwrapped (nothing is transformed).
    """
    while isinstance(estimator, Pipeline):
        if X is not None and len(estimator) > 1:
            X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    return estimator, X


def final_estimator(estimator: Any) -> Any:
    """The last step of a (nested) Pipeline, or the estimator itself."""
    return final_step(estimator)[0]


def predict_uncertainty(estimator: Any, X: Any, measure: str | None = None) -> Any:
    """``predict_uncertainty`` of an skend2 estimator, also at the end of a Pipeline.

    A :class:`~sklearn.pipeline.Pipeline` forwards ``score_samples`` but not
    ``predict_uncertainty``; this function sends ``X`` through the
    transformers of a (nested) Pipeline and asks its final step.

    Parameters
    ----------
    estimator : fitted skend2 estimator or Pipeline ending in one
        :class:`~skend2.DeepEnsembleClassifier`,
        :class:`~skend2.EnsembleDistiller` or
        :class:`~skend2.PriorNetworkDistiller`, bare or as the last step.
    X : array-like of shape (n_samples, ...)
        Inputs, in the space of the Pipeline's first step. A Dask array
        (chunked along its rows) gives Dask arrays, computed block by block on
        the workers with the estimator shipped once (``pip install
        skend2[dask]``).
    measure : str, default=None
        One measure (e.g. ``"knowledge"``); ``None`` returns all of them.

    Returns
    -------
    uncertainty : Bunch of ndarray of shape (n_samples,), or one ndarray
        As the final step's ``predict_uncertainty`` (Dask arrays for a Dask X).

    Raises
    ------
    TypeError
        If the final step has no ``predict_uncertainty``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skend2 import DeepEnsembleClassifier, predict_uncertainty
    >>> X, y = load_iris(return_X_y=True)
    >>> pipe = make_pipeline(
    ...     StandardScaler(),
    ...     DeepEnsembleClassifier(n_members=2, max_epochs=5, random_state=0),
    ... ).fit(X, y)
    >>> sorted(predict_uncertainty(pipe, X[:3]))
    ['data', 'epkl', 'knowledge', 'mkl', 'total']
    >>> predict_uncertainty(pipe, X[:3], measure="knowledge").shape
    (3,)
    """
    if is_dask_collection(X):
        # The whole Pipeline goes to the workers: each block is transformed
        # and scored there.
        from ._dask import predict_uncertainty as dask_predict_uncertainty

        return dask_predict_uncertainty(estimator, X, measure)
    final, Xt = final_step(estimator, X)
    if not hasattr(final, "predict_uncertainty"):
        raise TypeError(
            f"{type(final).__name__} has no predict_uncertainty; pass a fitted "
            "skend2 estimator or a Pipeline ending in one."
        )
    return final.predict_uncertainty(Xt, measure=measure)
