"""Early stopping and variance recalibration of the regression members.

Heteroscedastic Gaussian networks trained for a fixed number of epochs on a
small tabular set fit their training residuals and shrink their variances:
their validation NLL explodes long before their mean stops improving
(``benchmarks/regression_defaults.py``). :class:`DeepEnsembleRegressor`'s
default therefore holds out a validation split, rescales the members'
variances by the factor that minimises the validation NLL of their mixture
(:func:`fit_variance_scale`), stops when that rescaled validation NLL stops
improving (restoring the best epoch's weights), and applies the factor by
wrapping the fitted module in :class:`VarianceScaled`.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from skorch.callbacks import Callback
from torch import nn

from ._net import _Net
from ._regression_losses import _MIN_VARIANCE, member_mean_variance

EARLY_STOPPING_CALLBACK = "early_stopping"

# Candidate variance factors: 10^-1.5 .. 10^3.5, 401 points (a grid search of
# a 1-D, smooth and unimodal-in-practice NLL; no optimiser state to tune).
_SCALE_GRID = np.logspace(-1.5, 3.5, 401)


class _EarlyStop(Exception):
    """Raised by :class:`RegressionEarlyStopping` to end the epoch loop."""


class _EarlyStoppingNet(_Net):
    """The skend2 net whose epoch loop ends on :class:`RegressionEarlyStopping`.

    ``validation_data_`` (set by the estimator before each ``fit``) holds the
    held-out inputs and standardised targets, or ``None`` for no early stop.
    """

    validation_data_: tuple[torch.Tensor, torch.Tensor] | None = None

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        try:
            return super().fit_loop(X, y, epochs=epochs, **fit_params)
        except _EarlyStop:
            return self


class RegressionEarlyStopping(Callback):
    """Stop when the rescaled validation NLL of the members stops improving.

    Each epoch, the members' raw outputs on ``net.validation_data_`` (one
    member's, for a member trained alone) are scored by the NLL of the
    held-out targets under the members' mixture after the variance factor of
    :func:`fit_variance_scale` (summed over targets; recorded in the history
    as ``valid_nll_rescaled``, beside the RMSE of the mean, ``valid_rmse``,
    both in standardised units): the NLL the model will have on those rows.
    After ``patience`` epochs without an improvement of more than 1e-4 the
    training stops, and the weights of the best epoch (``valid_best``) are
    restored. Inactive when the net has no validation data.

    Parameters
    ----------
    patience : int
        Epochs without improvement before stopping.
    """

    # "nll": the rescaled NLL above; "rmse": the RMSE of the mean (a candidate
    # measured in benchmarks/regression_defaults.py, not the default).
    monitor = "nll"

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def initialize(self):
        self.best_ = math.inf
        self.best_epoch_ = None
        self.best_state_ = None
        self.misses_ = 0
        return self

    def on_train_begin(self, net, **kwargs) -> None:
        self.initialize()

    def on_epoch_end(self, net, **kwargs) -> None:
        data = getattr(net, "validation_data_", None)
        if data is None:
            return
        X, y = data
        module = net.module_
        was_training = module.training
        module.eval()
        with torch.no_grad():
            raw = torch.cat([module(X[i : i + 4096]) for i in range(0, len(X), 4096)])
        module.train(was_training)
        if raw.ndim == 2:  # one member trained alone: (batch, 2K)
            raw = raw[:, None]
        raw = raw.double().cpu()
        y = y.double().cpu()
        mean, variance = member_mean_variance(raw)
        rmse = float(torch.sqrt(((mean.mean(1) - y) ** 2).mean()))
        net.history.record("valid_rmse", rmse)
        y_np = y.numpy()
        scale = fit_variance_scale(raw.numpy(), y_np)
        nll = sum(
            _mixture_nll(
                mean[..., k].numpy(), scale[k] * variance[..., k].numpy(), y_np[:, k]
            )
            for k in range(y_np.shape[1])
        )
        net.history.record("valid_nll_rescaled", nll)
        score = nll if self.monitor == "nll" else rmse
        if not math.isfinite(score):
            return
        if score < self.best_ - 1e-4:
            self.best_, self.misses_ = score, 0
            self.best_epoch_ = len(net.history)
            self.best_state_ = copy.deepcopy(module.state_dict())
            net.history.record("valid_best", True)
            return
        self.misses_ += 1
        if self.misses_ >= self.patience:
            raise _EarlyStop

    def on_train_end(self, net, **kwargs) -> None:
        if self.best_state_ is not None:
            net.module_.load_state_dict(self.best_state_)
        # The copies are needed only while training.
        self.best_state_ = None


def _mixture_nll(means: np.ndarray, variances: np.ndarray, y: np.ndarray) -> float:
    """Mean NLL of y (n,) under the equal-weight mixture of (n, M) Gaussians."""
    log_p = -0.5 * (
        np.log(2 * np.pi * variances) + (y[:, None] - means) ** 2 / variances
    )
    top = log_p.max(1, keepdims=True)
    log_mix = top[:, 0] + np.log(np.exp(log_p - top).mean(1))
    return float(-log_mix.mean())


def fit_variance_scale(raw: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Per target, the factor on the members' variances that fits held-out rows.

    For each target k, the factor c_k (from a grid of 401 values in
    [10^-1.5, 10^3.5]) minimising the NLL of y[:, k] under the equal-weight
    mixture of the members' Gaussians N(μ_mk, c_k σ²_mk): variance scaling, the
    one-parameter recalibration of a Gaussian regressor (Levi et al., 2019).

    Parameters
    ----------
    raw : ndarray of shape (n_samples, n_members, 2 * n_targets)
        The members' raw outputs on the held-out rows.
    y : ndarray of shape (n_samples, n_targets)
        Their (standardised) targets.

    Returns
    -------
    scale : ndarray of shape (n_targets,)
        The factors.
    """
    mean, variance = member_mean_variance(torch.as_tensor(raw, dtype=torch.float64))
    mean, variance = mean.numpy(), variance.numpy()
    scale = np.ones(y.shape[1])
    for k in range(y.shape[1]):
        nll = [
            _mixture_nll(mean[..., k], c * variance[..., k], y[:, k])
            for c in _SCALE_GRID
        ]
        if np.all(np.isfinite(nll)):
            scale[k] = _SCALE_GRID[int(np.argmin(nll))]
    return scale


class VarianceScaled(nn.Module):
    """A fitted member module whose variances are multiplied by fixed factors.

    Maps the wrapped module's raw outputs (..., 2K) = (μ, v) to (μ, v') with
    softplus(v') + 1e-6 = c · (softplus(v) + 1e-6), so that every consumer of
    the raw outputs (predictions, measures, a distilling student) sees the
    recalibrated variances.

    Parameters
    ----------
    module : torch.nn.Module
        The members, outputs (batch, M, 2K).
    scale : array-like of shape (K,)
        The factors c.
    """

    def __init__(self, module: nn.Module, scale) -> None:
        super().__init__()
        self.module = module
        self.register_buffer(
            "log_variance_scale",
            torch.log(torch.as_tensor(np.asarray(scale), dtype=torch.float32)),
        )

    def forward(self, X: torch.Tensor) -> torch.Tensor:
        raw = self.module(X)
        mean, variance = member_mean_variance(raw.double())
        scaled = variance * torch.exp(self.log_variance_scale.double())
        excess = (scaled - _MIN_VARIANCE).clamp_min(1e-12)
        # The inverse of softplus: x + ln(1 − e⁻ˣ).
        v = excess + torch.log(-torch.expm1(-excess))
        return torch.cat([mean, v], dim=-1).to(raw.dtype)
