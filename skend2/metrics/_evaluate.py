"""One-call evaluation of a fitted classifier, as in the EnD² paper's tables.

:func:`evaluate_classifier` gathers the other metrics; the uncertainty it scores
comes from :func:`skend2.metrics._uncertainty_scores.uncertainty_scores`, as the
scorers' does.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import entropy
from sklearn.metrics import brier_score_loss
from sklearn.utils.validation import check_consistent_length

from ._calibration import expected_calibration_error, negative_log_likelihood
from ._misclassification import (
    misclassification_detection_aupr,
    misclassification_detection_auroc,
    prediction_rejection_ratio,
)
from ._ood import ood_detection_aupr, ood_detection_auroc
from ._uncertainty_scores import uncertainty_scores
from ._validation import check_labels_1d


def evaluate_classifier(
    estimator: Any,
    X_test: ArrayLike,
    y_test: ArrayLike,
    X_ood: ArrayLike | None = None,
    *,
    measures: Iterable[str] | None = None,
) -> dict[str, float]:
    """Evaluate a fitted classifier as in the EnD² paper's tables.

    Parameters
    ----------
    estimator : fitted classifier
        Needs ``predict``, ``predict_proba`` and ``classes_``; its
        ``predict_uncertainty`` Bunch gives the uncertainty measures (without one,
        the entropy of ``predict_proba`` serves as the only measure, ``"total"``).
        A Pipeline ending in an skend2 estimator works.
    X_test : array-like of shape (n_samples, n_features)
        In-distribution test inputs.
    y_test : array-like of shape (n_samples,)
        Their labels.
    X_ood : array-like of shape (n_ood, n_features), default=None
        Out-of-distribution inputs; if given, OOD detection is scored.
    measures : iterable of str, default=None
        Uncertainty measures to score OOD detection with; None means all the
        estimator returns.

    Returns
    -------
    results : dict of str to float
        ``"error"`` (misclassification rate in %), ``"nll"``
        (:func:`negative_log_likelihood`), ``"ece"``
        (:func:`expected_calibration_error`, 15 bins), ``"brier"`` (mean over
        inputs of the squared distance between one-hot label and probabilities,
        summed over classes, in [0, 2]), ``"misclassification_auroc"``,
        ``"misclassification_aupr"`` and ``"prr"`` (using the total uncertainty;
        NaN with a warning when all or no predictions are wrong) and, with
        ``X_ood``, ``"ood_auroc_<measure>"`` and ``"ood_aupr_<measure>"`` (OOD
        positive) for each measure, oriented so that higher always means more
        uncertain (a Dirichlet's ``precision`` grows with confidence and is
        negated); ``"ood_auroc_<measure>"`` equals the value of
        :func:`ood_auroc_scorer` for that measure.

    See Also
    --------
    expected_calibration_error, prediction_rejection_ratio, ood_detection_auroc,
    ood_auroc_scorer

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skend2.metrics import evaluate_classifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X / 16
    >>> clf = LogisticRegression(max_iter=200).fit(X[y < 5][::2], y[y < 5][::2])
    >>> res = evaluate_classifier(clf, X[y < 5][1::2], y[y < 5][1::2], X[y >= 5])
    >>> sorted(res)  # doctest: +NORMALIZE_WHITESPACE
    ['brier', 'ece', 'error', 'misclassification_aupr', 'misclassification_auroc',
     'nll', 'ood_aupr_total', 'ood_auroc_total', 'prr']
    >>> res["error"] < 5.0
    True
    """
    y_test = check_labels_1d(y_test, "y_test")
    classes = np.asarray(estimator.classes_)
    proba = estimator.predict_proba(X_test)
    y_pred = np.asarray(estimator.predict(X_test))
    check_consistent_length(y_test, proba, y_pred)

    results: dict[str, float] = {
        "error": 100.0 * float(np.mean(y_pred != y_test)),
        "nll": negative_log_likelihood(y_test, proba, labels=classes),
        "ece": expected_calibration_error(y_test, proba, labels=classes),
        "brier": float(
            brier_score_loss(y_test, proba, labels=classes, scale_by_half=False)
        ),
    }

    test_uncertainty = uncertainty_scores(estimator, X_test)
    if "total" in test_uncertainty:
        total = test_uncertainty["total"]
    else:
        total = entropy(proba, axis=1)
    n_errors = int(np.sum(y_pred != y_test))
    if 0 < n_errors < y_test.shape[0]:
        results["misclassification_auroc"] = misclassification_detection_auroc(
            y_test, y_pred, total
        )
        results["misclassification_aupr"] = misclassification_detection_aupr(
            y_test, y_pred, total
        )
        results["prr"] = prediction_rejection_ratio(y_test, y_pred, total)
    else:
        warnings.warn(
            f"{n_errors} of {y_test.shape[0]} test predictions are wrong: "
            "misclassification AUROC/AUPR and PRR are undefined and set to NaN.",
            UserWarning,
            stacklevel=2,
        )
        for key in ("misclassification_auroc", "misclassification_aupr", "prr"):
            results[key] = float("nan")

    if X_ood is not None:
        ood_uncertainty = uncertainty_scores(estimator, X_ood)
        names = list(test_uncertainty) if measures is None else list(measures)
        missing = [m for m in names if m not in test_uncertainty]
        if missing:
            raise ValueError(
                f"Unknown uncertainty measure(s) {missing}; the estimator returns "
                f"{list(test_uncertainty)}."
            )
        for name in names:
            in_scores, out_scores = test_uncertainty[name], ood_uncertainty[name]
            results[f"ood_auroc_{name}"] = ood_detection_auroc(in_scores, out_scores)
            results[f"ood_aupr_{name}"] = ood_detection_aupr(in_scores, out_scores)
    return results
