"""skend2 on a real Dask cluster: members, searches and prediction.

The cluster is a ``dask.distributed.LocalCluster`` of two worker processes with
one thread each, started once for the module; everything that needs it skips
when the ``dask`` extra is not installed.
"""

import importlib
import os
import sys
import uuid
from pathlib import Path

import joblib
import numpy as np
import pytest
from conftest import assert_same_members
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skend2 import DeepEnsembleClassifier, PriorNetworkDistiller, predict_uncertainty
from skend2._base import is_dask_collection

try:
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster, get_task_stream
except ImportError:  # the extra is not installed
    da = None

needs_dask = pytest.mark.skipif(
    da is None, reason="needs the dask extra: pip install skend2[dask]"
)

# Folder (seen by every worker: the cluster runs on this machine) where each
# teacher fit leaves one file; set before the workers start, which inherit it.
FIT_LOG = "SKEND2_TEST_TEACHER_FIT_LOG"


class CountingTeacher(DeepEnsembleClassifier):
    """A teacher that leaves a file per fit, so fits count across processes."""

    def fit(self, X, y):
        (Path(os.environ[FIT_LOG]) / uuid.uuid4().hex).touch()
        return super().fit(X, y)


def teacher_fits() -> int:
    return len(os.listdir(os.environ[FIT_LOG]))


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    if da is None:
        pytest.skip("needs the dask extra: pip install skend2[dask]")
    before = os.environ.get(FIT_LOG)
    os.environ[FIT_LOG] = str(tmp_path_factory.mktemp("teacher_fits"))
    # Without Dask's MALLOC_TRIM_THRESHOLD_, which slows torch (docs/scaling.rst).
    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    environ.pop("MALLOC_TRIM_THRESHOLD_", None)
    with dask.config.set({"distributed.nanny.pre-spawn-environ": environ}):
        cluster = LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        if before is None:
            os.environ.pop(FIT_LOG)
        else:
            os.environ[FIT_LOG] = before


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return StandardScaler().fit_transform(X).astype(np.float32), y


def small(**params):
    defaults = dict(
        n_members=4,
        max_epochs=4,
        batch_size=32,
        module__hidden_layer_sizes=(16,),
        random_state=0,
    )
    return DeepEnsembleClassifier(**{**defaults, **params})


# -- members across workers --------------------------------------------------------
@needs_dask
def test_members_in_groups_on_the_cluster_equal_the_local_fit(client, data):
    X, y = data
    local = small().fit(X, y)
    assert local.n_groups_ == 1
    with joblib.parallel_backend("dask"), get_task_stream(client) as tasks:
        grouped = small().fit(X, y)  # one group per worker
    assert any("_fit_group" in str(task["key"]) for task in tasks.data)
    assert grouped.n_groups_ == 2 and grouped.training_ == "fused"
    assert_same_members(local, grouped, X)
    assert len(grouped.history_) == 4
    assert len(grouped.history_[-1, "group_train_loss"]) == 2


# -- model selection on the cluster ----------------------------------------------
@needs_dask
def test_grid_search_on_the_cluster_fits_each_fold_teacher_once(client, data, tmp_path):
    X, y = data
    grid = {"lr": [1e-3, 3e-3, 1e-2], "max_epochs": [2, 3]}  # 3 x 2 points
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    # A teacher that trains longer than a student: without the cache's lock,
    # workers reach a fold whose teacher another worker is still fitting.
    student = PriorNetworkDistiller(
        CountingTeacher(n_members=3, max_epochs=40, batch_size=32, random_state=0),
        batch_size=32,
        module__hidden_layer_sizes=(16,),
        random_state=0,
    )

    before = teacher_fits()
    serial = GridSearchCV(
        clone(student).set_params(memory=str(tmp_path / "serial")),
        grid,
        cv=cv,
        refit=False,
    ).fit(X, y)
    assert teacher_fits() - before == 3  # one teacher per fold

    before = teacher_fits()
    shared = tmp_path / "cluster"  # storage that every worker sees
    with joblib.parallel_backend("dask"):
        on_cluster = GridSearchCV(
            clone(student).set_params(memory=str(shared)), grid, cv=cv, refit=False
        ).fit(X, y)
    # 18 fits of the student on two workers at once, still 3 teacher fits.
    assert teacher_fits() - before == 3
    assert len(os.listdir(shared / "skend2_teacher_cache")) == 3

    assert on_cluster.best_params_ == serial.best_params_
    for key in ("mean_test_score", *(f"split{i}_test_score" for i in range(3))):
        np.testing.assert_array_equal(
            on_cluster.cv_results_[key], serial.cv_results_[key]
        )


# -- prediction on Dask arrays -----------------------------------------------------
@needs_dask
def test_prediction_on_a_chunked_dask_array_equals_numpy(client, data):
    X, y = data
    ensemble = small().fit(X, y)
    pipe = make_pipeline(StandardScaler(), small()).fit(X * 3 + 1, y)
    dX = da.from_array(X, chunks=(40, 2))  # rows in 4 blocks, features split too

    uncertainty = predict_uncertainty(ensemble, dX)
    assert all(isinstance(v, da.Array) for v in uncertainty.values())
    # Shipped once: one task holds the model, every block depends on it.
    graph = dict(uncertainty.total.__dask_graph__())
    assert sum(str(k).startswith("skend2-model-") for k in graph) == 1
    computed = dict(zip(uncertainty, dask.compute(*uncertainty.values())))
    expected = predict_uncertainty(ensemble, X)
    assert sorted(computed) == sorted(expected)
    for name, values in computed.items():
        np.testing.assert_array_equal(values, expected[name], err_msg=name)
    np.testing.assert_array_equal(
        predict_uncertainty(ensemble, dX, measure="knowledge").compute(),
        expected.knowledge,
    )

    for method in ("predict", "predict_proba", "score_samples"):
        result = getattr(ensemble, method)(dX)
        assert isinstance(result, da.Array) and result.chunks[0] == dX.chunks[0]
        np.testing.assert_array_equal(
            result.compute(), getattr(ensemble, method)(X), err_msg=method
        )
    # A Pipeline goes to the workers whole: each block is scaled there.
    np.testing.assert_array_equal(
        predict_uncertainty(pipe, da.from_array(X * 3 + 1, chunks=50)).mkl.compute(),
        predict_uncertainty(pipe, X * 3 + 1).mkl,
    )


@needs_dask
def test_dask_prediction_errors_are_raised_before_computing(data):
    X, y = data
    ensemble = small(max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="samples of shape"):
        ensemble.predict_proba(da.ones((10, 3), chunks=5))
    with pytest.raises(ValueError, match="measure must be one of"):
        predict_uncertainty(ensemble, da.from_array(X), measure="nonsense")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        ensemble.predict(da.ones(10, chunks=5))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        small().predict_uncertainty(da.from_array(X))


def test_dask_collections_are_recognised_without_importing_dask():
    class NotDask:
        def __dask_graph__(self):  # as xarray objects that hold no Dask data
            return None

    assert not is_dask_collection(np.zeros(3))
    assert not is_dask_collection(NotDask())
    if da is not None:
        assert is_dask_collection(da.zeros(3))


def test_missing_dask_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask", None)
    monkeypatch.setitem(sys.modules, "dask.array", None)
    monkeypatch.delitem(sys.modules, "skend2._dask", raising=False)
    hidden = importlib.import_module("skend2._dask")  # importable without dask
    with pytest.raises(ImportError, match=r"pip install skend2\[dask\]"):
        hidden.predict(DeepEnsembleClassifier(), np.zeros((3, 2)))
