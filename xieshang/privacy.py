"""Mask personal identifiers before anything is stored or logged.

Mobile and landline numbers, 18-digit resident ID numbers, bank card numbers (Luhn-valid) and
e-mail addresses become placeholders such as 〔手机号〕, so the bot still knows a number was given
but the number itself never reaches the tracker store or a log file.
"""
from __future__ import annotations

import re
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ID_CARD = re.compile(r"(?<![0-9])[1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])[0-9]{3}[0-9Xx](?![0-9])")
# digits with optional single spaces or dashes between groups (card numbers are often written in 4s)
DIGIT_RUN = re.compile(r"(?<![0-9])[0-9](?:[ -]?[0-9]){10,22}(?![0-9])")
MOBILE = re.compile(r"(?<![0-9])(?:\+?86[ -]?)?1[3-9][0-9](?:[ -]?[0-9]){8}(?![0-9])")
LANDLINE = re.compile(r"(?<![0-9])0[1-9][0-9]{1,2}[ -]?[0-9]{7,8}(?![0-9])")
SERVICE = re.compile(r"(?<![0-9])(?:400|800)[ -]?[0-9]{3}[ -]?[0-9]{4}(?![0-9])")

MASKS = {"mobile": "〔手机号〕", "landline": "〔电话〕", "id": "〔身份证号〕", "card": "〔银行卡号〕", "email": "〔邮箱〕"}


def luhn_ok(digits: str) -> bool:
    total, parity = 0, len(digits) % 2
    for i, ch in enumerate(digits):
        d = int(ch)
        if i % 2 == parity:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _cards(match: "re.Match[str]") -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    if 13 <= len(digits) <= 19 and luhn_ok(digits):
        return MASKS["card"]
    return match.group(0)


def mask(text: str) -> str:
    """Replace identifiers in ``text`` by placeholders. Idempotent, never raises on odd input."""
    if not text or not isinstance(text, str):
        return text
    text = EMAIL.sub(MASKS["email"], text)
    text = ID_CARD.sub(MASKS["id"], text)
    text = MOBILE.sub(MASKS["mobile"], text)
    text = DIGIT_RUN.sub(_cards, text)
    text = LANDLINE.sub(MASKS["landline"], text)
    return text


def mask_data(value: Any) -> Any:
    """Mask every string inside nested dicts/lists (event dicts, slot values, parse data)."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, list):
        return [mask_data(v) for v in value]
    if isinstance(value, tuple):
        return tuple(mask_data(v) for v in value)
    if isinstance(value, dict):
        return {k: mask_data(v) for k, v in value.items()}
    return value
