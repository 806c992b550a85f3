"""Custom Rasa NLU components. Thin: the logic lives in xieshang.nlu (plain Python, tested)."""
