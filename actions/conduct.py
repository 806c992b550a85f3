"""Thin actions for the conduct checker and the evidence diary (logic in xieshang/conduct.py and
xieshang/diary.py; texts in content/conduct.yml and content/diary.yml)."""
from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import UNKNOWN, latest_text, send_document, slot_text
from xieshang import conduct, diary

logger = logging.getLogger(__name__)
MAX_TEXT = 2000
SORRY = "抱歉，这一步出了点问题 🙏 你可以再说一次，或者换个说法。"
DELETE_ALL = re.compile(r"全部|所有|清空|全删|都删")


def _msg(key: str, **values: Any) -> str:
    return diary.message(key, **values)


def _requested(tracker: Tracker, slot: str) -> bool:
    return tracker.get_slot("requested_slot") == slot


def _lender(tracker: Tracker) -> Dict[str, Optional[str]]:
    """The lender the conversation is about (platform slot), with its kind when known."""
    platform = slot_text(tracker, "platform")
    if not platform or platform == UNKNOWN:
        return {"platform": None, "lender_kind": None}
    try:
        from xieshang.nlu.extract import platform_kind

        kind = platform_kind(platform)
    except Exception:  # the entity layer is optional here
        kind = None
    return {"platform": platform, "lender_kind": kind if kind and kind != "unknown" else None}


class ValidateConductForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_conduct_form"

    def validate_conduct_text(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                              domain: DomainDict) -> Dict[Text, Any]:
        text = value.strip()[:MAX_TEXT] if isinstance(value, str) else ""
        if not text:
            return {"conduct_text": None}
        if _requested(tracker, "conduct_text"):
            return {"conduct_text": text}
        # pre-filled from the request itself: keep it only if it already says what happened
        return {"conduct_text": text if conduct.has_content(text) else None}


class ValidateDiaryForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_diary_form"

    def validate_diary_text(self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker,
                            domain: DomainDict) -> Dict[Text, Any]:
        text = value.strip()[:MAX_TEXT] if isinstance(value, str) else ""
        if not text:
            return {"diary_text": None}
        if _requested(tracker, "diary_text"):
            return {"diary_text": text}
        return {"diary_text": text if diary.has_content(text) else None}


class ActionCheckConduct(Action):
    def name(self) -> Text:
        return "action_check_conduct"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        text = slot_text(tracker, "conduct_text") or latest_text(tracker)
        try:
            report = conduct.check(text, **_lender(tracker))
            dispatcher.utter_message(
                text=conduct.render(report),
                buttons=[
                    {"title": "记进催收记录", "payload": "/diary_add"},
                    {"title": "帮我写投诉", "payload": "/want_complain"},
                ] if report.has_breach else [],
            )
        except Exception:
            logger.exception("conduct check failed")
            dispatcher.utter_message(text=SORRY)
        return [SlotSet("conduct_text", None)]


class ActionDiaryAdd(Action):
    def name(self) -> Text:
        return "action_diary_add"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        text = slot_text(tracker, "diary_text") or latest_text(tracker)
        try:
            index, entry = diary.add_entry(tracker.sender_id, text)
            lines = [_msg("added", n=index), entry.line()]
            report = conduct.check(text, **_lender(tracker))
            if report.has_breach:
                lines.append("初步看，这次涉及：" + report.summary() + "。")
            lines.append(_msg("added_hint", n=index))
            dispatcher.utter_message(text="\n".join(lines))
        except Exception:
            logger.exception("diary add failed")
            dispatcher.utter_message(text=SORRY)
        return [SlotSet("diary_text", None)]


class ActionDiaryList(Action):
    def name(self) -> Text:
        return "action_diary_list"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        try:
            dispatcher.utter_message(text=diary.render_list(diary.list_entries(tracker.sender_id)))
        except Exception:
            logger.exception("diary list failed")
            dispatcher.utter_message(text=SORRY)
        return []


class ActionDiaryCorrect(Action):
    def name(self) -> Text:
        return "action_diary_correct"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        try:
            result, corr = diary.correct_entry(tracker.sender_id, latest_text(tracker))
            if corr.error:
                n = corr.index if corr.index and corr.index > 0 else ""
                key = {"which": "which", "cannot_parse_time": "cannot_parse_time"}.get(corr.error, "what_field")
                dispatcher.utter_message(text=_msg(key, n=n))
            elif result is None:
                total = len(diary.list_entries(tracker.sender_id))
                dispatcher.utter_message(text=_msg("no_such", n=corr.index, total=total) if total else _msg("empty"))
            else:
                index, entry = result
                dispatcher.utter_message(text=_msg("corrected", n=index) + "\n" + entry.line())
        except Exception:
            logger.exception("diary correct failed")
            dispatcher.utter_message(text=SORRY)
        return []


class ActionDiaryDelete(Action):
    def name(self) -> Text:
        return "action_diary_delete"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        text = latest_text(tracker)
        try:
            index = diary.parse_index(text)
            if index is None:
                dispatcher.utter_message(text=_msg("delete_all" if DELETE_ALL.search(text) else "which_delete"))
                return []
            result = diary.delete_entry(tracker.sender_id, index)
            left = len(diary.list_entries(tracker.sender_id))
            if result is None:
                dispatcher.utter_message(text=_msg("no_such", n=index, total=left) if left else _msg("empty"))
            else:
                pos, entry = result
                dispatcher.utter_message(text=_msg("deleted", n=pos, line=entry.line()) + "\n" + _msg("deleted_left", n=left))
        except Exception:
            logger.exception("diary delete failed")
            dispatcher.utter_message(text=SORRY)
        return []


class ActionDiaryExport(Action):
    def name(self) -> Text:
        return "action_diary_export"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        try:
            entries = diary.list_entries(tracker.sender_id)
            doc = diary.export_document(entries)
            if doc is None:
                dispatcher.utter_message(text=_msg("export_empty"))
                return []
            dispatcher.utter_message(text=_msg("exported", n=len(entries)))
            send_document(dispatcher, doc)
        except Exception:
            logger.exception("diary export failed")
            dispatcher.utter_message(text=SORRY)
        return []
