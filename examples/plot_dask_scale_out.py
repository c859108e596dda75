"""
Scaling out on a Dask cluster
=============================

When one process is not enough, skend2 runs on the engine the scikit-learn world
already uses: joblib, with `Dask <https://www.dask.org>`_ as its backend. This
example starts a small ``dask.distributed`` cluster on this machine (two worker
processes, one thread each) and uses it three ways:

* the members of a :class:`~skend2.DeepEnsembleClassifier`, trained in groups
  (``n_groups``), one group per worker, identical to the fit in one process;
* a grid search over an EnD² student whose teacher is cached (``memory=``) on
  storage every worker sees, so each fold's teacher is fitted once;
* prediction on a Dask array, block by block on the workers.

The same code runs on a real cluster: replace the ``LocalCluster`` by the
address of its scheduler, ``Client("tcp://scheduler:8786")``. Install the extra
with ``pip install skend2[dask]``.

Worker processes are started with multiprocessing's "spawn", which imports the
main script again: as in any Dask script, the code that starts and uses the
cluster runs under ``if __name__ == "__main__"``.
"""

# %%
# Starting a cluster
# ------------------
# Two worker processes with one thread each: torch in each worker then uses one
# core (skend2 estimators default to ``n_threads=1``, and Dask's workers start
# with ``OMP_NUM_THREADS=1``), so two workers share two cores without
# oversubscribing them. Dask also starts its workers with
# ``MALLOC_TRIM_THRESHOLD_``, which makes torch's large allocations slow
# (see :ref:`scaling`); the workers here start without it.
import shutil
import tempfile
from pathlib import Path
from time import perf_counter

import dask
import dask.array as da
import joblib
import matplotlib.pyplot as plt
import numpy as np
import torch
from distributed import Client, LocalCluster
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller, predict_uncertainty
from skend2.datasets import load_digits_ood
from skend2.metrics import ood_detection_auroc

torch.set_num_threads(1)
digits = load_digits_ood(random_state=0)  # digits 0-4 to learn, 5-9 unseen

if __name__ == "__main__":
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    dask.config.set({"distributed.nanny.pre-spawn-environ": environ})
    start = perf_counter()
    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = Client(cluster)
    print(
        f"cluster of {len(client.scheduler_info()['workers'])} workers started in "
        f"{perf_counter() - start:.1f} s"
    )

# %%
# Members across workers
# ----------------------
# Under ``joblib.parallel_backend("dask")`` an ensemble with the default
# ``n_groups=None`` splits its members into one group per worker; each group is
# trained fused (one vectorised pass for its members) on its worker, and the
# groups are gathered into one fused ensemble. A member's initialisation,
# minibatches and updates depend only on ``random_state`` and its index, so the
# members are bit for bit those of the fit in one process. (Networks and data
# this small train in a second or two, less than the cost of shipping the
# work to the workers; the gain comes with larger ones: see
# ``benchmarks/bench_scale_out.py``.)
if __name__ == "__main__":
    ensemble = DeepEnsembleClassifier(
        n_members=6,
        max_epochs=30,
        module__hidden_layer_sizes=(128, 128),
        random_state=0,
    )
    start = perf_counter()
    local = clone(ensemble).fit(digits.X_train, digits.y_train)
    local_time = perf_counter() - start
    with joblib.parallel_backend("dask"):
        start = perf_counter()
        grouped = clone(ensemble).fit(digits.X_train, digits.y_train)
        grouped_time = perf_counter() - start
    same = np.array_equal(
        local.predict_member_logits(digits.X_test),
        grouped.predict_member_logits(digits.X_test),
    )
    print(
        f"1 group here: {local_time:.1f} s; {grouped.n_groups_} groups on the "
        f"cluster: {grouped_time:.1f} s; identical members: {same}"
    )

# %%
# A grid search on the cluster
# ----------------------------
# ``GridSearchCV`` sends its fits to the workers. The student's teacher is the
# expensive part; with ``memory=`` on a folder that every worker sees (here a
# temporary folder on this machine; on a cluster a shared file system), the
# teacher of each fold is fitted once, by the first worker that needs it, and
# read by the others (a lock beside the cache entry makes the others wait
# rather than fit it again). Inside a worker, the teacher keeps its members in
# one group: the search already keeps the workers busy.
if __name__ == "__main__":
    cache = Path(tempfile.mkdtemp(prefix="skend2-teachers-"))
    student = PriorNetworkDistiller(
        DeepEnsembleClassifier(n_members=5, max_epochs=30, random_state=0),
        max_epochs=30,
        memory=str(cache),
        random_state=0,
    )
    search = GridSearchCV(student, {"lr": [1e-3, 3e-3], "max_epochs": [20, 40]}, cv=2)
    with joblib.parallel_backend("dask"):
        start = perf_counter()
        search.fit(digits.X_train, digits.y_train)
    teachers = list((cache / "skend2_teacher_cache").iterdir())
    print(
        f"4 points x 2 folds in {perf_counter() - start:.1f} s, "
        f"{len(teachers)} teachers in the cache (2 folds + the refit on all "
        "the data), each fitted once"
    )
    print("best parameters:", search.best_params_, f"accuracy {search.best_score_:.3f}")

# %%
# Prediction on Dask arrays
# -------------------------
# A Dask array in, a Dask array out: ``predict``, ``predict_proba``,
# ``score_samples`` and ``predict_uncertainty`` run one task per block of rows,
# and the fitted model enters the task graph once (each worker receives it
# once, not with every block). :func:`skend2.predict_uncertainty` does the same
# for a Pipeline, whose transformers then run on the workers too.
if __name__ == "__main__":
    best = search.best_estimator_
    X_all = da.from_array(
        np.concatenate([digits.X_test, digits.X_ood]), chunks=(200, 64)
    )
    knowledge = predict_uncertainty(best, X_all, measure="knowledge")
    print(knowledge)  # lazy: nothing computed yet
    knowledge = knowledge.compute()
    assert np.array_equal(
        knowledge[: len(digits.X_test)],
        best.predict_uncertainty(digits.X_test, measure="knowledge"),
    )
    knowledge_in = knowledge[: len(digits.X_test)]
    knowledge_out = knowledge[len(digits.X_test) :]
    auroc = ood_detection_auroc(knowledge_in, knowledge_out)
    print(f"OOD AUROC of the knowledge uncertainty: {auroc:.3f}")

    fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
    bins = np.logspace(np.log10(knowledge.min()), np.log10(knowledge.max()), 40)
    ax.hist(knowledge_in, bins=bins, alpha=0.6, label="test digits 0-4")
    ax.hist(knowledge_out, bins=bins, alpha=0.6, label="unseen digits 5-9")
    ax.set_xscale("log")
    ax.set_xlabel("knowledge uncertainty of the EnD² student (nats)")
    ax.set_ylabel("number of images")
    ax.set_title("Computed block by block on a Dask cluster")
    ax.legend()
    plt.show()

# %%
# Closing the cluster
# -------------------
if __name__ == "__main__":
    client.close()
    cluster.close()
    shutil.rmtree(cache)  # the teacher cache of this example

# sphinx_gallery_start_ignore
# As a script under a non-interactive backend (MPLBACKEND=Agg), plt.show() shows
# nothing: save the figures in the working directory instead.
import sys  # noqa: E402

as_script = "sphinx_gallery" not in sys.modules
if (
    __name__ == "__main__"
    and as_script
    and plt.get_backend().lower() in ("agg", "cairo", "pdf", "ps", "svg")
):
    for number in plt.get_fignums():
        path = Path(f"{Path(__file__).stem}_{number}.png").resolve()
        plt.figure(number).savefig(path, bbox_inches="tight")
        print(f"figure {number} saved to {path}")
# sphinx_gallery_end_ignore
