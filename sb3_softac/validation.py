"""Checks of SoftAC's inputs: every error names the bad value and says what is accepted.

Every error is a :class:`SoftACValueError` (a ``ValueError``). Where SB3's ``SAC`` raises for the
same input, the error is also an instance of SB3's exception type (:class:`AssertionValueError`,
:class:`TypeValueError`, :class:`ZeroDivisionValueError`), so code written against SB3 that catches
SB3's error (``except AssertionError``) catches SoftAC's too. ``tests/test_validation.py`` compares
each case with SB3's ``SAC`` in the same test.
"""

import math
import warnings
from collections.abc import Collection
from numbers import Integral, Real
from typing import Any

import numpy as np
from gymnasium import spaces


class SoftACValueError(ValueError):
    """An input SoftAC rejects; the message names the value and what is accepted."""


class AssertionValueError(SoftACValueError, AssertionError):
    """An input on which SB3's SAC fails an ``assert``."""


class TypeValueError(SoftACValueError, TypeError):
    """An input of a type on which SB3's SAC raises ``TypeError`` (``float(None)``, ``range(1.5)``)."""


class ZeroDivisionValueError(SoftACValueError, ZeroDivisionError):
    """An input SB3's SAC divides by (``target_update_interval=0``)."""


def _wrong_type(value: Any) -> bool:
    """Neither a number nor a string: SB3's ``float(value)`` / ``int`` use raises ``TypeError`` on it."""
    return not isinstance(value, (Real, str, np.bool_))


def check_real(
    name: str,
    value: Any,
    accepted: str,
    low: float = -math.inf,
    high: float = math.inf,
    low_open: bool = False,
    from_string: bool = False,
    error: type[SoftACValueError] = SoftACValueError,
) -> float:
    """
    The one number check behind every real-valued option.

    :param name: The argument's name, for the message.
    :param value: The value to check.
    :param accepted: What is accepted, for the message (e.g. ``"a number in [0, 1]"``).
    :param low: Smallest accepted value.
    :param high: Largest accepted value.
    :param low_open: Exclude ``low`` itself.
    :param from_string: Also accept a string that ``float()`` reads (as SB3 does for ``ent_coef`` and
        ``target_entropy``).
    :param error: The error type for a number out of range (a type error is always :class:`TypeValueError`).
    :return: ``value`` as a float.
    :raises SoftACValueError: Unless ``value`` is a finite real number (not a bool) in the range.
    """
    number = math.nan
    if isinstance(value, Real) and not isinstance(value, (bool, np.bool_)):
        number = float(value)
    elif from_string and isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            pass
    in_range = (low < number if low_open else low <= number) and number <= high
    if not (math.isfinite(number) and in_range):
        raise (TypeValueError if _wrong_type(value) else error)(f"{name}={value!r} is invalid. Accepted: {accepted}.")
    return number


def check_int(name: str, value: Any, accepted: str, low: int = 1, error: type[SoftACValueError] = SoftACValueError) -> int:
    """
    :param name: The argument's name, for the message.
    :param value: The value to check.
    :param accepted: What is accepted, for the message.
    :param low: Smallest accepted value.
    :param error: The error type for an integer below ``low``.
    :return: ``value`` as an int.
    :raises SoftACValueError: Unless ``value`` is an integer (not a bool) >= ``low``
        (:class:`TypeValueError` for a non-integer).
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise TypeValueError(f"{name}={value!r} is invalid. Accepted: {accepted}.")
    if value < low:
        raise error(f"{name}={value!r} is invalid. Accepted: {accepted}.")
    return int(value)


def check_choice(name: str, value: Any, choices: Collection[Any]) -> Any:
    """
    :param name: The argument's name, for the message.
    :param value: The value to check.
    :param choices: The accepted values.
    :return: ``value``.
    :raises SoftACValueError: Unless ``value`` is one of ``choices``.
    """
    if not any(isinstance(value, type(choice)) and value == choice for choice in choices):
        raise SoftACValueError(f"{name}={value!r} is invalid. Accepted: {', '.join(map(repr, choices))}.")
    return value


def check_flag(name: str, value: Any) -> bool:
    """
    :param name: The argument's name, for the message.
    :param value: The value to check.
    :return: ``value`` as a bool.
    :raises SoftACValueError: Unless ``value`` is ``True`` or ``False`` (numpy bools included).
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeValueError(f"{name}={value!r} is invalid. Accepted: True or False.")
    return bool(value)


ENT_COEF_FORMS = "'auto', 'auto_<initial value>' such as 'auto_0.1', or a fixed temperature >= 0 (0: no entropy term)"


def parse_ent_coef(ent_coef: Any) -> tuple[bool, float]:
    """
    Read SB3's ``ent_coef`` convention, as SB3's SAC reads it.

    A string starting with ``"auto"`` learns the temperature, starting at 1 or at the number after the
    first ``"_"``; anything else is a fixed temperature (a number, or a string ``float()`` reads).
    Where SB3 reads a string that is not one of the documented forms (``"automatic"``,
    ``"auto_0.1_x"``), SoftAC reads it the same way and warns.

    :param ent_coef: ``"auto"``, ``"auto_<init>"`` or a number >= 0.
    :return: ``(learned, initial_value)``.
    """
    if isinstance(ent_coef, str) and ent_coef.startswith("auto"):
        if "_" not in ent_coef:
            init_value, canonical = 1.0, "auto"
        else:
            init_text = ent_coef.split("_")[1]
            canonical = f"auto_{init_text}"
            try:
                init_value = float(init_text)
            except ValueError:
                raise SoftACValueError(
                    f"ent_coef={ent_coef!r} is malformed: {init_text!r} after 'auto_' is not a number. "
                    f"Accepted: {ENT_COEF_FORMS}."
                ) from None
            if not init_value > 0.0:  # SB3 asserts this (NaN included)
                raise AssertionValueError(
                    f"ent_coef={ent_coef!r} is invalid: the initial temperature after 'auto_' must be > 0. "
                    f"Accepted: {ENT_COEF_FORMS}."
                )
            if not math.isfinite(init_value):
                raise SoftACValueError(
                    f"ent_coef={ent_coef!r} is invalid: the initial temperature must be finite. Accepted: {ENT_COEF_FORMS}."
                )
        if ent_coef != canonical:
            warnings.warn(
                f"ent_coef={ent_coef!r} is read as {canonical!r}, as SB3's SAC reads it; write {canonical!r} to silence this.",
                stacklevel=3,
            )
        return True, init_value
    return False, check_real("ent_coef", ent_coef, ENT_COEF_FORMS, low=0.0, from_string=True)


def resolve_target_entropy(target_entropy: Any, action_space: spaces.Box) -> float:
    """
    :param target_entropy: ``"auto"`` for ``-dim(A)`` (Haarnoja et al. 2018b, Section 5), or a number.
    :param action_space: The action space.
    :return: The target entropy ``H_0`` as a float.
    """
    if isinstance(target_entropy, str) and target_entropy == "auto":
        return -float(np.prod(action_space.shape))
    return check_target_entropy(target_entropy)


def check_target_entropy(target_entropy: Any) -> float:
    """
    :param target_entropy: ``"auto"`` or a finite number (or a string ``float()`` reads, as SB3 accepts).
    :return: The number (``nan`` for ``"auto"``, which needs the action space: :func:`resolve_target_entropy`).
    """
    if isinstance(target_entropy, str) and target_entropy == "auto":
        return math.nan
    accepted = "'auto' (= -dim(action space)) or a finite number, e.g. target_entropy=-6.0"
    return check_real("target_entropy", target_entropy, accepted, from_string=True)


def check_action_space(action_space: spaces.Space) -> None:
    """
    :param action_space: The environment's action space.
    :raises AssertionValueError: Unless it is a ``Box`` with finite bounds (the policy squashes with tanh
        and rescales to the bounds); SB3's SAC asserts both.
    """
    if not isinstance(action_space, spaces.Box):
        raise AssertionValueError(
            f"SoftAC needs a continuous gymnasium.spaces.Box action space, got {action_space}. "
            "For Discrete, MultiDiscrete or MultiBinary actions use an algorithm for discrete actions (e.g. SB3's DQN or PPO)."
        )
    if not (np.all(np.isfinite(action_space.low)) and np.all(np.isfinite(action_space.high))):
        raise AssertionValueError(
            f"SoftAC needs finite action bounds to rescale its tanh-squashed actions, got {action_space}. "
            "Give the Box finite low/high (e.g. wrap the env with gymnasium.wrappers.RescaleAction)."
        )


def check_hyperparameters(tau: Any, gamma: Any, ent_coef: Any, target_entropy: Any, target_update_interval: Any) -> None:
    """
    Validate SB3's scalar SAC hyperparameters at construction.

    :param tau: Polyak coefficient, in [0, 1] (0: targets frozen).
    :param gamma: Discount factor, in [0, 1].
    :param ent_coef: See :func:`parse_ent_coef`.
    :param target_entropy: See :func:`check_target_entropy`.
    :param target_update_interval: Integer >= 1.
    """
    check_real(
        "tau",
        tau,
        "the soft target update coefficient, a number in [0, 1] (0: targets frozen, 1: hard copy)",
        low=0.0,
        high=1.0,
    )
    check_real("gamma", gamma, "the discount factor, a number in [0, 1]", low=0.0, high=1.0)
    parse_ent_coef(ent_coef)
    check_target_entropy(target_entropy)
    check_int(
        "target_update_interval",
        target_update_interval,
        "an integer >= 1 (the target networks are updated every that many gradient steps)",
        error=ZeroDivisionValueError if target_update_interval == 0 else SoftACValueError,
    )
