"""Calibration and likelihood: ECE, negative log-likelihood and distillation NLL.

The ECE and NLL score a classifier's probabilities against the labels; the
distillation NLL scores a Prior Network student against its teacher's members
(the held-out EnD² loss).
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import log_loss
from sklearn.utils.validation import check_consistent_length

from ._validation import check_labels_1d, check_proba, resolve_labels


def expected_calibration_error(
    y_true: ArrayLike,
    y_prob: ArrayLike,
    *,
    n_bins: int = 15,
    labels: ArrayLike | None = None,
) -> float:
    r"""Top-label expected calibration error with equal-width confidence bins.

    .. math::

        \mathrm{ECE} = \sum_{b=1}^{B} \frac{|B_b|}{n}
        \left| \mathrm{acc}(B_b) - \mathrm{conf}(B_b) \right|,

    where the confidence of an input is its largest predicted probability, bin
    :math:`B_b` holds the inputs with confidence in
    :math:`((b - 1)/B, b/B]`, :math:`\mathrm{acc}` is the fraction of them whose
    top class is right and :math:`\mathrm{conf}` their mean confidence.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes)
        Predicted probabilities; column ``k`` belongs to ``labels[k]``.
    n_bins : int, default=15
        Number of equal-width bins on [0, 1].
    labels : array-like of shape (n_classes,), default=None
        The label of each column of ``y_prob`` (pass ``estimator.classes_``).
        If None: ``range(n_classes)`` when ``y_true`` holds integers in
        ``[0, n_classes)`` (so a test set missing some classes works), otherwise
        the sorted unique labels of ``y_true``, as
        :func:`sklearn.metrics.log_loss` does, which then must number
        ``n_classes``.

    Returns
    -------
    ece : float
        In [0, 1]; 0 means perfectly calibrated top-label confidences.

    See Also
    --------
    negative_log_likelihood, ece_scorer

    References
    ----------
    .. [1] C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of
       Modern Neural Networks", ICML 2017, arXiv:1706.04599.
    .. [2] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import expected_calibration_error
    >>> y_prob = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]
    >>> round(expected_calibration_error([0, 1, 1], y_prob, n_bins=10), 4)
    0.4
    >>> round(expected_calibration_error(
    ...     ["cat", "dog", "dog"], y_prob, labels=["cat", "dog"], n_bins=10), 4)
    0.4
    """
    if (
        not isinstance(n_bins, numbers.Integral)
        or isinstance(n_bins, bool)
        or n_bins < 1
    ):
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}.")
    y_true = check_labels_1d(y_true, "y_true")
    y_prob = check_proba(y_prob)
    check_consistent_length(y_true, y_prob)
    _, true_index = resolve_labels(y_true, y_prob.shape[1], labels)

    confidence = y_prob.max(axis=1)
    correct = (y_prob.argmax(axis=1) == true_index).astype(np.float64)
    # side="left" puts a confidence equal to an edge in the lower bin:
    # bins are (lower, upper] as in Guo et al.'s code.
    inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    bin_index = np.searchsorted(inner_edges, confidence, side="left")
    sum_correct = np.bincount(bin_index, weights=correct, minlength=n_bins)
    sum_confidence = np.bincount(bin_index, weights=confidence, minlength=n_bins)
    # |B_b|/n * |acc - conf| = |sum_correct - sum_conf| / n
    return float(np.abs(sum_correct - sum_confidence).sum() / y_true.shape[0])


def negative_log_likelihood(
    y_true: ArrayLike, y_prob: ArrayLike, labels: ArrayLike | None = None
) -> float:
    """Mean negative log-likelihood of the true labels (a thin ``log_loss`` wrapper).

    Calls :func:`sklearn.metrics.log_loss`, which clips the probabilities away
    from 0 and 1 itself. The only addition is the label handling shared with
    :func:`expected_calibration_error`: column ``k`` belongs to ``labels[k]``
    (even when ``labels`` is not sorted), and with ``labels=None`` integer labels
    in ``[0, n_classes)`` index the columns directly.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_prob : array-like of shape (n_samples, n_classes)
        Predicted probabilities; rows should sum to one.
    labels : array-like of shape (n_classes,), default=None
        The label of each column of ``y_prob``; see
        :func:`expected_calibration_error` for the default.

    Returns
    -------
    nll : float
        Mean over inputs of :math:`-\\ln p(y_i \\mid x_i)`, in nats.

    See Also
    --------
    sklearn.metrics.log_loss, expected_calibration_error

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.metrics import negative_log_likelihood
    >>> round(negative_log_likelihood([0, 2], [[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]]), 4)
    0.4581
    """
    y_true = check_labels_1d(y_true, "y_true")
    y_prob = check_proba(y_prob)
    check_consistent_length(y_true, y_prob)
    labels, _ = resolve_labels(y_true, y_prob.shape[1], labels)
    # log_loss assumes the columns in sorted label order (LabelBinarizer).
    order = np.argsort(labels, kind="stable")
    return float(log_loss(y_true, y_prob[:, order], labels=labels[order]))


def distillation_nll(
    member_logits: ArrayLike,
    student_logits: ArrayLike,
    *,
    concentration_offset: float = 0.0,
) -> float:
    r"""Held-out EnD² loss: Dirichlet NLL of the teacher's members under the student.

    The mean over inputs of
    :math:`-\frac{1}{M}\sum_m \ln \mathrm{Dir}(\pi^{(m)} \mid \alpha)` at
    temperature 1, with the members' probabilities smoothed towards uniform as in
    training; computed by :func:`skend2.losses.dirichlet_nll_loss` in float64.
    Lower means the student's Dirichlet explains the ensemble better.

    Parameters
    ----------
    member_logits : array-like of shape (n_samples, n_members, n_classes)
        The teacher members' logits.
    student_logits : array-like of shape (n_samples, n_classes)
        The student's logits :math:`z`.
    concentration_offset : float, default=0.0
        The student's concentrations are :math:`\alpha = e^z + \text{offset}`
        (0 for the EnD² loss, 1 for the Proxy-Dirichlet loss). The offset is
        folded into the logits passed to the loss as
        :math:`\ln(e^z + \text{offset})`.

    Returns
    -------
    nll : float
        Mean Dirichlet negative log-likelihood per input.

    See Also
    --------
    distillation_nll_scorer : The same as a ``GridSearchCV`` scorer.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076, Eq. 11.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.metrics import distillation_nll
    >>> member_logits = np.log([[[0.7, 0.2, 0.1], [0.6, 0.3, 0.1]]])
    >>> sharp = distillation_nll(member_logits, np.log([[65.0, 25.0, 10.0]]))
    >>> flat = distillation_nll(member_logits, np.log([[1.3, 0.5, 0.2]]))
    >>> bool(sharp < flat)
    True
    """
    member_logits = np.asarray(member_logits, dtype=np.float64)
    student_logits = np.asarray(student_logits, dtype=np.float64)
    if member_logits.ndim != 3:
        raise ValueError(
            "member_logits must have shape (n_samples, n_members, n_classes), "
            f"got {member_logits.shape}."
        )
    if student_logits.ndim != 2:
        raise ValueError(
            "student_logits must have shape (n_samples, n_classes), "
            f"got {student_logits.shape}."
        )
    if (
        member_logits.shape[0] != student_logits.shape[0]
        or member_logits.shape[2] != student_logits.shape[1]
    ):
        raise ValueError(
            f"member_logits {member_logits.shape} and student_logits "
            f"{student_logits.shape} disagree on n_samples or n_classes."
        )
    if member_logits.shape[0] == 0:
        raise ValueError("member_logits is empty.")
    if not (np.all(np.isfinite(member_logits)) and np.all(np.isfinite(student_logits))):
        raise ValueError("member_logits and student_logits must be finite.")
    if not np.isfinite(concentration_offset) or concentration_offset < 0:
        raise ValueError(
            "concentration_offset must be a finite number >= 0, "
            f"got {concentration_offset!r}."
        )

    import torch

    from skend2.losses import dirichlet_nll_loss

    if concentration_offset > 0:
        # alpha = exp(z) + offset  <=>  logits log(alpha), computed without overflow.
        student_logits = np.logaddexp(student_logits, np.log(concentration_offset))
    loss = dirichlet_nll_loss(
        torch.as_tensor(student_logits, dtype=torch.float64),
        torch.as_tensor(member_logits, dtype=torch.float64),
        temperature=1.0,
    )
    return float(loss)
