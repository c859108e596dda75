"""Misclassification detection and rejection: AUROC, AUPR and the PRR.

How well an uncertainty measure ranks the wrong predictions above the right
ones, as reported in the EnD² paper's tables.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, roc_auc_score
from sklearn.utils.validation import check_consistent_length

from ._validation import check_labels_1d, check_scores


def _misclassified(y_true: ArrayLike, y_pred: ArrayLike) -> np.ndarray:
    y_true = check_labels_1d(y_true, "y_true")
    y_pred = check_labels_1d(y_pred, "y_pred")
    check_consistent_length(y_true, y_pred)
    return y_true != y_pred


def _misclassification_inputs(
    y_true: ArrayLike, y_pred: ArrayLike, uncertainty: ArrayLike
) -> tuple[np.ndarray, np.ndarray]:
    errors = _misclassified(y_true, y_pred)
    uncertainty = check_scores(uncertainty, "uncertainty")
    check_consistent_length(errors, uncertainty)
    n_errors = int(errors.sum())
    if n_errors == 0 or n_errors == errors.shape[0]:
        which = "none" if n_errors == 0 else "all"
        raise ValueError(
            f"Misclassification detection is undefined: {which} of the "
            f"{errors.shape[0]} inputs are misclassified (both correct and wrong "
            "predictions are needed)."
        )
    return errors, uncertainty


def misclassification_detection_auroc(
    y_true: ArrayLike, y_pred: ArrayLike, uncertainty: ArrayLike
) -> float:
    """AUROC of detecting misclassified inputs by their uncertainty.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    uncertainty : array-like of shape (n_samples,)
        Uncertainty of each prediction (higher means more likely wrong), e.g. the
        total uncertainty.

    Returns
    -------
    auroc : float
        ROC AUC with the misclassified inputs as positives.

    Raises
    ------
    ValueError
        If the lengths differ, ``uncertainty`` is not finite, or all or none of
        the inputs are misclassified (the AUROC is then undefined).

    See Also
    --------
    misclassification_detection_aupr, prediction_rejection_ratio

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import misclassification_detection_auroc
    >>> misclassification_detection_auroc(
    ...     [0, 1, 1, 0], [0, 1, 0, 1], [0.1, 0.2, 0.9, 0.4])
    1.0
    """
    errors, uncertainty = _misclassification_inputs(y_true, y_pred, uncertainty)
    return float(roc_auc_score(errors, uncertainty))


def misclassification_detection_aupr(
    y_true: ArrayLike, y_pred: ArrayLike, uncertainty: ArrayLike
) -> float:
    """Average precision of detecting misclassified inputs by their uncertainty.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    uncertainty : array-like of shape (n_samples,)
        Uncertainty of each prediction (higher means more likely wrong).

    Returns
    -------
    aupr : float
        :func:`sklearn.metrics.average_precision_score` with the misclassified
        inputs as positives (chance level: the error rate).

    Raises
    ------
    ValueError
        If the lengths differ, ``uncertainty`` is not finite, or all or none of
        the inputs are misclassified.

    See Also
    --------
    misclassification_detection_auroc, prediction_rejection_ratio

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import misclassification_detection_aupr
    >>> misclassification_detection_aupr(
    ...     [0, 1, 1, 0], [0, 1, 0, 1], [0.1, 0.2, 0.9, 0.4])
    1.0
    """
    errors, uncertainty = _misclassification_inputs(y_true, y_pred, uncertainty)
    return float(average_precision_score(errors, uncertainty))


def prediction_rejection_ratio(
    y_true: ArrayLike, y_pred: ArrayLike, uncertainty: ArrayLike
) -> float:
    r"""Prediction rejection ratio (PRR) of an uncertainty measure.

    The most uncertain predictions are handed to an oracle first; the error rate of
    the whole set (rejected inputs count as correct) is traced against the fraction
    rejected. The PRR compares the area between this curve and the random-rejection
    curve with the same area for the oracle ordering.

    With :math:`e_i = 1[y_i \neq \hat y_i]`, :math:`E = \sum_i e_i` errors among
    :math:`n` inputs, and :math:`e_{(1)}, \dots, e_{(n)}` ordered by decreasing
    uncertainty (a stable sort, so ties keep their input order), the error rate
    after rejecting :math:`k` inputs is

    .. math::

        R(k) = \frac{1}{n} \sum_{j > k} e_{(j)}, \qquad k = 0, \dots, n,

    at rejection fraction :math:`k/n`. Random rejection gives
    :math:`R_\mathrm{rnd}(k) = \frac{E}{n}(1 - \frac{k}{n})` and the oracle
    :math:`R_\mathrm{orc}(k) = \max(E - k, 0)/n`. With :math:`A` the trapezoidal
    area under a curve over :math:`[0, 1]` (:math:`A_\mathrm{rnd} = E / 2n`,
    :math:`A_\mathrm{orc} = E^2 / 2n^2`),

    .. math::

        \mathrm{PRR} = \frac{A_\mathrm{rnd} - A}{A_\mathrm{rnd} - A_\mathrm{orc}}.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    uncertainty : array-like of shape (n_samples,)
        Uncertainty of each prediction; the most uncertain are rejected first.

    Returns
    -------
    prr : float
        1 for the oracle ordering, about 0 for a random one, negative for an
        ordering worse than random (the authors report it times 100).

    Raises
    ------
    ValueError
        If the lengths differ, ``uncertainty`` is not finite, or all or none of
        the inputs are misclassified (the ratio is then undefined).

    See Also
    --------
    misclassification_detection_auroc

    Notes
    -----
    This is the measure of the EnD² evaluation (``reject_class`` in Malinin's
    ``PriorNetworks`` code), written as a closed form: that code's curve drops the
    last rejection point, which changes results by :math:`O(1/n)`.

    References
    ----------
    .. [1] A. Malinin, "Uncertainty Estimation in Deep Learning with application
       to Spoken Language Assessment", PhD thesis, University of Cambridge, 2019.
    .. [2] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import prediction_rejection_ratio
    >>> y_true, y_pred = [0, 0, 1, 1], [0, 1, 1, 0]
    >>> prediction_rejection_ratio(y_true, y_pred, [0.1, 0.8, 0.2, 0.9])
    1.0
    >>> prediction_rejection_ratio(y_true, y_pred, [0.9, 0.1, 0.8, 0.2])
    -1.0
    """
    errors, uncertainty = _misclassification_inputs(y_true, y_pred, uncertainty)
    n = errors.shape[0]
    n_errors = float(errors.sum())
    order = np.argsort(-uncertainty, kind="stable")
    rejected_errors = np.concatenate([[0.0], np.cumsum(errors[order], dtype=float)])
    curve = (n_errors - rejected_errors) / n  # R(k), k = 0..n
    # Trapezoid rule on the uniform grid k / n; curve[-1] is always 0.
    area = (curve.sum() - 0.5 * curve[0]) / n
    area_random = n_errors / (2.0 * n)
    area_oracle = n_errors**2 / (2.0 * n**2)
    return float((area_random - area) / (area_random - area_oracle))
