"""scikit-learn's estimator checks, once for every skend2 estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller


def _teacher():
    return DeepEnsembleClassifier(n_members=2, max_epochs=5, random_state=0)


# Small settings so the checks run fast, but enough epochs for the students to
# pass check_classifiers_train's accuracy bar.
ESTIMATORS = [
    DeepEnsembleClassifier(n_members=2, max_epochs=3, random_state=0),
    DeepEnsembleClassifier(
        n_members=2, max_epochs=3, training="sequential", random_state=0
    ),
    EnsembleDistiller(_teacher(), max_epochs=15, random_state=0),
    PriorNetworkDistiller(_teacher(), max_epochs=15, random_state=0),
    PriorNetworkDistiller(_teacher(), loss="proxy", max_epochs=15, random_state=0),
]


# One expected (non-strict) failure, the same for every estimator: torch computes in
# float32, and BLAS picks different kernels (gemv for one row, blocked gemm for
# many), so a row's probabilities differ between batch sizes at the 1e-7 level,
# just above the check's tolerance. It passes or fails by chance of rounding.
EXPECTED_FAILURES = {
    "check_methods_subset_invariance": "float32 BLAS rounding differs between "
    "batch sizes at the 1e-7 level (the check's tolerance)",
}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda _: EXPECTED_FAILURES)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
