"""Delay-based location bounds: how far from a landmark a chip can be, given the round
trip of its answer, and whether its declared site is within that reach.

A signal in optical fibre travels at about two thirds of the speed of light, about
200 km per millisecond; the answer goes there and back, so a round trip of `rtt` ms
puts the chip within `rtt / 2 * 200` km of the landmark (processing time only makes
the round trip longer, so the bound errs on the generous side: a chip can be closer
than it allows, never farther). Distances on the ground are great-circle distances
(the `haversine` package, mean Earth radius 6,371 km; within 0.5% of the ellipsoid,
which the reach dwarfs). Pure: numbers in, numbers out.
"""

from __future__ import annotations

from dataclasses import dataclass

from haversine import Unit, haversine

KM_PER_MS_IN_FIBRE = 200.0
"""One-way distance per millisecond of one-way time in fibre (CNAS 2024; IAPS)."""


def reach_km(rtt_ms: float, km_per_ms: float = KM_PER_MS_IN_FIBRE) -> float:
    """The farthest a chip answering in `rtt_ms` can be from the landmark."""
    return rtt_ms / 2.0 * km_per_ms


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance between two (latitude, longitude) points, km."""
    return float(haversine(a, b, unit=Unit.KILOMETERS))


@dataclass(frozen=True)
class Bound:
    """One landmark's measurement of a chip against the chip's declared site."""

    landmark: str
    rtt_ms: float
    reach_km: float
    site_km: float
    """Distance from the landmark to the declared site."""

    @property
    def consistent(self) -> bool:
        """The declared site is within the reach the round trip allows."""
        return self.site_km <= self.reach_km

    def describe(self) -> str:
        return (
            f"{self.landmark} is {self.site_km:,.0f} km from the declared site; "
            f"a {self.rtt_ms:g} ms round trip allows at most {self.reach_km:,.0f} km"
        )


def bound(
    landmark: str,
    landmark_at: tuple[float, float],
    site: tuple[float, float],
    rtt_ms: float,
    km_per_ms: float = KM_PER_MS_IN_FIBRE,
) -> Bound:
    return Bound(landmark, rtt_ms, reach_km(rtt_ms, km_per_ms), distance_km(landmark_at, site))
