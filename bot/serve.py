"""Start Rasa the way ``make run`` does: ``python -m bot.serve run --model ... [rasa's own options]``.

The same as the ``rasa`` command, except that TensorFlow is kept out of the process unless the model
needs it (bot/lean.py): start-up is about 2 s shorter and the server holds a few hundred MB less;
and with ``SANIC_WORKERS`` > 1 each worker listens on its own socket (bot/workers.py), so the
workers share the connections instead of one worker taking a whole burst.
"""
from __future__ import annotations

import sys
from typing import Optional

from bot import lean, workers


def model_argument(argv: list) -> Optional[str]:
    for i, arg in enumerate(argv):
        if arg in ("--model", "-m") and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--model="):
            return arg.split("=", 1)[1]
    return None


def main(argv: list) -> None:
    # without --model Rasa picks the newest model itself: then nothing is deferred
    lean.install(model_argument(argv) or "")
    workers.install()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *argv]
    rasa_main()


if __name__ == "__main__":
    main(sys.argv[1:])
