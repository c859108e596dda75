"""
Regression uncertainty on a 1-D toy: ensemble vs Normal-Wishart EnD²
====================================================================

A deep ensemble of Gaussian regressors knows two kinds of uncertainty: the
noise in the data (each member's own variance) and its lack of knowledge (the
members' disagreement), which grows where it has seen no data. EnD² for
regression (:class:`~skend2.PriorNetworkRegressor`, Malinin et al., 2020)
distils the ensemble into one network whose output is a Normal-Wishart
distribution over Gaussians; it keeps both kinds in closed form.

The data: ``y = x·sin(x)`` plus noise that grows with ``|x|``, for x in
[−3, 3] (:func:`skend2.datasets.make_regression_toy`). We plot both models on
[−6, 6] with :class:`~skend2.plotting.RegressionBandsDisplay`: a band of data
uncertainty inside a band of total uncertainty; the gap between them is the
knowledge uncertainty.
"""

# sphinx_gallery_thumbnail_number = 1

# %%
# Data and models
# ---------------
# Five members with two hidden layers of 32 units. The student sees the
# members not only on the training inputs, where they agree, but on
# auxiliary inputs over the wider range (EnD²+AUX), where they disagree.
import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import spearmanr
from sklearn.frozen import FrozenEstimator

from skend2 import DeepEnsembleRegressor, PriorNetworkRegressor
from skend2.datasets import make_regression_toy
from skend2.plotting import RegressionBandsDisplay

torch.set_num_threads(1)

X, y = make_regression_toy(300, random_state=0)
ensemble = DeepEnsembleRegressor(
    n_members=5, max_epochs=60, random_state=0, module__hidden_layer_sizes=(32, 32)
).fit(X, y)
X_aux = np.random.default_rng(1).uniform(-6, 6, (300, 1))
student = PriorNetworkRegressor(
    FrozenEstimator(ensemble), transfer=None, max_epochs=150, random_state=0
).fit(X, y, X_aux=X_aux)

# %%
# Bands
# -----
# Inside [−3, 3] both bands are the data noise; outside, the ensemble's
# members drift apart and the total band opens up. The student, one network,
# draws the same picture.
grid = np.linspace(-6, 6, 241)[:, None]
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True, layout="constrained")
for ax, model, name in ((axes[0], ensemble, "ensemble"), (axes[1], student, "EnD²")):
    RegressionBandsDisplay.from_estimator(
        model, grid, X_train=X, y_train=y, ax=ax, name=name
    )
    ax.set_ylim(-5, 6)
    ax.set_title(name)
plt.savefig("plot_regression_toy_bands.png", dpi=80)
plt.show()

# %%
# Knowledge uncertainty along x
# -----------------------------
# The mutual information between the target and the Gaussian's parameters, in
# nats: exact for the Normal-Wishart, an upper bound (moment matching) for the
# ensemble's mixture. Their ranks along x agree.
ku_ensemble = ensemble.predict_uncertainty(grid, measure="knowledge")
ku_student = student.predict_uncertainty(grid, measure="knowledge")
rho = spearmanr(ku_ensemble, ku_student)[0]
print(f"Spearman rank correlation of knowledge uncertainty along x: {rho:.3f}")
inside = np.abs(grid[:, 0]) <= 3
for name, ku in (("ensemble", ku_ensemble), ("EnD²", ku_student)):
    print(
        f"{name:8s} knowledge: median {np.median(ku[inside]):.3f} inside the "
        f"training range, {np.median(ku[~inside]):.3f} outside"
    )

fig, ax = plt.subplots(figsize=(6, 3.2), layout="constrained")
ax.plot(grid[:, 0], ku_ensemble, label="ensemble")
ax.plot(grid[:, 0], ku_student, label="EnD²")
ax.axvspan(-3, 3, color="0.9", label="training range")
ax.set_xlabel("x")
ax.set_ylabel("knowledge uncertainty (nats)")
ax.legend()
plt.savefig("plot_regression_toy_knowledge.png", dpi=80)
plt.show()
