"""Practice mode end to end over REST (Rasa + action server): enter, play, scorecard, re-enter, exit,
crisis words interrupt, practice never changes the user's real case."""
import json
import re
import urllib.request

import pytest

from conftest import texts

pytestmark = pytest.mark.e2e

PREFIX = "【练习模式】"
COLLECTOR = '/practice_call{"counterpart":"collector"}'
STRONG = [
    "是我本人。请问您是哪家公司的，工号多少？我这边会录音。",
    "我今年三月被公司裁员了，收入断了，不是不想还，是真的还不上。",
    "我每个月最多能还1500，分15期，从下个月15号开始还，能不能把罚息和违约金减免掉？",
    "每个月1500已经是我的极限了，多了我做不到。",
    "另外请不要再联系我的家人和同事，根据民法典第一千零三十三条，这侵犯我的隐私。",
    "协商结果请发书面确认或短信给我，我只通过官方APP还款，不会转私人账户。",
]
WEAK = ["没钱", "爱咋咋地", "你们去告吧"]


def markers(replies):
    return [r["custom"].get("practice") for r in replies if isinstance(r.get("custom"), dict) and "practice" in r["custom"]]


def bot_texts(replies):
    return [r["text"] for r in replies if r.get("text")]


def score_of(replies):
    m = re.search(r"得分：(\d+)分", texts(replies))
    assert m, texts(replies)
    return int(m.group(1))


def play(servers, sender, turns):
    servers.say(sender, COLLECTOR)
    for t in turns:
        servers.say(sender, t)
    return servers.say(sender, "打分")


def slots(servers, sender):
    url = f"{servers.url}/conversations/{sender}/tracker?token={servers.token}"
    with urllib.request.urlopen(url, timeout=30) as resp:
        return json.loads(resp.read())["slots"]


def test_enter_play_three_turns_scorecard_and_reenter(servers):
    s = "practice-e2e-1"
    first = servers.say(s, "我想练习一下")
    assert bot_texts(first) and bot_texts(first)[0].startswith(PREFIX)
    payloads = [b["payload"] for r in first for b in r.get("buttons") or []]
    assert COLLECTOR in payloads and len(payloads) == 3
    assert markers(first) == ["on"]

    opening = servers.say(s, COLLECTOR)
    assert "催收员：" in texts(opening) and markers(opening) == ["on"]

    for turn in ["是我本人，请问你是哪家公司的？", "我失业了，每个月最多能还1000，分20期", "请不要联系我的家人，这违反民法典"]:
        replies = servers.say(s, turn)
        assert bot_texts(replies), turn
        assert all(t.startswith(PREFIX) for t in bot_texts(replies)), texts(replies)
        assert markers(replies) == ["on"]

    card = servers.say(s, "结束练习")
    text = texts(card)
    assert re.search(r"得分：\d+分", text) and "✅" in text and "❌" in text
    assert markers(card) == ["off"]
    again = [b["payload"] for r in card for b in r.get("buttons") or []]
    assert COLLECTOR in again

    # re-enter with the button, then leave at once
    reopened = servers.say(s, COLLECTOR)
    assert "催收员：" in texts(reopened) and markers(reopened) == ["on"]
    left = servers.say(s, "退出")
    assert "退出" in texts(left) and "得分" not in texts(left) and markers(left) == ["off"]

    # back to the normal bot
    normal = servers.say(s, "借呗还不上了")
    assert not any(t.startswith(PREFIX) for t in bot_texts(normal)), texts(normal)


def test_a_good_negotiator_scores_higher_than_a_defiant_one(servers):
    strong = score_of(play(servers, "practice-e2e-strong", STRONG))
    weak = score_of(play(servers, "practice-e2e-weak", WEAK))
    assert strong >= 80 and weak <= 20 and strong > weak


def test_crisis_words_interrupt_practice(servers):
    s = "practice-e2e-crisis"
    servers.say(s, COLLECTOR)
    servers.say(s, "是我")
    replies = servers.say(s, "我真的不想活了")
    assert "12356" in texts(replies)
    assert markers(replies) == ["off"]
    after = servers.say(s, "借呗还不上了")
    assert not any(t.startswith(PREFIX) for t in bot_texts(after)), texts(after)


def test_practice_asked_for_during_the_plan_form_starts_practice(servers):
    s = "practice-e2e-form"
    servers.say(s, "借呗还不上了")
    replies = servers.say(s, "我想先练习一下怎么打电话")
    assert bot_texts(replies)[0].startswith(PREFIX) and markers(replies) == ["on"], texts(replies)
    assert "退出" in texts(servers.say(s, "退出"))


def test_practice_turns_never_change_the_users_case(servers):
    s = "practice-e2e-case"
    servers.say(s, '/inform{"platform":"借呗","amount":23000,"overdue_days":90}')
    before = slots(servers, s)
    servers.say(s, COLLECTOR)
    servers.say(s, "是我")
    servers.say(s, "微粒贷欠了五万，我每个月能还3000，分12期")
    servers.say(s, "催收打电话给我妈了，说要上门")
    servers.say(s, "退出")
    after = slots(servers, s)
    for name in ("platform", "amount", "overdue_days", "monthly_payment", "installments", "incident"):
        if name in before:
            assert after[name] == before[name], (name, before[name], after[name])
    assert after["practice_active"] is False and after["practice_state"] is None
