"""Times of day and dates in the way people write them about a collector's call.

"昨晚11点", "前天下午3点半", "今天早上7点", "凌晨两点", "3月5号晚上10点", "上周五", "刚才" → a
:class:`TimeMention` with the clock hour when there is one, the date resolved against ``now``, and
flags the conduct checker needs: inside 22:00–08:00, a vague night word ("半夜"), a deadline
("今晚10点前还款" is not a call at 22:00).

Works on text normalised by :func:`xieshang.nlu.text.normalise` (simplified, half-width, lower
case); offsets are offsets into that text, which has the length of the original. The period words
and the vague night words come from ``content/conduct.yml`` (``time:``).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from typing import List, Optional

from xieshang.content import load

CN_NUM = "零〇一二两三四五六七八九十"
WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6,
            "1": 0, "2": 1, "3": 2, "4": 3, "5": 4, "6": 5, "7": 6}
RELATIVE_DAYS = {
    "今天": (0, None), "今日": (0, None), "今儿": (0, None), "今儿个": (0, None),
    "昨天": (-1, None), "昨日": (-1, None), "昨儿": (-1, None), "昨儿个": (-1, None),
    "前天": (-2, None), "前日": (-2, None), "大前天": (-3, None),
    "今早": (0, "早上"), "今晨": (0, "早上"), "今天早上": (0, "早上"),
    "今晚": (0, "晚上"), "昨晚": (-1, "晚上"), "昨夜": (-1, "晚上"), "前晚": (-2, "晚上"),
}
LATE_PERIODS = {"半夜", "大半夜", "午夜", "深夜"}


def local_now() -> datetime:
    """The user's wall-clock time (naive): mainland China by default, ``XIESHANG_TZ`` to change.
    The server may run in UTC; "刚才" at 23:00 in Beijing must be a night call."""
    name = os.environ.get("XIESHANG_TZ", "Asia/Shanghai")
    try:
        from zoneinfo import ZoneInfo

        return datetime.now(ZoneInfo(name)).replace(tzinfo=None)
    except Exception:  # no tz database on this machine: China has no DST, UTC+8 is exact
        return datetime.now(timezone(timedelta(hours=8))).replace(tzinfo=None)


def local_from_timestamp(ts: float) -> datetime:
    """A Unix time as the user's wall-clock time (naive), like :func:`local_now`."""
    now_local = local_now()
    offset = now_local - datetime.utcnow()
    return datetime.utcfromtimestamp(ts) + timedelta(minutes=round(offset.total_seconds() / 60))


def small_number(token: Optional[str]) -> Optional[int]:
    """'11' → 11, '十一' → 11, '两' → 2, '二十' → 20, '十几' → 10 (lower bound); None otherwise."""
    if not token:
        return None
    token = token.strip()
    if token.isdigit():
        return int(token)
    token = token.replace("几", "").replace("多", "").replace("来", "")
    if not token:
        return None
    if not all(c in CN_NUM + "百" for c in token):
        return None
    try:
        import cn2an

        return int(cn2an.cn2an(token, "smart"))
    except Exception:  # cn2an raises on odd sequences such as '二二十'
        return None


@dataclass
class TimeMention:
    start: int
    end: int
    text: str
    day_offset: Optional[int] = None      # relative day (0 today, -1 yesterday) when written so
    day: Optional[date] = None            # the date, resolved against ``now``
    hour: Optional[int] = None            # 0–23 when a clock time was given
    minute: Optional[int] = None
    period: Optional[str] = None          # 上午/下午/晚上/凌晨/... as written
    vague_night: bool = False             # 半夜, 深夜, 凌晨 with no clock time
    deadline: bool = False                # "今晚10点前" is a deadline, not an event
    now: bool = False                     # 刚才, 现在
    also: Optional[tuple] = None          # (start, end) of a clock time merged into this date

    @property
    def night(self) -> bool:
        """Inside the 22:00–08:00 window of the collection standards (config ``night``)."""
        cfg = load("conduct")["night"]
        if self.hour is not None:
            return self.hour >= int(cfg["start"]) or self.hour < int(cfg["end"])
        return self.vague_night

    @property
    def precision(self) -> Optional[str]:
        if self.hour is not None:
            return "minute"
        if self.period:
            return "period"
        if self.day is not None:
            return "day"
        return None

    def as_datetime(self) -> Optional[datetime]:
        if self.day is None:
            return None
        return datetime(self.day.year, self.day.month, self.day.day, self.hour or 0, self.minute or 0)

    def clock(self) -> str:
        if self.hour is None:
            return self.period or ""
        return f"{self.hour:02d}:{(self.minute or 0):02d}"


@lru_cache(maxsize=1)
def _config():
    t = load("conduct")["time"]
    periods = dict(t["periods"])
    words = sorted(periods, key=len, reverse=True)
    rel = sorted(RELATIVE_DAYS, key=len, reverse=True)
    num = rf"[0-9]{{1,2}}|[{CN_NUM}]{{1,3}}"
    date_re = (
        rf"(?:(?P<y>20[0-9]{{2}})年)?(?P<mo>1[0-2]|0?[1-9]|十[一二]?|[一二三四五六七八九])月"
        rf"(?P<d>3[01]|[12][0-9]|0?[1-9]|[{CN_NUM}]{{1,3}})[日号]?"
        rf"|(?P<y2>20[0-9]{{2}})[-/.](?P<mo2>1[0-2]|0?[1-9])[-/.](?P<d2>3[01]|[12][0-9]|0?[1-9])(?![0-9])"
        rf"|(?<![0-9/])(?P<mo3>1[0-2]|0?[1-9])/(?P<d3>3[01]|[12][0-9]|0?[1-9])(?![0-9/])"
        rf"|(?<![0-9月])(?P<d4>3[01]|[12][0-9]|0?[1-9])号"
        rf"|(?P<rel>{'|'.join(rel)})"
        rf"|(?P<last>上个?|这个?|本)?(?:周|星期|礼拜)(?P<wd>[一二三四五六日天1-7])"
    )
    clock_re = (
        rf"(?P<h>{num})(?P<sep>点钟|点|时|[:：](?=[0-9]{{2}}))"
        rf"(?:(?P<half>半)|(?P<quarter>一刻|三刻)|(?P<m>[0-5]?[0-9]|[{CN_NUM}]{{1,3}})(?:分钟?)?)?"
    )
    full = (
        rf"(?:(?P<date>{date_re})\s*(?:的)?\s*)?"
        rf"(?:(?P<period>{'|'.join(map(re.escape, words))})\s*)?"
        rf"(?:(?P<clock>{clock_re}))?"
    )
    return {
        "periods": periods,
        "full": re.compile(full),
        "vague": re.compile(t["vague_night"].replace(" ", "")),
        "deadline": re.compile(rf"\s*(?:的)?(?:{t['deadline_after']})"),
        "now": re.compile(t["now_words"]),
    }


def _hour(h: int, period: Optional[str], kind: Optional[str]) -> Optional[int]:
    """Convert a written hour to 0–23 using the period's kind (see conduct.yml time.periods)."""
    if h > 24:
        return None
    if h == 24:
        return 0
    if kind == "pm":
        return h + 12 if h < 12 else h
    if kind == "noon":
        return h + 12 if h <= 5 else h
    if kind == "night":
        if h == 12:
            return 0
        return h + 12 if 6 <= h <= 11 else h
    if kind == "late":
        if h == 12:
            return 0
        return h + 12 if 9 <= h <= 11 else h
    if kind == "am":
        return 0 if h == 12 and period in {"凌晨"} else h
    return h


def _resolve_date(m: "re.Match[str]", now: datetime) -> (Optional[date], Optional[int], Optional[str]):
    """The date a date group names, its relative offset in days, and a period implied by it."""
    today = now.date()
    g = m.groupdict()
    if g.get("rel"):
        offset, implied = RELATIVE_DAYS[g["rel"]]
        return today + timedelta(days=offset), offset, implied
    if g.get("wd"):
        wd = WEEKDAYS[g["wd"]]
        back = (today.weekday() - wd) % 7
        if g.get("last", "") and g["last"].startswith("上"):
            monday = today - timedelta(days=today.weekday() + 7)
            return monday + timedelta(days=wd), None, None
        return today - timedelta(days=back), None, None
    year = month = day_ = None
    if g.get("mo"):
        year, month, day_ = g.get("y"), small_number(g["mo"]), small_number(g["d"])
    elif g.get("mo2"):
        year, month, day_ = g.get("y2"), int(g["mo2"]), int(g["d2"])
    elif g.get("mo3"):
        month, day_ = int(g["mo3"]), int(g["d3"])
    elif g.get("d4"):
        month, day_ = today.month, int(g["d4"])
    if not month or not day_:
        return None, None, None
    try:
        y = int(year) if year else today.year
        d = date(y, month, day_)
        if not year and d > today:
            d = _month_before(d, today, day_only=bool(g.get("d4")))
        return d, None, None
    except ValueError:
        return None, None, None


def _month_before(d: date, today: date, day_only: bool) -> date:
    """A date written without year (or month) that lies in the future is the previous one."""
    if day_only:
        month, year = (today.month - 1, today.year) if today.month > 1 else (12, today.year - 1)
        try:
            return date(year, month, d.day)
        except ValueError:
            return d
    try:
        return date(d.year - 1, d.month, d.day)
    except ValueError:
        return d


def find_times(text: str, now: Optional[datetime] = None) -> List[TimeMention]:
    """Every time expression in ``text`` (already normalised), in order."""
    if not text or not isinstance(text, str):
        return []
    now = now or local_now()
    cfg = _config()
    out: List[TimeMention] = []
    for m in cfg["full"].finditer(text):
        if m.start() == m.end():
            continue
        g = m.groupdict()
        if not (g.get("date") or g.get("period") or g.get("clock")):
            continue
        if g.get("period") and len(g["period"]) == 1 and not (g.get("clock") or g.get("date")):
            continue  # a lone 晚/夜 ("晚了20天") is not a time
        day, offset, implied = (None, None, None)
        if g.get("date"):
            day, offset, implied = _resolve_date(m, now)
        period = g.get("period") or implied
        kind = cfg["periods"].get(period) if period else None
        mention = TimeMention(start=m.start(), end=m.end(), text=m.group(0).strip(), day_offset=offset, day=day,
                              period=period)
        if g.get("clock"):
            raw_h = g["h"]
            h = small_number(raw_h)
            chinese = not raw_h.isdigit()
            # "一点" is usually "a little" (多还一点): a Chinese-numeral clock needs a date, a period,
            # 钟, or a minute part to count as a time.
            has_minutes = bool(g.get("half") or g.get("quarter") or g.get("m") or g["sep"] == "点钟")
            if g["sep"] in (":", "：") and not g.get("m"):
                h = None
            if chinese and not (g.get("date") or period or has_minutes) and (h is None or h < 3):
                h = None  # 一点/两点 alone usually mean "a little"/"two points"
            if h is not None:
                hour = _hour(h, period, kind)
                if hour is not None:
                    mention.hour = hour
                    minute = 30 if g.get("half") else (15 if g.get("quarter") == "一刻" else 45 if g.get("quarter") else small_number(g.get("m")) or 0)
                    mention.minute = minute if minute is not None and minute < 60 else 0
                    if kind in ("night", "late") and hour < 6 and period not in ("凌晨",):
                        # "昨晚1点", "晚上12点": after midnight, the next calendar day
                        if mention.day is not None and (h == 12 or h < 6):
                            mention.day = mention.day + timedelta(days=1)
            elif not (g.get("date") or period):
                continue  # a bare "一点" and nothing else: not a time
        if mention.hour is None and period and kind in ("late",):
            mention.vague_night = True
        if mention.hour is None and period == "凌晨":
            mention.vague_night = True
        if mention.day is None and (mention.hour is not None or period):
            mention.day = now.date()
            if mention.hour is not None and mention.as_datetime() and mention.as_datetime() > now + timedelta(minutes=5):
                mention.day = mention.day - timedelta(days=1)
        after = cfg["deadline"].match(text, m.end())
        if after:
            mention.deadline = True
        out.append(mention)
    for m in cfg["vague"].finditer(text):
        if any(t.start <= m.start() < t.end for t in out):
            continue
        out.append(TimeMention(start=m.start(), end=m.end(), text=m.group(0), vague_night=True))
    for m in cfg["now"].finditer(text):
        if any(t.start <= m.start() < t.end for t in out):
            continue
        out.append(TimeMention(start=m.start(), end=m.end(), text=m.group(0), day=now.date(), hour=now.hour,
                               minute=now.minute, now=True))
    out.sort(key=lambda t: t.start)
    return out


def when(text: str, now: Optional[datetime] = None) -> Optional[TimeMention]:
    """The first time expression that is not a deadline (the moment something happened); a date
    and a later clock time are one moment ("今天的也记上：中午12点 …")."""
    mentions = [m for m in find_times(text, now) if not m.deadline]
    if not mentions:
        return None
    first = mentions[0]
    if first.hour is None and first.day_offset is not None or (first.precision == "day" and first.hour is None):
        for later in mentions[1:]:
            if later.hour is not None and later.day_offset is None and not later.now and later.start - first.end <= 12:
                return TimeMention(start=first.start, end=first.end, text=first.text, day_offset=first.day_offset,
                                   day=first.day, hour=later.hour, minute=later.minute,
                                   period=later.period or first.period, also=(later.start, later.end))
    return first


def display(dt: Optional[datetime], precision: Optional[str], period: Optional[str] = None,
            with_year: bool = True) -> str:
    """'2026年7月20日 23:00', '2026年7月20日晚上', '2026年7月20日' or '' (unknown)."""
    if dt is None:
        return ""
    d = f"{dt.year}年{dt.month}月{dt.day}日" if with_year else f"{dt.month}月{dt.day}日"
    if precision == "minute":
        return f"{d} {dt.hour:02d}:{dt.minute:02d}"
    if precision == "period" and period:
        return f"{d}{period}"
    return d
