"""Contacts called, threats and complaints: the documents and guides the bot writes for the user.

Plain Python (no Rasa). Wording lives in ``content/escalation.yml``; legal grounds are ``[[id]]``
markers rendered from ``content/facts.yml``. The complaint goes to the right body for the lender's
kind: the lender itself first, then 12378 for banks and consumer-finance companies, the local
financial regulator for small-loan companies, the internet-finance association's platform for online
lenders, 12321 for harassing calls and SMS, the police for threats.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Dict, List, Optional

from xieshang.content import load
from xieshang.document import Document
from xieshang.facts import render

BANK_KINDS = {"bank_card", "bank_loan", "consumer_finance"}

THREAT = re.compile(r"威胁|恐吓|上门|起诉|报警|抓|坐牢|曝光|P图|p图|ps|PS|合成|骂|侮辱|弄死|打断|找人")
IMPERSONATION = re.compile(r"冒充|自称(?:是)?(?:法院|公安|警察|律师|法官)|律师函|传票|法院的人|公安局的")
HARASSMENT = re.compile(r"打电话|打了|电话|短信|微信|消息|半夜|深夜|凌晨|每天|天天|轰炸|一直打")


def _c() -> Dict[str, Any]:
    return load("escalation")


def _fmt(template: str, **values: Any) -> str:
    return render(template.format(**values)).strip()


@dataclass
class ComplaintCase:
    platform: Optional[str] = None
    platform_kind: str = "unknown"
    what_happened: Optional[str] = None
    when: Optional[str] = None
    who_contacted: List[str] = field(default_factory=list)
    evidence: List[str] = field(default_factory=list)
    demands: Optional[List[str]] = None
    user_name: Optional[str] = None
    annex: Optional[str] = None
    today: Optional[date] = None

    @property
    def threatened(self) -> bool:
        return bool(self.what_happened and THREAT.search(self.what_happened))

    @property
    def impersonated(self) -> bool:
        return bool(self.what_happened and IMPERSONATION.search(self.what_happened))

    @property
    def harassed(self) -> bool:
        return bool(self.who_contacted) or bool(self.what_happened and HARASSMENT.search(self.what_happened))


def _platform(platform: Optional[str]) -> str:
    return platform or _c()["placeholders"]["platform"]


def _date(today: Optional[date]) -> str:
    d = today or date.today()
    return f"{d.year}年{d.month}月{d.day}日"


def evidence_checklist() -> str:
    return _c()["evidence_checklist"].strip()


def police_guide() -> str:
    return render(_c()["police_guide"]).strip()


def stop_contact_request(platform: Optional[str] = None, who: Optional[List[str]] = None,
                         name: Optional[str] = None, today: Optional[date] = None) -> Document:
    spec = _c()["stop_contact"]
    p = _platform(platform)
    text = _fmt(spec["text"], platform=p, name=name or _c()["placeholders"]["name"],
                who="、".join(who) if who else _c()["who_default"], date=_date(today))
    return Document(title=spec["title"].format(platform=p), text=text, filename=spec["filename"])


def relatives_script() -> Document:
    spec = _c()["relatives_script"]
    return Document(title=spec["title"], text=spec["text"].strip(), filename=spec["filename"])


def contacts_note(tone: str = "brief", platform: Optional[str] = None) -> Document:
    spec = _c()["contacts_note"]["detailed" if tone == "detailed" else "brief"]
    text = _fmt(spec["text"], platform=platform or "网贷平台")
    return Document(title=spec["title"], text=text, filename=spec["filename"])


def channels(platform: Optional[str], kind: str, case: Optional[ComplaintCase] = None) -> List[str]:
    """Where to complain, in order, for this lender kind (and police when there were threats)."""
    c = _c()
    keys = list(c["channel_order"].get(kind) or c["channel_order"]["unknown"])
    if case is not None and (case.threatened or case.impersonated) and "police" not in keys:
        keys.append("police")
    if case is not None and case.who_contacted and "court" not in keys:
        keys.append("court")
    return [_fmt(c["channels"][k], platform=_platform(platform)) for k in keys]


def _demands(case: ComplaintCase) -> List[str]:
    d = _c()["demands"]
    if case.demands:
        return list(case.demands)
    out = []
    if case.harassed:
        out.append(d["stop_third_party"] if case.who_contacted else d["identify"])
    if case.threatened or case.impersonated:
        out.append(d["stop_threats"])
    if case.who_contacted:
        out += [d["identify"], d["apologise"]]
    out.append(d["negotiate"])
    seen: List[str] = []
    for item in out:
        if item not in seen:
            seen.append(item)
    return seen


def _grounds(case: ComplaintCase) -> str:
    g = _c()["grounds"]
    parts = [g["third_party"]] if case.who_contacted or not (case.threatened or case.impersonated) else []
    if case.platform_kind == "bank_card":
        parts.append(g["bank_card"])
    if case.threatened:
        parts.append(g["threats"])
    if case.impersonated:
        parts.append(g["impersonation"])
    if case.platform_kind in BANK_KINDS:
        parts.append(g["general"])
    return "；".join(parts) + "。"


def _body_key(kind: str) -> str:
    if kind in BANK_KINDS:
        return "bank"
    if kind == "small_loan":
        return "small_loan"
    return "nifa"


def complaint(case: ComplaintCase) -> List[Document]:
    """The complaint texts for this case: to the lender, to the regulator for its kind, and to 12321
    when the collector harassed by phone or SMS."""
    c = _c()
    ph = c["placeholders"]
    p = _platform(case.platform)
    what = (case.what_happened or ph["what"]).strip()
    if case.when:
        what = f"{case.when}，{what}"
    who_line = c["who_line"].format(who="、".join(case.who_contacted)) if case.who_contacted else ""
    demands = "\n".join(f"{i}. {d}" for i, d in enumerate(_demands(case), 1))
    evidence = "、".join(case.evidence) if case.evidence else c["no_evidence"]
    common = dict(platform=p, name=case.user_name or ph["name"], what=what, who_line=who_line,
                  demands=demands, grounds=_grounds(case), evidence=evidence, date=_date(case.today))
    docs: List[Document] = []

    spec = c["complaint_lender"]
    docs.append(Document(title=spec["title"].format(platform=p), text=_clean(_fmt(spec["text"], **common)),
                         filename=spec["filename"]))

    if case.platform_kind != "private":
        body = c["bodies"][_body_key(case.platform_kind)]
        spec = c["complaint_regulator"]
        annex = c["annex_line"].format(annex=case.annex) if case.annex else ""
        text = _fmt(spec["text"], body_how=body["how"], annex=annex, **common)
        docs.append(Document(title=spec["title"].format(body=body["name"]), text=_clean(text),
                             filename=spec["filename"]))

    if case.harassed:
        spec = c["complaint_harassment"]
        harassment = what if case.what_happened else "频繁拨打电话、发送短信骚扰本人及亲友"
        docs.append(Document(title=spec["title"], text=_clean(_fmt(spec["text"], harassment=harassment,
                                                                   evidence=evidence)),
                             filename=spec["filename"]))
    return docs


def _clean(text: str) -> str:
    """Drop the empty lines left by optional parts."""
    return "\n".join(line for line in text.splitlines() if line.strip())


def how_to_submit(case: ComplaintCase) -> str:
    lines = ["提交顺序："] + [f"{i}. {line}" for i, line in enumerate(channels(case.platform, case.platform_kind, case), 1)]
    return "\n".join(lines)
