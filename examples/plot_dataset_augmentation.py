"""
Training on an image Dataset with augmentation and the online teacher
======================================================================

Image classifiers are trained with data augmentation: every time an image is
read it is shifted, cropped or flipped at random, so the network never sees
the same pixels twice. skend2's estimators take a
:class:`torch.utils.data.Dataset` of ``(x, y)`` items as well as arrays; with
a random transform inside the Dataset, each member of the ensemble draws its
own augmented views, and the EnD² student, with ``teacher_outputs="online"``,
learns the teacher's outputs on the very views it is shown.

Here, on scikit-learn's 8×8 digits (0–4 in distribution, 5–9 as
out-of-distribution inputs, :func:`skend2.datasets.load_digits_ood`), we
augment with :class:`skend2.datasets.RandomCropFlip` inside a
:class:`skend2.datasets.ArrayDataset`, and compare with the same models
trained on the plain arrays.
"""

# sphinx_gallery_thumbnail_number = 2

# %%
# An augmented Dataset
# --------------------
# :class:`~skend2.datasets.RandomCropFlip` pads an image with zeros and crops
# it back at a random offset: a random shift by up to ``padding`` pixels. A
# digit flipped left to right is another symbol (or none), so ``flip=False``
# here; Fashion-MNIST or CIFAR images would keep the flip. The transform
# draws from torch's global random generator, which the estimators seed from
# their ``random_state``.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
from skend2.datasets import ArrayDataset, RandomCropFlip, load_digits_ood
from skend2.metrics import evaluate_classifier

# Small networks on a shared CPU run fastest on one torch thread (docs/benchmarks.md).
torch.set_num_threads(1)

digits = load_digits_ood(random_state=0)
# Images of shape (1, 8, 8): channels, height, width.
X_train, X_test, X_ood = (
    X.reshape(-1, 1, 8, 8).astype(np.float32)
    for X in (digits.X_train, digits.X_test, digits.X_ood)
)
augment = RandomCropFlip(padding=1, flip=False)
train = ArrayDataset(X_train, digits.y_train, transform=augment)
print(f"{len(train)} training images of shape {tuple(train[0][0].shape)}")

# Every read is a new view: what five members may see of the first image.
torch.manual_seed(0)
fig, axes = plt.subplots(1, 6, figsize=(7.5, 1.6), layout="constrained")
axes[0].imshow(X_train[0, 0], cmap="gray_r")
axes[0].set_title("stored", fontsize=9)
for member, ax in enumerate(axes[1:], start=1):
    ax.imshow(train[0][0][0], cmap="gray_r")
    ax.set_title(f"read {member}", fontsize=9)
for ax in axes:
    ax.set_axis_off()
plt.show()

# %%
# Ensemble and EnD², with and without augmentation
# ------------------------------------------------
# Five MLP members and an EnD² student at short schedules (this runs in
# seconds). From the Dataset, the fused ensemble reads every index of every
# member's minibatch on its own: each member gets its own augmented views
# (the cost: five reads and transforms of each image per epoch). The student
# takes the teacher's logits **online**: one teacher forward pass, without
# gradients, on each augmented batch it trains on (``"auto"`` chooses it for a
# Dataset; it is spelled out here).
members = dict(n_members=5, max_epochs=25, random_state=0)
students = dict(max_epochs=40, random_state=0)

plain_student = PriorNetworkDistiller(DeepEnsembleClassifier(**members), **students)
plain_student.fit(X_train, digits.y_train)

augmented_student = PriorNetworkDistiller(
    DeepEnsembleClassifier(**members), teacher_outputs="online", **students
)
augmented_student.fit(train)  # labels come from train.targets
print("teacher outputs:", augmented_student.teacher_outputs_)

models = {
    "ensemble": plain_student.teacher_,
    "EnD²": plain_student,
    "ensemble, augmented": augmented_student.teacher_,
    "EnD², augmented": augmented_student,
}

# %%
# Shifted test images
# -------------------
# Augmentation is meant to make the networks robust to what it draws. The
# test images are scored as they are and shifted by up to one pixel (the
# transform, with a fixed seed); OOD detection uses the knowledge uncertainty
# on the unshifted digits 5–9.
torch.manual_seed(1)
X_test_shifted = np.stack([augment(image) for image in X_test])
rows = {}
for name, model in models.items():
    scores = evaluate_classifier(model, X_test, digits.y_test, X_ood)
    shifted = evaluate_classifier(model, X_test_shifted, digits.y_test)
    rows[name] = {
        "error %": scores["error"],
        "error % (shifted)": shifted["error"],
        "NLL (shifted)": shifted["nll"],
        "OOD AUROC knowledge": scores["ood_auroc_knowledge"],
    }
table = pd.DataFrame(rows).T
print(table.round(3).to_string())

fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
table[["error %", "error % (shifted)"]].plot.bar(ax=axes[0], rot=15)
axes[0].set_ylabel("test error (%)")
axes[0].set_title("Error on the test digits, as stored and shifted")
table[["OOD AUROC knowledge"]].plot.bar(ax=axes[1], rot=15, legend=False)
axes[1].set_ylim(0.5, 1.0)
axes[1].set_ylabel("AUROC")
axes[1].set_title("OOD detection of digits 5–9 (knowledge uncertainty)")
plt.show()

# %%
# The models trained on plain arrays lose much of their accuracy on images
# shifted by one pixel; the augmented ones have seen such shifts and keep it
# (at the price of an error or two more on the 271 stored test images, with
# these short schedules). The EnD² student of the augmented ensemble,
# distilled online on the same augmented views, follows its teacher on
# shifted images, and its knowledge uncertainty still detects the unseen
# digits. On ``benchmarks/augmentation.py``
# (Fashion-MNIST vs MNIST) the online teacher is compared with logits
# precomputed on the un-augmented images (``teacher_outputs="offline"``):
# see the benchmarks page.
#
# Knowledge uncertainty on the shifted images
# -------------------------------------------
# A shift the training never showed is, for the models trained on arrays, an
# input unlike their data: their members disagree more on it.
fig, ax = plt.subplots(figsize=(6, 3.6), layout="constrained")
for name, model in models.items():
    knowledge = model.predict_uncertainty(X_test_shifted, measure="knowledge")
    ax.hist(np.log10(np.maximum(knowledge, 1e-8)), bins=30, histtype="step", label=name)
ax.set_xlabel("log10 knowledge uncertainty on shifted test digits (nats)")
ax.set_ylabel("number of images")
ax.legend()
plt.show()

# sphinx_gallery_start_ignore
# As a script under a non-interactive backend (MPLBACKEND=Agg), plt.show() shows
# nothing: save the figures in the working directory instead.
import sys
from pathlib import Path

as_script = "sphinx_gallery" not in sys.modules
if as_script and plt.get_backend().lower() in ("agg", "cairo", "pdf", "ps", "svg"):
    for number in plt.get_fignums():
        path = Path(f"{Path(__file__).stem}_{number}.png").resolve()
        plt.figure(number).savefig(path, bbox_inches="tight")
        print(f"figure {number} saved to {path}")
# sphinx_gallery_end_ignore
