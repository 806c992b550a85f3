"""Rule-based entity extraction with normalised values.

``extract(text)`` finds the contract's entities in one user message:

=================  ====================================  =========================================
entity             value                                 example
=================  ====================================  =========================================
platform           canonical lender name (lenders.yml)   蚂蚁借呗 / 借唄 / jb → 借呗
amount             int yuan owed                         借呗欠了两万三 → 23000
monthly_income     int yuan per month                    月入四千五 → 4500
monthly_payment    int yuan the user can pay per month   每个月最多还两千 → 2000
overdue_days       int days                              逾期三个月 → 90
installments       int periods                           分12期 → 12; 分两年还 → 24
=================  ====================================  =========================================

Each result is ``{entity, value, start, end, text}``; offsets point into the ORIGINAL text (the
matching runs on :func:`xieshang.nlu.text.normalise`, which keeps every character in place).

How a number gets its entity: its unit first (期 → instalments; 天/周/月/年 → a duration; 个/次/点/
号/岁/% → not an entity at all), then the context word nearest before it (逾期/yq → overdue; 分/分成
→ instalments; 月入/工资/挣 → income; 能还/拿出/月供 → payment; 欠/借/本金/一共 or a lender's name →
amount; 延期/宽限 → nothing, that is a wish, not a fact). A bare "每个月 1500" is a payment unless
an income word is near. A short answer made of only a number ("两万三", "三个多月", "两年") gets the
reading the bot's questions expect: money → amount, 天/月 → overdue days, 年 → instalments.

Never raises: any input (None, empty, 10,000 characters, emoji) gives a list, maybe empty.
"""
from __future__ import annotations

import bisect
import re
from functools import lru_cache
from typing import Any, Dict, List, Optional, Pattern, Tuple

from xieshang.nlu import numbers as N
from xieshang.nlu.text import normalise

KINDS = ("bank_card", "bank_loan", "consumer_finance", "small_loan", "online")
UNKNOWN = "unknown"
MAX_CHARS = 20_000  # longer input is cut (offsets stay valid: we only look at the beginning)

# ------------------------------------------------------------------------------------------ lenders

# Extra guards for synonyms that are also ordinary words or numbers.
_GUARDS: Dict[str, Tuple[str, str]] = {
    "360": (r"(?<![0-9.,])", r"(?![0-9.,%天日元块期个次号年月岁w万千k分秒度])"),
    "有钱花": (r"(?<!没)(?<!还)", ""),          # 没有钱花 = "have no money to spend"
    "还呗": (r"(?<![就得要先去快赶那])", ""),    # 那就还呗 = "then just pay"
    "白条": (r"(?<!打)", ""),                    # 打白条 = write an IOU
    "分付": (r"(?<!部)", ""),                    # 部分付款
    "快贷": (r"(?<![很最赶尽])", r"(?!款)"),     # 很快贷款下来
    "小赢": ("", r"(?![了一])"),
    "金条": ("", r"(?![子])"),
}


def _synonym_pattern(syn: str) -> str:
    before, after = _GUARDS.get(syn, ("", ""))
    if re.match(r"[a-z0-9]", syn):
        before += r"(?<![a-z0-9])"
    if re.search(r"[a-z]$", syn):
        after += r"(?![a-z])"  # bb2w: a lender's shorthand glued to the amount
    elif re.search(r"[0-9]$", syn):
        after += r"(?![0-9])"
    return before + re.escape(syn) + after


@lru_cache(maxsize=1)
def _lenders() -> Tuple[Dict[str, str], Dict[str, str], Optional[Pattern[str]]]:
    """(normalised synonym → canonical name, canonical name → kind, one regex of all synonyms)."""
    try:
        from xieshang.content import load

        rows = (load("lenders") or {}).get("lenders") or []
    except Exception:  # pragma: no cover - content file missing or broken
        rows = []
    canon: Dict[str, str] = {}
    kinds: Dict[str, str] = {}
    for row in rows:
        if not isinstance(row, dict) or not row.get("name"):
            continue
        name = str(row["name"])
        kinds[name] = row.get("kind") if row.get("kind") in KINDS else UNKNOWN
        for alias in [name, *(row.get("synonyms") or [])]:
            key = _key(str(alias))
            if key:
                canon.setdefault(key, name)
    if not canon:
        return canon, kinds, None
    # longest first, so 招商银行信用卡 wins over 信用卡 and 京东金条 over 金条
    alternation = "|".join(_synonym_pattern(s) for s in sorted(canon, key=lambda s: (-len(s), s)))
    return canon, kinds, re.compile(alternation)


def _key(name: str) -> str:
    return re.sub(r"\s+", "", normalise(name or "")).lower()


def canonical_platform(name: Any) -> Optional[str]:
    """Canonical lender name for a name, synonym, typo or pinyin shorthand (借唄 → 借呗, jb → 借呗,
    招行信用卡 → 招商银行信用卡); None when no known lender is named."""
    try:
        if not isinstance(name, str):
            return None
        canon, _, rx = _lenders()
        key = _key(name)
        if not key:
            return None
        if key in canon:
            return canon[key]
        if rx is None:
            return None
        found = {canon.get(m.group(0)) for m in rx.finditer(key)} - {None}
        return found.pop() if len(found) == 1 else None
    except Exception:
        return None


def platform_kind(name: Any) -> str:
    """bank_card | bank_loan | consumer_finance | small_loan | online (from lenders.yml) | unknown.
    A lender missing from the list is still classed by its name (…信用卡, …消费金融, …小贷, …银行)."""
    try:
        canonical = canonical_platform(name)
        if canonical:
            return _lenders()[1].get(canonical, UNKNOWN)
        key = _key(name) if isinstance(name, str) else ""
        for pattern, kind in _KIND_BY_NAME:
            if key and pattern.search(key):
                return kind
    except Exception:
        pass
    return UNKNOWN


_KIND_BY_NAME = [
    (re.compile(r"信用卡"), "bank_card"),
    (re.compile(r"消费金融|消金"), "consumer_finance"),
    (re.compile(r"小贷|小额贷款"), "small_loan"),
    (re.compile(r"银行"), "bank_loan"),
]

# -------------------------------------------------------------------------------------- context cues

# Each cue type is a regex; the nearest cue before a number (within WINDOW characters, not across
# a sentence end) decides. Longer cues win ties (工资到手 over 到手).
_CUES: Dict[str, str] = {
    "overdue": r"逾期|逾其|逾|yq|拖了|拖欠|已经拖|晚了|晚还|超期|断供|停还",
    "installment": r"分成|分期|分摊|分|期限|还款期|协商|再分",
    "income": r"月入|月收入|收入|工资|薪水|薪资|月薪|底薪|挣|赚|工资到手|月到手|资到手|到手工资|进账|入账|发工资",
    "payment": r"能还|可以还|只能还|最多还|顶多还|最多能还|最多可以还|还得起|还得上|拿得出|拿出|挤出|挤|月供|"
               r"每期|一期|期还|月还|能付|付得起|能承受|承受|愿意还|打算还|最多|顶多|最多能|能出|可以出",
    "monthly": r"每月|每个月|一个月|1个月|一月|月均|平均每月|每一个月",
    "amount": r"欠|借了|借|贷了|负债|欠款|本金|总共|一共|共计|合计|加起来|总额|总欠|余额|待还|还剩|剩下|剩|"
              r"各|还差|透支|刷了|刷爆|金额|债|总计|用了|借款",
    "obligation": r"要还|得还|需要还|应还|需还|就要还|最低还款|最低还|最低|还款额|都要|要交|月供要|账单",
    "fee": r"利息|罚息|违约金|手续费|服务费|担保费|砍头息|滞纳金|年费|会员费|利率|年化|日息|月息|费率|费|息|"
           r"房租|租金|房贷|车贷|生活费|开销|开支|花销|花费|话费|水电|伙食|吃饭|学费|医药费|奶粉",
    "paid": r"额度|可用|还了|已还|还过|还上了|已经还|交了|转了|付了|到手|给了|收到|赔了|亏了|花了|"
            r"存款|积蓄|存了|攒了|手里|手上|身上|手头|转|交|打款|打钱|汇款|汇",
    # a yearly figure is not a monthly income or payment
    "yearly": r"一年|每年|年底|年终|全年|年收入|年薪|年入",
    # identifiers, phone calls, percentages: never a sum of money (only right before the number)
    "skip": r"第|尾号|工号|号码|电话|手机号|手机|编号|验证码|卡号|账号|qq|vx|wx|微信号|身份证号|身份证|密码|分机|拨打|打|"
            r"年薪|年收入|年入|百分之|排名",
    # before a duration: a wish or a different time, not how long it has been overdue
    "dskip": r"延期|延|宽限|暂停还款|暂停还|暂停|暂缓|停|推迟|展期|缓|再给|给我|还有|距离|提前|工资拖了|工资拖|拖工资|工资被拖|这|那|前|近|最近|过去|每|再|"
             r"过了|之后|以后|后|才过|还剩|下|上",
}
# longest alternative first, so 工资到手 is one cue, not 工资 + 到手
_CUE_RX = {k: re.compile("|".join(sorted(v.split("|"), key=len, reverse=True))) for k, v in _CUES.items()}
# cues that only count directly before the number (at most this many characters between)
_SHORT = {"skip": 2, "dskip": 4}
_POST_OVERDUE = re.compile(r"\s?(?:了)?(?:都|也|还|一直)?(?:没还|未还|没有还|没交|没给|没处理|没动|逾期)")
_POST_INSTALL = re.compile(r"\s?(?:内|之内|以内)?(?:还完|还清|还|分期)")
_POST_PAYMENT = re.compile(r"\s?(?:块钱|块|元)?(?:左右|上下)?(?:可以|能)?(?:用来|拿来|用于)还")
_POST_INCOME = re.compile(r"\s?(?:块钱|块|元)?(?:的)?(?:工资|收入|月薪)")
_POST_SKIP_DURATION = re.compile(r"\s?(?:后|以后|之后|内|以内|之内|前|之前|以前|时间|就到期|到期|一期|一次|一还|左右到期|"
                                 r"不到|没到|就要|前后)")
_ELAPSED_BEFORE = re.compile(r"(?:快|已经|都|有)$")  # 快两年了: time that has passed
_ELAPSED_AFTER = re.compile(r"了")
_PHONE_SPACED = re.compile(r"(?<![0-9])1[3-9][0-9][\s-]?[0-9]{4}[\s-]?[0-9]{4}(?![0-9])|[0-9]{17}[0-9x]")
_BARRIER = re.compile(r"[。!?;\n]")
WINDOW = 12

# what may NOT follow a money number (classifiers, times, dates, percentages)
_NOT_MONEY_AFTER = re.compile(
    r"(?!rmb)[a-z]|[:/\-][0-9]|(?:个(?!月|多月|半月)|次|点|号|岁|张|条|家|人|位|名|遍|通|声|回|趟|笔|份|项|种|只|台|部|套|层|楼|"
    r"%|倍|度|折|成(?!本)|分钟|小时|秒|周年|周|日|级|届|页|米|公里|斤|克|kg|辆|胎|集|天|月|年|星期|礼拜|期|"
    r"高炮)"
)
_SLANG = re.compile(r"886|88|520|1314|233+|([1-9])\1{2,}")  # bye-bye, love you, lol, 666/888/111
_PHONE_LIKE = re.compile(r"1[3-9][0-9]{9}")
_HOTLINE = re.compile(r"110|119|120|122|123[0-9]{2}|9[56][0-9]{3}|[48]00[0-9]{7}")
_FILLER = re.compile(r"[\s了的啊吧呢吗嘛哈呀啦哦噢喔额呃吧,.!?~…、。:：\"'“”()（）\u2600-\u27bf\U0001F000-\U0001FAFF]")
_OK_SHORT_WORDS = re.compile(r"快|大概|大约|差不多|左右|约|就|才|也就|总共|一共|已经|有|是|我|都|了|多|吧")


def _cues(s: str) -> List[Tuple[int, int, str]]:
    """All cue matches as (end, start, type), sorted by end."""
    out = []
    for kind, rx in _CUE_RX.items():
        for m in rx.finditer(s):
            out.append((m.end(), m.start(), kind))
    out.sort()
    return out


class _Context:
    def __init__(self, s: str, platforms: List[Tuple[int, int]]):
        self.s = s
        self.platforms = platforms
        cues = _cues(s)
        for start, end in platforms:  # a lender's name before a bare number: the amount owed there
            cues.append((end, start, "platform"))
        cues.sort()
        self.cues = cues
        self.ends = [c[0] for c in cues]
        self.barriers = [m.start() for m in _BARRIER.finditer(s)]

    def before(self, pos: int, window: int = WINDOW) -> List[Tuple[int, int, str]]:
        """Cues ending at or before ``pos`` within the window and the same sentence, nearest first
        (ties: the longer cue first)."""
        lo = pos - window
        i = bisect.bisect_left(self.barriers, pos) - 1
        if i >= 0:
            lo = max(lo, self.barriers[i] + 1)
        j = bisect.bisect_right(self.ends, pos)
        found = []
        while j > 0:
            j -= 1
            end, start, kind = self.cues[j]
            if end < lo:
                break
            if start < lo and kind != "platform":
                continue
            limit = _SHORT.get(kind)
            if limit is not None and pos - end > limit:
                continue
            found.append((end, end - start, kind))
        found.sort(key=lambda c: (-c[0], -c[1]))
        return found


# -------------------------------------------------------------------------------------- the numbers


def _unnamed(rx: Pattern[str]) -> str:
    return re.sub(r"\(\?P<\w+>", "(?:", rx.pattern)


_OTHER_FACT = re.compile(
    rf"(?:{_unnamed(N.QUANTITY)})(?:{_unnamed(N.DURATION_UNIT)}|{_unnamed(N.PERIOD_UNIT)}|{_unnamed(N.MONEY_UNIT)})?|"
    rf"{_unnamed(N.HALF)}"
)


def _is_short_answer(ctx: "_Context", start: int, end: int) -> bool:
    """True when the message is little more than facts like this one ("三个多月", "两年吧",
    "借呗 23000 45天"): nothing but numbers, lender names and filler words."""
    s = ctx.s
    if len(s) > 60:
        return False
    chars = list(s[:start] + " " * (end - start) + s[end:])
    for a, b in ctx.platforms:
        chars[a:b] = " " * (b - a)
    rest = _OTHER_FACT.sub(" ", "".join(chars))
    rest = _FILLER.sub("", rest)
    rest = _OK_SHORT_WORDS.sub("", rest)
    return len(rest) <= 1


def _money_kind(ctx: _Context, start: int, end: int, value: float, marked: bool) -> Optional[str]:
    """Which money entity the number at [start, end) is, or None."""
    s = ctx.s
    cues = ctx.before(start)
    strong = next((c for c in cues if c[2] not in ("monthly", "installment", "overdue", "dskip")), None)
    overdue = next((c for c in cues if c[2] == "overdue"), None)
    weak = next((c for c in cues if c[2] == "monthly"), None)
    if overdue and (strong is None or overdue[0] > strong[0]) and (weak is None or overdue[0] > weak[0]):
        strong = (overdue[0], overdue[1], "amount")  # 逾期了两万: the sum that is overdue
    if weak and (strong is None or weak[0] > strong[0]):
        if any(c[2] == "income" for c in cues):
            kind = "monthly_income"
        elif strong and strong[2] in ("obligation", "fee", "skip", "paid"):
            return None  # 每个月要还六千: what the lender asks, not what the user can pay
        else:
            kind = "monthly_payment"
    elif strong is not None:
        kind = {
            "income": "monthly_income",
            "payment": "monthly_payment",
            "amount": "amount",
            "platform": "amount",
            "obligation": "amount",
        }.get(strong[2])
        if kind is None:
            return None  # fee, paid, skip: 利息两千 / 还了一万五 / 尾号1234
        if strong[2] == "obligation" and weak:
            return None  # 每个月就要还六千: the lender's demand, not the user's offer
    else:
        if _POST_INCOME.match(s, end):
            kind = "monthly_income"
        elif marked or value >= 100:
            kind = "amount"
        else:
            return None
    if kind == "amount" and _POST_PAYMENT.match(s, end):
        kind = "monthly_payment"  # 剩下2000左右用来还款
    if kind != "amount" and _POST_INCOME.match(s, end):
        kind = "monthly_income"
    if kind != "amount" and any(c[2] == "yearly" for c in cues):
        return None  # 一年挣十万: not a monthly figure
    return kind


def _duration_kind(ctx: _Context, start: int, end: int, unit: str, text: str, numtext: str) -> Optional[str]:
    s = ctx.s
    if _POST_SKIP_DURATION.match(s, end):
        return None
    cues = ctx.before(start)
    nearest = next((c for c in cues if c[2] in ("overdue", "installment", "dskip")), None)
    if nearest and nearest[2] == "dskip":
        return None
    if nearest:
        if nearest[2] == "installment":
            return "installments" if unit in ("月", "年") else None
        return "overdue_days"
    if _POST_OVERDUE.match(s, end):
        return "overdue_days"
    if _POST_INSTALL.match(s, end) and unit in ("月", "年"):
        return "installments"
    if _is_short_answer(ctx, start, end):
        elapsed = _ELAPSED_BEFORE.search(s[max(0, start - 2): start]) or _ELAPSED_AFTER.match(s, end)
        if unit == "年" and not elapsed:
            return "installments"  # "两年" answering "分几期": 24 periods
        return "overdue_days"  # "三个多月" / "快两年了": how long it has been
    return None


def _numbers(s: str, taken: List[Tuple[int, int]], ctx: _Context) -> List[Dict[str, Any]]:
    out: List[Dict[str, Any]] = []

    occupied = bytearray(len(s) + 1)

    def take(a: int, b: int) -> None:
        occupied[a:b] = b"\x01" * (b - a)

    def free(a: int, b: int) -> bool:
        return not any(occupied[a:b])

    for a, b in taken:
        take(a, b)

    for m in _PHONE_SPACED.finditer(s):  # 138 1234 5678: never an amount
        take(m.start(), m.end())

    # 半年 / 半个月 without a digit
    for m in N.HALF.finditer(s):
        if m.start() > 0 and s[m.start() - 1] in N._BODY + "0123456789个":
            continue
        if not free(m.start(), m.end()):
            continue
        unit = m.group("unit")
        kind = _duration_kind(ctx, m.start(), m.end(), unit, m.group(0), "半")
        if kind == "overdue_days":
            out.append(_ent(kind, 15 if unit == "月" else 180, m.start(), m.end()))
        elif kind == "installments" and unit == "年":
            out.append(_ent(kind, 6, m.start(), m.end()))
        take(m.start(), m.end())

    for a, b, numtext in _quantities(s):
        if not free(a, b):
            continue
        value = N._value(numtext)
        if value is None or value <= 0:
            continue
        # ---- instalments: N期
        p = N.PERIOD_UNIT.match(s, b)
        if p:
            before = s[max(0, a - 1): a]
            near = next((c for c in ctx.before(a) if c[2] in ("overdue", "installment")), None)
            if near and near[2] == "overdue" and a - near[0] <= 3:
                pass  # 逾期3期: periods overdue, not a plan
            elif before not in ("第", "每", "这", "上", "下", "前", "哪", "几") and 2 <= value <= 360 and value == int(value):
                out.append(_ent("installments", int(value), a, p.end()))
            take(a, p.end())
            continue
        # ---- durations: N天 / N个月 / N年 / 一年半
        d = N.DURATION_UNIT.match(s, b)
        if d and d.group("ge") and re.search(r"[百千万]一$", numtext):
            # 能还三百一个月: 三百 + 一个月, not 三百一 months
            b -= 1
            numtext = numtext[:-1]
            value = N._value(numtext)
            d = None
            if value is None:
                continue
        if d:
            unit = d.group("unit")
            e = d.end()
            take(a, e)
            if unit == "月" and not d.group("ge") and numtext not in ("俩", "仨", "两"):
                continue  # 3月 / 三月: a month of the year
            if unit == "年" and (value >= 100 or value != int(value) or re.match(r"[0-9一二三四五六七八九十]+月", s[e:e + 3])):
                continue  # 2024年 / 24年3月: a date
            if value > 1000:
                continue
            text = s[a:e]
            if text in ("一个月", "1个月", "一年", "一月", "一个星期", "一周", "一天") and _rate_before_money(s, e):
                continue  # 一个月能还1000: the period of a rate, not a duration
            kind = _duration_kind(ctx, a, e, unit, text, numtext)
            if kind is None:
                continue
            days, months = N._duration(value, unit, d.group("ge") or "", d.group("pre") or "", d.group("post") or "")
            if kind == "overdue_days":
                out.append(_ent(kind, int(round(days)), a, e))
            elif months >= 2 and months == int(months):
                out.append(_ent(kind, int(months), a, e))
            continue
        # ---- money
        if _NOT_MONEY_AFTER.match(s, b):
            continue
        if a > 0 and s[a - 1] in ":/-+#" and s[a - 2: a - 1].isdigit():
            continue  # 10:30, 5/20
        digits = numtext.replace(",", "")
        plain = digits.isdigit()
        if plain and (len(digits) >= 9 or _PHONE_LIKE.fullmatch(digits) or (digits.startswith("0") and len(digits) > 1)):
            continue  # phone numbers, ID numbers, 0755...
        unit_m = N.MONEY_UNIT.match(s, b)
        marked = bool(unit_m) or bool(re.search(r"[百千万亿kw]", numtext))
        if plain and not unit_m and not ctx.before(a, 4) and (_HOTLINE.fullmatch(digits) or _SLANG.fullmatch(digits)):
            continue  # 12378, 110, 95188 said on their own; 886, 666, 520 are words
        if value > 1e9:
            continue
        kind = _money_kind(ctx, a, b, value, marked)
        if kind is None:
            continue
        if value < (10 if kind == "monthly_payment" else 100):
            continue  # 欠了50 / 五一: not a debt anyone asks us about
        out.append(_ent(kind, int(round(value)), a, b))
    return out


_RANGE_SEP = re.compile(r"\s?(?:到|至|-|~|～|、)\s?")
_MULT_SUFFIX = re.compile(r"[百千万亿kw]+$")


def _quantities(s: str):
    """(start, end, number text) for each quantity; a range counts once, at its lower end:
    1000到1500 → 1000, 7、8万 → 7万, 两到三个月 → 两 (+ the unit that follows)."""
    matches = list(N.QUANTITY.finditer(s))
    i = 0
    while i < len(matches):
        m = matches[i]
        lo = m.group("num")
        if i + 1 < len(matches) and not m.group("approx"):
            sep = _RANGE_SEP.match(s, m.end())
            nxt = matches[i + 1]
            if sep and sep.end() == nxt.start():
                hi = nxt.group("num")
                suffix = _MULT_SUFFIX.search(hi)
                lo_plain = not _MULT_SUFFIX.search(lo)
                listing = "、" in sep.group(0) and not (lo_plain and suffix)
                if not listing:
                    yield m.start(), nxt.end(), (lo + suffix.group(0) if (suffix and lo_plain) else lo)
                    i += 2
                    continue
        yield m.start(), m.end(), lo
        i += 1


def _rate_before_money(s: str, end: int) -> bool:
    """True when a money number follows closely, in the same clause (一个月能还1000, 一个月挣五千)."""
    window = s[end: end + 10]
    m = N.QUANTITY.search(window)
    if not m or m.start() > 7 or re.search(r"[,。!?;\n]", window[: m.start()]):
        return False
    after = end + m.end()
    if N.DURATION_UNIT.match(s, after) or N.PERIOD_UNIT.match(s, after) or _NOT_MONEY_AFTER.match(s, after):
        return False
    value = N._value(m.group("num"))
    return bool(value and value >= 10)


def _ent(entity: str, value: Any, start: int, end: int) -> Dict[str, Any]:
    return {"entity": entity, "value": value, "start": start, "end": end}


# -------------------------------------------------------------------------------------------- API


def extract(text: Any) -> List[Dict[str, Any]]:
    """Entities in ``text`` as dicts {entity, value, start, end, text}, in the order they appear."""
    try:
        if not isinstance(text, str) or not text.strip():
            return []
        original = text[:MAX_CHARS]
        s = normalise(original)
        if len(s) != len(original):  # pragma: no cover - normalise is length-preserving
            s = original.lower()
            if len(s) != len(original):
                return []
        canon, _, rx = _lenders()
        found: List[Dict[str, Any]] = []
        spans: List[Tuple[int, int]] = []
        if rx is not None:
            for m in rx.finditer(s):
                name = canon.get(m.group(0))
                if name:
                    found.append(_ent("platform", name, m.start(), m.end()))
                    spans.append((m.start(), m.end()))
        ctx = _Context(s, spans)
        found += _numbers(s, list(spans), ctx)
        found.sort(key=lambda e: (e["start"], e["end"]))
        for ent in found:
            ent["text"] = original[ent["start"]: ent["end"]]
        return found
    except Exception:  # never break a conversation over an odd message
        return []
