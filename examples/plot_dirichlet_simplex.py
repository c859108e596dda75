"""
The Dirichlet on the simplex: what EnD² learns from the members
===============================================================

For one input, each of the ensemble's M members predicts a point on the
probability simplex (three classes: a triangle, one corner per class). EnD²
trains one Prior Network to output a Dirichlet distribution over that triangle
which explains those points. This example draws the student's Dirichlet with
the members' predictions on top, for four kinds of input on the three-class
spirals:

* **confident**: deep inside one arm; the members agree on one class;
* **ambiguous** (data uncertainty): where two arms overlap; the members agree
  that it could be either class;
* **unfamiliar** (knowledge uncertainty): where the members disagree with each
  other;
* **far away**: on the paper's out-of-distribution ring, radius 410.
"""

# sphinx_gallery_thumbnail_number = 2

# %%
# Ensemble and student
# --------------------
# The spirals are standardised once, up front, so that every model and every
# plotted input lives in the same coordinates.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.preprocessing import StandardScaler

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller
from skend2.datasets import make_spirals, make_spirals_ood
from skend2.plotting import DirichletSimplexDisplay

# Small networks on a shared CPU run fastest on one torch thread (docs/benchmarks.md).
torch.set_num_threads(1)

X_raw, y = make_spirals(n_samples=1500, noise=0.1, random_state=0)
scaler = StandardScaler().fit(X_raw)
X = scaler.transform(X_raw)

ensemble = DeepEnsembleClassifier(n_members=10, max_epochs=50, lr=3e-3, random_state=0)
ensemble.fit(X, y)
student = PriorNetworkDistiller(
    FrozenEstimator(ensemble), max_epochs=100, lr=3e-3, random_state=0
).fit(X, y)

# %%
# Choosing the inputs
# -------------------
# The ensemble's own uncertainty picks them among fresh test points: the one of
# least total uncertainty (confident), the one of most data uncertainty
# (ambiguous) and, among those inside the bulk of the data (radius below 1.5),
# the one of most knowledge uncertainty (unfamiliar); and the point of the OOD
# ring farthest from the confident one.
X_test = scaler.transform(make_spirals(n_samples=1500, random_state=1)[0])
test_uncertainty = ensemble.predict_uncertainty(X_test)
ring = scaler.transform(make_spirals_ood(n_samples=50, random_state=0))

confident = X_test[np.argmin(test_uncertainty.total)]
inside = np.flatnonzero(np.linalg.norm(X_test, axis=1) < 1.5)
unfamiliar = X_test[inside[np.argmax(test_uncertainty.knowledge[inside])]]
names = ["confident", "ambiguous", "unfamiliar", "far away (OOD ring)"]
X_show = np.array(
    [
        confident,
        X_test[np.argmax(test_uncertainty.data)],
        unfamiliar,
        ring[np.argmax(np.linalg.norm(ring - confident, axis=1))],
    ]
)

fig, ax = plt.subplots(figsize=(5, 5), layout="constrained")
for label in np.unique(y):
    ax.scatter(*X[y == label].T, s=4, alpha=0.5, label=f"class {label}")
ax.scatter(*ring.T, s=6, color="grey", label="OOD ring")
# Label offsets in points, so that labels of nearby inputs do not overlap.
offsets = [(6, 6), (6, 8), (8, -18), (-6, 10)]
for name, (x1, x2), offset in zip(names, X_show, offsets):
    ax.scatter(x1, x2, s=150, marker="*", color="black", zorder=3)
    ax.annotate(
        name,
        (x1, x2),
        xytext=offset,
        textcoords="offset points",
        fontsize=10,
        fontweight="bold",
        ha="right" if offset[0] < 0 else "left",
        bbox={"boxstyle": "round", "fc": "white", "alpha": 0.8},
    )
ax.set_xlabel("x₁ (standardised)")
ax.set_ylabel("x₂ (standardised)")
ax.set_title("The four inputs (★)")
ax.legend(loc="lower left", fontsize="small", markerscale=2)
ax.set_aspect("equal")
plt.show()

# %%
# The Dirichlets
# --------------
# :class:`~skend2.plotting.DirichletSimplexDisplay` colours each triangle by the
# student's log density; white dots are the ten members' predictions and the
# red cross is the Dirichlet's mean, the student's ``predict_proba``. The title
# gives the precision α₀: large for a sharp Dirichlet, small for a wide one.
display = DirichletSimplexDisplay.from_estimator(
    student,
    X_show,
    labels=names,
    member_proba=ensemble.predict_member_proba(X_show),
)
plt.show()

# %%
# * **Confident**: all members sit in one corner, and so does a very sharp
#   Dirichlet (a huge α₀).
# * **Ambiguous**: at the centre, where the three arms start, the members agree
#   with each other on a mixed prediction; the Dirichlet is concentrated around
#   it, away from the corners. The entropy of that mean prediction is data
#   uncertainty, which no amount of training data removes.
# * **Unfamiliar**: the members disagree and scatter; the Dirichlet is wider
#   (smaller α₀) and spreads along them. That spread is knowledge uncertainty.
# * **Far away**: on the ring the members again agree, confidently, on one
#   class, and so does the student: ReLU networks extrapolate linearly and grow
#   more confident away from the data (Hein et al., CVPR 2019; see
#   :ref:`sphx_glr_auto_examples_plot_spiral_uncertainty.py`).
#
# The numbers behind the pictures, ensemble against student:
ensemble_u = ensemble.predict_uncertainty(X_show)
student_u = student.predict_uncertainty(X_show)
numbers = pd.DataFrame(
    {
        "α₀ (student)": student_u.precision,
        "total: ensemble": ensemble_u.total,
        "total: EnD²": student_u.total,
        "data: ensemble": ensemble_u.data,
        "data: EnD²": student_u.data,
        "knowledge: ensemble": ensemble_u.knowledge,
        "knowledge: EnD²": student_u.knowledge,
    },
    index=names,
).map("{:.3g}".format)
print(numbers.to_string())

# %%
# Over all the test points, the student's knowledge uncertainty follows the
# ensemble's, but it is smaller where the ensemble's is largest: one network
# trained briefly does not capture all of the members' spread. More epochs, and
# inputs from the regions that matter passed as ``X_aux``, close the gap.
student_test = student.predict_uncertainty(X_test)
print(
    "correlation of knowledge uncertainty over the test points: "
    f"{np.corrcoef(test_uncertainty.knowledge, student_test.knowledge)[0, 1]:.2f}"
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
