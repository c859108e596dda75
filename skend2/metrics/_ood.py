"""Out-of-distribution detection: AUROC and AUPR of uncertainty scores.

The functions take scores already oriented so that higher means "more likely
OOD"; turning an estimator's measures into such scores is
:mod:`skend2.metrics._uncertainty_scores`'s job.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, roc_auc_score

from ._validation import check_scores


def _ood_labels_and_scores(
    in_scores: ArrayLike, out_scores: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    in_scores = check_scores(in_scores, "in_scores")
    out_scores = check_scores(out_scores, "out_scores")
    is_ood = np.concatenate(
        [np.zeros(in_scores.shape[0], dtype=int), np.ones(out_scores.shape[0], int)]
    )
    return is_ood, np.concatenate([in_scores, out_scores])


def ood_detection_auroc(in_scores: ArrayLike, out_scores: ArrayLike) -> float:
    """Area under the ROC curve for telling OOD inputs from in-distribution ones.

    Parameters
    ----------
    in_scores : array-like of shape (n_in,)
        Uncertainty of the in-distribution inputs (higher means more likely OOD).
    out_scores : array-like of shape (n_out,)
        Uncertainty of the out-of-distribution inputs.

    Returns
    -------
    auroc : float
        1 when every OOD input is more uncertain than every in-distribution input,
        0.5 for uninformative scores. Swapping which class is positive (and
        negating the scores) leaves the AUROC unchanged.

    See Also
    --------
    ood_detection_aupr : The area under the precision-recall curve.
    sklearn.metrics.roc_auc_score : The underlying computation.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076, Section 5.

    Examples
    --------
    >>> from skend2.metrics import ood_detection_auroc
    >>> ood_detection_auroc([0.1, 0.2, 0.3], [0.25, 0.9])
    0.8333...
    """
    is_ood, scores = _ood_labels_and_scores(in_scores, out_scores)
    return float(roc_auc_score(is_ood, scores))


def ood_detection_aupr(
    in_scores: ArrayLike, out_scores: ArrayLike, *, positive: str = "ood"
) -> float:
    """Area under the precision-recall curve (average precision) for OOD detection.

    Parameters
    ----------
    in_scores : array-like of shape (n_in,)
        Uncertainty of the in-distribution inputs (higher means more likely OOD).
    out_scores : array-like of shape (n_out,)
        Uncertainty of the out-of-distribution inputs.
    positive : {"ood", "in"}, default="ood"
        Which set is the positive class. ``"ood"`` ranks by uncertainty (AUPR-Out);
        ``"in"`` makes the in-distribution inputs positive and ranks by negated
        uncertainty (AUPR-In), as reported by the EnD² authors. Unlike the AUROC,
        the two differ, and their chance levels are the positive set's share.

    Returns
    -------
    aupr : float
        Average precision, :func:`sklearn.metrics.average_precision_score`.

    See Also
    --------
    ood_detection_auroc : The area under the ROC curve.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import ood_detection_aupr
    >>> in_u, out_u = [0.1, 0.5, 0.3, 0.2], [0.4, 0.9]
    >>> round(ood_detection_aupr(in_u, out_u), 3)
    0.833
    >>> round(ood_detection_aupr(in_u, out_u, positive="in"), 3)
    0.95
    """
    if positive not in ("ood", "in"):
        raise ValueError(f"positive must be 'ood' or 'in', got {positive!r}.")
    is_ood, scores = _ood_labels_and_scores(in_scores, out_scores)
    if positive == "in":
        return float(average_precision_score(1 - is_ood, -scores))
    return float(average_precision_score(is_ood, scores))
