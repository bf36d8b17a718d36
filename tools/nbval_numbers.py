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

# Results of training (a cell tagged ``nbval-trained``): ten epochs of SGD or Adam amplify
# float noise, so the last digits of a loss or an accuracy differ between thread counts,
# CPUs and GPUs. Such cells compare every number, integers included, within 0.5 % relative:
# an accuracy of 0.8335 may move by 0.004 (40 of 10,000 test images, about one standard
# error). Measured across thread counts and CPU kernels (AVX-512, AVX2): SGD runs and short
# Adam runs agree within 0.25 % (chapter 4's one-epoch losses to six digits), and a real
# change to training fails (Adam's learning rate 0.001 -> 0.0012 moves them 3.4 %,
# tests/test_nbval_gate.py). After ten epochs of Adam at batch 32 the noise reaches 4 % in a
# validation loss, more than that change: such cells stay ignored, with asserts.
TRAINED_RTOL = 5e-3
TRAINED_TAG = "nbval-trained"

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


def numbers_agree(golden: str, got: str, rtol: float = RTOL, integers_exact: bool = True) -> bool:
    """True when two printed numbers are the same value up to printing and float noise."""
    if integers_exact and (_is_integer(golden) or _is_integer(got)):
        return golden == got
    a, b = float(golden), float(got)
    unit = max(_unit(golden), _unit(got))
    return abs(a - b) <= max(rtol * max(abs(a), abs(b)), unit) * (1 + 1e-9)


def outputs_agree(golden: str, got: str, trained: bool = False) -> bool:
    """True when the texts are equal outside numbers and their numbers agree pairwise.

    ``trained``: the cell prints results of training; every number, integers included,
    agrees within ``TRAINED_RTOL`` (thousands separators are read as part of the number).
    """
    if golden == got:
        return True
    if trained:
        golden, got = _ungroup(golden), _ungroup(got)
    if NUMBER.split(golden) != NUMBER.split(got):
        return False
    pairs = zip(NUMBER.findall(golden), NUMBER.findall(got), strict=True)
    if trained:
        return all(numbers_agree(a, b, TRAINED_RTOL, integers_exact=False) for a, b in pairs)
    return all(numbers_agree(a, b) for a, b in pairs)


def _ungroup(text: str) -> str:
    """``1,665`` -> ``1665``: a count printed with a thousands separator is one number."""
    return re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
