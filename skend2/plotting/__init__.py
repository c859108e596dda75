"""Displays for ensemble and EnD² uncertainty: maps, simplices, OOD ROC, regression.

Needs matplotlib (``pip install skend2[plot]``), imported only when a figure is
drawn. Each display has its own private module; the set-up they share is in
``_base``.
"""

# Absolute imports: the tests also execute this file under another module name,
# to check that it imports without matplotlib.
from skend2.plotting._map_comparison import plot_uncertainty_maps
from skend2.plotting._ood import OODDetectionDisplay
from skend2.plotting._regression import RegressionBandsDisplay, RejectionCurveDisplay
from skend2.plotting._simplex import DirichletSimplexDisplay
from skend2.plotting._uncertainty_map import UncertaintyMapDisplay

__all__ = [
    "DirichletSimplexDisplay",
    "OODDetectionDisplay",
    "RegressionBandsDisplay",
    "RejectionCurveDisplay",
    "UncertaintyMapDisplay",
    "plot_uncertainty_maps",
]
