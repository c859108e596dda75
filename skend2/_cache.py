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
is fitted again with a warning, never executed. A missing entry is fitted under
a lock file beside it, so that processes sharing the cache (the workers of a
Dask or joblib grid search, on storage they all see) fit each teacher once.
"""

from __future__ import annotations

import contextlib
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
    # A classifier's members give one logit per class; a regressor says how
    # many raw outputs its members give.
    width = getattr(fitted, "n_member_outputs_", None) or len(fitted.classes_)
    shape = (n_members := fitted.n_members, width)
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


@contextlib.contextmanager
def _entry_lock(entry: Path):
    """Hold the lock of one cache entry: a single process fits a missing teacher.

    The lock is ``<location>/skend2_teacher_cache_locks/<key>.lock``.
    Workers that need the same teacher at the same time (the folds of a grid
    search on a cluster) wait for the first one to write it instead of fitting
    it again. ``fcntl.flock`` is released by the operating system when its
    process dies, so a crashed worker leaves no stale lock (on NFS, Linux
    maps it to a POSIX lock that the server enforces). Without ``fcntl``
    (Windows), or where the lock file cannot be created, nothing is locked:
    concurrent fits may then fit the same teacher twice, and the first entry
    written is kept.
    """
    try:
        import fcntl
    except ImportError:
        yield
        return
    try:
        # Beside the entries, not among them: a lock file outlives its lock.
        locks = entry.parent.with_name(_FOLDER + "_locks")
        locks.mkdir(parents=True, exist_ok=True)
        handle = open(locks / f"{entry.name}.lock", "a")
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_if_present(entry: Path, key: str, teacher: Any, X: Any, X_aux: Any):
    """The cached (teacher, logits, aux_logits), or None (a damaged entry removed)."""
    if not entry.exists():
        return None
    n_aux = None if X_aux is None else len(X_aux)
    try:
        return _read_entry(entry, key, teacher, len(X), n_aux)
    except Exception as exc:  # any damage means: fit again (Ctrl-C still stops)
        warnings.warn(
            f"Ignoring the cached teacher in {entry} ({exc}); fitting it again.",
            TeacherCacheWarning,
            stacklevel=5,
        )
        shutil.rmtree(entry, ignore_errors=True)
        return None


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
    cached = _read_if_present(entry, key, teacher, X, X_aux)
    if cached is not None:
        return cached
    with _entry_lock(entry):
        # Another process may have written the entry while this one waited.
        cached = _read_if_present(entry, key, teacher, X, X_aux)
        if cached is not None:
            return cached
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
