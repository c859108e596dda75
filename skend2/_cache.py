"""The teacher cache behind a distiller's ``memory=``: no pickle, version-keyed.

A grid search over a student's settings must not refit the same teacher on the
same fold. ``memory`` names where to keep fitted teachers (a path or a
``joblib.Memory``, as for ``Pipeline``); this module owns what is kept there:
one folder per entry, ``<location>/skend2_teacher_cache/<key>/``, with the
teacher in skend2's safe format (:func:`skend2.save`), its members' logits as
``.npy`` files read with ``allow_pickle=False``, and a ``meta.json`` written
last. The key hashes the teacher's class and full parameters, the data, and the
versions of skend2, torch, skorch, scikit-learn and this cache's layout, so an
upgrade never reuses a stale teacher. Loading trusts only the types the live
teacher itself uses; an entry that is damaged, foreign or from another version
is fitted again with a warning, never executed.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import numpy as np

from ._codec import _named_types, _Writer
from ._persistence import _versions, load, save

__all__ = ["cached_teacher_fit"]

CACHE_LAYOUT = 1
_FOLDER = "skend2_teacher_cache"
_TEACHER = "teacher.skend2"
_META = "meta.json"


class TeacherCacheWarning(UserWarning):
    """A cached teacher was ignored (damaged, foreign, or not writable)."""


def _versions_key() -> dict[str, Any]:
    return {"layout": CACHE_LAYOUT, **_versions()}


def _key(teacher: Any, X: Any, y: Any, X_aux: Any) -> str:
    cls = type(teacher)
    return joblib.hash(
        [
            _versions_key(),
            f"{cls.__module__}.{cls.__qualname__}",
            teacher.get_params(deep=False),
            X,
            y,
            X_aux,
        ]
    )


def _types_of(teacher: Any) -> list[str]:
    """The names the teacher's own parameters refer to: all a cache file may use."""
    document = _Writer().estimator(teacher, "teacher")
    return sorted({f"{module}.{name}" for module, name in _named_types(document)})


def _read_entry(entry: Path, key: str, teacher: Any, n_rows: int, n_aux: int | None):
    meta = json.loads((entry / _META).read_text())
    if meta != {"key": key, "versions": _versions_key()}:
        raise ValueError("it was written for other inputs or other versions")
    fitted = load(entry / _TEACHER, trusted=_types_of(teacher))
    if type(fitted) is not type(teacher):
        raise ValueError(f"it holds a {type(fitted).__name__}")
    logits = np.load(entry / "logits.npy", allow_pickle=False)
    aux_file = entry / "aux_logits.npy"
    aux_logits = np.load(aux_file, allow_pickle=False) if aux_file.exists() else None
    shape = (n_members := fitted.n_members, len(fitted.classes_))
    if logits.shape != (n_rows, *shape) or (aux_logits is None) != (n_aux is None):
        raise ValueError("its logits do not match the data")
    if aux_logits is not None and aux_logits.shape != (n_aux, n_members, shape[1]):
        raise ValueError("its auxiliary logits do not match the data")
    return fitted, logits, aux_logits


def _write_entry(entry: Path, key: str, teacher, logits, aux_logits) -> None:
    partial = entry.with_name(f".{entry.name}.{uuid.uuid4().hex}.partial")
    partial.mkdir(parents=True)
    try:
        save(teacher, partial / _TEACHER)
        np.save(partial / "logits.npy", np.asarray(logits), allow_pickle=False)
        if aux_logits is not None:
            np.save(
                partial / "aux_logits.npy", np.asarray(aux_logits), allow_pickle=False
            )
        meta = {"key": key, "versions": _versions_key()}
        (partial / _META).write_text(json.dumps(meta))
        if not entry.exists():  # else a concurrent fit wrote the same entry
            os.replace(partial, entry)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def cached_teacher_fit(
    memory: Any, fit_teacher: Callable, teacher: Any, X: Any, y: Any, X_aux: Any
) -> tuple[Any, np.ndarray, np.ndarray | None]:
    """``fit_teacher(teacher, X, y, X_aux)``, through the cache that ``memory`` names.

    Parameters
    ----------
    memory : joblib.Memory or object with a ``cache`` method
        As returned by :func:`sklearn.utils.validation.check_memory`. A
        ``joblib.Memory`` without a location disables caching; one with a
        location holds skend2's safe cache. Any other object's own ``cache``
        method is used as it is (its safety is its author's).
    fit_teacher : callable
        Fits a clone of the teacher and returns ``(teacher, logits, aux_logits)``.
    teacher : DeepEnsembleClassifier
        An unfitted clone of the teacher.
    X, y, X_aux : array-like
        The distiller's training data (``X_aux`` may be None).

    Returns
    -------
    teacher, logits, aux_logits
        The fitted teacher and its members' logits on X (and X_aux).
    """
    if not isinstance(memory, joblib.Memory):
        return memory.cache(fit_teacher)(teacher, X, y, X_aux)
    if memory.location is None:
        return fit_teacher(teacher, X, y, X_aux)
    try:
        key = _key(teacher, X, y, X_aux)
        entry = Path(memory.location) / _FOLDER / key
    except Exception as exc:  # an unhashable parameter: fit without the cache
        warnings.warn(
            f"memory= cannot cache this teacher ({exc}); it is fitted anew.",
            TeacherCacheWarning,
            stacklevel=4,
        )
        return fit_teacher(teacher, X, y, X_aux)
    if entry.exists():
        n_aux = None if X_aux is None else len(X_aux)
        try:
            return _read_entry(entry, key, teacher, len(X), n_aux)
        except Exception as exc:  # any damage means: fit again (Ctrl-C still stops)
            warnings.warn(
                f"Ignoring the cached teacher in {entry} ({exc}); fitting it again.",
                TeacherCacheWarning,
                stacklevel=4,
            )
            shutil.rmtree(entry, ignore_errors=True)
    result = fit_teacher(teacher, X, y, X_aux)
    try:
        _write_entry(entry, key, *result)
    except Exception as exc:  # a full disk or a module that cannot be saved
        warnings.warn(
            f"Could not cache the fitted teacher in {entry} ({exc}).",
            TeacherCacheWarning,
            stacklevel=4,
        )
    return result
