"""Declarative parameter checks: one table of constraints per class, one engine.

Each estimator and annealing schedule declares ``_parameter_constraints`` in
scikit-learn's vocabulary (:class:`~sklearn.utils._param_validation.Interval`,
``StrOptions``, ``HasMethods``, types, ``None``, ``"boolean"``, ``callable``) and
calls :func:`validate_params` once at the start of ``fit``. Unlike scikit-learn's
``InvalidParameterError`` (both a ``ValueError`` and a ``TypeError``), the error
says which fault it is: a value of a type that no constraint accepts raises
``TypeError``; a value of an accepted type outside its range or options raises
``ValueError``. ``bool`` is never taken for a number.
"""

from __future__ import annotations

import inspect
from numbers import Integral
from typing import Any

import numpy as np
from sklearn.utils._param_validation import (
    Interval,
    Options,
    StrOptions,
    _Constraint,
    make_constraint,
)

__all__: list[str] = []


class SubclassOf(_Constraint):
    """A class that is ``base`` or derives from it (e.g. an optimizer class)."""

    def __init__(self, base: type, description: str) -> None:
        super().__init__()
        self.base = base
        self.description = description

    def is_satisfied_by(self, val: Any) -> bool:
        return isinstance(val, type) and issubclass(val, self.base)

    def __str__(self) -> str:
        return self.description


class InstanceOf(_Constraint):
    """An instance of ``types``, described in words."""

    def __init__(self, types: type | tuple[type, ...], description: str) -> None:
        super().__init__()
        self.types = types
        self.description = description

    def is_satisfied_by(self, val: Any) -> bool:
        return isinstance(val, self.types)

    def __str__(self) -> str:
        return self.description


# scikit-learn's "random_state" constraint, spelt out so that an int outside
# [0, 2**32 - 1] is a ValueError and a string a TypeError.
RANDOM_STATE = [
    Interval(Integral, 0, 2**32 - 1, closed="both"),
    InstanceOf(np.random.RandomState, "an instance of 'numpy.random.RandomState'"),
    None,
]


def _typed(constraint: _Constraint, value: Any) -> bool:
    """Whether ``value`` has the type that a range/options constraint is about."""
    if isinstance(constraint, Interval):
        return isinstance(value, constraint.type) and not isinstance(value, bool)
    if isinstance(constraint, StrOptions):
        return isinstance(value, str)
    if isinstance(constraint, Options):
        return isinstance(value, constraint.type) and not isinstance(value, bool)
    return False


def _satisfies(constraint: _Constraint, value: Any) -> bool:
    if isinstance(value, bool) and isinstance(constraint, (Interval, Options)):
        return False
    return constraint.is_satisfied_by(value)


def _describe(constraints: list[_Constraint]) -> str:
    shown = [str(c) for c in constraints if not getattr(c, "hidden", False)]
    if len(shown) == 1:
        return shown[0]
    return f"{', '.join(shown[:-1])} or {shown[-1]}"


def validate_params(owner: Any, constraints: dict[str, list], params: dict) -> None:
    """Check ``params`` against ``constraints``; raise TypeError or ValueError.

    Parameters missing from ``constraints`` are not checked here (the dunder
    parameters routed to skorch are checked by :func:`check_keyword_names`).
    """
    name_of_owner = type(owner).__name__
    for name, value in params.items():
        if name not in constraints:
            continue
        made = [
            c if isinstance(c, _Constraint) else make_constraint(c)
            for c in constraints[name]
        ]
        if any(_satisfies(c, value) for c in made):
            continue
        error = ValueError if any(_typed(c, value) for c in made) else TypeError
        raise error(
            f"The {name!r} parameter of {name_of_owner} must be "
            f"{_describe(made)}. Got {value!r} instead."
        )


def check_keyword_names(
    owner: str,
    prefix: str,
    names: list[str],
    target: Any,
    *,
    extra: tuple[str, ...] = (),
    reserved: tuple[str, ...] = (),
) -> None:
    """Raise ValueError if ``prefix__name`` is not a parameter of ``target``.

    ``target`` is the class (or function) that receives the keywords; one that
    takes ``**kwargs`` accepts any name. ``extra`` names are accepted as well;
    ``reserved`` ones are set by skend2 itself and refused.
    """
    taken = sorted(set(names) & set(reserved))
    if taken:
        shown = ", ".join(f"{prefix}__{n}" for n in taken)
        raise ValueError(f"{owner} sets {shown} itself; it cannot be a parameter.")
    parameters = inspect.signature(target).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return
    accepted = ({p.name for p in parameters} | set(extra)) - set(reserved)
    unknown = sorted(set(names) - accepted)
    if unknown:
        shown = ", ".join(f"{prefix}__{n}" for n in unknown)
        options = ", ".join(sorted(accepted - {"self"})) or "none"
        raise ValueError(
            f"{owner} got {shown}, but {getattr(target, '__name__', target)} "
            f"accepts no such parameter; it accepts: {options}."
        )
