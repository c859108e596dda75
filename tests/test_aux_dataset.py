"""A torch Dataset as X_aux: read batch by batch, labelled by the online teacher."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from conftest import linear_problem
from sklearn.frozen import FrozenEstimator
from skorch.callbacks import Callback
from skorch.net import NeuralNet
from test_reliability import assert_unchanged, snapshot
from torch.utils.data import Dataset, TensorDataset

from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller
from skend2._net import _Net
from skend2.transfer import OnlineTeacher

N, D, N_AUX = 48, 4, 40


@pytest.fixture(scope="module")
def data():
    return linear_problem(N, D)


@pytest.fixture(scope="module")
def aux_inputs():
    # Wider than the training inputs: where the members disagree more.
    return 3 * np.random.default_rng(1).normal(size=(N_AUX, D)).astype(np.float32)


@pytest.fixture(scope="module")
def teacher(data):
    X, y = data
    return DeepEnsembleClassifier(n_members=3, max_epochs=3, random_state=0).fit(X, y)


class RecordingAux(Dataset):
    """Unlabelled inputs (y is 0) that record every index they are asked for."""

    def __init__(self, inputs):
        self.inputs = inputs
        self.asked = []

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, i):
        self.asked.append(int(i))
        return torch.from_numpy(self.inputs[i]), 0


class ReadsAtTrainBegin(Callback):
    """Records how many aux items had been read when training began."""

    def __init__(self, aux):
        self.aux = aux
        self.reads = None

    def on_train_begin(self, net, **kwargs):
        self.reads = list(self.aux.asked)


def _student(cls, teacher, **kwargs):
    kwargs = {"max_epochs": 2, "batch_size": 16, "random_state": 0, **kwargs}
    return cls(FrozenEstimator(teacher), **kwargs)


def _aux(inputs):
    return TensorDataset(torch.from_numpy(inputs), torch.zeros(len(inputs)))


@pytest.mark.parametrize("cls", [EnsembleDistiller, PriorNetworkDistiller])
@pytest.mark.parametrize("x_kind", ["array", "dataset"])
def test_fits_and_predicts_with_a_dataset_x_aux(cls, x_kind, data, aux_inputs, teacher):
    X, y = data
    train = (X, y) if x_kind == "array" else (_aux_labelled(X, y),)
    student = _student(cls, teacher).fit(*train, X_aux=_aux(aux_inputs))
    proba = student.predict_proba(X)
    assert proba.shape == (N, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-5)
    assert set(student.predict(X)) <= {0, 1}
    assert student.net_.aux_batches is None  # not kept after training
    assert student.net_.online_teacher is None
    again = pickle.loads(pickle.dumps(student))
    np.testing.assert_array_equal(again.predict_proba(X), proba)


def _aux_labelled(X, y):
    return TensorDataset(torch.from_numpy(X), torch.from_numpy(y))


def test_aux_is_read_batch_by_batch_during_training(data, aux_inputs, teacher):
    X, y = data
    aux = RecordingAux(aux_inputs)
    at_begin = ReadsAtTrainBegin(aux)
    reads_per_step = []

    def spy(net, y_pred, y_true, X=None, training=False):
        if training:
            reads_per_step.append(len(aux.asked))
        return NeuralNet.get_loss(net, y_pred, y_true, X=X, training=training)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Net, "get_loss", spy, raising=False)
        _student(EnsembleDistiller, teacher, max_epochs=3, callbacks=[at_begin]).fit(
            X, y, X_aux=aux
        )
    # Before the training loop, only item 0 was read (its sample shape).
    assert at_begin.reads == [0]
    # 3 epochs of 3 steps of 16 rows; every step reads one batch of 16 aux
    # items (40 items: batches of 16, 16, 8 per pass), after its own batch's
    # loss and before the auxiliary one's.
    assert len(reads_per_step) == 2 * 9
    own, after_aux = reads_per_step[0::2], reads_per_step[1::2]
    sizes = [16, 16, 8] * 3
    assert after_aux == list(1 + np.cumsum(sizes)[:9])
    assert own == [1] + after_aux[:-1]
    # Each pass reads every item once, in a new order.
    passes = [aux.asked[1 + 40 * k : 1 + 40 * (k + 1)] for k in range(2)]
    for order in passes:
        assert sorted(order) == list(range(N_AUX))
    assert passes[0] != passes[1]


def test_aux_targets_are_the_teachers_member_logits(data, aux_inputs, teacher):
    X, y = data
    seen = []

    def spy(net, y_pred, y_true, X=None, training=False):
        if training:
            seen.append((X.detach().clone(), y_true.detach().clone()))
        return NeuralNet.get_loss(net, y_pred, y_true, X=X, training=training)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_Net, "get_loss", spy, raising=False)
        _student(PriorNetworkDistiller, teacher, transfer=None).fit(
            X, y, X_aux=_aux(aux_inputs)
        )
    # Each step: its own batch (offline logits), then an auxiliary batch.
    assert len(seen) == 2 * 3 * 2
    for Xb, targets in seen[1::2]:
        rows = Xb.numpy()
        # The rows are auxiliary inputs, not training rows.
        distances = np.abs(rows[:, None] - aux_inputs[None]).sum(-1).min(1)
        assert (distances == 0).all()
        np.testing.assert_allclose(
            targets.numpy(), teacher.predict_member_logits(rows), atol=1e-5
        )


def test_aux_changes_the_student_and_the_fit_is_reproducible(data, aux_inputs, teacher):
    X, y = data
    for cls in (EnsembleDistiller, PriorNetworkDistiller):
        without = _student(cls, teacher).fit(X, y).predict_proba(X)
        first = _student(cls, teacher).fit(X, y, X_aux=_aux(aux_inputs))
        again = _student(cls, teacher).fit(X, y, X_aux=_aux(aux_inputs))
        np.testing.assert_array_equal(first.predict_proba(X), again.predict_proba(X))
        assert np.abs(first.predict_proba(X) - without).max() > 1e-3
        other = _student(cls, teacher, random_state=1)
        other.fit(X, y, X_aux=_aux(aux_inputs))
        assert not np.array_equal(other.predict_proba(X), first.predict_proba(X))


def test_aux_shares_the_transfer_weight_with_transfer_inputs(data, aux_inputs, teacher):
    X, y = data
    student = _student(PriorNetworkDistiller, teacher, transfer_weight=0.4).fit(
        X, y, X_aux=_aux(aux_inputs)
    )
    net = student.net_
    Xb = torch.from_numpy(X[:16])
    logits = torch.from_numpy(teacher.predict_member_logits(X[:16]))

    class Fixed:
        def __init__(self, batch):
            self.batch = batch

        def sample(self, X):
            return self.batch

        def __next__(self):
            return self.batch

    generated = torch.from_numpy(aux_inputs[:16] / 3)
    auxiliary = torch.from_numpy(aux_inputs[16:32])
    net.online_teacher = OnlineTeacher(teacher, "cpu")
    net.transfer, net.aux_batches = Fixed(generated), Fixed(auxiliary)
    torch.manual_seed(0)
    both = net.get_loss(net.infer(Xb), logits, X=Xb, training=True)

    def alone(inputs):
        return NeuralNet.get_loss(
            net, net.infer(inputs), net.online_teacher(inputs), training=True
        )

    expected = (
        0.6 * NeuralNet.get_loss(net, net.infer(Xb), logits, training=True)
        + 0.2 * alone(generated)
        + 0.2 * alone(auxiliary)
    )
    torch.testing.assert_close(both, expected)


def test_array_options_for_the_loader_apply_to_a_dataset_aux(data, aux_inputs, teacher):
    X, y = data
    reference = _student(EnsembleDistiller, teacher).fit(X, y, X_aux=_aux(aux_inputs))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "apply to Dataset inputs only"
        workers = _student(
            EnsembleDistiller, teacher, iterator_train__num_workers=2
        ).fit(X, y, X_aux=_aux(aux_inputs))
    np.testing.assert_allclose(
        workers.predict_proba(X), reference.predict_proba(X), atol=1e-6
    )


def test_aux_dataset_errors(data, aux_inputs, teacher):
    X, y = data
    student = _student(EnsembleDistiller, teacher)
    with pytest.raises(ValueError, match=r"X_aux has samples of shape \(3,\), but X"):
        student.fit(X, y, X_aux=_aux(aux_inputs[:, :3]))
    with pytest.raises(ValueError, match="at least 1 items; got 0"):
        student.fit(X, y, X_aux=_aux(aux_inputs[:0]))
    with pytest.raises(TypeError, match=r"X_aux of EnsembleDistiller.fit.*\(x, y\)"):
        student.fit(X, y, X_aux=TensorDataset(torch.from_numpy(aux_inputs)))
    with pytest.raises(ValueError, match="array X_aux with array X only"):
        student.fit(_aux_labelled(X, y), X_aux=aux_inputs)
    assert not hasattr(student, "net_")


class BadItem(Dataset):
    """Auxiliary inputs whose item ``bad`` has one feature too many."""

    def __init__(self, inputs, bad):
        self.inputs, self.bad = inputs, bad

    def __len__(self):
        return len(self.inputs)

    def __getitem__(self, i):
        x = self.inputs[i]
        return (np.append(x, 0.0) if i == self.bad else x), 0


@pytest.mark.parametrize("cls", [EnsembleDistiller, PriorNetworkDistiller])
def test_a_bad_aux_item_fails_the_fit_atomically(cls, data, aux_inputs, teacher):
    X, y = data
    student = _student(cls, teacher).fit(X, y)
    before = snapshot(student, X)
    with pytest.raises(ValueError, match=r"inconsistent shapes: item 7 has \(5,\)"):
        student.fit(X, y, X_aux=BadItem(aux_inputs, bad=7))
    assert_unchanged(student, X, before)
    fresh = _student(cls, teacher)
    with pytest.raises(ValueError, match="item 7"):
        fresh.fit(X, y, X_aux=BadItem(aux_inputs, bad=7))
    assert not hasattr(fresh, "net_")


def test_the_regressor_refuses_a_dataset_x_aux_clearly():
    from skend2 import PriorNetworkRegressor

    X = np.random.default_rng(0).normal(size=(40, 2))
    aux = TensorDataset(torch.zeros(5, 2), torch.zeros(5))
    with pytest.raises(TypeError, match="X_aux as an array, not as a Dataset"):
        PriorNetworkRegressor(max_epochs=1).fit(X, X[:, 0], X_aux=aux)
