"""Transfer inputs labelled by an online teacher."""

import numpy as np
import pytest
import torch
from sklearn.frozen import FrozenEstimator

from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller
from skend2.transfer import FeatureNoise, GaussianNoise, Mixup, OnlineTeacher


@pytest.fixture(scope="module")
def teacher(iris):
    return DeepEnsembleClassifier(n_members=3, max_epochs=20, random_state=0).fit(*iris)


def test_online_teacher_gives_the_teachers_member_logits(iris, teacher):
    X = iris[0].astype(np.float32)
    online = OnlineTeacher(teacher, "cpu")
    logits = online(torch.from_numpy(X))
    assert not logits.requires_grad
    np.testing.assert_allclose(
        logits.numpy(), teacher.predict_member_logits(X), rtol=1e-6, atol=1e-6
    )
    # A copy: the user's teacher is not moved or changed.
    assert online.module is not teacher.module_


def test_generators_make_new_inputs_of_the_batch_shape():
    X = torch.arange(24, dtype=torch.float32).reshape(8, 3)
    noise = GaussianNoise(scale=0.5).fit(X.numpy())
    np.testing.assert_allclose(noise.std_, X.numpy().std(0))
    out = noise.sample(X)
    assert out.shape == X.shape and not torch.equal(out, X)
    ratio = ((out - X) / torch.as_tensor(noise.std_)).std()
    assert 0.3 < float(ratio) < 0.7
    mixed = Mixup(alpha=1.0).fit(X.numpy()).sample(X)
    # Each mixture lies between the smallest and largest rows.
    assert bool((mixed >= X.min(0).values - 1e-6).all())
    assert bool((mixed <= X.max(0).values + 1e-6).all())


@pytest.mark.parametrize("cls", [EnsembleDistiller, PriorNetworkDistiller])
def test_zero_weight_is_training_without_transfer(iris, teacher, cls):
    X, y = iris
    plain = cls(
        FrozenEstimator(teacher), transfer=None, max_epochs=5, random_state=0
    ).fit(X, y)
    zero = cls(
        FrozenEstimator(teacher),
        transfer=GaussianNoise(),
        transfer_weight=0.0,
        max_epochs=5,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_array_equal(plain.predict_proba(X), zero.predict_proba(X))
    used = cls(
        FrozenEstimator(teacher), transfer=GaussianNoise(), max_epochs=5, random_state=0
    ).fit(X, y)
    assert not np.allclose(plain.predict_proba(X), used.predict_proba(X))
    assert used.net_.online_teacher is None  # not kept after training
    assert (
        isinstance(used.transfer_, GaussianNoise)
        and used.transfer is not used.transfer_
    )


@pytest.mark.slow
def test_transfer_inputs_teach_the_student_the_teachers_spread(iris, teacher):
    # Around the data the members disagree; a student shown noisy inputs
    # labelled online follows the ensemble's knowledge uncertainty there much
    # more closely than one shown only the training rows, on which the members
    # agree (measured: correlation 0.25 -> 0.58, mean 0.0066 -> 0.0097 against
    # the ensemble's 0.0117).
    X, y = iris
    rng = np.random.default_rng(0)
    near = X[rng.integers(0, len(X), 300)] + rng.normal(size=(300, 4))
    expected = teacher.predict_uncertainty(near, "knowledge")

    def student(**kwargs):
        model = PriorNetworkDistiller(
            FrozenEstimator(teacher), max_epochs=100, random_state=0, **kwargs
        ).fit(X, y)
        return model.predict_uncertainty(near, "knowledge")

    plain, noisy = student(transfer=None), student(transfer=GaussianNoise(scale=1.0))
    corr_plain = np.corrcoef(expected, plain)[0, 1]
    corr_noisy = np.corrcoef(expected, noisy)[0, 1]
    assert corr_noisy > corr_plain + 0.2
    assert abs(noisy.mean() - expected.mean()) < 0.5 * abs(
        plain.mean() - expected.mean()
    )


def test_feature_noise_flips_binary_features_and_perturbs_the_others():
    rng = np.random.default_rng(0)
    n = 4000
    X = np.column_stack(
        [
            rng.integers(0, 2, n) * 2.0 - 1.0,  # binary, values -1 / 1
            rng.normal(3.0, 2.0, n),  # continuous
            np.full(n, 5.0),  # constant: noise of scale 1 (std 0 -> 1)
        ]
    ).astype(np.float32)
    noise = FeatureNoise(scale=0.5, flip=0.3).fit(X)
    assert noise.binary_.tolist() == [True, False, False]
    std = X.astype(np.float64).std(0)
    np.testing.assert_allclose(noise.std_, [std[0], std[1], 1.0], rtol=1e-5)
    torch.manual_seed(0)
    out = noise.sample(torch.from_numpy(X)).numpy()
    # Binary features stay on their two values; about 30 % of them flip.
    assert set(np.unique(out[:, 0]).tolist()) == {-1.0, 1.0}
    assert 0.27 < float((out[:, 0] != X[:, 0]).mean()) < 0.33
    # The others get scale x their standard deviation of Gaussian noise.
    assert 0.45 < float(((out[:, 1] - X[:, 1]) / X[:, 1].std()).std()) < 0.55
    assert 0.45 < float((out[:, 2] - X[:, 2]).std()) < 0.55
    # Images: per-pixel statistics; no pixel is binary here.
    images = rng.random((50, 1, 4, 4)).astype(np.float32)
    fitted = FeatureNoise().fit(images)
    assert fitted.binary_.shape == (1, 4, 4) and not fitted.binary_.any()
    assert fitted.sample(torch.from_numpy(images)).shape == (50, 1, 4, 4)


def test_prior_network_defaults_are_feature_noise_and_the_ce_term(iris, teacher):
    X, y = iris
    student = PriorNetworkDistiller(FrozenEstimator(teacher), max_epochs=3)
    assert student.transfer == "auto"
    student.fit(X, y)
    assert isinstance(student.transfer_, FeatureNoise)
    assert student.net_.criterion_.ce_weight == 100.0
    # The same as the explicit settings, bit for bit.
    explicit = PriorNetworkDistiller(
        FrozenEstimator(teacher),
        transfer=FeatureNoise(),
        criterion__ce_weight=100.0,
        max_epochs=3,
        random_state=0,
    ).fit(X, y)
    default = PriorNetworkDistiller(
        FrozenEstimator(teacher), max_epochs=3, random_state=0
    ).fit(X, y)
    np.testing.assert_array_equal(default.predict_proba(X), explicit.predict_proba(X))
    # The proxy loss keeps its own (no ce term); EnD has no transfer inputs.
    proxy = PriorNetworkDistiller(
        FrozenEstimator(teacher), loss="proxy", max_epochs=1
    ).fit(X, y)
    assert proxy.net_.criterion_.ce_weight == 0.0
    end = EnsembleDistiller(FrozenEstimator(teacher), max_epochs=1).fit(X, y)
    assert end.transfer is None and end.transfer_ is None
    # set_params on "auto" starts from the generator it stands for.
    tuned = PriorNetworkDistiller(FrozenEstimator(teacher)).set_params(
        transfer__flip=0.5
    )
    assert isinstance(tuned.transfer, FeatureNoise) and tuned.transfer.flip == 0.5
