"""RandomCropFlip and ArrayDataset (skend2.datasets._augmentation)."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from skend2.datasets import ArrayDataset, RandomCropFlip


def _image(shape=(2, 6, 5), seed=0):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) + 1.0


def _shifts(image, padding):
    """Every crop of the zero-padded image (and its flips)."""
    padded = F.pad(image.unsqueeze(0), (padding,) * 4).squeeze(0)
    height, width = image.shape[-2:]
    crops = [
        padded[..., i : i + height, j : j + width]
        for i in range(2 * padding + 1)
        for j in range(2 * padding + 1)
    ]
    return crops, crops + [c.flip(-1) for c in crops]


@pytest.mark.parametrize("shape", [(6, 5), (2, 6, 5)])
def test_crop_keeps_shape_and_dtype(shape):
    image = _image(shape)
    view = RandomCropFlip(padding=2)(image)
    assert view.shape == image.shape and view.dtype == image.dtype
    array_view = RandomCropFlip(padding=2)(image.numpy())
    assert isinstance(array_view, np.ndarray) and array_view.shape == shape


def test_crop_is_a_shift_of_the_padded_image():
    image = _image()
    torch.manual_seed(0)
    crops, _ = _shifts(image, 2)
    seen = set()
    for _ in range(200):
        view = RandomCropFlip(padding=2, flip=False)(image)
        matches = [k for k, crop in enumerate(crops) if torch.equal(view, crop)]
        assert len(matches) == 1
        seen.add(matches[0])
    # All 25 offsets are drawn (uniformly; 200 draws miss one with p < 1e-3).
    assert seen == set(range(len(crops)))


def test_padding_zero_and_flip():
    image = _image()
    torch.manual_seed(0)
    views = [RandomCropFlip(padding=0, flip=True)(image) for _ in range(50)]
    flipped = [torch.equal(v, image.flip(-1)) for v in views]
    assert all(f or torch.equal(v, image) for f, v in zip(flipped, views))
    assert 0 < sum(flipped) < 50
    assert torch.equal(RandomCropFlip(padding=0, flip=False)(image), image)


def test_crop_and_flip_together():
    image = _image()
    torch.manual_seed(1)
    _, views = _shifts(image, 1)
    for _ in range(50):
        view = RandomCropFlip(padding=1)(image)
        assert any(torch.equal(view, v) for v in views)


def test_flattened_images_round_trip():
    image = _image((1, 6, 5))
    flat = image.reshape(-1)
    torch.manual_seed(3)
    view = RandomCropFlip(padding=2, image_shape=(1, 6, 5))(flat)
    torch.manual_seed(3)
    expected = RandomCropFlip(padding=2)(image)
    assert view.shape == flat.shape
    assert torch.equal(view, expected.reshape(-1))
    torch.manual_seed(3)
    view_2d = RandomCropFlip(padding=2, image_shape=(6, 5))(flat)
    assert torch.equal(view_2d, view)


def test_global_rng_reproducible():
    image = _image()
    augment = RandomCropFlip(padding=2)
    torch.manual_seed(7)
    first = [augment(image) for _ in range(5)]
    torch.manual_seed(7)
    second = [augment(image) for _ in range(5)]
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.parametrize(
    "params, name",
    [
        (dict(padding=-1), "padding"),
        (dict(padding=1.5), "padding"),
        (dict(padding=True), "padding"),
        (dict(flip="yes"), "flip"),
        (dict(image_shape=(784,)), "image_shape"),
        (dict(image_shape=(1, 0, 28)), "image_shape"),
        (dict(image_shape=(1, 2, 3, 4)), "image_shape"),
        (dict(image_shape=28), "image_shape"),
    ],
)
def test_bad_parameters(params, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        RandomCropFlip(**params)


def test_bad_inputs():
    with pytest.raises(ValueError, match="image_shape"):
        RandomCropFlip(image_shape=(28, 28))(torch.zeros(100))
    with pytest.raises(ValueError, match=r"\(H, W\) or \(C, H, W\)"):
        RandomCropFlip()(torch.zeros(784))


def test_array_dataset_items():
    X = np.arange(24, dtype=np.float64).reshape(4, 1, 2, 3)
    y = np.array(["a", "b", "a", "b"])
    data = ArrayDataset(X, y)
    assert len(data) == 4
    x, label = data[2]
    assert x.dtype == torch.float32 and torch.equal(x, torch.as_tensor(X[2]).float())
    assert label == "a"
    assert data.targets is y or np.array_equal(data.targets, y)
    x, label = ArrayDataset(X)[1]
    assert label == 0 and ArrayDataset(X).targets is None


def test_array_dataset_transform_per_read_and_no_copy():
    X = np.ones((3, 1, 4, 4), dtype=np.float32)
    calls = []

    def record(x):
        calls.append(x.clone())
        return x * 2

    data = ArrayDataset(X, [0, 1, 0], transform=record)
    x, _ = data[0]
    data[0]
    assert len(calls) == 2 and torch.equal(x, torch.full((1, 4, 4), 2.0))
    assert data.X is X  # not copied
    x[:] = 0
    assert X.min() == 1  # items are copies: a transform cannot change X


def test_array_dataset_memmap(tmp_path):
    path = tmp_path / "images.npy"
    np.save(path, np.arange(50, dtype=np.float32).reshape(5, 10))
    X = np.load(path, mmap_mode="r")
    data = ArrayDataset(X, np.arange(5))
    assert isinstance(data.X, np.memmap)
    assert torch.equal(data[3][0], torch.arange(30, 40, dtype=torch.float32))


@pytest.mark.parametrize(
    "args, match",
    [
        ((np.zeros(5), None), "at least 2 axes"),
        ((np.zeros((5, 2)), np.zeros(4)), "one label per"),
        ((np.zeros((5, 2)), np.zeros((5, 1))), "one label per"),
    ],
)
def test_array_dataset_bad_inputs(args, match):
    with pytest.raises(ValueError, match=match):
        ArrayDataset(*args)
    with pytest.raises(ValueError, match="'transform'"):
        ArrayDataset(np.zeros((5, 2)), transform="flip")


def test_fit_from_augmented_array_dataset():
    """Each member draws its own views; fit and predict work end to end."""
    from skend2 import DeepEnsembleClassifier

    rng = np.random.default_rng(0)
    X = rng.random((40, 1, 4, 4), dtype=np.float32)
    y = np.arange(40) % 2
    seen = []

    class Recording(RandomCropFlip):
        def __call__(self, x):
            view = super().__call__(x)
            seen.append(view)
            return view

    data = ArrayDataset(X, y, transform=Recording(padding=1))
    model = DeepEnsembleClassifier(
        n_members=2, max_epochs=1, batch_size=8, random_state=0
    ).fit(data)
    assert model.predict_proba(X).shape == (40, 2)
    # 2 members x 40 rows read during the epoch (plus a few checks).
    assert len(seen) >= 80
