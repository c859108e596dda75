"""Transfer inputs: inputs generated around the training set for the student.

On its training rows the members of an ensemble agree, so a student that sees
only those rows never sees the ensemble's knowledge uncertainty and has to
extrapolate it (Malinin et al., 2020, Section 5: EnD²+AUX). A transfer-input
generator makes fresh inputs from every training batch (noise around the rows,
mixtures of two rows); the distiller labels them with the teacher's members
*online* (:class:`OnlineTeacher`: the teacher's fused forward pass, without
gradients, on the student's device) and trains the student on both.
"""

from __future__ import annotations

import copy
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval
from torch import nn

from ._validation import validate_params

__all__ = ["GaussianNoise", "Mixup", "OnlineTeacher"]


class _TransferInputs(BaseEstimator):
    """Base of the generators: ``fit`` on the training inputs, then ``sample``."""

    _parameter_constraints: dict[str, list] = {}

    def fit(self, X: np.ndarray) -> _TransferInputs:
        """Learn what the generator needs from the training inputs.

        Parameters
        ----------
        X : ndarray of shape (n_samples, ...)
            The training inputs.

        Returns
        -------
        self : object
            The fitted generator.
        """
        validate_params(self, self._parameter_constraints, self.get_params())
        return self

    def sample(self, X: torch.Tensor) -> torch.Tensor:
        """Return new inputs made from the batch ``X`` (same shape).

        Parameters
        ----------
        X : Tensor of shape (batch_size, ...)
            A training batch.

        Returns
        -------
        X_new : Tensor of shape (batch_size, ...)
            Generated inputs, on the device of ``X``.
        """
        raise NotImplementedError


class GaussianNoise(_TransferInputs):
    """Training inputs plus Gaussian noise scaled to each feature's spread.

    ``x + scale · σ ⊙ ε`` with ε ~ N(0, I) and σ the standard deviation of each
    feature over the training inputs: points around the data, where the
    members begin to disagree.

    Parameters
    ----------
    scale : float, default=1.0
        Noise level in units of each feature's standard deviation.

    See Also
    --------
    Mixup : Mixtures of two training inputs.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skend2.transfer import GaussianNoise
    >>> noise = GaussianNoise(scale=0.5).fit(np.ones((10, 3)) * [1, 2, 3])
    >>> noise.sample(torch.zeros(4, 3)).shape
    torch.Size([4, 3])
    """

    _parameter_constraints: dict[str, list] = {
        "scale": [Interval(Real, 0, None, closed="neither")]
    }

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def fit(self, X: np.ndarray) -> GaussianNoise:
        """Store each feature's standard deviation (1 where it is 0).

        Parameters
        ----------
        X : ndarray of shape (n_samples, ...)
            The training inputs.

        Returns
        -------
        self : GaussianNoise
            The fitted generator.
        """
        super().fit(X)
        std = np.asarray(X, dtype=np.float64).std(axis=0)
        self.std_ = np.where(std > 0, std, 1.0).astype(np.float32)
        return self

    def sample(self, X: torch.Tensor) -> torch.Tensor:
        """Return ``X`` plus noise of ``scale`` feature standard deviations.

        Parameters
        ----------
        X : Tensor of shape (batch_size, ...)
            A training batch.

        Returns
        -------
        X_new : Tensor of shape (batch_size, ...)
            The noisy inputs.
        """
        std = torch.as_tensor(self.std_, device=X.device, dtype=X.dtype)
        return X + self.scale * std * torch.randn_like(X)


class Mixup(_TransferInputs):
    """Convex combinations of two training inputs (between classes, mostly).

    ``λ x_i + (1 − λ) x_j`` with j a random other row of the batch and
    λ ~ Beta(α, α) (Zhang et al., 2018): inputs between the classes, where
    the members' decision boundaries differ.

    Parameters
    ----------
    alpha : float, default=1.0
        Parameter of the Beta distribution of λ; 1 is uniform on [0, 1].

    See Also
    --------
    GaussianNoise : Noise around the training inputs.

    References
    ----------
    .. [1] H. Zhang, M. Cisse, Y. N. Dauphin and D. Lopez-Paz, "mixup: Beyond
       Empirical Risk Minimization", ICLR 2018.

    Examples
    --------
    >>> import torch
    >>> from skend2.transfer import Mixup
    >>> mix = Mixup().fit(torch.zeros(4, 2).numpy())
    >>> X = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    >>> bool(((mix.sample(X) >= 0) & (mix.sample(X) <= 3)).all())
    True
    """

    _parameter_constraints: dict[str, list] = {
        "alpha": [Interval(Real, 0, None, closed="neither")]
    }

    def __init__(self, alpha: float = 1.0) -> None:
        self.alpha = alpha

    def sample(self, X: torch.Tensor) -> torch.Tensor:
        """Return mixtures of each row of ``X`` with another random row.

        Parameters
        ----------
        X : Tensor of shape (batch_size, ...)
            A training batch.

        Returns
        -------
        X_new : Tensor of shape (batch_size, ...)
            The mixtures.
        """
        n = X.shape[0]
        beta = torch.distributions.Beta(float(self.alpha), float(self.alpha))
        lam = beta.sample((n,)).to(device=X.device, dtype=X.dtype)
        lam = lam.reshape(n, *([1] * (X.dim() - 1)))
        partner = torch.randperm(n, device=X.device)
        return lam * X + (1 - lam) * X[partner]


class OnlineTeacher:
    """The teacher's member logits for any batch, on the student's device.

    A copy of the fitted ensemble's fused module, in evaluation mode and without
    gradients, so that inputs made during training (transfer inputs, augmented
    views) are labelled by the teacher as the student sees them. Costs one
    teacher forward pass per student step.

    Parameters
    ----------
    teacher : fitted DeepEnsembleClassifier
        The ensemble.
    device : str or torch.device
        Where the student trains.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skend2 import DeepEnsembleClassifier
    >>> from skend2.transfer import OnlineTeacher
    >>> X, y = np.random.default_rng(0).normal(size=(20, 3)), [0, 1] * 10
    >>> ens = DeepEnsembleClassifier(n_members=2, max_epochs=1).fit(X, y)
    >>> OnlineTeacher(ens, "cpu")(torch.zeros(5, 3)).shape
    torch.Size([5, 2, 2])
    """

    def __init__(self, teacher, device) -> None:
        self.module: nn.Module = copy.deepcopy(teacher.module_).to(device).eval()
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)

    def __call__(self, X: torch.Tensor) -> torch.Tensor:
        """Return the members' logits, shape (batch_size, n_members, n_classes).

        Parameters
        ----------
        X : Tensor of shape (batch_size, ...)
            Inputs on the student's device.

        Returns
        -------
        logits : Tensor of shape (batch_size, n_members, n_classes)
            The members' logits, without gradients.
        """
        with torch.no_grad():
            return self.module(X)
