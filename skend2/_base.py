"""The shared base of skend2's estimators: parameters, input checks, skorch plumbing.

A fitted estimator holds its training in one place, ``net_`` (a skorch
``NeuralNet``): ``module_`` and ``history_`` are views of it, whatever the
training path and after pickling. Parameters are checked once, at the start of
``fit``, against the class's ``_parameter_constraints`` table; the dunder
parameters (``criterion__*``, ``optimizer__*``, ...) are routed to skorch by
skorch's own prefix list.
"""

from __future__ import annotations

import contextlib
import copy
import warnings
from collections.abc import Callable, Iterator
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data
from skorch.callbacks import GradientNormClipping
from skorch.history import History
from torch import nn

from ._batching import (
    PREDICT_BATCH_SIZE,
    BatchIterator,
    TensorData,
    pad_rows,
    predict_chunks,
)
from ._datasets import (
    LOADER_OPTIONS,
    DatasetInput,
    ItemData,
    dataset_chunks,
    is_dataset,
)
from ._net import (
    _NET_PREFIXES,
    _PREFIXES,
    _PROPAGATE_INTERRUPTS,
    ANNEALING_CALLBACK,
    GRADIENT_CLIP_CALLBACK,
    _flush_denormal_is_on,
    _Net,
    device_error,
)
from ._progress import EpochProgress
from ._validation import (
    RANDOM_STATE,
    InstanceOf,
    SubclassOf,
    check_keyword_names,
    validate_params,
)

__all__: list[str] = []

# Tabular inputs whose feature scales differ by more than this factor, or with a
# feature whose standard deviation exceeds _LARGE_SCALE, train poorly without
# standardisation (breast_cancer: 0.935 training accuracy unscaled, 1.0 scaled).
_SCALE_RATIO = 1e3
_LARGE_SCALE = 1e2


def _warn_if_unscaled(X: np.ndarray, owner: str) -> None:
    if X.ndim != 2 or len(X) < 2:
        return
    scales = X.std(axis=0)
    scales = scales[scales > 0]
    if not len(scales):
        return
    if scales.max() > _LARGE_SCALE or scales.max() > _SCALE_RATIO * scales.min():
        warnings.warn(
            f"{owner}: the features' standard deviations range from "
            f"{scales.min():.3g} to {scales.max():.3g}; neural networks train "
            "poorly on unscaled inputs. Put a StandardScaler before it, e.g. "
            "make_pipeline(StandardScaler(), estimator).",
            UserWarning,
            stacklevel=5,
        )


def is_dask_collection(X: Any) -> bool:
    """Whether X is a Dask collection (found without importing Dask).

    Predict methods hand such inputs to :mod:`skend2._dask`, which computes
    them block by block on the Dask workers.
    """
    graph = getattr(type(X), "__dask_graph__", None)
    return callable(graph) and X.__dask_graph__() is not None


class BaseNeuralEstimator(BaseEstimator):
    """Parameters, validation and batched prediction shared by skend2's estimators.

    Subclasses set ``net_`` in ``fit`` (a skorch net whose module maps a batch of
    inputs to its raw outputs: logits, or a regressor's distribution parameters)
    and turn those outputs into predictions and ``_uncertainty_of_logits``.
    :class:`BaseNeuralClassifier` adds what is specific to classification.
    """

    _uncertainty_measures: tuple[str, ...] = ()

    # Constraints shared by every skend2 estimator; subclasses extend the table.
    _parameter_constraints: dict[str, list] = {
        "module": [
            None,
            SubclassOf(nn.Module, "a torch.nn.Module class"),
            InstanceOf(nn.Module, "a torch.nn.Module instance"),
        ],
        "optimizer": [
            SubclassOf(torch.optim.Optimizer, "a torch.optim.Optimizer class")
        ],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "train_split": [None, callable],
        "callbacks": [None, list],
        "device": [str, torch.device],
        "n_threads": [None, Interval(Integral, 1, None, closed="left")],
        "verbose": [Interval(Integral, 0, None, closed="left"), "boolean"],
        "warm_start": ["boolean"],
        "random_state": RANDOM_STATE,
    }

    def __init__(self, **kwargs: Any) -> None:
        # Dunder parameters for skorch (module__*, optimizer__*, ...), stored
        # unchanged like every other parameter and checked in fit.
        vars(self).update(kwargs)

    # -- the fitted network -------------------------------------------------------
    @property
    def module_(self) -> nn.Module:
        """The trained network (the module of ``net_``)."""
        return self.net_.module_

    @property
    def history_(self) -> History:
        """The training history (the history of ``net_``)."""
        return self.net_.history

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

    def _nested_default(self, name: str) -> Any:
        """The object that a string default of ``name`` stands for, or None."""
        return None

    def set_params(self, **params: Any):
        explicit = set(self._get_param_names())
        nested = {}
        for key, value in params.items():
            head = key.split("__")[0]
            if head in _PREFIXES or head not in explicit:
                # Passed on to skorch (or rejected with a clear error in fit).
                setattr(self, key, value)
                continue
            if "__" in key and not hasattr(getattr(self, head), "set_params"):
                default = self._nested_default(head)
                if default is None:
                    raise ValueError(
                        f"Cannot set {key!r}: {head}={getattr(self, head)!r} has no "
                        f"parameters; set {head} to an object first."
                    )
                setattr(self, head, default)
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

    def _validate_params(self) -> None:
        """Check every parameter once, before any data is touched."""
        validate_params(self, self._parameter_constraints, self.get_params(deep=False))
        unknown = [
            k for k in self._dunder_params() if k.split("__")[0] not in _PREFIXES
        ]
        if unknown:
            raise ValueError(
                f"{type(self).__name__} got unexpected parameters {sorted(unknown)}; "
                f"only {', '.join(p + '__*' for p in _PREFIXES)} are passed on "
                "to skorch and torch."
            )
        name = type(self).__name__
        iterator_reserved = ("dataset", "n_members", "member", "seed")
        for prefix, target, extra, reserved in (
            ("criterion", self._criterion_class(), (), ()),
            ("dataset", TensorData, (), ("X", "y")),
            ("iterator_train", BatchIterator, (), iterator_reserved),
            ("iterator_valid", BatchIterator, (), iterator_reserved),
            ("optimizer", self.optimizer, ("param_groups",), ("params", "lr")),
        ):
            check_keyword_names(
                name,
                prefix,
                list(self._params_for(prefix)),
                target,
                extra=extra,
                reserved=reserved,
            )
        self._check_device()

    def _check_device(self) -> None:
        error = device_error(type(self).__name__, self.device)
        if error is not None:
            raise ValueError(error)

    def _criterion_class(self) -> type[nn.Module]:
        raise NotImplementedError

    def _criterion_defaults(self) -> dict[str, Any]:
        """The estimator's defaults of ``criterion__*`` (the user's win)."""
        return {}

    def _criterion_params(self) -> dict[str, Any]:
        """The criterion's keyword arguments: the defaults, then the user's."""
        return {**self._criterion_defaults(), **self._params_for("criterion")}

    # -- input checks -----------------------------------------------------------
    def _validate_predict_data(self, X) -> np.ndarray | DatasetInput:
        check_is_fitted(self)
        self._check_device()
        if is_dataset(X):
            # Read batch by batch in _batches; only item 0 is read here.
            source = DatasetInput(X, type(self).__name__)
            if source.sample_shape != self.sample_shape_:
                raise ValueError(
                    f"The Dataset has samples of shape {source.sample_shape}, but "
                    f"{type(self).__name__} was fitted on samples of shape "
                    f"{self.sample_shape_}."
                )
            return source
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

    # -- the transaction around fit ------------------------------------------------
    @contextlib.contextmanager
    def _atomic_fit(self):
        """Restore the estimator exactly as it was if ``fit`` raises.

        Attributes that fit replaces are restored from a shallow snapshot; the
        fitted net is deep-copied first, because a warm start trains it in place.
        """
        state = dict(vars(self))
        if "net_" in state and self.warm_start:
            self.net_ = copy.deepcopy(self.net_)
        try:
            yield
        except BaseException:
            vars(self).clear()
            vars(self).update(state)
            raise

    @contextlib.contextmanager
    def _torch_threads(self):
        """torch's intra-op threads set to ``n_threads`` inside, restored after.

        A value that is not a valid count is left to ``_validate_params``.
        """
        n_threads = self.n_threads
        valid = isinstance(n_threads, Integral) and not isinstance(n_threads, bool)
        if not valid or n_threads < 1:
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(int(n_threads))
        try:
            yield
        finally:
            torch.set_num_threads(before)

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
        flushing = _flush_denormal_is_on()
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            # Adam's second moments of near-constant inputs decay into subnormal
            # floats, which slow CPU arithmetic by up to 100x; flush them to zero,
            # and leave the caller's setting as it was.
            torch.set_flush_denormal(True)
            try:
                yield
            finally:
                torch.set_flush_denormal(flushing)

    def _warn_unused_loader_options(self) -> None:
        """Warn that DataLoader options set for the iterators do not apply to arrays."""
        given = sorted(
            f"{prefix}__{name}"
            for prefix in ("iterator_train", "iterator_valid")
            for name, value in self._params_for(prefix).items()
            if name in LOADER_OPTIONS and value != LOADER_OPTIONS[name]
        )
        if given:
            warnings.warn(
                f"{type(self).__name__}: {', '.join(given)} apply to Dataset "
                "inputs only; arrays are batched by indexing tensors, without a "
                "DataLoader, so these options are not used.",
                UserWarning,
                stacklevel=4,
            )

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        # A float32 copy: torch warns on read-only arrays, and must not alias X.
        return torch.from_numpy(np.array(X, dtype=np.float32, order="C"))

    # -- skorch -----------------------------------------------------------------
    def _make_net(
        self,
        module: nn.Module,
        *,
        seed: int,
        n_members: int | None = None,
        member: int | None = None,
        loss_scale: float = 1.0,
        extra_callbacks: dict | None = None,
        stage: str | None = None,
        net_class: type[_Net] | None = None,
        **net_kwargs: Any,
    ) -> _Net:
        """A skorch net with every routed parameter, for ``module``.

        The criterion is :meth:`_criterion_class`, built by skorch with the
        ``criterion__*`` parameters. ``verbose=1`` adds a progress bar labelled
        ``stage``; ``verbose=2`` prints skorch's epoch table.
        """
        callbacks = list(self.callbacks or []) + list((extra_callbacks or {}).items())
        if int(self.verbose) == 1:
            callbacks.append(("progress", EpochProgress(stage or type(self).__name__)))
        routed = {
            f"{prefix}__{k}": v
            for prefix in _NET_PREFIXES
            for k, v in self._params_for(prefix).items()
        }
        routed.setdefault("iterator_train__shuffle", True)
        for key, value in self._criterion_params().items():
            routed[f"criterion__{key}"] = value
        routed.update(
            iterator_train__n_members=n_members,
            iterator_train__member=member,
            iterator_train__seed=seed,
        )
        net = (net_class or _Net)(
            module=module,
            criterion=self._criterion_class(),
            optimizer=self.optimizer,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=BatchIterator,
            iterator_valid=BatchIterator,
            dataset=TensorData,
            train_split=self.train_split,
            callbacks=callbacks,
            device=self.device,
            verbose=int(int(self.verbose) >= 2),
            loss_scale=loss_scale,
            owner=type(self).__name__,
            predict_nonlinearity=None,
            **net_kwargs,
            **routed,
        )
        self._check_callback_params(net, routed)
        return net

    def _check_callback_params(self, net: _Net, routed: dict[str, Any]) -> None:
        """``callbacks__<name>__*`` of a callback the net does not have: an error.

        skorch ignores them silently (e.g. ``callbacks__annealing__*`` when
        ``annealing`` resolves to None).
        """
        named = {k.split("__")[1] for k in routed if k.startswith("callbacks__")}
        if not named:
            return
        net.initialize_callbacks()
        missing = sorted(named - {name for name, _ in net.callbacks_})
        if missing:
            hints = {
                ANNEALING_CALLBACK: " (annealing resolves to None, T = 1: set "
                "annealing to a schedule; annealing='auto' is T = 1 when the "
                "loss has a cross-entropy term)",
                GRADIENT_CLIP_CALLBACK: " (gradient_clip is None)",
            }
            raise ValueError(
                f"{type(self).__name__} got parameters for the callback(s) "
                + ", ".join(f"{name!r}{hints.get(name, '')}" for name in missing)
                + " that it does not have; its callbacks: "
                + ", ".join(name for name, _ in net.callbacks_)
                + "."
            )

    def _gradient_clip_callbacks(self) -> dict:
        if self.gradient_clip is None:
            return {}
        return {GRADIENT_CLIP_CALLBACK: GradientNormClipping(self.gradient_clip)}

    def _train(self, net: _Net, X: np.ndarray, targets: np.ndarray, y: np.ndarray):
        """Train ``net`` on X with ``targets``; ``y`` (class indices) for splits.

        The data set is built by skorch's ``get_dataset`` hook (``dataset__*``);
        ``y`` reaches ``train_split``, so stratified validation splits work.
        A checked Dataset input (``DatasetInput``) is wrapped as it is, never
        materialised: the batch iterator reads its items batch by batch.
        """
        if isinstance(X, DatasetInput):
            dataset = ItemData(X, torch.as_tensor(targets), self.device)
        else:
            dataset = net.get_dataset(
                self._tensor(X).to(self.device),
                torch.as_tensor(targets).to(self.device),
            )
        epochs_before = len(net.history) if net.initialized_ else 0
        if net.initialized_:
            # A warm start trains max_epochs more epochs, as set now.
            net.max_epochs = self.max_epochs
            net.partial_fit(dataset, y)
        else:
            net.fit(dataset, y)
        self.interrupted_epoch_ = None
        if net.interrupted_:
            if _PROPAGATE_INTERRUPTS.get():
                raise KeyboardInterrupt
            epoch = len(net.history) - epochs_before
            self.interrupted_epoch_ = epoch
            warnings.warn(
                f"{type(self).__name__}.fit was interrupted in epoch {epoch} of "
                f"{net.max_epochs}; the model keeps the training so far "
                "(interrupted_epoch_ records it).",
                UserWarning,
                stacklevel=4,
            )
        return net

    # -- prediction -------------------------------------------------------------
    def _predict_batch_size(self, X: np.ndarray) -> int:
        default = PREDICT_BATCH_SIZE["tabular" if X.ndim == 2 else "images"]
        return int(self._params_for("iterator_valid").get("batch_size", default))

    def _forward_batch(self, Xb: torch.Tensor) -> torch.Tensor:
        return self.module_(Xb)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        net = vars(self).get("net_")
        if net is not None and str(net.device) != str(self.device):
            # skorch mapped a net saved on a device missing here (CUDA) onto
            # the CPU; predict there too, and say so.
            warnings.warn(
                f"{type(self).__name__} was fitted on device {self.device!r}, "
                f"which is not available here; it was loaded onto {net.device!r}.",
                UserWarning,
                stacklevel=2,
            )
            self.device = str(net.device)

    def _module_on_device(self) -> nn.Module:
        """The trained module, moved first if ``device`` was changed after fit."""
        net = self.net_
        if str(net.device) != str(self.device):
            net.module_.to(self.device)
            net.device = self.device
        return net.module_

    def _batches(self, X: np.ndarray, transform: Callable) -> Iterator:
        """``transform(logits)`` of successive batches of validated X.

        Batches keep memory flat in n_samples; their size is
        ``iterator_valid__batch_size`` (default 4096 rows of tabular data, 256
        images).
        """
        module = self._module_on_device()
        module.eval()
        if isinstance(X, DatasetInput):
            chunks = dataset_chunks(
                X, self._predict_batch_size(X), self._params_for("iterator_valid")
            )
        else:
            chunks = predict_chunks(X, self._predict_batch_size(X))
        with torch.inference_mode(), self._torch_threads():
            for chunk, n in chunks:
                Xb = torch.as_tensor(chunk).to(self.device)
                out = transform(pad_rows(self._forward_batch(Xb)))
                yield (
                    out[:n]
                    if not isinstance(out, dict)
                    else {k: v[:n] for k, v in out.items()}
                )

    def _predict_batches(self, X, transform) -> np.ndarray:
        """Validate X, then concatenate ``transform(logits)`` over its batches.

        A Dask array gives a Dask array, computed block by block (``_dask``).
        """
        if is_dask_collection(X):
            from ._dask import predict_batches

            return predict_batches(self, X, transform)
        X = self._validate_predict_data(X)
        return np.concatenate([t.cpu().numpy() for t in self._batches(X, transform)])

    def predict_uncertainty(self, X, measure: str | None = None):
        """Uncertainty of the predictions for X, decomposed as in the EnD² paper.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs, or a ``torch.utils.data.Dataset`` of (x, y) items (y is not
            used), read batch by batch (``iterator_valid__*`` options).
        measure : str, default=None
            One of the measure names; ``None`` returns all of them.

        Returns
        -------
        uncertainty : Bunch of ndarray of shape (n_samples,), or one ndarray
            ``total``, ``data``, ``knowledge``, ``epkl``, ``mkl`` (and, for a
            Prior Network, ``differential_entropy`` and ``precision``), in nats.
            Dask arrays for a Dask array X, computed block by block.
        """
        if measure is not None and measure not in self._uncertainty_measures:
            raise ValueError(
                f"measure must be one of {list(self._uncertainty_measures)} or None; "
                f"got {measure!r}."
            )
        if is_dask_collection(X):
            from ._dask import predict_uncertainty

            return predict_uncertainty(self, X, measure)
        X = self._validate_predict_data(X)
        parts = list(self._batches(X, self._uncertainty_of_logits))
        result = Bunch(
            **{
                k: np.concatenate([np.asarray(p[k], dtype=np.float64) for p in parts])
                for k in self._uncertainty_measures
            }
        )
        return result if measure is None else result[measure]

    def score_samples(self, X) -> np.ndarray:
        """Return minus the out-of-distribution measure: higher is more typical.

        scikit-learn's convention for novelty scores, so that a ``Pipeline``
        forwards it: ``-predict_uncertainty(X, measure=m)`` with ``m`` the
        knowledge uncertainty (mutual information) for an ensemble and a Prior
        Network, and the total uncertainty for :class:`~skend2.EnsembleDistiller`
        (whose knowledge uncertainty is zero). ``-score_samples`` ranks inputs
        as :func:`skend2.metrics.ood_detection_auroc` expects.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs, or a ``torch.utils.data.Dataset`` of (x, y) items (y is not
            used), read batch by batch (``iterator_valid__*`` options).

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the uncertainty measure named by ``ood_measure``, in nats (a
            Dask array for a Dask array X, computed block by block).
        """
        return -self.predict_uncertainty(X, measure=self.ood_measure)

    @property
    def ood_measure(self) -> str:
        """The measure that :meth:`score_samples` negates."""
        return self._ood_measure

    _ood_measure = "knowledge"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = self.random_state is None
        return tags


class BaseNeuralClassifier(ClassifierMixin, BaseNeuralEstimator):
    """What skend2's classifiers add to the shared base: labels, logits, ``predict``.

    ``fit`` encodes the labels into ``classes_``; the module must return one logit
    per class; ``predict`` is the most probable class of ``predict_proba``.
    """

    def _validate_fit_data(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        if is_dataset(X):
            return self._validate_fit_dataset(X, y)
        self._warn_unused_loader_options()
        X, y = validate_data(
            self,
            X,
            y,
            allow_nd=True,
            dtype=[np.float32, np.float64],
            ensure_min_samples=2,
        )
        y_encoded = self._encode_labels(y)
        _warn_if_unscaled(X, type(self).__name__)
        return X, y_encoded

    def _encode_labels(self, y: np.ndarray) -> np.ndarray:
        """``classes_`` from labels y, and y as class indices (as for arrays)."""
        try:
            check_classification_targets(y)
            self.classes_, y_encoded = np.unique(y, return_inverse=True)
        except TypeError as exc:
            raise ValueError(
                "y mixes labels of types that cannot be ordered (e.g. strings and "
                f"numbers): {sorted({type(v).__name__ for v in y})}. Use labels "
                "of one type."
            ) from exc
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs samples of at least 2 classes in y; "
                f"got 1 class ({self.classes_[0]!r})."
            )
        return y_encoded.astype(np.int64)

    def _validate_fit_dataset(self, X, y) -> tuple[DatasetInput, np.ndarray]:
        """A Dataset of (x, y) items: checked, its labels encoded, not materialised.

        The labels are the dataset's ``targets`` attribute if it has one, else
        the y of every item (one pass of ``__getitem__``).
        """
        name = type(self).__name__
        if y is not None:
            raise ValueError(
                f"{name}.fit got a Dataset and y; a Dataset yields its own labels "
                "(x, y), so pass y=None."
            )
        source = DatasetInput(X, name, min_samples=2)
        y_encoded = self._encode_labels(source.targets())
        self.n_features_in_ = source.sample_shape[0]
        vars(self).pop("feature_names_in_", None)
        return source, y_encoded

    def _check_module_output(self, module: nn.Module, X: np.ndarray) -> None:
        """One forward pass on two rows: logits of shape (2, n_classes), finite.

        Run without gradients and in a forked RNG, so that training is the same
        with or without the check.
        """
        n_classes = len(self.classes_)
        with torch.random.fork_rng(), torch.no_grad():
            head = X.head() if isinstance(X, DatasetInput) else X[:2]
            out = module(self._tensor(head).to(self.device))
        shape = tuple(getattr(out, "shape", ()))
        expected = (min(2, len(X)), n_classes)
        if shape != expected:
            raise ValueError(
                f"{type(self).__name__}'s module {type(module).__name__} returned "
                f"logits of shape {shape} for {expected[0]} inputs; it must return "
                f"shape {expected}, one logit per class ({n_classes} classes)."
            )
        if not bool(torch.isfinite(out).all()):
            raise ValueError(
                f"{type(self).__name__}'s module {type(module).__name__} returned "
                "non-finite logits at initialisation; check the module and the "
                "inputs."
            )

    def predict(self, X) -> np.ndarray:
        """Predict class labels for X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs, or a ``torch.utils.data.Dataset`` of (x, y) items (y is not
            used), read batch by batch (``iterator_valid__*`` options).

        Returns
        -------
        y : ndarray of shape (n_samples,)
            The class of highest predicted probability, from ``classes_``.
            A Dask array for a Dask array X, computed block by block.
        """
        if is_dask_collection(X):
            from ._dask import predict

            return predict(self, X)
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
