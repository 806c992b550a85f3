"""Small helpers shared by the actions: reading slots, sending documents."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from xieshang.document import Document

UNKNOWN = "unknown"
SKIP_WORDS = re.compile(
    r"^\s*(跳过|不知道|不清楚|不晓得|不想说|不方便说|不好说|说不准|说不好|不确定|没想好|算了|pass|skip|"
    r"不知|不记得|忘了|保密|no|无|没有)\s*[。.!！~～]*\s*$",
    re.IGNORECASE,
)


def is_skip(text: Any) -> bool:
    return isinstance(text, str) and bool(SKIP_WORDS.match(text))


def slot_int(tracker: Tracker, name: str) -> Optional[int]:
    """A numeric slot as int; None when unset, skipped or not a number."""
    value = tracker.get_slot(name)
    if value in (None, UNKNOWN, ""):
        return None
    try:
        return int(round(float(value)))
    except (TypeError, ValueError, OverflowError):  # "inf", "nan" typed by a user
        return None


def slot_text(tracker: Tracker, name: str) -> Optional[str]:
    value = tracker.get_slot(name)
    if value in (None, UNKNOWN) or not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def send_document(dispatcher: CollectingDispatcher, doc: Optional[Document]) -> None:
    if doc is not None:
        dispatcher.utter_message(json_message=doc.to_custom())


def latest_text(tracker: Tracker) -> str:
    return (tracker.latest_message or {}).get("text") or ""


def latest_entities(tracker: Tracker, name: str) -> List[Dict[str, Any]]:
    return [e for e in (tracker.latest_message or {}).get("entities") or [] if e.get("entity") == name]


def previous_slot_value(tracker: Tracker, name: str) -> Any:
    """The slot's value before the latest user message (to undo a wrong overwrite)."""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=len(events))
    for event in reversed(events[:last_user]):
        if event.get("event") == "slot" and event.get("name") == name:
            return event.get("value")
        if event.get("event") == "restart":
            return None
    return None


def platform_answer(value: Any, tracker: Tracker) -> Dict[str, Any]:
    """The platform slot from an answer: a known lender (synonyms, typos), an entity in the message,
    or a short unknown app name kept as the user wrote it; 不知道 → unknown."""
    from xieshang.nlu.extract import canonical_platform

    if is_skip(value):
        return {"platform": UNKNOWN}
    if isinstance(value, str):
        found = canonical_platform(value.strip())
        if found:
            return {"platform": found}
        ents = latest_entities(tracker, "platform")
        if ents:
            return {"platform": ents[-1]["value"]}
        name = value.strip()
        if 0 < len(name) <= 20 and not re.search(r"\d{3,}", name):
            return {"platform": name}
    return {"platform": None}
