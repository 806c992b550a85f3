"""Crisis detection: self-harm, suicide and despair come before any talk about debt.

``is_crisis(text)`` is checked on every user message before intent handling; ``crisis_reply()`` is
the warm reply with the verified hotlines (12356 psychological assistance, 110/120 for immediate
danger). Words, exclusions and the reply text live in ``content/crisis.yml``.

Plain Python: no Rasa imports.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import List, Optional, Pattern, Tuple

from xieshang.content import load
from xieshang.facts import render

# Spaces, punctuation and symbols are dropped so that "不想 活了" and "活着，没意思" still match.
_STRIP = re.compile(r"[\s\W_]+", re.UNICODE)


@lru_cache(maxsize=1)
def _converter():
    try:
        import opencc  # opencc-python-reimplemented, a pinned project dependency

        return opencc.OpenCC("t2s")
    except Exception:  # pragma: no cover - dependency missing: Simplified-only matching
        return None


@lru_cache(maxsize=1)
def _config() -> Tuple[List[Pattern[str]], List[Pattern[str]], Tuple[str, ...], dict]:
    data = load("crisis")
    patterns = [re.compile(p) for p in data["patterns"]]
    excludes = [re.compile(p) for p in data.get("exclude", [])]
    negations = tuple(sorted(data.get("negations", []), key=len, reverse=True))
    fold = {ord(k): v for k, v in (data.get("fold") or {}).items()}
    return patterns, excludes, negations, fold


def normalise(text: str) -> str:
    """Simplified characters, lower-case, no spaces or punctuation."""
    if not text:
        return ""
    conv = _converter()
    if conv is not None:
        text = conv.convert(text)
    _, _, _, fold = _config()
    text = text.translate(fold).lower()
    return _STRIP.sub("", text)


def match(text: Optional[str]) -> Optional[str]:
    """The crisis phrase found in ``text`` (normalised form), or None."""
    norm = normalise(text or "")
    if not norm:
        return None
    patterns, excludes, negations, _ = _config()
    excluded = [m.span() for ex in excludes for m in ex.finditer(norm)]
    for pattern in patterns:
        for m in pattern.finditer(norm):
            start, end = m.span()
            if any(s < end and start < e for s, e in excluded):
                continue
            if any(norm[:start].endswith(neg) for neg in negations):
                continue
            return m.group(0)
    return None


def is_crisis(text: Optional[str]) -> bool:
    """True when the message speaks of suicide, self-harm or not wanting to live."""
    return match(text) is not None


def crisis_reply() -> str:
    """Warm, short reply: safety first, verified hotlines, then an offer to go on together."""
    return render(load("crisis")["reply"]).strip()
