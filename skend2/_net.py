"""The skorch net that trains skend2's modules, and what happens around training.

``_Net`` is skorch's ``NeuralNet`` with skend2's checks in the training loop: a
non-finite loss stops the fit (divergence), a Ctrl-C is remembered so that the
estimator reports it, the logged loss is per member. Beside it: the dunder
prefixes routed to skorch (from skorch's own ``prefixes_``), the switch that
makes interrupts abort a fit, the devices torch can use, and the merging of
per-member histories.
"""

from __future__ import annotations

import contextlib
import contextvars
from numbers import Real
from typing import Any

import numpy as np
import torch
from skorch import NeuralNet
from skorch.history import History

__all__: list[str] = []

# The dunder prefixes of skorch's NeuralNet: its class-level ``prefixes_`` plus
# the components it registers at initialisation (module, criterion, optimizer).
# ``compile__*`` is left out: skend2 has no ``compile`` switch. ``module__*``
# builds skend2's networks (sizes inferred from the data); all other prefixes
# are passed on to the skorch net unchanged.
_PREFIXES = tuple(p for p in NeuralNet.prefixes_ if p != "compile") + (
    "module",
    "criterion",
    "optimizer",
)
_NET_PREFIXES = tuple(p for p in _PREFIXES if p != "module")

# Set while a fit must not survive a Ctrl-C (a distiller's teacher stage, a
# sequential member): the interrupt then propagates instead of stopping early.
_PROPAGATE_INTERRUPTS = contextvars.ContextVar(
    "skend2_propagate_interrupts", default=False
)


@contextlib.contextmanager
def interrupts_propagate():
    """Within this block, Ctrl-C during training aborts the fit (no early stop)."""
    token = _PROPAGATE_INTERRUPTS.set(True)
    try:
        yield
    finally:
        _PROPAGATE_INTERRUPTS.reset(token)


def _flush_denormal_is_on() -> bool:
    """torch has no getter: a product that is subnormal is 0 when flushing."""
    tiny = torch.tensor([1e-38], dtype=torch.float32) * torch.tensor([0.01])
    return bool(tiny.item() == 0.0)


def device_error(owner: str, device: Any) -> str | None:
    """Why torch cannot use ``device`` here, or None if it can."""
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError):
        return (
            f"The 'device' parameter of {owner} must be a torch device such as "
            f"'cpu' or 'cuda'. Got {device!r} instead."
        )
    if parsed.type == "cuda" and not torch.cuda.is_available():
        return (
            f"device={device!r} was requested but CUDA is not available on this "
            "machine; use device='cpu'."
        )
    try:
        torch.empty(0, device=parsed)
    except (RuntimeError, AssertionError) as exc:
        return (
            f"device={device!r} cannot be used by torch on this machine "
            f"({str(exc).splitlines()[0]}); use device='cpu'."
        )
    return None


# Names under which skend2 adds its own callbacks, so that ``callbacks__<name>__*``
# reaches them as it reaches the user's.
ANNEALING_CALLBACK = "annealing"
GRADIENT_CLIP_CALLBACK = "gradient_clip"


class _Net(NeuralNet):
    """skorch's NeuralNet, fed by :class:`BatchIterator` and validated by skend2.

    Input checks happen once in the estimator's ``fit``; the loss reported in the
    history is divided by ``loss_scale`` (the number of members of a fused
    ensemble, whose summed loss gives every member its own exact gradient).
    """

    def __init__(
        self, *args, loss_scale: float = 1.0, owner: str = "skend2", **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.loss_scale = loss_scale
        self.owner = owner

    def check_data(self, X, y=None) -> None:
        pass

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        # skorch's partial_fit swallows KeyboardInterrupt (an early stop that
        # keeps the model); remember it, so that the estimator says so.
        self.interrupted_ = False
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except KeyboardInterrupt:
            self.interrupted_ = True
            raise

    def train_step_single(self, batch, **fit_params) -> dict:
        step = super().train_step_single(batch, **fit_params)
        loss = step["loss"].detach() / self.loss_scale
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"{self.owner} diverged in epoch {len(self.history)} of "
                f"{self.max_epochs}: the training loss is {float(loss)}. Likely "
                f"causes: a learning rate too high (lr={self.lr}), inputs not "
                "scaled (put a StandardScaler before it), or a module that "
                "outputs non-finite values. The estimator is left as it was "
                "before fit."
            )
        step["loss"] = loss
        return step

    def validation_step(self, batch, **fit_params) -> dict:
        step = super().validation_step(batch, **fit_params)
        step["loss"] = step["loss"] / self.loss_scale
        return step


def merge_histories(
    histories: list[History],
    weights: list[float] | None = None,
    prefix: str = "member",
) -> History:
    """One history for members trained one by one: an epoch row per epoch.

    Each row has the mean over members of every numeric column they share
    (``train_loss``, ``valid_loss``, ...; ``dur`` is summed, the members' time)
    and the per-member values as ``member_<column>`` lists. Histories of groups
    of members pass the group sizes as ``weights`` (a weighted mean: the mean
    over all members) and ``prefix="group"`` (``group_<column>`` lists).
    """
    if weights is None:
        weights = [1.0] * len(histories)
    merged = History()
    for rows in zip(*histories):
        merged.new_epoch()
        merged.record("epoch", rows[0]["epoch"])
        shared = set.intersection(*(set(r) for r in rows)) - {"epoch", "batches"}
        for key in sorted(shared):
            values = [r[key] for r in rows]
            if not all(isinstance(v, Real) and not isinstance(v, bool) for v in values):
                continue
            if key == "dur":
                merged.record(key, float(np.sum(values)))
            else:
                merged.record(key, float(np.average(values, weights=weights)))
            merged.record(f"{prefix}_{key}", [float(v) for v in values])
    return merged
