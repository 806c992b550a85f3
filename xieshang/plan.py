"""Repayment plan maths: from a borrower's own numbers to concrete options and a payment schedule.

Plain Python (no Rasa): the action server fills a :class:`Situation` from slots, calls
:func:`make_plan` and sends :func:`render_plan`; :mod:`xieshang.negotiation` turns the same
:class:`Plan` into a call script, a message, a cover letter and a calendar file.

Everything is deterministic for a given ``today``. Amounts are integer yuan, periods are months.
Unknown values are ``None`` and never block: the plan uses what is known and lists in
``Plan.missing`` what would make it better. Rules and wording live in ``content/plan_rules.yml``.
"""
from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any, Dict, List, Optional, Sequence, Tuple

from xieshang.content import load
from xieshang.facts import render
from xieshang.nlu.extract import platform_kind

KINDS = ("bank_card", "bank_loan", "consumer_finance", "small_loan", "online")
UNKNOWN_KIND = "unknown"


# --------------------------------------------------------------------------------------------
# Input


@dataclass
class Debt:
    platform: Optional[str] = None
    amount: Optional[int] = None
    overdue_days: Optional[int] = None
    kind: Optional[str] = None  # override; normally looked up with lender_kind(platform)


@dataclass
class Situation:
    debts: List[Debt] = field(default_factory=list)
    monthly_income: Optional[int] = None
    monthly_spending: Optional[int] = None  # essential spending (rent, food, transport...)
    monthly_payment: Optional[int] = None  # what the user says they can pay each month
    hardship_reason: Optional[str] = None  # 失业 / 生病 / 收入下降 ...
    recovery: Optional[str] = None  # free text: 下个月发工资
    recovery_months: Optional[int] = None
    requested_periods: Optional[int] = None  # "分12期": used only when affordable is unknown


# --------------------------------------------------------------------------------------------
# Output


@dataclass
class Payment:
    date: date
    platform: Optional[str]
    amount: int
    number: int  # 1-based period number
    periods: int


@dataclass
class LenderPlan:
    platform: Optional[str]
    kind: str
    amount: Optional[int]  # None when unknown (or given as 0 / negative)
    overdue_days: Optional[int]
    max_periods: int
    max_is_rule: bool  # True: a rule (bank card, fact 7.5); False: project heuristic
    monthly: Optional[int] = None  # proposed regular monthly payment (this lender's share)
    periods: Optional[int] = None
    last_amount: Optional[int] = None
    fits: Optional[bool] = None  # periods within max_periods; None when not computed
    monthly_at_max: Optional[int] = None  # monthly needed to finish in max_periods
    requested_capped: Optional[int] = None  # requested periods that were above the max
    payments: List[Payment] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.platform or _texts()["names"]["unknown_platform"]

    @property
    def is_bank_card(self) -> bool:
        return self.kind == "bank_card"

    @property
    def one_off(self) -> bool:
        return self.periods == 1

    @property
    def end_date(self) -> Optional[date]:
        return self.payments[-1].date if self.payments else None


@dataclass
class Option:
    key: str  # extension | installments | fee_waiver | no_budget | hardship_proof | resources
    title: str
    text: str  # may contain [[id]] fact markers; render with xieshang.facts.render
    date: Optional[date] = None  # extension: the proposed date


@dataclass
class Missing:
    key: str  # debts | platform | amount | monthly_payment | monthly_spending | hardship_reason | recovery | overdue_days
    question: str
    platform: Optional[str] = None
    index: Optional[int] = None  # which debt (0-based) for platform/amount/overdue_days


@dataclass
class Plan:
    situation: Situation
    today: date
    pay_day: int
    affordable: Optional[int]
    affordable_source: Optional[str]  # payment | income | no_income | None
    total_owed: int  # sum of the known amounts
    lenders: List[LenderPlan]
    options: List[Option]
    schedule: List[Payment]
    first_payment_date: date
    extension_date: Optional[date]
    extension_months: Optional[int]
    hardship: Optional[str]  # job_loss | illness | income_drop | None
    missing: List[Missing]
    notes: List[str] = field(default_factory=list)

    @property
    def all_amounts_known(self) -> bool:
        return bool(self.lenders) and all(lp.amount for lp in self.lenders)

    @property
    def no_budget(self) -> bool:
        return self.affordable == 0

    @property
    def temporary(self) -> bool:
        return any(o.key == "extension" for o in self.options) and not self.no_budget

    @property
    def has_bank_card(self) -> bool:
        return any(lp.is_bank_card for lp in self.lenders)

    def option(self, key: str) -> Optional[Option]:
        for o in self.options:
            if o.key == key:
                return o
        return None

    def lender(self, platform: Optional[str]) -> Optional[LenderPlan]:
        for lp in self.lenders:
            if lp.platform == platform:
                return lp
        return None


# --------------------------------------------------------------------------------------------
# Content


def _rules() -> Dict[str, Any]:
    return load("plan_rules")


def _texts() -> Dict[str, Any]:
    return _rules()["texts"]


def lender_kind(platform: Optional[str]) -> str:
    """The lender's kind (bank_card, bank_loan, consumer_finance, small_loan, online) from
    content/lenders.yml, or from its name (…信用卡, …消费金融, …小贷, …银行) when it is not listed;
    else "unknown". One lookup for the whole project: xieshang.nlu.extract.platform_kind."""
    kind = platform_kind(platform)
    return kind if kind in KINDS else UNKNOWN_KIND


def clean_answer(text: Any) -> Optional[str]:
    """A user's free-text answer ready for templates: stripped, without ``[[``/``]]`` (they would
    read as fact markers) or ``{}``; None when empty or when it only says "I don't know / won't say"
    (the words are in plan_rules.yml ``unknown_answers``): such answers never block, and are never
    quoted back as if they were a reason or a date."""
    if text is None or not isinstance(text, str):
        return None
    s = re.sub(r"\[\[|\]\]|[{}]", "", text).strip()
    core = re.sub(r"[\s，。,.!！?？~～…、]+", "", s)
    if not core:
        return None
    spec = _rules().get("unknown_answers") or {}
    words = "|".join(re.escape(w) for w in spec.get("words", []))
    if words:
        prefix = "|".join(re.escape(w) for w in spec.get("prefixes", []))
        particles = "".join(spec.get("particles", []))
        pattern = rf"(?:{prefix})*(?:{words})" + (rf"[{re.escape(particles)}]*" if particles else "")
        if re.fullmatch(pattern, core, flags=re.IGNORECASE):
            return None
    return s


def hardship_category(reason: Optional[str]) -> Optional[str]:
    """job_loss | illness | income_drop for a short reason phrase, else None."""
    if not reason:
        return None
    for category, spec in (_rules().get("hardship_categories") or {}).items():
        if any(word in reason for word in spec.get("keywords", [])):
            return category
    return None


_CN_DIGITS = {"一": 1, "二": 2, "两": 2, "俩": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10, "半": 0}


def _small_number(text: str) -> Optional[float]:
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return float(text)
    if text == "半":
        return 0.5
    if text.startswith("十"):  # 十一, 十二
        return 10 + (_CN_DIGITS.get(text[1:], 0) if len(text) > 1 else 0)
    if len(text) == 1 and text in _CN_DIGITS:
        return float(_CN_DIGITS[text])
    if len(text) == 2 and text[1] == "十" and text[0] in _CN_DIGITS:  # 二十
        return float(_CN_DIGITS[text[0]] * 10)
    if len(text) == 2 and text[0] in _CN_DIGITS and text[1] in _CN_DIGITS:  # 两三 → the larger
        return float(max(_CN_DIGITS[text[0]], _CN_DIGITS[text[1]]))
    return None


def recovery_months_from_text(text: Optional[str], today: Optional[date] = None) -> Optional[int]:
    """Months until income recovers, read from a short answer such as 下个月发工资, 两三个月后,
    半年, 20天后, 3月份, 年底; None when the text gives no time we can read."""
    if not text:
        return None
    words = _rules().get("recovery_words") or {}
    if any(w in text for w in words.get("next_next_month", [])):
        return 2
    if today is not None:  # a calendar year: 2027年3月, 明年五月, 明年
        m = re.search(r"(20\d\d)\s*年|(明年)", text)
        if m:
            year = int(m.group(1)) if m.group(1) else today.year + 1
            mm = re.match(r"\s*(1[0-2]|[1-9]|十[一二]?|[一二三四五六七八九])\s*月", text[m.end():])
            month = 1
            if mm:
                month = int(mm.group(1)) if mm.group(1).isdigit() else int(_small_number(mm.group(1)) or 1)
            return max(1, (year - today.year) * 12 + month - today.month)
    num = r"(?<![\d.])(\d{1,3}(?:\.\d+)?|[一二两俩三四五六七八九十半]{1,2})"
    m = re.search(num + r"\s*(个月|个半月|年|个星期|星期|个礼拜|礼拜|周|天)", text)
    if m:
        n = _small_number(m.group(1))
        if n is not None:
            unit = m.group(2)
            if unit == "年":
                n *= 12
            elif unit == "个半月":
                n += 0.5
            elif unit != "个月":  # weeks or days
                n = (n * 7 if unit != "天" else n) / 30
            return max(1, int(-(-n // 1)))
    if today is not None:
        m = re.search(r"(?<![个\d一二两三四五六七八九十])(1[0-2]|[1-9]|十[一二]?|[一二三四五六七八九])月", text)
        if m:
            month = int(m.group(1)) if m.group(1).isdigit() else int(_small_number(m.group(1)) or 0)
            if 1 <= month <= 12:
                return max(1, (month - today.month) % 12)
    if any(w in text for w in words.get("next_month", [])):
        return 1
    if any(w in text for w in words.get("year_end", [])) and today is not None:
        return max(1, 12 - today.month)
    return None


# --------------------------------------------------------------------------------------------
# Number and date helpers


def as_int(value: Any) -> Optional[int]:
    """Coerce a slot value (int, float, "12000", "1.2万"-free digits) to int; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(round(value)) if math.isfinite(value) else None
    if isinstance(value, str):
        s = value.strip().replace(",", "").replace("，", "")
        if re.fullmatch(r"-?\d+(\.\d+)?", s):
            return int(round(float(s)))
    return None


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def yuan(n: Optional[int]) -> str:
    """12000 → "12000 元"; large amounts also in 万."""
    if n is None:
        return "【金额】"
    if n >= 100000:
        wan = n / 10000
        wan_s = f"{wan:.0f}" if n % 10000 == 0 else f"约{wan:.1f}"
        return f"{n} 元（{wan_s}万）"
    return f"{n} 元"


def cn_date(d: Optional[date]) -> str:
    if d is None:
        return "【日期】"
    return f"{d.year}年{d.month}月{d.day}日"


def add_months(d: date, months: int, day: Optional[int] = None) -> date:
    """``d`` moved by ``months`` calendar months, on ``day`` (default d.day), clamped to month end:
    2026-01-31 + 1 → 2026-02-28; 2027-11-30 + 3 → 2028-02-29."""
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day or d.day, last))


def first_payment_date(today: date, pay_day: int, min_days: int) -> date:
    """The first ``pay_day`` (clamped to month end) on or after ``today + min_days``."""
    earliest = today + timedelta(days=min_days)
    candidate = add_months(date(today.year, today.month, 1), 0, pay_day)
    step = 0
    while candidate < earliest:
        step += 1
        candidate = add_months(date(today.year, today.month, 1), step, pay_day)
    return candidate


def monthly_dates(first: date, count: int, pay_day: int) -> List[date]:
    """``count`` dates: ``first`` and then ``pay_day`` of each following month (clamped)."""
    start = date(first.year, first.month, 1)
    return [add_months(start, i, pay_day) for i in range(count)]


def split_pro_rata(total: int, weights: Sequence[int]) -> List[int]:
    """Integers proportional to ``weights`` that add up exactly to ``total`` (largest remainder;
    ties go to the larger weight, then the earlier one)."""
    if not weights:
        return []
    wsum = sum(weights)
    if wsum <= 0:
        raise ValueError("weights must add up to more than 0")
    floors = [total * w // wsum for w in weights]
    remainders = [total * w % wsum for w in weights]
    left = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], -weights[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors


# --------------------------------------------------------------------------------------------
# The plan


def _affordable(s: Situation) -> Tuple[Optional[int], Optional[str]]:
    payment = as_int(s.monthly_payment)
    if payment is not None and payment >= 0:  # a negative "can pay" is a typo: treat as unknown
        return payment, "payment"
    income, spending = as_int(s.monthly_income), as_int(s.monthly_spending)
    if income is not None and income < 0:
        income = None
    if income == 0:
        return 0, "no_income"
    if income is not None and spending is not None:
        return max(0, income - max(0, spending)), "income"
    return None, None


def _max_for(kind: str) -> Tuple[int, bool]:
    table = _rules()["max_periods"]
    spec = table.get(kind) or table[UNKNOWN_KIND]
    return int(spec["periods"]), spec.get("basis") == "rule"


def _fill_installments(lp: LenderPlan, monthly: int, first: date, pay_day: int) -> None:
    """Periods for ``lp`` at ``monthly`` a month: the last period takes the remainder."""
    amount = lp.amount
    assert amount
    lp.monthly = monthly
    if monthly <= 0:
        lp.fits = False
        lp.monthly_at_max = ceil_div(amount, lp.max_periods)
        return
    lp.periods = ceil_div(amount, monthly)
    lp.last_amount = amount - monthly * (lp.periods - 1)
    lp.fits = lp.periods <= lp.max_periods
    if not lp.fits:
        lp.monthly_at_max = ceil_div(amount, lp.max_periods)
        return
    dates = monthly_dates(first, lp.periods, pay_day)
    lp.payments = [
        Payment(d, lp.platform, monthly if i < lp.periods - 1 else lp.last_amount, i + 1, lp.periods)
        for i, d in enumerate(dates)
    ]


def _fill_requested(lp: LenderPlan, periods: int, first: date, pay_day: int) -> None:
    if periods > lp.max_periods:
        lp.requested_capped = periods
        periods = lp.max_periods
    _fill_installments(lp, ceil_div(lp.amount, periods), first, pay_day)


def make_plan(situation: Situation, today: date, *, pay_day: Optional[int] = None) -> Plan:
    """Work out the options for ``situation`` as of ``today``.

    ``pay_day`` (1-31) overrides the day of the month for payments (default from plan_rules.yml,
    e.g. the user's payday); days beyond a month's end fall on its last day.
    """
    rules = _rules()
    t = rules["texts"]
    sched = rules["schedule"]
    # The plan keeps a cleaned copy: "不知道"/"不想说" count as unknown, never as a reason.
    situation = replace(
        situation,
        debts=[replace(d, platform=clean_answer(d.platform)) for d in (situation.debts or [])],
        hardship_reason=clean_answer(situation.hardship_reason),
        recovery=clean_answer(situation.recovery),
    )
    pay_day = min(31, max(1, int(pay_day or sched["pay_day"])))
    first = first_payment_date(today, pay_day, int(sched["min_days_before_first"]))

    lenders: List[LenderPlan] = []
    for debt in situation.debts:
        platform = (debt.platform or "").strip() or None
        kind = debt.kind if debt.kind in KINDS else lender_kind(platform)
        amount = as_int(debt.amount)
        overdue = as_int(debt.overdue_days)
        max_periods, is_rule = _max_for(kind)
        lenders.append(LenderPlan(
            platform=platform, kind=kind, amount=amount if amount and amount > 0 else None,
            overdue_days=overdue if overdue is not None and overdue >= 0 else None,
            max_periods=max_periods, max_is_rule=is_rule,
        ))

    affordable, source = _affordable(situation)
    known = [lp for lp in lenders if lp.amount]
    total = sum(lp.amount for lp in known)
    requested = as_int(situation.requested_periods)

    # Installments
    if affordable and known:
        if affordable >= total:
            for lp in known:
                _fill_installments(lp, lp.amount, first, pay_day)
        else:
            shares = split_pro_rata(affordable, [lp.amount for lp in known])
            for lp, share in zip(known, shares):
                _fill_installments(lp, share, first, pay_day)
    elif affordable is None and requested and requested > 0 and known:
        for lp in known:
            _fill_requested(lp, requested, first, pay_day)
    if affordable and len(lenders) == 1 and not known:
        lenders[0].monthly = affordable

    schedule = [p for *_, p in sorted(
        (p.date, i, p.number, p) for i, lp in enumerate(lenders) for p in lp.payments
    )]

    # Extension
    recovery_months = as_int(situation.recovery_months)
    if recovery_months is not None and recovery_months < 0:
        recovery_months = None
    text_months = recovery_months_from_text(situation.recovery, today)
    months = recovery_months if recovery_months is not None else text_months
    ext = rules["extension"]
    temporary = (months is not None and months <= int(ext["max_months"])) or (
        months is None and bool((situation.recovery or "").strip())
    )
    ext_months: Optional[int] = None
    if affordable == 0:
        ext_months = min(months, int(ext["max_months"])) if months else int(ext["no_budget_months"])
    elif temporary:
        ext_months = max(1, months if months is not None else int(ext["default_months"]))
    ext_date = add_months(today, ext_months) if ext_months else None

    hardship = hardship_category(situation.hardship_reason)
    options = _options(situation, lenders, affordable, first, ext_date, ext_months, months, hardship, t)

    plan = Plan(
        situation=situation, today=today, pay_day=pay_day, affordable=affordable,
        affordable_source=source, total_owed=total, lenders=lenders, options=options,
        schedule=schedule, first_payment_date=first, extension_date=ext_date,
        extension_months=ext_months, hardship=hardship, missing=[],
    )
    plan.missing = _missing(plan, t)
    return plan


def _end_part(lp: LenderPlan, t: Dict[str, Any]) -> str:
    if lp.last_amount is not None and lp.last_amount != lp.monthly:
        return t["inst_end_last"].format(end=cn_date(lp.end_date), last=yuan(lp.last_amount))
    return t["inst_end_even"].format(end=cn_date(lp.end_date))


def _max_label(lp: LenderPlan, t: Dict[str, Any]) -> str:
    return t["max_label_rule"] if lp.max_is_rule else t["max_label_heuristic"]


def installment_line(lp: LenderPlan, affordable: Optional[int], first: date) -> Optional[str]:
    """One line describing this lender's installments, or None when nothing can be said."""
    t = _texts()
    if lp.amount and lp.monthly is not None and lp.monthly <= 0:
        return t["inst_line_no_share"].format(name=lp.name, amount=yuan(lp.amount))
    if lp.amount and lp.periods:
        if lp.fits and lp.one_off:
            return t["inst_line_once"].format(name=lp.name, amount=yuan(lp.amount), start=cn_date(first))
        if lp.fits:
            key = "inst_line_fits" if affordable else "inst_line_requested"
            return t[key].format(
                name=lp.name, amount=yuan(lp.amount), monthly=yuan(lp.monthly), periods=lp.periods,
                start=cn_date(first), end_part=_end_part(lp, t),
            )
        return t["inst_line_not_fit"].format(
            name=lp.name, amount=yuan(lp.amount), monthly=yuan(lp.monthly), periods=lp.periods,
            max_label=_max_label(lp, t), max=lp.max_periods, at_max=yuan(lp.monthly_at_max),
            gap=yuan(lp.monthly_at_max - lp.monthly),
        )
    if not lp.amount and lp.monthly:
        return t["inst_line_unknown_amount"].format(name=lp.name, monthly=yuan(lp.monthly))
    return None


def _options(s: Situation, lenders: List[LenderPlan], affordable: Optional[int], first: date,
             ext_date: Optional[date], ext_months: Optional[int], months: Optional[int],
             hardship: Optional[str], t: Dict[str, Any]) -> List[Option]:
    titles = t["titles"]
    options: List[Option] = []

    ext_option = None
    if ext_date:
        overdue = [lp.overdue_days for lp in lenders if lp.overdue_days is not None]
        if overdue and all(d > 0 for d in overdue):
            basis = t["ext_basis_overdue"]
        elif overdue and len(overdue) == len(lenders) and all(d == 0 for d in overdue):
            basis = t["ext_basis_not_overdue"]
        else:
            basis = t["ext_basis_unknown"]
        if affordable == 0:
            why = t["ext_why_no_budget"].format(months=ext_months)
        elif months is not None and s.recovery_months is not None:
            why = t["ext_why_months"].format(months=months)
        elif (s.recovery or "").strip():
            why = t["ext_why_text"].format(recovery=s.recovery.strip())
        else:
            why = t["ext_why_months"].format(months=months)
        ext_option = Option("extension", titles["extension"],
                            t["ext_proposal"].format(date=cn_date(ext_date), why=why) + basis, ext_date)

    fee = Option("fee_waiver", titles["fee_waiver"], t["fee_waiver"])

    if affordable == 0:
        from xieshang import negotiation  # proofs wording lives with the documents

        options.append(Option("no_budget", titles["no_budget"], t["no_budget"]))
        if ext_option:
            options.append(ext_option)
        options.append(fee)
        options.append(Option("hardship_proof", titles["hardship_proof"],
                              t["hardship_proof"].format(proofs=negotiation.proofs_short(hardship))))
        options.append(Option("resources", titles["resources"], t["resources"]))
        return options

    inst = _installments_option(lenders, affordable, first, s, t)
    if ext_option:
        options.append(ext_option)
    if inst:
        options.append(inst)
    options.append(fee)
    return options


def _installments_option(lenders: List[LenderPlan], affordable: Optional[int], first: date,
                         s: Situation, t: Dict[str, Any]) -> Optional[Option]:
    if not lenders:
        return None
    lines: List[str] = []
    known = [lp for lp in lenders if lp.amount]
    unknown = [lp for lp in lenders if not lp.amount]
    if affordable is None and not any(lp.periods for lp in lenders):
        lines.append(t["inst_unknown_affordable"])
    elif len(lenders) == 1:
        line = installment_line(lenders[0], affordable, first)
        if line:
            lines.append(line)
    else:
        if affordable and not known:
            lines.append(t["inst_unassigned_all"].format(affordable=yuan(affordable)))
        else:
            if affordable and affordable < sum(lp.amount for lp in known) and len(known) > 1:
                lines.append(t["inst_split_intro"].format(affordable=yuan(affordable)))
            for lp in known:
                line = installment_line(lp, affordable, first)
                if line:
                    lines.append(t["inst_split_line"].format(line=line) if len(known) > 1 else line)
            if unknown:
                lines.append(t["inst_unassigned"].format(names="、".join(lp.name for lp in unknown)))
    capped = [lp for lp in known if lp.requested_capped]
    if capped:
        lp = capped[0]
        lines.insert(0, t["inst_requested_capped"].format(
            requested=lp.requested_capped, max_label=_max_label(lp, t), max=lp.max_periods))
    if any(lp.is_bank_card for lp in lenders):
        lines.append(t["inst_range_rule"])
    others = [lp for lp in lenders if not lp.is_bank_card]
    if others:
        lines.append(t["inst_range_heuristic"].format(max=others[0].max_periods))
    if any(lp.periods and lp.periods > 1 for lp in lenders):
        lines.append(t["inst_interest_note"])
    return Option("installments", t["titles"]["installments"], "\n".join(lines))


def _missing(plan: Plan, t: Dict[str, Any]) -> List[Missing]:
    q = t["missing"]
    s = plan.situation
    out: List[Missing] = []
    if not plan.lenders:
        out.append(Missing("debts", q["debts"]))
    for i, lp in enumerate(plan.lenders):
        if not lp.platform:
            out.append(Missing("platform", q["platform"].format(n=i + 1), None, i))
        if not lp.amount:
            out.append(Missing("amount", q["amount"].format(name=lp.name), lp.platform, i))
    if plan.affordable is None:
        if (as_int(s.monthly_income) or 0) > 0:
            out.append(Missing("monthly_spending", q["monthly_spending"]))
        else:
            out.append(Missing("monthly_payment", q["monthly_payment"]))
    if not (s.hardship_reason or "").strip():
        out.append(Missing("hardship_reason", q["hardship_reason"]))
    if as_int(s.recovery_months) is None and not (s.recovery or "").strip():
        out.append(Missing("recovery", q["recovery"]))
    for i, lp in enumerate(plan.lenders):
        if lp.overdue_days is None:
            out.append(Missing("overdue_days", q["overdue_days"].format(name=lp.name), lp.platform, i))
    return out


# --------------------------------------------------------------------------------------------
# Chat message


def _affordable_line(plan: Plan, t: Dict[str, Any]) -> str:
    s = plan.situation
    if plan.affordable is None:
        return t["affordable_unknown"]
    if plan.affordable_source == "no_income":
        return t["affordable_no_income"]
    if plan.affordable_source == "income":
        key = "affordable_income" if plan.affordable > 0 else "affordable_income_zero"
        return t[key].format(income=yuan(as_int(s.monthly_income)), spending=yuan(as_int(s.monthly_spending)),
                             affordable=yuan(plan.affordable))
    if plan.affordable == 0:
        return t["affordable_zero"]
    return t["affordable_payment"].format(affordable=yuan(plan.affordable))


def _total_line(plan: Plan, t: Dict[str, Any]) -> str:
    known = [lp for lp in plan.lenders if lp.amount]
    unknown = [lp for lp in plan.lenders if not lp.amount]
    if not known:
        return t["total_none"]
    breakdown = "、".join(t["breakdown_item"].format(name=lp.name, amount=yuan(lp.amount)) for lp in known)
    if unknown:
        return t["total_partial"].format(total=yuan(plan.total_owed), breakdown=breakdown,
                                         unknown="、".join(lp.name for lp in unknown))
    if len(known) == 1:
        return t["total_single"].format(name=known[0].name, total=yuan(plan.total_owed))
    return t["total_known"].format(total=yuan(plan.total_owed), breakdown=breakdown)


def render_plan(plan: Plan, *, max_questions: int = 2) -> str:
    """The chat message: totals, what can be paid, each option with the numbers, and up to
    ``max_questions`` questions that would improve the plan."""
    t = _texts()
    if not plan.lenders:
        parts = [t["no_debts"]]
        if plan.affordable is not None:
            parts.append(_affordable_line(plan, t))
        return "\n".join(parts)
    parts = [t["header"], _total_line(plan, t) + _affordable_line(plan, t)]
    numbered = "①②③④⑤⑥⑦⑧"
    for i, option in enumerate(plan.options):
        parts.append("")
        parts.append(f"{numbered[i]} {option.title}")
        parts.append(render(option.text))
    questions = [m.question for m in plan.missing[:max_questions]]
    if questions:
        parts.append("")
        parts.append(t["missing_intro"])
        parts.extend(f"· {q}" for q in questions)
    if plan.affordable != 0:
        parts.append("")
        parts.append(t["closing"])
    return "\n".join(parts)
