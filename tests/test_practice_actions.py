"""The thin practice actions (actions/practice.py) with rasa-sdk trackers: no Rasa server needed."""
from __future__ import annotations

import asyncio
import importlib.util

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import practice as acts
from xieshang import practice

from test_practice import _fallback_extract


@pytest.fixture(autouse=True)
def extractor(monkeypatch):
    if importlib.util.find_spec("xieshang.nlu.extract") is None:
        monkeypatch.setattr(practice, "_extract", _fallback_extract)


def tracker(text="", slots=None, events=None, entities=None, intent="inform"):
    latest = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": entities or []}
    return Tracker(
        sender_id="t", slots=dict(slots or {}), latest_message=latest, events=events or [], paused=False,
        followup_action=None, active_loop={"name": "practice_form"}, latest_action_name="action_listen",
    )


def run(coro):
    return asyncio.run(coro)


def test_start_with_a_button_begins_the_call_and_turns_the_marker_on():
    d = CollectingDispatcher()
    t = tracker('/practice_call{"counterpart":"bank"}', slots={"amount": 8000, "platform": "招商银行信用卡"},
                entities=[{"entity": "counterpart", "value": "bank"}], intent="practice_call")
    events = run(acts.ActionPracticeStart().run(d, t, {}))
    state = next(e["value"] for e in events if e["name"] == "practice_state")
    assert state["cp"] == "bank" and state["case"] == {"platform": "招商银行信用卡", "amount": 8000}
    assert {"event": "slot", "timestamp": None, "name": "practice_active", "value": True} in events
    assert d.messages[0]["text"].startswith("【练习模式】") and d.messages[-1]["custom"]["practice"] == "on"


def test_start_without_a_counterpart_shows_the_chooser():
    d = CollectingDispatcher()
    events = run(acts.ActionPracticeStart().run(d, tracker("我想练习一下", intent="practice_call"), {}))
    state = next(e["value"] for e in events if e["name"] == "practice_state")
    assert state["stage"] == "choose" and len(d.messages[0]["buttons"]) == 3


def test_a_turn_runs_the_engine_and_keeps_the_form_asking():
    state = practice.start("collector", seed=1).state
    d = CollectingDispatcher()
    events = [{"event": "user", "text": "是我"}, {"event": "slot", "name": "practice_turn", "value": "是我"}]
    out = run(acts.ValidatePracticeForm().validate_practice_turn("是我", d, tracker("是我", {"practice_state": state}, events), {}))
    assert out["practice_turn"] is None and out["practice_active"] is True
    assert out["practice_state"]["stage"] == "pressure"
    assert d.messages[0]["text"].startswith("【练习模式】催收员：")
    assert d.messages[0]["custom"]["practice"] == "on" and d.messages[0]["custom"]["speak"]


def test_the_end_fills_the_slot_so_the_form_completes_and_turns_the_marker_off():
    state = practice.step(practice.start("platform", seed=1).state, "是我").state
    d = CollectingDispatcher()
    out = run(acts.ValidatePracticeForm().validate_practice_turn("打分", d, tracker("打分", {"practice_state": state}), {}))
    assert out["practice_turn"] == acts.DONE and out["practice_active"] is False and out["practice_state"] is None
    assert "分" in d.messages[-1]["text"] and d.messages[-1]["custom"] == {"practice": "off"}
    assert d.messages[-1]["buttons"]


def test_the_message_that_started_practice_is_not_a_turn():
    state = practice.start("collector", seed=1).state
    events = [{"event": "user", "text": "x"}, {"event": "action", "name": "action_practice_start"}]
    d = CollectingDispatcher()
    out = run(acts.ValidatePracticeForm().validate_practice_turn("x", d, tracker("x", {"practice_state": state}, events), {}))
    assert out == {"practice_turn": None} and d.messages == []


def test_slots_filled_by_a_practice_message_are_put_back():
    events = [
        {"event": "slot", "name": "amount", "value": 23000},
        {"event": "user", "text": "old"},
        {"event": "user", "text": "微粒贷欠五万，催收说要上门"},
        {"event": "slot", "name": "amount", "value": 50000},
        {"event": "slot", "name": "platform", "value": "微粒贷"},
        {"event": "slot", "name": "incident", "value": "催收说要上门"},
        {"event": "slot", "name": "practice_turn", "value": "微粒贷欠五万"},
        {"event": "slot", "name": "requested_slot", "value": "practice_turn"},
    ]
    assert acts.restore_case_slots(tracker(events=events)) == {"amount": 23000, "platform": None, "incident": None}


def test_an_engine_failure_leaves_practice_instead_of_trapping_the_user(monkeypatch):
    def boom(*a, **k):
        raise RuntimeError("x")

    monkeypatch.setattr(practice, "step", boom)
    d = CollectingDispatcher()
    out = run(acts.ValidatePracticeForm().validate_practice_turn("是我", d, tracker("是我"), {}))
    assert out["practice_turn"] == acts.DONE and d.messages[-1]["custom"] == {"practice": "off"}


def test_stop_turns_the_marker_off_and_clears_the_slots():
    d = CollectingDispatcher()
    events = run(acts.ActionPracticeStop().run(d, tracker(), {}))
    assert d.messages[0]["custom"] == {"practice": "off"} and d.messages[0]["text"].startswith("【练习模式】")
    assert {e["name"]: e["value"] for e in events}["practice_active"] is False
