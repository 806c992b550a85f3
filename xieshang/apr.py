"""Real annual percentage rate (年化利率) of a loan from the cash actually received and repaid.

Method (人民银行公告〔2021〕第3号, research fact 3.8/3.9): take the cash received at day 0 and every
repayment at its day offset, solve the per-period internal rate of return r, and report
- ``nominal`` = r × periods per year (what lenders must disclose; used for all legal comparisons),
- ``effective`` = (1 + r) ** periods_per_year − 1 (compound).

The solver is bisection on the net present value, which always converges: with positive repayments
after day 0 the NPV falls strictly as r rises. No numpy.

``explain(result)`` puts the number in context: which cap applies to which kind of lender (facts
3.1–3.5, 3.8), upfront deductions (砍头息), 7–14-day loans, and where to report an illegal lender.
Its texts are in ``content/answers.yml`` under ``apr_explain``.

Plain Python: no Rasa imports.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import FrozenSet, Iterable, List, Optional, Sequence, Tuple

from xieshang.content import load
from xieshang.facts import render

DAYS_PER_YEAR = 365
# A stated principal differing from the cash received by less than this is not a deduction.
_DEDUCTION_TOLERANCE = 0.005
_MAX_RATE_PER_PERIOD = 1e12

FLAG_SHORT_TERM = "short_term_714"
FLAG_UPFRONT = "upfront_deduction"
FLAG_ABOVE_24 = "above_24"
FLAG_ABOVE_4X_LPR = "above_4x_lpr"
FLAG_ABOVE_36 = "above_36"


def current_lpr() -> float:
    """Today's one-year LPR in percent, from the fact base (fact 3.6, with its check date)."""
    for row in (load("facts") or {}).get("facts", []):
        if str(row.get("id")) == "3.6":
            return float(row["value"])
    raise KeyError("fact 3.6 (LPR) missing from content/facts.yml")


@dataclass(frozen=True)
class AprResult:
    received: float
    payments: Tuple[Tuple[int, float], ...]
    total_repaid: float
    term_days: int
    period_days: float
    periods_per_year: float
    rate_per_period: float
    nominal: float  # annual, as a fraction (0.162 = 16.2%)
    effective: float  # annual compound, as a fraction; may be math.inf for tiny terms
    lpr: float  # one-year LPR in percent used for the 4× comparison
    principal: Optional[float] = None
    flags: FrozenSet[str] = field(default_factory=frozenset)

    @property
    def cost(self) -> float:
        """Total paid on top of the cash received (interest + fees)."""
        return self.total_repaid - self.received

    @property
    def nominal_percent(self) -> float:
        return self.nominal * 100

    @property
    def effective_percent(self) -> float:
        return self.effective * 100

    @property
    def cap_4x_lpr(self) -> float:
        """4 × LPR as a fraction (0.12 with an LPR of 3.0%)."""
        return 4 * self.lpr / 100

    @property
    def deduction(self) -> float:
        """Amount deducted upfront (stated principal − cash received), 0 when none."""
        if self.principal is None:
            return 0.0
        return max(0.0, self.principal - self.received)

    def has(self, flag: str) -> bool:
        return flag in self.flags


def _period_days(days: Sequence[int]) -> float:
    """The typical gap between repayments: the median gap, or the term for a single payment."""
    points = sorted(set(d for d in days if d > 0))
    gaps = [b - a for a, b in zip([0] + points[:-1], points)]
    gaps.sort()
    n = len(gaps)
    return float(gaps[n // 2] if n % 2 else (gaps[n // 2 - 1] + gaps[n // 2]) / 2)


def _periods_per_year(period_days: float) -> float:
    """Calendar conventions: monthly loans use 12 periods, weekly 52, fortnightly 26."""
    if 28 <= period_days <= 31:
        return 12.0
    if period_days == 7:
        return 52.0
    if period_days == 14:
        return 26.0
    return DAYS_PER_YEAR / period_days


def _discount(amount: float, exponent: float, log1p_r: float) -> float:
    power = exponent * log1p_r
    if power > 700:  # beyond float range: the payment is worth nothing today
        return 0.0
    return amount * math.exp(-power)


def _npv(rate: float, received: float, flows: Sequence[Tuple[float, float]]) -> float:
    log1p_r = math.log1p(rate)
    return -received + sum(_discount(amount, exponent, log1p_r) for exponent, amount in flows)


def _solve(received: float, flows: Sequence[Tuple[float, float]]) -> float:
    """Per-period rate r with NPV(r) = 0, by bisection. ``flows`` = (periods from day 0, amount)."""
    total = sum(a for _, a in flows)
    if math.isclose(total, received, rel_tol=1e-12, abs_tol=1e-9):
        return 0.0
    if total > received:
        low, high = 0.0, 1.0
        while _npv(high, received, flows) > 0:
            low, high = high, high * 2
            if high > _MAX_RATE_PER_PERIOD:
                return math.inf
    else:
        low, high = -1.0 + 1e-15, 0.0
        if _npv(low, received, flows) < 0:  # all repaid at day 0 and less than received
            return -1.0
    for _ in range(400):
        mid = (low + high) / 2
        if mid in (low, high):
            break
        if _npv(mid, received, flows) > 0:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * max(1.0, abs(high)):
            break
    return (low + high) / 2


def _flags(
    received: float, principal: Optional[float], term_days: int, nominal: float, lpr: float
) -> FrozenSet[str]:
    flags = set()
    if term_days <= 14:
        flags.add(FLAG_SHORT_TERM)
    if principal is not None and principal - received > max(_DEDUCTION_TOLERANCE * principal, 0.01):
        flags.add(FLAG_UPFRONT)
    if nominal > 0.24 + 1e-9:
        flags.add(FLAG_ABOVE_24)
    if nominal > 4 * lpr / 100 + 1e-9:
        flags.add(FLAG_ABOVE_4X_LPR)
    if nominal > 0.36 + 1e-9:
        flags.add(FLAG_ABOVE_36)
    return frozenset(flags)


def irr_annual(
    received: float,
    payments: Iterable[Tuple[int, float]],
    *,
    principal: Optional[float] = None,
    lpr: Optional[float] = None,
    period_days: Optional[float] = None,
) -> AprResult:
    """Annual rate of a loan: ``received`` cash at day 0, ``payments`` as (day offset, amount).

    ``principal``: the amount the contract says was lent (when larger than ``received`` the
    difference was deducted upfront, 砍头息). ``lpr``: the one-year LPR in percent at the
    contract date (default: today's, from the fact base). ``period_days``: the compounding period
    (default: the typical gap between payments).
    """
    received = float(received)
    if not math.isfinite(received) or received <= 0:
        raise ValueError("到手金额必须大于0")
    pays: List[Tuple[int, float]] = []
    for day, amount in payments:
        day, amount = int(day), float(amount)
        if day < 0 or not math.isfinite(amount) or amount < 0:
            raise ValueError("还款的天数不能为负，金额不能为负")
        if amount > 0:
            pays.append((day, amount))
    if not pays:
        raise ValueError("至少需要一笔还款")
    pays.sort()
    term_days = pays[-1][0]
    if term_days <= 0:
        raise ValueError("还款日必须在借款之后")
    if principal is not None:
        principal = float(principal)
        if principal <= 0:
            raise ValueError("合同本金必须大于0")
    lpr = current_lpr() if lpr is None else float(lpr)

    pd = float(period_days) if period_days else _period_days([d for d, _ in pays])
    # Instalments follow calendar conventions (monthly = 12 periods); a single repayment after
    # n days is annualised over 365 days (so "0.1% a day" is 36.5%).
    ppy = _periods_per_year(pd) if len(pays) > 1 else DAYS_PER_YEAR / pd
    flows = [(day / pd, amount) for day, amount in pays]
    r = _solve(received, flows)

    if math.isinf(r):
        nominal = effective = math.inf
    else:
        nominal = r * ppy
        growth = ppy * math.log1p(r) if r > -1 else -math.inf
        effective = math.inf if growth > 700 else math.expm1(growth)
    return AprResult(
        received=received,
        payments=tuple(pays),
        total_repaid=sum(a for _, a in pays),
        term_days=term_days,
        period_days=pd,
        periods_per_year=ppy,
        rate_per_period=r,
        nominal=nominal,
        effective=effective,
        lpr=lpr,
        principal=principal,
        flags=_flags(received, principal, term_days, nominal, lpr),
    )


def apr_equal_installments(
    received: float,
    per_payment: float,
    periods: int,
    period_days: int = 30,
    *,
    principal: Optional[float] = None,
    lpr: Optional[float] = None,
) -> AprResult:
    """Equal instalments: ``periods`` payments of ``per_payment`` every ``period_days`` days."""
    periods = int(periods)
    if periods < 1 or period_days < 1:
        raise ValueError("期数和每期天数必须大于0")
    payments = [(period_days * (k + 1), per_payment) for k in range(periods)]
    return irr_annual(received, payments, principal=principal, lpr=lpr, period_days=period_days)


def apr_from_total(
    received: float,
    total_repaid: float,
    days: int,
    *,
    principal: Optional[float] = None,
    lpr: Optional[float] = None,
) -> AprResult:
    """One repayment of ``total_repaid`` after ``days`` days (7-day, 14-day and bullet loans)."""
    return irr_annual(received, [(int(days), total_repaid)], principal=principal, lpr=lpr)


# ------------------------------------------------------------------------------------------ explain


def format_percent(fraction: float) -> str:
    """0.1623 → "约16.2%"; ≥ 10000% → "超过10000%"; inf → "高到无法用正常数字表示"."""
    if math.isinf(fraction):
        return "高到无法用正常数字表示"
    pct = fraction * 100
    if pct >= 10000:
        return "超过10000%"
    if abs(pct) >= 1000:
        return f"约{pct:,.0f}%"
    return f"约{pct:.1f}%"


def _money(x: float) -> str:
    return f"{x:,.2f}".rstrip("0").rstrip(".") + "元"


def explain(result: AprResult, platform: Optional[str] = None, lender_kind: Optional[str] = None) -> str:
    """Chinese explanation of the rate and of each cap that applies, with cited rules.

    ``lender_kind``: bank_card | bank_loan | consumer_finance | small_loan | private | online |
    unknown (optional): adds which line matters for that lender.
    """
    t = load("answers")["apr_explain"]
    name = (platform or "").strip() or t["default_platform"]
    values = {
        "platform": name,
        "received": _money(result.received),
        "total": _money(result.total_repaid),
        "cost": _money(result.cost),
        "days": result.term_days,
        "count": len(result.payments),
        "nominal": format_percent(result.nominal),
        "effective": format_percent(result.effective),
        "lpr": f"{result.lpr:.1f}%",
        "cap": f"{4 * result.lpr:g}%",
        "principal": _money(result.principal) if result.principal is not None else "",
        "deduction": _money(result.deduction),
    }
    if result.rate_per_period <= 0:
        return render(t["no_cost"].format(**values)).strip()
    lines: List[str] = [t["summary"].format(**values)]
    if result.has(FLAG_UPFRONT):
        lines.append(t["upfront"].format(**values))
    if result.has(FLAG_SHORT_TERM):
        lines.append(t["short_term"].format(**values))
    if result.has(FLAG_ABOVE_36):
        lines.append(t["above_36"].format(**values))
    if result.has(FLAG_ABOVE_24):
        lines.append(t["above_24"].format(**values))
    else:
        lines.append(t["below_24"].format(**values))
    if result.has(FLAG_ABOVE_4X_LPR):
        lines.append(t["above_4x_lpr"].format(**values))
    else:
        lines.append(t["below_4x_lpr"].format(**values))
    kind_line = t["kinds"].get(lender_kind or "")
    if kind_line:
        lines.append(kind_line.format(**values))
    lines.append(t["disclosure"].format(**values))
    if result.has(FLAG_ABOVE_36) or result.has(FLAG_SHORT_TERM):
        lines.append(t["report_illegal"].format(**values))
    else:
        lines.append(t["report"].format(**values))
    return render("\n".join(lines)).strip()
