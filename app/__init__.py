"""Backstep: a supervised backward-walking station for an ordinary treadmill."""

__version__ = "0.1.0"
