"""Regression: deep ensembles of Gaussian networks and their Normal-Wishart EnD².

:class:`DeepEnsembleRegressor` trains M networks that each predict a mean and a
variance per target (fused, as :class:`~skend2.DeepEnsembleClassifier`);
:class:`PriorNetworkRegressor` distils them into one network whose outputs
parametrise a Normal-Wishart distribution over the members' Gaussians
(Malinin, Chervontsev, Provilkov & Gales, 2020). Targets are standardised
inside ``fit``; every prediction, distribution parameter and measure is
returned in the user's units. The losses are re-exported here from
``skend2._regression_losses``.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np
import torch
from sklearn.base import RegressorMixin
from sklearn.frozen import FrozenEstimator
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import validate_data
from torch import nn

from ._base import BaseNeuralEstimator, _warn_if_unscaled
from ._distiller import _STUDENT_CONSTRAINTS, _StudentMixin
from ._net import interrupts_propagate, merge_histories
from ._regression_losses import (
    GaussianNLLLoss,
    NormalWishartNLLLoss,
    gaussian_nll_loss,
    member_mean_variance,
    normal_wishart_nll_loss,
    student_log_parameters,
)
from ._regression_measures import (
    REGRESSION_MEASURES,
    _gaussian_ensemble_measures,
    _normal_wishart_measures,
)
from ._regression_training import (
    EARLY_STOPPING_CALLBACK,
    RegressionEarlyStopping,
    VarianceScaled,
    _EarlyStoppingNet,
    fit_variance_scale,
)
from ._validation import InstanceOf
from .modules import MemberList, StackedEnsemble, build_module, can_vectorise
from .transfer import GaussianNoise, OnlineTeacher

__all__ = [
    "DeepEnsembleRegressor",
    "PriorNetworkRegressor",
    "GaussianNLLLoss",
    "NormalWishartNLLLoss",
    "gaussian_nll_loss",
    "normal_wishart_nll_loss",
]


class _BaseNeuralRegressor(RegressorMixin, BaseNeuralEstimator):
    """Targets, standardisation and the user-unit conversions of the regressors."""

    _uncertainty_measures = REGRESSION_MEASURES

    def score(self, X, y, sample_weight=None) -> float:
        """The coefficient of determination R² of ``predict(X)`` (scikit-learn's).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.

        Returns
        -------
        score : float
            R² (uniform average over targets), as
            :func:`sklearn.metrics.r2_score`.
        """
        return super().score(X, y, sample_weight=sample_weight)

    def _validate_fit_data(self, X, y) -> tuple[np.ndarray, np.ndarray]:
        """X and y (n_samples, n_targets) as float64; sets the target attributes."""
        X, y = validate_data(
            self,
            X,
            y,
            allow_nd=True,
            dtype=[np.float32, np.float64],
            ensure_min_samples=2,
            multi_output=True,
            y_numeric=True,
        )
        y = np.asarray(y, dtype=np.float64)
        self.multi_output_ = y.ndim == 2
        y = y.reshape(len(y), -1)
        if y.shape[1] < 1:
            raise ValueError("y has no targets (shape (n_samples, 0)).")
        self.n_targets_ = int(y.shape[1])
        _warn_if_unscaled(X, type(self).__name__)
        return X, y

    def _check_module_output(self, module: nn.Module, X: np.ndarray, width: int):
        """One forward pass on two rows: outputs of shape (2, width), finite."""
        with torch.random.fork_rng(), torch.no_grad():
            out = module(self._tensor(X[:2]).to(self.device))
        shape = tuple(getattr(out, "shape", ()))
        expected = (min(2, len(X)), width)
        if shape != expected:
            raise ValueError(
                f"{type(self).__name__}'s module {type(module).__name__} returned "
                f"outputs of shape {shape} for {expected[0]} inputs; it must return "
                f"shape {expected} ({self.n_targets_} target(s)). Leave n_classes "
                "to the estimator."
            )
        if not bool(torch.isfinite(out).all()):
            raise ValueError(
                f"{type(self).__name__}'s module {type(module).__name__} returned "
                "non-finite outputs at initialisation; check the module and the "
                "inputs."
            )

    def _units(self, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The targets' offset and scale, as float64 tensors on ``like``'s device."""
        kwargs = {"dtype": torch.float64, "device": like.device}
        return (
            torch.as_tensor(self.y_mean_, **kwargs),
            torch.as_tensor(self.y_scale_, **kwargs),
        )

    def _as_targets(self, values: np.ndarray) -> np.ndarray:
        """(n_samples, n_targets) as y was given: 1-D for a 1-D y."""
        return values if self.multi_output_ else values[:, 0]

    def predict_uncertainty(self, X, measure: str | None = None):
        """Uncertainty of the predictions for X: data, knowledge and total.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.
        measure : str, default=None
            One of ``"total"``, ``"data"``, ``"knowledge"``, ``"epkl"``
            (entropies and KL, in nats), ``"total_variance"``,
            ``"data_variance"``, ``"knowledge_variance"`` (squared target
            units, summed over targets); ``None`` returns all of them.

        Returns
        -------
        uncertainty : Bunch of ndarray of shape (n_samples,), or one ndarray
            The measures, in the user's target units.
        """
        return super().predict_uncertainty(X, measure=measure)

    def score_samples(self, X) -> np.ndarray:
        """Return minus the knowledge uncertainty: higher is more typical.

        scikit-learn's convention for novelty scores, so that a ``Pipeline``
        forwards it; ``-score_samples`` ranks inputs as
        :func:`skend2.metrics.ood_detection_auroc` expects.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the measure named by ``ood_measure`` (``"knowledge"``).
        """
        return -self.predict_uncertainty(X, measure=self.ood_measure)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _fit_sequential_member(estimator, X, y, member, index: int, seed: int, validation):
    """Train member ``index`` alone, on the minibatches it sees when fused."""
    with estimator._seeded(seed + index), interrupts_propagate():
        net = estimator._make_net(
            member,
            seed=seed,
            n_members=estimator.n_members,
            member=index,
            stage=f"member {index + 1} of {estimator.n_members}",
            extra_callbacks=estimator._early_stopping_callbacks(),
            **estimator._net_options(),
        )
        net.validation_data_ = validation
        estimator._train(net, X, y, y)
    return net.module_.cpu(), net.history


class DeepEnsembleRegressor(_BaseNeuralRegressor):
    """A deep ensemble of heteroscedastic Gaussian regression networks.

    Each of M networks predicts a mean and a variance per target and is
    trained by the Gaussian negative log-likelihood (Lakshminarayanan et al.,
    2017), from its own initialisation and data order. As
    :class:`~skend2.DeepEnsembleClassifier`, the members are trained fused
    (one vectorised pass for all) unless the architecture cannot be
    vectorised. Targets are standardised inside ``fit`` (their mean and
    standard deviation, ``y_mean_`` and ``y_scale_``); everything is returned
    in the user's units.

    The ensemble predicts the mixture's mean and standard deviation, and its
    uncertainty splits into data uncertainty (the members' own noise) and
    knowledge uncertainty (their disagreement), which
    :class:`~skend2.PriorNetworkRegressor` distils into one network.

    Parameters
    ----------
    module : torch.nn.Module class or instance, default=None
        The member architecture; ``None`` uses :class:`~skend2.modules.MLP`
        (:class:`~skend2.modules.SmallCNN` for images). A class receives
        ``n_features``/``n_channels`` and ``n_classes`` = 2 × n_targets (the
        means, then the raw variances) when it accepts them.
    n_members : int, default=5
        Number of networks.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Optimiser of each member; its options go in ``optimizer__*``.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=200
        Passes over the training data; with ``early_stopping`` an upper bound
        (on the five sets of ``benchmarks/regression_defaults.py`` training
        stopped after 29-181 epochs, 70 on average, counting the
        ``n_iter_no_change`` epochs after the best).
    batch_size : int, default=64
        Minibatch size of each member.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows. After every epoch, the
        members' variances on them are multiplied by the one factor per
        target that minimises their mixture's NLL (variance scaling, Levi et
        al., 2019); training stops when that rescaled validation NLL has not
        improved (by 1e-4) for ``n_iter_no_change`` epochs, the weights of the
        best epoch are restored, and its factor (``variance_scale_``) is
        applied to every prediction. Heteroscedastic members trained for a
        fixed number of epochs on a small set shrink their variances on the
        rows they fit: at the former default (100 epochs on every row) a
        single network's validation NLL was 13.0 / 9.5 / 16.3 / 16.4 nats on
        diabetes / BostonHousing / Servo / Friedman #1; with these defaults
        5.50 / 2.95 / 3.58 / 2.35, within 0.33 nats of the best of 17
        candidates (fixed epochs, widths, weight decay, early stopping on the
        NLL or the RMSE) on each of five sets, and the ensemble's within 0.06
        (``benchmarks/regression_defaults.py``: validation splits, 3 seeds;
        the table is in docs/benchmarks.md). ``False`` trains ``max_epochs``
        epochs on all the rows, with no rescaling. Off when ``train_split``
        is given.
    validation_fraction : float in (0, 1), default=0.2
        Fraction of the rows held out for ``early_stopping``
        (``ceil(validation_fraction · n_samples)``, drawn by ``random_state``;
        none when that leaves no row to train on). With 0.1 the ensemble's
        validation NLL on Servo (about 100 training rows) was 5.85 against
        3.40 at 0.2: ten rows are too few to fit the variance factor; 0.3
        cost RMSE on the small sets.
    n_iter_no_change : int, default=20
        Epochs without improvement of the rescaled validation NLL before
        stopping. 10 and 20 gave the ensemble the same NLL within 0.02 nats
        on all five sets; 10 stopped a single network on a plateau of the
        1-D toy (NLL 0.07 against 0.01).
    train_split : callable or None, default=None
        The internal validation split of skorch (it receives the
        standardised targets); ``None`` trains on all the data (less the
        ``early_stopping`` rows). Given, it turns ``early_stopping`` off.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks.
    training : {"auto", "fused", "sequential"}, default="auto"
        As for :class:`~skend2.DeepEnsembleClassifier`.
    n_jobs : int or None, default=None
        Joblib workers for ``training="sequential"``.
    device : str, default="cpu"
        Torch device, e.g. ``"cuda"``.
    n_threads : int or None, default=1
        The intra-op CPU threads of torch inside ``fit`` and the predict
        methods (restored afterwards); ``None`` leaves torch's setting.
    verbose : int, default=0
        ``0`` silent, ``1`` a progress bar, ``2`` skorch's epoch table.
    warm_start : bool, default=False
        Continue training the fitted (fused) members on a new ``fit``, with
        the first fit's standardisation.
    random_state : int, RandomState instance or None, default=None
        Seeds initialisation and shuffling.
    **kwargs
        ``module__*``, ``optimizer__*``, ``iterator_train__*``,
        ``iterator_valid__*``, ``dataset__*`` and ``callbacks__*`` parameters,
        routed as by the classifiers.

    Attributes
    ----------
    n_features_in_ : int
        Number of features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when X is a DataFrame with string column names.
    n_targets_ : int
        Number of targets.
    multi_output_ : bool
        Whether y was 2-D; ``predict`` returns the same shape.
    y_mean_ : ndarray of shape (n_targets,)
        The targets' mean (standardisation offset).
    y_scale_ : ndarray of shape (n_targets,)
        The targets' standard deviation (1 where it is 0).
    sample_shape_ : tuple of int
        Shape of one input sample.
    training_ : str
        ``"fused"`` or ``"sequential"``.
    net_ : skorch.NeuralNet
        The skorch net holding the trained members.
    module_ : torch.nn.Module
        ``net_.module_``: inputs (batch, ...) give raw outputs
        (batch, M, 2 × n_targets), in standardised units, the variances
        rescaled by ``variance_scale_``.
    history_ : skorch.History
        ``net_.history``; with ``early_stopping``, ``valid_rmse`` per epoch
        (standardised units).
    n_validation_ : int
        Rows held out by ``early_stopping`` (0 when none were).
    variance_scale_ : ndarray of shape (n_targets,)
        The factors on the members' variances fitted on the held-out rows
        (ones without ``early_stopping``); already applied by ``module_``.

    See Also
    --------
    skend2.PriorNetworkRegressor : EnD², distils this ensemble into one network.
    skend2.uncertainty.gaussian_ensemble_uncertainty : The measures.

    References
    ----------
    .. [1] B. Lakshminarayanan, A. Pritzel and C. Blundell, "Simple and Scalable
       Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017.
    .. [2] A. Malinin, S. Chervontsev, I. Provilkov and M. Gales, "Regression
       Prior Networks", arXiv:2006.11590, 2020.
    .. [3] D. Levi, L. Gispan, N. Giladi and E. Fetaya, "Evaluating and
       Calibrating Uncertainty Prediction in Regression Tasks",
       arXiv:1905.11659, 2019.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skend2 import DeepEnsembleRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> ensemble = DeepEnsembleRegressor(n_members=3, max_epochs=5, random_state=0)
    >>> mean, std = ensemble.fit(X, y).predict(X[:2], return_std=True)
    >>> mean.shape, std.shape
    ((2,), (2,))
    >>> ensemble.predict_member_params(X[:2])[0].shape  # means of each member
    (2, 3, 1)
    """

    def __init__(
        self,
        module: type[nn.Module] | nn.Module | None = None,
        *,
        n_members: int = 5,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 200,
        batch_size: int = 64,
        early_stopping: bool = True,
        validation_fraction: float = 0.2,
        n_iter_no_change: int = 20,
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
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
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
        **BaseNeuralEstimator._parameter_constraints,
        "n_members": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "training": [StrOptions({"auto", "fused", "sequential"})],
        "n_jobs": [
            None,
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
        ],
    }

    def _criterion_class(self) -> type[nn.Module]:
        return GaussianNLLLoss

    def fit(self, X, y) -> DeepEnsembleRegressor:
        """Train the members on X, y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training inputs.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Real-valued targets.

        Returns
        -------
        self : DeepEnsembleRegressor
            The fitted ensemble.
        """
        with self._atomic_fit(), self._torch_threads():
            self._fit(X, y)
        return self

    def _fit(self, X, y) -> None:
        self._validate_params()
        previous = getattr(self, "training_", None)
        previous_targets = getattr(self, "n_targets_", None)
        X, y = self._validate_fit_data(X, y)
        sample_shape = tuple(X.shape[1:])
        warm = self.warm_start and previous is not None
        if warm and previous == "sequential":
            warnings.warn(
                "warm_start=True continues only a fused ensemble; these members "
                "were trained sequentially, so they are re-initialised.",
                UserWarning,
                stacklevel=3,
            )
            warm = False
        if warm and (
            sample_shape != self.sample_shape_ or previous_targets != self.n_targets_
        ):
            raise ValueError(
                "warm_start=True needs the same input shape and number of targets "
                "as the previous fit."
            )
        if not warm:
            self.y_mean_ = y.mean(0)
            scale = y.std(0)
            self.y_scale_ = np.where(scale > 0, scale, 1.0)
        self.sample_shape_ = sample_shape
        y_std = ((y - self.y_mean_) / self.y_scale_).astype(np.float32)
        seed = self._draw_seed()
        X, y_std, validation = self._validation_split(X, y_std, seed)
        if warm:
            previous_scale = getattr(self, "variance_scale_", None)
            if isinstance(self.net_.module_, VarianceScaled):
                self.net_.module_ = self.net_.module_.module
            with self._seeded(seed):
                self.net_.validation_data_ = validation
                self._train(self.net_, X, y_std, y_std)
            self._calibrate(validation, previous_scale)
            return
        with self._seeded(seed):
            members = [
                build_module(
                    self.module,
                    self._params_for("module"),
                    sample_shape,
                    2 * self.n_targets_,
                )
                for _ in range(self.n_members)
            ]
        for member in members:
            self._check_module_output(member, X, 2 * self.n_targets_)
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
                    extra_callbacks=self._early_stopping_callbacks(),
                    **self._net_options(),
                )
                self.net_.validation_data_ = validation
                self._train(self.net_, X, y_std, y_std)
            self._calibrate(validation, None)
            return
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_sequential_member)(
                self, X, y_std, member, index, seed, validation
            )
            for index, member in enumerate(members)
        )
        net = self._make_net(
            MemberList([m for m, _ in results]),
            seed=seed,
            n_members=self.n_members,
            loss_scale=self.n_members,
            extra_callbacks=self._early_stopping_callbacks(),
            **self._net_options(),
        )
        net.initialize()
        net.history = merge_histories([h for _, h in results])
        self.net_ = net
        self._calibrate(validation, None)

    def _net_options(self) -> dict[str, Any]:
        """The net class: its epoch loop ends on early stopping."""
        return {"net_class": _EarlyStoppingNet}

    def _early_stopping_callbacks(self) -> dict:
        return {EARLY_STOPPING_CALLBACK: RegressionEarlyStopping(self.n_iter_no_change)}

    def _validation_split(self, X: np.ndarray, y: np.ndarray, seed: int):
        """Training rows, and the held-out (inputs, targets) tensors or None.

        With ``early_stopping`` (and no ``train_split`` of the user's),
        ``ceil(validation_fraction · n)`` rows drawn by the seed are held out,
        when at least one row is left to train on.
        """
        self.n_validation_ = 0
        if not self.early_stopping or self.train_split is not None:
            return X, y, None
        n_valid = int(np.ceil(self.validation_fraction * len(X)))
        if n_valid < 1 or n_valid >= len(X):
            return X, y, None
        order = np.random.default_rng(seed).permutation(len(X))
        valid, train = order[:n_valid], np.sort(order[n_valid:])
        self.n_validation_ = n_valid
        validation = (
            self._tensor(X[valid]).to(self.device),
            torch.as_tensor(y[valid]).to(self.device),
        )
        return X[train], y[train], validation

    def _calibrate(self, validation, previous: np.ndarray | None) -> None:
        """Fit ``variance_scale_`` on the held-out rows and wrap the module.

        Without held-out rows the previous factors (a warm start) or ones are
        kept.
        """
        if validation is not None:
            X_valid, y_valid = validation
            X_np = X_valid.cpu().numpy()
            raw = np.concatenate(
                [t.cpu().numpy() for t in self._batches(X_np, lambda z: z)]
            )
            scale = fit_variance_scale(raw, y_valid.cpu().numpy().astype(np.float64))
        elif previous is not None:
            scale = np.asarray(previous, dtype=np.float64)
        else:
            scale = np.ones(self.n_targets_)
        self.variance_scale_ = scale
        self.net_.validation_data_ = None
        self.net_.module_ = VarianceScaled(self.net_.module_, scale).to(self.device)

    def _rebuild_module(self) -> tuple[nn.Module, dict]:
        """The untrained skeleton of the fitted ensemble, for ``skend2.load``."""
        members = [
            build_module(
                self.module,
                self._params_for("module"),
                self.sample_shape_,
                2 * self.n_targets_,
            )
            for _ in range(self.n_members)
        ]
        if self.training_ == "fused":
            module = StackedEnsemble(members, sample_ndim=len(self.sample_shape_))
        else:
            module = MemberList(members)
        scale = getattr(self, "variance_scale_", None)
        if scale is not None:  # None: saved before variances were rescaled
            module = VarianceScaled(module, scale)
        return module, self._early_stopping_callbacks()

    @property
    def n_member_outputs_(self) -> int:
        """Width of each member's raw output: a mean and a variance per target."""
        return 2 * self.n_targets_

    # -- prediction -------------------------------------------------------------
    def _member_params(self, raw: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        offset, scale = self._units(raw)
        mean, variance = member_mean_variance(raw.double())
        return mean * scale + offset, variance * scale**2

    def _predict_member_outputs(self, X) -> np.ndarray:
        """The members' raw outputs (n, M, 2K), standardised: the teacher's targets."""
        return self._predict_batches(X, lambda z: z)

    def predict_member_params(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Return every member's predicted mean and variance.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.

        Returns
        -------
        means : ndarray of shape (n_samples, n_members, n_targets)
            The members' means, in target units.
        variances : ndarray of shape (n_samples, n_members, n_targets)
            The members' variances, in squared target units.
        """
        out = self._predict_batches(
            X, lambda raw: torch.stack(self._member_params(raw), dim=1)
        )  # (n, 2, M, K)
        return out[:, 0], out[:, 1]

    def predict(self, X, return_std: bool = False):
        """Predict the mixture's mean (and standard deviation) for X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.
        return_std : bool, default=False
            Also return the standard deviation of the predictive mixture
            (the square root of the total variance per target).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The mean of the members' means, shaped as the training y.
        y_std : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Returned when ``return_std`` is True.
        """

        def moments(raw):
            means, variances = self._member_params(raw)
            mean = means.mean(1)
            return torch.stack(
                [mean, variances.mean(1) + means.var(1, correction=0)], dim=0
            ).transpose(0, 1)

        out = self._predict_batches(X, moments)  # (n, 2, K)
        mean = self._as_targets(out[:, 0])
        if not return_std:
            return mean
        return mean, self._as_targets(np.sqrt(out[:, 1]))

    def _uncertainty_of_logits(self, raw: torch.Tensor) -> dict:
        return _gaussian_ensemble_measures(*self._member_params(raw))


def _auto_transfer() -> GaussianNoise:
    """What ``transfer="auto"`` stands for: noise of 2 feature standard deviations.

    Chosen on the validation splits of ``benchmarks/regression.py``: without
    transfer inputs the student's knowledge uncertainty detected PCA-OOD
    inputs with AUROC 0.29-0.50, with noise of 1 or 2 standard deviations
    0.75-0.96 (2 was the better), at the same RMSE and NLL.
    """
    return GaussianNoise(scale=2.0)


def _fit_regression_teacher(teacher, X, y, X_aux):
    """Fit a teacher and compute its members' raw outputs: the cached step."""
    teacher.fit(X, y)
    outputs = teacher._predict_member_outputs(X)
    aux = None if X_aux is None else teacher._predict_member_outputs(X_aux)
    return teacher, outputs, aux


class PriorNetworkRegressor(_StudentMixin, _BaseNeuralRegressor):
    """EnD² for regression: one network that outputs a Normal-Wishart distribution.

    The student's outputs z = (m, s, z_κ, z_ν) parametrise a Normal-Wishart
    NW(μ, Λ | m, L, κ, ν) over the mean and precision of a Gaussian, with
    expected precision E[Λ] = νL = diag(exp(s)), κ = exp(z_κ) and
    ν = K + 1 + exp(z_ν) (for one target, a Normal-Gamma). It is trained to
    give the members' (mean, precision) pairs of a
    :class:`DeepEnsembleRegressor` high likelihood
    (:func:`normal_wishart_nll_loss`), with the classifiers' temperature
    annealing, so that one network keeps the ensemble's mean, its data
    uncertainty and its knowledge uncertainty (Malinin et al., 2020).

    ``predict`` returns the mean m and, with ``return_std=True``, the standard
    deviation of the Student-t predictive; ``predict_uncertainty`` the closed
    forms of :func:`skend2.uncertainty.normal_wishart_uncertainty`. Only
    ``module`` (and the training settings) are the student's own: targets are
    standardised as the teacher standardised them.

    Parameters
    ----------
    teacher : DeepEnsembleRegressor or FrozenEstimator or None, default=None
        The ensemble to distil. An unfitted one is cloned and fitted inside
        ``fit`` on the same data (so cross-validation never leaks); a fitted
        one wrapped in :class:`sklearn.frozen.FrozenEstimator` is used as it
        is; ``None`` fits a default ``DeepEnsembleRegressor``.
    module : torch.nn.Module class or instance, default=None
        The student; ``None`` uses the teacher's member architecture. A class
        receives ``n_classes`` = 2 × n_targets + 2.
    annealing : "auto", schedule or None, default="auto"
        The temperature schedule: ``"auto"`` is
        :class:`~skend2.TemperatureAnnealing` (T 10 → 1), ``None`` trains at
        T = 1. At temperature T the members' variances are multiplied by T and
        the student's κ and ν − K − 1 are exp(z/T).
    transfer : "auto", transfer-input generator or None, default="auto"
        Makes new inputs from every training batch
        (:class:`~skend2.transfer.GaussianNoise`,
        :class:`~skend2.transfer.Mixup`), labelled by the teacher's members
        online: the student sees the members disagree away from the training
        rows and learns their knowledge uncertainty there (EnD²+AUX without a
        second data set). ``"auto"`` is ``GaussianNoise(scale=2.0)``; ``None``
        trains on the training rows (and ``X_aux``) only, where the members
        agree, and leaves the student to extrapolate their disagreement (on
        the PCA-OOD benchmark that lost most of the ensemble's OOD detection).
    transfer_weight : float in [0, 1), default=0.5
        Weight w of the transfer inputs: the loss is (1 − w)·loss(batch) +
        w·loss(transfer inputs).
    memory : str, joblib.Memory or None, default=None
        Caches the teacher's fit and outputs, as ``Pipeline(memory=...)``.
    optimizer : torch.optim.Optimizer class, default=torch.optim.Adam
        Optimiser of the student.
    lr : float, default=1e-3
        Learning rate.
    max_epochs : int, default=300
        Passes over the distillation set (on the benchmark's validation
        splits 300 kept the OOD detection that 100 lost; distilling the
        default teacher, 150 cost 0.33 nats of validation NLL on Servo:
        ``benchmarks/regression_defaults.py --student``).
    batch_size : int, default=64
        Minibatch size (distilling the default teacher, 32 changed the
        validation NLL by at most 0.03 nats on five sets, at 1.6 times the
        fit time).
    train_split : callable or None, default=None
        The internal validation split of skorch; ``None`` uses all the data.
    callbacks : list of skorch callbacks or None, default=None
        Extra skorch callbacks.
    gradient_clip : float or None, default=10.0
        Maximum gradient norm.
    device : str, default="cpu"
        Torch device.
    n_threads : int or None, default=1
        The intra-op CPU threads of torch inside ``fit`` and the predict
        methods (restored afterwards); ``None`` leaves torch's setting.
    verbose : int, default=0
        ``0`` silent, ``1`` a progress bar, ``2`` skorch's epoch table.
    warm_start : bool, default=False
        Continue training the fitted student on a new call to ``fit``.
    random_state : int, RandomState instance or None, default=None
        Seeds the student (and the default teacher).
    **kwargs
        ``module__*``, ``optimizer__*``, ``iterator_train__*``,
        ``iterator_valid__*``, ``dataset__*`` and ``callbacks__*`` parameters
        (skend2's callbacks are named ``"annealing"`` and ``"gradient_clip"``).

    Attributes
    ----------
    n_features_in_ : int
        Number of features.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Column names, when X is a DataFrame with string column names.
    n_targets_ : int
        Number of targets.
    multi_output_ : bool
        Whether y was 2-D.
    y_mean_ : ndarray of shape (n_targets,)
        The teacher's standardisation offset.
    y_scale_ : ndarray of shape (n_targets,)
        The teacher's standardisation scale.
    sample_shape_ : tuple of int
        Shape of one input sample.
    teacher_ : DeepEnsembleRegressor
        The fitted teacher.
    annealing_ : schedule or None
        The temperature schedule used.
    transfer_ : transfer-input generator or None
        The fitted copy of ``transfer`` used in training.
    net_ : skorch.NeuralNet
        The skorch net holding the trained student.
    module_ : torch.nn.Module
        ``net_.module_``: raw outputs (batch, 2 × n_targets + 2).
    history_ : skorch.History
        ``net_.history``, with the temperature of each epoch.

    See Also
    --------
    DeepEnsembleRegressor : The teacher.
    skend2.uncertainty.normal_wishart_uncertainty : The closed forms.
    skend2.PriorNetworkDistiller : EnD² for classification.

    References
    ----------
    .. [1] A. Malinin, S. Chervontsev, I. Provilkov and M. Gales, "Regression
       Prior Networks", arXiv:2006.11590, 2020.
    .. [2] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skend2 import DeepEnsembleRegressor, PriorNetworkRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> teacher = DeepEnsembleRegressor(n_members=3, max_epochs=5, random_state=0)
    >>> student = PriorNetworkRegressor(teacher, max_epochs=5, random_state=0)
    >>> mean, std = student.fit(X, y).predict(X[:2], return_std=True)
    >>> sorted(student.predict_params(X[:2]))
    ['kappa', 'mean', 'nu', 'scale']
    >>> student.predict_uncertainty(X[:2], measure="knowledge").shape
    (2,)
    """

    def __init__(
        self,
        teacher=None,
        module: type[nn.Module] | nn.Module | None = None,
        *,
        annealing="auto",
        transfer="auto",
        transfer_weight: float = 0.5,
        memory=None,
        optimizer: type[torch.optim.Optimizer] = torch.optim.Adam,
        lr: float = 1e-3,
        max_epochs: int = 300,
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
        **BaseNeuralEstimator._parameter_constraints,
        "teacher": [
            None,
            InstanceOf(
                (DeepEnsembleRegressor, FrozenEstimator),
                "a DeepEnsembleRegressor (or a fitted one in FrozenEstimator)",
            ),
        ],
        **_STUDENT_CONSTRAINTS,
    }

    def _criterion_class(self) -> type[nn.Module]:
        return NormalWishartNLLLoss

    _auto_transfer = staticmethod(_auto_transfer)
    _teacher_class = DeepEnsembleRegressor
    _teacher_fit_step = staticmethod(_fit_regression_teacher)
    _nonfinite_message = (
        "The teacher's member outputs on {name} are not all finite; refit the "
        "teacher (a lower lr, scaled inputs) before distilling it."
    )

    @staticmethod
    def _member_outputs(teacher, X) -> np.ndarray:
        return teacher._predict_member_outputs(X)

    def fit(self, X, y, X_aux=None) -> PriorNetworkRegressor:
        """Fit (or take) the teacher ensemble, then distil it into one network.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Training inputs. An unfitted teacher is fitted on X, y first.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets. The student learns from the teacher's members, not from
            y; y fits the teacher and fixes the targets' shape.
        X_aux : array-like of shape (n_aux, ...), default=None
            Extra unlabelled inputs, passed through the teacher and added to
            the distillation set (EnD²+AUX): where the members disagree, the
            student learns their spread. Inside a ``Pipeline`` X_aux bypasses
            the preceding steps; transform it yourself.

        Returns
        -------
        self : PriorNetworkRegressor
            The fitted student.
        """
        with self._atomic_fit(), self._torch_threads():
            self._fit(X, y, X_aux)
        return self

    def _fit(self, X, y, X_aux) -> None:
        self._validate_params()
        X_raw, y_raw = X, y
        X, y = self._validate_fit_data(X, y)
        sample_shape = tuple(X.shape[1:])
        if X_aux is not None:
            X_aux = self._validate_aux(X_aux, sample_shape)
        warm = self._is_warm(sample_shape)
        with interrupts_propagate():
            teacher, outputs, aux_outputs = self._teacher_outputs(X_raw, y_raw, X_aux)
        self._check_teacher_outputs(outputs, aux_outputs)
        if teacher.n_targets_ != self.n_targets_:
            raise ValueError(
                f"The teacher was fitted on {teacher.n_targets_} target(s), but y "
                f"has {self.n_targets_}."
            )
        self.teacher_ = teacher
        self.y_mean_ = np.array(teacher.y_mean_, dtype=np.float64)
        self.y_scale_ = np.array(teacher.y_scale_, dtype=np.float64)
        self.sample_shape_ = sample_shape
        y_split = ((y - self.y_mean_) / self.y_scale_).astype(np.float32)
        if aux_outputs is not None:
            X = np.concatenate([X, X_aux.astype(X.dtype)])
            outputs = np.concatenate([outputs, aux_outputs])
            # Auxiliary rows are "labelled" by the ensemble's mean.
            aux_mean = member_mean_variance(torch.as_tensor(aux_outputs))[0].mean(1)
            y_split = np.concatenate([y_split, aux_mean.numpy().astype(np.float32)])
        outputs = np.asarray(outputs, dtype=np.float32)
        seed = self._draw_seed()
        with self._seeded(seed):
            if not warm:
                self.annealing_ = self._resolve_annealing()
                transfer = self._resolve_transfer()
                self.transfer_ = None if transfer is None else transfer.fit(X)
                student = self._build_student(teacher, sample_shape)
                self._check_module_output(student, X, 2 * self.n_targets_ + 2)
                self.net_ = self._make_net(
                    student,
                    seed=seed,
                    extra_callbacks=self._student_callbacks(),
                    stage=f"{type(self).__name__} student",
                    **self._net_options(),
                )
            if getattr(self, "transfer_", None) is not None:
                self.net_.online_teacher = OnlineTeacher(teacher, self.device)
            try:
                self._train(self.net_, X, outputs, y_split)
            finally:
                # The teacher's copy is needed only while training.
                self.net_.online_teacher = None

    def _build_student(self, teacher, sample_shape) -> nn.Module:
        module, module_kwargs = self._student_module(teacher)
        return build_module(
            module, module_kwargs, sample_shape, 2 * self.n_targets_ + 2
        )

    def _rebuild_module(self) -> tuple[nn.Module, dict]:
        """The untrained student skeleton and its callbacks, for ``skend2.load``."""
        return self._build_student(self.teacher_, self.sample_shape_), (
            self._student_callbacks()
        )

    # -- prediction -------------------------------------------------------------
    def _params(self, raw: torch.Tensor) -> dict:
        """The Normal-Wishart in the user's units: m·s + c, L/s², κ, ν."""
        offset, scale = self._units(raw)
        mean, log_scale, log_kappa, nu = student_log_parameters(raw.double())
        return {
            "mean": mean * scale + offset,
            "scale": torch.exp(log_scale) / scale**2,
            "kappa": torch.exp(log_kappa),
            "nu": nu,
        }

    def predict_params(self, X) -> Bunch:
        """Return the student's Normal-Wishart parameters, in target units.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.

        Returns
        -------
        params : Bunch
            ``mean`` (n_samples, n_targets): m; ``scale`` (n_samples,
            n_targets): the diagonal of the Wishart scale matrix L (E[Λ] = νL);
            ``kappa`` (n_samples,): κ; ``nu`` (n_samples,): ν. Pass them to
            :func:`skend2.uncertainty.normal_wishart_uncertainty` or
            :func:`skend2.uncertainty.student_t_predictive`.
        """
        X = self._validate_predict_data(X)
        parts = list(self._batches(X, self._params))
        return Bunch(
            **{
                k: np.concatenate([p[k].cpu().numpy() for p in parts])
                for k in ("mean", "scale", "kappa", "nu")
            }
        )

    def predict(self, X, return_std: bool = False):
        """Predict the mean (and the Student-t predictive's standard deviation).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Inputs.
        return_std : bool, default=False
            Also return the predictive's standard deviation per target,
            √(L⁻¹ (1 + 1/κ)/(ν − K − 1)).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The mean m, shaped as the training y.
        y_std : ndarray of shape (n_samples,) or (n_samples, n_targets)
            Returned when ``return_std`` is True.
        """

        def moments(raw):
            p = self._params(raw)
            k = p["mean"].shape[-1]
            factor = (1.0 + 1.0 / p["kappa"]) / (p["nu"] - k - 1.0)
            variance = factor[:, None] / p["scale"]
            return torch.stack([p["mean"], variance], dim=1)

        out = self._predict_batches(X, moments)
        mean = self._as_targets(out[:, 0])
        if not return_std:
            return mean
        return mean, self._as_targets(np.sqrt(out[:, 1]))

    def _uncertainty_of_logits(self, raw: torch.Tensor) -> dict:
        p = self._params(raw)
        return _normal_wishart_measures(p["mean"], p["scale"], p["kappa"], p["nu"])
