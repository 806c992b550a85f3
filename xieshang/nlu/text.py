"""Length-preserving text normalisation for the NLU pipeline.

Every change is one character for one character, so entity offsets computed on the normalised text
are valid on the user's original text: traditional → simplified characters (OpenCC's character
table), full-width ASCII → half-width, Latin letters lower-cased.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Dict


@lru_cache(maxsize=1)
def _table() -> Dict[int, str]:
    table: Dict[int, str] = {}
    try:
        import opencc  # opencc-python-reimplemented ships the dictionaries as text files

        path = Path(opencc.__file__).resolve().parent / "dictionary" / "TSCharacters.txt"
        for line in path.read_text(encoding="utf-8").splitlines():
            parts = line.split("\t")
            if len(parts) == 2:
                src, dst = parts[0], parts[1].split(" ")[0]
                if len(src) == 1 and len(dst) == 1 and src != dst:
                    table[ord(src)] = dst
    except (ImportError, OSError):  # pragma: no cover - the dependency is pinned
        pass
    # Full-width ASCII (！ to ～) and the ideographic space.
    for code in range(0xFF01, 0xFF5F):
        table[code] = chr(code - 0xFEE0)
    table[0x3000] = " "
    return table


def normalise(text: str) -> str:
    """Simplified, half-width, lower-case; ``len(normalise(t)) == len(t)`` always."""
    if not text:
        return text or ""
    out = text.translate(_table())
    # str.lower() can change length for a few characters (e.g. 'İ'); lower ASCII only.
    return "".join(c.lower() if "A" <= c <= "Z" else c for c in out)
