"""Short cited answers to questions, and the crisis reply."""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import slot_text

logger = logging.getLogger(__name__)

ANSWERED = {
    "ask_legality", "ask_evidence", "ask_credit_report", "ask_interest_legal", "ask_lawsuit",
    "revoke_permission", "debt_agency",
}


class ActionAnswer(Action):
    """Answer the question the user just asked from content/answers.yml (cited facts)."""

    def name(self) -> Text:
        return "action_answer"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        if intent in ANSWERED:
            from xieshang import answers

            try:
                text = answers.answer(intent, platform=slot_text(tracker, "platform"))
                if intent == "ask_interest_legal":
                    dispatcher.utter_message(text=text, buttons=[{"title": "帮我算年化", "payload": "/calc_apr"}])
                else:
                    dispatcher.utter_message(text=text)
                return []
            except Exception:  # content problem: fall back to the domain's short answer
                logger.exception("answer for %s failed", intent)
        dispatcher.utter_message(response=f"utter_{intent}" if intent else "utter_default")
        return []


class ActionCrisis(Action):
    def name(self) -> Text:
        return "action_crisis"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        from xieshang import crisis

        dispatcher.utter_message(
            text=crisis.crisis_reply(),
            buttons=[
                {"title": "继续做还款方案", "payload": "/cant_repay"},
                {"title": "我想先聊聊", "payload": "/emotional_distress"},
            ],
        )
        return []
