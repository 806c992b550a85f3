"""Screen what users send before it reaches the bot: bad input never crashes, floods are slowed down.

- ``clean_input(text)`` -> ``(text_for_bot, note)``: invalid UTF-8, control and invisible formatting
  characters are dropped, spaces trimmed; an empty result means "answer ``EMPTY`` without asking the
  bot"; more than ``MAX_CHARS`` characters are cut (the start is kept) and ``note`` says so.
- ``RepeatDetector``: the 3rd identical message from one sender within 60 s gets a gentle line
  (the message is still answered); short answers such as "跳过"/"好的", numbers and buttons don't count.
- ``RateLimiter``: a token bucket per sender, ``XIESHANG_RATE_LIMIT`` messages a minute (default 20,
  0 = off); beyond it the channel answers ``RATE_LIMITED`` without asking the bot.
- ``Guard`` puts the three together for a channel: ``guard.screen(sender, raw)``.

Nothing here logs what a user wrote; senders appear in logs only as ``sender_ref(sender)``, a short
salted hash, and anything else logged goes through ``xieshang.privacy.mask``.
State is kept in memory per process (per Rasa replica) and bounded in size.
"""
from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import time
import unicodedata
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Callable, Deque, List, Optional, Tuple, Union

from xieshang.content import load
from xieshang.privacy import mask

logger = logging.getLogger(__name__)

MAX_CHARS = 2000
DEFAULT_RATE_LIMIT = 20  # messages per minute and sender
MAX_SENDERS = 50_000  # per-sender state kept in memory (least recently seen dropped first)

_TEXTS = load("guard")
EMPTY: str = _TEXTS["empty"]
TOO_LONG: str = _TEXTS["too_long"]
REPEATED: str = _TEXTS["repeated"]
RATE_LIMITED: str = _TEXTS["rate_limited"]
APOLOGY: str = _TEXTS["apology"]
UNREADABLE: str = _TEXTS["unreadable"]
SHORT_ANSWERS = frozenset(str(a).lower() for a in _TEXTS.get("short_answers", []))
_PUNCT = re.compile(r"[\s,.!?;:~，。！？；：、…～\"'“”‘’]+")
_NUMBERISH = re.compile(r"^[0-9０-９.,，万千百kK元块wW零一二三四五六七八九十两]+$")

# invisible characters that only confuse the NLU or hide text: zero-width space/non-joiner, word
# joiner, BOM, bidi embeddings/overrides/isolates, soft hyphen. ZWJ (U+200D) stays: emoji need it.
_INVISIBLE = {0x00AD, 0x200B, 0x200C, 0x200E, 0x200F, 0x2060, 0xFEFF, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_SALT = secrets.token_bytes(16)


def _keep(ch: str) -> bool:
    if ch in "\n\t":
        return True
    code = ord(ch)
    if code == 0xFFFD or code in _INVISIBLE:
        return False
    # Cc control, Cs lone surrogates (e.g. a JSON "\ud800"), Co private use, Cn unassigned
    return unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Cn")


def clean_input(text: Union[str, bytes, None]) -> Tuple[str, Optional[str]]:
    """Return ``(text_for_bot, note)``. ``text_for_bot == ""``: nothing to read (answer ``EMPTY``).

    ``note`` is ``TOO_LONG`` when the message was cut to ``MAX_CHARS`` characters, else ``None``.
    Never raises, whatever it is given.
    """
    if text is None:
        return "", None
    if isinstance(text, (bytes, bytearray)):
        text = bytes(text).decode("utf-8", errors="replace")
    elif not isinstance(text, str):
        text = str(text)
    text = "".join(ch for ch in text if _keep(ch))
    text = unicodedata.normalize("NFC", text).replace("\t", " ")
    # at most one empty line in a row, no trailing spaces
    lines = [line.strip() for line in text.split("\n")]
    out: List[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    text = "\n".join(out).strip()
    if len(text) > MAX_CHARS:
        return text[:MAX_CHARS].rstrip(), TOO_LONG
    return text, None


def sender_ref(sender: object) -> str:
    """What logs call a sender: a salted hash, so an id that is a phone number never shows."""
    return hashlib.sha256(_SALT + str(sender).encode("utf-8", "replace")).hexdigest()[:10]


def log_safe(value: object, limit: int = 200) -> str:
    """A value fit for a log line: identifiers masked, cut short."""
    return mask(str(value))[:limit]


class _Bounded(OrderedDict):
    """Per-sender state: least recently used entries go first beyond ``max_size``."""

    def __init__(self, max_size: int) -> None:
        super().__init__()
        self.max_size = max_size

    def touch(self, key: str, default: Callable[[], object]) -> object:
        if key in self:
            self.move_to_end(key)
        else:
            self[key] = default()
            while len(self) > self.max_size:
                self.popitem(last=False)
        return self[key]


def rate_limit_from_env(default: float = DEFAULT_RATE_LIMIT) -> float:
    raw = os.environ.get("XIESHANG_RATE_LIMIT", "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        logger.warning("XIESHANG_RATE_LIMIT=%s is not a number; using %s a minute", log_safe(raw, 20), default)
        return default
    return max(value, 0.0)


class RateLimiter:
    """Token bucket per sender: bursts up to ``per_minute`` messages, then ``per_minute`` a minute."""

    def __init__(
        self,
        per_minute: Optional[float] = None,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = MAX_SENDERS,
    ) -> None:
        self.per_minute = rate_limit_from_env() if per_minute is None else max(float(per_minute), 0.0)
        self.capacity = max(self.per_minute, 1.0)
        self.clock = clock
        self._buckets = _Bounded(max_senders)  # sender -> [tokens, last time]

    @property
    def enabled(self) -> bool:
        return self.per_minute > 0

    def allow(self, sender: str) -> bool:
        """Take one token for ``sender``; False when the bucket is empty (the message is refused)."""
        if not self.enabled:
            return True
        now = self.clock()
        bucket = self._buckets.touch(str(sender), lambda: [self.capacity, now])
        tokens = min(self.capacity, bucket[0] + (now - bucket[1]) * self.per_minute / 60.0)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return True
        bucket[0] = tokens
        logger.info("rate limit reached for sender %s", sender_ref(sender))
        return False


def repeatable(text: str) -> bool:
    """Answers that may well be sent several times in a row: "跳过", "好的", a number, a button."""
    core = _PUNCT.sub("", text).lower()
    return text.startswith("/") or not core or core in SHORT_ANSWERS or bool(_NUMBERISH.match(core))


class RepeatDetector:
    """Notices the same message sent again and again by one sender (short answers such as "跳过",
    numbers and button payloads do not count: ``repeatable``)."""

    def __init__(
        self,
        window: float = 60.0,
        threshold: int = 3,
        clock: Callable[[], float] = time.monotonic,
        max_senders: int = MAX_SENDERS,
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.clock = clock
        self._seen = _Bounded(max_senders)  # sender -> deque of (time, digest)

    def seen(self, sender: str, text: str) -> bool:
        """Record ``text``; True when it is the ``threshold``-th (or later) identical one in the window."""
        if repeatable(text):
            return False
        now = self.clock()
        digest = hashlib.sha256(_SALT + text.encode("utf-8", "replace")).digest()[:12]
        history: Deque[Tuple[float, bytes]] = self._seen.touch(str(sender), lambda: deque(maxlen=50))
        while history and now - history[0][0] > self.window:
            history.popleft()
        history.append((now, digest))
        return sum(1 for _, d in history if d == digest) >= self.threshold


@dataclass
class Screened:
    """What a channel does with one incoming message.

    ``reply``: answer this line and do not ask the bot. Otherwise ask the bot with ``text`` and show
    ``notes`` before its answer.
    """

    text: str
    notes: List[str] = field(default_factory=list)
    reply: Optional[str] = None


class Guard:
    def __init__(self, limiter: Optional[RateLimiter] = None, repeats: Optional[RepeatDetector] = None) -> None:
        self.limiter = limiter or RateLimiter()
        self.repeats = repeats or RepeatDetector()

    def screen(self, sender: str, raw: Union[str, bytes, None]) -> Screened:
        if not self.limiter.allow(sender):
            return Screened("", reply=RATE_LIMITED)
        text, note = clean_input(raw)
        if not text:
            return Screened("", reply=EMPTY)
        notes = [note] if note else []
        if self.repeats.seen(sender, text):
            logger.info("repeated message from sender %s", sender_ref(sender))
            notes.append(REPEATED)
        return Screened(text, notes)
