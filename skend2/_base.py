"""The shared base of skend2's estimators: parameters, input checks, skorch plumbing."""

from __future__ import annotations

import contextlib
import numbers
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch import NeuralNet
from skorch.callbacks import GradientNormClipping
from torch.utils.data import Subset

__all__: list[str] = []

# The dunder prefixes that are passed on to skorch, as in skorch.NeuralNet.
_KWARG_PREFIXES = (
    "module__",
    "optimizer__",
    "iterator_train__",
    "iterator_valid__",
    "callbacks__",
)

# Rows per prediction batch: large for tabular inputs (less per-call overhead),
# small for images, whose convolutional activations would not fit in cache.
_PREDICT_BATCH_SIZE = {"tabular": 4096, "images": 256}


class _TensorData(torch.utils.data.Dataset):
    """Inputs and targets as tensors, indexable by a whole batch of indices."""

    def __init__(self, X: torch.Tensor, y: torch.Tensor) -> None:
        self.X = X
        self.y = y

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def _tensors_and_indices(dataset) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The base tensors behind a (possibly Subset-wrapped) dataset and its rows."""
    indices = torch.arange(len(dataset))
    while isinstance(dataset, Subset):
        indices = torch.as_tensor(dataset.indices)[indices]
        dataset = dataset.dataset
    if not isinstance(dataset, _TensorData):
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
    both paths train on the same batches). Indexing tensors directly avoids the
    per-sample collation of a ``DataLoader``, which dominates for small networks.
    """

    def __init__(
        self,
        dataset,
        batch_size: int = 128,
        shuffle: bool = False,
        n_members: int | None = None,
        member: int | None = None,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        self.X, self.y, self.indices = _tensors_and_indices(dataset)
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.n_members = n_members
        self.member = member
        self.drop_last = drop_last
        self.generator = torch.Generator().manual_seed(int(seed))

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
        if self.member is not None:
            return perms[self.member]
        return torch.stack(perms, dim=1)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        rows = self._rows().to(self.X.device)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            batch = rows[start : start + self.batch_size]
            yield self.X[batch], self.y[batch]


class _Net(NeuralNet):
    """skorch's NeuralNet, fed by :class:`BatchIterator` and validated by skend2.

    Input checks happen once in the estimator's ``fit``; the loss reported in the
    history is divided by ``loss_scale`` (the number of members of a fused
    ensemble, whose summed loss gives every member its own exact gradient).
    """

    def __init__(self, *args, loss_scale: float = 1.0, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.loss_scale = loss_scale

    def check_data(self, X, y=None) -> None:
        pass

    def train_step_single(self, batch, **fit_params) -> dict:
        step = super().train_step_single(batch, **fit_params)
        step["loss"] = step["loss"].detach() / self.loss_scale
        return step

    def validation_step(self, batch, **fit_params) -> dict:
        step = super().validation_step(batch, **fit_params)
        step["loss"] = step["loss"] / self.loss_scale
        return step


class BaseNeuralClassifier(ClassifierMixin, BaseEstimator):
    """Parameters, validation and prediction shared by skend2's classifiers.

    Subclasses set ``module_`` in ``fit`` (a module mapping a batch of inputs to
    logits) and turn logits into ``predict_proba`` and ``_uncertainty_of_logits``.
    """

    _uncertainty_measures: tuple[str, ...] = ()

    def __init__(self, **kwargs: Any) -> None:
        # Dunder parameters for skorch (module__*, optimizer__*, ...), stored
        # unchanged like every other parameter and checked in fit.
        vars(self).update(kwargs)

    # -- parameters -------------------------------------------------------------
    def _dunder_params(self) -> dict[str, Any]:
        """The parameters given through ``**kwargs`` (module__*, optimizer__*, ...)."""
        explicit = set(self._get_param_names())
        return {
            k: v
            for k, v in vars(self).items()
            if k not in explicit and not k.startswith("_") and not k.endswith("_")
        }

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        params = super().get_params(deep=deep)
        params.update(self._dunder_params())
        return params

    def set_params(self, **params: Any):
        explicit = set(self._get_param_names())
        nested = {}
        for key, value in params.items():
            if key.startswith(_KWARG_PREFIXES) or key.split("__")[0] not in explicit:
                # Passed on to skorch (or rejected with a clear error in fit).
                setattr(self, key, value)
            else:
                nested[key] = value
        if nested:
            super().set_params(**nested)
        return self

    def _params_for(self, prefix: str) -> dict[str, Any]:
        prefix = prefix + "__"
        return {
            k[len(prefix) :]: v
            for k, v in self._dunder_params().items()
            if k.startswith(prefix)
        }

    def _check_dunder_params(self) -> None:
        unknown = [
            k for k in self._dunder_params() if not k.startswith(_KWARG_PREFIXES)
        ]
        if unknown:
            raise ValueError(
                f"{type(self).__name__} got unexpected parameters {sorted(unknown)}; "
                f"only {', '.join(p + '*' for p in _KWARG_PREFIXES)} are passed on "
                "to skorch and torch."
            )

    def _check_common_params(self) -> None:
        self._check_dunder_params()
        for name in ("max_epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Integral) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int; got {value!r}.")
            if value < 1:
                raise ValueError(f"{name} must be >= 1; got {value}.")
        if not isinstance(self.lr, numbers.Real) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number; got {self.lr!r}.")
        if not (
            isinstance(self.optimizer, type)
            and issubclass(self.optimizer, torch.optim.Optimizer)
        ):
            raise TypeError(
                "optimizer must be a torch.optim.Optimizer class; "
                f"got {self.optimizer!r}."
            )
        device = str(self.device)
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(
                f"device={self.device!r} was requested but CUDA is not available "
                "on this machine; use device='cpu'."
            )

    # -- input checks -----------------------------------------------------------
    def _validate_fit_data(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        X, y = validate_data(
            self,
            X,
            y,
            allow_nd=True,
            dtype=[np.float32, np.float64],
            ensure_min_samples=2,
        )
        check_classification_targets(y)
        self.classes_, y_encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; "
                f"got 1 class ({self.classes_[0]!r})."
            )
        return X, y_encoded.astype(np.int64)

    def _validate_predict_data(self, X) -> np.ndarray:
        check_is_fitted(self)
        # float32 once here (what the networks compute in), C-ordered so that
        # batches are views.
        X = validate_data(
            self, X, reset=False, allow_nd=True, dtype=np.float32, order="C"
        )
        if X.shape[1:] != self.sample_shape_:
            raise ValueError(
                f"X has samples of shape {X.shape[1:]}, but {type(self).__name__} "
                f"was fitted on samples of shape {self.sample_shape_}."
            )
        return X

    # -- randomness and devices ---------------------------------------------------
    def _draw_seed(self) -> int:
        return int(
            check_random_state(self.random_state).randint(np.iinfo(np.int32).max)
        )

    @contextlib.contextmanager
    def _seeded(self, seed: int):
        """Seed torch inside a private RNG state, so fits are reproducible."""
        devices = []
        if str(self.device).startswith("cuda"):
            devices = [torch.device(self.device).index or 0]
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            # Adam's second moments of near-constant inputs decay into subnormal
            # floats, which slow CPU arithmetic by up to 100x; flush them to zero.
            torch.set_flush_denormal(True)
            try:
                yield
            finally:
                torch.set_flush_denormal(False)

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        # A float32 copy: torch warns on read-only arrays, and must not alias X.
        return torch.from_numpy(np.array(X, dtype=np.float32, order="C"))

    # -- skorch -----------------------------------------------------------------
    def _make_net(
        self,
        module: torch.nn.Module,
        criterion: torch.nn.Module,
        *,
        seed: int,
        n_members: int | None = None,
        member: int | None = None,
        loss_scale: float = 1.0,
        extra_callbacks: list | None = None,
        gradient_clip: float | None = None,
        max_epochs: int | None = None,
    ) -> _Net:
        callbacks = list(self.callbacks or [])
        for i, cb in enumerate(extra_callbacks or []):
            callbacks.append((f"skend2_{i}_{type(cb).__name__}", cb))
        if gradient_clip is not None:
            callbacks.append(
                ("skend2_gradient_clip", GradientNormClipping(gradient_clip))
            )
        kwargs = {
            f"{prefix}__{k}": v
            for prefix in ("optimizer", "iterator_valid", "callbacks")
            for k, v in self._params_for(prefix).items()
        }
        iterator_train_kwargs = {"shuffle": True, **self._params_for("iterator_train")}
        kwargs.update(
            {f"iterator_train__{k}": v for k, v in iterator_train_kwargs.items()}
        )
        return _Net(
            module=module,
            criterion=criterion,
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs if max_epochs is None else max_epochs,
            batch_size=self.batch_size,
            iterator_train=BatchIterator,
            iterator_valid=BatchIterator,
            iterator_train__n_members=n_members,
            iterator_train__member=member,
            iterator_train__seed=seed,
            dataset=_TensorData,
            train_split=self.train_split,
            callbacks=callbacks,
            device=self.device,
            verbose=int(self.verbose),
            loss_scale=loss_scale,
            predict_nonlinearity=None,
            **kwargs,
        )

    # -- prediction -------------------------------------------------------------
    def _forward_batch(self, Xb: torch.Tensor) -> torch.Tensor:
        return self.module_(Xb)

    def _batches(self, X: np.ndarray, transform) -> Iterator:
        """``transform(logits)`` of successive batches of validated X.

        Batches keep memory flat in n_samples.
        """
        module = self.module_
        module.eval()
        if not X.flags.writeable:
            X = X.copy()  # torch cannot wrap a read-only array
        size = _PREDICT_BATCH_SIZE["tabular" if X.ndim == 2 else "images"]
        with torch.inference_mode():
            for start in range(0, len(X), size):
                Xb = torch.from_numpy(X[start : start + size])
                yield transform(self._forward_batch(Xb.to(self.device)))

    def _predict_batches(self, X, transform) -> np.ndarray:
        """Validate X, then concatenate ``transform(logits)`` over its batches."""
        X = self._validate_predict_data(X)
        return np.concatenate([t.cpu().numpy() for t in self._batches(X, transform)])

    def predict(self, X) -> np.ndarray:
        """Predict class labels for X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The class of highest predicted probability, from ``classes_``.
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def predict_uncertainty(self, X, measure: str | None = None):
        """Uncertainty of the predictions for X, decomposed as in the EnD² paper.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.
        measure : str, default=None
            One of the measure names; ``None`` returns all of them.

        Returns
        -------
        uncertainty : Bunch of ndarray of shape (n_samples,), or one ndarray
            ``total``, ``data``, ``knowledge``, ``epkl``, ``mkl`` (and, for a
            Prior Network, ``differential_entropy`` and ``precision``), in nats.
        """
        if measure is not None and measure not in self._uncertainty_measures:
            raise ValueError(
                f"measure must be one of {list(self._uncertainty_measures)} or None; "
                f"got {measure!r}."
            )
        X = self._validate_predict_data(X)
        parts = list(self._batches(X, self._uncertainty_of_logits))
        result = Bunch(
            **{
                k: np.concatenate([np.asarray(p[k], dtype=np.float64) for p in parts])
                for k in self._uncertainty_measures
            }
        )
        return result if measure is None else result[measure]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags
