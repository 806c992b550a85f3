"""The Rasa project's Python parts: components, channels, tracker store, and how Rasa is started
(bot/serve.py). Kept free of imports: bot/serve.py must run before Rasa is imported."""
