"""
Saving, loading and sharing a model
===================================

A pickled model is a program: loading it runs whatever its author put in it.
:func:`skend2.save` writes a model as one `safetensors
<https://huggingface.co/docs/safetensors>`_ file instead, weights as tensors and
everything else as JSON, and :func:`skend2.load` rebuilds it without running
code from the file. This example saves a Pipeline that ends in a Prior Network,
looks inside the file, loads it back (bit-identical predictions), shows what
``trusted=`` is for, and loads a model on another device. See
:ref:`persistence` for the details.
"""

# %%
# A model worth keeping
# ---------------------
# A scaler and an EnD² student, whose teacher (5 networks) is fitted inside
# ``fit``; the labels are strings.
import json
import pickle
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from safetensors import safe_open
from sklearn.datasets import load_wine
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

import skend2
from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller

# Small networks on a shared CPU run fastest on one torch thread.
torch.set_num_threads(1)

X, y = load_wine(return_X_y=True)
labels = np.array(["barolo", "grignolino", "barbera"])[y]
X_train, X_test, y_train, y_test = train_test_split(X, labels, random_state=0)
teacher = DeepEnsembleClassifier(n_members=5, max_epochs=40, random_state=0)
model = make_pipeline(
    StandardScaler(), PriorNetworkDistiller(teacher, max_epochs=60, random_state=0)
).fit(X_train, y_train)
print(f"test accuracy: {model.score(X_test, y_test):.3f}")

# %%
# Saving
# ------
# One file holds the scaler, the student and its teacher.
folder = Path(tempfile.mkdtemp())
path = folder / "wine.skend2"
skend2.save(model, path)
print(f"saved {path.name}: {path.stat().st_size / 1e3:.0f} kB")

# %%
# Inside the file
# ---------------
# Any safetensors reader can open it: the tensors are the weights (the teacher's
# five members stacked, the student, the optimisers' state), and the header
# holds the rest as plain JSON. Nothing in it is a pickle.
with safe_open(path, framework="pt") as f:
    names = list(f.keys())
    header = json.loads(f.metadata()["skend2"])
    print(f"{len(names)} tensors, for example:")
    for name in [n for n in names if "module/" in n][:3]:
        print(f"  {name}: {tuple(f.get_slice(name).get_shape())}")
print("written by:", header["versions"])
student = header["root"]["__pipeline__"]["steps"]["1"]["__estimator__"]
print("student classes_ as JSON:", student["fitted"]["classes_"]["__ndarray__"])

# %%
# Loading
# -------
# The loaded pipeline predicts exactly as the saved one: every probability and
# every uncertainty measure is bit-identical.
loaded = skend2.load(path)
same = np.array_equal(loaded.predict_proba(X_test), model.predict_proba(X_test))
print("identical probabilities:", same)
Xt = model[:-1].transform(X_test)
before = model[-1].predict_uncertainty(Xt)
after = loaded[-1].predict_uncertainty(loaded[:-1].transform(X_test))
print(
    "identical uncertainties:", all(np.array_equal(before[k], after[k]) for k in before)
)


# %%
# Your own networks: ``trusted=``
# -------------------------------
# :func:`skend2.load` builds only classes from skend2, skorch, ``torch.nn`` and
# ``torch.optim`` by itself. A model built on your own module class names that
# class in its file; loading it needs your say-so, and
# :func:`skend2.get_untrusted_types` tells you what you would be trusting.
class WineNet(nn.Module):
    """A small network of our own."""

    def __init__(self, n_features=None, n_classes=None, width=16):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(n_features, width), nn.Tanh(), nn.Linear(width, n_classes)
        )

    def forward(self, x):
        return self.body(x)


scaler = StandardScaler().fit(X_train)
custom = DeepEnsembleClassifier(WineNet, n_members=3, max_epochs=40, random_state=0)
custom.fit(scaler.transform(X_train), y_train)
skend2.save(custom, folder / "custom.skend2")
print("untrusted:", skend2.get_untrusted_types(folder / "custom.skend2"))
try:
    skend2.load(folder / "custom.skend2")
except TypeError as error:
    print("refused:", str(error).split(". ")[0])
custom_loaded = skend2.load(folder / "custom.skend2", trusted=[WineNet])
print("loaded with trusted=[WineNet]:", type(custom_loaded.module_).__name__)

# %%
# Another device
# --------------
# Weights are stored on the CPU, and ``device=`` says where they go on load: a
# model trained with ``device="cuda"`` loads on a laptop with
# ``device="cpu"`` (without it, the CPU is used with a warning when there is no
# GPU).
on_cpu = skend2.load(path, device="cpu")
print("student device after load:", on_cpu[-1].device)

# %%
# The same model, pickled and saved
# ---------------------------------
# Left: each test wine's knowledge uncertainty before saving and after loading
# (all on the diagonal). Right: the file sizes; the safe file is about as large
# as a pickle, both dominated by the weights.
pickled = len(pickle.dumps(model))
fig, (ax_u, ax_size) = plt.subplots(1, 2, figsize=(9, 3.6))
ax_u.scatter(before.knowledge, after.knowledge, s=12)
ax_u.set(xlabel="knowledge uncertainty, saved", ylabel="after load (nats)")
ax_size.bar(["skend2.save", "pickle"], [path.stat().st_size / 1e3, pickled / 1e3])
ax_size.set(ylabel="size (kB)", title="file size")
fig.tight_layout()
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
