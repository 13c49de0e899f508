"""The pure core: program model, safety state machine, session timing, view.

Nothing here may import pygame, gpiozero, serial, sqlite, threads or read a clock:
time is always passed in. A test scans the imports (tests/test_dependency_rule.py).
"""
