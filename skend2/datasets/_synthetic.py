"""Synthetic data: the EnD² paper's three-arm spirals and the OOD ring around them."""

import numpy as np
from sklearn.utils import check_random_state

from ._checks import _check_int, _check_real

__all__ = ["make_spirals", "make_spirals_ood"]

_N_SPIRAL_CLASSES = 3
# The authors' generator draws the arm parameter as n = 6π·√u, u ~ U(0, 1).
_SPIRAL_MAX_ARM = 6.0 * np.pi


def make_spirals(
    n_samples: int = 3000, *, noise: float = 0.1, random_state=None
) -> tuple[np.ndarray, np.ndarray]:
    """Generate the three-arm spiral data set of the EnD² paper.

    For class ``k`` of 3, the arm parameter is ``n = 6π·√u`` with
    ``u ~ U(0, 1)`` and the point is::

        x₁ = −cos(n + 2πk/3)·n² + noise·n^{3/2}·ε₁
        x₂ =  sin(n + 2πk/3)·n² + noise·n^{3/2}·ε₂,   ε ~ N(0, I)

    as in the authors' generator. The noise grows with the distance from the
    centre, so the arms overlap more on the outside, which is where the data
    uncertainty of a good model lies. Inputs reach a radius of
    ``(6π)² ≈ 355``; models want a ``StandardScaler`` in front.

    Parameters
    ----------
    n_samples : int, default=3000
        Total number of points, split as evenly as possible over the three
        classes (the remainder goes to the first classes). At least 3.
    noise : float, default=0.1
        Noise level σ (non-negative). ``noise=0`` puts every point exactly on
        its arm.
    random_state : int, RandomState instance or None, default=None
        Seed or generator for the arm parameters, the noise and the shuffle.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float64
        The points, rows shuffled.
    y : ndarray of shape (n_samples,), dtype int64
        The class (arm) of each point, in {0, 1, 2}.

    See Also
    --------
    make_spirals_ood : The far-away ring used as out-of-distribution data.
    load_spirals_ood : Train, test and OOD sets from both, standardised.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.datasets import make_spirals
    >>> X, y = make_spirals(300, random_state=0)
    >>> X.shape
    (300, 2)
    >>> np.bincount(y)
    array([100, 100, 100])
    """
    n_samples = _check_int(n_samples, "n_samples", _N_SPIRAL_CLASSES)
    noise = _check_real(noise, "noise")
    rng = check_random_state(random_state)

    base, remainder = divmod(n_samples, _N_SPIRAL_CLASSES)
    X_parts, y_parts = [], []
    for k in range(_N_SPIRAL_CLASSES):
        n_k = base + (k < remainder)
        arm = _SPIRAL_MAX_ARM * np.sqrt(rng.uniform(0.0, 1.0, size=n_k))
        angle = arm + 2.0 * np.pi * k / _N_SPIRAL_CLASSES
        eps = rng.standard_normal(size=(n_k, 2))
        spread = noise * arm**1.5
        X_parts.append(
            np.column_stack(
                (
                    -np.cos(angle) * arm**2 + spread * eps[:, 0],
                    np.sin(angle) * arm**2 + spread * eps[:, 1],
                )
            )
        )
        y_parts.append(np.full(n_k, k, dtype=np.int64))

    X = np.concatenate(X_parts).astype(np.float64, copy=False)
    y = np.concatenate(y_parts)
    order = rng.permutation(n_samples)
    return X[order], y[order]


def make_spirals_ood(
    n_samples: int = 1000,
    *,
    radius: float = 410.0,
    width: float = 20.0,
    random_state=None,
) -> np.ndarray:
    """Generate out-of-distribution points on a ring around the spirals.

    The angle is uniform on [0, 2π) and the distance from the origin is
    uniform on ``[radius − width/2, radius + width/2]``. The default ring of
    radius 410 lies outside the spirals (which reach ≈ 355), as the EnD²
    authors' OOD set.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points (at least 1).
    radius : float, default=410.0
        Radius of the ring's centre line (positive).
    width : float, default=20.0
        Radial width of the ring, between 0 and ``2 * radius``.
    random_state : int, RandomState instance or None, default=None
        Seed or generator.

    Returns
    -------
    X : ndarray of shape (n_samples, 2), dtype float64
        The points.

    See Also
    --------
    make_spirals : The in-distribution data.

    Notes
    -----
    ReLU networks tend to be confidently wrong far from their data (Hein et
    al., CVPR 2019), so on this ring single networks, ensembles and EnD²
    students alike may report *less* uncertainty than on test points.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.datasets import make_spirals_ood
    >>> X_ood = make_spirals_ood(200, random_state=0)
    >>> X_ood.shape
    (200, 2)
    >>> r = np.hypot(X_ood[:, 0], X_ood[:, 1])
    >>> bool(r.min() >= 400 and r.max() <= 420)
    True
    """
    n_samples = _check_int(n_samples, "n_samples", 1)
    radius = _check_real(radius, "radius", strict=True)
    width = _check_real(width, "width")
    if width > 2.0 * radius:
        raise ValueError(
            f"width must be at most 2 * radius = {2.0 * radius}, got {width}."
        )
    rng = check_random_state(random_state)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=n_samples)
    distance = radius + rng.uniform(-width / 2.0, width / 2.0, size=n_samples)
    return np.column_stack((distance * np.cos(angle), distance * np.sin(angle)))
