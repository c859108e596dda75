"""Rebuilding a fitted estimator's skorch net on load: one builder per estimator.

``fit`` builds a network from the data. Loading builds the same skeleton from
the fitted attributes (``sample_shape_``, ``classes_``, ``training_``, the
teacher), wraps it in the same skorch net (``_make_net``, with the saved seed
and member settings) and loads the saved state dicts and history into it. No
weights are trusted to the skeleton: every tensor is checked and overwritten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from skorch.history import History

from ._codec import _corrupt
from .modules import MemberList, StackedEnsemble, build_module

__all__ = ["rebuild_net"]


def _ensemble_module(est: Any) -> tuple[torch.nn.Module, dict]:
    members = [
        build_module(
            est.module, est._params_for("module"), est.sample_shape_, len(est.classes_)
        )
        for _ in range(est.n_members)
    ]
    if est.training_ == "fused":
        return StackedEnsemble(members, sample_ndim=len(est.sample_shape_)), {}
    return MemberList(members), {}


def _student_module(est: Any) -> tuple[torch.nn.Module, dict]:
    module = est._build_student(est.teacher_, est.sample_shape_)
    return module, est._student_callbacks()


def _builder(est: Any) -> Callable[[Any], tuple[torch.nn.Module, dict]]:
    from ._distiller import _BaseDistiller
    from .ensemble import DeepEnsembleClassifier

    # An estimator that rebuilds its own skeleton (the regressors).
    own = getattr(type(est), "_rebuild_module", None)
    if callable(own):
        return own

    for cls, builder in (
        (DeepEnsembleClassifier, _ensemble_module),
        (_BaseDistiller, _student_module),
    ):
        if isinstance(est, cls):
            return builder
    raise TypeError(f"skend2.load cannot rebuild the network of {type(est).__name__}.")


def _optional_int(value: Any, what: str, path: str) -> int | None:
    if value is not None and type(value) is not int:
        raise _corrupt(f"the {what} of {path} is not an integer.")
    return value


def rebuild_net(est: Any, spec: Any, reader: Any, path: str) -> Any:
    """The skorch net of a fitted ``est``, with the weights and history of ``spec``.

    Parameters
    ----------
    est : skend2 estimator
        The estimator being loaded, its parameters and fitted attributes set.
    spec : dict
        The ``net`` entry of the file.
    reader : skend2._persistence._Reader
        Resolves the entry's JSON and tensors.
    path : str
        Where the net is in the file, for error messages.

    Returns
    -------
    net : skorch.NeuralNet
        An initialised net, as ``fit`` left it.
    """
    if not isinstance(spec, dict):
        raise _corrupt(f"a malformed network at {path}.")
    builder = _builder(est)
    try:
        # The skeleton's random initialisation is overwritten below; the global
        # RNG must not move because a model was loaded.
        with torch.random.fork_rng(devices=[]):
            module, callbacks = builder(est)
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise _corrupt(f"cannot rebuild the network of {path}: {exc}") from exc
    loss_scale = reader.value(spec.get("loss_scale"), path)
    if type(loss_scale) not in (int, float):
        raise _corrupt(f"the loss scale of {path} is not a number.")
    try:
        net = est._make_net(
            module,
            seed=_optional_int(spec.get("seed"), "seed", path),
            n_members=_optional_int(spec.get("n_members"), "member count", path),
            member=_optional_int(spec.get("member"), "member index", path),
            loss_scale=loss_scale,
            extra_callbacks=callbacks,
            **getattr(est, "_net_options", dict)(),
        )
        net.initialize()
    except (AttributeError, TypeError, ValueError, KeyError) as exc:
        raise _corrupt(f"cannot rebuild the network of {path}: {exc}") from exc
    reader.load_state(net.module_, spec.get("module"), f"{path}.module")
    reader.load_state(net.criterion_, spec.get("criterion"), f"{path}.criterion")
    optimizer = reader.value(spec.get("optimizer"), f"{path}.optimizer")
    try:
        net.optimizer_.load_state_dict(optimizer)
    except (
        AttributeError,
        KeyError,
        ValueError,
        TypeError,
        RuntimeError,
        IndexError,
    ) as exc:
        raise _corrupt(f"the optimizer state of {path} does not fit: {exc}") from exc
    history = reader.value(spec.get("history"), f"{path}.history")
    if not isinstance(history, list) or not all(isinstance(r, dict) for r in history):
        raise _corrupt(f"the training history of {path} is not a list of epochs.")
    net.history = History(history)
    return net
