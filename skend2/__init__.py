"""skend2: Ensemble Distribution Distillation (EnD²) for scikit-learn."""

from ._measures import predict_uncertainty
from ._persistence import get_untrusted_types, load, save
from .annealing import ConstantTemperature, ExponentialAnnealing, TemperatureAnnealing
from .distillation import EnsembleDistiller, PriorNetworkDistiller
from .ensemble import DeepEnsembleClassifier
from .regression import DeepEnsembleRegressor, PriorNetworkRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "DeepEnsembleClassifier",
    "EnsembleDistiller",
    "PriorNetworkDistiller",
    "DeepEnsembleRegressor",
    "PriorNetworkRegressor",
    "TemperatureAnnealing",
    "ExponentialAnnealing",
    "ConstantTemperature",
    "save",
    "load",
    "get_untrusted_types",
    "predict_uncertainty",
    "__version__",
]
