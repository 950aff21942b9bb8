"""Association statistics for document co-occurrence: Fisher's exact test and normalised PMI.

For two terms X and Y over ``total`` documents, ``both`` hold X and Y, ``with_x`` hold X and ``with_y`` hold Y.
The 2×2 table is ``[[both, with_x - both], [with_y - both, total - with_x - with_y + both]]``; the
one-sided Fisher p-value is the hypergeometric upper tail ``P(K >= both)``, the chance of at least this
many shared documents if X and Y were placed independently (Hetionet's test for MEDLINE co-occurrence).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

_TAIL_EPSILON = 1e-17  # a term this small beside the running sum no longer changes a double


@dataclass(frozen=True, slots=True)
class Association:
    """How strongly two terms co-occur over a set of documents."""

    both: int
    with_x: int
    with_y: int
    total: int
    expected: float
    ratio: float
    p_value: float
    npmi: float


def _log_choose(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def _log_pmf(k: int, with_x: int, with_y: int, total: int) -> float:
    return _log_choose(with_x, k) + _log_choose(total - with_x, with_y - k) - _log_choose(total, with_y)


def fisher_greater(both: int, with_x: int, with_y: int, total: int) -> float:
    """One-sided (greater) Fisher's exact p-value: ``P(K >= both)`` for K hypergeometric(total, with_x, with_y).

    Same as ``scipy.stats.fisher_exact(table, alternative="greater")[1]``.  The tail is summed from
    whichever side is shorter, each term from the previous by the pmf ratio, stopping once terms vanish.
    """
    if not 0 <= both <= min(with_x, with_y) or max(with_x, with_y) > total or with_x + with_y - both > total:
        raise ValueError(f"impossible 2x2 table: both={both}, with_x={with_x}, with_y={with_y}, total={total}")
    low, high = max(0, with_x + with_y - total), min(with_x, with_y)
    if both <= low:
        return 1.0
    mode = (with_x + 1) * (with_y + 1) // (total + 2)
    if both >= mode:  # upper tail: terms fall from ``both`` on
        return min(1.0, _tail_sum(both, high, 1, with_x, with_y, total))
    # lower tail P(K <= both - 1): terms fall from ``both - 1`` downwards
    return max(0.0, 1.0 - _tail_sum(both - 1, low, -1, with_x, with_y, total))


def _tail_sum(start: int, stop: int, step: int, with_x: int, with_y: int, total: int) -> float:
    """Sum of the pmf from ``start`` to ``stop`` (inclusive, moving by ``step``), from a falling first term."""
    term = math.exp(_log_pmf(start, with_x, with_y, total))
    found = term
    rest = total - with_x - with_y
    k = start
    while k != stop and term > found * _TAIL_EPSILON:
        if step > 0:  # pmf(k + 1) / pmf(k)
            term *= (with_x - k) * (with_y - k) / ((k + 1) * (rest + k + 1))
        else:  # pmf(k - 1) / pmf(k)
            term *= k * (rest + k) / ((with_x - k + 1) * (with_y - k + 1))
        k += step
        found += term
    return found


def associate(both: int, with_x: int, with_y: int, total: int) -> Association:
    """Counts, expected shared documents, observed/expected ratio, Fisher p-value and NPMI of one pair.

    NPMI (normalised pointwise mutual information, ``log(ratio) / -log(both / total)``) lies in [-1, 1]:
    0 for independence, 1 when the terms only ever occur together; it is less inflated by rare terms than
    the ratio.
    """
    expected = with_x * with_y / total if total else 0.0
    ratio = both / expected if expected else 0.0
    if both == 0 or ratio == 0.0:
        npmi = -1.0
    elif both == total:
        npmi = 1.0
    else:
        npmi = max(-1.0, min(1.0, math.log(ratio) / -math.log(both / total)))
    return Association(both, with_x, with_y, total, expected, ratio, fisher_greater(both, with_x, with_y, total), npmi)
