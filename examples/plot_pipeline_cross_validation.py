"""
Pipelines and cross-validation on tabular data
==============================================

skend2's estimators are ordinary scikit-learn classifiers, so they go into a
:class:`~sklearn.pipeline.Pipeline` after a scaler and into
:func:`~sklearn.model_selection.cross_validate` like any other. This example
compares, on the wine data set (178 samples, 13 features, 3 cultivars), with the
same five stratified folds for every model:

* scikit-learn's :class:`~sklearn.neural_network.MLPClassifier` (one network);
* a :class:`~skend2.DeepEnsembleClassifier` of five such networks;
* a :class:`~skend2.PriorNetworkDistiller` (EnD²) that distils that ensemble into
  one network. Its teacher is fitted *inside* each training fold, so nothing
  leaks from the test fold.

We score accuracy, the negative log-likelihood (``neg_log_loss``) and the
expected calibration error (:func:`skend2.metrics.ece_scorer`).
"""

# %%
# The models
# ----------
# Neural networks want standardised inputs: every model is a pipeline that
# starts with a :class:`~sklearn.preprocessing.StandardScaler`, fitted on the
# training fold only. The networks have the same shape (two hidden layers of
# 64 units) and the same optimiser (Adam, learning rate 10⁻³, batches of 64).
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_validate
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
from skend2.metrics import ece_scorer

# Small networks on a shared CPU run fastest on one torch thread (docs/benchmarks.md).
torch.set_num_threads(1)

X, y = load_wine(return_X_y=True)
print(f"{X.shape[0]} samples, {X.shape[1]} features, classes {np.unique(y)}")

hidden = (64, 64)


def ensemble(random_state):
    return DeepEnsembleClassifier(
        n_members=5,
        max_epochs=40,
        module__hidden_layer_sizes=hidden,
        random_state=random_state,
    )


models = {
    "MLPClassifier": make_pipeline(
        StandardScaler(),
        MLPClassifier(hidden_layer_sizes=hidden, max_iter=40, random_state=0),
    ),
    "Deep ensemble (M=5)": make_pipeline(StandardScaler(), ensemble(0)),
    "EnD² (one network)": make_pipeline(
        StandardScaler(),
        PriorNetworkDistiller(ensemble(0), max_epochs=80, random_state=0),
    ),
}

# %%
# Cross-validation
# ----------------
# ``cross_validate`` clones each pipeline for every fold; the distiller fits its
# own copy of the teacher on the fold's training part, then distils it.
cv = StratifiedKFold(n_splits=5, shuffle=True, random_state=0)
scoring = {"accuracy": "accuracy", "nll": "neg_log_loss", "ece": ece_scorer}

results = {}
with warnings.catch_warnings():
    # MLPClassifier is stopped at 40 epochs on purpose, like the others.
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, model in models.items():
        results[name] = cross_validate(model, X, y, cv=cv, scoring=scoring)

# %%
# The scores, mean ± standard deviation over the five folds. NLL and ECE are
# negated by scikit-learn's convention (greater is better); we flip them back
# so that lower is better for both.
rows = {}
for name, scores in results.items():
    accuracy = scores["test_accuracy"]
    nll = -scores["test_nll"]
    ece = -scores["test_ece"]
    rows[name] = {
        "accuracy": f"{accuracy.mean():.3f} ± {accuracy.std():.3f}",
        "NLL": f"{nll.mean():.3f} ± {nll.std():.3f}",
        "ECE": f"{ece.mean():.3f} ± {ece.std():.3f}",
        "fit time (s)": f"{scores['fit_time'].mean():.1f}",
    }
table = pd.DataFrame(rows).T
print(table.to_string())

# %%
# Per-fold scores
# ---------------
# Each dot is one test fold; the bar is the mean. The ensemble and its
# distilled student reach the accuracy of the single network or better, with a
# lower NLL: the averaging over members makes the probabilities better
# calibrated, and EnD² keeps most of that in one network.
fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
names = list(results)
colors = ["tab:gray", "tab:blue", "tab:orange"]
for ax, (key, label, sign) in zip(
    axes,
    [
        ("test_accuracy", "accuracy (higher is better)", 1),
        ("test_nll", "NLL (lower is better)", -1),
    ],
):
    for i, name in enumerate(names):
        values = sign * results[name][key]
        ax.bar(i, values.mean(), color=colors[i], alpha=0.5, width=0.6)
        # A little horizontal jitter keeps folds with equal scores visible.
        jitter = np.linspace(-0.12, 0.12, len(values))
        ax.scatter(i + jitter, values, color=colors[i], zorder=3)
    ax.set_xticks(range(len(names)), names, rotation=10)
    ax.set_ylabel(label)
axes[0].set_ylim(0.8, 1.005)
axes[0].set_title("Accuracy per test fold")
axes[1].set_title("Negative log-likelihood per test fold")
fig.suptitle("Wine, 5-fold stratified cross-validation")
plt.show()

# %%
# The distilled student is also a full uncertainty model: the last step of the
# pipeline answers ``predict_uncertainty`` on scaled inputs, with the total
# uncertainty split into data and knowledge uncertainty.
student = models["EnD² (one network)"].fit(X, y)
scaler, prior_network = student[:-1], student[-1]
uncertainty = prior_network.predict_uncertainty(scaler.transform(X[:5]))
print(
    pd.DataFrame({k: uncertainty[k] for k in ("total", "data", "knowledge")})
    .round(4)
    .to_string()
)

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
