"""Negotiation documents made from a :class:`xieshang.plan.Plan`: the call script, the written
message for the lender's customer service, the hardship proofs list, the bank-card 个性化分期
application and the repayment calendar (.ics).

Plain Python (no Rasa). All wording is in ``content/negotiation.yml``; documents carry the user's
own platforms and numbers, with 【…】 placeholders only for what is unknown. Legal citations are
``[[id]]`` markers rendered by :func:`xieshang.facts.render`.
"""
from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from datetime import date, timedelta
from typing import Any, Dict, List, Optional

from xieshang.content import load
from xieshang.document import Document
from xieshang.facts import render
from xieshang.plan import UNKNOWN_KIND, LenderPlan, Plan, _max_for, as_int, ceil_div, cn_date, yuan


def _c() -> Dict[str, Any]:
    return load("negotiation")


def _ph(key: str) -> str:
    return _c()["placeholders"][key]


def _pname(lp: LenderPlan) -> str:
    return lp.platform or _ph("platform")


def _placeholder_lender() -> LenderPlan:
    """Stands for the lender when the plan has none yet: documents then carry 【平台名称】 etc."""
    periods, is_rule = _max_for(UNKNOWN_KIND)
    return LenderPlan(platform=None, kind=UNKNOWN_KIND, amount=None, overdue_days=None,
                      max_periods=periods, max_is_rule=is_rule)


def _scope(plan: Plan, platform: Optional[str]) -> List[LenderPlan]:
    if platform is None:
        return list(plan.lenders) or [_placeholder_lender()]
    chosen = [lp for lp in plan.lenders if lp.platform == platform]
    if not chosen:
        raise KeyError(f"no debt with platform {platform!r} in this plan")
    return chosen


def _reason(plan: Plan) -> Optional[str]:
    """The user's reason as a phrase to embed ("失业了。" → "失业"), or None."""
    reason = (plan.situation.hardship_reason or "").strip()
    reason = re.sub(r"[\s，。,.!！?？~～…、了啦]+$", "", reason)
    return reason or None


# --------------------------------------------------------------------------------------------
# Hardship proofs


def proofs_short(category: Optional[str]) -> str:
    """A few proofs in one phrase (used in the plan message and the cover letter)."""
    short = _c()["hardship"]["short"]
    return short.get(category or "unknown", short["unknown"])


def hardship_proofs(plan: Plan) -> str:
    """Proofs worth gathering for the user's hardship (job loss, illness, income drop), or all
    three groups when the reason is unknown, plus the general ones and a warning against fakes."""
    h = _c()["hardship"]
    proofs, labels = h["proofs"], h["proofs_labels"]
    lines: List[str] = []
    if plan.hardship in labels:
        lines.append(h["proofs_title"].format(label=labels[plan.hardship]))
        lines.extend(f"· {p}" for p in proofs[plan.hardship])
    else:
        lines.append(h["proofs_title_unknown"])
        for category, label in labels.items():
            lines.append(f"{label}：" + "、".join(proofs[category]))
    lines.append(h["proofs_general_title"])
    lines.extend(f"· {p}" for p in proofs["general"])
    lines.append(h["proofs_footer"])
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# One lender's proposal


def _proposal_key(lp: LenderPlan, plan: Plan) -> str:
    if plan.no_budget:
        return "no_budget"
    if lp.amount and lp.monthly is not None and lp.monthly <= 0:
        return "no_share"
    if lp.amount and lp.periods:
        if not lp.fits:
            return "not_fit"
        return "once" if lp.one_off else "fits"
    if not lp.amount and lp.monthly:
        return "unknown_amount"
    return "unknown"


def _last_part(lp: LenderPlan) -> str:
    if lp.last_amount is not None and lp.monthly and lp.last_amount != lp.monthly and lp.periods and lp.periods > 1:
        return _c()["proposal"]["last_part"].format(last=yuan(lp.last_amount))
    return ""


def _fields(lp: LenderPlan, plan: Plan) -> Dict[str, Any]:
    return {
        "platform": _pname(lp),
        "amount": yuan(lp.amount) if lp.amount else _ph("amount"),
        "monthly": yuan(lp.monthly) if lp.monthly else _ph("monthly"),
        "periods": lp.periods or _ph("periods"),
        "start": cn_date(plan.first_payment_date),
        "pay_day": plan.pay_day,
        "last_part": _last_part(lp),
        "max": lp.max_periods,
        "at_max": yuan(lp.monthly_at_max) if lp.monthly_at_max else _ph("monthly"),
        "ext_date": cn_date(plan.extension_date) if plan.extension_date else _ph("date"),
    }


def proposal(lp: LenderPlan, plan: Plan, style: str = "call") -> str:
    """This lender's concrete proposal, as said on the phone (``call``) or written (``message``)."""
    template = _c()["proposal"][style][_proposal_key(lp, plan)]
    return template.format(**_fields(lp, plan))


def _debt_part(lp: LenderPlan, c: Dict[str, Any]) -> str:
    text = c["debt_amount"].format(amount=yuan(lp.amount)) if lp.amount else c["debt_amount_unknown"]
    if lp.overdue_days:
        text += c["overdue_part"].format(days=lp.overdue_days)
    elif lp.overdue_days == 0:
        text += c["overdue_none"]
    return text


def _norm_markers(lenders: List[LenderPlan]) -> str:
    by_kind = _c()["norms_by_kind"]
    ids: List[str] = []
    for lp in lenders:
        for fid in by_kind.get(lp.kind, by_kind["unknown"]):
            if fid not in ids:
                ids.append(fid)
    return "、".join(f"[[{fid}]]" for fid in ids)


def _channels(lenders: List[LenderPlan]) -> str:
    ch = _c()["channels"]
    names: List[str] = []
    for lp in lenders:
        for marker in ch.get(lp.kind, ch["unknown"]):
            if marker not in names:
                names.append(marker)
    text = ch["first"] + "然后：" + "；".join(names) + "。"
    if any(lp.kind in ("online", "unknown") for lp in lenders):
        text += ch["online_hint"]
    return text + ch["threats"]


# --------------------------------------------------------------------------------------------
# Call script


def _hardship_lines(plan: Plan) -> List[str]:
    h = _c()["hardship"]
    reason = _reason(plan)
    if reason is None:
        lines = [h["explain"]["unknown"]]
    else:
        lines = [h["explain"].get(plan.hardship or "other", h["explain"]["other"]).format(reason=reason)]
    s = plan.situation
    if plan.no_budget:
        lines.append(h["budget"]["zero"])
    elif plan.affordable is None:
        lines.append(h["budget"]["unknown"])
    elif plan.affordable_source == "income":
        lines.append(h["budget"]["income"].format(income=yuan(as_int(s.monthly_income)),
                                                  affordable=yuan(plan.affordable)))
    else:
        lines.append(h["budget"]["payment"].format(affordable=yuan(plan.affordable)))
    return lines


def _max3_line(lp: LenderPlan, plan: Plan, pb: Dict[str, Any]) -> str:
    if lp.amount and lp.periods and lp.fits and lp.periods <= 3 and not plan.no_budget:
        return pb["max_3_ok"].format(periods=lp.periods)
    if lp.amount and lp.monthly and not plan.no_budget:
        return pb["max_3_too_much"].format(three=yuan(ceil_div(lp.amount, 3)), monthly=yuan(lp.monthly))
    if lp.amount and plan.no_budget:
        return pb["max_3_none"].format(three=yuan(ceil_div(lp.amount, 3)))
    return pb["max_3_unknown"]


def call_script(plan: Plan, name: Optional[str] = None, platform: Optional[str] = None) -> Document:
    """The phone script: opening, hardship, the concrete proposal per lender, fee waiver, stop
    contacting third parties (with its legal basis), written confirmation, answers to pushbacks
    and what to do if refused. ``platform`` limits it to one lender of the plan."""
    c = _c()["call_script"]
    lenders = _scope(plan, platform)
    who = (name or "").strip() or _ph("name")
    sec = c["sections"]
    out: List[str] = [c["tips"], ""]

    # 1. opening
    if len(lenders) == 1:
        lp = lenders[0]
        out += [sec["opening"], c["opening"].format(name=who, platform=_pname(lp), debt_part=_debt_part(lp, c))]
    else:
        debt_part = "；".join(f"{_pname(lp)}{_debt_part(lp, c)}" for lp in lenders) + "（打给哪家说哪家）"
        out += [sec["opening"], c["opening"].format(name=who, platform="贵平台", debt_part=debt_part)]

    # 2. hardship
    out += ["", sec["hardship"], *_hardship_lines(plan), c["proof_offer"]]

    # 3. proposal
    out += ["", sec["proposal"]]
    out += [proposal(lp, plan, "call") for lp in lenders] if lenders else [
        c["opening"] and _c()["proposal"]["call"]["unknown"].format(
            platform=_ph("platform"), periods=_ph("periods"), monthly=_ph("monthly"),
            start=cn_date(plan.first_payment_date))]
    ext = plan.option("extension")
    if ext and not plan.no_budget and plan.extension_date:
        recovery = (plan.situation.recovery or "").strip()
        why = c["extension_why_text"].format(recovery=recovery) if recovery else ""
        out.append(c["extension"].format(ext_date=cn_date(plan.extension_date), why=why))

    # 4. fees
    out += ["", sec["fees"], c["fees"]]

    # 5. third parties
    out += ["", sec["third_party"], c["third_party"], c["third_party_law"]]
    if any(lp.is_bank_card for lp in lenders):
        out.append(c["third_party_bank_law"])
    out.append(c["third_party_norms"].format(norms=_norm_markers(lenders or plan.lenders)))

    # 6. written confirmation
    out += ["", sec["confirm"], c["confirm"]]

    # 7. pushbacks
    pb = c["pushbacks"]
    known = [lp for lp in lenders if lp.amount]
    total = sum(lp.amount for lp in known)
    amount = yuan(total) if known and len(known) == len(lenders) else _ph("amount")
    if plan.no_budget:
        offer = c["offer_no_budget"].format(
            ext_date=cn_date(plan.extension_date) if plan.extension_date else _ph("date"))
    elif len(lenders) == 1 and lenders[0].periods and lenders[0].fits and lenders[0].monthly:
        offer = c["offer_fits"].format(monthly=yuan(lenders[0].monthly), periods=lenders[0].periods)
    elif len(lenders) > 1 and not plan.no_budget and all(lp.periods and lp.fits for lp in lenders):
        offer = "；".join(f"{_pname(lp)}每月 {yuan(lp.monthly)}、分 {lp.periods} 期" for lp in lenders) + "。"
    else:
        offer = c["offer_generic"]
    out += ["", sec["pushbacks"], pb["must_pay_full"].format(amount=amount, offer=offer), ""]
    if len(lenders) == 1:
        three = _max3_line(lenders[0], plan, pb)
    else:
        three = "\n".join(f"{_pname(lp)}：{_max3_line(lp, plan, pb)}" for lp in lenders)
    out += [pb["max_3"].format(three_part=three), ""]
    if plan.no_budget:
        out.append(pb["pay_first_none"].format(
            ext_date=cn_date(plan.extension_date) if plan.extension_date else _ph("date")))
    else:
        firsts = [lp for lp in lenders if lp.monthly]
        if len(lenders) == 1 and firsts:
            first = yuan(firsts[0].payments[0].amount if firsts[0].payments else firsts[0].monthly)
        elif len(lenders) > 1 and len(firsts) == len(lenders):
            first = "、".join(f"{_pname(lp)} {yuan(lp.payments[0].amount if lp.payments else lp.monthly)}"
                             for lp in lenders)
        else:
            first = _ph("first_pay")
        out.append(pb["pay_first"].format(first=first))
    out += ["", pb["sue"], "", pb["contact_family"]]

    # 8. refused
    out += ["", sec["refused"], c["refused"], c["refused_complain"].format(channels=_channels(lenders or plan.lenders)),
            c["refused_pay_safely"]]

    title = c["title_one"].format(platform=_pname(lenders[0])) if len(lenders) == 1 else c["title"]
    return Document(
        title=title,
        text=render("\n".join(out)),
        filename=c["filename"],
        meta={"kind": "call_script", "platforms": [lp.platform for lp in lenders]},
    )


# --------------------------------------------------------------------------------------------
# Written message


def lender_message(plan: Plan, name: Optional[str] = None, platform: Optional[str] = None) -> Document:
    """A short written request for the app's customer service (one per lender, separated)."""
    c = _c()["lender_message"]
    lenders = _scope(plan, platform)
    who = (name or "").strip() or _ph("name")
    reason = _reason(plan)
    reason_part = c["reason_part"].format(reason=reason) if reason else c["reason_unknown"]
    messages = []
    for lp in lenders or []:
        overdue = c["overdue_part"].format(days=lp.overdue_days) if lp.overdue_days else ""
        basis = c["basis"] + c["basis_norms"].format(norms=_norm_markers([lp]))
        messages.append(c["text"].format(
            platform=_pname(lp), name=who, phone_tail=_ph("phone_tail"),
            amount=yuan(lp.amount) if lp.amount else _ph("amount"), overdue_part=overdue,
            reason_part=reason_part, proposal=proposal(lp, plan, "message"), basis=basis,
            today=cn_date(plan.today),
        ))
    title = c["title_one"].format(platform=_pname(lenders[0])) if len(lenders) == 1 else c["title"]
    return Document(
        title=title,
        text=render(c["separator"].join(messages)),
        filename=c["filename"],
        meta={"kind": "lender_message", "platforms": [lp.platform for lp in lenders]},
    )


# --------------------------------------------------------------------------------------------
# Bank card 个性化分期 application


def _bank_name(platform: Optional[str]) -> str:
    """招商银行信用卡 → 招商银行 (the letter is addressed to "…信用卡中心"); 【银行名称】 if unknown."""
    bank = re.sub(r"(信用卡(中心)?|卡)$", "", (platform or "").strip())
    return bank or _ph("bank")


def card_cover_letter(plan: Plan, name: Optional[str] = None) -> Optional[Document]:
    """个性化分期 application for each bank-card debt (None when there is none). It asks; it never
    claims a right: the bank "may" agree (facts 7.5, 7.6)."""
    cards = [lp for lp in plan.lenders if lp.is_bank_card]
    if not cards:
        return None
    c = _c()["card_cover_letter"]
    ph = _c()["placeholders"]
    who = (name or "").strip() or ph["name"]
    reason = _reason(plan)
    letters = []
    for lp in cards:
        key = _proposal_key(lp, plan)
        f = _fields(lp, plan)
        if key == "no_budget":
            prop = c["proposal_no_budget"].format(**f)
        elif key == "once":
            prop = c["proposal_once"].format(**f)
        elif key == "fits":
            prop = c["proposal_fits"].format(**f)
        elif key in ("not_fit", "no_share"):
            prop = c["proposal_not_fit"].format(**f)
        else:
            prop = c["proposal_unknown"].format(**f)
        letters.append(c["text"].format(
            platform=lp.platform or ph["platform"], bank=_bank_name(lp.platform), name=who, id_number=ph["id_number"],
            card_tail=ph["card_tail"], phone=ph["phone"], today=cn_date(plan.today),
            amount=yuan(lp.amount) if lp.amount else ph["amount"],
            overdue_part=c["overdue_part"].format(days=lp.overdue_days) if lp.overdue_days else "",
            reason_part=c["reason_part"].format(reason=reason) if reason else c["reason_unknown"],
            rule="[[7.5]]", proposal=prop, proofs=proofs_short(plan.hardship),
        ))
    title = c["title_one"].format(platform=cards[0].platform or ph["platform"]) if len(cards) == 1 else c["title"]
    return Document(
        title=title,
        text=render(c["separator"].join(letters)),
        filename=c["filename"],
        meta={"kind": "card_cover_letter", "platforms": [lp.platform for lp in cards]},
    )


# --------------------------------------------------------------------------------------------
# Calendar (RFC 5545)


def _ics_escape(text: str) -> str:
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n"))


def _fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (RFC 5545 3.1)."""
    chunks: List[bytes] = []
    current = b""
    for ch in line:
        b = ch.encode("utf-8")
        limit = 75 if not chunks else 74  # continuation lines start with one space
        if len(current) + len(b) > limit:
            chunks.append(current)
            current = b
        else:
            current += b
    chunks.append(current)
    return "\r\n ".join(chunk.decode("utf-8") for chunk in chunks)


def _event(day: date, summary: str, description: str, alarm: str, stamp: str) -> List[str]:
    uid = hashlib.sha1(f"{day.isoformat()}|{summary}".encode("utf-8")).hexdigest()[:16]
    return [
        "BEGIN:VEVENT",
        f"UID:{day:%Y%m%d}-{uid}@xieshang",
        f"DTSTAMP:{stamp}",
        f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
        f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
        f"SUMMARY:{_ics_escape(summary)}",
        f"DESCRIPTION:{_ics_escape(description)}",
        "TRANSP:TRANSPARENT",
        "BEGIN:VALARM",
        "ACTION:DISPLAY",
        f"DESCRIPTION:{_ics_escape(alarm)}",
        "TRIGGER:-PT15H",  # 09:00 the day before an all-day event
        "END:VALARM",
        "END:VEVENT",
    ]


def plan_ics(plan: Plan) -> Document:
    """An iCalendar file with one all-day VEVENT per payment date (all lenders due that day in
    one event) and a reminder the day before at 09:00. With no payment schedule yet, it holds the
    proposed extension date, or else a reminder to call the lender the next day."""
    c = _c()["ics"]
    stamp = f"{plan.today:%Y%m%d}T000000Z"  # deterministic: the plan's date
    by_date: "OrderedDict[date, list]" = OrderedDict()
    for p in plan.schedule:
        by_date.setdefault(p.date, []).append(p)

    names = "、".join(_pname(lp) for lp in plan.lenders) or _ph("platform")
    events: List[str] = []
    for day, payments in by_date.items():
        items = "、".join(c["summary_item"].format(platform=p.platform or _ph("platform"), amount=yuan(p.amount))
                         for p in payments)
        numbers = "、".join(c["number_item"].format(platform=p.platform or _ph("platform"), number=p.number,
                                                    periods=p.periods) for p in payments)
        events += _event(day, c["summary"].format(items=items), c["description"].format(numbers=numbers),
                         c["alarm"].format(items=items), stamp)
    if not events and plan.extension_date:
        summary = c["extension_summary"].format(platforms=names)
        events += _event(plan.extension_date, summary, c["extension_description"], summary, stamp)
    if not events:
        summary = c["call_summary"].format(platforms=names)
        events += _event(plan.today + timedelta(days=1), summary, c["call_description"], summary, stamp)

    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//xieshang//xieshang 1.0//ZH",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_ics_escape(c['calendar_name'])}",
        *events,
        "END:VCALENDAR",
    ]
    text = "".join(_fold(line) + "\r\n" for line in lines)
    return Document(
        title=c["title"], text=text, filename=c["filename"], mime="text/calendar",
        meta={"kind": "ics", "dates": [d.isoformat() for d in by_date]},
    )
