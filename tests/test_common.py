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


# No expected failures. check_methods_subset_invariance used to fail by chance of
# float32 rounding: BLAS computes a row of a product of fewer than 8 rows with other
# kernels than the same row among many. skend2 pads predict batches of fewer than
# 16 rows, which makes a row's outputs bit-identical whatever it is predicted with
# (measured with MKL on 1 and 2 threads, MLP and CNN, batches of 1 to 4096 rows).
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
