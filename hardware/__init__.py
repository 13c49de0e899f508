"""Backstep's hardware: a leaf library. It never imports ``app`` or pygame (docs/architecture.md).

Sensors on gpiozero device classes, the CSAFE treadmill link over pyserial, a CSAFE treadmill
simulator, and the simulated station that puts them together on gpiozero's MockFactory.
"""
