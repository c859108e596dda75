"""Scikit-learn scorers: calibration, distillation fidelity and OOD detection.

Each scorer is greater-is-better and unwraps Pipelines through
:func:`skend2._measures.final_step`; :data:`SCORERS` names the ones that need
no argument, for :func:`get_scorer` and ``scoring=`` strings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from numpy.typing import ArrayLike
from sklearn.metrics import get_scorer as _sklearn_get_scorer

from .._measures import final_step
from ._calibration import distillation_nll, expected_calibration_error
from ._ood import ood_detection_auroc
from ._uncertainty_scores import uncertainty_scores


def ece_scorer(estimator: Any, X: ArrayLike, y: ArrayLike) -> float:
    """Negated expected calibration error, a scorer for ``GridSearchCV``.

    Greater is better, as scikit-learn's scorers. Works with any fitted classifier
    with ``predict_proba`` and ``classes_`` (Pipelines included).

    Parameters
    ----------
    estimator : fitted classifier
        Provides ``predict_proba`` and ``classes_``.
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : array-like of shape (n_samples,)
        True labels.

    Returns
    -------
    score : float
        ``-expected_calibration_error(y, estimator.predict_proba(X),
        labels=estimator.classes_)`` with 15 bins.

    See Also
    --------
    expected_calibration_error

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017, arXiv:1706.04599.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_val_score
    >>> from skend2.metrics import ece_scorer
    >>> X, y = load_iris(return_X_y=True)
    >>> scores = cross_val_score(LogisticRegression(max_iter=500), X, y,
    ...                          scoring=ece_scorer, cv=3)
    >>> bool((scores <= 0).all())
    True
    """
    return -expected_calibration_error(
        y, estimator.predict_proba(X), labels=estimator.classes_
    )


def distillation_nll_scorer(estimator: Any, X: ArrayLike, y: Any = None) -> float:
    """Negated held-out distillation NLL of a Prior Network student.

    Greater is better. Uses ``estimator.teacher_.predict_member_logits(X)``,
    ``estimator.predict_logits(X)`` and ``estimator.concentration_offset_``
    (a Pipeline ending in such an estimator is unwrapped). ``y`` is ignored.

    Parameters
    ----------
    estimator : fitted PriorNetworkDistiller or Pipeline ending in one
        The student and its fitted teacher.
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : ignored
        Present for the scorer signature.

    Returns
    -------
    score : float
        ``-distillation_nll(member_logits, student_logits,
        concentration_offset=...)``.

    Raises
    ------
    TypeError
        If the estimator has no fitted ``teacher_`` or no ``predict_logits``.

    See Also
    --------
    distillation_nll

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skend2.metrics import distillation_nll_scorer
    >>> distillation_nll_scorer(LogisticRegression(), [[0.0]])
    Traceback (most recent call last):
    ...
    TypeError: distillation_nll_scorer needs a fitted distiller with a teacher_ ...
    """
    final, Xt = final_step(estimator, X)
    teacher = getattr(final, "teacher_", None)
    if teacher is None or not hasattr(teacher, "predict_member_logits"):
        raise TypeError(
            "distillation_nll_scorer needs a fitted distiller with a teacher_ "
            "exposing predict_member_logits (e.g. PriorNetworkDistiller); got "
            f"{type(final).__name__}."
        )
    if not hasattr(final, "predict_logits"):
        raise TypeError(
            "distillation_nll_scorer needs a Dirichlet student with predict_logits "
            f"(PriorNetworkDistiller); {type(final).__name__} has none."
        )
    return -distillation_nll(
        teacher.predict_member_logits(Xt),
        final.predict_logits(Xt),
        concentration_offset=float(getattr(final, "concentration_offset_", 0.0)),
    )


class _OODAUROCScorer:
    """Scorer: OOD AUROC of one uncertainty measure against a fixed OOD set."""

    def __init__(self, X_ood: Any, measure: str) -> None:
        self.X_ood = X_ood
        self.measure = measure

    def __call__(self, estimator: Any, X: Any, y: Any = None) -> float:
        measure = self.measure
        return ood_detection_auroc(
            uncertainty_scores(estimator, X, measure)[measure],
            uncertainty_scores(estimator, self.X_ood, measure)[measure],
        )

    def __repr__(self) -> str:
        return f"ood_auroc_scorer(X_ood=<{len(self.X_ood)} inputs>, " + (
            f"measure={self.measure!r})"
        )


def ood_auroc_scorer(
    X_ood: ArrayLike, measure: str = "knowledge"
) -> Callable[..., float]:
    """Make a scorer: OOD-detection AUROC of the scored inputs against ``X_ood``.

    The scorer computes ``ood_detection_auroc(u(X), u(X_ood))`` with
    ``u = estimator.predict_uncertainty(·, measure=measure)``, oriented so that
    higher means more uncertain (a Dirichlet's ``precision`` grows with
    confidence and is negated); greater is better. Its value equals
    ``evaluate_classifier(estimator, X, y, X_ood)[f"ood_auroc_{measure}"]``.
    Estimators without ``predict_uncertainty`` support ``measure="total"``
    (the entropy of ``predict_proba``); Pipelines are unwrapped.

    Parameters
    ----------
    X_ood : array-like of shape (n_ood, n_features)
        Fixed out-of-distribution inputs, in the estimator's input space.
    measure : str, default="knowledge"
        Uncertainty measure, a key of ``predict_uncertainty``'s Bunch.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y=None) -> float``, usable as ``scoring=`` in
        ``GridSearchCV`` or ``cross_validate`` (picklable).

    See Also
    --------
    ood_detection_auroc, evaluate_classifier

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skend2.metrics import ood_auroc_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = LogisticRegression(max_iter=200).fit(X[y < 5] / 16, y[y < 5])
    >>> scorer = ood_auroc_scorer(X[y >= 5] / 16, measure="total")
    >>> 0.5 < scorer(clf, X[y < 5] / 16) <= 1.0
    True
    """
    if not isinstance(measure, str):
        raise TypeError(f"measure must be a string, got {type(measure).__name__}.")
    return _OODAUROCScorer(X_ood, measure)


# skend2's named scorers, documented where skend2.metrics re-exports them.
SCORERS: dict[str, Callable[..., float]] = {
    "neg_expected_calibration_error": ece_scorer,
    "neg_distillation_nll": distillation_nll_scorer,
}


def get_scorer(name: str | Callable[..., float]) -> Callable[..., float]:
    """Scorer by name: one of :data:`SCORERS`, else scikit-learn's.

    Parameters
    ----------
    name : str or callable
        ``"neg_expected_calibration_error"``, ``"neg_distillation_nll"``, or
        anything :func:`sklearn.metrics.get_scorer` accepts (callables are
        passed to it unchanged).

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y) -> float``, greater is better.

    Examples
    --------
    >>> from skend2.metrics import ece_scorer, get_scorer
    >>> get_scorer("neg_expected_calibration_error") is ece_scorer
    True
    >>> get_scorer("accuracy")
    make_scorer(accuracy_score, response_method='predict')
    """
    if isinstance(name, str) and name in SCORERS:
        return SCORERS[name]
    return _sklearn_get_scorer(name)
