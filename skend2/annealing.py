"""Temperature annealing schedules for distillation, and their skorch callback."""

from __future__ import annotations

from numbers import Integral, Real

from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import Interval, RealNotInt
from skorch.callbacks import Callback

from ._validation import validate_params

__all__ = [
    "TemperatureAnnealing",
    "ExponentialAnnealing",
    "ConstantTemperature",
    "AnnealingCallback",
]


def _resolve_epochs(value: int | float, max_epochs: int) -> int:
    """An epoch count given as an int, or as a fraction of ``max_epochs``."""
    if isinstance(value, Integral):
        return int(value)
    return int(round(value * max_epochs))


_TEMPERATURE = [Interval(Real, 0, None, closed="neither")]
_EPOCHS = [
    Interval(Integral, 0, None, closed="left"),
    Interval(RealNotInt, 0, 1, closed="both"),
]


class _Schedule(BaseEstimator):
    """A temperature as a function of the epoch (0-based) and ``max_epochs``."""

    _parameter_constraints: dict[str, list] = {}

    def __call__(self, epoch: int, max_epochs: int) -> float:
        return float(self.temperature(epoch, max_epochs))

    def _validate_params(self) -> None:
        """Check every parameter against ``_parameter_constraints``."""
        validate_params(self, self._parameter_constraints, self.get_params())


class _HoldDecaySchedule(_Schedule):
    """Hold ``start``, move to ``end`` over ``decay_epochs``, then stay at ``end``."""

    _parameter_constraints: dict[str, list] = {
        "start": _TEMPERATURE,
        "end": _TEMPERATURE,
        "hold_epochs": _EPOCHS,
        "decay_epochs": _EPOCHS,
    }

    def __init__(
        self,
        start: float = 10.0,
        end: float = 1.0,
        hold_epochs: int | float = 1 / 3,
        decay_epochs: int | float = 1 / 3,
    ) -> None:
        self.start = start
        self.end = end
        self.hold_epochs = hold_epochs
        self.decay_epochs = decay_epochs

    def _interpolate(self, fraction: float) -> float:
        raise NotImplementedError

    def temperature(self, epoch: int, max_epochs: int) -> float:
        """Temperature of a 0-based ``epoch`` of a run of ``max_epochs`` epochs.

        Parameters
        ----------
        epoch : int
            The epoch about to be trained, counting from 0.
        max_epochs : int
            Length of the run, to resolve fractional ``hold_epochs`` and
            ``decay_epochs``.

        Returns
        -------
        temperature : float
            The temperature T > 0 by which logits are divided in that epoch.
        """
        self._validate_params()
        hold = _resolve_epochs(self.hold_epochs, max_epochs)
        decay = _resolve_epochs(self.decay_epochs, max_epochs)
        if epoch < hold:
            return float(self.start)
        if epoch >= hold + decay:
            return float(self.end)
        # The last decay epoch reaches ``end`` exactly.
        return self._interpolate((epoch - hold + 1) / decay)


class TemperatureAnnealing(_HoldDecaySchedule):
    """The EnD² reference schedule: hold ``start``, decay linearly, then ``end``.

    Without annealing, the EnD² Dirichlet likelihood trains poorly: the members'
    predictions are nearly one-hot and the Dirichlet's gradients from the tail
    classes dominate. Heating both teacher and student (logits divided by T, loss
    multiplied by T²) smooths the targets early on; cooling to T = 1 then fits the
    real distribution (Malinin et al., 2020, Section 4 and Appendix).

    Parameters
    ----------
    start : float, default=10.0
        Initial temperature T₀ (10 in the paper).
    end : float, default=1.0
        Final temperature.
    hold_epochs : int or float, default=1/3
        Epochs at ``start``; a float in [0, 1] is a fraction of ``max_epochs``.
    decay_epochs : int or float, default=1/3
        Epochs of the linear decay from ``start`` to ``end``; a float in [0, 1] is
        a fraction of ``max_epochs``. Training stays at ``end`` afterwards.

    See Also
    --------
    ExponentialAnnealing : The same shape with a geometric decay.
    ConstantTemperature : No annealing.

    References
    ----------
    .. [1] A. Malinin, B. Mlodozeniec and M. Gales, "Ensemble Distribution
       Distillation", ICLR 2020, arXiv:1905.00076.

    Examples
    --------
    >>> from skend2.annealing import TemperatureAnnealing
    >>> schedule = TemperatureAnnealing(start=10, hold_epochs=2, decay_epochs=3)
    >>> [round(schedule(epoch, max_epochs=8), 2) for epoch in range(8)]
    [10.0, 10.0, 7.0, 4.0, 1.0, 1.0, 1.0, 1.0]
    """

    def _interpolate(self, fraction: float) -> float:
        return float(self.start + (self.end - self.start) * fraction)


class ExponentialAnnealing(_HoldDecaySchedule):
    """Hold ``start``, decay geometrically to ``end``, then stay at ``end``.

    A geometric decay spends more of the decay near low temperatures than the
    linear reference schedule, where the Dirichlet fit to the real (untempered)
    member predictions is refined.

    Parameters
    ----------
    start : float, default=10.0
        Initial temperature.
    end : float, default=1.0
        Final temperature.
    hold_epochs : int or float, default=1/3
        Epochs at ``start``; a float in [0, 1] is a fraction of ``max_epochs``.
    decay_epochs : int or float, default=1/3
        Epochs of the geometric decay; a float in [0, 1] is a fraction of
        ``max_epochs``.

    See Also
    --------
    TemperatureAnnealing : The paper's linear schedule.

    Examples
    --------
    >>> from skend2.annealing import ExponentialAnnealing
    >>> schedule = ExponentialAnnealing(start=8, hold_epochs=1, decay_epochs=3)
    >>> [round(schedule(epoch, max_epochs=5), 2) for epoch in range(5)]
    [8.0, 4.0, 2.0, 1.0, 1.0]
    """

    def _interpolate(self, fraction: float) -> float:
        return float(self.start * (self.end / self.start) ** fraction)


class ConstantTemperature(_Schedule):
    """A constant temperature (``ConstantTemperature(1.0)`` is no annealing).

    Parameters
    ----------
    value : float, default=1.0
        The temperature throughout training.

    Examples
    --------
    >>> from skend2.annealing import ConstantTemperature
    >>> ConstantTemperature(2.5)(epoch=7, max_epochs=10)
    2.5
    """

    _parameter_constraints: dict[str, list] = {"value": _TEMPERATURE}

    def __init__(self, value: float = 1.0) -> None:
        self.value = value

    def temperature(self, epoch: int, max_epochs: int) -> float:
        """Return the constant temperature, whatever the epoch.

        Parameters
        ----------
        epoch : int
            The epoch about to be trained (unused).
        max_epochs : int
            Length of the run (unused).

        Returns
        -------
        temperature : float
            ``value``.
        """
        self._validate_params()
        return float(self.value)


class AnnealingCallback(Callback):
    """Set the loss's temperature at the start of every epoch from a schedule.

    The temperature is an attribute of the net's criterion, changed in place:
    ``set_params`` would re-initialise the module. The value used in each epoch is
    recorded in the history under ``"temperature"``.

    Parameters
    ----------
    schedule : callable
        ``schedule(epoch, max_epochs) -> float``, e.g. a
        :class:`TemperatureAnnealing`.

    Examples
    --------
    >>> from skend2.annealing import AnnealingCallback, TemperatureAnnealing
    >>> callback = AnnealingCallback(TemperatureAnnealing())
    """

    def __init__(self, schedule) -> None:
        self.schedule = schedule

    def on_epoch_begin(self, net, **kwargs) -> None:
        epoch = len(net.history) - 1
        temperature = float(self.schedule(epoch, net.max_epochs))
        net.criterion_.temperature = temperature
        net.history.record("temperature", temperature)

    def on_train_end(self, net, **kwargs) -> None:
        # Whatever the schedule's last value, the model is used at T = 1.
        net.criterion_.temperature = 1.0
