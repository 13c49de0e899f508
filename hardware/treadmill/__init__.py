"""The treadmill over serial: CSAFE frames (:mod:`.protocol`, pure), the station's link over pyserial
(:mod:`.link`) and a simulated CSAFE treadmill on a pseudo-terminal (:mod:`.simulator`).

Import the module you need; nothing is imported here, so that the pure protocol can be used
without pyserial.
"""
