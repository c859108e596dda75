"""The distillers' shared base: the teacher, the student's training, transfer inputs.

``_BaseDistiller`` fits (or takes) the teacher, caches it with ``memory``, builds
the student and trains it through ``_DistillationNet``, which adds the loss on
transfer inputs labelled by the online teacher. :mod:`skend2.distillation`
holds the two public distillers.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from numbers import Real
from typing import Any

import numpy as np
import torch
from sklearn.base import clone
from sklearn.frozen import FrozenEstimator
from sklearn.utils import check_array
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, check_memory
from torch import nn

from ._base import BaseNeuralClassifier
from ._datasets import CyclingBatches, DatasetInput, is_dataset, sample_inputs
from ._net import ANNEALING_CALLBACK, _Net, interrupts_propagate
from ._validation import InstanceOf
from .annealing import AnnealingCallback, TemperatureAnnealing
from .ensemble import DeepEnsembleClassifier
from .modules import build_module
from .transfer import FeatureNoise, OnlineTeacher

__all__: list[str] = []


# Items a transfer-input generator is fitted on when X is a Dataset.
_TRANSFER_FIT_ITEMS = 2048

# Added to the student's seed for the order of a Dataset X_aux's items (the
# training batches' iterator draws from the seed itself).
_AUX_SEED_OFFSET = 104_729


def _auto_annealing() -> TemperatureAnnealing:
    """The schedule that ``annealing="auto"`` stands for: a new one each time."""
    return TemperatureAnnealing()


def _auto_transfer() -> FeatureNoise:
    """The generator that ``transfer="auto"`` stands for: a new one each time."""
    return FeatureNoise()


def _fit_teacher(teacher, X, y, X_aux):
    """Fit a teacher and compute its members' logits: the cached, costly step."""
    teacher.fit(X, y)
    logits = teacher.predict_member_logits(X)
    aux_logits = None if X_aux is None else teacher.predict_member_logits(X_aux)
    return teacher, logits, aux_logits


#: The parameters every distiller's student has (classifiers and regressor).
_STUDENT_CONSTRAINTS: dict[str, list] = {
    "annealing": [None, StrOptions({"auto"}), callable],
    "transfer": [None, StrOptions({"auto"}), HasMethods(["fit", "sample"])],
    "transfer_weight": [Interval(Real, 0, 1, closed="left")],
    "memory": [None, str, HasMethods(["cache"])],
    "gradient_clip": [None, Interval(Real, 0, None, closed="neither")],
}


class _DistillationNet(_Net):
    """The student's net: adds the loss on transfer and auxiliary inputs to each step.

    skorch's ``get_loss`` hook: on every training batch, ``transfer`` makes new
    inputs from the batch and ``aux_batches`` (a Dataset ``X_aux``) gives its
    next batch; the online teacher labels both, and the loss is
    ``(1 − w) · loss(batch) + w · loss(new inputs)`` with ``w = transfer_weight``
    when one of the two is there, ``(1 − w) · loss(batch) + (w / 2) ·
    loss(transfer inputs) + (w / 2) · loss(auxiliary batch)`` when both are.
    With ``online_targets`` set (``teacher_outputs="online"``), the batch's own
    targets are the online teacher's logits on that very batch, as the student
    sees it (augmented), in training and validation steps alike.
    """

    def __init__(
        self, *args, transfer=None, transfer_weight: float = 0.0, **kwargs
    ) -> None:
        super().__init__(*args, **kwargs)
        self.transfer = transfer
        self.transfer_weight = transfer_weight
        self.online_teacher = None
        self.online_targets = False
        self.aux_batches = None

    def get_loss(self, y_pred, y_true, X=None, training=False):
        if self.online_targets:
            y_true = self.online_teacher(X)
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if not training or self.online_teacher is None:
            return loss
        extra = []
        if self.transfer is not None:
            extra.append(self.transfer.sample(X))
        if getattr(self, "aux_batches", None) is not None:
            extra.append(next(self.aux_batches))
        if not extra:
            return loss
        weight = self.transfer_weight
        total = (1.0 - weight) * loss
        for X_new in extra:
            new_loss = super().get_loss(
                self.infer(X_new), self.online_teacher(X_new), X=X_new, training=True
            )
            total = total + (weight / len(extra)) * new_loss
        return total


class _StudentMixin:
    """What every distiller does with its teacher and student, classifier or regressor.

    The teacher checked, fitted (or taken from ``FrozenEstimator``) and cached
    with ``memory``, its members' outputs checked; ``annealing="auto"`` and
    ``transfer="auto"`` resolved (``_auto_transfer`` names the generator "auto"
    stands for), the student's architecture taken from the teacher, its
    callbacks, and the net options that fitting and ``skend2.load`` share (so a
    loaded student continues with its transfer inputs).

    Each distiller names its teacher's class (``_teacher_class``: what
    ``teacher=None`` fits), the cached step that fits a teacher and computes
    its members' outputs (``_teacher_fit_step``, the function that
    ``memory.cache`` wraps), ``_member_outputs`` (the same outputs of a
    fitted teacher) and ``_nonfinite_message`` (the error for outputs that
    are not all finite, formatted with ``name``, "X" or "X_aux").
    """

    _auto_transfer = staticmethod(_auto_transfer)
    _teacher_class: type
    _teacher_fit_step: Callable
    _nonfinite_message: str

    @staticmethod
    def _member_outputs(teacher, X) -> np.ndarray:
        """The fitted teacher's members' outputs on X: what the student learns."""
        raise NotImplementedError

    def _validate_params(self) -> None:
        super()._validate_params()
        teacher = self.teacher
        if isinstance(teacher, FrozenEstimator) and not isinstance(
            teacher.estimator, self._teacher_class
        ):
            raise TypeError(
                f"The 'teacher' parameter of {type(self).__name__} must be a "
                f"{self._teacher_class.__name__} (or a fitted one in "
                "FrozenEstimator). Got "
                f"FrozenEstimator({type(teacher.estimator).__name__}) instead."
            )
        self._validate_nested()

    def _teacher_outputs(self, X, y, X_aux, *, need_outputs: bool = True):
        """The fitted teacher and its members' outputs on X (and X_aux).

        A Dataset X is never hashed for ``memory`` (that would read it all):
        its teacher is fitted anew, with a warning if ``memory`` is set, and
        its outputs are computed only if ``need_outputs`` (offline outputs).
        Called by ``_fit`` directly: the warnings' ``stacklevel`` names the
        caller of ``fit``.
        """
        teacher = self.teacher
        if isinstance(teacher, FrozenEstimator):
            fitted = teacher.estimator
            check_is_fitted(fitted)
            outputs = self._member_outputs(fitted, X) if need_outputs else None
            aux = None if X_aux is None else self._member_outputs(fitted, X_aux)
            return fitted, outputs, aux
        if teacher is None:
            teacher = self._teacher_class(
                random_state=self.random_state, device=self.device
            )
        elif hasattr(teacher, "net_"):
            warnings.warn(
                f"{type(self).__name__} got a fitted teacher, which fit() clones "
                "and fits again on the same data (as cross-validation requires). "
                "To distil this fitted ensemble as it is, pass "
                "teacher=FrozenEstimator(ensemble) (sklearn.frozen).",
                UserWarning,
                stacklevel=4,
            )
        if isinstance(X, torch.utils.data.Dataset):
            if self.memory is not None:
                warnings.warn(
                    f"{type(self).__name__}: memory= caches teachers fitted on "
                    "arrays only (a Dataset cannot be hashed without reading it "
                    "all); this teacher is fitted anew and not cached.",
                    UserWarning,
                    stacklevel=4,
                )
            teacher = clone(teacher).fit(X)
            outputs = self._member_outputs(teacher, X) if need_outputs else None
            return teacher, outputs, None
        # skend2's own cache: the teacher in the safe format, no pickle (_cache.py).
        from ._cache import cached_teacher_fit

        memory = check_memory(self.memory)
        return cached_teacher_fit(
            memory, self._teacher_fit_step, clone(teacher), X, y, X_aux
        )

    def _check_teacher_outputs(self, outputs, aux_outputs) -> None:
        """Raise ``_nonfinite_message`` if the members' outputs are not all finite."""
        for name, values in (("X", outputs), ("X_aux", aux_outputs)):
            if values is not None and not np.isfinite(values).all():
                raise ValueError(self._nonfinite_message.format(name=name))

    def _is_warm(self, sample_shape: tuple) -> bool:
        """Whether fit continues the fitted student (``warm_start``): same shape."""
        warm = self.warm_start and hasattr(self, "net_")
        if warm and sample_shape != self.sample_shape_:
            raise ValueError(
                "warm_start=True needs the same input shape as the previous fit: "
                f"{self.sample_shape_}, got {sample_shape}."
            )
        return warm

    def _nested_default(self, name: str) -> Any:
        if name == "annealing" and self.annealing == "auto":
            return _auto_annealing()
        if name == "transfer" and self.transfer == "auto":
            return self._auto_transfer()
        return None

    def _validate_nested(self) -> None:
        for nested in (self.annealing, self.transfer):
            if hasattr(nested, "_validate_params"):
                nested._validate_params()

    def _resolve_annealing(self):
        """The schedule used by ``fit``: ``"auto"`` resolved, None for T = 1."""
        if isinstance(self.annealing, str):
            return self._auto_annealing()
        return self.annealing

    def _auto_annealing(self):
        """The schedule that ``annealing="auto"`` resolves to at fit."""
        return _auto_annealing()

    def _resolve_transfer(self):
        """The generator used by ``fit``: ``"auto"`` resolved, or None."""
        if isinstance(self.transfer, str):
            return self._auto_transfer()
        return None if self.transfer is None else clone(self.transfer)

    def _validate_aux(self, X_aux, sample_shape) -> np.ndarray:
        if is_dataset(X_aux):
            # The classifier distillers read a Dataset X_aux before this check.
            raise TypeError(
                f"{type(self).__name__}.fit takes X_aux as an array, not as a "
                f"Dataset ({type(X_aux).__name__})."
            )
        X_aux = check_array(X_aux, allow_nd=True, dtype=[np.float32, np.float64])
        if X_aux.shape[1:] != sample_shape:
            raise ValueError(
                f"X_aux has samples of shape {X_aux.shape[1:]}, but X has samples "
                f"of shape {sample_shape}."
            )
        return X_aux

    def _validate_aux_dataset(self, X_aux, sample_shape) -> DatasetInput:
        """A Dataset X_aux, checked (its length, item 0's shape), not read further."""
        source = DatasetInput(X_aux, f"X_aux of {type(self).__name__}.fit")
        if source.sample_shape != tuple(sample_shape):
            raise ValueError(
                f"X_aux has samples of shape {source.sample_shape}, but X has "
                f"samples of shape {tuple(sample_shape)}."
            )
        return source

    def _aux_batches(self, source: DatasetInput, seed: int) -> CyclingBatches:
        """The batches of a Dataset X_aux, one per student step, on ``device``.

        As many items as a training batch (``iterator_train__batch_size`` or
        ``batch_size``), read through a ``DataLoader`` with the
        ``iterator_train__*`` options, reshuffled every pass, in orders drawn
        from ``seed`` (not from torch's global RNG).
        """
        options = self._params_for("iterator_train")
        return CyclingBatches(
            source,
            batch_size=options.get("batch_size", self.batch_size),
            options=options,
            seed=seed + _AUX_SEED_OFFSET,
            device=self.device,
        )

    def _student_module(self, teacher) -> tuple[Any, dict[str, Any]]:
        """``module`` and its options, or else the teacher's architecture."""
        module, module_kwargs = self.module, self._params_for("module")
        if module is None:
            module = teacher.module
            module_kwargs = {
                k[len("module__") :]: v
                for k, v in teacher.get_params(deep=False).items()
                if k.startswith("module__")
            }
        return module, module_kwargs

    def _student_callbacks(self) -> dict:
        callbacks = {}
        if self.annealing_ is not None:
            callbacks[ANNEALING_CALLBACK] = AnnealingCallback(self.annealing_)
        callbacks.update(self._gradient_clip_callbacks())
        return callbacks

    def _net_options(self) -> dict[str, Any]:
        """The student net's class and transfer settings (also for loading)."""
        return dict(
            net_class=_DistillationNet,
            transfer=self.transfer_,
            transfer_weight=self.transfer_weight,
        )


class _BaseDistiller(_StudentMixin, BaseNeuralClassifier):
    """Teacher handling, annealing and training shared by EnD and EnD²."""

    def __init__(
        self,
        teacher=None,
        module: type[nn.Module] | nn.Module | None = None,
        *,
        annealing="auto",
        transfer=None,
        transfer_weight: float = 0.5,
        teacher_outputs: str = "auto",
        memory=None,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        lr: float = 3e-3,
        max_epochs: int = 150,
        batch_size: int = 64,
        train_split=None,
        callbacks: list | None = None,
        gradient_clip: float | None = 10.0,
        device: str = "cpu",
        n_threads: int | None = 1,
        verbose: int = 0,
        warm_start: bool = False,
        random_state=None,
        **kwargs: Any,
    ) -> None:
        self.teacher = teacher
        self.module = module
        self.annealing = annealing
        self.transfer = transfer
        self.transfer_weight = transfer_weight
        self.teacher_outputs = teacher_outputs
        self.memory = memory
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.train_split = train_split
        self.callbacks = callbacks
        self.gradient_clip = gradient_clip
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start
        self.random_state = random_state
        super().__init__(**kwargs)

    _parameter_constraints: dict[str, list] = {
        **BaseNeuralClassifier._parameter_constraints,
        "teacher": [
            None,
            InstanceOf(
                (DeepEnsembleClassifier, FrozenEstimator),
                "a DeepEnsembleClassifier (or a fitted one in FrozenEstimator)",
            ),
        ],
        **_STUDENT_CONSTRAINTS,
        "teacher_outputs": [StrOptions({"auto", "offline", "online"})],
    }

    _teacher_class = DeepEnsembleClassifier
    _teacher_fit_step = staticmethod(_fit_teacher)
    _nonfinite_message = (
        "The teacher's member logits on {name} are not all finite; the teacher "
        "diverged or its module outputs NaN/inf. Refit the teacher (a lower lr, "
        "scaled inputs) before distilling it."
    )

    @staticmethod
    def _member_outputs(teacher, X) -> np.ndarray:
        return teacher.predict_member_logits(X)

    # -- fit --------------------------------------------------------------------
    def fit(self, X, y=None, X_aux=None):
        """Fit (or take) the teacher ensemble, then distil it into one network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training inputs, or a ``torch.utils.data.Dataset`` of (x, y) items
            (as skorch's ``fit(dataset, y=None)``), read batch by batch through
            a ``DataLoader`` (``iterator_train__num_workers``, ...), never
            materialised. An unfitted teacher is fitted on X, y first.
        y : array-like of shape (n_samples,) or None, default=None
            Class labels. The student learns from the teacher's members, not from
            y; y fits the teacher and fixes ``classes_``. None for a Dataset,
            whose items carry the labels.
        X_aux : array-like of shape (n_aux, ...) or Dataset, default=None
            Extra unlabelled inputs (the paper's EnD²+AUX), of X's sample shape.
            An array (with array X only) is passed through the teacher once and
            added to the distillation set. A ``torch.utils.data.Dataset`` of
            (x, y) items (y is not used), with array or Dataset X, is never
            materialised: every student step reads its next batch of
            ``batch_size`` items (a ``DataLoader`` with the
            ``iterator_train__*`` options; a new order each pass over it),
            labelled by the online teacher
            (:class:`~skend2.transfer.OnlineTeacher`, one more teacher and
            student forward pass per step), and weighted as transfer inputs
            are: the loss is (1 − w)·loss(batch) + w·loss(auxiliary batch),
            w = ``transfer_weight``; with a ``transfer`` generator as well,
            w is shared equally, (1 − w)·loss(batch) + (w/2)·loss(transfer
            inputs) + (w/2)·loss(auxiliary batch). Note: inside a ``Pipeline``
            X_aux bypasses the preceding steps; transform it yourself.

        Returns
        -------
        self
            The fitted distiller.
        """
        with self._atomic_fit(), self._torch_threads():
            self._fit(X, y, X_aux)
        return self

    def _fit(self, X, y, X_aux) -> None:
        self._validate_params()
        X_raw, y_raw = X, y
        with warnings.catch_warnings():
            if is_dataset(X_aux):
                # The DataLoader options of array X do apply: to X_aux's batches.
                warnings.filterwarnings(
                    "ignore", ".*apply to Dataset inputs only", UserWarning
                )
            X, y_encoded = self._validate_fit_data(X, y)
        from_dataset = isinstance(X, DatasetInput)
        mode = self.teacher_outputs
        if mode == "auto":
            mode = "online" if from_dataset else "offline"
        sample_shape = tuple(X.shape[1:])
        aux_source = None
        if is_dataset(X_aux):
            # Read batch by batch in the student's steps, never materialised.
            aux_source = self._validate_aux_dataset(X_aux, sample_shape)
            X_aux = None
        elif X_aux is not None:
            if from_dataset:
                raise ValueError(
                    f"{type(self).__name__}.fit takes an array X_aux with array X "
                    "only; with a Dataset X, pass X_aux as a Dataset of (x, y) "
                    "items too (y is not used)."
                )
            X_aux = self._validate_aux(X_aux, sample_shape)
        warm = self._is_warm(sample_shape)
        # A Ctrl-C in the teacher stage aborts the fit: a half-trained teacher
        # is neither distilled nor cached.
        with interrupts_propagate():
            teacher, logits, aux_logits = self._teacher_outputs(
                X_raw, y_raw, X_aux, need_outputs=mode == "offline"
            )
        self._check_teacher_outputs(logits, aux_logits)
        if warm and not np.array_equal(teacher.classes_, self.teacher_.classes_):
            raise ValueError(
                "warm_start=True needs a teacher with the same classes as the "
                "previous fit."
            )
        # Class indices in the teacher's classes, for stratified validation splits;
        # auxiliary rows are labelled by the teacher's prediction.
        y_split = np.searchsorted(teacher.classes_, self.classes_)[y_encoded]
        self._adopt_teacher_classes(teacher)
        self.teacher_ = teacher
        self.sample_shape_ = sample_shape
        if aux_logits is not None:
            X = np.concatenate([X, X_aux.astype(X.dtype)])
            if logits is not None:
                logits = np.concatenate([logits, aux_logits])
            aux_labels = torch.softmax(torch.as_tensor(aux_logits), -1).mean(1)
            y_split = np.concatenate([y_split, aux_labels.argmax(-1).numpy()])
        self.teacher_outputs_ = mode
        if mode == "offline":
            targets = np.asarray(logits, dtype=np.float32)
        else:
            # Placeholders: each batch's targets are the online teacher's logits.
            targets = y_split
        seed = self._draw_seed()
        with self._seeded(seed):
            if not warm:
                self.annealing_ = self._resolve_annealing()
                transfer = self._resolve_transfer()
                if transfer is not None and from_dataset:
                    # Fitted on a sample of the items: it needs feature scales,
                    # not the whole (possibly larger than memory) data set.
                    transfer.fit(sample_inputs(X, _TRANSFER_FIT_ITEMS, seed))
                elif transfer is not None:
                    transfer.fit(X)
                self.transfer_ = transfer
                student = self._build_student(teacher, sample_shape)
                self._check_module_output(student, X)
                self.net_ = self._make_net(
                    student,
                    seed=seed,
                    extra_callbacks=self._student_callbacks(),
                    stage=f"{type(self).__name__} student",
                    **self._net_options(),
                )
            labels_online = mode == "online" or aux_source is not None
            if self.transfer_ is not None or labels_online:
                self.net_.online_teacher = OnlineTeacher(teacher, self.device)
            self.net_.online_targets = mode == "online"
            if aux_source is not None:
                self.net_.aux_batches = self._aux_batches(aux_source, seed)
            try:
                self._train(self.net_, X, targets, y_split)
            finally:
                # The teacher's copy and the auxiliary batches are needed only
                # while training.
                self.net_.online_teacher = None
                self.net_.online_targets = False
                if aux_source is not None:
                    self.net_.aux_batches.close()
                    self.net_.aux_batches = None

    def _build_student(self, teacher, sample_shape) -> nn.Module:
        """The student network: ``module``, or else the teacher's architecture."""
        module, module_kwargs = self._student_module(teacher)
        return build_module(module, module_kwargs, sample_shape, len(self.classes_))

    def _adopt_teacher_classes(self, teacher) -> None:
        seen = self.classes_
        if not np.all(np.isin(seen, teacher.classes_)):
            raise ValueError(
                "y has classes the teacher was not fitted on: "
                f"{sorted(set(seen) - set(teacher.classes_))}."
            )
        self.classes_ = teacher.classes_

    def predict_logits(self, X) -> np.ndarray:
        """The student's logits.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs, or a ``torch.utils.data.Dataset`` of (x, y) items (y is not
            used), read batch by batch (``iterator_valid__*`` options).

        Returns
        -------
        logits : ndarray of shape (n_samples, n_classes)
            Float32 logits z, in the order of ``classes_``.
        """
        return self._predict_batches(X, lambda z: z)
