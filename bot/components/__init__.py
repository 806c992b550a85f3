"""Custom Rasa NLU components. Thin: the logic lives in xieshang.nlu (plain Python, tested).

Every Rasa process that serves this project's model loads this package, so the measured fixes to
Rasa's serving path (bot/speedups.py) are applied here.
"""
from bot import speedups

speedups.install()
