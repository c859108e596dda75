"""Progress of a long fit: one bar per training stage, epochs done of total.

``verbose=1`` shows which stage is training (the ensemble, member k of M, the
student), the epochs done of ``max_epochs``, the last training loss, and the
elapsed and remaining time (tqdm, which skorch already depends on);
``verbose=2`` prints skorch's per-epoch table instead; ``verbose=0`` is silent.
"""

from __future__ import annotations

import sys

import tqdm
from skorch.callbacks import Callback

__all__: list[str] = []


class EpochProgress(Callback):
    """A tqdm bar over epochs, labelled with the stage being trained."""

    def __init__(self, stage: str) -> None:
        self.stage = stage

    def on_train_begin(self, net, **kwargs) -> None:
        done = len(net.history)
        self.bar_ = tqdm.tqdm(
            total=done + net.max_epochs,
            initial=done,
            desc=self.stage,
            unit="epoch",
            file=sys.stderr,
            leave=True,
            dynamic_ncols=True,
        )

    def on_epoch_end(self, net, **kwargs) -> None:
        loss = net.history[-1].get("train_loss")
        if loss is not None:
            self.bar_.set_postfix(loss=f"{loss:.4g}", refresh=False)
        self.bar_.update(1)

    def on_train_end(self, net, **kwargs) -> None:
        bar = getattr(self, "bar_", None)
        if bar is not None:
            bar.close()
            del self.bar_

    def __getstate__(self) -> dict:
        # An open bar holds a stream; a pickled net never needs it.
        state = dict(vars(self))
        state.pop("bar_", None)
        return state
