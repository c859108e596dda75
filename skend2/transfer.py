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

__all__ = ["FeatureNoise", "GaussianNoise", "Mixup", "OnlineTeacher"]


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


class FeatureNoise(GaussianNoise):
    """Noise suited to each feature: Gaussian on continuous, flips on binary ones.

    A feature that takes exactly two values in the training inputs (one-hot or
    indicator columns, standardised or not) is set to its other value with
    probability ``flip``; every other feature gets ``scale`` standard deviations
    of Gaussian noise, as :class:`GaussianNoise`. Gaussian noise on a binary
    feature makes values the feature never takes; flips keep the inputs on the
    data's support.

    Parameters
    ----------
    scale : float, default=1.0
        Noise standard deviation of continuous features, in units of each
        feature's standard deviation in the training inputs.
    flip : float in [0, 1], default=0.25
        Probability that a binary feature is flipped (0.25 detected the held-out
        DNA class better than 0.1 or 0.03 on the fidelity panel's validation
        split, at the same error; docs/benchmarks.md).

    Attributes
    ----------
    std_ : ndarray of shape (n_features,) or the input's sample shape
        Standard deviation of each feature (1 where it is 0).
    binary_ : ndarray of bool, same shape as ``std_``
        Which features are binary.
    low_, high_ : ndarray, same shape as ``std_``
        The two values of each binary feature (0 elsewhere).

    See Also
    --------
    GaussianNoise : Gaussian noise on every feature.
    Mixup : Convex combinations of training inputs.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.transfer import FeatureNoise
    >>> X = np.array([[0.0, 1.5], [1.0, 2.5], [1.0, 0.5]])
    >>> noise = FeatureNoise().fit(X)
    >>> noise.binary_.tolist()
    [True, False]
    """

    _parameter_constraints: dict[str, list] = {
        "scale": [Interval(Real, 0, None, closed="neither")],
        "flip": [Interval(Real, 0, 1, closed="both")],
    }

    def __init__(self, scale: float = 1.0, flip: float = 0.25) -> None:
        self.scale = scale
        self.flip = flip

    def fit(self, X: np.ndarray) -> FeatureNoise:
        """Find the binary features and every feature's standard deviation.

        Parameters
        ----------
        X : ndarray of shape (n_samples, ...)
            The training inputs.

        Returns
        -------
        self : FeatureNoise
            The fitted generator.
        """
        super().fit(X)  # std_, as GaussianNoise
        X = np.asarray(X, dtype=np.float32)
        low = X.min(axis=0)
        high = X.max(axis=0)
        # Binary: every value is the minimum or the maximum, and they differ.
        self.binary_ = (high > low) & ((X == low) | (X == high)).all(axis=0)
        self.low_ = np.where(self.binary_, low, 0.0).astype(np.float32)
        self.high_ = np.where(self.binary_, high, 0.0).astype(np.float32)
        return self

    def sample(self, X: torch.Tensor) -> torch.Tensor:
        """Return ``X`` with binary features flipped and noise on the others.

        Parameters
        ----------
        X : Tensor of shape (batch_size, ...)
            A training batch.

        Returns
        -------
        X_new : Tensor of shape (batch_size, ...)
            The noisy inputs.
        """

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(a, device=X.device)

        noisy = super().sample(X)
        binary = tensor(self.binary_)
        if not bool(binary.any()):
            return noisy
        low, high = tensor(self.low_).to(X.dtype), tensor(self.high_).to(X.dtype)
        flips = torch.rand_like(X) < self.flip
        flipped = torch.where(flips, low + high - X, X)
        return torch.where(binary, flipped, noisy)


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
