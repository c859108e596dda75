"""
Detecting out-of-distribution images: ensemble vs EnD²
======================================================

A classifier trained on the digits 0–4 is shown the digits 5–9, which it has
never seen. Can its uncertainty tell them apart from new images of 0–4? This is
the paper's out-of-distribution (OOD) detection task, here on scikit-learn's
8×8 digits (:func:`skend2.datasets.load_digits_ood`).

We compare a deep ensemble of ten networks with its EnD² student (one network)
on every uncertainty measure they report, with
:class:`~skend2.plotting.OODDetectionDisplay`: one ROC curve per measure, with
the OOD images as the positive class.
"""

# sphinx_gallery_thumbnail_number = 2

# %%
# Data and models
# ---------------
# 630 training and 271 test images of 0–4, and 896 images of 5–9 as OOD inputs;
# pixels are scaled to [0, 1]. The members are MLPs with two hidden layers of 100
# units. The student distils them with the default annealing schedule.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
from skend2.datasets import load_digits_ood
from skend2.metrics import evaluate_classifier
from skend2.plotting import OODDetectionDisplay

# Small networks on a shared CPU run fastest on one torch thread (docs/benchmarks.md).
torch.set_num_threads(1)

digits = load_digits_ood(random_state=0)
print(
    f"train {digits.X_train.shape}, test {digits.X_test.shape}, "
    f"OOD {digits.X_ood.shape}; in-distribution classes {np.unique(digits.y_train)}"
)

fig, axes = plt.subplots(2, 8, figsize=(8, 2.4), layout="constrained")
for ax, image, label in zip(axes[0], digits.X_test[:8], digits.y_test[:8]):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(f"in: {label}", fontsize=9)
for ax, image, label in zip(axes[1], digits.X_ood[:8], digits.y_ood[:8]):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(f"OOD: {label}", fontsize=9)
for ax in axes.ravel():
    ax.set_axis_off()
plt.show()

# %%
ensemble = DeepEnsembleClassifier(n_members=10, max_epochs=60, random_state=0)
student = PriorNetworkDistiller(ensemble, max_epochs=120, random_state=0)
student.fit(digits.X_train, digits.y_train)
# The student's fitted teacher is the ensemble: no need to train it twice.
ensemble = student.teacher_

# %%
# ROC curves of OOD detection
# ---------------------------
# Each curve thresholds one measure: the false positive rate is the fraction of
# test images of 0–4 flagged as OOD, the true positive rate the fraction of
# 5–9 caught. The precision α₀ of the Prior Network is *higher* for confident
# predictions, so it is negated (−precision).
fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), layout="constrained", sharey=True)
OODDetectionDisplay.from_estimator(
    ensemble,
    digits.X_test,
    digits.X_ood,
    measures=["total", "data", "knowledge", "epkl", "mkl"],
    ax=axes[0],
)
axes[0].set_title("Deep ensemble (10 networks)")
OODDetectionDisplay.from_estimator(
    student,
    digits.X_test,
    digits.X_ood,
    measures=["total", "data", "knowledge", "epkl", "precision"],
    ax=axes[1],
)
axes[1].set_title("EnD² student (1 network)")
plt.show()

# %%
# The measures of the members' disagreement (knowledge uncertainty, EPKL, MKL
# and, for the student, the precision) detect the unseen digits best; the total
# and data uncertainty, which are also high for ambiguous images of the known
# digits, do less well. The single EnD² network keeps the ensemble's ranking of
# the measures, and here even detects slightly better than its teacher.
#
# The paper's evaluation in one call
# ----------------------------------
# :func:`skend2.metrics.evaluate_classifier` computes the test error (%), NLL,
# calibration error, misclassification detection and OOD detection for every
# measure.
results = {
    "Ensemble (M=10)": evaluate_classifier(
        ensemble, digits.X_test, digits.y_test, digits.X_ood
    ),
    "EnD²": evaluate_classifier(student, digits.X_test, digits.y_test, digits.X_ood),
}
columns = [
    "error",
    "nll",
    "ece",
    "prr",
    "ood_auroc_total",
    "ood_auroc_knowledge",
    "ood_auroc_epkl",
]
print(pd.DataFrame(results).T[columns].round(3).to_string())

# %%
# Where the uncertainty lands
# ---------------------------
# The distributions behind the curves: knowledge uncertainty on the test images
# and on the OOD images, for both models (log scale: it spans several orders of
# magnitude).
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), layout="constrained")
for ax, (name, model) in zip(axes, [("Ensemble", ensemble), ("EnD²", student)]):
    knowledge_in = model.predict_uncertainty(digits.X_test, measure="knowledge")
    knowledge_out = model.predict_uncertainty(digits.X_ood, measure="knowledge")
    bins = np.logspace(
        np.log10(max(min(knowledge_in.min(), knowledge_out.min()), 1e-8)),
        np.log10(max(knowledge_in.max(), knowledge_out.max())),
        40,
    )
    ax.hist(knowledge_in, bins=bins, alpha=0.6, label="test digits 0–4")
    ax.hist(knowledge_out, bins=bins, alpha=0.6, label="OOD digits 5–9")
    ax.set_xscale("log")
    ax.set_xlabel("knowledge uncertainty (nats)")
    ax.set_ylabel("number of images")
    ax.set_title(name)
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
