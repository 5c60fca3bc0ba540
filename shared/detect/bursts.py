"""Sliding time windows over a user's timeline: where events crowd together.

Used by brute force and MFA fatigue ("at least N events within M minutes").
"""

from __future__ import annotations

from collections.abc import Sequence


def bursts(
    times: Sequence[float], weights: Sequence[int], window_s: float, threshold: int
) -> list[tuple[int, int]]:
    """Index ranges [first, last] (inclusive, merged) where events within `window_s` seconds of
    each other weigh at least `threshold`. `times` must be ascending (seconds)."""
    found: list[tuple[int, int]] = []
    start, weight = 0, 0
    for end, moment in enumerate(times):
        weight += weights[end]
        while moment - times[start] > window_s:
            weight -= weights[start]
            start += 1
        if weight >= threshold:
            if found and start <= found[-1][1]:
                found[-1] = (found[-1][0], end)
            else:
                found.append((start, end))
    return found
