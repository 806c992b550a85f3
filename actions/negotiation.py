"""Negotiation flow: the form that gathers the user's numbers, and the plan with its documents."""
from __future__ import annotations

import re
from datetime import date
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import (
    platform_answer,
    UNKNOWN,
    is_skip,
    latest_entities,
    latest_text,
    previous_slot_value,
    send_document,
    slot_int,
    slot_text,
)
from xieshang import negotiation, plan
from xieshang.nlu.extract import canonical_platform, extract
from xieshang.nlu.numbers import parse_money

# A number the user gives as "the amount" needs one of these words; without one, a bare number is
# the answer to whatever the bot just asked.
AMOUNT_CUE = re.compile(r"欠|借|总共|一共|共计|本金|待还|还剩|剩下|额度|贷了|逾期金额|欠款")
SPENDING = re.compile(r"(?:开支|开销|花销|花费|生活费|支出|房租|必要花)[^0-9零〇一二两三四五六七八九十百千万]{0,4}([0-9.,零〇一二两三四五六七八九十百千万kKwW]+)")
MAX_FREE_TEXT = 60
DURATION = re.compile(r"个月|月后|月底|天|年|周|星期|礼拜|期|号")
MONEY_UNIT = re.compile(r"元|块|千|万|百|[kKwW]|钱")


def _numbers(text: str, entity: str) -> List[int]:
    return [int(e["value"]) for e in extract(text) if e["entity"] == entity]


def debts_from_message(text: str) -> List[Dict[str, Any]]:
    """Pair each lender in a message with the amount that follows it ("借呗1万 花呗5000")."""
    debts: List[Dict[str, Any]] = []
    current: Optional[Dict[str, Any]] = None
    for ent in extract(text):
        if ent["entity"] == "platform":
            current = {"platform": ent["value"], "amount": None}
            debts.append(current)
        elif ent["entity"] == "amount" and current is not None and current["amount"] is None:
            current["amount"] = int(ent["value"])
    return debts


def merge_debts(old: List[Dict[str, Any]], new: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    merged = {d["platform"]: dict(d) for d in old or []}
    for d in new:
        if d["platform"] in merged and d.get("amount") is None:
            continue
        merged[d["platform"]] = dict(d)
    return list(merged.values())


class ValidateNegotiationForm(FormValidationAction):
    def name(self) -> Text:
        return "validate_negotiation_form"

    async def extract_debts(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[Text, Any]:
        new = debts_from_message(latest_text(tracker))
        if not new:
            return {}
        return {"debts": merge_debts(tracker.get_slot("debts") or [], new)}

    def validate_platform(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        return platform_answer(value, tracker)

    def _number_slot(
        self, slot: str, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker
    ) -> Dict[Text, Any]:
        text = latest_text(tracker)
        requested = tracker.get_slot("requested_slot")
        if isinstance(value, (int, float)) and value > 0:
            result: Dict[Text, Any] = {slot: int(value)}
        elif is_skip(value) or (requested == slot and is_skip(text)):
            result = {slot: UNKNOWN}
        else:
            parsed = _numbers(str(value), slot) or _numbers(str(value), "amount")
            money = parsed[-1] if parsed else parse_money(str(value))
            if not parsed and DURATION.search(str(value)) and not MONEY_UNIT.search(str(value)):
                money = None  # "三个月后" is a time, not 3 yuan
            if money and money > 0:
                result = {slot: int(money)}
            else:
                if requested == slot:
                    dispatcher.utter_message(response="utter_invalid_number")
                return {slot: None}
        return result

    def validate_amount(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        requested = tracker.get_slot("requested_slot")
        text = latest_text(tracker)
        if requested not in (None, "amount") and requested in {"monthly_payment"} and not AMOUNT_CUE.search(text):
            # "2000" answering "how much can you pay each month" is not the debt: undo the overwrite
            return {"amount": previous_slot_value(tracker, "amount"), requested: int(value) if isinstance(value, (int, float)) else value}
        result = self._number_slot("amount", value, dispatcher, tracker)
        debts = tracker.get_slot("debts") or []
        if len(debts) > 1 and all(d.get("amount") for d in debts):
            result["amount"] = sum(int(d["amount"]) for d in debts)
        return result

    def validate_monthly_payment(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        text = latest_text(tracker)
        income = _numbers(text, "monthly_income") or ([slot_int(tracker, "monthly_income")] if slot_int(tracker, "monthly_income") else [])
        spending = SPENDING.search(text)
        if income and spending and not _numbers(text, "monthly_payment"):
            spend = parse_money(spending.group(1))
            if spend is not None:
                return {"monthly_payment": max(income[-1] - int(spend), 0), "monthly_income": income[-1], "monthly_spending": int(spend)}
        if income and not _numbers(text, "monthly_payment") and not _numbers(text, "amount") and not isinstance(value, (int, float)):
            # only the income was given: plan without an affordable amount, say what would help
            return {"monthly_payment": UNKNOWN, "monthly_income": income[-1]}
        return self._number_slot("monthly_payment", value, dispatcher, tracker)

    def _free_text(self, slot: str, value: Any) -> Dict[Text, Any]:
        if value is None:
            return {slot: None}
        if is_skip(value):
            return {slot: UNKNOWN}
        return {slot: str(value).strip()[:MAX_FREE_TEXT] or UNKNOWN}

    def validate_hardship_reason(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        return self._free_text("hardship_reason", value)

    def validate_recovery(self, value: Any, dispatcher, tracker: Tracker, domain) -> Dict[Text, Any]:
        return self._free_text("recovery", value)


def situation_from_tracker(tracker: Tracker) -> plan.Situation:
    debts_slot = tracker.get_slot("debts") or []
    platform = slot_text(tracker, "platform")
    amount = slot_int(tracker, "amount")
    overdue = slot_int(tracker, "overdue_days")
    if len(debts_slot) > 1:
        debts = [plan.Debt(platform=d.get("platform"), amount=d.get("amount"), overdue_days=overdue) for d in debts_slot]
    else:
        debts = [plan.Debt(platform=platform, amount=amount, overdue_days=overdue)]
    recovery = slot_text(tracker, "recovery")
    return plan.Situation(
        debts=debts,
        monthly_income=slot_int(tracker, "monthly_income"),
        monthly_spending=slot_int(tracker, "monthly_spending"),
        monthly_payment=slot_int(tracker, "monthly_payment"),
        hardship_reason=slot_text(tracker, "hardship_reason"),
        recovery=recovery,
        recovery_months=plan.recovery_months_from_text(recovery, date.today()),
    )


class ActionMakePlan(Action):
    def name(self) -> Text:
        return "action_make_plan"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> List[Dict[Text, Any]]:
        situation = situation_from_tracker(tracker)
        the_plan = plan.make_plan(situation, today=date.today())
        dispatcher.utter_message(text=plan.render_plan(the_plan))
        send_document(dispatcher, negotiation.call_script(the_plan))
        send_document(dispatcher, negotiation.lender_message(the_plan))
        send_document(dispatcher, negotiation.card_cover_letter(the_plan))
        proofs = negotiation.hardship_proofs(the_plan)
        if proofs:
            dispatcher.utter_message(text=proofs)
        if getattr(the_plan, "schedule", None):
            send_document(dispatcher, negotiation.plan_ics(the_plan))
        dispatcher.utter_message(response="utter_after_plan")
        return []
