"""DeepEnsembleClassifier: networks trained fused (vectorised) or one by one."""

from __future__ import annotations

import copy
import sys
import warnings
from numbers import Integral
from typing import Any

import numpy as np
import torch
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import clone
from sklearn.utils._param_validation import Interval, StrOptions
from skorch.history import History
from torch import nn
from torch.nn import functional as F

from ._base import BaseNeuralClassifier
from ._net import interrupts_propagate, merge_histories
from .modules import MemberList, StackedEnsemble, build_module, can_vectorise
from .uncertainty import ENSEMBLE_MEASURES, _ensemble_uncertainty_from_logits

__all__ = ["DeepEnsembleClassifier"]


class MemberCrossEntropy(nn.Module):
    """Cross-entropy of each member's logits, summed over members, mean over the batch.

    The sum (not the mean) over members gives every member exactly the gradient of
    its own loss, so fused training matches training the members one by one.
    Targets are (batch,) for the same labels for all members, or (batch, M).
    Logits of shape (batch, K) are one member's (the sequential path).
    ``label_smoothing`` is :func:`torch.nn.functional.cross_entropy`'s.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = label_smoothing

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        if logits.dim() == 2:
            return F.cross_entropy(logits, target, label_smoothing=self.label_smoothing)
        batch, n_members, n_classes = logits.shape
        if target.dim() == 1:
            target = target[:, None].expand(batch, n_members)
        # Member-major rows: the fused module's logits are a (batch, M) view of
        # (M, batch) storage, so the gradient then reaches every member's
        # layers as one contiguous block, and the reductions of the backward
        # pass (a bias gradient sums over the batch) add in an order that does
        # not depend on how many members are fused together. That is what makes
        # groups of members (n_groups) bit-identical to the whole ensemble.
        loss = F.cross_entropy(
            logits.transpose(0, 1).reshape(-1, n_classes),
            target.transpose(0, 1).reshape(-1),
            label_smoothing=self.label_smoothing,
        )
        return loss * n_members


def _fit_member(estimator: DeepEnsembleClassifier, X, y, member, index: int, seed: int):
    """Train member ``index`` alone (the sequential path); a joblib task.

    It sees exactly the minibatches it would see in the fused ensemble; only
    torch's own randomness (dropout) is seeded per member. A Ctrl-C aborts the
    whole sequential fit: an ensemble of the members that happened to finish
    would be another model than the one asked for.
    """
    with estimator._seeded(seed + index), interrupts_propagate():
        net = estimator._make_net(
            member,
            seed=seed,
            n_members=estimator.n_members,
            member=index,
            stage=f"member {index + 1} of {estimator.n_members}",
        )
        estimator._train(net, X, y, y)
    return net.module_.cpu(), net.history


def _group_bounds(n_members: int, n_groups: int) -> list[tuple[int, int]]:
    """Contiguous (start, stop) member ranges, sizes differing by at most one."""
    sizes = [len(a) for a in np.array_split(np.arange(n_members), n_groups)]
    stops = np.cumsum(sizes).tolist()
    return list(zip([0, *stops[:-1]], stops))


def _inside_dask_worker() -> bool:
    """True in a task of a dask.distributed worker (without importing dask)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except (ValueError, AttributeError):
        return False
    return True


def _has_stochastic_layers(module: nn.Module) -> bool:
    return any(
        isinstance(sub, nn.modules.dropout._DropoutNd) and sub.p > 0
        for sub in module.modules()
    )


def _state_to_cpu(state: dict) -> dict:
    """An optimiser state dict with its tensors on the CPU (to travel by pickle)."""
    return {
        "state": {
            i: {k: v.cpu() if torch.is_tensor(v) else v for k, v in entry.items()}
            for i, entry in state["state"].items()
        },
        "param_groups": copy.deepcopy(state["param_groups"]),
    }


def _is_per_member(value: Any) -> bool:
    return torch.is_tensor(value) and value.dim() > 0


def _split_optimizer_state(state: dict, bounds: list[tuple[int, int]]) -> list[dict]:
    """The optimiser state of a fused ensemble, cut into its groups' states.

    An element-wise optimiser (what fused training requires) keeps per-parameter
    tensors stacked like the parameters, members along the first axis, and
    scalars (Adam's ``step``) that all members share.
    """
    state = _state_to_cpu(state)
    return [
        {
            "state": {
                i: {
                    k: v[start:stop].clone()
                    if _is_per_member(v)
                    else (v.clone() if torch.is_tensor(v) else copy.deepcopy(v))
                    for k, v in entry.items()
                }
                for i, entry in state["state"].items()
            },
            "param_groups": copy.deepcopy(state["param_groups"]),
        }
        for start, stop in bounds
    ]


def _merge_optimizer_states(states: list[dict], sizes: list[int]) -> dict:
    """The groups' optimiser states as the state of one fused ensemble."""
    merged: dict = {}
    for i, entry in states[0]["state"].items():
        merged[i] = {}
        for key, value in entry.items():
            values = [s["state"][i][key] for s in states]
            if _is_per_member(value):
                if any(v.shape[0] != n for v, n in zip(values, sizes)):
                    raise ValueError(
                        f"The optimiser's state {key!r} is not stacked by member, "
                        "so groups of members cannot be gathered into one "
                        "ensemble; fused training needs an element-wise optimiser "
                        "(SGD, Adam, ...). Use n_groups=1."
                    )
                merged[i][key] = torch.cat(values)
            elif any(
                not (torch.equal(v, value) if torch.is_tensor(v) else v == value)
                for v in values
            ):
                raise ValueError(
                    f"The optimiser's state {key!r} differs between the groups of "
                    "members, so they cannot be gathered into one ensemble; use "
                    "n_groups=1."
                )
            else:
                merged[i][key] = value
    return {"state": merged, "param_groups": states[0]["param_groups"]}


class _Pickled:
    """Torch objects on their way to or from a joblib task, pickled as one object.

    Dask's serialisers take torch tensors and modules apart one by one (as
    NumPy arrays); the skeleton of a :class:`StackedEnsemble`, on the meta
    device, does not survive that. Wrapped, everything goes through pickle
    (and ``StackedEnsemble.__getstate__``), as with loky.
    """

    def __init__(self, value: Any) -> None:
        self.value = value


def _fit_group(
    estimator: DeepEnsembleClassifier,
    X: np.ndarray,
    y: np.ndarray,
    group: _Pickled,
    bounds: tuple[int, int],
    seed: int,
    iterator_seed: int,
):
    """Train members ``start`` to ``stop - 1`` fused, as a group; a joblib task.

    Everything a member sees is what it sees in the ensemble fused as a whole:
    its initialisation (drawn for the whole ensemble before the groups are
    formed), its columns of the ensemble's minibatches (``member=slice(...)``),
    and an element-wise optimiser. ``group`` holds the group's
    :class:`StackedEnsemble` and, to continue a warm start, its optimiser state
    and the history so far (else None). Returns the trained group, its
    optimiser state and the new rows of its history.
    """
    module, optimizer_state, history = group.value
    start, stop = bounds
    n_members = estimator.n_members
    with (
        estimator._torch_threads(),
        estimator._seeded(seed),
        interrupts_propagate(),
    ):
        net = estimator._make_net(
            module,
            seed=iterator_seed,
            n_members=n_members,
            member=slice(start, stop),
            loss_scale=stop - start,
            stage=f"members {start + 1}-{stop} of {n_members} (fused)",
        )
        before = 0
        if optimizer_state is not None:
            net.initialize()
            net.optimizer_.load_state_dict(optimizer_state)
            net.history = copy.deepcopy(history)
            before = len(history)
        estimator._train(net, X, y, y)
    return _Pickled(
        (
            net.module_.cpu(),
            _state_to_cpu(net.optimizer_.state_dict()),
            list(net.history)[before:],
        )
    )


class DeepEnsembleClassifier(BaseNeuralClassifier):
    """A deep ensemble: M networks with their own initialisation and data shuffling.

    Members share one torch architecture; each starts from its own random
    initialisation and sees its own permutation of the data every epoch
    (Lakshminarayanan et al., 2017). By default all members are trained at once:
    their parameters are stacked and one vectorised forward/backward pass
    (:func:`torch.func.vmap`) updates them all, so an ensemble costs little more
    than one network. Architectures that cannot be vectorised (BatchNorm in
    training mode) are trained one member after another through joblib.

    The ensemble's prediction is the mean of the members' probabilities, and its
    uncertainty splits into data (expected entropy) and knowledge (mutual
    information) uncertainty, the quantities that Ensemble Distribution
    Distillation (:class:`~skend2.PriorNetworkDistiller`) keeps in one network.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The member architecture. ``None`` uses :class:`~skend2.modules.MLP` for
        tabular inputs (n_samples, n_features) and :class:`~skend2.modules.SmallCNN`
        for images (n_samples, C, H, W). A class is instantiated with the
        ``module__*`` parameters, plus ``n_features``/``n_channels`` and
        ``n_classes`` from the data when it accepts them; an instance is copied
        and re-initialised for each member.
    n_members : int, default=5
        Number of networks in the ensemble.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Optimiser of each member; its options go in ``optimizer__*``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=100
        Passes over the training data.
    batch_size : int, default=64
        Minibatch size of each member.
    train_split : callable or None, default=None
        The internal validation split of skorch, e.g.
        ``skorch.dataset.ValidSplit(5, stratified=True)`` (it receives the class
        labels); ``None`` trains on all the data.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks (e.g. ``skorch.callbacks.LRScheduler``).
    training : {"auto", "fused", "sequential"}, default="auto"
        ``"fused"`` trains all members in one vectorised pass (or, with several
        ``n_groups``, one vectorised pass per group); ``"sequential"`` trains
        them one after another with joblib (``n_jobs`` workers, any joblib
        backend); ``"auto"`` fuses unless the architecture cannot be vectorised.
    n_groups : int or None, default=None
        Fused training split into this many groups of consecutive members, each
        group trained fused in its own joblib task (``n_jobs`` workers, any
        joblib backend: loky, threading, Dask, Ray), then gathered into one
        fused ensemble. ``None`` is one group per joblib worker
        (``joblib.effective_n_jobs(n_jobs)``, at most ``n_members``): one group,
        the plain fused fit, unless ``n_jobs`` or a backend such as
        ``joblib.parallel_backend("dask")`` provides more workers; inside a
        task of a Dask worker (a grid search on a cluster) it is one group, so
        that nested fits do not compete for the workers. A member's
        initialisation, minibatches and updates depend only on
        ``random_state`` and its index, so the fitted members are bit for bit
        those of ``n_groups=1`` on CPU (torch randomness inside training,
        dropout, is drawn per group: with dropout the result is reproducible
        for a given ``n_groups`` only, and a warning says so). Applies to fused
        training only.
    n_jobs : int or None, default=None
        Joblib workers for the groups of ``n_groups`` and for
        ``training="sequential"``.
    device : str, default="cpu"
        Torch device, e.g. ``"cuda"``.
    n_threads : int or None, default=1
        The intra-op CPU threads of torch inside ``fit`` and the predict methods
        (restored afterwards); ``None`` leaves torch's setting. One thread is
        the default because small networks gain little from more and lose
        much when the cores are shared: with two busy processes on a 2-core
        machine, 2 threads made the default MLP ensemble's fit 2.2x and an
        EnD² student's fit 25x slower (``benchmarks/bench_threads.py``;
        idle, 2 threads were up to 1.8x faster, for a CNN). Raise it for
        large networks on a machine of your own.
    verbose : int, default=0
        ``0`` is silent; ``1`` shows a progress bar per training stage (the
        fused ensemble, or member k of M), with epochs done of ``max_epochs``,
        the loss and the elapsed and remaining time; ``2`` prints skorch's
        per-epoch table instead.
    warm_start : bool, default=False
        Continue training the fitted members on a new call to ``fit`` instead of
        re-initialising them (fused training only: sequentially trained members
        are re-initialised, with a warning).
    random_state : int, RandomState instance or None, default=None
        Seeds the members' initialisation and shuffling; the same value gives
        identical predictions on CPU.
    **kwargs
        ``module__*`` (the member architecture's arguments) and skorch's
        ``criterion__*`` (e.g. ``criterion__label_smoothing``), ``optimizer__*``,
        ``iterator_train__*``, ``iterator_valid__*`` (its ``batch_size`` is also
        the predict batch size), ``dataset__*`` and ``callbacks__*`` parameters.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features (the second dimension of X).
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when X is a DataFrame with string column names.
    sample_shape_ : tuple of int
        Shape of one input sample.
    net_ : skorch.NeuralNet
        The skorch net that holds the trained ensemble and its history.
    module_ : torch.nn.Module
        The trained ensemble, ``net_.module_``: input (batch, ...) gives logits
        (batch, M, K).
    training_ : str
        ``"fused"`` or ``"sequential"``: how the members were trained.
    n_groups_ : int
        The number of joblib tasks the members were trained in: the groups of a
        fused fit (1 for a plain fused fit), ``n_members`` when sequential.
    history_ : skorch.History
        ``net_.history``: one row per epoch. ``train_loss`` is the mean of the
        members' losses; members trained sequentially add ``member_train_loss``
        (and ``member_valid_loss``, ...), a list with each member's value, and
        groups of members (``n_groups``) add ``group_train_loss``, ..., each
        group's mean.

    See Also
    --------
    skend2.PriorNetworkDistiller : EnD², distils this ensemble into one network.
    skend2.EnsembleDistiller : EnD, distils the ensemble's mean prediction.

    References
    ----------
    .. [1] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and Scalable
       Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017.
    .. [2] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skend2 import DeepEnsembleClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> model = make_pipeline(
    ...     StandardScaler(),
    ...     DeepEnsembleClassifier(n_members=3, max_epochs=20, random_state=0),
    ... ).fit(X, y)
    >>> model.predict_proba(X[:2]).shape
    (2, 3)
    >>> ensemble = model[-1]
    >>> sorted(ensemble.predict_uncertainty(model[:-1].transform(X[:2])))
    ['data', 'epkl', 'knowledge', 'mkl', 'total']
    """

    _uncertainty_measures = ENSEMBLE_MEASURES

    def __init__(
        self,
        module: type[nn.Module] | nn.Module | None = None,
        *,
        n_members: int = 5,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 100,
        batch_size: int = 64,
        train_split=None,
        callbacks: list | None = None,
        training: str = "auto",
        n_groups: int | None = None,
        n_jobs: int | None = None,
        device: str = "cpu",
        n_threads: int | None = 1,
        verbose: int = 0,
        warm_start: bool = False,
        random_state=None,
        **kwargs: Any,
    ) -> None:
        self.module = module
        self.n_members = n_members
        self.optimizer = optimizer
        self.lr = lr
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.train_split = train_split
        self.callbacks = callbacks
        self.training = training
        self.n_groups = n_groups
        self.n_jobs = n_jobs
        self.device = device
        self.n_threads = n_threads
        self.verbose = verbose
        self.warm_start = warm_start
        self.random_state = random_state
        super().__init__(**kwargs)

    _parameter_constraints: dict[str, list] = {
        **BaseNeuralClassifier._parameter_constraints,
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "training": [StrOptions({"auto", "fused", "sequential"})],
        "n_groups": [None, Interval(Integral, 1, None, closed="left")],
        "n_jobs": [
            None,
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
        ],
    }

    def _criterion_class(self) -> type[nn.Module]:
        return MemberCrossEntropy

    def fit(self, X, y=None) -> DeepEnsembleClassifier:
        """Train the members on X, y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training inputs (int or float; cast to float32 for torch), or a
            ``torch.utils.data.Dataset`` of (x, y) items (as skorch's
            ``fit(dataset, y=None)``), read batch by batch through a
            ``DataLoader`` (``iterator_train__num_workers``, ...), never
            materialised. Each member of a fused ensemble reads its own items,
            so random transforms give each member its own augmented views (M
            times the item reads of one network).
        y : array-like of shape (n_samples,) or None, default=None
            Class labels of any type (strings, non-contiguous integers, ...).
            None for a Dataset, whose items carry the labels (its ``targets``
            attribute if it has one, else one pass over the items).

        Returns
        -------
        self : DeepEnsembleClassifier
            The fitted ensemble.
        """
        with self._atomic_fit(), self._torch_threads():
            self._fit(X, y)
        return self

    def _fit(self, X, y) -> None:
        self._validate_params()
        previous = getattr(self, "training_", None), getattr(self, "classes_", None)
        X, y_encoded = self._validate_fit_data(X, y)
        sample_shape = tuple(X.shape[1:])
        warm = self.warm_start and previous[0] is not None
        if warm and previous[0] == "sequential":
            warnings.warn(
                "warm_start=True continues only a fused ensemble; these members "
                "were trained sequentially, so they are re-initialised.",
                UserWarning,
                stacklevel=3,
            )
            warm = False
        if warm and (
            sample_shape != self.sample_shape_
            or not np.array_equal(previous[1], self.classes_)
        ):
            raise ValueError(
                "warm_start=True needs the same input shape and classes as the "
                "previous fit."
            )
        if warm and self.net_.module_.n_members != self.n_members:
            raise ValueError(
                "warm_start=True continues the fitted members, but n_members "
                f"changed from {self.net_.module_.n_members} to {self.n_members}; "
                "set warm_start=False to fit a new ensemble."
            )
        self.sample_shape_ = sample_shape
        seed = self._draw_seed()
        if warm:
            previous_net = self.net_
            members = previous_net.module_.members()
            n_groups = self._resolve_n_groups("fused", members[0])
            self.n_groups_ = n_groups
            if n_groups == 1:
                with self._seeded(seed):
                    self._train(self.net_, X, y_encoded, y_encoded)
                return
            self.net_ = self._fit_groups(
                X,
                y_encoded,
                members,
                n_groups,
                seed,
                iterator_seed=previous_net.iterator_train__seed,
                optimizer_state=previous_net.optimizer_.state_dict(),
                history=previous_net.history,
            )
            return

        with self._seeded(seed):
            members = [
                build_module(
                    self.module,
                    self._params_for("module"),
                    sample_shape,
                    len(self.classes_),
                )
                for _ in range(self.n_members)
            ]
        for member in members:
            self._check_module_output(member, X)
        training = self.training
        if training == "auto":
            training = "fused" if can_vectorise(members[0]) else "sequential"
        if training == "fused" and not can_vectorise(members[0]):
            raise ValueError(
                "training='fused' cannot vectorise this module (it has "
                "normalisation layers that update running statistics); use "
                "training='sequential' or 'auto'."
            )
        n_groups = self._resolve_n_groups(training, members[0])
        self.training_ = training
        self.n_groups_ = n_groups
        if training == "sequential":
            self.net_ = self._fit_sequential(X, y_encoded, members, seed)
        elif n_groups == 1:
            with self._seeded(seed):
                module = StackedEnsemble(members, sample_ndim=len(sample_shape))
                self.net_ = self._make_net(
                    module,
                    seed=seed,
                    n_members=self.n_members,
                    loss_scale=self.n_members,
                    stage=f"{type(self).__name__} ({self.n_members} members, fused)",
                )
                self._train(self.net_, X, y_encoded, y_encoded)
        else:
            self.net_ = self._fit_groups(
                X, y_encoded, members, n_groups, seed, iterator_seed=seed
            )

    def _resolve_n_groups(self, training: str, member: nn.Module) -> int:
        """How many joblib tasks train the members (``n_groups`` resolved)."""
        if training == "sequential":
            if self.n_groups is not None:
                raise ValueError(
                    f"n_groups={self.n_groups} applies to fused training, but "
                    "these members are trained sequentially (training="
                    f"{self.training!r}), each in its own joblib task (n_jobs "
                    "workers); leave n_groups=None."
                )
            return self.n_members
        if self.n_groups is not None:
            if self.n_groups > self.n_members:
                raise ValueError(
                    f"n_groups={self.n_groups} is more than n_members="
                    f"{self.n_members}; a group needs at least one member."
                )
            n_groups = int(self.n_groups)
        elif _inside_dask_worker():
            n_groups = 1
        else:
            n_groups = max(1, min(self.n_members, effective_n_jobs(self.n_jobs)))
        if n_groups > 1 and _has_stochastic_layers(member):
            warnings.warn(
                f"{type(self).__name__}: the members have dropout, whose masks "
                f"are drawn per group of members; the fit in {n_groups} groups is "
                "reproducible for this n_groups, but not bit for bit the fit in "
                "one group.",
                UserWarning,
                stacklevel=4,
            )
        return n_groups

    def _fit_groups(
        self,
        X: np.ndarray,
        y: np.ndarray,
        members: list[nn.Module],
        n_groups: int,
        seed: int,
        *,
        iterator_seed: int,
        optimizer_state: dict | None = None,
        history: History | None = None,
    ):
        """Groups of members trained fused in joblib tasks, gathered into one net.

        The gathered net is what a fused fit in one group gives: one
        :class:`StackedEnsemble` of all members (in order), the optimiser
        state of all of them (so ``warm_start`` continues it) and one history.
        """
        bounds = _group_bounds(self.n_members, n_groups)
        sample_ndim = len(self.sample_shape_)
        states = (
            [None] * n_groups
            if optimizer_state is None
            else _split_optimizer_state(optimizer_state, bounds)
        )
        # Tasks get an unfitted copy each: parameters only, their own callbacks.
        # Threads (joblib's threading backend) share torch's global RNG: the
        # outer fork restores the caller's state whatever order they end in.
        with self._seeded(seed):
            results = Parallel(n_jobs=self.n_jobs)(
                delayed(_fit_group)(
                    clone(self),
                    X,
                    y,
                    _Pickled(
                        (
                            StackedEnsemble(
                                members[start:stop], sample_ndim=sample_ndim
                            ),
                            state,
                            history,
                        )
                    ),
                    (start, stop),
                    # torch's own randomness (dropout) differs between groups; the
                    # first group is seeded as the fit in one group.
                    seed + start,
                    iterator_seed,
                )
                for (start, stop), state in zip(bounds, states)
            )
        results = [result.value for result in results]
        sizes = [stop - start for start, stop in bounds]
        module = StackedEnsemble(
            [m for group, _, _ in results for m in group.members()],
            sample_ndim=sample_ndim,
        )
        net = self._make_net(
            module,
            seed=iterator_seed,
            n_members=self.n_members,
            loss_scale=self.n_members,
            stage=f"{type(self).__name__} ({self.n_members} members, fused)",
        )
        net.initialize()
        net.optimizer_.load_state_dict(
            _merge_optimizer_states([state for _, state, _ in results], sizes)
        )
        rows = merge_histories(
            [History(rows) for _, _, rows in results], weights=sizes, prefix="group"
        )
        net.history = History([*(history or []), *rows])
        self.interrupted_epoch_ = None
        return net

    def _fit_sequential(self, X, y, members, seed: int):
        """Members trained one by one, gathered into one net with one history."""
        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(self, X, y, member, index, seed)
            for index, member in enumerate(members)
        )
        net = self._make_net(
            MemberList([m for m, _ in results]),
            seed=seed,
            n_members=self.n_members,
            loss_scale=self.n_members,
        )
        net.initialize()
        net.history = merge_histories([h for _, h in results])
        return net

    def predict_member_logits(self, X) -> np.ndarray:
        """Return the logits of every member.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs, or a ``torch.utils.data.Dataset`` of (x, y) items (y is not
            used), read batch by batch (``iterator_valid__*`` options).

        Returns
        -------
        logits : ndarray of shape (n_samples, n_members, n_classes)
            Float32 logits, in the order of ``classes_`` (a Dask array for a
            Dask array X, computed block by block).
        """
        return self._predict_batches(X, lambda z: z)

    def predict_member_proba(self, X) -> np.ndarray:
        """Return the class probabilities of every member.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs, or a ``torch.utils.data.Dataset`` of (x, y) items (y is not
            used), read batch by batch (``iterator_valid__*`` options).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_members, n_classes)
            Each member's softmax output, in the order of ``classes_`` (a Dask
            array for a Dask array X, computed block by block).
        """
        return self._predict_batches(X, lambda z: torch.softmax(z.double(), dim=-1))

    def predict_proba(self, X) -> np.ndarray:
        """Mean of the members' class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs, or a ``torch.utils.data.Dataset`` of (x, y) items (y is not
            used), read batch by batch (``iterator_valid__*`` options).

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The ensemble's predictive distribution, in the order of ``classes_``
            (a Dask array for a Dask array X, computed block by block).
        """
        return self._predict_batches(
            X, lambda z: torch.softmax(z.double(), dim=-1).mean(dim=1)
        )

    def _uncertainty_of_logits(self, logits: torch.Tensor) -> dict:
        return _ensemble_uncertainty_from_logits(logits)
