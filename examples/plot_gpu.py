"""
Training on a GPU
=================

Every skend2 estimator takes a ``device``, as in skorch: ``device="cuda"`` trains
and predicts on a GPU, while inputs and outputs stay NumPy arrays. This example
picks the GPU when there is one and the CPU otherwise, so it runs anywhere (the
documentation is built on a CPU).

It also shows image inputs: arrays of shape (n_samples, channels, height,
width) get a small convolutional network (:class:`skend2.modules.SmallCNN`) by
default.
"""

# %%
# Choosing the device
# -------------------
from time import perf_counter

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
from skend2.datasets import load_digits_ood
from skend2.metrics import ood_detection_auroc

# Small networks on a shared CPU run fastest on one torch thread (docs/benchmarks.md).
torch.set_num_threads(1)

device = "cuda" if torch.cuda.is_available() else "cpu"
if device == "cuda":
    print("GPU:", torch.cuda.get_device_name(0))
else:
    print("No GPU found: running on the CPU.")

# %%
# Images
# ------
# The 8×8 digits as one-channel images: 0–4 to learn, 5–9 as unseen inputs.
digits = load_digits_ood(random_state=0)
X_train = digits.X_train.reshape(-1, 1, 8, 8)
X_test = digits.X_test.reshape(-1, 1, 8, 8)
X_ood = digits.X_ood.reshape(-1, 1, 8, 8)
print("image batch shape:", X_train.shape)

# %%
# Training on the device
# ----------------------
# The same code runs on any device; only ``device`` changes. With a GPU the
# example also trains on the CPU, for comparison. On a GPU, larger batches use
# the hardware better; small networks like these gain little, large ones
# (and large data) a lot.
devices = ["cpu", "cuda"] if device == "cuda" else ["cpu"]
rows, students = [], {}
for name in devices:
    teacher = DeepEnsembleClassifier(
        n_members=5, max_epochs=20, module__width=16, device=name, random_state=0
    )
    student = PriorNetworkDistiller(teacher, max_epochs=40, device=name, random_state=0)
    start = perf_counter()
    student.fit(X_train, digits.y_train)
    fit_time = perf_counter() - start

    start = perf_counter()
    knowledge_in = student.predict_uncertainty(X_test, measure="knowledge")
    knowledge_out = student.predict_uncertainty(X_ood, measure="knowledge")
    predict_time = perf_counter() - start

    students[name] = student
    rows.append(
        {
            "device": name,
            "fit: 5 CNNs + EnD² (s)": fit_time,
            "predict_uncertainty (s)": predict_time,
            "test accuracy": student.score(X_test, digits.y_test),
            "OOD AUROC (knowledge)": ood_detection_auroc(knowledge_in, knowledge_out),
        }
    )
print(pd.DataFrame(rows).set_index("device").round(3).to_string())

# %%
# The outputs are NumPy arrays whatever the device, so everything downstream
# (metrics, plots, pandas) is unchanged. The knowledge uncertainty of the
# student trained on ``device``:
student = students[device]
knowledge_in = student.predict_uncertainty(X_test, measure="knowledge")
knowledge_out = student.predict_uncertainty(X_ood, measure="knowledge")
print(type(knowledge_in), knowledge_in.dtype, knowledge_in.shape)

fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
bins = np.logspace(
    np.log10(min(knowledge_in.min(), knowledge_out.min())),
    np.log10(max(knowledge_in.max(), knowledge_out.max())),
    40,
)
ax.hist(knowledge_in, bins=bins, alpha=0.6, label="test digits 0–4")
ax.hist(knowledge_out, bins=bins, alpha=0.6, label="unseen digits 5–9")
ax.set_xscale("log")
ax.set_xlabel("knowledge uncertainty of the EnD² CNN (nats)")
ax.set_ylabel("number of images")
ax.set_title(f"EnD² student trained on device={device!r}")
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
