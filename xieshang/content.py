"""Load the project's content files (YAML under xieshang/content/).

Content is data: scripts, templates, personas, answers and the facts file live in YAML so that a
lawyer or a native speaker can fix them without touching Python.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

CONTENT_DIR = Path(__file__).resolve().parent / "content"


@lru_cache(maxsize=None)
def load(name: str) -> Any:
    """Return the parsed YAML file ``content/<name>`` (``.yml`` added when missing)."""
    path = CONTENT_DIR / (name if name.endswith(".yml") else f"{name}.yml")
    with path.open(encoding="utf-8") as fh:
        return yaml.safe_load(fh)
