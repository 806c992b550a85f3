"""Guided flows end to end over REST with the action server: the texts carry the user's numbers."""
import re

import pytest

from conftest import texts

pytestmark = pytest.mark.e2e


def documents(replies):
    return [r["custom"] for r in replies if isinstance(r.get("custom"), dict) and r["custom"].get("type") == "document"]


def converse(servers, sender, turns):
    out = []
    for t in turns:
        out = servers.say(sender, t)
    return out


def test_plan_with_user_numbers(servers):
    s = "flow-plan-1"
    first = texts(servers.say(s, "借呗逾期了还不上"))
    assert "多少" in first  # asks for the amount; the platform was understood
    assert "多少" in texts(servers.say(s, "12000"))
    reason_q = texts(servers.say(s, "每个月能还2000"))
    assert "原因" in reason_q
    servers.say(s, "失业了")
    replies = servers.say(s, "说不准")
    text = texts(replies)
    assert "借呗" in text and "2000" in text and re.search(r"6\s*期", text), text
    docs = documents(replies)
    script = next(d for d in docs if "电话稿" in d["title"] or "话术" in d["title"])
    assert "借呗" in script["text"] and "12000" in script["text"] and "2000" in script["text"]
    assert any(d["filename"].endswith(".ics") for d in docs)


def test_dont_know_never_blocks(servers):
    s = "flow-plan-2"
    servers.say(s, "我网贷还不上了怎么办")
    for answer in ["跳过", "不知道", "不知道", "不想说", "说不准"]:
        replies = servers.say(s, answer)
        if documents(replies):
            break
    assert documents(replies), texts(replies)


def test_all_facts_in_first_message(servers):
    replies = servers.say("flow-plan-3", "我想分期，微粒贷欠了两万四，每个月最多还两千")
    text = texts(replies)
    assert "原因" in text  # amount and monthly payment were not asked again


def test_crisis_interrupts_form(servers):
    s = "flow-plan-4"
    servers.say(s, "借呗还不上了")
    text = texts(servers.say(s, "我真的不想活了"))
    assert "12356" in text
    # and the conversation can go on
    assert servers.say(s, "/cant_repay")


def test_switch_to_complaint_mid_form(servers):
    s = "flow-plan-5"
    servers.say(s, "花呗逾期了还不上")
    text = texts(servers.say(s, "我要投诉他们"))
    assert "投诉" in text


def test_contacts_called_then_complaint(servers):
    s = "flow-complaint-1"
    triage = servers.say(s, "美团借钱的催收打电话给我同事了，说我欠钱不还")
    assert documents(triage)  # stop-contact request, note to relatives
    servers.say(s, "我要投诉")
    replies = servers.say(s, "有通话录音和短信截图")
    docs = documents(replies)
    assert docs, texts(replies)
    body = "\n".join(d["title"] + d["text"] for d in docs)
    assert "美团借钱" in body
    assert "12378" in body or "金融管理" in body or "jubao.nifa.org.cn" in body  # body for its kind
    assert re.search(r"《[^》]+》[^。]*第[一二三四五六七八九十百千零]+条", body)


def test_question_gets_cited_answer(servers):
    text = texts(servers.say("flow-q-1", "逾期会上征信吗，多久能消"))
    assert "征信业管理条例" in text


def test_delete_my_data(servers):
    import sqlite3

    s = "flow-delete-1"
    servers.say(s, "借呗欠了一万二，我手机13812345678")
    assert "删除" in texts(servers.say(s, "删除我的数据"))
    assert "已删除" in texts(servers.say(s, "确认删除"))
    from bot.tracker_store import sender_key, stored_sender_id

    stored = stored_sender_id(s, sender_key(servers.workdir))
    con = sqlite3.connect(servers.db)
    assert con.execute("select count(*) from events where sender_id=?", (stored,)).fetchone()[0] == 0
    assert con.execute("select count(*) from events").fetchone()[0] > 0  # other conversations are still there
