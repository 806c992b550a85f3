"""The evidence diary: one line per collector contact, kept for the complaint.

"记一下 昨晚11点 138xxxx 打给我妈说我诈骗，有录音" becomes an entry with when (resolved to a date
and time), channel (电话/短信/微信/上门), the collector's number or name, who was contacted, what was
said and the evidence held (录音/截图). The user can list, correct ("改第2条 时间是前天下午3点") and
delete entries, and export them as a dated, numbered annex that the complaint letter attaches.

Storage is a small SQLite table keyed by the sender id, at ``$XIESHANG_DIARY_DB``, else
``$XIESHANG_VAR/diary.db``, else ``var/diary.db`` at the repository root (directories are created).
Privacy: the collector's number or name is evidence and kept as given; every other identifier in
the user's words (their own phone, ID, card numbers, e-mail) is masked with
:func:`xieshang.privacy.mask` before it is written. ``erase(sender)`` removes a sender's diary (the
delete-my-data hook); entries untouched for the retention period (``XIESHANG_RETENTION_DAYS``,
default 30, like conversations) are purged.

Hooks for other flows: :func:`annex_for` (complaint letter) and :func:`erase` (delete-my-data).
"""
from __future__ import annotations

import os
import re
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from xieshang.content import load
from xieshang.document import Document
from xieshang.nlu.text import normalise
from xieshang.privacy import mask, sender_key, stored_sender_id
from xieshang.timeexpr import display, local_from_timestamp, local_now, small_number, when as find_when

ROOT = Path(__file__).resolve().parent.parent
FIELDS = ("at", "precision", "period", "channel", "collector", "contacted", "what", "evidence")
MAX_TEXT = 1000
SENTINEL = "\uE000"  # stands in for the collector's number while the rest is masked

SCHEMA = """
CREATE TABLE IF NOT EXISTS diary_entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender TEXT NOT NULL,
    created REAL NOT NULL,
    updated REAL NOT NULL,
    at TEXT,
    precision TEXT,
    period TEXT,
    channel TEXT,
    collector TEXT,
    contacted TEXT,
    what TEXT,
    evidence TEXT,
    note TEXT
);
CREATE INDEX IF NOT EXISTS diary_entries_sender ON diary_entries(sender);
"""


def _c() -> Dict[str, Any]:
    return load("diary")


def message(key: str, **values: Any) -> str:
    """A reply from content/diary.yml ``messages`` with its placeholders filled."""
    return _c()["messages"][key].format(one=1, two=2, **values)


def db_path() -> Path:
    """Where the diary lives (read from the environment at every call)."""
    explicit = os.environ.get("XIESHANG_DIARY_DB")
    if explicit:
        return Path(explicit)
    var = os.environ.get("XIESHANG_VAR")
    return (Path(var) if var else ROOT / "var") / "diary.db"


# ------------------------------------------------------------------------------------- entries


@dataclass
class Entry:
    id: int = 0
    sender: str = ""
    created: float = 0.0
    updated: float = 0.0
    at: Optional[str] = None          # ISO "YYYY-MM-DDTHH:MM" of the incident
    precision: Optional[str] = None   # minute | period | day | None (see timeexpr.TimeMention)
    period: Optional[str] = None      # 上午/晚上/... when no clock time was given
    channel: Optional[str] = None     # 电话、短信、微信、上门 (several joined by 、)
    collector: Optional[str] = None   # the collector's number or name: evidence, kept as given
    contacted: Optional[str] = None   # who was contacted (本人, 我妈, 我领导 ...)
    what: Optional[str] = None        # what happened / was said (masked)
    evidence: Optional[str] = None    # 录音、截图 ...
    note: str = ""                    # the user's words (masked, collector kept)

    @property
    def at_datetime(self) -> Optional[datetime]:
        if not self.at:
            return None
        try:
            return datetime.fromisoformat(self.at)
        except ValueError:
            return None

    @property
    def sort_key(self) -> Tuple[str, int]:
        dt = self.at_datetime or local_from_timestamp(self.created or 0)
        return (dt.isoformat(), self.id)

    def when_text(self, with_year: bool = False) -> str:
        text = display(self.at_datetime, self.precision, self.period, with_year=with_year)
        if text:
            return text
        line = _c()["line"]
        recorded = local_from_timestamp(self.created) if self.created else None
        if recorded is None:
            return line["unknown_time"]
        return line["unknown_time"] + line["recorded"].format(date=f"{recorded.month}月{recorded.day}日")

    def line(self) -> str:
        """One short line for the list view."""
        cfg = _c()["line"]
        parts = [self.when_text(), self.channel, self.collector,
                 f"联系了{self.contacted}" if self.contacted and self.contacted != cfg["self"] else None,
                 self.what, f"证据：{self.evidence}" if self.evidence else None]
        return cfg["sep"].join(p for p in parts if p)


# ------------------------------------------------------------------------------------- parsing


@lru_cache(maxsize=1)
def _rx() -> Dict[str, Any]:
    p = _c()["parse"]
    k = _c()["correct"]
    return {
        "head": re.compile(p["trigger_head"]),
        "tail": re.compile(p["trigger_tail"]),
        "own": re.compile(p["own_number_before"]),
        "number": re.compile(p["collector_number"]),
        "names": [re.compile(r) for r in p["collector_name"]],
        "channels": [(name, re.compile(rx)) for name, rx in p["channels"].items()],
        "evidence": [(name, re.compile(rx)) for name, rx in p["evidence"].items()],
        "no_evidence": re.compile(p["no_evidence"]),
        "strip": re.compile(p["strip_words"]),
        "inside": re.compile(p["trigger_inside"]),
        "venues": re.compile(p["venues"]),
        "index": re.compile(k["index"]),
        "last": re.compile(k["last"]),
        "fields": [(name, re.compile(rx)) for name, rx in k["fields"].items()],
        "value_after": re.compile(k["value_after"]),
        "noise": re.compile(k["noise"]),
    }


def strip_trigger(text: str) -> str:
    """The message without "记一下" and the like at either end (original characters kept)."""
    s = (text or "").strip()
    n = normalise(s)
    m = _rx()["head"].match(n)
    if m:
        s, n = s[m.end():], n[m.end():]
    m = _rx()["tail"].search(n)
    if m:
        s = s[: m.start()]
    return s.strip()


def _collector(s: str, original: Optional[str] = None) -> Tuple[Optional[str], List[Tuple[int, int]]]:
    """The collector's number(s) and name in the normalised text, and their spans."""
    found: List[str] = []
    spans: List[Tuple[int, int]] = []
    for m in _rx()["number"].finditer(s):
        if _rx()["own"].search(s[: m.start()]):
            continue  # the user's own number: not evidence, it is masked with the rest
        found.append((original or s)[m.start():m.end()].strip())
        spans.append(m.span())
    for rx in _rx()["names"]:
        for m in rx.finditer(s):
            value = (original or s)[m.start("v"):m.end("v")].strip()
            if value and value not in found and not any(value in f for f in found):
                found.append(value)
    return ("、".join(dict.fromkeys(found)) or None), spans


def _channels(s: str) -> Optional[str]:
    names = [name for name, rx in _rx()["channels"] if rx.search(s)]
    order = ["电话", "短信", "微信", "上门"]
    names.sort(key=order.index)
    return "、".join(names) or None


def _evidence(s: str) -> Optional[str]:
    if _rx()["no_evidence"].search(s) and not re.search(r"有(?:录音|截图)", s):
        kept = []
    else:
        kept = [name for name, rx in _rx()["evidence"] if rx.search(s)]
    return "、".join(kept) or None


def _contacted(s: str) -> Optional[str]:
    from xieshang.conduct import contacted

    words = [m.group(0) for m in _rx()["venues"].finditer(s)]
    for _, word, mode in contacted(s):
        if mode != "actual":
            continue
        w = re.sub(r"^你的?", "我", word)
        if w not in words:
            words.append(w)
    return "、".join(words) or None


def _mask_keep(text: str, keep: List[str]) -> str:
    """Mask identifiers in ``text`` except the collector's own numbers in ``keep``."""
    if not text:
        return text
    holders: List[str] = []
    for value in sorted((k for k in keep if k), key=len, reverse=True):
        if value in text:
            holders.append(value)
            text = text.replace(value, f"{SENTINEL}{len(holders) - 1}{SENTINEL}")
    text = mask(text)
    for i, value in enumerate(holders):
        text = text.replace(f"{SENTINEL}{i}{SENTINEL}", value)
    return text


def parse_entry(text: str, now: Optional[datetime] = None) -> Dict[str, Optional[str]]:
    """The diary fields found in free text. Never raises; missing fields are None."""
    now = now or local_now()
    raw = (text or "")[:MAX_TEXT]
    body = strip_trigger(raw)
    s = normalise(body)
    out: Dict[str, Optional[str]] = {k: None for k in FIELDS}
    tm = find_when(s, now)
    if tm is not None and tm.day is not None:
        dt = tm.as_datetime()
        out["at"] = dt.isoformat(timespec="minutes") if dt else None
        out["precision"] = tm.precision
        out["period"] = tm.period if tm.precision == "period" else None
    collector, spans = _collector(s, body if len(body) == len(s) else None)
    out["collector"] = collector
    out["channel"] = _channels(s)
    out["evidence"] = _evidence(s)
    contacted = _contacted(s)
    out["contacted"] = contacted or (_c()["line"]["self"] if (out["channel"] or collector) else None)
    # what happened: the words minus the time, the number and the evidence remark
    cut = [(tm.start, tm.end)] if tm is not None else []
    if tm is not None and tm.also:
        cut.append(tm.also)
    cut += spans
    what = "".join(ch for i, ch in enumerate(body) if not any(a <= i < b for a, b in cut)) if len(body) == len(s) else body
    what = re.sub(r"^[\s，,。：:；;、]+|[\s，,；;、]+$", "", what)
    nw = normalise(what)
    for m in reversed(list(_rx()["inside"].finditer(nw))):
        what, nw = what[: m.start()] + what[m.end():], nw[: m.start()] + nw[m.end():]
    for m in reversed(list(_rx()["strip"].finditer(nw))):
        if m.end() > m.start():
            what = what[: m.start()] + what[m.end():]
    what = what.strip(" ，,。；;、")
    what = re.sub(r"\s{2,}", " ", what)
    keep = [n for n in (collector or "").split("、") if n]
    out["what"] = _mask_keep(what, keep) or None
    return out


def has_content(text: str, now: Optional[datetime] = None) -> bool:
    """Whether the message says anything to record beyond "记一下"."""
    fields = parse_entry(text, now)
    if fields["at"] or fields["collector"] or fields["evidence"]:
        return True
    what = fields["what"] or ""
    return len(re.sub(r"[\W_]", "", what)) >= 4 and bool(fields["channel"] or fields["contacted"] or len(what) >= 8)


# ------------------------------------------------------------------------------------- corrections


@dataclass
class Correction:
    index: Optional[int] = None     # 1-based; -1 = the last one added
    fields: Dict[str, Optional[str]] = field(default_factory=dict)
    field_named: Optional[str] = None
    error: Optional[str] = None     # which (no index) | what_field | cannot_parse_time


def parse_correction(text: str, now: Optional[datetime] = None) -> Correction:
    """"改第2条 时间是前天下午3点" → Correction(index=2, fields={at, precision, period})."""
    now = now or local_now()
    s = normalise((text or "")[:MAX_TEXT])
    rx = _rx()
    corr = Correction()
    m = rx["index"].search(s)
    rest = s
    if m:
        corr.index = small_number(m.group("n"))
        rest = s[: m.start()] + " " + s[m.end():]
    elif rx["last"].search(s):
        corr.index = -1
        rest = rx["last"].sub(" ", s)
    if not corr.index:
        corr.error = "which"
        return corr
    named = None
    named_at = len(rest)
    for name, frx in rx["fields"]:
        fm = frx.search(rest)
        if fm and fm.start() < named_at:
            named, named_at = name, fm.start()
    value = rest
    if named:
        after = rest[named_at:]
        vm = rx["value_after"].search(after)
        value = vm.group("v") if vm else rx["fields"][[n for n, _ in rx["fields"]].index(named)][1].sub("", after, count=1)
    value = re.sub(r"不是.*$|而不是.*$", "", value)
    value = rx["noise"].sub(" ", value).strip(" ，,。：:；;")
    corr.field_named = named
    parsed = parse_entry(value, now) if value else {k: None for k in FIELDS}
    if named == "when":
        if not parsed["at"]:
            corr.error = "cannot_parse_time"
            return corr
        corr.fields = {k: parsed[k] for k in ("at", "precision", "period")}
    elif named == "channel":
        corr.fields = {"channel": parsed["channel"] or (value or None)}
    elif named == "collector":
        corr.fields = {"collector": parsed["collector"] or (value or None)}
    elif named == "evidence":
        corr.fields = {"evidence": parsed["evidence"] or (mask(value) or None)}
    elif named == "contacted":
        corr.fields = {"contacted": _contacted("打给" + value) or (mask(value) or None)}
    elif named == "what":
        corr.fields = {"what": _mask_keep(value, []) or None}
    else:
        corr.fields = {k: parsed[k] for k in ("at", "precision", "period", "channel", "collector", "evidence") if parsed[k]}
        if parsed["at"] is None:
            corr.fields.pop("precision", None)
            corr.fields.pop("period", None)
    if not corr.fields or all(v is None for v in corr.fields.values()):
        corr.error = "what_field"
    return corr


# ------------------------------------------------------------------------------------- storage


class Diary:
    """The diary table. Every method opens its own connection (safe from any thread)."""

    def __init__(self, path: Optional[Path] = None, retention_days: Optional[float] = None,
                 var: Optional[Path] = None) -> None:
        self.path = Path(path) if path else db_path()
        self._var = Path(var) if var else None  # where the sender-id key lives (default $XIESHANG_VAR)
        self._key: Optional[bytes] = None
        days = retention_days if retention_days is not None else os.environ.get("XIESHANG_RETENTION_DAYS", 30)
        try:
            self.retention_seconds = float(days) * 86400
        except (TypeError, ValueError):
            self.retention_seconds = 30 * 86400

    def _sid(self, sender: str) -> str:
        """Senders are kept as a keyed hash (xieshang.privacy), as in the conversation store."""
        if self._key is None:
            self._key = sender_key(self._var)
        return stored_sender_id(str(sender), self._key)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(self.path), timeout=10)
        conn.row_factory = sqlite3.Row
        conn.executescript(SCHEMA)
        return conn

    # -- reading
    def entries(self, sender: str) -> List[Entry]:
        with closing(self._connect()) as conn:
            rows = conn.execute("SELECT * FROM diary_entries WHERE sender = ?", (self._sid(sender),)).fetchall()
        entries = [Entry(**{k: row[k] for k in row.keys()}) for row in rows]
        return sorted(entries, key=lambda e: e.sort_key)

    def count(self, sender: str) -> int:
        with closing(self._connect()) as conn:
            return conn.execute("SELECT COUNT(*) FROM diary_entries WHERE sender = ?", (self._sid(sender),)).fetchone()[0]

    # -- writing
    def add(self, sender: str, text: str, now: Optional[datetime] = None) -> Tuple[int, Entry]:
        """Parse ``text`` and store it; returns (its number in the list, the entry)."""
        now = now or local_now()
        fields = parse_entry(text, now)
        keep = [n for n in (fields["collector"] or "").split("、") if n]
        note = _mask_keep(strip_trigger(text or "")[:MAX_TEXT], keep)
        stamp = time.time()  # when it was recorded (``now`` only anchors 昨晚/前天 in the text)
        with closing(self._connect()) as conn, conn:
            cur = conn.execute(
                "INSERT INTO diary_entries (sender, created, updated, at, precision, period, channel, collector,"
                " contacted, what, evidence, note) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (self._sid(sender), stamp, stamp, *[fields[k] for k in FIELDS], note),
            )
            new_id = cur.lastrowid
        self.purge_expired()
        entries = self.entries(sender)
        index = next(i for i, e in enumerate(entries, 1) if e.id == new_id)
        return index, entries[index - 1]

    def _resolve(self, sender: str, index: int) -> Tuple[Optional[int], Optional[Entry], List[Entry]]:
        entries = self.entries(sender)
        if index == -1 and entries:
            last = max(entries, key=lambda e: (e.created, e.id))
            return entries.index(last) + 1, last, entries
        if 1 <= index <= len(entries):
            return index, entries[index - 1], entries
        return None, None, entries

    def update(self, sender: str, index: int, fields: Dict[str, Optional[str]]) -> Optional[Tuple[int, Entry]]:
        pos, entry, _ = self._resolve(sender, index)
        if entry is None:
            return None
        changes = {k: v for k, v in fields.items() if k in FIELDS}
        if not changes:
            return pos, entry
        sets = ", ".join(f"{k} = ?" for k in changes)
        with closing(self._connect()) as conn, conn:
            conn.execute(f"UPDATE diary_entries SET {sets}, updated = ? WHERE id = ? AND sender = ?",
                         (*changes.values(), time.time(), entry.id, self._sid(sender)))
        entries = self.entries(sender)
        new_pos = next(i for i, e in enumerate(entries, 1) if e.id == entry.id)
        return new_pos, entries[new_pos - 1]

    def delete(self, sender: str, index: int) -> Optional[Tuple[int, Entry]]:
        pos, entry, _ = self._resolve(sender, index)
        if entry is None:
            return None
        with closing(self._connect()) as conn, conn:
            conn.execute("DELETE FROM diary_entries WHERE id = ? AND sender = ?", (entry.id, self._sid(sender)))
        return pos, entry

    def erase(self, sender: str) -> int:
        if not self.path.exists():
            return 0
        with closing(self._connect()) as conn, conn:
            return conn.execute("DELETE FROM diary_entries WHERE sender = ?", (self._sid(sender),)).rowcount

    def purge_expired(self, now: Optional[float] = None) -> int:
        """Delete the diaries of senders who have not touched theirs within the retention period."""
        if self.retention_seconds <= 0 or not self.path.exists():
            return 0
        cutoff = (now or time.time()) - self.retention_seconds
        with closing(self._connect()) as conn, conn:
            return conn.execute(
                "DELETE FROM diary_entries WHERE sender IN (SELECT sender FROM diary_entries GROUP BY sender"
                " HAVING MAX(updated) < ?)", (cutoff,)).rowcount


# ------------------------------------------------------------------------------------- texts


def _today_text(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def render_list(entries: List[Entry]) -> str:
    m = _c()["messages"]
    if not entries:
        return m["empty"]
    lines = [m["list_header"].format(n=len(entries))]
    lines += [f"{i}. {e.line()}" for i, e in enumerate(entries, 1)]
    lines.append(m["list_footer"].format(one=1, two=2))
    return "\n".join(lines)


def annex_text(entries: List[Entry], today: Optional[date] = None) -> Optional[str]:
    """The dated, numbered annex for a complaint (None when there is nothing to attach)."""
    if not entries:
        return None
    a = _c()["annex"]
    today = today or local_now().date()
    missing = a["missing"]
    parts = [a["header"].format(date=_today_text(today), n=len(entries)).strip()]
    for i, e in enumerate(entries, 1):
        parts.append(a["entry"].format(
            i=i, when=e.when_text(with_year=True), channel=e.channel or missing, collector=e.collector or missing,
            contacted=e.contacted or missing, what=e.what or missing, evidence=e.evidence or missing).strip())
    parts.append(a["footer"])
    return "\n\n".join(parts)


def export_document(entries: List[Entry], today: Optional[date] = None) -> Optional[Document]:
    text = annex_text(entries, today)
    if text is None:
        return None
    a = _c()["annex"]
    today = today or local_now().date()
    return Document(title=a["title"].format(n=len(entries)), text=text,
                    filename=a["filename"].format(ymd=today.strftime("%Y%m%d")))


# ------------------------------------------------------------------------------------- module API
# Plain functions over the default diary (path from the environment), used by the actions.


def add_entry(sender: str, text: str, now: Optional[datetime] = None) -> Tuple[int, Entry]:
    return Diary().add(sender, text, now)


def list_entries(sender: str) -> List[Entry]:
    return Diary().entries(sender)


def correct_entry(sender: str, text: str, now: Optional[datetime] = None) -> Tuple[Optional[Tuple[int, Entry]], Correction]:
    corr = parse_correction(text, now)
    if corr.error:
        return None, corr
    return Diary().update(sender, corr.index or 0, corr.fields), corr


def delete_entry(sender: str, index: int) -> Optional[Tuple[int, Entry]]:
    return Diary().delete(sender, index)


def parse_index(text: str) -> Optional[int]:
    """"删掉第2条" → 2, "删掉最后一条" → -1, nothing → None."""
    s = normalise(text or "")
    m = _rx()["index"].search(s)
    if m:
        return small_number(m.group("n"))
    if _rx()["last"].search(s):
        return -1
    return None


def export(sender: str, today: Optional[date] = None) -> Optional[Document]:
    """The diary as a document (text/plain, dated, numbered); None when empty."""
    return export_document(list_entries(sender), today)


def annex_for(sender: str, today: Optional[date] = None) -> Optional[str]:
    """Hook for the complaint flow: the annex text to attach, or None when the diary is empty."""
    try:
        return annex_text(list_entries(sender), today)
    except sqlite3.Error:
        return None


def erase(sender: str) -> int:
    """Hook for delete-my-data: remove every diary entry of ``sender``; returns how many."""
    return Diary().erase(sender)
