"""
Uncertainty maps on the spirals: network, ensemble, EnD and EnD²
================================================================

The EnD² paper's first figure: three interleaved spirals, and the total, data and
knowledge uncertainty of four models over the input plane.

* **One network** knows only the entropy of its prediction: its total
  uncertainty is all data uncertainty, and its knowledge uncertainty is zero.
* **A deep ensemble** of ten networks splits the total into data uncertainty
  (high where the arms overlap, because of the noise) and knowledge uncertainty
  (high where the members disagree: between the arms and at the edge of the
  data).
* **EnD** distils the ensemble's *mean* into one network: the total uncertainty
  survives, the decomposition does not.
* **EnD²** distils the *distribution* of the members' predictions into one
  Prior Network, and keeps both.
"""

# %%
# Data and models
# ---------------
# 1,500 training points of :func:`skend2.datasets.make_spirals` (noise 0.1, the
# paper's generator). Their radius reaches about 355, so every model is a
# pipeline that standardises the inputs first. The ensemble is trained once and
# handed to both distillers through :class:`~sklearn.frozen.FrozenEstimator`, so
# that all four models share the same members.
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import torch
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller
from skend2.datasets import make_spirals, make_spirals_ood
from skend2.metrics import ood_detection_auroc
from skend2.plotting import plot_uncertainty_maps

# Small networks on a shared CPU run fastest on one torch thread (docs/benchmarks.md).
torch.set_num_threads(1)

X, y = make_spirals(n_samples=1500, noise=0.1, random_state=0)
X_test, y_test = make_spirals(n_samples=1500, noise=0.1, random_state=1)

settings = dict(max_epochs=50, lr=3e-3, module__hidden_layer_sizes=(100, 100))
single = make_pipeline(
    StandardScaler(),
    DeepEnsembleClassifier(n_members=1, random_state=1, **settings),
).fit(X, y)
ensemble = make_pipeline(
    StandardScaler(),
    DeepEnsembleClassifier(n_members=10, random_state=0, **settings),
).fit(X, y)
teacher = FrozenEstimator(ensemble[-1])
# The students copy the members' architecture and use the reference annealing
# schedule (T from 10 down to 1, the default). They learn from soft targets that
# change with the temperature, and profit from more epochs than the members: an
# underfitted EnD² student overestimates the knowledge uncertainty. (Every model
# uses a learning rate of 3·10⁻³, so that this example trains in seconds.)
student_settings = dict(max_epochs=100, lr=3e-3, random_state=0)
end = make_pipeline(
    StandardScaler(), EnsembleDistiller(teacher, **student_settings)
).fit(X, y)
end2 = make_pipeline(
    StandardScaler(), PriorNetworkDistiller(teacher, **student_settings)
).fit(X, y)

models = {"Network": single, "Ensemble": ensemble, "EnD": end, "EnD²": end2}
errors = pd.DataFrame(
    {
        "test error (%)": {
            n: 100 * (1 - m.score(X_test, y_test)) for n, m in models.items()
        }
    }
).round(2)
print(errors.to_string())

# %%
# The paper reports 13.2% error for one network, 12.4% for the ensemble and
# 12.5% for EnD² on this problem; the distilled networks stay close to their
# teacher.
#
# The uncertainty maps
# --------------------
# :func:`skend2.plotting.plot_uncertainty_maps` draws one row per model and one
# column per measure, each column on one colour scale, so the rows can be
# compared directly. The training points are drawn on top, coloured by class.
fig = plot_uncertainty_maps(models, X, y, grid_resolution=120)
plt.show()

# %%
# Read the columns from left to right. The total uncertainty looks alike in all
# four rows: every model is unsure on the boundaries between the arms, most near
# the centre where the noisy arms touch. For the single network and for EnD it
# is all data uncertainty, and their knowledge uncertainty is zero by
# construction. The ensemble's knowledge uncertainty is faint inside the data
# (its members agree there) and strong along a few rays beyond it, where the
# members extrapolate differently. The EnD² student reproduces the faint
# pattern inside the data from one network. The rays it does not copy: it was
# only trained on the training inputs, and never saw what the members do out
# there. Passing unlabelled inputs from that region as ``X_aux`` to ``fit``
# (the paper's EnD²+AUX) teaches it that too.
#
# Far from the data: a known limit of ReLU networks
# --------------------------------------------------
# The paper's out-of-distribution set for the spirals is a ring of radius 410
# around the data. ReLU networks are piecewise linear, so along any ray out of
# the data their logits grow linearly and every member becomes *more* confident
# the farther it goes (Hein et al., CVPR 2019). Zooming out shows it: apart from
# the few rays where the members disagree, every model is certain far from the
# data, and on most of the ring (white dots) more certain than on the spirals.
fig = plot_uncertainty_maps(
    {"Ensemble": ensemble, "EnD²": end2},
    X,
    y,
    measures=("total", "knowledge"),
    grid_resolution=120,
    eps=0.6,
)
ring = make_spirals_ood(n_samples=300, random_state=0)
for ax in fig.axes[:4]:
    (ring_points,) = ax.plot(*ring.T, ".", color="white", ms=2)
fig.axes[0].legend(
    [ring_points],
    ["OOD ring (r = 410)"],
    loc="lower left",
    fontsize="small",
    facecolor="0.25",
    labelcolor="white",
    markerscale=3,
)
plt.show()

# %%
# The numbers: the median knowledge uncertainty (KU) on the test points, on the
# ring and on a ring four times as far, and the OOD-detection AUROC of knowledge
# uncertainty (the probability that an OOD point is scored as more uncertain
# than a test point; 0.5 is chance).
far = 4 * ring  # radius about 1,640
rows = {}
for name in ("Ensemble", "EnD²"):
    model = models[name]
    scaled = model[:-1]
    knowledge = {
        where: model[-1].predict_uncertainty(scaled.transform(data), "knowledge")
        for where, data in (("test", X_test), ("ring", ring), ("far", far))
    }
    rows[name] = {
        "median KU, test": np.median(knowledge["test"]),
        "median KU, ring (r=410)": np.median(knowledge["ring"]),
        "median KU, r≈1640": np.median(knowledge["far"]),
        "AUROC, ring": ood_detection_auroc(knowledge["test"], knowledge["ring"]),
        "AUROC, r≈1640": ood_detection_auroc(knowledge["test"], knowledge["far"]),
    }
print(pd.DataFrame(rows).T.map("{:.3g}".format).to_string())

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
# On the ring, and even more so four times farther out, the knowledge
# uncertainty is orders of magnitude below that of the test points, and the
# AUROCs are far below chance: thresholding knowledge uncertainty would flag the
# test points, not the ring. This is a property of the architecture, shared by
# the ensemble and the student, not a failure of distillation. The spirals
# show decision boundaries, errors and where uncertainty lives *within* the
# data. For detecting inputs unlike the training data, see the image example
# :ref:`sphx_glr_auto_examples_plot_ood_detection.py`, where knowledge
# uncertainty works well.
