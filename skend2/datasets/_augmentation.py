"""Image augmentation without torchvision: a random crop and flip, and a Dataset.

:class:`RandomCropFlip` is the standard augmentation of small-image
classifiers (the EnD² paper's CIFAR-10 recipe: random crops after zero
padding and random horizontal flips); :class:`ArrayDataset` wraps arrays in a
``torch.utils.data.Dataset`` of ``(x, y)`` items that applies such a transform
on every read, so that skend2's estimators train each ensemble member on its
own augmented views (see the user guide, "Datasets, augmentation and the
online teacher").
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from numbers import Integral
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import Dataset

__all__ = ["ArrayDataset", "RandomCropFlip"]


def _check_image_shape(image_shape: Any) -> tuple[int, ...] | None:
    if image_shape is None:
        return None
    try:
        shape = tuple(image_shape)
    except TypeError:
        shape = ()
    if len(shape) not in (2, 3) or not all(
        isinstance(s, Integral) and not isinstance(s, bool) and s >= 1 for s in shape
    ):
        raise ValueError(
            "The 'image_shape' parameter of RandomCropFlip must be None or a "
            "tuple of 2 or 3 positive integers, (H, W) or (C, H, W); got "
            f"{image_shape!r}."
        )
    return tuple(int(s) for s in shape)


class RandomCropFlip:
    """Random crop after zero padding, and a random horizontal flip.

    Pads an image with ``padding`` zeros on each side, crops it back to its
    size at a uniformly random offset (a random shift of the image by up to
    ``padding`` pixels in each direction, the uncovered border filled with
    zeros), then flips it left to right with probability 1/2 (if ``flip``).
    The same augmentation as torchvision's
    ``Compose([RandomCrop(size, padding), RandomHorizontalFlip()])``, without
    torchvision.

    Parameters
    ----------
    padding : int, default=2
        Zero pixels added on each side before cropping: the largest shift.
        ``0`` crops nothing.
    flip : bool, default=True
        Whether to flip horizontally (the last axis) with probability 1/2.
    image_shape : tuple of int or None, default=None
        The shape, (H, W) or (C, H, W), of an image given flattened (e.g. the
        784 pixels of a 28×28 image): it is reshaped, augmented and returned
        flattened again. ``None``: the input is an image already, of shape
        (H, W) or (C, H, W) (the last two axes are height and width).

    Notes
    -----
    The random draws come from torch's global random number generator
    (``torch.randint`` for the offsets, then ``torch.rand`` for the flip), as
    torchvision's transforms do: ``torch.manual_seed`` reproduces them, inside
    a ``DataLoader`` worker they follow that worker's seed (which torch sets
    per worker and epoch from the loader's generator), and skend2's
    estimators, which seed torch from their ``random_state`` while fitting,
    make augmented fits reproducible with ``num_workers=0``.

    Examples
    --------
    >>> import torch
    >>> from skend2.datasets import RandomCropFlip
    >>> _ = torch.manual_seed(0)
    >>> augment = RandomCropFlip(padding=2)
    >>> augment(torch.ones(1, 28, 28)).shape
    torch.Size([1, 28, 28])
    >>> RandomCropFlip(image_shape=(28, 28))(torch.ones(784)).shape
    torch.Size([784])
    """

    def __init__(
        self,
        padding: int = 2,
        flip: bool = True,
        image_shape: Sequence[int] | None = None,
    ) -> None:
        if (
            not isinstance(padding, Integral)
            or isinstance(padding, bool)
            or padding < 0
        ):
            raise ValueError(
                "The 'padding' parameter of RandomCropFlip must be an int >= 0; "
                f"got {padding!r}."
            )
        if not isinstance(flip, (bool, np.bool_)):
            raise ValueError(
                f"The 'flip' parameter of RandomCropFlip must be a bool; got {flip!r}."
            )
        self.padding = int(padding)
        self.flip = bool(flip)
        self.image_shape = _check_image_shape(image_shape)

    def __repr__(self) -> str:
        shape = "" if self.image_shape is None else f", image_shape={self.image_shape}"
        return f"RandomCropFlip(padding={self.padding}, flip={self.flip}{shape})"

    def __call__(self, x: Any) -> Any:
        """One random view of ``x``: a tensor for a tensor, else an ndarray.

        Parameters
        ----------
        x : tensor or array-like of shape (H, W), (C, H, W) or (n_pixels,)
            One image (flattened if ``image_shape`` is set).

        Returns
        -------
        view : tensor or ndarray of the shape and dtype of ``x``
            The shifted (and maybe flipped) image.
        """
        is_tensor = torch.is_tensor(x)
        image = x if is_tensor else torch.as_tensor(np.asarray(x))
        shape = image.shape
        if self.image_shape is not None:
            if image.numel() != math.prod(self.image_shape):
                raise ValueError(
                    f"RandomCropFlip(image_shape={self.image_shape}) got an input "
                    f"of shape {tuple(shape)} ({image.numel()} values, not "
                    f"{math.prod(self.image_shape)})."
                )
            image = image.reshape(self.image_shape)
        elif image.ndim not in (2, 3):
            raise ValueError(
                "RandomCropFlip takes an image of shape (H, W) or (C, H, W), or a "
                f"flattened one with image_shape set; got shape {tuple(shape)}."
            )
        view = self._augment(image).reshape(shape)
        return view if is_tensor else view.numpy()

    def _augment(self, image: torch.Tensor) -> torch.Tensor:
        p = self.padding
        if p:
            height, width = image.shape[-2:]
            top, left = torch.randint(0, 2 * p + 1, (2,)).tolist()
            # F.pad wants a batch axis for 2-D inputs of some dtypes; (1, H, W)
            # works for (H, W) and (C, H, W) alike.
            padded = F.pad(image.unsqueeze(0), (p, p, p, p)).squeeze(0)
            image = padded[..., top : top + height, left : left + width]
        if self.flip and torch.rand(()) < 0.5:
            image = image.flip(-1)
        return image.contiguous()


class ArrayDataset(Dataset):
    """Arrays as a ``torch.utils.data.Dataset`` of ``(x, y)`` items, transformed.

    Item ``i`` is ``(transform(X[i]), y[i])``, with ``X[i]`` a float32 tensor
    read on its own (``X`` may be a ``numpy.memmap``: it is never copied
    whole), so a random ``transform`` is drawn anew at every read: fitted by
    skend2's estimators, every ensemble member and every epoch sees its own
    augmented views. ``targets`` holds ``y``, so the estimators take the class
    labels from it without reading (and transforming) the items.

    Parameters
    ----------
    X : array-like of shape (n_samples, ...)
        Inputs: feature vectors, images (n_samples, C, H, W), flattened
        images, ...
    y : array-like of shape (n_samples,) or None, default=None
        Class labels (numbers or strings). ``None`` (inputs to predict on only)
        gives items ``(x, 0)`` and ``targets=None``.
    transform : callable or None, default=None
        Applied to every item's input as it is read, e.g.
        :class:`RandomCropFlip`; ``None`` returns the inputs unchanged.

    Attributes
    ----------
    X : ndarray of shape (n_samples, ...)
        The inputs (not copied).
    targets : ndarray of shape (n_samples,) or None
        The labels.

    See Also
    --------
    RandomCropFlip : A random crop and horizontal flip for images.

    Examples
    --------
    >>> import numpy as np
    >>> from skend2.datasets import ArrayDataset, RandomCropFlip
    >>> images = np.random.default_rng(0).random((100, 1, 8, 8), dtype=np.float32)
    >>> labels = np.arange(100) % 2
    >>> train = ArrayDataset(images, labels, transform=RandomCropFlip(padding=1))
    >>> x, y = train[0]
    >>> tuple(x.shape), int(y)
    ((1, 8, 8), 0)
    """

    def __init__(
        self,
        X: Any,
        y: Any = None,
        transform: Callable[[torch.Tensor], Any] | None = None,
    ) -> None:
        X = X if isinstance(X, np.ndarray) else np.asarray(X)
        if X.ndim < 2:
            raise ValueError(
                "ArrayDataset needs X of shape (n_samples, ...) with at least 2 "
                f"axes; got shape {X.shape}."
            )
        if y is not None:
            y = np.asarray(y)
            if y.ndim != 1 or len(y) != len(X):
                raise ValueError(
                    f"ArrayDataset needs y of shape ({len(X)},), one label per "
                    f"row of X; got shape {y.shape}."
                )
        if transform is not None and not callable(transform):
            raise ValueError(
                "The 'transform' parameter of ArrayDataset must be a callable or "
                f"None; got {transform!r}."
            )
        self.X = X
        self.targets = y
        self.transform = transform

    def __len__(self) -> int:
        return len(self.X)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        x = torch.from_numpy(np.array(self.X[index], dtype=np.float32))
        if self.transform is not None:
            x = self.transform(x)
        y = 0 if self.targets is None else self.targets[index]
        return x, y
