"""Cited answers to common questions (legality of collection, credit report, interest, lawsuits, ...).

``answer(topic, **context)`` returns rendered Chinese text: every legal statement comes from the
fact base through a marker, rendered here. Texts live in ``content/answers.yml``.

Context keys used:
- ``platform``: the lender's name as the user gave it (借呗, 京东金条 ...); default "借款平台".
- ``platform_kind``: bank_card | bank_loan | consumer_finance | small_loan | private | online |
  unknown; ask_interest_legal adds a line saying which cap applies.
- ``phone`` (or ``os``): the user's phone / system (iPhone, 华为, 小米, vivo, 安卓 ...);
  revoke_permission then shows only that path.
Unknown context keys are ignored, so actions can pass their slots as they are.

Plain Python: no Rasa imports.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional

from xieshang.content import load
from xieshang.facts import render

TOPICS = (
    "ask_legality",
    "ask_credit_report",
    "ask_interest_legal",
    "ask_lawsuit",
    "debt_agency",
    "ask_evidence",
    "revoke_permission",
    "collection_hours",
    "personal_bankruptcy",
    "limitation_period",
)


class _Slots(dict):
    """format_map mapping that leaves unknown placeholders visible instead of raising."""

    def __missing__(self, key: str) -> str:  # pragma: no cover - content bug guard
        return "{" + key + "}"


def _clean(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _fill(template: str, values: Dict[str, str]) -> str:
    return template.format_map(_Slots(values))


def _data() -> Dict[str, Any]:
    return load("answers")


def phone_key(phone: Optional[str]) -> Optional[str]:
    """Map what the user called their phone to a path key (iphone/android/huawei/xiaomi/vivo)."""
    phone = _clean(phone)
    if not phone:
        return None
    low = phone.lower().replace(" ", "")
    aliases = _data()["topics"]["revoke_permission"]["aliases"]
    # Brand-specific keys first, the generic android list last.
    for key in ("iphone", "huawei", "xiaomi", "vivo", "android"):
        if any(alias.lower() in low for alias in aliases[key]):
            return key
    return None


def _revoke_permission(values: Dict[str, str], phone: Optional[str]) -> str:
    spec = _data()["topics"]["revoke_permission"]
    key = phone_key(phone)
    lines: List[str] = []
    if key:
        values = dict(values, phone=phone)
        lines.append(_fill(spec["intro_one"], values))
        lines.append(_fill(spec["paths"][key]["text"], values))
        # A brand without its own verified path (OPPO, 三星 ...): say so.
        brand_is_generic = key == "android" and not any(
            a in phone.lower() for a in ("安卓", "android", "谷歌", "google", "pixel")
        )
        if brand_is_generic:
            lines.append(_fill(spec["unverified_android"], values))
    else:
        lines.append(_fill(spec["intro"], values))
        for path in spec["paths"].values():
            lines.append(f"· {path['label']}：" + _fill(path["text"], values))
    lines.extend(_fill(spec["caveat"], values).strip().splitlines())
    return "\n".join(lines)


def answer(topic: str, **context: Any) -> str:
    """The rendered answer for ``topic``; raises KeyError for an unknown topic."""
    topics = _data()["topics"]
    if topic not in topics:
        raise KeyError(f"unknown answer topic {topic!r}; known: {', '.join(TOPICS)}")
    platform = _clean(context.get("platform")) or _data()["defaults"]["platform"]
    values = {"platform": platform}
    spec = topics[topic]

    if topic == "revoke_permission":
        text = _revoke_permission(values, context.get("phone") or context.get("os"))
    else:
        lines = _fill(spec["text"], values).strip().splitlines()
        kind = _clean(context.get("platform_kind"))
        kind_line = (spec.get("platform_kinds") or {}).get(kind) if kind else None
        if kind_line and _clean(context.get("platform")):
            # Right after the opening line, where the user looks first.
            lines.insert(1, _fill(kind_line, values))
        text = "\n".join(lines)
    return render(text).strip()
