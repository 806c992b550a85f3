"""Mask personal identifiers before anything is stored or logged.

Mobile and landline numbers, 18-digit resident ID numbers, bank card numbers (Luhn-valid) and
e-mail addresses become placeholders such as 〔手机号〕, so the bot still knows a number was given
but the number itself never reaches the tracker store or a log file.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Any, Optional, Text

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


# ------------------------------------------------------------------ pseudonymous sender ids
# The conversation store (bot/tracker_store.py) and the diary (xieshang/diary.py) keep a keyed hash
# of the sender id a channel gives (a WeChat openid, a web chat session, or whatever a REST client
# sends, possibly a phone number), never the id itself.
STORED_PREFIX = "h:"
STORED_FORM = re.compile(r"h:[0-9a-f]{64}\Z")


def var_dir() -> Path:
    return Path(os.environ.get("XIESHANG_VAR") or Path(__file__).resolve().parent.parent / "var")


def sender_key(directory: Optional[Path] = None) -> bytes:
    """The key for stored sender ids: env XIESHANG_SENDER_KEY, else a file made once in var/."""
    if os.environ.get("XIESHANG_SENDER_KEY"):
        return os.environ["XIESHANG_SENDER_KEY"].encode()
    path = (directory or var_dir()) / "sender-key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".sender-key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic: a worker starting at the same time reads a whole key or makes its own
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip().encode()


def stored_sender_id(sender_id: Text, key: bytes) -> Text:
    """What the database holds instead of a sender id (fits the 255-character column)."""
    if STORED_FORM.match(sender_id):  # already the stored form (ids listed by keys(), e.g. rasa export)
        return sender_id
    return STORED_PREFIX + hmac.new(key, sender_id.encode("utf-8", "replace"), hashlib.sha256).hexdigest()
