"""Tests of skend2.losses: EnD, EnD² and Proxy-Dirichlet losses."""

import math

import numpy as np
import pytest
import torch
from torch.distributions import Dirichlet, kl_divergence

from skend2.losses import (
    DirichletNLLLoss,
    EnsembleCrossEntropyLoss,
    ProxyDirichletLoss,
    dirichlet_nll_loss,
    ensemble_cross_entropy_loss,
    proxy_dirichlet_loss,
)

LOSSES = [dirichlet_nll_loss, ensemble_cross_entropy_loss, proxy_dirichlet_loss]
LOSS_IDS = ["nll", "end", "proxy"]


@pytest.fixture
def single_thread():
    # The optimisation loops below run hundreds of small kernels; thread hand-off
    # on a shared 2-core machine costs more than the work itself.
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


def _random_logits(seed, batch_size=6, n_members=5, n_classes=4, scale=2.0):
    generator = torch.Generator().manual_seed(seed)
    student = scale * torch.randn(batch_size, n_classes, generator=generator)
    teacher = scale * torch.randn(batch_size, n_members, n_classes, generator=generator)
    return student.double(), teacher.double()


def _proxy_target(teacher_logits, smoothing, eps):
    """β of Ryabinin et al. (2021), written out independently of the library."""
    n_classes = teacher_logits.shape[-1]
    probs = torch.softmax(teacher_logits, -1)
    probs = (1 - smoothing) * probs + smoothing / n_classes
    mean = probs.mean(1)
    mean_log = torch.log(probs + eps).mean(1)
    mkl = (mean * (torch.log(mean + eps) - mean_log)).sum(-1)
    precision = (n_classes - 1) / (2 * mkl)
    return mean * precision[:, None] + 1


# --------------------------------------------------------------------------- #
# EnD² (Dirichlet NLL)
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "smoothing, eps",
    [
        # The exact Dirichlet likelihood: its minimiser is the maximum-likelihood
        # estimate, consistent for α*, so only sampling noise (~1%) remains.
        (0.0, 0.0),
        # The reference defaults shrink members towards uniform by 1e-3; with all
        # α*ₖ ≥ 1 the samples seldom come near the simplex's edges and the bias
        # this adds stays well below the 5% tolerance.
        (1e-3, 1e-8),
    ],
)
@pytest.mark.slow
def test_nll_fit_recovers_dirichlet_parameters(single_thread, smoothing, eps):
    # The loss is a proper likelihood: fitting α to members drawn from Dir(α*)
    # must recover α*.
    alpha_star = np.array([1.5, 4.0, 8.0, 2.5])
    samples = np.random.default_rng(0).dirichlet(alpha_star, size=10_000)
    teacher_logits = torch.from_numpy(np.log(samples))[None]  # softmax = samples
    log_alpha = torch.zeros(1, 4, dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.Adam([log_alpha], lr=0.1)
    for _ in range(300):
        optimizer.zero_grad()
        loss = dirichlet_nll_loss(
            log_alpha, teacher_logits, smoothing=smoothing, eps=eps
        )
        loss.backward()
        optimizer.step()
    fitted = log_alpha.detach().exp().numpy()[0]
    np.testing.assert_allclose(fitted, alpha_star, rtol=0.05)


def test_nll_equals_mean_dirichlet_log_prob():
    student, teacher = _random_logits(0)
    smoothing = 1e-3
    probs = torch.softmax(teacher, -1)
    smoothed = (1 - smoothing) * probs + smoothing / probs.shape[-1]
    dirichlet = Dirichlet(student.exp()[:, None, :], validate_args=False)
    expected = -dirichlet.log_prob(smoothed).mean(1)
    exact = dirichlet_nll_loss(
        student, teacher, smoothing=smoothing, eps=0.0, reduction="none"
    )
    torch.testing.assert_close(exact, expected, rtol=1e-10, atol=1e-10)
    # The reference code's 1e-8 inside the logarithm shifts it only slightly.
    default = dirichlet_nll_loss(student, teacher, reduction="none")
    torch.testing.assert_close(default, expected, rtol=1e-4, atol=1e-4)
    assert not torch.equal(default, exact)


def test_nll_gradient_points_the_right_way_for_extreme_logits():
    # Member probabilities near (1, 0, 0): α₁ should grow, the others shrink
    # relative to it, even from absurd starting logits.
    teacher = torch.tensor([[[1e4, 0.0, 0.0], [20.0, 0.0, 0.0]]])
    student = torch.tensor([[-1e4, 1e4, 0.0]], requires_grad=True)
    dirichlet_nll_loss(student, teacher).backward()
    grad = student.grad[0]
    assert torch.isfinite(grad).all()
    assert grad[0] < 0 and grad[1] > 0


# --------------------------------------------------------------------------- #
# EnD (cross-entropy to the ensemble mean)
# --------------------------------------------------------------------------- #
def test_end_loss_is_cross_entropy_to_the_ensemble_mean():
    student, teacher = _random_logits(1)
    mean = torch.softmax(teacher, -1).mean(1)
    expected = -(mean * torch.log_softmax(student, -1)).sum(-1)
    loss = ensemble_cross_entropy_loss(student, teacher, reduction="none")
    torch.testing.assert_close(loss, expected, rtol=1e-12, atol=1e-12)
    # Minimised (zero gradient) by the student that predicts the ensemble mean.
    at_mean = mean.log().requires_grad_(True)
    ensemble_cross_entropy_loss(at_mean, teacher).backward()
    torch.testing.assert_close(
        at_mean.grad, torch.zeros_like(at_mean), rtol=0, atol=1e-12
    )
    assert (
        loss > ensemble_cross_entropy_loss(mean.log(), teacher, reduction="none")
    ).all()


# --------------------------------------------------------------------------- #
# Proxy-Dirichlet
# --------------------------------------------------------------------------- #
def test_proxy_loss_is_reverse_kl_to_the_proxy_target():
    student, teacher = _random_logits(2)
    target = _proxy_target(teacher, smoothing=1e-3, eps=1e-8)
    expected = kl_divergence(Dirichlet(student.exp() + 1), Dirichlet(target))
    loss = proxy_dirichlet_loss(student, teacher, reduction="none", normalize=False)
    torch.testing.assert_close(loss, expected, rtol=1e-9, atol=1e-9)
    # By default each input's KL is divided by its target precision β₀.
    normalized = proxy_dirichlet_loss(student, teacher, reduction="none")
    torch.testing.assert_close(normalized, expected / target.sum(-1), rtol=1e-9, atol=0)


def test_proxy_loss_vanishes_at_the_target():
    _, teacher = _random_logits(3)
    target = _proxy_target(teacher, smoothing=1e-3, eps=1e-8)
    student = torch.log(target - 1).requires_grad_(True)  # α = exp(z) + 1 = β
    loss = proxy_dirichlet_loss(student, teacher)
    loss.backward()
    assert abs(loss.item()) < 1e-8
    assert float(student.grad.abs().max()) < 1e-6
    # Elsewhere the loss is positive and its gradient is not small.
    moved = (student.detach() + 0.5).requires_grad_(True)
    moved_loss = proxy_dirichlet_loss(moved, teacher, normalize=False)
    moved_loss.backward()
    assert moved_loss.item() > 1e-2 and float(moved.grad.abs().max()) > 1e-2


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_proxy_loss_is_non_negative(temperature):
    for seed in range(5):
        student, teacher = _random_logits(seed, batch_size=32, scale=4.0)
        loss = proxy_dirichlet_loss(
            student, teacher, temperature=temperature, reduction="none"
        )
        assert (loss >= 0).all()


@pytest.mark.slow
def test_proxy_target_precision_matches_dirichlet_members():
    # For members drawn from Dir(α*) the proxy precision β̂₀ estimates α₀*: the
    # minimiser of the loss along α = 1 + π̄·s must sit near s = α₀* (to within
    # O(1/α₀*) and the sampling noise).
    alpha_star = np.array([100.0, 60.0, 40.0])
    samples = np.random.default_rng(1).dirichlet(alpha_star, size=10_000)
    teacher = torch.from_numpy(np.log(samples))[None]
    mean = torch.from_numpy(samples.mean(0))
    scales = torch.from_numpy(np.geomspace(50, 800, 201))
    students = torch.log(mean[None, :] * scales[:, None])
    losses = proxy_dirichlet_loss(
        students,
        teacher.expand(len(scales), -1, -1),
        smoothing=0.0,
        eps=0.0,
        reduction="none",
    )
    best = float(scales[losses.argmin()])
    assert best == pytest.approx(alpha_star.sum(), rel=0.05)


# --------------------------------------------------------------------------- #
# Shared properties of the three losses
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("temperature", [1.0, 2.5])
@pytest.mark.parametrize("loss_function", LOSSES, ids=LOSS_IDS)
def test_gradcheck(loss_function, temperature):
    student, teacher = _random_logits(4, batch_size=3, n_members=4, n_classes=3)
    student.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda z: loss_function(z, teacher, temperature=temperature, reduction="none"),
        (student,),
    )


@pytest.mark.parametrize("temperature", [0.5, 4.0, 10.0])
@pytest.mark.parametrize("loss_function", LOSSES, ids=LOSS_IDS)
def test_temperature_scaling(loss_function, temperature):
    # At temperature T both logits are divided by T and the loss is multiplied by
    # T² (Hinton et al., 2015): L_T(z, ℓ) = T² · L_1(z/T, ℓ/T).
    student, teacher = _random_logits(5)
    tempered = loss_function(
        student, teacher, temperature=temperature, reduction="none"
    )
    unscaled = loss_function(
        student / temperature, teacher / temperature, reduction="none"
    )
    torch.testing.assert_close(
        tempered, temperature**2 * unscaled, rtol=1e-10, atol=1e-10
    )
    assert not torch.allclose(
        tempered, loss_function(student, teacher, reduction="none")
    )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("temperature", [1.0, 10.0])
@pytest.mark.parametrize("loss_function", LOSSES, ids=LOSS_IDS)
def test_finite_for_extreme_logits_and_one_hot_teachers(
    loss_function, temperature, dtype
):
    student = torch.tensor(
        [
            [1e4, -1e4, 0.0],
            [-1e4, -1e4, -1e4],
            [1e4, 1e4, 1e4],
            [0.0, 0.0, 0.0],
            # Near the float32 limit: the Dirichlet losses continue ln α
            # logarithmically outside [−1e6, 30] and stay finite; cross-entropy is
            # linear in the logit gap (≈ 6e38 here), beyond float32 as in
            # torch.nn.functional.cross_entropy.
            [3e38, -3e38, 0.0]
            if loss_function is not ensemble_cross_entropy_loss
            else [1e4, -1e4, 1e4],
        ],
        dtype=dtype,
        requires_grad=True,
    )
    teacher = torch.tensor(
        [
            [[1e4, 0.0, 0.0], [1e4, 0.0, 0.0]],  # one-hot, agreeing
            [[1e4, 0.0, 0.0], [0.0, 1e4, 0.0]],  # one-hot, disagreeing
            [[-1e4, 0.0, 1e4], [0.0, 0.0, 0.0]],
            [[1e4, 0.0, 0.0], [0.0, 0.0, 1e4]],
            [[0.0, 1e4, 0.0], [0.0, 1e4, 0.0]],
        ],
        dtype=dtype,
    )
    loss = loss_function(student, teacher, temperature=temperature, reduction="none")
    assert loss.dtype == dtype
    assert torch.isfinite(loss).all()
    loss.sum().backward()
    assert torch.isfinite(student.grad).all()


def test_reductions():
    student, teacher = _random_logits(6)
    for loss_function in LOSSES:
        per_input = loss_function(student, teacher, reduction="none")
        assert per_input.shape == (student.shape[0],)
        torch.testing.assert_close(loss_function(student, teacher), per_input.mean())
        torch.testing.assert_close(
            loss_function(student, teacher, reduction="sum"), per_input.sum()
        )


@pytest.mark.parametrize(
    "student_shape, teacher_shape, match",
    [
        ((4,), (2, 3, 4), "student_logits must have shape"),
        ((2, 4), (2, 4), "teacher_logits must have shape"),
        ((2, 4), (3, 5, 4), "batch size"),
        ((2, 4), (2, 5, 3), "number of classes"),
        ((2, 4), (2, 0, 4), "member"),
    ],
)
@pytest.mark.parametrize("loss_function", LOSSES, ids=LOSS_IDS)
def test_bad_shapes_raise(loss_function, student_shape, teacher_shape, match):
    with pytest.raises(ValueError, match=match):
        loss_function(torch.zeros(student_shape), torch.zeros(teacher_shape))


@pytest.mark.parametrize("loss_function", LOSSES, ids=LOSS_IDS)
def test_bad_settings_raise(loss_function):
    student, teacher = torch.zeros(2, 3), torch.zeros(2, 4, 3)
    with pytest.raises(ValueError, match="reduction"):
        loss_function(student, teacher, reduction="average")
    for temperature in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError, match="temperature"):
            loss_function(student, teacher, temperature=temperature)
    with pytest.raises(TypeError, match="temperature"):
        loss_function(student, teacher, temperature="hot")
    with pytest.raises(TypeError, match="student_logits"):
        loss_function(np.zeros((2, 3)), teacher)
    with pytest.raises(TypeError, match="floating point"):
        loss_function(student, torch.zeros(2, 4, 3, dtype=torch.long))
    if loss_function is not ensemble_cross_entropy_loss:
        with pytest.raises(ValueError, match="smoothing"):
            loss_function(student, teacher, smoothing=1.5)
        with pytest.raises(ValueError, match="eps"):
            loss_function(student, teacher, eps=-1e-8)


# --------------------------------------------------------------------------- #
# Modules
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "module_class, loss_function, offset",
    [
        (DirichletNLLLoss, dirichlet_nll_loss, 0.0),
        (EnsembleCrossEntropyLoss, ensemble_cross_entropy_loss, 0.0),
        (ProxyDirichletLoss, proxy_dirichlet_loss, 1.0),
    ],
)
def test_modules_follow_their_temperature(module_class, loss_function, offset):
    student, teacher = _random_logits(7)
    criterion = module_class()
    assert criterion.temperature == 1.0
    assert module_class.concentration_offset == offset
    assert criterion.concentration_offset == offset
    torch.testing.assert_close(
        criterion(student, teacher), loss_function(student, teacher)
    )
    # An annealing callback sets the attribute between epochs.
    criterion.temperature = 5.0
    torch.testing.assert_close(
        criterion(student, teacher), loss_function(student, teacher, temperature=5.0)
    )
    assert "temperature=5.0" in repr(criterion)
    none = module_class(temperature=2.0, reduction="none")
    torch.testing.assert_close(
        none(student, teacher),
        loss_function(student, teacher, temperature=2.0, reduction="none"),
    )


def test_module_smoothing_settings_are_used():
    student, teacher = _random_logits(8)
    for module_class, loss_function in (
        (DirichletNLLLoss, dirichlet_nll_loss),
        (ProxyDirichletLoss, proxy_dirichlet_loss),
    ):
        criterion = module_class(smoothing=0.01, eps=0.0)
        torch.testing.assert_close(
            criterion(student, teacher),
            loss_function(student, teacher, smoothing=0.01, eps=0.0),
        )
        assert not torch.allclose(
            criterion(student, teacher), loss_function(student, teacher)
        )


def test_float32_student_gets_float32_loss_and_gradient():
    student, teacher = _random_logits(9)
    student = student.float().requires_grad_(True)
    for loss_function in LOSSES:
        student.grad = None
        loss = loss_function(student, teacher.float())
        assert loss.dtype == torch.float32
        loss.backward()
        assert student.grad.dtype == torch.float32
        reference = loss_function(student.detach().double(), teacher)
        assert loss.item() == pytest.approx(reference.item(), rel=1e-5)


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_nll_with_cross_entropy_term(temperature):
    student, teacher = _random_logits(7, batch_size=16)
    nll = dirichlet_nll_loss(
        student, teacher, temperature=temperature, reduction="none"
    )
    ce = ensemble_cross_entropy_loss(
        student, teacher, temperature=temperature, reduction="none"
    )
    both = dirichlet_nll_loss(
        student, teacher, temperature=temperature, reduction="none", ce_weight=100.0
    )
    torch.testing.assert_close(both, nll + 100.0 * ce, rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(
        dirichlet_nll_loss(student, teacher, ce_weight=0.0),
        dirichlet_nll_loss(student, teacher),
    )
    module = DirichletNLLLoss(
        temperature=temperature, ce_weight=100.0, reduction="none"
    )
    torch.testing.assert_close(module(student, teacher), both)


@pytest.mark.parametrize("temperature", [1.0, 3.0])
def test_proxy_with_cross_entropy_term(temperature):
    # kl + λ·ce, with ce from the (smoothed) ensemble mean to the student's
    # Dirichlet mean α/α₀, α = exp(z/T) + 1; the T² factor covers both.
    student, teacher = _random_logits(5, batch_size=16)
    kl = proxy_dirichlet_loss(
        student, teacher, temperature=temperature, reduction="none"
    )
    both = proxy_dirichlet_loss(
        student, teacher, temperature=temperature, reduction="none", ce_weight=10.0
    )
    probs = torch.softmax(teacher / temperature, -1)
    probs = (1 - 1e-3) * probs + 1e-3 / probs.shape[-1]  # the default smoothing
    alphas = torch.exp(student / temperature) + 1.0
    mean = alphas / alphas.sum(-1, keepdim=True)
    ce = -(probs.mean(1) * torch.log(mean)).sum(-1)
    torch.testing.assert_close(
        both, kl + 10.0 * temperature**2 * ce, rtol=1e-9, atol=1e-9
    )
    module = ProxyDirichletLoss(
        temperature=temperature, ce_weight=10.0, reduction="none"
    )
    torch.testing.assert_close(module(student, teacher), both)
