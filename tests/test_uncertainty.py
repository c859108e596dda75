"""Tests of skend2.uncertainty: closed forms, identities, numerics and validation."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from scipy.special import rel_entr

from skend2.uncertainty import (
    DIRICHLET_MEASURES,
    ENSEMBLE_MEASURES,
    dirichlet_uncertainty,
    dirichlet_uncertainty_from_logits,
    ensemble_uncertainty,
)

N_MC_SAMPLES = 100_000
N_MC_BATCHES = 100


def _random_members(rng, n_samples, n_members, n_classes, concentration=0.5):
    """Member probabilities drawn from a symmetric Dirichlet, per input."""
    return rng.dirichlet(np.full(n_classes, concentration), size=(n_samples, n_members))


def _log_uniform(rng, low, high, size):
    return np.exp(rng.uniform(np.log(low), np.log(high), size=size))


def test_measure_names():
    assert ENSEMBLE_MEASURES == ("total", "data", "knowledge", "epkl", "mkl")
    assert DIRICHLET_MEASURES == ENSEMBLE_MEASURES + (
        "differential_entropy",
        "precision",
    )
    u = dirichlet_uncertainty(np.ones((2, 3)))
    assert tuple(u) == DIRICHLET_MEASURES
    assert tuple(ensemble_uncertainty(np.full((2, 4, 3), 1 / 3))) == ENSEMBLE_MEASURES


# --------------------------------------------------------------------------- #
# Closed forms against Monte Carlo and high-precision references
# --------------------------------------------------------------------------- #
_rng_cases = np.random.default_rng(123)
MC_CASES = [
    ([0.05, 0.3], ("total", "data", "knowledge")),
    ([0.1, 1.0, 10.0], ("total", "data", "knowledge")),
    (list(_log_uniform(_rng_cases, 0.05, 100, 10)), ("total", "data", "knowledge")),
    # epkl and mkl involve E[ln πₖ] = ψ(αₖ) − ψ(α₀), whose samples are heavy-tailed
    # for small αₖ; below α ≈ 0.5 a visible share of the samples also falls under
    # the 1e-12 floor that keeps the ensemble's epkl/mkl finite, so the Monte
    # Carlo estimate is biased low there. These cases use α ≥ 0.5.
    ([0.5, 2.0], ENSEMBLE_MEASURES),
    ([0.5, 3.0, 10.0], ENSEMBLE_MEASURES),
    ([100.0, 50.0, 100.0], ENSEMBLE_MEASURES),
    (list(_log_uniform(_rng_cases, 0.5, 100, 10)), ENSEMBLE_MEASURES),
]


@pytest.mark.parametrize(
    "alpha, measures",
    MC_CASES,
    ids=[f"K{len(a)}-{i}" for i, (a, _) in enumerate(MC_CASES)],
)
@pytest.mark.slow
def test_dirichlet_closed_forms_match_monte_carlo(alpha, measures):
    # Members drawn from Dir(α) form an ensemble whose measures converge to the
    # Dirichlet closed forms (total: H[mean π] → H[α/α₀]). The standard error of
    # each Monte Carlo estimate is computed from the samples by batch means: the
    # 100,000 samples are split into 100 ensembles of 1,000, the estimator's spread
    # over those gives its standard deviation at n = 1,000, and dividing by
    # sqrt(100) scales it to n = 100,000. Tolerance: 5 standard errors.
    alpha = np.asarray(alpha)
    rng = np.random.default_rng(len(alpha) * 1000 + int(alpha.sum()))
    samples = rng.dirichlet(alpha, size=N_MC_SAMPLES)
    full = ensemble_uncertainty(samples[None])
    batches = ensemble_uncertainty(samples.reshape(N_MC_BATCHES, -1, len(alpha)))
    closed = dirichlet_uncertainty(alpha[None])
    for measure in measures:
        standard_error = batches[measure].std(ddof=1) / np.sqrt(N_MC_BATCHES)
        # The test must be sharp enough to tell K from K − 1 or ψ(α) from ψ(α + 1).
        assert 5 * standard_error < 0.05 * closed[measure][0], measure
        assert full[measure][0] == pytest.approx(
            closed[measure][0], abs=5 * standard_error
        ), measure


@pytest.mark.parametrize("n_classes", [2, 3, 10])
def test_differential_entropy_matches_scipy(n_classes):
    rng = np.random.default_rng(n_classes)
    alphas = _log_uniform(rng, 0.05, 100, (20, n_classes))
    ours = dirichlet_uncertainty(alphas).differential_entropy
    reference = [scipy.stats.dirichlet(a).entropy() for a in alphas]
    np.testing.assert_allclose(ours, reference, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("n_classes", [1, 2, 3, 10, 50])
def test_dirichlet_matches_textbook_formulas_on_a_dense_grid(n_classes):
    # ψ and lnΓ come from shifted Stirling series, not scipy: check every measure
    # against the textbook formulas with scipy's ψ and lnΓ wherever those are well
    # conditioned (α from 1e-3 to 1e3), densely enough to cover every branch:
    # x < 20 (shifted series), x ≥ 20 (series at x), and the switch at 20.
    from scipy.special import digamma, gammaln

    rng = np.random.default_rng(n_classes)
    alphas = _log_uniform(rng, 1e-3, 1e3, (400, n_classes))
    alphas[:50] = rng.uniform(19.0, 21.0, (50, n_classes))
    alphas[50:60] = 20.0
    a0 = alphas.sum(1, keepdims=True)
    p = alphas / a0
    total = -(p * np.log(p)).sum(1)
    data = -(p * (digamma(alphas + 1) - digamma(a0 + 1))).sum(1)
    reference = {
        "total": total,
        "data": data,
        "knowledge": total - data,
        "epkl": (n_classes - 1) / a0[:, 0],
        "mkl": (p * (np.log(p) - digamma(alphas) + digamma(a0))).sum(1),
        "differential_entropy": gammaln(alphas).sum(1)
        - gammaln(a0[:, 0])
        - ((alphas - 1) * (digamma(alphas) - digamma(a0))).sum(1),
        "precision": a0[:, 0],
    }
    ours = dirichlet_uncertainty(alphas)
    for measure, value in reference.items():
        np.testing.assert_allclose(
            ours[measure], value, rtol=1e-9, atol=1e-11, err_msg=measure
        )


@pytest.mark.parametrize(
    "alpha",
    [
        [1e-6, 1e-6, 1e-6],
        [1e6, 1e6, 1e6],
        [1e-6, 1e6, 1.0],
        [0.05, 100.0, 3.0],
        [19.9, 20.1, 0.3],  # either side of the switch to asymptotic series
        [1e12, 3e12, 1.0],  # beyond scipy's naive formula, still accurate here
    ],
)
def test_dirichlet_matches_high_precision_reference(alpha):
    mpmath = pytest.importorskip("mpmath")
    mp = mpmath.mp
    with mpmath.workdps(60):
        a = [mp.mpf(x) for x in alpha]
        a0 = sum(a)
        p = [x / a0 for x in a]
        psi = mp.digamma
        total = -sum(q * mp.log(q) for q in p)
        data = -sum(q * (psi(x + 1) - psi(a0 + 1)) for q, x in zip(p, a))
        mkl = sum(q * (mp.log(q) - psi(x) + psi(a0)) for q, x in zip(p, a))
        entropy = (
            sum(mp.loggamma(x) for x in a)
            - mp.loggamma(a0)
            - sum((x - 1) * (psi(x) - psi(a0)) for x in a)
        )
        reference = {
            "total": total,
            "data": data,
            "knowledge": total - data,
            "epkl": (len(a) - 1) / a0,
            "mkl": mkl,
            "differential_entropy": entropy,
            "precision": a0,
        }
        reference = {key: float(value) for key, value in reference.items()}
    ours = dirichlet_uncertainty(np.array([alpha]))
    for measure, value in reference.items():
        assert ours[measure][0] == pytest.approx(value, rel=1e-8, abs=1e-13), measure


# --------------------------------------------------------------------------- #
# Identities and bounds
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("n_classes", [2, 3, 10, 100])
def test_dirichlet_identities_over_wide_range(n_classes):
    rng = np.random.default_rng(n_classes)
    alphas = _log_uniform(rng, 1e-6, 1e6, (200, n_classes))
    alphas[0] = 1e-6
    alphas[1] = 1e6
    u = dirichlet_uncertainty(alphas)
    for measure in DIRICHLET_MEASURES:
        assert np.isfinite(u[measure]).all(), measure
    for measure in ENSEMBLE_MEASURES + ("precision",):
        assert (u[measure] >= 0).all(), measure
    assert (u.total <= np.log(n_classes) + 1e-12).all()
    np.testing.assert_allclose(u.total, u.data + u.knowledge, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(u.mkl, u.epkl - u.knowledge, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(u.precision, alphas.sum(1), rtol=1e-12)
    np.testing.assert_allclose(u.epkl, (n_classes - 1) / alphas.sum(1), rtol=1e-12)
    # Flat (all 1e-6) Dirichlets are pure knowledge uncertainty, sharp ones none.
    assert u.knowledge[0] == pytest.approx(np.log(n_classes), rel=1e-4)
    assert u.knowledge[1] == pytest.approx(
        (n_classes - 1) / (2 * 1e6 * n_classes), rel=1e-4
    )


def test_ensemble_identities():
    rng = np.random.default_rng(0)
    probs = _random_members(rng, 50, 7, 4)
    probs[:5, :, 0] = 0.0  # exact zeros in some members
    probs /= probs.sum(-1, keepdims=True)
    u = ensemble_uncertainty(probs)
    for measure in ENSEMBLE_MEASURES:
        assert np.isfinite(u[measure]).all() and (u[measure] >= 0).all(), measure
    assert (u.total <= np.log(4) + 1e-12).all()
    np.testing.assert_allclose(u.total, u.data + u.knowledge, atol=1e-12)
    np.testing.assert_allclose(u.mkl, u.epkl - u.knowledge, atol=1e-12)


def test_ensemble_invariant_to_member_order():
    rng = np.random.default_rng(1)
    probs = _random_members(rng, 20, 6, 5)
    u = ensemble_uncertainty(probs)
    shuffled = ensemble_uncertainty(probs[:, rng.permutation(6)])
    for measure in ENSEMBLE_MEASURES:
        np.testing.assert_allclose(
            shuffled[measure], u[measure], rtol=1e-12, atol=1e-14
        )


@pytest.mark.parametrize("probs", [[0.2, 0.5, 0.3], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
def test_agreeing_members_have_no_knowledge_uncertainty(probs):
    members = np.tile(np.asarray(probs), (3, 8, 1))
    u = ensemble_uncertainty(members)
    np.testing.assert_allclose(u.total, scipy.stats.entropy(probs), atol=1e-12)
    np.testing.assert_allclose(u.data, u.total, atol=1e-12)
    for measure in ("knowledge", "epkl", "mkl"):
        np.testing.assert_allclose(u[measure], 0.0, atol=1e-12)


def test_epkl_and_mkl_match_brute_force():
    rng = np.random.default_rng(2)
    probs = _random_members(rng, 4, 5, 3, concentration=1.0)
    u = ensemble_uncertainty(probs)
    for n in range(probs.shape[0]):
        members = probs[n]
        pairs = [
            rel_entr(members[i], members[j]).sum()
            for i in range(len(members))
            for j in range(len(members))
        ]
        mean = members.mean(0)
        mkl = np.mean([rel_entr(mean, member).sum() for member in members])
        assert u.epkl[n] == pytest.approx(np.mean(pairs), rel=1e-10)
        assert u.mkl[n] == pytest.approx(mkl, rel=1e-10)
        assert u.mkl[n] == pytest.approx(u.epkl[n] - u.knowledge[n], rel=1e-10)


def test_ensemble_finite_for_one_hot_members():
    # Two one-hot members that disagree: the KL between them is infinite in theory;
    # the 1e-12 floor makes each disagreeing ordered pair contribute ln(1e12).
    members = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    u = ensemble_uncertainty(members)
    assert u.total[0] == pytest.approx(np.log(2))
    assert u.data[0] == 0.0
    assert u.knowledge[0] == pytest.approx(np.log(2))
    assert u.epkl[0] == pytest.approx(0.5 * np.log(1e12))
    assert u.mkl[0] == pytest.approx(0.5 * np.log(1e12) - np.log(2))


@pytest.mark.parametrize("n_members", [1, 7])
def test_ensemble_measures_from_logits_match_the_public_function(n_members):
    # The estimators' path (one log-softmax of the members' logits, no
    # re-validation) against ensemble_uncertainty of the softmax probabilities,
    # including logits so large that the softmax underflows to exact zeros.
    from skend2.uncertainty import _ensemble_uncertainty_from_logits

    rng = np.random.default_rng(n_members)
    logits = torch.from_numpy(rng.normal(size=(60, n_members, 4)) * 3).float()
    logits[:10] *= 1e3
    fast = _ensemble_uncertainty_from_logits(logits)
    reference = ensemble_uncertainty(torch.softmax(logits.double(), -1))
    for measure in ENSEMBLE_MEASURES:
        assert fast[measure].dtype == torch.float64
        np.testing.assert_allclose(
            fast[measure], reference[measure], rtol=1e-10, atol=1e-12
        )
    if n_members == 1:  # a one-member ensemble has no knowledge uncertainty
        assert (fast["knowledge"] == 0).all()
        assert torch.equal(fast["data"], fast["total"])
    logits[3, 0, 1] = float("nan")
    with pytest.raises(ValueError, match="logits contains NaN"):
        _ensemble_uncertainty_from_logits(logits)


# --------------------------------------------------------------------------- #
# numpy / torch and logits
# --------------------------------------------------------------------------- #
def test_numpy_and_torch_give_the_same_values():
    rng = np.random.default_rng(3)
    probs = _random_members(rng, 10, 4, 3)
    alphas = _log_uniform(rng, 0.1, 10, (10, 3))
    cases = [
        (ensemble_uncertainty, probs),
        (dirichlet_uncertainty, alphas),
        (dirichlet_uncertainty_from_logits, np.log(alphas)),
    ]
    for function, values in cases:
        from_numpy = function(values)
        from_list = function(values.tolist())
        from_float64 = function(torch.from_numpy(values))
        from_float32 = function(torch.from_numpy(values).float())
        for measure, expected in from_numpy.items():
            assert isinstance(expected, np.ndarray) and expected.dtype == np.float64
            assert expected.shape == (10,)
            np.testing.assert_array_equal(from_list[measure], expected)
            assert from_float64[measure].dtype == torch.float64
            np.testing.assert_array_equal(from_float64[measure].numpy(), expected)
            assert from_float32[measure].dtype == torch.float32
            np.testing.assert_allclose(
                from_float32[measure].numpy(), expected, rtol=1e-4, atol=1e-5
            )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_torch_results_stay_on_the_input_device():
    alphas = torch.rand(5, 3, device="cuda") + 0.1
    u = dirichlet_uncertainty(alphas)
    expected = dirichlet_uncertainty(alphas.cpu().numpy())
    for measure in DIRICHLET_MEASURES:
        assert u[measure].device == alphas.device and u[measure].dtype == torch.float32
        np.testing.assert_allclose(
            u[measure].cpu().numpy(), expected[measure], rtol=1e-5
        )
    members = torch.softmax(torch.randn(5, 4, 3, device="cuda"), -1)
    assert ensemble_uncertainty(members).total.device == members.device


def test_from_logits_matches_alphas():
    rng = np.random.default_rng(4)
    logits = rng.normal(scale=3.0, size=(30, 4))
    for offset in (0.0, 1.0, 0.5):
        u = dirichlet_uncertainty_from_logits(logits, offset=offset)
        expected = dirichlet_uncertainty(np.exp(logits) + offset)
        for measure in DIRICHLET_MEASURES:
            np.testing.assert_allclose(
                u[measure], expected[measure], rtol=1e-10, atol=1e-12
            )


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("offset", [0.0, 1.0])
def test_from_logits_finite_for_huge_logits(dtype, offset):
    logits = torch.tensor(
        [
            [1e4, 0.0, 0.0],
            [-1e4, -1e4, -1e4],
            [1e4, 1e4, 1e4],
            [1e4, -1e4, 0.0],
            # Finite, but in float32 their sum overflows: the quick finite check
            # (one sum) must fall back to the element-wise one, not reject them.
            [3e38, 3e38, -3e38],
        ],
        dtype=dtype,
    )
    u = dirichlet_uncertainty_from_logits(logits, offset=offset)
    for measure in DIRICHLET_MEASURES:
        assert u[measure].dtype == dtype
        assert torch.isfinite(u[measure]).all(), measure
        if measure != "differential_entropy":
            assert (u[measure] >= 0).all(), measure
    # One huge logit: a confident, certain prediction.
    assert float(u.total[0]) == pytest.approx(0.0, abs=1e-6)
    assert float(u.knowledge[0]) == pytest.approx(0.0, abs=1e-6)
    if offset == 0.0:
        # All tiny concentrations: a flat Dirichlet, all knowledge uncertainty.
        assert float(u.knowledge[1]) == pytest.approx(math.log(3), rel=1e-6)
    else:
        # α = exp(z) + 1 → 1: the uniform Dirichlet.
        expected = dirichlet_uncertainty(np.ones((1, 3)))
        assert float(u.knowledge[1]) == pytest.approx(expected.knowledge[0], rel=1e-6)


def test_empty_input_gives_empty_output():
    assert ensemble_uncertainty(np.empty((0, 3, 2))).total.shape == (0,)
    assert dirichlet_uncertainty(np.empty((0, 2))).precision.shape == (0,)


# --------------------------------------------------------------------------- #
# Validation
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize(
    "probs, match",
    [
        (np.full((3, 2), 0.5), "shape"),
        (np.full((1, 2, 3, 2), 0.5), "shape"),
        (np.full((2, 0, 3), 0.5), "member"),
        (np.array([[[0.5, np.nan]]]), "NaN"),
        (np.array([[[1.5, -0.5]]]), "negative"),
        (np.array([[[0.5, 0.6]]]), "sum to 1"),
        (np.array([[[2.0, -1.0, 0.5]]]), "negative"),
        (np.array([[[3.0, 1.0]]]), "logits"),
    ],
)
def test_ensemble_rejects_bad_input(probs, match):
    with pytest.raises(ValueError, match=match):
        ensemble_uncertainty(probs)


@pytest.mark.parametrize(
    "alphas, match",
    [
        (np.ones(3), "shape"),
        (np.ones((2, 3, 1)), "shape"),
        (np.array([[1.0, 0.0]]), "positive"),
        (np.array([[1.0, -2.0]]), "positive"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([[1.0, np.inf]]), "infinite"),
    ],
)
def test_dirichlet_rejects_bad_input(alphas, match):
    with pytest.raises(ValueError, match=match):
        dirichlet_uncertainty(alphas)


def test_from_logits_rejects_bad_input():
    with pytest.raises(ValueError, match="shape"):
        dirichlet_uncertainty_from_logits(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        dirichlet_uncertainty_from_logits(np.array([[0.0, np.nan]]))
    with pytest.raises(ValueError, match="offset"):
        dirichlet_uncertainty_from_logits(np.zeros((1, 3)), offset=-1.0)
    with pytest.raises(TypeError, match="offset"):
        dirichlet_uncertainty_from_logits(np.zeros((1, 3)), offset="one")
    with pytest.raises(TypeError, match="numeric"):
        dirichlet_uncertainty(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="real"):
        dirichlet_uncertainty(torch.ones(2, 3, dtype=torch.complex64))
