"""Compare two printed outputs: text exactly, integers exactly, decimals within a tolerance.

nbval compares a re-executed cell's text with the golden notebook's, character by character.
A decimal printed by a CPU and by a GPU can differ in its last digits (other kernels, other
summation orders), so the root ``conftest.py`` asks :func:`outputs_agree` first and treats
the texts as equal when it says yes. Everything else must match exactly.

A decimal ``a`` (golden) agrees with ``b`` (re-executed) when
``|a - b| <= max(RTOL * max(|a|, |b|), unit)``, where ``unit`` is one unit of the last
printed digit of the less precise of the two: a value near a rounding boundary (0.82995)
may print as ``0.8299`` on one machine and ``0.8300`` on another.
"""

from __future__ import annotations

import re

# 0.01 %: float32 noise between CPUs and GPUs in a compared cell (a forward pass, a sum) is
# about 1e-6 relative; results of long training, where noise grows, are ignored and asserted
# instead. An accuracy that moves by 8 of 10,000 test images (0.8279 -> 0.8271) still fails.
RTOL = 1e-4

# A number that is not part of a name (float16, fc1): optional sign, digits, optional
# decimals, optional exponent. Integers are the matches with neither decimals nor exponent.
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w])")


def _unit(token: str) -> float:
    """One unit of the last printed digit of ``token`` (a decimal), e.g. 0.0001 for 0.8299."""
    mantissa, _, exponent = token.lower().partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def _is_integer(token: str) -> bool:
    return not any(c in token for c in ".eE")


def numbers_agree(golden: str, got: str, rtol: float = RTOL) -> bool:
    """True when two printed numbers are the same value up to printing and float noise."""
    if _is_integer(golden) or _is_integer(got):
        return golden == got
    a, b = float(golden), float(got)
    unit = max(_unit(golden), _unit(got))
    return abs(a - b) <= max(rtol * max(abs(a), abs(b)), unit) * (1 + 1e-9)


def outputs_agree(golden: str, got: str, rtol: float = RTOL) -> bool:
    """True when the texts are equal outside numbers and their numbers agree pairwise."""
    if golden == got:
        return True
    if NUMBER.split(golden) != NUMBER.split(got):
        return False
    pairs = zip(NUMBER.findall(golden), NUMBER.findall(got), strict=True)
    return all(numbers_agree(a, b, rtol) for a, b in pairs)
