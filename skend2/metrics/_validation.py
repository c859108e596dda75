"""Input checks shared by the metrics: scores, labels, probabilities, label columns.

Each public metric validates its arrays here, so that every metric accepts the
same inputs and fails with the same messages.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils.validation import column_or_1d


def _check_1d(values: ArrayLike, name: str) -> np.ndarray:
    """``values`` as a non-empty 1-D array."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be a 1-D array of shape (n_samples,), got shape {arr.shape}."
        )
    if arr.shape[0] == 0:
        raise ValueError(f"{name} is empty.")
    return arr


def check_scores(scores: ArrayLike, name: str) -> np.ndarray:
    """Return ``scores`` as a finite, non-empty 1-D float64 array."""
    arr = _check_1d(scores, name)
    try:
        arr = arr.astype(np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}.") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    return arr


def check_labels_1d(y: ArrayLike, name: str) -> np.ndarray:
    """Return the labels ``y`` as a non-empty 1-D array."""
    return column_or_1d(_check_1d(y, name))


def check_proba(y_prob: ArrayLike, name: str = "y_prob") -> np.ndarray:
    """Return ``y_prob`` as a finite 2-D float64 array of probabilities."""
    arr = np.asarray(y_prob)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D array of shape (n_samples, n_classes), "
            f"got shape {arr.shape}."
        )
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values.")
    # float32 softmax outputs can exceed 1 by rounding; tolerate that much.
    if np.any(arr < -1e-6) or np.any(arr > 1.0 + 1e-6):
        raise ValueError(f"{name} must contain probabilities in [0, 1].")
    return np.clip(arr, 0.0, 1.0)


def resolve_labels(
    y_true: np.ndarray, n_classes: int, labels: ArrayLike | None
) -> tuple[np.ndarray, np.ndarray]:
    """Map ``y_true`` to column indices of a probability matrix.

    Returns ``(labels, indices)`` where column ``k`` belongs to ``labels[k]``.
    """
    if labels is None:
        uniques = np.unique(y_true)
        is_integral = np.issubdtype(y_true.dtype, np.integer) or (
            np.issubdtype(y_true.dtype, np.floating) and np.all(np.mod(y_true, 1) == 0)
        )
        if (
            is_integral
            and not np.issubdtype(y_true.dtype, np.bool_)
            and uniques.min() >= 0
            and uniques.max() < n_classes
        ):
            # Integer labels index the columns directly, so a test set that
            # misses some classes is still understood (log_loss would fail here).
            labels = np.arange(n_classes)
        elif uniques.shape[0] == n_classes:
            # As sklearn.metrics.log_loss: sorted unique labels of y_true.
            labels = uniques
        else:
            raise ValueError(
                f"Cannot infer which of the {n_classes} columns of y_prob each of "
                f"the {uniques.shape[0]} distinct labels in y_true belongs to; "
                "pass labels (e.g. estimator.classes_)."
            )
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_classes:
        raise ValueError(
            f"labels must have one entry per column of y_prob ({n_classes}), "
            f"got shape {labels.shape}."
        )
    sorter = np.argsort(labels, kind="stable")
    sorted_labels = labels[sorter]
    if np.any(sorted_labels[1:] == sorted_labels[:-1]):
        raise ValueError("labels contains duplicate entries.")
    try:
        pos = np.clip(np.searchsorted(sorted_labels, y_true), 0, n_classes - 1)
        unknown = sorted_labels[pos] != y_true
    except TypeError as exc:  # e.g. string labels against integer y_true
        raise ValueError(
            f"y_true ({y_true.dtype}) cannot be compared with labels ({labels.dtype})."
        ) from exc
    if np.any(unknown):
        raise ValueError(
            f"y_true contains labels not in labels: {np.unique(y_true[unknown])[:5]}."
        )
    return labels, sorter[pos]
