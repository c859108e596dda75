"""skend2: Ensemble Distribution Distillation (EnD²) for scikit-learn."""

from .annealing import ConstantTemperature, ExponentialAnnealing, TemperatureAnnealing
from .distillation import EnsembleDistiller, PriorNetworkDistiller
from .ensemble import DeepEnsembleClassifier

__version__ = "0.1.0.dev0"

__all__ = [
    "DeepEnsembleClassifier",
    "EnsembleDistiller",
    "PriorNetworkDistiller",
    "TemperatureAnnealing",
    "ExponentialAnnealing",
    "ConstantTemperature",
    "__version__",
]
