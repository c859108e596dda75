"""scikit-learn's estimator checks, once for every skend2 estimator."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skend2 import DeepEnsembleClassifier, EnsembleDistiller, PriorNetworkDistiller


def _teacher():
    return DeepEnsembleClassifier(n_members=2, max_epochs=5, random_state=0)


# Small settings so the checks run fast, but enough epochs for the students to
# pass check_classifiers_train's accuracy bar. No expected failures.
ESTIMATORS = [
    DeepEnsembleClassifier(n_members=2, max_epochs=3, random_state=0),
    DeepEnsembleClassifier(
        n_members=2, max_epochs=3, training="sequential", random_state=0
    ),
    EnsembleDistiller(_teacher(), max_epochs=15, random_state=0),
    PriorNetworkDistiller(_teacher(), max_epochs=15, random_state=0),
    PriorNetworkDistiller(_teacher(), loss="proxy", max_epochs=15, random_state=0),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
