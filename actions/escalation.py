"""Contacts called, threats and complaints: triage, documents for the user, complaint texts."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import UNKNOWN, is_skip, platform_answer, send_document, slot_text
from xieshang import escalation
from xieshang.nlu.extract import platform_kind

WHO = [
    (re.compile(r"同事|领导|老板|公司|单位|hr|HR|上司|主管"), "同事/单位"),
    (re.compile(r"妈|爸|父母|家人|家里|老婆|老公|媳妇|爱人|孩子|亲戚|兄弟|姐|妹|哥|弟"), "家人/亲属"),
    (re.compile(r"朋友|同学|室友"), "朋友/同学"),
    (re.compile(r"通讯录|所有联系人|全部联系人|群发"), "通讯录联系人"),
    (re.compile(r"村委|居委|社区|邻居"), "村委会/邻居"),
]


def who_contacted(text: Optional[str]) -> List[str]:
    if not text:
        return []
    return [label for pattern, label in WHO if pattern.search(text)]


class ValidateComplaintForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_complaint_form"

    def validate_platform(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        return platform_answer(value, tracker)

    def validate_incident(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        if is_skip(value):
            return {"incident": UNKNOWN}
        return {"incident": str(value).strip()[:500] if value else None}

    def validate_evidence(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        if is_skip(value):
            return {"evidence": UNKNOWN}
        return {"evidence": str(value).strip()[:200] if value else None}


def _evidence_list(text: Optional[str]) -> List[str]:
    if not text or re.search(r"没有|暂无|无", text):
        return []
    found = [name for name, pattern in (("通话录音", r"录音"), ("短信/聊天截图", r"截图|短信|聊天"), ("通话记录", r"通话记录"), ("照片/视频", r"照片|视频"))
             if re.search(pattern, text)]
    return found or [text]


def _annex(sender: str) -> Optional[str]:
    """The user's evidence diary, attached to the complaint when there is one."""
    from xieshang import diary

    try:
        return diary.annex_for(sender)
    except Exception:
        return None


class ActionWriteComplaint(Action):
    def name(self) -> Text:
        return "action_write_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        platform = slot_text(tracker, "platform")
        incident = slot_text(tracker, "incident")
        case = escalation.ComplaintCase(
            platform=platform,
            platform_kind=platform_kind(platform) if platform else "unknown",
            what_happened=incident,
            when=None,
            who_contacted=who_contacted(incident),
            evidence=_evidence_list(slot_text(tracker, "evidence")),
            demands=None,
            user_name=None,
            annex=_annex(tracker.sender_id),
        )
        docs = escalation.complaint(case)
        bodies = "、".join(d.title for d in docs)
        dispatcher.utter_message(text=f"我按你的情况写好了 {len(docs)} 份投诉材料：{bodies}。【】里的内容请自己补上。")
        for doc in docs:
            send_document(dispatcher, doc)
        dispatcher.utter_message(text=escalation.how_to_submit(case))
        dispatcher.utter_message(response="utter_after_complaint")
        return []


class ActionContactsTriage(Action):
    """Contacts already called: what to do in the next hour, and the texts to send."""

    def name(self) -> Text:
        return "action_contacts_triage"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        platform = slot_text(tracker, "platform")
        dispatcher.utter_message(response="utter_contacts_blasted")
        dispatcher.utter_message(text=escalation.evidence_checklist())
        send_document(dispatcher, escalation.stop_contact_request(platform=platform))
        send_document(dispatcher, escalation.relatives_script())
        send_document(dispatcher, escalation.contacts_note("brief", platform=platform))
        dispatcher.utter_message(
            text="需要的话，我现在就帮你写投诉材料。",
            buttons=[
                {"title": "帮我写投诉", "payload": "/want_complain"},
                {"title": "他们威胁我", "payload": "/collector_threat"},
            ],
        )
        return []


class ActionContactsNote(Action):
    """A note to family and friends, in a brief and a detailed tone."""

    def name(self) -> Text:
        return "action_contacts_note"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        platform = slot_text(tracker, "platform")
        dispatcher.utter_message(text="给亲友的说明写好了两版：简短版适合发微信，详细版适合当面或长消息。挑一版改改就能用。")
        send_document(dispatcher, escalation.contacts_note("brief", platform=platform))
        send_document(dispatcher, escalation.contacts_note("detailed", platform=platform))
        send_document(dispatcher, escalation.relatives_script())
        return []


class ActionThreatTriage(Action):
    def name(self) -> Text:
        return "action_threat_triage"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_collector_threat")
        dispatcher.utter_message(text=escalation.police_guide())
        dispatcher.utter_message(
            text="要我帮你写投诉材料吗？",
            buttons=[
                {"title": "帮我写投诉", "payload": "/want_complain"},
                {"title": "怎么留证据", "payload": "/ask_evidence"},
            ],
        )
        return []
