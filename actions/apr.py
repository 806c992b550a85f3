"""The real annual rate (年化利率) of the user's loan: a form for the three numbers, then
xieshang.apr works it out and explains which caps apply, with cited rules."""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import ActiveLoop, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import is_skip, slot_text
from xieshang import apr
from xieshang.nlu.extract import extract, platform_kind
from xieshang.nlu.numbers import parse_days, parse_money, parse_periods

STOP = re.compile(r"^\s*(算了|不算了|不用了|取消|退出)\s*$")
DAYS = re.compile(r"天|周|星期|礼拜")
SLOTS = ("apr_received", "apr_payment", "apr_term")


def parse_term(text: str) -> Optional[Dict[str, int]]:
    """"12期" → 12 monthly periods; "7天" → one repayment after 7 days; "每周一期，4期" → weekly."""
    text = str(text or "")
    counts = [parse_periods(m.group(0)) for m in re.finditer(r"(?:[0-9]+|[零一二两三四五六七八九十百]+)\s*期", text)]
    periods = max([c for c in counts if c] or [parse_periods(text) or 0]) or None
    if DAYS.search(text) and not re.search(r"期", text):
        days = parse_days(text)
        return {"periods": 1, "days": days} if days else None
    if periods:
        period_days = 7 if re.search(r"每周|每星期|按周", text) else 30
        return {"periods": periods, "period_days": period_days}
    bare = re.fullmatch(r"\s*(\d{1,3})\s*", text)
    if bare and 0 < int(bare.group(1)) <= 120:
        return {"periods": int(bare.group(1)), "period_days": 30}
    return None


MONEY_ENTITIES = {"amount", "monthly_payment", "monthly_income"}
CUES = re.compile(r"一共|总共|共计|一次性|一次|每期|每个月|每月|一期|到手|实际|拿到|收到|还了|要还|还")
# Slots other forms own that the rate form's answers can fill through their entities.
BORROWED = ("amount", "monthly_payment", "monthly_income", "installments", "overdue_days")


def _money(value: Any) -> Optional[int]:
    """Yuan in an answer such as "一共还4000" ("一" there is not a number)."""
    text = str(value or "")
    found = [int(e["value"]) for e in extract(text) if e["entity"] in MONEY_ENTITIES]
    money = found[-1] if found else parse_money(CUES.sub(" ", text).strip())
    return money if money and 0 < money < 10**9 else None


def slots_before_form(tracker: Tracker) -> Dict[str, Any]:
    """Values of BORROWED slots as they were when the rate form started."""
    values: Dict[str, Any] = {name: None for name in BORROWED}
    for event in tracker.events:
        if event.get("event") == "active_loop" and event.get("name") == "apr_form":
            break
        if event.get("event") == "slot" and event.get("name") in values:
            values[event["name"]] = event.get("value")
        if event.get("event") == "restart":
            values = {name: None for name in BORROWED}
    return values


class ValidateAprForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_apr_form"

    def _stop(self, value: Any, dispatcher: CollectingDispatcher) -> Optional[Dict[Text, Any]]:
        if isinstance(value, str) and (STOP.match(value) or is_skip(value)):
            dispatcher.utter_message(text="好的，不算了。想算的时候说“帮我算年化”就行。")
            return {name: None for name in SLOTS} | {"requested_slot": None}
        return None

    def _money_slot(self, slot: str, value: Any, dispatcher: CollectingDispatcher) -> Dict[Text, Any]:
        stop = self._stop(value, dispatcher)
        if stop:
            return stop
        money = _money(value)
        if not money:
            dispatcher.utter_message(response="utter_apr_invalid")
        return {slot: money}

    def validate_apr_received(self, value, dispatcher, tracker, domain):
        return self._money_slot("apr_received", value, dispatcher)

    def validate_apr_payment(self, value, dispatcher, tracker, domain):
        return self._money_slot("apr_payment", value, dispatcher)

    def validate_apr_term(self, value, dispatcher, tracker, domain):
        stop = self._stop(value, dispatcher)
        if stop:
            return stop
        term = parse_term(value)
        if not term:
            dispatcher.utter_message(text="没看懂期数 😅 比如回复“12期”或者“7天”。")
        return {"apr_term": term}


class ActionCalcApr(Action):
    def name(self) -> Text:
        return "action_calc_apr"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        received = tracker.get_slot("apr_received")
        payment = tracker.get_slot("apr_payment")
        term = tracker.get_slot("apr_term")
        reset = [SlotSet(name, None) for name in SLOTS]
        reset += [SlotSet(name, value) for name, value in slots_before_form(tracker).items()]
        if not (received and payment and isinstance(term, dict)):
            return reset  # the user stopped the form
        try:
            if term.get("days"):
                result = apr.apr_from_total(received, payment, term["days"])
            else:
                result = apr.apr_equal_installments(received, payment, term["periods"], term.get("period_days", 30))
            platform = slot_text(tracker, "platform")
            dispatcher.utter_message(text=apr.explain(result, platform=platform,
                                                      lender_kind=platform_kind(platform) if platform else None))
        except (ValueError, ZeroDivisionError, OverflowError):
            dispatcher.utter_message(text="这组数字算不出来 😅 请检查一下：还款总额要大于到手金额。")
        dispatcher.utter_message(
            text="需要的话，我可以帮你写投诉材料，或者先做还款方案。",
            buttons=[{"title": "帮我写投诉", "payload": "/want_complain"}, {"title": "做还款方案", "payload": "/cant_repay"}],
        )
        return reset
