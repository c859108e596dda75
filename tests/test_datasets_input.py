"""torch Datasets as inputs, per-member augmented views, and the online teacher."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import linear_problem
from sklearn.frozen import FrozenEstimator
from torch.utils.data import Dataset, TensorDataset

import skend2._distiller as distiller_module
from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller
from skend2._batching import BatchIterator
from skend2._datasets import DatasetInput, ItemData
from skend2.transfer import OnlineTeacher

N, D = 48, 4


@pytest.fixture(scope="module")
def data():
    return linear_problem(N, D)


def as_dataset(X, y):
    return TensorDataset(torch.from_numpy(X), torch.from_numpy(y))


@pytest.fixture(scope="module")
def teacher(data):
    X, y = data
    return DeepEnsembleClassifier(n_members=3, max_epochs=3, random_state=0).fit(X, y)


def _ensemble(**kwargs):
    kwargs = {"n_members": 3, "max_epochs": 3, "random_state": 0, **kwargs}
    return DeepEnsembleClassifier(**kwargs)


def _distiller(cls, teacher, **kwargs):
    return cls(FrozenEstimator(teacher), max_epochs=3, random_state=0, **kwargs)


ESTIMATORS = {
    "ensemble-fused": lambda t: _ensemble(training="fused"),
    "ensemble-sequential": lambda t: _ensemble(training="sequential"),
    "end-offline": lambda t: _distiller(
        EnsembleDistiller, t, teacher_outputs="offline"
    ),
    "end-online": lambda t: _distiller(EnsembleDistiller, t, teacher_outputs="online"),
    "end2-offline": lambda t: _distiller(
        PriorNetworkDistiller, t, teacher_outputs="offline"
    ),
    "end2-online": lambda t: _distiller(
        PriorNetworkDistiller, t, teacher_outputs="online"
    ),
}


def _predictions(est, X):
    return (
        est.predict_proba(X),
        est.predict(X),
        est.predict_uncertainty(X, measure="total"),
    )


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_dataset_and_arrays_give_the_same_model(name, data, teacher):
    X, y = data
    make = ESTIMATORS[name]
    from_arrays = make(teacher).fit(X, y)
    from_dataset = make(teacher).fit(as_dataset(X, y))
    np.testing.assert_array_equal(from_dataset.classes_, from_arrays.classes_)
    assert from_dataset.n_features_in_ == D
    for a, b in zip(
        _predictions(from_arrays, X), _predictions(from_dataset, as_dataset(X, y))
    ):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # Either input kind predicts for a model fitted on either.
    np.testing.assert_allclose(
        from_dataset.predict_proba(X), from_arrays.predict_proba(X), atol=1e-6
    )


@pytest.mark.parametrize("cls", [EnsembleDistiller, PriorNetworkDistiller])
def test_auto_teacher_outputs_are_offline_for_arrays_online_for_datasets(
    cls, data, teacher
):
    X, y = data
    from_arrays = _distiller(cls, teacher).fit(X, y)
    from_dataset = _distiller(cls, teacher).fit(as_dataset(X, y))
    assert from_arrays.teacher_outputs_ == "offline"
    assert from_dataset.teacher_outputs_ == "online"
    # Without augmentation, online and offline targets are the same logits (up
    # to the rounding of another batch size), so the students agree closely.
    np.testing.assert_allclose(
        from_dataset.predict_proba(X), from_arrays.predict_proba(X), atol=1e-4
    )


def test_unfitted_teacher_is_fitted_on_the_dataset(data):
    X, y = data
    teacher = DeepEnsembleClassifier(n_members=2, max_epochs=2, random_state=0)
    from_dataset = EnsembleDistiller(teacher, max_epochs=2, random_state=0).fit(
        as_dataset(X, y)
    )
    reference = teacher.fit(X, y)
    np.testing.assert_allclose(
        from_dataset.teacher_.predict_member_logits(X),
        reference.predict_member_logits(X),
        atol=1e-6,
    )


def test_string_labels_from_dataset_targets(data):
    X, y = data
    names = np.array(["cat", "dog"])[y]

    class Named(Dataset):
        targets = list(names)

        def __len__(self):
            return N

        def __getitem__(self, i):
            return X[i], names[i]

    model = _ensemble().fit(Named())
    np.testing.assert_array_equal(model.classes_, ["cat", "dog"])
    reference = _ensemble().fit(X, names)
    np.testing.assert_array_equal(model.predict(Named()), reference.predict(X))


def test_num_workers_2(data):
    X, y = data
    options = dict(iterator_train__num_workers=2, iterator_valid__num_workers=2)
    ensemble = DeepEnsembleClassifier(
        n_members=2, max_epochs=2, random_state=0, **options
    )
    with_workers = ensemble.fit(as_dataset(X, y))
    reference = DeepEnsembleClassifier(n_members=2, max_epochs=2, random_state=0)
    reference.fit(as_dataset(X, y))
    np.testing.assert_allclose(
        with_workers.predict_proba(as_dataset(X, y)),
        reference.predict_proba(X),
        atol=1e-6,
    )


def test_loader_options_with_arrays_warn(data):
    X, y = data
    with pytest.warns(UserWarning, match="iterator_train__num_workers apply to"):
        _ensemble(iterator_train__num_workers=2, max_epochs=1).fit(X, y)


class RecordingFlip:
    """A random sign flip that records which rows it was asked for and its draw."""

    def __init__(self):
        self.calls = []

    def __call__(self, index, x):
        flip = bool(torch.rand(()) < 0.5)
        self.calls.append((index, flip))
        return -x if flip else x


class Augmented(Dataset):
    def __init__(self, X, y, transform):
        self.X, self.targets, self.transform = X, list(y), transform

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.transform(i, torch.from_numpy(self.X[i])), self.targets[i]


def test_each_member_reads_its_own_augmented_views(data):
    X, y = data
    flip = RecordingFlip()
    source = DatasetInput(Augmented(X, y, flip), "test")
    flip.calls.clear()  # the shape check read item 0
    items = ItemData(source, torch.as_tensor(y), "cpu")
    iterator = BatchIterator(items, batch_size=16, shuffle=True, n_members=3, seed=0)
    torch.manual_seed(0)
    seen = {}
    for Xb, _ in iterator:
        assert Xb.shape == (16, 3, D)
        for member in range(3):
            for row in Xb[:, member].numpy():
                # Each view is the row itself or its flip, as the transform drew.
                i = int(np.argmin(np.abs(np.abs(X) - np.abs(row)).sum(axis=1)))
                assert np.array_equal(row, X[i]) or np.array_equal(row, -X[i])
                seen.setdefault(i, []).append(bool(np.array_equal(row, -X[i])))
    # The transform was asked for every row once per member: 3 draws per row.
    asked = [index for index, _ in flip.calls]
    assert sorted(asked) == sorted(list(range(N)) * 3)
    flips_per_row = {i: [] for i in range(N)}
    for index, flipped in flip.calls:
        flips_per_row[index].append(flipped)
    assert {i: sorted(v) for i, v in seen.items()} == {
        i: sorted(v) for i, v in flips_per_row.items()
    }
    # Members get different views of the same row (not one shared view).
    assert any(len(set(v)) > 1 for v in flips_per_row.values())


def test_fused_fit_asks_the_transform_once_per_member_and_row(data):
    X, y = data
    flip = RecordingFlip()
    model = DeepEnsembleClassifier(n_members=3, max_epochs=2, random_state=0)
    model.fit(Augmented(X, y, flip))
    # Before training: item 0 (its shape), then items 0 and 1 (module checks).
    assert [i for i, _ in flip.calls[:3]] == [0, 0, 1]
    training_calls = flip.calls[3:]
    counts = np.bincount([i for i, _ in training_calls], minlength=N)
    assert (counts == 3 * 2).all()  # 3 members x 2 epochs, nothing materialised


class RecordingTeacher(OnlineTeacher):
    batches: list = []

    def __call__(self, X):
        logits = super().__call__(X)
        RecordingTeacher.batches.append((X.clone(), logits.clone()))
        return logits


def test_online_teacher_labels_the_very_augmented_batch(data, teacher, monkeypatch):
    X, y = data
    monkeypatch.setattr(distiller_module, "OnlineTeacher", RecordingTeacher)
    RecordingTeacher.batches = []
    flip = RecordingFlip()
    student = PriorNetworkDistiller(
        FrozenEstimator(teacher),
        transfer=None,
        max_epochs=2,
        batch_size=16,
        random_state=0,
    ).fit(Augmented(X, y, flip))
    assert student.teacher_outputs_ == "online"
    assert len(RecordingTeacher.batches) == 2 * 3  # 2 epochs of 3 batches
    flipped = {i for i, f in flip.calls if f}
    assert flipped  # the batches were augmented
    for Xb, logits in RecordingTeacher.batches:
        np.testing.assert_allclose(
            logits.numpy(), teacher.predict_member_logits(Xb.numpy()), atol=1e-5
        )


def test_online_targets_reach_the_loss(data, teacher):
    X, y = data
    student = _distiller(EnsembleDistiller, teacher, teacher_outputs="online")
    student.fit(X, y)
    net = student.net_
    batch = torch.from_numpy(X[:8])
    net.online_teacher = OnlineTeacher(teacher, "cpu")
    net.online_targets = True
    y_pred = net.infer(batch)
    placeholder = torch.zeros(8, dtype=torch.int64)
    online = net.get_loss(y_pred, placeholder, X=batch, training=False)
    logits = torch.from_numpy(teacher.predict_member_logits(X[:8]))
    net.online_targets = False
    offline = net.get_loss(y_pred, logits, X=batch, training=False)
    torch.testing.assert_close(online, offline, atol=1e-5, rtol=1e-5)


def test_pickled_model_fitted_from_a_dataset_predicts(data):
    X, y = data
    model = _ensemble(max_epochs=1).fit(as_dataset(X, y))
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(
        again.predict_proba(as_dataset(X, y)), model.predict_proba(X)
    )


class Items(Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def _pairs(n=6, shape=(D,)):
    return [(np.full(shape, i, dtype=np.float32), i % 2) for i in range(n)]


@pytest.mark.parametrize(
    "dataset, error, match",
    [
        (Items([np.zeros(D)] * 6), TypeError, r"\(x, y\) pairs; its item 0 is"),
        (Items([(np.zeros(D), 0, 1)] * 6), TypeError, "a tuple of length 3"),
        (Items([("abc", 0)] * 6), TypeError, "not numeric"),
        (Items([(np.float32(1.0), 0)] * 6), ValueError, "scalar input"),
        (Items(_pairs()[:1]), ValueError, "at least 2 items"),
        (
            Items([(np.zeros(D), i % 2) for i in range(5)] + [(0.0, np.ones(2))]),
            ValueError,
            "one class label per item",
        ),
        (Items([(np.zeros(D), 0)] * 6), ValueError, "at least 2 classes"),
    ],
)
def test_bad_datasets_raise_clear_errors(dataset, error, match):
    with pytest.raises(error, match=match):
        DeepEnsembleClassifier(n_members=2, max_epochs=1).fit(dataset)


def test_iterable_dataset_is_refused():
    class Stream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(_pairs())

    with pytest.raises(TypeError, match="map-style Dataset"):
        DeepEnsembleClassifier(n_members=2, max_epochs=1).fit(Stream())


def test_inconsistent_shapes_raise_while_training():
    items = _pairs(8)
    items[5] = (np.zeros(D + 1, dtype=np.float32), 1)
    with pytest.raises(ValueError, match=r"inconsistent shapes: item 5 has \(5,\)"):
        DeepEnsembleClassifier(n_members=2, max_epochs=1).fit(Items(items))


def test_wrong_targets_length_and_y_with_a_dataset(data):
    X, y = data
    dataset = as_dataset(X, y)
    with pytest.raises(ValueError, match="pass y=None"):
        _ensemble().fit(dataset, y)
    dataset.targets = y[:-1]
    with pytest.raises(ValueError, match="targets attribute has 47 labels"):
        _ensemble().fit(dataset)


def test_predict_checks_the_dataset(data, teacher):
    with pytest.raises(ValueError, match=r"samples of shape \(5,\)"):
        teacher.predict_proba(Items(_pairs(shape=(D + 1,))))
    with pytest.raises(TypeError, match=r"\(x, y\) pairs"):
        teacher.predict(Items([np.zeros(D)] * 3))


def test_distiller_dataset_restrictions_are_explicit(data, teacher, tmp_path):
    X, y = data
    student = _distiller(EnsembleDistiller, teacher)
    with pytest.raises(ValueError, match="X_aux with array X only"):
        student.fit(as_dataset(X, y), X_aux=X)
    cached = EnsembleDistiller(
        DeepEnsembleClassifier(n_members=2, max_epochs=1, random_state=0),
        max_epochs=1,
        memory=str(tmp_path),
    )
    with pytest.warns(UserWarning, match="caches teachers fitted on arrays only"):
        cached.fit(as_dataset(X, y))


def test_transfer_generator_is_fitted_on_dataset_items(data, teacher):
    X, y = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        student = _distiller(PriorNetworkDistiller, teacher).fit(as_dataset(X, y))
    np.testing.assert_allclose(student.transfer_.std_, X.std(axis=0), rtol=1e-5)


def test_batches_are_read_whole_and_checked_as_items_are():
    kinds = {
        "float32 tensors": [(torch.full((D,), float(i)), 0) for i in range(6)],
        "float64 arrays": [(np.full(D, i, dtype=np.float64), 0) for i in range(6)],
        "lists": [[[float(i)] * D, 0] for i in range(6)],
        "mixed kinds": [
            (torch.full((D,), float(i)) if i % 2 else np.full(D, i), 0)
            for i in range(6)
        ],
    }
    for name, items in kinds.items():
        source = DatasetInput(Items(items), "test")
        batch = source.read_batch([4, 1, 5])
        assert batch.dtype == torch.float32, name
        expected = torch.stack([source.read(i) for i in (4, 1, 5)])
        assert torch.equal(batch, expected), name
        assert torch.equal(batch[:, 0], torch.tensor([4.0, 1.0, 5.0])), name


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (("abc", 0), TypeError, "item 3 has an input x of type str"),
        ((np.zeros(D + 1), 0), ValueError, r"item 3 has \(5,\), item 0 has \(4,\)"),
        ((torch.zeros(D + 1), 0), ValueError, r"item 3 has \(5,\)"),
        (np.zeros(D), TypeError, r"\(x, y\) pairs; its item 3 is a ndarray"),
        ((np.zeros(D), 0, 1), TypeError, "item 3 is a tuple of length 3"),
    ],
)
def test_a_bad_item_in_a_batch_is_named(bad, error, match):
    items = [(np.zeros(D, dtype=np.float32), 0)] * 6
    items[3] = bad
    source = DatasetInput(Items(items), "test")
    assert source.read_batch([0, 1, 2]).shape == (3, D)
    with pytest.raises(error, match=match):
        source.read_batch([5, 3, 1])


def test_targets_attribute_gives_the_same_labels_as_the_items(data):
    X, y = data
    from_items = DatasetInput(Items(list(zip(X, y))), "test").targets()
    for targets in (y, torch.from_numpy(y), list(y)):
        dataset = Items(list(zip(X, y)))
        dataset.targets = targets
        labels = DatasetInput(dataset, "test").targets()
        np.testing.assert_array_equal(labels, from_items)
        assert labels.dtype == from_items.dtype


def test_reading_a_batch_leaves_the_garbage_collector_as_it_was():
    import gc

    source = DatasetInput(Items(_pairs()), "test")
    bad = DatasetInput(Items(_pairs()[:3] + [("abc", 0)]), "test")
    enabled = gc.isenabled()
    try:
        for state in (True, False):
            (gc.enable if state else gc.disable)()
            source.read_batch([0, 1, 2])
            assert gc.isenabled() is state
            with pytest.raises(TypeError, match="item 3"):
                bad.read_batch([3, 0])
            assert gc.isenabled() is state
    finally:
        (gc.enable if enabled else gc.disable)()
