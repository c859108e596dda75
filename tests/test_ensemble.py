"""DeepEnsembleClassifier: training paths, scikit-learn behaviour, uncertainty."""

import pickle

import numpy as np
import pytest
import scipy.sparse
import torch
from conftest import assert_same_members
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from skend2 import DeepEnsembleClassifier
from skend2.datasets import make_spirals
from skend2.metrics import ood_detection_auroc
from skend2.uncertainty import ensemble_uncertainty


def small(**kwargs):
    params = dict(n_members=3, max_epochs=5, random_state=0)
    params.update(kwargs)
    return DeepEnsembleClassifier(**params)


class BatchNormNet(nn.Module):
    def __init__(self, n_features=None, n_classes=None):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(n_features, 16),
            nn.BatchNorm1d(16),
            nn.ReLU(),
            nn.Linear(16, n_classes),
        )

    def forward(self, x):
        return self.layers(x)


# -- training paths ---------------------------------------------------------------
def test_fused_and_sequential_paths_give_the_same_ensemble(iris):
    X, y = iris
    fused = small(training="fused").fit(X, y)
    sequential = small(training="sequential").fit(X, y)
    assert fused.training_ == "fused" and sequential.training_ == "sequential"
    # Same initialisations, same minibatches, element-wise optimiser.
    np.testing.assert_allclose(
        fused.predict_member_logits(X), sequential.predict_member_logits(X), atol=1e-4
    )


@pytest.mark.slow
def test_sequential_path_with_joblib_workers(iris):
    X, y = iris
    one = small(training="sequential").fit(X, y)
    two = small(training="sequential", n_jobs=2).fit(X, y)
    np.testing.assert_allclose(
        one.predict_member_logits(X), two.predict_member_logits(X), atol=1e-5
    )
    # One history, one row per epoch, each member's loss in a list.
    assert len(two.history_) == 5
    assert len(two.history_[-1, "member_train_loss"]) == 3
    np.testing.assert_allclose(
        two.history_[:, "train_loss"],
        np.mean(two.history_[:, "member_train_loss"], axis=1),
    )


def test_members_differ_and_learn(iris):
    X, y = iris
    ens = small(max_epochs=30).fit(X, y)
    logits = ens.predict_member_logits(X)
    assert logits.shape == (150, 3, 3)
    assert not np.allclose(logits[:, 0], logits[:, 1])
    assert ens.score(X, y) > 0.9


def test_auto_falls_back_to_sequential_for_batchnorm(iris):
    X, y = iris
    ens = small(module=BatchNormNet).fit(X, y)
    assert ens.training_ == "sequential"
    assert ens.predict_proba(X).shape == (150, 3)
    with pytest.raises(ValueError, match="sequential"):
        small(module=BatchNormNet, training="fused").fit(X, y)


def test_same_random_state_same_predictions(iris):
    X, y = iris
    a = small().fit(X, y).predict_proba(X)
    b = small().fit(X, y).predict_proba(X)
    c = small(random_state=1).fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_fit_does_not_change_global_torch_rng(iris):
    X, y = iris
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    small().fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)


def test_module_instance_is_copied_and_reinitialised(iris):
    X, y = iris
    template = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    before = [p.detach().clone() for p in template.parameters()]
    ens = small(module=template).fit(X, y)
    members = ens.module_.members()
    assert not torch.allclose(members[0][0].weight, members[1][0].weight)
    for p, q in zip(before, template.parameters()):
        assert torch.equal(p, q)


def test_module_kwargs_reach_the_module(iris):
    X, y = iris
    ens = small(module__hidden_layer_sizes=(7,)).fit(X, y)
    member = ens.module_.members()[0]
    assert member.layers[1].out_features == 7
    assert ens.get_params()["module__hidden_layer_sizes"] == (7,)
    assert clone(ens).module__hidden_layer_sizes == (7,)


def test_images_use_the_cnn(digits):
    X = digits.X_train[:200].reshape(-1, 1, 8, 8)
    ens = small(n_members=2, max_epochs=2, module__width=4).fit(X, digits.y_train[:200])
    assert type(ens.module_.members()[0]).__name__ == "SmallCNN"
    assert ens.predict_member_proba(X[:5]).shape == (5, 2, 5)
    with pytest.raises(ValueError, match="shape"):
        ens.predict(X[:5, :, :4, :4])


def test_warm_start_continues_training(iris):
    X, y = iris
    ens = small(warm_start=True, max_epochs=3).fit(X, y)
    first = ens.predict_member_logits(X)
    ens.fit(X, y)
    assert len(ens.history_) == 6
    assert not np.allclose(first, ens.predict_member_logits(X))


def test_verbose_prints_one_table(iris, capsys):
    X, y = iris
    small(verbose=2, max_epochs=2).fit(X, y)
    out = capsys.readouterr().out
    assert out.count("train_loss") == 1
    assert len([line for line in out.splitlines() if line.strip()[:1].isdigit()]) == 2


# -- predictions ------------------------------------------------------------------
def test_predictions_are_consistent(iris):
    X, y = iris
    ens = small().fit(X, y)
    members = ens.predict_member_proba(X)
    np.testing.assert_allclose(members.sum(-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(ens.predict_proba(X), members.mean(axis=1), atol=1e-7)
    np.testing.assert_array_equal(
        ens.predict(X), ens.classes_[ens.predict_proba(X).argmax(1)]
    )
    expected = ensemble_uncertainty(members)
    result = ens.predict_uncertainty(X)
    for name in ("total", "data", "knowledge", "epkl", "mkl"):
        np.testing.assert_allclose(result[name], expected[name], atol=1e-6)
    np.testing.assert_array_equal(
        ens.predict_uncertainty(X, measure="knowledge"), result.knowledge
    )
    with pytest.raises(ValueError, match="measure"):
        ens.predict_uncertainty(X, measure="precision")


def test_prediction_in_batches_matches_whole(iris):
    X, y = iris
    ens = small().fit(X, y)
    big = np.tile(X, (40, 1))  # 6,000 rows: more than one prediction batch
    proba = ens.predict_proba(big)
    np.testing.assert_allclose(proba[-150:], ens.predict_proba(X), atol=1e-6)
    assert ens.predict_uncertainty(big).total.shape == (6000,)


def test_string_and_noncontiguous_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    ens = small(max_epochs=20).fit(X, names)
    assert list(ens.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(ens.predict(X)) <= set(names)
    ints = np.array([-3, 10, 42])[y]
    assert set(small().fit(X, ints).predict(X)) <= {-3, 10, 42}


def test_dataframe_feature_names(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    ens = small().fit(df, y)
    np.testing.assert_array_equal(ens.feature_names_in_, ["a", "b", "c", "d"])
    assert ens.n_features_in_ == 4
    with pytest.raises(ValueError, match="feature names"):
        ens.predict(df[["b", "a", "c", "d"]])


def test_int_input_is_cast(iris):
    X, y = iris
    ens = small().fit((X * 10).astype(np.int64), y)
    assert ens.predict_proba((X * 10).astype(np.int32)).dtype == np.float64


@pytest.mark.parametrize(
    "X, y, error, match",
    [
        (np.array([[np.nan, 1.0]] * 4), [0, 1, 0, 1], ValueError, "NaN"),
        (np.array([[np.inf, 1.0]] * 4), [0, 1, 0, 1], ValueError, "infinity"),
        (np.empty((0, 2)), [], ValueError, "0 sample"),
        (np.ones(4), [0, 1, 0, 1], ValueError, "2D array"),
        (scipy.sparse.csr_matrix(np.ones((4, 2))), [0, 1, 0, 1], TypeError, "dense"),
        (np.ones((4, 2)), [0.1, 0.2, 0.3, 0.4], ValueError, "continuous"),
        (np.ones((4, 2)), [1, 1, 1, 1], ValueError, "2 classes"),
        (np.ones((4, 2)), [0, 1, 0], ValueError, "inconsistent"),
    ],
)
def test_bad_input_gives_clear_errors(X, y, error, match):
    with pytest.raises(error, match=match):
        small().fit(X, y)


def test_wrong_feature_count_at_predict(iris):
    X, y = iris
    ens = small().fit(X, y)
    with pytest.raises(ValueError, match="features"):
        ens.predict(X[:, :3])


def test_not_fitted_error():
    with pytest.raises(NotFittedError):
        small().predict_proba(np.ones((2, 2)))
    with pytest.raises(NotFittedError):
        small().predict_uncertainty(np.ones((2, 2)))


@pytest.mark.parametrize(
    "params, match",
    [
        ({"n_members": 0}, "n_members"),
        ({"training": "parallel"}, "training"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"lr": -1.0}, "lr"),
        ({"max_epoch": 5}, "unexpected parameters"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"device": "cuda:7" if not torch.cuda.is_available() else "cpu"}, "CUDA"),
    ],
)
def test_bad_parameters_fail_in_fit(iris, params, match):
    X, y = iris
    est = small(**params)  # stored unchanged, no error yet
    if params.get("device") == "cpu":
        pytest.skip("CUDA is available here")
    with pytest.raises((ValueError, TypeError), match=match):
        est.fit(X, y)


def test_pickle_and_clone_round_trip(iris):
    X, y = iris
    ens = small().fit(X, y)
    restored = pickle.loads(pickle.dumps(ens))
    np.testing.assert_array_equal(restored.predict_proba(X), ens.predict_proba(X))
    sequential = small(training="sequential").fit(X, y)
    restored = pickle.loads(pickle.dumps(sequential))
    np.testing.assert_array_equal(
        restored.predict_proba(X), sequential.predict_proba(X)
    )
    fresh = clone(ens)
    assert not hasattr(fresh, "module_")
    assert fresh.get_params()["n_members"] == 3


# -- scikit-learn tools -----------------------------------------------------------
@pytest.mark.slow
def test_pipeline_with_scaler_on_spirals():
    X, y = make_spirals(900, random_state=0)
    model = make_pipeline(StandardScaler(), small(max_epochs=40, batch_size=32))
    model.fit(X, y)
    assert model.score(X, y) > 0.6
    unscaled = small(max_epochs=40, batch_size=32).fit(X, y)
    assert model.score(X, y) > unscaled.score(X, y)


@pytest.mark.slow
def test_cross_val_score_in_parallel(iris):
    X, y = iris
    scores = cross_val_score(small(max_epochs=30), X, y, cv=3, n_jobs=2)
    assert scores.shape == (3,) and scores.min() > 0.75


@pytest.mark.slow
def test_grid_search(iris):
    X, y = iris
    search = GridSearchCV(
        small(max_epochs=20),
        {"lr": [1e-6, 1e-2], "module__hidden_layer_sizes": [(8,), (32,)]},
        cv=3,
    ).fit(X, y)
    assert search.best_params_["lr"] == 1e-2
    assert search.best_score_ > 0.8


# -- the statistical targets ------------------------------------------------
@pytest.mark.slow
def test_digits_ensemble_beats_single_member_and_detects_ood(digits, digits_ensemble):
    single = DeepEnsembleClassifier(n_members=1, max_epochs=60, random_state=0).fit(
        digits.X_train, digits.y_train
    )
    ens_error = 1 - digits_ensemble.score(digits.X_test, digits.y_test)
    single_error = 1 - single.score(digits.X_test, digits.y_test)
    assert ens_error <= single_error
    auroc = ood_detection_auroc(
        digits_ensemble.predict_uncertainty(digits.X_test, "knowledge"),
        digits_ensemble.predict_uncertainty(digits.X_ood, "knowledge"),
    )
    assert auroc >= 0.93


# -- members in groups (n_groups): any joblib backend -----------------------------
@pytest.mark.parametrize(
    "backend, params",
    [
        ("threading", {"n_groups": 2}),
        ("threading", {"n_groups": 3}),  # groups of 2, 1, 1 members
        ("loky", {"n_jobs": 2}),  # one group per worker
    ],
)
def test_groups_of_members_equal_the_fused_fit(iris, backend, params):
    from joblib import parallel_backend

    X, y = iris
    local = small(n_members=4, batch_size=32).fit(X, y)
    with parallel_backend(backend):
        grouped = small(n_members=4, batch_size=32, **params).fit(X, y)
    assert grouped.training_ == "fused" and local.n_groups_ == 1
    assert grouped.n_groups_ == params.get("n_groups", 2)
    assert type(grouped.module_) is type(local.module_)
    assert_same_members(local, grouped, X)
    # The optimiser state is gathered as well, entry for entry.
    for a, b in zip(
        local.net_.optimizer_.state_dict()["state"].values(),
        grouped.net_.optimizer_.state_dict()["state"].values(),
    ):
        assert all(torch.equal(a[k], b[k]) for k in a)
    # One history: the mean over all members, and each group's mean.
    assert len(grouped.history_) == 5
    assert len(grouped.history_[-1, "group_train_loss"]) == grouped.n_groups_
    np.testing.assert_allclose(
        grouped.history_[:, "train_loss"], local.history_[:, "train_loss"], rtol=1e-6
    )


def test_groups_continue_like_the_fused_fit(iris, tmp_path):
    from skend2 import load, save

    X, y = iris
    local = small(n_members=4, warm_start=True).fit(X, y)
    grouped = small(n_members=4, warm_start=True, n_groups=2).fit(X, y)
    local.fit(X, y)
    grouped.fit(X, y)  # a warm start in groups again
    assert_same_members(local, grouped, X)
    assert [row["epoch"] for row in grouped.history_] == list(range(1, 11))
    mixed = small(n_members=4, warm_start=True, n_groups=2).fit(X, y)
    mixed.set_params(n_groups=1).fit(X, y)  # groups first, then fused at once
    assert_same_members(local, mixed, X)
    restored = pickle.loads(pickle.dumps(grouped))
    np.testing.assert_array_equal(restored.predict_proba(X), local.predict_proba(X))
    save(grouped, tmp_path / "grouped.skend2")
    loaded = load(tmp_path / "grouped.skend2")
    np.testing.assert_array_equal(loaded.predict_proba(X), local.predict_proba(X))


def test_group_parameter_errors(iris):
    X, y = iris
    with pytest.raises(ValueError, match="more than n_members"):
        small(n_members=3, n_groups=4).fit(X, y)
    with pytest.raises(ValueError, match="applies to fused training"):
        small(training="sequential", n_groups=2).fit(X, y)
    with pytest.raises(ValueError, match="applies to fused training"):
        small(module=BatchNormNet, n_groups=2).fit(X, y)  # auto: sequential
    assert small(training="sequential").fit(X, y).n_groups_ == 3
    warm = small(warm_start=True, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match="n_members changed from 3 to 4"):
        warm.set_params(n_members=4).fit(X, y)


def test_groups_warn_that_dropout_masks_depend_on_them(iris):
    X, y = iris
    with pytest.warns(UserWarning, match="dropout"):
        a = small(n_groups=2, module__dropout=0.2).fit(X, y)
    with pytest.warns(UserWarning, match="dropout"):
        b = small(n_groups=2, module__dropout=0.2).fit(X, y)
    assert_same_members(a, b, X)  # reproducible for a given n_groups


def test_uncertainty_of_a_row_does_not_depend_on_the_rows_with_it(iris):
    # What lets a Dask block of rows give the NumPy result bit for bit.
    X, y = iris
    ens = small().fit(X, y)
    whole = ens.predict_uncertainty(X)
    for start, stop in [(0, 40), (40, 80), (7, 150), (149, 150)]:
        part = ens.predict_uncertainty(X[start:stop])
        for name in whole:
            np.testing.assert_array_equal(part[name], whole[name][start:stop])


def test_groups_in_threads_leave_the_global_torch_rng_alone(iris):
    from joblib import parallel_backend

    X, y = iris
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    with parallel_backend("threading", n_jobs=3):
        small(n_groups=3).fit(X, y)
    np.testing.assert_array_equal(torch.rand(3), expected)
