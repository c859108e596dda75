"""Metrics and scikit-learn scorers for calibration, rejection and OOD detection.

Classification and regression (``_regression``: NLL, interval coverage,
rejection curves and :func:`evaluate_regressor`).
"""

from . import _scorers
from ._calibration import (
    distillation_nll,
    expected_calibration_error,
    negative_log_likelihood,
)
from ._evaluate import evaluate_classifier
from ._misclassification import (
    misclassification_detection_aupr,
    misclassification_detection_auroc,
    prediction_rejection_ratio,
)
from ._ood import ood_detection_aupr, ood_detection_auroc
from ._regression import (
    evaluate_regressor,
    interval_coverage,
    predictive_nll,
    rejection_auc,
    rejection_curve,
)
from ._scorers import (
    distillation_nll_scorer,
    ece_scorer,
    get_scorer,
    ood_auroc_scorer,
)

SCORERS = _scorers.SCORERS
"""skend2's named scorers (greater is better); see :func:`get_scorer`."""

__all__ = [
    "SCORERS",
    "distillation_nll",
    "distillation_nll_scorer",
    "ece_scorer",
    "evaluate_classifier",
    "expected_calibration_error",
    "get_scorer",
    "misclassification_detection_aupr",
    "misclassification_detection_auroc",
    "negative_log_likelihood",
    "ood_auroc_scorer",
    "ood_detection_aupr",
    "ood_detection_auroc",
    "prediction_rejection_ratio",
    "predictive_nll",
    "interval_coverage",
    "rejection_curve",
    "rejection_auc",
    "evaluate_regressor",
]
