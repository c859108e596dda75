"""DeepEnsembleClassifier: networks trained fused (vectorised) or one by one."""

from __future__ import annotations

import warnings
from numbers import Integral
from typing import Any

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.utils._param_validation import Interval, StrOptions
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
        loss = F.cross_entropy(
            logits.reshape(-1, n_classes),
            target.reshape(-1),
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
        ``"fused"`` trains all members in one vectorised pass; ``"sequential"``
        trains them one after another with joblib (``n_jobs`` workers, any joblib
        backend); ``"auto"`` fuses unless the architecture cannot be vectorised.
    n_jobs : int or None, default=None
        Joblib workers for ``training="sequential"``.
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
    history_ : skorch.History
        ``net_.history``: one row per epoch. ``train_loss`` is the mean of the
        members' losses; members trained sequentially add ``member_train_loss``
        (and ``member_valid_loss``, ...), a list with each member's value.

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
        "n_jobs": [
            None,
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
        ],
    }

    def _criterion_class(self) -> type[nn.Module]:
        return MemberCrossEntropy

    def fit(self, X, y) -> DeepEnsembleClassifier:
        """Train the members on X, y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training inputs (int or float; cast to float32 for torch).
        y : array-like of shape (n_samples,)
            Class labels of any type (strings, non-contiguous integers, ...).

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
        self.sample_shape_ = sample_shape
        seed = self._draw_seed()
        if warm:
            with self._seeded(seed):
                self._train(self.net_, X, y_encoded, y_encoded)
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
        self.training_ = training
        if training == "fused":
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
            self.net_ = self._fit_sequential(X, y_encoded, members, seed)

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
            Inputs.

        Returns
        -------
        logits : ndarray of shape (n_samples, n_members, n_classes)
            Float32 logits, in the order of ``classes_``.
        """
        return self._predict_batches(X, lambda z: z)

    def predict_member_proba(self, X) -> np.ndarray:
        """Return the class probabilities of every member.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_members, n_classes)
            Each member's softmax output, in the order of ``classes_``.
        """
        return self._predict_batches(X, lambda z: torch.softmax(z.double(), dim=-1))

    def predict_proba(self, X) -> np.ndarray:
        """Mean of the members' class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            The ensemble's predictive distribution, in the order of ``classes_``.
        """
        return self._predict_batches(
            X, lambda z: torch.softmax(z.double(), dim=-1).mean(dim=1)
        )

    def _uncertainty_of_logits(self, logits: torch.Tensor) -> dict:
        return _ensemble_uncertainty_from_logits(logits)
