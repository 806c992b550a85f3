"""bot/channels/rest.py SafeRestInput with a stand-in bot (no model, no servers)."""
import json
import logging
import re
import uuid

import pytest
from sanic import Sanic

from bot.channels.rest import SafeRestInput, parse_body, parse_sender
from xieshang.guard import APOLOGY, EMPTY, RATE_LIMITED, REPEATED, TOO_LONG, UNREADABLE

HAN = re.compile(r"[\u4e00-\u9fff]")


class FakeBot:
    """on_new_message: echoes, or fails like Rasa does when the action server is down."""

    def __init__(self, mode="echo"):
        self.mode = mode
        self.seen = []

    async def __call__(self, message):
        self.seen.append(message)
        if self.mode == "echo":
            await message.output_channel.send_text_message(message.sender_id, "收到：" + message.text)
        elif self.mode == "raise":
            raise RuntimeError("boom")
        elif self.mode == "action_down":
            await message.output_channel.send_text_message(message.sender_id, "我先看看")
            try:
                raise RuntimeError("Failed to execute custom action 'action_plan'. Couldn't connect")
            except RuntimeError:
                # exactly what rasa.core.processor.MessageProcessor._run_action logs
                logging.getLogger("rasa.core.processor").exception(
                    "Encountered an exception while running action 'action_plan'.Bot will continue, "
                    "but the actions events are lost. Please check the logs of your action server for "
                    "more information."
                )
        # mode "silent": no reply at all


def make_app(bot, rate_limit=None, agent=None):
    Sanic.test_mode = True
    app = Sanic("t" + uuid.uuid4().hex[:8])
    if agent is not None:
        app.ctx.agent = agent
    channel = SafeRestInput.from_credentials({"rate_limit": rate_limit} if rate_limit else None)
    app.blueprint(channel.blueprint(bot), url_prefix="/webhooks/rest")
    return app


def post(app, body, raw=False):
    data = body if raw else json.dumps(body, ensure_ascii=False).encode()
    _, resp = app.test_client.post("/webhooks/rest/webhook", content=data,
                                   headers={"Content-Type": "application/json"})
    return resp.status, resp.json


def texts(replies):
    return [r.get("text") for r in replies]


def test_name_keeps_the_rest_path():
    assert SafeRestInput.name() == "rest"
    app = make_app(FakeBot())
    _, resp = app.test_client.get("/webhooks/rest/")
    assert resp.status == 200


def test_normal_message_reaches_the_bot():
    bot = FakeBot()
    status, replies = post(make_app(bot), {"sender": "u1", "message": "  我逾期了 "})
    assert status == 200
    assert replies == [{"recipient_id": "u1", "text": "收到：我逾期了"}]
    assert bot.seen[0].input_channel == "rest"


@pytest.mark.parametrize("message", ["", "   ", None, "\u200b", "\x00"])
def test_empty_answered_without_the_bot(message):
    bot = FakeBot()
    status, replies = post(make_app(bot), {"sender": "u1", "message": message})
    assert status == 200 and texts(replies) == [EMPTY]
    assert bot.seen == []


def test_missing_message_key():
    status, replies = post(make_app(FakeBot()), {"sender": "u1"})
    assert status == 200 and texts(replies) == [EMPTY]


def test_long_message_cut_with_note():
    bot = FakeBot()
    status, replies = post(make_app(bot), {"sender": "u1", "message": "催" * 10_000})
    assert status == 200
    assert texts(replies)[0] == TOO_LONG
    assert len(bot.seen[0].text) == 2000


def test_invalid_utf8_in_body():
    bot = FakeBot()
    body = b'{"sender": "u1", "message": "\xe6\x88\x91\xff\xfe\xe9\x80\xbe\xe6\x9c\x9f"}'
    status, replies = post(make_app(bot), body, raw=True)
    assert status == 200
    assert bot.seen[0].text == "我逾期"
    body = b'{"sender": "u1", "message": "\xff\xfe\xfd"}'
    status, replies = post(make_app(bot), body, raw=True)
    assert status == 200 and texts(replies) == [EMPTY]


@pytest.mark.parametrize("body", [b"", b"not json", b"[1,2]", b'{"message": "hi"}', b'{"sender": null}',
                                  b'{"sender": ""}', b'{"sender": {"a": 1}}', json.dumps({"sender": "x" * 300}).encode()])
def test_unreadable_requests_get_a_chinese_400(body):
    status, replies = post(make_app(FakeBot()), body, raw=True)
    assert status == 400 and texts(replies) == [UNREADABLE]


def test_bot_exception_becomes_apology():
    status, replies = post(make_app(FakeBot("raise")), {"sender": "u1", "message": "你好"})
    assert status == 200 and texts(replies) == [APOLOGY]


def test_silent_bot_gets_apology():
    status, replies = post(make_app(FakeBot("silent")), {"sender": "u1", "message": "你好"})
    assert status == 200 and texts(replies) == [APOLOGY]


def test_failed_action_appends_apology():
    status, replies = post(make_app(FakeBot("action_down")), {"sender": "u1", "message": "帮我做计划"})
    assert status == 200 and texts(replies) == ["我先看看", APOLOGY]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_failed_turn_is_rewound():
    import asyncio
    from types import SimpleNamespace

    from rasa.core.lock_store import InMemoryLockStore
    from rasa.core.tracker_store import InMemoryTrackerStore
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    domain = Domain.from_dict({"slots": {"amount": {"type": "any", "mappings": [{"type": "custom"}]}}})
    store = InMemoryTrackerStore(domain)
    agent = SimpleNamespace(tracker_store=store, lock_store=InMemoryLockStore())
    run = asyncio.new_event_loop().run_until_complete
    run(store.save(DialogueStateTracker.from_events("u1", [ActionExecuted("action_listen"), UserUttered("欠两万三", message_id="m0"), SlotSet("amount", 23000)], slots=domain.slots)))

    class HalfDone(FakeBot):
        async def __call__(self, message):
            # what Rasa stores before the failing action: the message and its unvalidated slot
            tracker = await store.retrieve("u1")
            tracker.update_with_events([ActionExecuted("action_listen"), UserUttered(message.text, message_id=message.message_id), SlotSet("amount", 2000)], domain)
            await store.save(tracker)
            self.mode = "action_down"
            await super().__call__(message)

    status, replies = post(make_app(HalfDone(), agent=agent), {"sender": "u1", "message": "2000"})
    assert status == 200 and texts(replies)[-1] == APOLOGY
    tracker = run(store.retrieve("u1"))
    assert tracker.get_slot("amount") == 23000  # the half-done turn no longer counts
    assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == ["欠两万三", "2000"]  # nothing deleted
    # only the latest turn is ever taken back
    from bot.channels.rest import restoring_events
    assert restoring_events(tracker, "m0") is None
    assert restoring_events(tracker, "unknown") is None


def test_repeated_and_rate_limited():
    bot = FakeBot()
    app = make_app(bot, rate_limit=4)
    answers = [texts(post(app, {"sender": "u9", "message": "在吗"})[1]) for _ in range(5)]
    assert answers[0] == ["收到：在吗"]
    assert answers[2] == [REPEATED, "收到：在吗"]
    assert answers[4] == [RATE_LIMITED]
    assert len(bot.seen) == 4
    assert texts(post(app, {"sender": "other", "message": "在吗"})[1]) == ["收到：在吗"]


def test_user_text_not_logged(caplog):
    caplog.set_level(logging.DEBUG)
    app = make_app(FakeBot("raise"), rate_limit=1)
    post(app, {"sender": "13812345678", "message": "我的身份证11010519491231002X"})
    post(app, {"sender": "13812345678", "message": "我的身份证11010519491231002X"})
    assert "rest:" in caplog.text
    assert "11010519491231002X" not in caplog.text and "13812345678" not in caplog.text


def test_helpers():
    assert parse_body(b'{"a": 1}') == {"a": 1}
    assert parse_body(b"\xff") is None
    assert parse_sender(123) == "123"
    assert parse_sender(True) is None
    assert parse_sender("a\nb") is None
    assert all(HAN.search(t) for t in (APOLOGY, UNREADABLE))


# --- bot/channels/cors.py: socket.io origin check -------------------------------------------------
def test_socketio_origins():
    import asyncio

    from socketio import AsyncServer

    from bot.channels.cors import origin_allowed, parse_origins, restrict_socketio_origins

    assert parse_origins("*") is None
    assert parse_origins(None) == []
    assert parse_origins("https://a.org, https://b.org/") == ["https://a.org", "https://b.org"]
    env = {"HTTP_HOST": "127.0.0.1:5005", "wsgi.url_scheme": "http"}
    assert origin_allowed("http://127.0.0.1:5005", env, [])  # the bot's own page
    assert origin_allowed(None, env, [])  # no browser
    assert not origin_allowed("https://evil.example", env, ["https://a.org"])
    assert origin_allowed("https://a.org", env, ["https://a.org"])
    assert origin_allowed("https://evil.example", env, None)

    sio = AsyncServer(async_mode="asgi", cors_allowed_origins=[])
    calls = []

    @sio.on("connect")
    async def rasa_connect(sid, environ, auth):
        calls.append(sid)
        return True

    restrict_socketio_origins(sio, "https://a.org")
    connect = sio.handlers["/"]["connect"]
    run = asyncio.new_event_loop().run_until_complete
    assert run(connect("s1", dict(env, HTTP_ORIGIN="https://a.org"), None)) is True
    assert run(connect("s2", dict(env, HTTP_ORIGIN="https://evil.example"), None)) is False
    assert calls == ["s1"]


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_restoring_events_undo_a_form_started_half_way():
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bot.channels.rest import restoring_events

    domain = Domain.from_dict({"slots": {"platform": {"type": "text", "mappings": [{"type": "custom"}]},
                                         "requested_slot": {"type": "any", "mappings": [{"type": "custom"}]}}})
    tracker = DialogueStateTracker.from_events("u", [
        ActionExecuted("action_listen"), UserUttered("借呗", message_id="m0"), SlotSet("platform", "借呗"),
        ActionExecuted("action_listen"), UserUttered("还不上", message_id="m1"),
        ActionExecuted("negotiation_form"), ActiveLoop("negotiation_form"), SlotSet("requested_slot", "amount"),
        SlotSet("platform", "花呗"),
    ], slots=domain.slots)
    restore = restoring_events(tracker, "m1")
    assert SlotSet("platform", "借呗") in restore and SlotSet("requested_slot", None) in restore
    assert ActiveLoop(None) in restore
    for event in restore:
        tracker.update(event)
    assert tracker.get_slot("platform") == "借呗" and tracker.active_loop_name is None
    assert restoring_events(tracker, "m0") is None
