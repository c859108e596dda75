"""Safe persistence: ``skend2.save`` and ``skend2.load``, without pickle.

This module owns the skend2 file format. A file is one safetensors file: its
tensors are every weight of the estimator (and the optimiser's state, for
``warm_start``); its header metadata holds, as JSON, everything else:
parameters, fitted attributes (``classes_`` of any label type,
``feature_names_in_``, ``sample_shape_``, ...), the training history and the
versions that wrote it (see ``_codec`` for the JSON and the trust policy,
``_rebuild`` for how networks are rebuilt). The scikit-learn steps of a
Pipeline travel as a skops blob (:mod:`skops.io`, audited with the same
``trusted=`` list), stored in the same file as a uint8 tensor: skops itself
cannot carry torch tensors, so skend2 steps are written by this module.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.pipeline import Pipeline

from ._codec import (
    File,
    Trusted,
    UntrustedTypesError,
    _corrupt,
    _is_skend2_estimator,
    _named_types,
    _Reader,
    _trusted_by_default,
    _trusted_names,
    _Writer,
)

__all__ = ["save", "load", "get_untrusted_types"]

FORMAT = "skend2"
FORMAT_VERSION = 1
_METADATA_KEY = "skend2"
_PIPELINE_TENSOR = "pipeline.skops"
# safetensors refuses headers larger than this; so do we, before parsing.
_MAX_HEADER_BYTES = 100_000_000


# -- the file ------------------------------------------------------------------
def _versions() -> dict[str, str]:
    import safetensors
    import sklearn
    import skorch

    import skend2

    return {
        "skend2": skend2.__version__,
        "torch": torch.__version__,
        "skorch": skorch.__version__,
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
    }


def _read_bytes(file: File) -> bytes:
    if isinstance(file, (str, os.PathLike)):
        return Path(file).read_bytes()
    data = file.read()
    if not isinstance(data, bytes):
        raise TypeError("file must be a path or a file opened in binary mode.")
    return data


def _read_document(data: bytes) -> dict:
    """The JSON document in a safetensors header, with its format checked."""
    if len(data) < 8:
        raise _corrupt("the file is empty or truncated.")
    size = int.from_bytes(data[:8], "little")
    if size > min(len(data) - 8, _MAX_HEADER_BYTES):
        raise _corrupt("the file is truncated or is not a safetensors file.")
    try:
        header = json.loads(data[8 : 8 + size])
        document = json.loads(header["__metadata__"][_METADATA_KEY])
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise _corrupt(
            "it has no skend2 header (not written by skend2.save, or damaged)."
        ) from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise _corrupt("it has no skend2 header.")
    version = document.get("format_version")
    if type(version) is not int:
        raise _corrupt("its format version is missing.")
    if version > FORMAT_VERSION:
        writer = document.get("versions", {}).get("skend2", "a newer version")
        raise ValueError(
            f"The file was written by skend2 {writer} in format version {version}; "
            f"this skend2 reads format versions up to {FORMAT_VERSION}. Upgrade "
            f"skend2 to {writer} or later to load it."
        )
    return document


def _read(file: File) -> tuple[dict, dict[str, torch.Tensor]]:
    from safetensors import SafetensorError
    from safetensors.torch import load as load_tensors

    data = _read_bytes(file)
    document = _read_document(data)
    try:
        tensors = load_tensors(data)
    except SafetensorError as exc:
        raise _corrupt(f"the file is truncated or damaged ({exc}).") from exc
    return document, tensors


def _untrusted(document: dict, tensors: dict, trusted: set[str]) -> set[str]:
    names = {
        f"{m}.{n}" for m, n in _named_types(document) if not _trusted_by_default(m, n)
    }
    if _PIPELINE_TENSOR in tensors:
        import skops.io

        try:
            names |= set(skops.io.get_untrusted_types(data=_blob(tensors)))
        except Exception as exc:  # skops raises many types on a damaged blob
            raise _corrupt(f"its pipeline part is damaged ({exc}).") from exc
    return names - trusted


def _blob(tensors: dict) -> bytes:
    return tensors[_PIPELINE_TENSOR].numpy().tobytes()


def _pipeline_root(pipeline: Pipeline, writer: _Writer) -> dict:
    import skops.io

    steps, skeleton_steps = {}, []
    for i, (name, step) in enumerate(pipeline.steps):
        if _is_skend2_estimator(step):
            steps[str(i)] = writer.estimator(step, f"steps[{i}]")
            step = "passthrough"
        elif hasattr(step, "get_params") and any(
            _is_skend2_estimator(v) for v in step.get_params(deep=True).values()
        ):
            raise TypeError(
                f"Cannot save step {name!r}: it holds a skend2 estimator inside "
                "another scikit-learn object; only the steps of a Pipeline can "
                "be skend2 estimators."
            )
        skeleton_steps.append((name, step))
    skeleton = copy.copy(pipeline)
    skeleton.steps = skeleton_steps
    blob = skops.io.dumps(skeleton)
    writer.tensors[_PIPELINE_TENSOR] = torch.frombuffer(
        bytearray(blob), dtype=torch.uint8
    )
    return {"__pipeline__": {"steps": steps}}


def _load_pipeline(node: Any, reader: _Reader) -> Pipeline:
    import skops.io

    if not isinstance(node, dict) or not isinstance(node.get("steps"), dict):
        raise _corrupt("a malformed pipeline.")
    if _PIPELINE_TENSOR not in reader.tensors:
        raise _corrupt("its pipeline part is missing.")
    reader.used.add(_PIPELINE_TENSOR)
    pipeline = skops.io.loads(_blob(reader.tensors), trusted=sorted(reader.trusted))
    if not isinstance(pipeline, Pipeline):
        raise _corrupt("its pipeline part is not a Pipeline.")
    for index, spec in node["steps"].items():
        i = int(index) if str(index).isdigit() else -1
        if not 0 <= i < len(pipeline.steps) or pipeline.steps[i][1] != "passthrough":
            raise _corrupt(f"the pipeline has no free step {index!r}.")
        est = reader.value(spec, f"steps[{i}]")
        if not _is_skend2_estimator(est):
            raise _corrupt(f"step {i} is not a skend2 estimator.")
        pipeline.steps[i] = (pipeline.steps[i][0], est)
    return pipeline


# -- public functions ----------------------------------------------------------
def save(estimator: Any, file: File) -> None:
    """Save a skend2 estimator (or a Pipeline ending in one) without pickle.

    The file is a safetensors file: every weight is a tensor, and everything
    else (parameters, ``classes_``, the training history, the versions of
    skend2 and torch) is JSON in its header. A distiller's teacher is saved
    with it. Load it with :func:`load`.

    Parameters
    ----------
    estimator : skend2 estimator or sklearn.pipeline.Pipeline
        A fitted (or unfitted) :class:`~skend2.DeepEnsembleClassifier`,
        :class:`~skend2.EnsembleDistiller` or :class:`~skend2.PriorNetworkDistiller`,
        or a Pipeline whose skend2 steps are such estimators and whose other
        steps scikit-learn objects (saved with :mod:`skops.io`).
    file : str, path-like or binary file object
        Where to write. An existing file is replaced.

    See Also
    --------
    load : Load a saved estimator.
    get_untrusted_types : The types a file names that are not trusted by default.

    Examples
    --------
    >>> import io
    >>> from sklearn.datasets import load_iris
    >>> import skend2
    >>> X, y = load_iris(return_X_y=True)
    >>> model = skend2.DeepEnsembleClassifier(n_members=2, max_epochs=2,
    ...                                       random_state=0).fit(X, y)
    >>> buffer = io.BytesIO()
    >>> skend2.save(model, buffer)
    >>> _ = buffer.seek(0)
    >>> (skend2.load(buffer).predict_proba(X) == model.predict_proba(X)).all()
    np.True_
    """
    from safetensors.torch import save as save_tensors

    writer = _Writer()
    if isinstance(estimator, Pipeline):
        root = _pipeline_root(estimator, writer)
    elif _is_skend2_estimator(estimator):
        root = writer.estimator(estimator, "estimator")
    else:
        raise TypeError(
            "skend2.save saves skend2 estimators and Pipelines with skend2 steps; "
            f"got {type(estimator).__name__}. Save other objects with skops.io."
        )
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "versions": _versions(),
        "root": root,
    }
    data = save_tensors(writer.tensors, metadata={_METADATA_KEY: json.dumps(document)})
    if not isinstance(file, (str, os.PathLike)):
        file.write(data)
        return
    # Written next to the target, then renamed: a crash never leaves half a file.
    path = Path(file)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def load(file: File, *, trusted: Trusted = None, device: str | None = None) -> Any:
    """Load an estimator saved by :func:`save`, without running code from the file.

    Every class or function that the file names is imported only if it is
    skend2's, skorch's, ``torch.nn``'s or ``torch.optim``'s, or is listed in
    ``trusted``; scikit-learn steps of a Pipeline are checked by
    :mod:`skops.io` against the same list. Anything else is refused before
    anything is imported.

    Parameters
    ----------
    file : str, path-like or binary file object
        A file written by :func:`save`.
    trusted : list of str or type, default=None
        Further types (or functions) to trust, e.g. your own module class: the
        types themselves, or their names as listed by :func:`get_untrusted_types`.
    device : str, default=None
        The torch device to load the weights on (and the ``device`` parameter
        of the loaded estimators), e.g. ``"cpu"`` for a model trained on a GPU.
        ``None`` keeps the saved device, or uses the CPU with a warning when a
        CUDA-trained model is loaded where CUDA is not available.

    Returns
    -------
    estimator : skend2 estimator or sklearn.pipeline.Pipeline
        The saved estimator, predicting exactly as it did when saved; it can
        continue training with ``warm_start=True``.

    Raises
    ------
    UntrustedTypesError
        If the file names types that are not trusted (a ``TypeError``).
    ValueError
        If the file is truncated, damaged, not a skend2 file, or written in a
        newer format version.

    See Also
    --------
    save : Save an estimator.
    get_untrusted_types : List what ``trusted`` would need before loading.

    Examples
    --------
    >>> import skend2
    >>> model = skend2.load("model.skend2", device="cpu")  # doctest: +SKIP
    """
    document, tensors = _read(file)
    trusted_names = _trusted_names(trusted)
    untrusted = _untrusted(document, tensors, trusted_names)
    if untrusted:
        raise UntrustedTypesError(untrusted)
    reader = _Reader(tensors, trusted_names, device)
    root = document.get("root")
    if isinstance(root, dict) and set(root) == {"__pipeline__"}:
        estimator = _load_pipeline(root["__pipeline__"], reader)
    else:
        estimator = reader.value(root, "estimator")
        if not _is_skend2_estimator(estimator):
            raise _corrupt("it does not hold a skend2 estimator.")
    unused = sorted(set(tensors) - reader.used)
    if unused:
        raise _corrupt(f"it holds tensors that the model does not use: {unused[:5]}.")
    return estimator


def get_untrusted_types(file: File) -> list[str]:
    """List the types a saved file names that :func:`load` does not trust by default.

    Nothing is imported or built: the file's JSON header (and, for a Pipeline,
    its skops part) is only read. Check the names, then pass those you trust as
    ``load(file, trusted=...)``.

    Parameters
    ----------
    file : str, path-like or binary file object
        A file written by :func:`save`.

    Returns
    -------
    names : list of str
        Fully qualified names (``"mypackage.nets.MyNet"``), sorted; empty when
        the file names only trusted types.

    See Also
    --------
    load : Load a saved estimator.

    Examples
    --------
    >>> import skend2
    >>> skend2.get_untrusted_types("model.skend2")  # doctest: +SKIP
    ['mypackage.nets.MyNet']
    """
    document, tensors = _read(file)
    return sorted(_untrusted(document, tensors, set()))
