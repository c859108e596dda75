"""Prediction on Dask arrays: block by block on the workers, the model shipped once.

Imported only when a Dask collection reaches a predict method (Dask is the
optional ``dask`` extra). A Dask array of inputs, chunked along its rows, gives
a Dask array of outputs with the same row chunks; nothing is computed until
the caller asks. The fitted estimator enters the task graph once, as one
:func:`dask.delayed` object that every block task depends on: the scheduler
sends it to each worker once, not with every block, and each block is then
an ordinary NumPy call of the estimator (its batching, devices and threads).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError:  # the module stays importable (doctest collection)
    dask = da = None

from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

__all__: list[str] = []

# Index letters of blockwise: rows are "i", the input's other axes and the
# output's other axes get letters of their own.
_IN_AXES = "abcdefgh"
_OUT_AXES = "pqrstuvw"


def _require_dask() -> None:
    if da is None:
        raise ImportError(
            "skend2's Dask support needs dask: install it with "
            "`pip install skend2[dask]` (dask[array] and distributed)."
        )


def _as_row_chunked(X: Any, owner: str) -> da.Array:
    """X as a Dask array chunked along its rows only (one chunk across the rest)."""
    _require_dask()
    if not isinstance(X, da.Array):
        raise TypeError(
            f"{owner} accepts Dask arrays, not {type(X).__name__}; convert a Dask "
            "DataFrame with .to_dask_array(lengths=True)."
        )
    if X.ndim < 2:
        raise ValueError(
            f"{owner} needs a Dask array of shape (n_samples, ...) with at least "
            f"2 dimensions; got shape {X.shape}."
        )
    if any(len(c) > 1 for c in X.chunks[1:]):
        # A block must hold whole samples.
        X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    return X


def _shipped(estimator: Any) -> Any:
    """The estimator as one task of the graph (no hashing of its weights)."""
    return dask.delayed(estimator, name=f"skend2-model-{uuid.uuid4().hex}")


def _map_rows(
    function: Callable, X: da.Array, shipped: Any, row_shape: tuple, dtype, *args
) -> da.Array:
    """``function(block, estimator, *args)`` on every row block of X, lazily."""
    in_index = "i" + _IN_AXES[: X.ndim - 1]
    out_index = "i" + _OUT_AXES[: len(row_shape)]
    return da.blockwise(
        function,
        out_index,
        X,
        in_index,
        shipped,
        None,
        *[item for arg in args for item in (arg, None)],
        new_axes=dict(zip(out_index[1:], row_shape)),
        concatenate=True,
        dtype=dtype,
        meta=np.empty((0,) * len(out_index), dtype=dtype),
    )


def _check_samples(estimator: Any, X: da.Array) -> None:
    """Fail now, not inside a worker, on an unfitted model or a wrong shape."""
    check_is_fitted(estimator)
    if tuple(X.shape[1:]) != tuple(estimator.sample_shape_):
        raise ValueError(
            f"X has samples of shape {tuple(X.shape[1:])}, but "
            f"{type(estimator).__name__} was fitted on samples of shape "
            f"{tuple(estimator.sample_shape_)}."
        )


def _transform_block(block: np.ndarray, estimator: Any, transform: Callable):
    return estimator._predict_batches(block, transform)


def predict_batches(estimator: Any, X: Any, transform: Callable) -> da.Array:
    """``estimator._predict_batches`` on a Dask array: one task per row block.

    The shape and dtype of one output row come from a local forward pass on one
    zero sample, so the result's metadata is known without computing X.
    """
    X = _as_row_chunked(X, type(estimator).__name__)
    _check_samples(estimator, X)
    probe = np.zeros((1, *estimator.sample_shape_), dtype=np.float32)
    row = next(estimator._batches(probe, transform)).cpu().numpy()
    return _map_rows(
        _transform_block, X, _shipped(estimator), row.shape[1:], row.dtype, transform
    )


def _predict_block(block: np.ndarray, estimator: Any) -> np.ndarray:
    return estimator.predict(block)


def predict(estimator: Any, X: Any) -> da.Array:
    """Class labels of a Dask array of inputs, as a Dask array."""
    X = _as_row_chunked(X, type(estimator).__name__)
    _check_samples(estimator, X)
    dtype = np.asarray(estimator.classes_).dtype
    return _map_rows(_predict_block, X, _shipped(estimator), (), dtype)


def _uncertainty_block(
    block: np.ndarray, estimator: Any, measure: str | None, names: tuple
) -> np.ndarray:
    from ._measures import predict_uncertainty

    result = predict_uncertainty(estimator, block, measure=measure)
    if measure is not None:
        return np.asarray(result, dtype=np.float64)
    return np.stack([np.asarray(result[k], dtype=np.float64) for k in names], axis=1)


def predict_uncertainty(estimator: Any, X: Any, measure: str | None = None):
    """``skend2.predict_uncertainty`` on a Dask array, for an estimator or Pipeline.

    All measures are computed by one task per block (a (rows, n_measures)
    array); the Bunch holds a column of it per measure, so computing them
    together (``dask.compute(*bunch.values())``) runs the model once per block.
    """
    from ._measures import final_estimator

    final = final_estimator(estimator)
    names = tuple(getattr(final, "_uncertainty_measures", ()))
    if not names:
        raise TypeError(
            f"{type(final).__name__} has no predict_uncertainty; pass a fitted "
            "skend2 estimator or a Pipeline ending in one."
        )
    if measure is not None and measure not in names:
        raise ValueError(
            f"measure must be one of {list(names)} or None; got {measure!r}."
        )
    X = _as_row_chunked(X, type(final).__name__)
    check_is_fitted(final)
    if final is estimator:
        _check_samples(final, X)
    shipped = _shipped(estimator)
    if measure is not None:
        return _map_rows(_uncertainty_block, X, shipped, (), np.float64, measure, names)
    stacked = _map_rows(
        _uncertainty_block, X, shipped, (len(names),), np.float64, None, names
    )
    return Bunch(**{name: stacked[:, j] for j, name in enumerate(names)})
