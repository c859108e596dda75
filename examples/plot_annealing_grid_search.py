"""
Choosing an annealing schedule with GridSearchCV
================================================

EnD² trains its Prior Network on the ensemble's members' predictions at a
temperature T that starts high and is cooled to 1 (the paper's *temperature
annealing*). How hot to start, and how to cool, are hyper-parameters like any
other: this example searches them with :class:`~sklearn.model_selection.GridSearchCV`.

Two things make the search cheap and meaningful:

* the distiller's ``memory`` caches the teacher ensemble: its fit on each fold is
  computed once and reused by every candidate schedule;
* :func:`skend2.metrics.distillation_nll_scorer` scores each candidate by the
  *held-out distillation NLL*: how likely the members' predictions on the test
  fold are under the student's Dirichlet. That is what EnD² optimises, and it
  sees differences in the uncertainty that accuracy does not.
"""

# %%
# Data and model
# --------------
# The digits 0–4 of scikit-learn's 8×8 digits (pixels in [0, 1], 630 training
# images, see :func:`skend2.datasets.load_digits_ood`). The teacher is an
# ensemble of five MLPs; the student trains for 30 epochs with each schedule
# (kept short so that the whole search runs in well under a minute).
from shutil import rmtree
from tempfile import mkdtemp

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from skend2 import (
    DeepEnsembleClassifier,
    ExponentialAnnealing,
    PriorNetworkDistiller,
    TemperatureAnnealing,
)
from skend2.datasets import load_digits_ood
from skend2.metrics import distillation_nll_scorer

# Small networks on a shared CPU run fastest on one torch thread (docs/benchmarks.md).
torch.set_num_threads(1)

digits = load_digits_ood(random_state=0)
X, y = digits.X_train, digits.y_train
print(f"{X.shape[0]} training images, classes {np.unique(y)}")

cache = mkdtemp(prefix="skend2-teacher-")
n_epochs = 30
teacher = DeepEnsembleClassifier(n_members=5, max_epochs=20, random_state=0)
student = PriorNetworkDistiller(
    teacher, max_epochs=n_epochs, memory=cache, random_state=0
)

# %%
# The candidate schedules
# -----------------------
# Whole schedule objects are searched here; a grid over ``annealing__start``
# would search one parameter of the default schedule instead. ``None`` trains
# at T = 1 throughout. The linear schedules hold their start temperature for a
# third of the epochs, cool linearly over the next third, and end at T = 1.
schedules = {
    "T = 1 (no annealing)": None,
    "linear 3 → 1": TemperatureAnnealing(start=3.0),
    "linear 10 → 1 (paper)": TemperatureAnnealing(start=10.0),
    "linear 30 → 1": TemperatureAnnealing(start=30.0),
    "exponential 10 → 1": ExponentialAnnealing(start=10.0),
}

fig, ax = plt.subplots(figsize=(7.5, 3.5), layout="constrained")
epochs = np.arange(n_epochs)
for label, schedule in schedules.items():
    temperature = [1.0 if schedule is None else schedule(e, n_epochs) for e in epochs]
    ax.plot(epochs, temperature, label=label, lw=2)
ax.set_xlabel("epoch")
ax.set_ylabel("temperature T")
ax.set_title(f"Candidate annealing schedules ({n_epochs} epochs)")
ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize="small")
plt.show()

# %%
# The grid search
# ---------------
# Three folds times five schedules is 15 student fits, but only three teacher
# fits: the first candidate fits the teacher on each fold, every later one loads
# it from ``cache``.
search = GridSearchCV(
    student,
    {"annealing": list(schedules.values())},
    scoring={"distillation_nll": distillation_nll_scorer, "accuracy": "accuracy"},
    refit="distillation_nll",
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
)
search.fit(X, y)
rmtree(cache)

cv_results = pd.DataFrame(search.cv_results_)
cv_results.index = list(schedules)
summary = pd.DataFrame(
    {
        "held-out distillation NLL": -cv_results["mean_test_distillation_nll"],
        "std over folds": cv_results["std_test_distillation_nll"],
        "accuracy": cv_results["mean_test_accuracy"],
        "mean fit time (s)": cv_results["mean_fit_time"],
    }
).round(3)
print(summary.to_string())

# %%
# The first candidate's fit time includes fitting the teacher; the others
# reused it from the cache, which is why they are faster.
#
# Score per schedule
# ------------------
# The distillation NLL is the negative log-density of the members' predictions
# under the student's Dirichlet; densities on the simplex exceed 1, so it is
# negative, and lower is better. Error bars are the standard deviation over the
# three folds.
nll = -cv_results["mean_test_distillation_nll"]
nll_std = cv_results["std_test_distillation_nll"]
best = nll.idxmin()

fig, ax = plt.subplots(figsize=(7, 3.5), layout="constrained")
for i, name in enumerate(nll.index):
    color = "tab:orange" if name == best else "tab:blue"
    ax.errorbar(nll[name], i, xerr=nll_std[name], fmt="o", color=color, capsize=4)
ax.set_yticks(range(len(nll)), nll.index)
ax.invert_yaxis()
ax.set_xlabel("held-out distillation NLL (lower is better)")
ax.set_title(f"Lowest mean NLL: {best}")
ax.grid(axis="x", alpha=0.3)
plt.show()

none = "T = 1 (no annealing)"
print(f"lowest held-out NLL: {best} ({nll[best]:.2f}, fold std {nll_std[best]:.2f})")
print(f"no annealing:        {nll[none]:.2f} (fold std {nll_std[none]:.2f})")

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

# %%
# What to read from it
# --------------------
# On this small, easy problem (about 98% accuracy, 30 epochs) the hottest start,
# T = 30, clearly does worse: it leaves too few of the 30 epochs at low
# temperature. The other schedules differ by fractions of a nat, comparable to
# the fold-to-fold spread shown by the error bars: compare the gaps with the bars
# before trusting a winner.
# Annealing earns its keep on harder problems, with many classes and confident
# members, where the paper's likelihood alone fails at T = 1 from the start (the
# paper's CIFAR-10 student had 23% error without it instead of 6.9%). The
# student here has the library's default cross-entropy term to the ensemble's
# mean, which does that job itself: its ``annealing="auto"`` is T = 1. The
# search above is how to find out on your data, and with ``memory`` it costs
# one teacher per fold.
