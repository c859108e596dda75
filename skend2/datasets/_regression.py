"""Regression data: the 1-D toy, BostonHousing and Servo, and the PCA OOD split.

BostonHousing and Servo are read, like the classification sets of
``_mlbench``, from the ``.rda`` files of Debian's ``r-cran-mlbench`` with the
PyPI package ``rdata``; scikit-learn's ``load_diabetes`` is the third tabular
set. Tabular regression has no held-out classes, so the out-of-distribution
split is geometric: the rows whose first principal component lies above a
quantile are held out (Malinin et al., 2020, use the same idea).
"""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch, check_random_state
from sklearn.utils.validation import check_array, check_consistent_length

from ._checks import _check_int, _check_real
from ._mlbench import _find_rda, _read_frame
from ._ood_splits import _check_test_size, _ood_bunch

__all__ = [
    "make_regression_toy",
    "load_mlbench_regression",
    "split_pca_ood",
    "load_regression_ood",
]

_TOY_RANGE = (-3.0, 3.0)

_REGRESSION_SETS = {
    "bostonhousing": ("BostonHousing", 506, 13, "medv"),
    "servo": ("Servo", 167, 12, "Class"),
}
_REGRESSION_DESCRIPTIONS = {
    "bostonhousing": (
        "BostonHousing (mlbench; UCI 'Housing', Harrison & Rubinfeld 1978): "
        "the median value of owner-occupied homes (medv, in $1000s) in 506 "
        "census tracts of Boston from 13 features (crime rate, rooms, "
        "pupil-teacher ratio, ...). The binary factor 'chas' is returned as "
        "0.0/1.0."
    ),
    "servo": (
        "Servo (mlbench; UCI 'Servo', K. Ullrich): the rise time of a "
        "servomechanism (Class) for 167 settings of motor (A-E), screw "
        "(A-E), proportional gain (3-6) and velocity gain (1-5). Motor and "
        "screw are one-hot encoded (10 columns), the gains are numbers: 12 "
        "features."
    ),
}


def make_regression_toy(
    n_samples: int = 500,
    *,
    x_range: tuple[float, float] = _TOY_RANGE,
    noise: float = 0.2,
    random_state=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Generate a 1-D heteroscedastic regression toy: y = x sin x + noise.

    In the spirit of the 1-D toy of Regression Prior Networks: inputs
    x ~ U(x_range), targets ``y = x·sin(x) + ε`` with ε ~ N(0, σ(x)²) and
    ``σ(x) = noise·(0.5 + |x|/2)``, so the data uncertainty grows away from
    0. Outside ``x_range`` a model has seen nothing: an ensemble's members
    disagree there, and its knowledge uncertainty grows.

    Parameters
    ----------
    n_samples : int, default=500
        Number of points (at least 2).
    x_range : tuple of float, default=(-3.0, 3.0)
        The interval the inputs are drawn from (low < high).
    noise : float, default=0.2
        Noise level (non-negative).
    random_state : int, RandomState instance or None, default=None
        Seed or generator.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        Inputs.
    y : ndarray of shape (n_samples,)
        Targets.

    References
    ----------
    .. [1] A. Malinin, S. Chervontsev, I. Provilkov and M. Gales, "Regression
       Prior Networks", arXiv:2006.11590, 2020.

    Examples
    --------
    >>> from skend2.datasets import make_regression_toy
    >>> X, y = make_regression_toy(100, random_state=0)
    >>> X.shape, y.shape, bool(abs(X).max() <= 3)
    ((100, 1), (100,), True)
    """
    n_samples = _check_int(n_samples, "n_samples", 2)
    noise = _check_real(noise, "noise")
    try:
        low, high = (float(v) for v in x_range)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"x_range must be a pair of real numbers, got {x_range!r}."
        ) from exc
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(f"x_range must be finite with low < high, got {x_range}.")
    rng = check_random_state(random_state)
    x = rng.uniform(low, high, n_samples)
    sigma = noise * (0.5 + 0.5 * np.abs(x))
    y = x * np.sin(x) + sigma * rng.standard_normal(n_samples)
    return x[:, None], y


def _regression_arrays(key: str, path) -> tuple[np.ndarray, np.ndarray, list[str]]:
    stem, n_rows, n_features, target = _REGRESSION_SETS[key]
    frame = _read_frame(path, stem, column=target)
    columns, names = [], []
    for name in frame.columns:
        if name == target:
            continue
        column = frame[name]
        if hasattr(column, "cat"):
            levels = [str(level) for level in column.cat.categories]
            codes = np.asarray(column.cat.codes)
            if (codes < 0).any():
                raise ValueError(f"{path}: column {name!r} has missing values.")
            try:  # numeric levels (Servo's gains, Boston's chas) are numbers
                values = np.array([float(level) for level in levels])
                columns.append(values[codes])
                names.append(str(name))
            except ValueError:  # named levels (Servo's motor and screw): one-hot
                for i, level in enumerate(levels):
                    columns.append((codes == i).astype(np.float64))
                    names.append(f"{name}_{level}")
        else:
            columns.append(np.asarray(column, dtype=np.float64))
            names.append(str(name))
    data = np.column_stack(columns)
    y = np.asarray(frame[target], dtype=np.float64)
    if data.shape != (n_rows, n_features) or not np.isfinite(data).all():
        raise ValueError(
            f"{path}: expected {stem} with {n_rows} rows and {n_features} finite "
            f"features, got {data.shape}."
        )
    return data, y, names


def load_mlbench_regression(name: str, *, data_home=None, return_X_y: bool = False):
    """Load BostonHousing or Servo from R's mlbench package.

    Two UCI regression sets, read from the ``.rda`` files of Debian's
    ``r-cran-mlbench`` with ``rdata`` (no R needed); nothing is downloaded.
    Only these two are served (mlbench's other sets are kept for independent
    evaluation).

    Parameters
    ----------
    name : {"BostonHousing", "Servo"}
        The set (case-insensitive).
    data_home : str or path-like, default=None
        A folder holding the ``.rda`` files (or the unpacked ``.deb``); by
        default the places :func:`load_mlbench` looks in.
    return_X_y : bool, default=False
        Return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : Bunch or tuple
        ``data`` (n_samples, n_features) float64, ``target`` (n_samples,),
        ``feature_names`` and ``DESCR``; or ``(data, target)``.

    Raises
    ------
    FileNotFoundError
        If the file is not found, with the commands that fetch it.

    See Also
    --------
    load_regression_ood : The set split into train, test and PCA-OOD parts.

    Examples
    --------
    >>> from skend2.datasets import load_mlbench_regression
    >>> X, y = load_mlbench_regression("Servo", return_X_y=True)  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (167, 12)
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in _REGRESSION_SETS:
        raise ValueError(
            "load_mlbench_regression serves only BostonHousing and Servo, got "
            f"{name!r}. The other sets of mlbench are kept out of this "
            "project's reach on purpose, for independent evaluation."
        )
    if not isinstance(return_X_y, bool):
        raise TypeError(f"return_X_y must be a bool, got {return_X_y!r}.")
    stem = _REGRESSION_SETS[key][0]
    path = _find_rda(stem, data_home)
    data, target, names = _regression_arrays(key, path)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        feature_names=names,
        DESCR=_REGRESSION_DESCRIPTIONS[key],
    )


def split_pca_ood(
    X, y, *, quantile: float = 0.8, test_size: float = 0.2, random_state=0
) -> Bunch:
    """Split tabular regression data into in-distribution and PCA-OOD parts.

    The inputs are standardised and projected on their first principal
    component; the rows above its ``quantile`` are out of distribution, the
    rest are split into train and test at random.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Inputs.
    y : array-like of shape (n_samples,) or (n_samples, n_targets)
        Targets.
    quantile : float, default=0.8
        In (0, 1): the share of rows kept in distribution.
    test_size : float, default=0.2
        Share of the in-distribution rows used for testing.
    random_state : int, RandomState instance or None, default=0
        Seeds the train/test split (the OOD part is deterministic).

    Returns
    -------
    split : Bunch
        ``X_train``, ``y_train``, ``X_test``, ``y_test``, ``X_ood``, ``y_ood``
        and ``threshold`` (the component's value at ``quantile``).

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.datasets import split_pca_ood
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> split = split_pca_ood(X, X[:, 0], random_state=0)
    >>> len(split.X_train), len(split.X_test), len(split.X_ood)
    (64, 16, 20)
    """
    X = check_array(X, dtype=np.float64, ensure_min_samples=5)
    y = np.asarray(y, dtype=np.float64)
    check_consistent_length(X, y)
    quantile = _check_real(quantile, "quantile", strict=True)
    if quantile >= 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}.")
    test_size = _check_test_size(test_size)
    scaled = StandardScaler().fit_transform(X)
    pca = PCA(n_components=1, svd_solver="full").fit(scaled)
    loadings = pca.components_[0]
    # The sign of a principal component is arbitrary; fix it so that the split
    # does not depend on the SVD's: the largest |loading| is positive.
    sign = np.sign(loadings[np.argmax(np.abs(loadings))]) or 1.0
    component = sign * pca.transform(scaled)[:, 0]
    threshold = float(np.quantile(component, quantile))
    ood = component > threshold
    X_train, X_test, y_train, y_test = train_test_split(
        X[~ood], y[~ood], test_size=test_size, random_state=random_state
    )
    return _ood_bunch(
        X_train, y_train, X_test, y_test, X[ood], y[ood], threshold=threshold
    )


def load_regression_ood(
    name: str,
    *,
    quantile: float = 0.8,
    test_size: float = 0.2,
    random_state=0,
    data_home=None,
) -> Bunch:
    """Load diabetes, BostonHousing or Servo split by :func:`split_pca_ood`.

    Parameters
    ----------
    name : {"diabetes", "BostonHousing", "Servo"}
        ``"diabetes"`` is scikit-learn's :func:`~sklearn.datasets.load_diabetes`;
        the others come from :func:`load_mlbench_regression`.
    quantile : float, default=0.8
        Share of rows in distribution (the first principal component below it).
    test_size : float, default=0.2
        Share of in-distribution rows for testing.
    random_state : int, RandomState instance or None, default=0
        Seeds the train/test split.
    data_home : str or path-like, default=None
        Where the mlbench files are (see :func:`load_mlbench_regression`).

    Returns
    -------
    split : Bunch
        As :func:`split_pca_ood`, plus ``name``.

    Examples
    --------
    >>> from skend2.datasets import load_regression_ood
    >>> split = load_regression_ood("diabetes", random_state=0)
    >>> split.X_train.shape[1], len(split.X_ood)
    (10, 89)
    """
    if isinstance(name, str) and name.lower() == "diabetes":
        from sklearn.datasets import load_diabetes

        X, y = load_diabetes(return_X_y=True)
    else:
        X, y = load_mlbench_regression(name, data_home=data_home, return_X_y=True)
    split = split_pca_ood(
        X, y, quantile=quantile, test_size=test_size, random_state=random_state
    )
    split["name"] = name
    return split
