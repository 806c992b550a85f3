"""Bad input, a failing action server, restarts, and identifiers on disk — against real servers.

These tests stop and restart servers, so they run on their own BotServers (not the session's).
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from conftest import BotServers, texts
from xieshang.guard import APOLOGY, EMPTY, RATE_LIMITED, REPEATED, TOO_LONG

pytestmark = [pytest.mark.e2e, pytest.mark.rasa]

HAN = re.compile(r"[\u4e00-\u9fff]")
RATE_LIMIT = 12  # messages a minute per sender on these servers

PHONE = "13812345678"
ID_NUMBER = "11010519491231002X"
CARD = "6222020200112233446"  # Luhn-valid


@pytest.fixture(scope="module")
def bot(model_path):
    workdir = Path(tempfile.mkdtemp(prefix="xieshang-robust-"))
    servers = BotServers(model_path, workdir)
    servers.env["XIESHANG_RATE_LIMIT"] = str(RATE_LIMIT)
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def post(bot: BotServers, body: bytes, timeout: float = 60):
    """POST raw bytes to the REST channel -> (status, parsed JSON)."""
    req = urllib.request.Request(bot.url + "/webhooks/rest/webhook", data=body,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def say(bot: BotServers, sender: str, message: str):
    status, replies = post(bot, json.dumps({"sender": sender, "message": message}, ensure_ascii=False).encode())
    assert status == 200, replies
    return replies


def tracker(bot: BotServers, sender: str, token: str = None):
    token = bot.token if token is None else token
    url = f"{bot.url}/conversations/{sender}/tracker?token={token}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())


def chinese_answer(replies) -> str:
    shown = texts(replies)
    assert HAN.search(shown), replies
    return shown


LONG = ("催收天天给我打电话，还说要去我老家找我爸妈，我真的很害怕。" * 400)[:10_000]


@pytest.mark.parametrize("name,message", [
    ("empty", ""),
    ("whitespace", "   \n\t  "),
    ("long", LONG),
    ("emoji", "😭😭😭"),
    ("english", "I can't pay my loan"),
    ("traditional", "我還不上錢了，催收打給我媽"),
])
def test_bad_input_gets_a_chinese_answer(bot, name, message):
    replies = say(bot, f"bad-{name}", message)
    shown = chinese_answer(replies)
    if name in ("empty", "whitespace"):
        assert shown == EMPTY
    else:
        assert APOLOGY not in shown  # a real answer, not an error
    if name == "long":
        assert replies[0]["text"] == TOO_LONG
        assert len(replies) > 1  # and the bot answered the start of it


def test_invalid_utf8_bytes(bot):
    body = b'{"sender": "bad-utf8", "message": "\xff\xfe\xe6\x88\x91\xe9\x80\xbe\xe6\x9c\x9f\xe4\xba\x86\xc3\x28"}'
    status, replies = post(bot, body)
    assert status == 200
    assert APOLOGY not in chinese_answer(replies)
    status, replies = post(bot, b'{"sender": "bad-utf8-2", "message": "\xc3\x28\xa0\xa1"}')
    assert status == 200 and HAN.search(texts(replies))


def test_not_json_is_refused_politely(bot):
    status, replies = post(bot, b"\x00\x01 this is not json")
    assert status == 400 and HAN.search(texts(replies))


def test_repeated_identical_messages(bot):
    first = say(bot, "repeat", "在吗")
    chinese_answer(first)
    say(bot, "repeat", "在吗")
    third = say(bot, "repeat", "在吗")
    assert third[0]["text"] == REPEATED
    assert len(third) > 1  # still answered


def test_burst_over_the_rate_limit(bot):
    answers = [say(bot, "burst", f"我欠了{i + 1}千块还不上") for i in range(RATE_LIMIT + 4)]
    for replies in answers:
        chinese_answer(replies)
    limited = [r for r in answers if texts(r) == RATE_LIMITED]
    assert len(limited) >= 2
    assert texts(answers[0]) != RATE_LIMITED
    # another person is not slowed down by it
    assert texts(say(bot, "not-burst", "你好")) != RATE_LIMITED


def test_user_text_is_not_logged(bot):
    sentence = "我的网贷逾期了独一无二的测试句子"
    say(bot, "log-check", sentence)
    time.sleep(0.5)
    assert "独一无二的测试句子" not in bot.logs()


def test_action_server_down_then_back(bot):
    first, second = "我借呗欠了两万三，逾期三个月了，实在还不上", "2000"
    # the same two messages in a conversation where nothing goes wrong
    say(bot, "actions-fine", first)
    expected = say(bot, "actions-fine", second)
    expected_slots = tracker(bot, "actions-fine")["slots"]

    sender = "actions-down"
    chinese_answer(say(bot, sender, first))
    slots = tracker(bot, sender)["slots"]
    assert slots["platform"] == "借呗" and slots["amount"] == 23000

    bot.stop_actions()
    try:
        replies = say(bot, sender, second)
        assert texts(replies).endswith(APOLOGY)
    finally:
        bot.start_actions()

    replies = say(bot, sender, second)  # sent again once the action server is back
    assert APOLOGY not in chinese_answer(replies)
    assert texts(replies) == texts(expected)
    slots = tracker(bot, sender)["slots"]
    assert slots["platform"] == "借呗" and slots["amount"] == 23000
    assert {k: v for k, v in slots.items() if k != "session_started_metadata"} == \
        {k: v for k, v in expected_slots.items() if k != "session_started_metadata"}


def test_http_api_needs_the_token(bot):
    for url in (f"{bot.url}/conversations/x/tracker", f"{bot.url}/conversations/x/tracker?token=wrong", f"{bot.url}/status"):
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=30)
        assert err.value.code in (401, 403)


def test_restart_keeps_the_conversation(bot):
    sender = "restart"
    chinese_answer(say(bot, sender, "我借呗欠了两万三，逾期三个月了，实在还不上"))
    before = tracker(bot, sender)
    assert before["slots"]["platform"] == "借呗"
    bot.stop_bot()
    bot.start_bot()
    after = tracker(bot, sender)
    assert after["slots"]["platform"] == "借呗" and after["slots"]["amount"] == 23000
    assert len(after["events"]) >= len(before["events"])
    assert [e for e in after["events"] if e["event"] == "user"][0]["text"].startswith("我借呗欠了两万三")
    replies = say(bot, sender, "2000")
    assert APOLOGY not in chinese_answer(replies)
    assert tracker(bot, sender)["slots"]["platform"] == "借呗"


def test_identifiers_never_reach_the_disk_in_clear(bot):
    sender = "pii"
    say(bot, sender, f"我手机号{PHONE}，身份证{ID_NUMBER}，卡号{CARD}")
    say(bot, sender, PHONE)
    say(bot, sender, f"催收打我电话 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}，银行卡 {CARD[:4]} {CARD[4:8]} {CARD[8:12]} {CARD[12:16]} {CARD[16:]}")
    events = tracker(bot, sender)["events"]
    assert any("〔手机号〕" in (e.get("text") or "") for e in events)  # the bot knows a number was given
    time.sleep(1)
    files = [p for p in bot.workdir.rglob("*") if p.is_file()]
    assert any(p.name.startswith("tracker.db") for p in files)
    for path in files:
        data = path.read_bytes()
        for secret in (PHONE, ID_NUMBER, CARD, ID_NUMBER.lower()):
            assert secret.encode() not in data, f"{secret} found in {path.name}"
