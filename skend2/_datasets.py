"""torch Datasets as inputs: checks, targets, and reading them batch by batch.

A ``torch.utils.data.Dataset`` yielding ``(x, y)`` pairs is accepted wherever
arrays are (as skorch's ``fit(dataset, y=None)``). It is never materialised:
training reads the items of each minibatch through a ``DataLoader``
(``iterator_train__*`` options: ``num_workers``, ``pin_memory``, ...) and
prediction reads it in order (``iterator_valid__*``). Arrays keep their own
path, unchanged: tensors indexed by whole batches.

Per-member views: the fused ensemble draws, as for arrays, one permutation of
the rows per member; a minibatch of M members holds M × batch_size row indices,
and ``__getitem__`` is called once for each of them, so every member gets its
own draw of the dataset's random transforms (its own augmented view), even of
a row that two members happen to draw in the same step. The cost: M times the
item reads and transforms of one network's epoch (what training the members
one by one from the Dataset costs too).
"""

from __future__ import annotations

import contextlib
import gc
from numbers import Number
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, IterableDataset

__all__: list[str] = []

# The DataLoader options that iterator_train__* / iterator_valid__* may set for
# Dataset inputs (arrays are batched by indexing tensors and ignore them).
LOADER_OPTIONS = {
    "num_workers": 0,
    "pin_memory": False,
    "timeout": 0,
    "worker_init_fn": None,
    "multiprocessing_context": None,
    "prefetch_factor": None,
    "persistent_workers": False,
}


def is_dataset(X: Any) -> bool:
    """Whether X is a torch Dataset given as input (not an array)."""
    return isinstance(X, Dataset)


def _as_sample(x: Any, index: int, owner: str) -> torch.Tensor:
    """An item's input as a float32 tensor (a TypeError if it is not numeric)."""
    if torch.is_tensor(x):
        return x.detach().to(torch.float32)
    try:
        array = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{owner}: the dataset's item {index} has an input x of type "
            f"{type(x).__name__} that is not numeric ({exc}); x must be a "
            "tensor or an array of numbers."
        ) from exc
    return torch.from_numpy(np.array(array, order="C"))


def _pair(item: Any, index: int, owner: str) -> tuple[Any, Any]:
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        shown = (
            f"a {type(item).__name__} of length {len(item)}"
            if isinstance(item, (tuple, list))
            else f"a {type(item).__name__}"
        )
        raise TypeError(
            f"{owner} needs a Dataset whose items are (x, y) pairs; its item "
            f"{index} is {shown}."
        )
    return item[0], item[1]


def _label(value: Any, index: int, owner: str) -> Any:
    if torch.is_tensor(value):
        if value.numel() != 1:
            raise ValueError(
                f"{owner}: the dataset's item {index} has a label y of shape "
                f"{tuple(value.shape)}; y must be one class label per item."
            )
        return value.item()
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(
                f"{owner}: the dataset's item {index} has a label y of shape "
                f"{value.shape}; y must be one class label per item."
            )
        return value.reshape(()).item()
    if isinstance(value, (Number, str, np.generic)):
        return value
    raise TypeError(
        f"{owner}: the dataset's item {index} has a label y of type "
        f"{type(value).__name__}; y must be one class label (a number or a string)."
    )


def _one_label_each(targets: Any) -> bool:
    """Whether ``targets`` is a 1-d array or tensor of numbers or strings.

    Its ``tolist()`` then holds one valid label per item: the per-item checks
    of :func:`_label` can be skipped.
    """
    if isinstance(targets, np.ndarray):
        return targets.ndim == 1 and targets.dtype.kind in "biufU"
    if torch.is_tensor(targets):
        return targets.ndim == 1 and not targets.is_complex()
    return False


class DatasetInput:
    """A user's Dataset, checked: its length and sample shape, its targets.

    It has ``shape`` and ``ndim`` as an array of its inputs would, so that the
    estimators' shape logic applies to both; its items are read only when
    needed (one item here, to learn the sample shape).
    """

    def __init__(self, dataset: Dataset, owner: str, min_samples: int = 1) -> None:
        if isinstance(dataset, IterableDataset):
            raise TypeError(
                f"{owner} needs a map-style Dataset (__len__ and __getitem__); "
                f"got the IterableDataset {type(dataset).__name__}."
            )
        try:
            n = len(dataset)
        except TypeError as exc:
            raise TypeError(
                f"{owner} needs a map-style Dataset with a length (__len__ and "
                f"__getitem__); {type(dataset).__name__} has no length."
            ) from exc
        if n < min_samples:
            raise ValueError(
                f"{owner} needs a Dataset of at least {min_samples} items; got {n}."
            )
        self.dataset = dataset
        self.owner = owner
        x, _ = _pair(dataset[0], 0, owner)
        first = _as_sample(x, 0, owner)
        self.sample_shape = tuple(first.shape)
        if not self.sample_shape:
            raise ValueError(
                f"{owner}: the dataset's item 0 has a scalar input x; x must have "
                "at least one dimension (features, or channels and pixels)."
            )
        self.shape = (n, *self.sample_shape)
        self.ndim = len(self.shape)
        self._head = None

    def __len__(self) -> int:
        return self.shape[0]

    def targets(self) -> np.ndarray:
        """The class labels: the ``targets`` attribute, or one pass over the items.

        The pass calls ``__getitem__`` once per item (and so any transforms);
        a Dataset that has ``targets`` is not read here.
        """
        n = len(self)
        owner = self.owner
        given = getattr(self.dataset, "targets", None)
        if given is not None:
            values = given.tolist() if hasattr(given, "tolist") else list(given)
            if len(values) != n:
                raise ValueError(
                    f"{owner}: the dataset's targets attribute has {len(values)} "
                    f"labels for {n} items."
                )
            if _one_label_each(given):
                return np.asarray(values)
            labels = [_label(v, i, owner) for i, v in enumerate(values)]
        else:
            labels = [
                _label(_pair(self.dataset[i], i, owner)[1], i, owner) for i in range(n)
            ]
        return np.asarray(labels)

    def head(self) -> np.ndarray:
        """The inputs of the first two items, stacked (module checks), read once."""
        if self._head is None:
            self._head = np.stack(
                [self.read(i).numpy() for i in range(min(2, len(self)))]
            )
        return self._head

    def read(self, index: int) -> torch.Tensor:
        """Item ``index``'s input, checked: float32, of the sample shape."""
        return self._checked(self.dataset[index], index)

    def _checked(self, item: Any, index: int) -> torch.Tensor:
        x, _ = _pair(item, index, self.owner)
        x = _as_sample(x, index, self.owner)
        if tuple(x.shape) != self.sample_shape:
            raise ValueError(
                f"{self.owner}: the dataset's items have inputs of inconsistent "
                f"shapes: item {index} has {tuple(x.shape)}, item 0 has "
                f"{self.sample_shape}."
            )
        return x

    def read_batch(self, indices: list[int]) -> torch.Tensor:
        """The inputs of items ``indices``, stacked and checked as :meth:`read` does.

        The checks run on the whole batch (the items' types, then the stacked
        tensor's shape), not item by item: the per-item costs of ``read`` made
        a Dataset 1.6x slower than arrays for a small network
        (``benchmarks/bench_dataset_memory.py``). The items of a batch that
        fails them are checked one by one, so that the error names the first
        bad item, as ``read`` would.

        Python's cyclic garbage collector is paused while a batch is read:
        its thousands of item objects (tuples, tensors) are freed by reference
        counting once it is stacked, but, alive together, they set off
        collections that promote them to the oldest generation and, now and
        then, a full collection of the whole heap (measured: 0.2 s each in a
        process holding torch, skorch and scikit-learn, a fifth of a 2-epoch
        fit of the benchmark's MLP from a Dataset).
        """
        with _collector_paused():
            return self._read_batch(indices)

    def _read_batch(self, indices: list[int]) -> torch.Tensor:
        dataset = self.dataset
        items = [dataset[i] for i in indices]
        batch = None
        if set(map(type, items)) <= _PAIR_TYPES and set(map(len, items)) == {2}:
            inputs = next(zip(*items))
            batch = _stack(inputs)
        if batch is None or tuple(batch.shape[1:]) != self.sample_shape:
            # The items checked one by one (not read again): the error of the
            # first bad one, or a batch of valid items of mixed kinds.
            return torch.stack(
                [self._checked(item, int(i)) for item, i in zip(items, indices)]
            )
        return batch


# Item types that hold an (x, y) pair.
_PAIR_TYPES = {tuple, list}


@contextlib.contextmanager
def _collector_paused():
    """Python's cyclic garbage collector off inside, as it was after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _stack(inputs: tuple) -> torch.Tensor | None:
    """Inputs stacked into a float32 tensor in one call, or None if they do not.

    Tensors stack with ``torch.stack``, arrays and sequences of numbers with
    ``np.stack``; anything else (mixed kinds, shapes that differ, values that
    are not numbers) gives None, for the item-by-item path to name the item.
    """
    try:
        if torch.is_tensor(inputs[0]):
            batch = torch.stack(inputs).detach()
        else:
            batch = torch.from_numpy(np.stack(inputs).astype(np.float32, order="C"))
    except (TypeError, ValueError, RuntimeError):
        return None
    if batch.is_complex():
        return None
    return batch.to(torch.float32)


def _as_is(batch: Any) -> Any:
    """The collate function of batches that are already stacked."""
    return batch


class _Inputs(Dataset):
    """The checked inputs of a :class:`DatasetInput` (what DataLoaders read).

    ``__getitems__`` reads a whole batch of indices at once (a ``DataLoader``
    calls it instead of ``__getitem__`` per index), stacked: the loaders use
    ``collate_fn=_as_is``.
    """

    def __init__(self, source: DatasetInput) -> None:
        self.source = source

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index: int) -> torch.Tensor:
        return self.source.read(int(index))

    def __getitems__(self, indices: list[int]) -> torch.Tensor:
        return self.source.read_batch(indices)


class ItemData(Dataset):
    """A user's Dataset with the targets skend2 trains on (labels or logits).

    Indexed by one row it gives ``(x, target)``; the :class:`BatchIterator`
    reads whole batches of rows through a ``DataLoader`` instead.
    """

    def __init__(
        self, source: DatasetInput, targets: torch.Tensor, device: Any
    ) -> None:
        if len(targets) != len(source):
            raise ValueError(
                f"{source.owner}: {len(targets)} targets for a Dataset of "
                f"{len(source)} items."
            )
        self.source = source
        self.y = targets
        self.device = device

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, index):
        return self.source.read(int(index)), self.y[index]

    def batches(
        self,
        rows: list[torch.Tensor],
        options: dict[str, Any],
        generator: torch.Generator,
    ) -> Any:
        """``(X, y)`` of each batch of row indices, on ``device``.

        A batch of shape (batch, M) (one column per member) gives inputs of
        shape (batch, M, ...): each index is read on its own, so each member
        gets its own draw of the dataset's random transforms.
        """
        loader = DataLoader(
            _Inputs(self.source),
            batch_sampler=[r.reshape(-1).tolist() for r in rows],
            collate_fn=_as_is,
            generator=generator,
            **loader_options(options),
        )
        non_blocking = bool(options.get("pin_memory"))
        for batch, X in zip(rows, loader):
            X = X.reshape(*batch.shape, *self.source.sample_shape)
            yield (
                X.to(self.device, non_blocking=non_blocking),
                self.y[batch].to(self.device),
            )


class CyclingBatches:
    """Batches of a Dataset's inputs without end: pass after shuffled pass.

    What a Dataset ``X_aux`` gives a distiller's student: ``next()`` reads one
    batch of ``batch_size`` items through a ``DataLoader`` (the
    ``iterator_train__*`` options), on ``device``; when a pass over the
    Dataset ends, the next begins in a new order. The orders (and the workers'
    base seeds) are drawn from a generator of its own, seeded by ``seed``, so
    torch's global RNG is left to dropout and transfer inputs. Nothing is read
    before the first ``next()``.
    """

    def __init__(
        self,
        source: DatasetInput,
        batch_size: int,
        options: dict[str, Any],
        seed: int,
        device: Any,
    ) -> None:
        self.source = source
        self.batch_size = int(batch_size)
        self.options = options
        self.generator = torch.Generator().manual_seed(int(seed))
        self.device = device
        self._loader = None
        self._pass = None

    def __iter__(self) -> CyclingBatches:
        return self

    def __next__(self) -> torch.Tensor:
        batch = None if self._pass is None else next(self._pass, None)
        if batch is None:
            if self._loader is None:
                self._loader = DataLoader(
                    _Inputs(self.source),
                    batch_size=self.batch_size,
                    shuffle=True,
                    collate_fn=_as_is,
                    generator=self.generator,
                    **loader_options(self.options),
                )
            self._pass = iter(self._loader)
            batch = next(self._pass)
        non_blocking = bool(self.options.get("pin_memory"))
        return batch.to(self.device, non_blocking=non_blocking)

    def close(self) -> None:
        """End the pass under way and drop the loader (and its workers)."""
        self._pass = None
        self._loader = None


def loader_options(options: dict[str, Any]) -> dict[str, Any]:
    """The DataLoader keywords among ``options`` (a prefetch factor needs workers)."""
    chosen = {k: options[k] for k in LOADER_OPTIONS if k in options}
    if not chosen.get("num_workers"):
        chosen.pop("prefetch_factor", None)
        chosen.pop("persistent_workers", None)
    return chosen


def dataset_chunks(source: DatasetInput, batch_size: int, options: dict[str, Any]):
    """Successive batches of a Dataset's inputs, in order, for prediction.

    A batch shorter than ``MIN_FORWARD_ROWS`` is padded as ``predict_chunks``
    pads arrays; yields ``(tensor, number of real rows)``.
    """
    from ._batching import MIN_FORWARD_ROWS

    loader = DataLoader(
        _Inputs(source),
        batch_size=batch_size,
        shuffle=False,
        collate_fn=_as_is,
        # Its own generator: predicting leaves torch's global RNG alone.
        generator=torch.Generator().manual_seed(0),
        **loader_options(options),
    )
    for chunk in loader:
        n = len(chunk)
        if n < MIN_FORWARD_ROWS:
            pad = chunk[:1].expand(MIN_FORWARD_ROWS - n, *chunk.shape[1:])
            chunk = torch.cat([chunk, pad])
        yield chunk, n


def sample_inputs(source: DatasetInput, n: int, seed: int) -> np.ndarray:
    """Inputs of up to ``n`` random items (what a transfer generator is fitted on)."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(source), size=min(n, len(source)), replace=False))
    return np.stack([source.read(int(i)).numpy() for i in rows])
