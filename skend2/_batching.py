"""Minibatches from tensors: the training data set, its iterator, predict chunks."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Subset

from ._datasets import ItemData

__all__: list[str] = []

# Rows per prediction batch: large for tabular inputs (less per-call overhead),
# small for images, whose convolutional activations would not fit in cache.
PREDICT_BATCH_SIZE = {"tabular": 4096, "images": 256}

# Fewer rows than this are padded (with copies of the first row) before the
# forward pass: BLAS computes a row of a tiny matrix product with other kernels
# (gemv-like) than the same row among many, so without padding a row predicted
# alone differs in the last bits from the same row predicted in a batch
# (measured with MKL: 1-7 rows differ, 8 or more give bit-identical rows).
MIN_FORWARD_ROWS = 16


class TensorData(torch.utils.data.Dataset):
    """Inputs and targets as tensors, indexable by a whole batch of indices."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self.X = X
        self.y = y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def _tensors_and_indices(dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The base tensors behind a (possibly Subset-wrapped) dataset and its rows.

    For a user's Dataset (:class:`~skend2._datasets.ItemData`), the first is
    the ItemData itself, read batch by batch.
    """
    indices = torch.arange(len(dataset))
    while isinstance(dataset, Subset):
        indices = torch.as_tensor(dataset.indices)[indices]
        dataset = dataset.dataset
    if isinstance(dataset, ItemData):
        return dataset, dataset.y, indices
    if not isinstance(dataset, TensorData):
        raise TypeError(
            "skend2's batch iterator needs the estimator's own dataset; got "
            f"{type(dataset).__name__}."
        )
    return dataset.X, dataset.y, indices


class BatchIterator:
    """Minibatches drawn by indexing whole tensors, one fresh shuffle per epoch.

    With ``n_members=M``, each member gets its own permutation of the data: the
    batches have shape (batch, M, ...), member m's column being its own minibatch.
    With ``member=m`` as well, only member m's minibatches are yielded, the very
    ones it would see in the fused ensemble (the sequential path uses this, so
    both paths train on the same batches); with ``member=slice(a, b)``, the
    columns of members a to b - 1, shape (batch, b - a, ...) (a group of members
    trained fused in its own task sees exactly its columns of the whole
    ensemble's batches). Indexing tensors directly avoids the
    per-sample collation of a ``DataLoader``, which dominates for small networks.

    A user's Dataset (``ItemData``) gets the same rows, read through a
    ``DataLoader`` with the ``DataLoader`` options given here (``num_workers``,
    ``pin_memory``, ...); every index of a (batch, M) batch is read on its own,
    so each member gets its own draw of the dataset's random transforms. Arrays
    ignore these options (a warning in ``fit`` says so).
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 128,
        shuffle: bool = False,
        n_members: int | None = None,
        member: int | slice | None = None,
        seed: int = 0,
        drop_last: bool = False,
        num_workers: int = 0,
        pin_memory: bool = False,
        timeout: float = 0,
        worker_init_fn=None,
        multiprocessing_context=None,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
    ) -> None:
        self.X, self.y, self.indices = _tensors_and_indices(dataset)
        self.loader_options = dict(
            num_workers=num_workers,
            pin_memory=pin_memory,
            timeout=timeout,
            worker_init_fn=worker_init_fn,
            multiprocessing_context=multiprocessing_context,
            prefetch_factor=prefetch_factor,
            persistent_workers=persistent_workers,
        )
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.n_members = n_members
        self.member = member
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(int(seed))
        # The DataLoader of a Dataset input draws its workers' base seed from
        # its own generator, not torch's global RNG (which dropout and transfer
        # inputs draw from, identically for arrays and Datasets).
        # A member trained alone gets its own (its index in the seed).
        offset = 1 + (member + 1) * 7919 if isinstance(member, int) else 1
        self.loader_generator = torch.Generator().manual_seed(int(seed) + offset)

    def __len__(self) -> int:
        n = len(self.indices)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def _rows(self) -> torch.Tensor:
        n = len(self.indices)
        if self.n_members is None:
            if not self.shuffle:
                return self.indices
            return self.indices[torch.randperm(n, generator=self.generator)]
        # One independent permutation per member, shape (n, M).
        perms = [
            self.indices[torch.randperm(n, generator=self.generator)]
            for _ in range(self.n_members)
        ]
        if isinstance(self.member, slice):
            # A group of members trained fused apart from the others: the
            # columns the whole ensemble would give them.
            return torch.stack(perms[self.member], dim=1)
        if self.member is not None:
            return perms[self.member]
        return torch.stack(perms, dim=1)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if isinstance(self.X, ItemData):
            rows = self._rows()
            batches = [
                rows[start : start + self.batch_size]
                for start in range(0, len(self) * self.batch_size, self.batch_size)
            ]
            yield from self.X.batches(
                batches, self.loader_options, self.loader_generator
            )
            return
        rows = self._rows().to(self.X.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            batch = rows[start : start + self.batch_size]
            yield self.X[batch], self.y[batch]


# Rows of logits are padded to a multiple of this before the measures and
# probabilities are computed from them: torch's element-wise CPU kernels run
# SIMD lanes over the bulk of a tensor and a scalar loop over its last
# elements, which round differently (Sleef's log vs std::log), so without it
# a row's uncertainty depends in its last bit on the rows predicted with it
# (a Dask block of 40 rows vs the whole array).
TRANSFORM_ROW_MULTIPLE = 64


def pad_rows(tensor: torch.Tensor, multiple: int = TRANSFORM_ROW_MULTIPLE):
    """``tensor`` with copies of its first row appended, to a multiple of rows."""
    n = len(tensor)
    extra = -n % multiple
    if not extra or not n:
        return tensor
    return torch.cat([tensor, tensor[:1].expand(extra, *tensor.shape[1:])])


def predict_chunks(X: np.ndarray, batch_size: int) -> Iterator[tuple[np.ndarray, int]]:
    """Successive chunks of ``X`` for a forward pass, with their number of real rows.

    A chunk shorter than :data:`MIN_FORWARD_ROWS` is padded with copies of its
    first row, so that a row's result does not depend on how many rows it is
    predicted with (scikit-learn's subset-invariance).
    """
    if not X.flags.writeable:
        X = X.copy()  # torch cannot wrap a read-only array
    for start in range(0, len(X), batch_size):
        chunk = X[start : start + batch_size]
        n = len(chunk)
        if n < MIN_FORWARD_ROWS:
            pad = np.broadcast_to(chunk[:1], (MIN_FORWARD_ROWS - n, *chunk.shape[1:]))
            chunk = np.concatenate([chunk, pad])
        yield chunk, n
