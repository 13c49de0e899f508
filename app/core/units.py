"""Speed units. The core works in km/h; people see what their program or member uses."""

from __future__ import annotations

#: Exact by definition of the international mile (1609.344 m).
KMH_PER_MPH = 1.609344

UNITS = ("mph", "kmh")


def to_kmh(value: float, units: str) -> float:
    """Convert *value* in *units* (``"mph"`` or ``"kmh"``) to km/h."""
    if units == "mph":
        return value * KMH_PER_MPH
    if units == "kmh":
        return float(value)
    raise ValueError(f"unknown speed unit {units!r}; use mph or kmh")


def from_kmh(value_kmh: float, units: str) -> float:
    """Convert *value_kmh* to *units* (``"mph"`` or ``"kmh"``)."""
    if units == "mph":
        return value_kmh / KMH_PER_MPH
    if units == "kmh":
        return float(value_kmh)
    raise ValueError(f"unknown speed unit {units!r}; use mph or kmh")


def unit_label(units: str) -> str:
    return "mph" if units == "mph" else "km/h"


def format_speed(value_kmh: float, units: str) -> str:
    """One decimal, as a treadmill console shows it: ``"0.8 mph"``."""
    return f"{from_kmh(value_kmh, units):.1f} {unit_label(units)}"
