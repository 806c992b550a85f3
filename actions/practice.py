"""Practice mode: thin rasa-sdk actions over xieshang.practice.

While ``practice_form`` is active every user message (except emotional_distress, which the crisis
rule handles) fills ``practice_turn``; ``validate_practice_form`` runs the engine, sends the
counterpart's reply and keeps the slot empty so the form asks again, until the practice ends.
The whole session lives in the ``practice_state`` slot.

Practice turns must never feed the user's real plan or complaint: slots that the domain fills from
any message (amount, platform, incident, ...) are put back to their values before the turn.
"""
from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import latest_text, previous_slot_value, slot_int, slot_text
from xieshang import practice

logger = logging.getLogger(__name__)

OWN_SLOTS = {"practice_state", "practice_active", "practice_turn", "requested_slot"}
DONE = "done"


def case_from(tracker: Tracker) -> Dict[str, Any]:
    """What the bot already knows about the user's debt, for a realistic scenario."""
    return {
        "platform": slot_text(tracker, "platform"),
        "amount": slot_int(tracker, "amount"),
        "overdue_days": slot_int(tracker, "overdue_days"),
        "monthly_payment": slot_int(tracker, "monthly_payment"),
    }


def send(dispatcher: CollectingDispatcher, reply: practice.Reply) -> None:
    """Send a practice reply. The last message carries the buttons and the marker for the web chat:
    custom {"practice": "on"|"off"} (plus "speak": the counterpart's words, for speech synthesis)."""
    marker: Dict[str, Any] = {"practice": "off" if reply.ended else "on"}
    if reply.speak:
        marker["speak"] = reply.speak
    for i, message in enumerate(reply.messages):
        last = i == len(reply.messages) - 1
        dispatcher.utter_message(
            text=message,
            buttons=reply.buttons if last and reply.buttons else None,
            json_message=marker if last else None,
        )


def restore_case_slots(tracker: Tracker) -> Dict[Text, Any]:
    """Slots filled from the latest (practice) message, put back to their earlier values."""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=None)
    if last_user is None:
        return {}
    restored: Dict[Text, Any] = {}
    for event in events[last_user + 1:]:
        name = event.get("name")
        if event.get("event") == "slot" and name and name not in OWN_SLOTS and name not in restored:
            earlier = previous_slot_value(tracker, name)
            if earlier != event.get("value"):
                restored[name] = earlier
    return restored


def started_this_turn(tracker: Tracker) -> bool:
    """True while the form is being activated: the message that started practice is not a turn."""
    events = list(tracker.events)
    last_user = max((i for i, e in enumerate(events) if e.get("event") == "user"), default=-1)
    return any(
        e.get("event") == "action" and e.get("name") == "action_practice_start" for e in events[last_user + 1:]
    )


def _counterpart_entity(tracker: Tracker) -> Optional[str]:
    value = next(tracker.get_latest_entity_values("counterpart"), None)
    return value if value in practice.COUNTERPARTS else None


class ActionPracticeStart(Action):
    """Start practice: with a counterpart (button or clearly named) the call begins, else the chooser."""

    def name(self) -> Text:
        return "action_practice_start"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        counterpart = _counterpart_entity(tracker) or practice.counterpart_from_text(latest_text(tracker), strong=True)
        case = case_from(tracker)
        reply = practice.start(counterpart, case) if counterpart else practice.chooser(case)
        send(dispatcher, reply)
        return [
            SlotSet("practice_state", reply.state),
            SlotSet("practice_active", True),
            SlotSet("practice_turn", None),
        ]


class ActionAskPracticeTurn(Action):
    """The form's question for practice_turn: silent, the counterpart's line was already sent."""

    def name(self) -> Text:
        return "action_ask_practice_turn"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        return []


class ValidatePracticeForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_practice_form"

    async def validate_practice_turn(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        if started_this_turn(tracker):
            return {"practice_turn": None}
        text = latest_text(tracker) or (value if isinstance(value, str) else "")
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        try:
            reply = practice.step(
                tracker.get_slot("practice_state"), text, intent=intent, counterpart=_counterpart_entity(tracker)
            )
        except Exception:  # never leave the user stuck in practice mode
            logger.exception("practice engine failed")
            reply = practice.exit_reply()
        send(dispatcher, reply)
        slots = restore_case_slots(tracker)
        slots.update({
            "practice_state": None if reply.ended else reply.state,
            "practice_active": not reply.ended,
            "practice_turn": DONE if reply.ended else None,
        })
        return slots


class ActionPracticeEnd(Action):
    """After the form ends (scorecard or exit already sent): clear the practice slots."""

    def name(self) -> Text:
        return "action_practice_end"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        return [SlotSet("practice_turn", None), SlotSet("practice_state", None), SlotSet("practice_active", False)]


class ActionPracticeStop(Action):
    """Practice interrupted (crisis words): say so briefly, turn the marker off, clear the slots."""

    def name(self) -> Text:
        return "action_practice_stop"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(text=practice.stopped_text(), json_message={"practice": "off"})
        return [
            SlotSet("practice_turn", None),
            SlotSet("practice_state", None),
            SlotSet("practice_active", False),
            SlotSet("requested_slot", None),
        ]
