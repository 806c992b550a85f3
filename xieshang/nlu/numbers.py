"""Chinese / Arabic number parsing for money, durations and instalment counts.

Users write numbers every way at once: 两万三, 2w, 1.2万, 5k, 八千五, 3千多, 2万5, 1,500, 三千来块,
二十来天, 一年半, 仨月, 十几天, 两三千. The conventions (checked against the annotated training
data in data/nlu/):

* colloquial abbreviation: a digit after a unit counts one unit lower: 两万三 = 23000, 八千五 = 8500,
  一千二 = 1200, 2万5 = 25000, 1万8 = 18000 (an explicit 零 stops it: 一万零五 = 10005);
* approximations give the lower bound: 3千多 = 3000, 三千来块 = 3000, 一万出头 = 10000, 十几天 = 10,
  一个多月 = 30; a range gives its lower end: 两三千 = 2000, 七八十天 = 70;
* k = 千, w = 万 (2w = 20000, 4.5k = 4500);
* durations in days: 天 1, 周/礼拜/星期 7, 月 30, 年 365; 半个月 15, 半年 180, 一年半 = 365 + 180 = 545;
* instalments in periods (months): N期 = N, N个月 = N, N年 = 12N, 半年 = 6.

Standard forms go through cn2an (``cn2an.cn2an(core, "smart")``); the colloquial pieces (ranges,
approximations, 俩/仨, k/w, 一点五万) are rewritten first, and a small parser here takes over when
cn2an refuses a form. Every public function returns None instead of raising.
"""
from __future__ import annotations

import math
import re
from typing import Optional, Tuple

from xieshang.nlu.text import normalise

try:  # pinned dependency; the fallback parser below covers everything if it is missing
    import cn2an as _cn2an
except Exception:  # pragma: no cover
    _cn2an = None

# ------------------------------------------------------------------------------------ building blocks

CN_DIGIT = {
    "零": 0, "〇": 0, "一": 1, "壹": 1, "二": 2, "贰": 2, "两": 2, "俩": 2, "三": 3, "叁": 3, "仨": 3,
    "四": 4, "肆": 4, "五": 5, "伍": 5, "六": 6, "陆": 6, "七": 7, "柒": 7, "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
CN_UNIT = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000, "k": 1000,
           "万": 10_000, "w": 10_000, "亿": 100_000_000}
_SECTION = {"万": 10_000, "w": 10_000, "亿": 100_000_000}

_START = "零〇一二两俩三仨四五六七八九十壹贰叁肆伍陆柒捌玖"  # a Chinese number starts with one of these
_BODY = _START + "百千万亿佰仟"
_MULT = "十百千万亿拾佰仟"

# Arabic: 1,500 / 23000 / 1.2
ARABIC = r"[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+(?:\.[0-9]+)?"
# Chinese: 两万三 / 三十多万 / 十几 / 七八千 (多 only inside, before a multiplier: 三十多万)
CHINESE = rf"[{_START}](?:[{_BODY}]|几|[多来余](?=[{_MULT}]))*"
# 一点五万 / 1点5万 (a decimal said aloud, only before 万/千)
SPOKEN_POINT = rf"(?:[0-9]+|[{_START}]+)点[0-9{_START}]+(?=[万千wk])"
# Arabic with units: 2万5 / 1万2千 / 4.5k / 2w5 / 3千多 / 3万二
MIXED = (
    rf"(?:{SPOKEN_POINT}|{ARABIC})"
    rf"(?:(?:[kw](?![a-z])|[{_MULT}])(?:[0-9]+|[一二两三四五六七八九](?![{_MULT}]))?)*"
)
APPROX = r"多|来|余|出头|几"
# one quantity: the number and an optional approximation word (kept in the span: "3千多")
QUANTITY = re.compile(rf"(?<![0-9.])(?<![0-9],)(?<!几)(?P<num>{MIXED}|{CHINESE})(?P<approx>{APPROX})?")

# what follows a number
MONEY_UNIT = re.compile(r"\s?(?:块钱|块|元|圆|rmb|人民币)")
PERIOD_UNIT = re.compile(r"\s?期(?![间限])")
DURATION_UNIT = re.compile(r"(?P<ge>个)?(?P<pre>多|来|半)?(?P<unit>天(?!天)|周(?!年)|礼拜|星期|月|年(?![级纪龄化]))(?P<post>半|多)?")
HALF = re.compile(r"半(?P<ge>个)?(?P<unit>月|年)")  # 半个月 / 半年 (no digit at all)


def _reduce_range(core: str) -> str:
    """两三千 → 两千, 七八十 → 七十: two consecutive digits said together mean "about"; keep the lower."""
    out = []
    prev = None
    for ch in core:
        val = CN_DIGIT.get(ch)
        if val is not None and prev is not None and val == prev + 1 and val > 1:
            prev = None  # drop the upper digit of the range
            continue
        out.append(ch)
        prev = val if (val is not None and val > 0) else None
    return "".join(out)


def _clean_core(text: str) -> str:
    core = normalise(text).replace(",", "").replace(" ", "")
    core = re.sub(rf"(?:{APPROX})$", "", core)
    core = re.sub(r"[多几来余]", "", core)  # 三十多万 → 三十万, 十几 → 十, 十来万 → 十万
    core = core.replace("俩", "两").replace("仨", "三")
    return _reduce_range(core)


def _parse_fallback(core: str) -> Optional[float]:
    """Our own parser for what cn2an refuses (一点五万, odd mixtures). Returns None if not a number."""
    # spoken decimal: 一点五万 = 1.5 × 10000
    m = re.fullmatch(rf"([0-9]+|[{_START}]+)点([0-9{_START}]+)([万千wk])", core)
    if m:
        whole = _parse_fallback(m.group(1))
        frac_digits = "".join(str(CN_DIGIT[c]) if c in CN_DIGIT else c for c in m.group(2))
        if whole is None or not frac_digits.isdigit():
            return None
        return float(f"{int(whole)}.{frac_digits}") * CN_UNIT[m.group(3)]
    total = 0.0
    section = 0.0
    number: Optional[float] = None
    last_unit = 0
    zero = False
    digits_run = ""
    i = 0
    while i < len(core):
        ch = core[i]
        if ch.isdigit():
            m = re.match(r"[0-9]+(?:\.[0-9]+)?", core[i:])
            number = float(m.group(0))
            i += len(m.group(0))
            continue
        if ch in CN_DIGIT:
            if CN_DIGIT[ch] == 0:
                zero = True
                number = None
                digits_run = ""
            else:
                digits_run += str(CN_DIGIT[ch])
                number = float(digits_run)  # 二零二三-style digit strings
            i += 1
            continue
        if ch in CN_UNIT:
            unit = CN_UNIT[ch]
            digits_run = ""
            if ch in _SECTION:
                section += number if number is not None else (0 if section or total else 1)
                if unit > 10_000:
                    total = (total + section) * unit
                else:
                    total += section * unit
                section = 0.0
            else:
                section += (number if number is not None else 1) * unit
            number = None
            last_unit = unit
            zero = False
            i += 1
            continue
        return None
    if number is not None:
        if last_unit >= 10 and not zero and number < 10 and "." not in core[-3:]:
            number *= last_unit / 10  # 两万三: the trailing digit counts one unit lower
        section += number
    value = total + section
    return value


MAX_VALUE = 1e12  # anything larger is not a sum of money, a duration or a count of periods


def _value(core_text: str) -> Optional[float]:
    """The number written in ``core_text`` (a QUANTITY match), or None."""
    if len(core_text) > 30:
        return None  # digit runs this long are identifiers or noise, never amounts
    core = _clean_core(core_text)
    if not core:
        return None
    if _cn2an is not None and "点" not in core:
        try:
            value = float(_cn2an.cn2an(core.replace("k", "千").replace("w", "万"), "smart"))
            return value if math.isfinite(value) and 0 <= value <= MAX_VALUE else None
        except Exception:
            pass
    try:
        value = _parse_fallback(core)
    except Exception:
        return None
    return value if value is not None and math.isfinite(value) and 0 <= value <= MAX_VALUE else None


def _duration(value: float, unit: str, ge: str, pre: str, post: str) -> Tuple[float, float]:
    """(days, months) for a number + duration unit (a "half" may sit before or after the unit)."""
    per_day = {"天": 1, "周": 7, "礼拜": 7, "星期": 7, "月": 30, "年": 365}[unit]
    per_month = {"天": 1 / 30, "周": 7 / 30, "礼拜": 7 / 30, "星期": 7 / 30, "月": 1, "年": 12}[unit]
    half = (pre == "半") or (post == "半")
    days = value * per_day + (per_day / 2 if half and unit != "年" else 0) + (180 if half and unit == "年" else 0)
    months = value * per_month + (per_month / 2 if half else 0)
    return days, months


# ------------------------------------------------------------------------------------------- API


def parse_number(text) -> Optional[float]:
    """The first number in ``text`` as a float (两万三 → 23000.0, 1.5 → 1.5, 3千多 → 3000.0)."""
    try:
        if not isinstance(text, str) or not text:
            return None
        s = normalise(text)
        for m in QUANTITY.finditer(s):
            value = _value(m.group("num"))
            if value is not None:
                return value
    except Exception:
        return None
    return None


def parse_money(text) -> Optional[int]:
    """Whole yuan from a money expression: 两万三 → 23000, 2w → 20000, 1.2万 → 12000, 5k → 5000,
    八千五 → 8500, 3千多 → 3000, 一万五千块 → 15000, 2万5 → 25000, 1,500 → 1500, 三千来块 → 3000."""
    value = parse_number(text)
    if value is None or not math.isfinite(value) or value < 0 or value > MAX_VALUE:
        return None
    return int(round(value))


def _durations(text: str):
    """Yield (days, months) for each duration in ``text``."""
    s = normalise(text)
    for m in HALF.finditer(s):
        if m.start() > 0 and s[m.start() - 1] in _BODY + "0123456789个":
            continue  # part of 一年半 / 一个半月, handled below
        unit = m.group("unit")
        yield (m.start(), 15 if unit == "月" else 180, 0.5 if unit == "月" else 6)
    for m in QUANTITY.finditer(s):
        d = DURATION_UNIT.match(s, m.end())
        if not d:
            continue
        if d.group("unit") == "月" and not d.group("ge") and m.group("num") not in ("俩", "仨", "两"):
            nxt = s[d.end(): d.end() + 1]
            if m.group("num").isdigit() and int(m.group("num")) <= 12 and (not nxt or nxt in "0123456789号日份底初中末"):
                continue  # 3月5号: a date, not a duration
        value = _value(m.group("num"))
        if value is None:
            continue
        days, months = _duration(value, d.group("unit"), d.group("ge") or "", d.group("pre") or "", d.group("post") or "")
        yield (m.start(), days, months)


def parse_days(text) -> Optional[int]:
    """Days from a duration: 三个月 → 90, 半年 → 180, 20天 → 20, 二十来天 → 20, 一年半 → 545,
    半个月 → 15, 两周 → 14, 一个多月 → 30, 十几天 → 10, 一年 → 365, 仨月 → 90, 俩月 → 60.
    A number without a unit is not a duration (None)."""
    try:
        if not isinstance(text, str) or not text:
            return None
        found = sorted(_durations(text))
        return int(round(found[0][1])) if found else None
    except Exception:
        return None


def parse_periods(text) -> Optional[int]:
    """Instalment count: 分12期 → 12, 十二期 → 12, 两年 → 24, 一年 → 12, 36个月 → 36, 半年 → 6."""
    try:
        if not isinstance(text, str) or not text:
            return None
        s = normalise(text)
        for m in QUANTITY.finditer(s):
            if PERIOD_UNIT.match(s, m.end()):
                value = _value(m.group("num"))
                if value is not None and value >= 1:
                    return int(round(value))
        found = sorted(_durations(text))
        if found:
            months = found[0][2]
            return int(round(months)) if months >= 1 else None
    except Exception:
        return None
    return None
