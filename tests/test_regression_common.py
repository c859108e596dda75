"""scikit-learn's estimator checks for the two regressors."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from skend2 import DeepEnsembleRegressor, PriorNetworkRegressor


def _teacher():
    return DeepEnsembleRegressor(n_members=2, max_epochs=20, random_state=0)


# Small networks and few epochs, enough for check_regressors_train's R² > 0.5
# on its (standardised) make_regression data.
ESTIMATORS = [
    DeepEnsembleRegressor(n_members=2, max_epochs=20, random_state=0),
    DeepEnsembleRegressor(
        n_members=2, max_epochs=20, training="sequential", random_state=0
    ),
    PriorNetworkRegressor(_teacher(), max_epochs=20, random_state=0),
]


# No expected failures.
@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_regressor(estimator, check):
    check(estimator)
