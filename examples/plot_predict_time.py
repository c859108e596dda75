"""
Predict time: ensemble vs distilled student
===========================================

An ensemble of M networks evaluates M networks for every prediction; EnD²
distils it into one Prior Network that gives the same three kinds of
uncertainty from one forward pass. This example measures the time of
``predict_uncertainty`` on 20,000 inputs as the number of members grows.

Only timing matters here, so the networks are trained for a single epoch: the
cost of a forward pass does not depend on how well trained the weights are.
"""

# %%
# Setup
# -----
# Two-dimensional inputs (the spirals, standardised), the default member
# architecture (an MLP with two hidden layers of 100 units), and 20,000 inputs
# to predict on. The student distils each ensemble through
# :class:`~sklearn.frozen.FrozenEstimator`, so the ensemble is not refitted.
from time import perf_counter

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import StandardScaler

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
from skend2.datasets import make_spirals

# Small networks on a shared CPU run fastest on one torch thread (docs/benchmarks.md).
torch.set_num_threads(1)

X, y = make_spirals(n_samples=600, random_state=0)
scaler = StandardScaler().fit(X)
X = scaler.transform(X)
X_predict = scaler.transform(make_spirals(n_samples=20_000, random_state=1)[0])


def best_time(function, *args, repeats=3):
    """The fastest of a few runs: the least disturbed by other processes."""
    times = []
    for _ in range(repeats):
        start = perf_counter()
        function(*args)
        times.append(perf_counter() - start)
    return min(times)


# %%
# Timing
# ------
# For each ensemble size M, time the ensemble and its distilled student (both
# compute every measure: total, data and knowledge uncertainty, EPKL, MKL).
n_members_grid = [1, 2, 5, 10, 20]
rows = []
for n_members in n_members_grid:
    ensemble = DeepEnsembleClassifier(
        n_members=n_members, max_epochs=1, random_state=0
    ).fit(X, y)
    student = PriorNetworkDistiller(
        FrozenEstimator(ensemble), max_epochs=1, random_state=0
    ).fit(X, y)
    rows.append(
        {
            "members M": n_members,
            "ensemble (s)": best_time(ensemble.predict_uncertainty, X_predict),
            "EnD² student (s)": best_time(student.predict_uncertainty, X_predict),
        }
    )

timings = pd.DataFrame(rows).set_index("members M")
timings["speed-up"] = timings["ensemble (s)"] / timings["EnD² student (s)"]
print(timings.round(3).to_string())

# %%
# The plot
# --------
# The ensemble's predict time grows about linearly with M (its members are evaluated
# together in one vectorised pass, which helps, but the work is still M times
# larger); the student's is flat, whatever the size of the ensemble it learned
# from.
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
ax.plot(
    timings.index,
    timings["ensemble (s)"],
    "o-",
    label="deep ensemble (M networks)",
)
ax.plot(
    timings.index,
    timings["EnD² student (s)"],
    "s-",
    label="EnD² student (one network)",
)
for n_members, row in timings.iterrows():
    if n_members > 1:
        ax.annotate(
            f"×{row['speed-up']:.0f}",
            (n_members, row["ensemble (s)"]),
            textcoords="offset points",
            xytext=(-4, 8),
            ha="right",
            fontsize="small",
        )
ax.set_xticks(n_members_grid)
ax.set_xlabel("number of ensemble members M")
ax.set_ylabel("predict_uncertainty time (s)\non 20,000 inputs")
ax.set_ylim(0, 1.2 * timings["ensemble (s)"].max())
ax.set_title("Predict time grows with M for the ensemble only")
ax.legend()
ax.grid(alpha=0.3)
plt.show()

# %%
# The annotations give the student's speed-up over the ensemble. The exact
# numbers depend on the hardware (and on a GPU the fused ensemble scales better
# until the device is full), but the shape does not: distillation turns a cost
# that grows with M into a constant one.
print(np.round(timings["speed-up"].to_numpy(), 1))

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
