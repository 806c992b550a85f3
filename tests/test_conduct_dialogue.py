"""Dialogue tests over the REST channel: the evidence diary (three entries, a correction, an export,
delete-my-data removes it) and the conduct checker, with the real Rasa server and action server."""
from __future__ import annotations

import uuid

import pytest

from tests.conftest import texts
from xieshang.diary import Diary

pytestmark = pytest.mark.e2e


def _sender(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _documents(replies):
    return [r["custom"] for r in replies if isinstance(r.get("custom"), dict) and r["custom"].get("type") == "document"]


def test_diary_entries_correction_export_and_delete_my_data(servers):
    sender = _sender("diary")
    store = Diary(servers.workdir / "diary.db", var=servers.workdir)

    first = texts(servers.say(sender, "记一下 昨晚11点 138xxxx 打给我妈说我诈骗，有录音"))
    assert "记下了" in first and "138xxxx" in first and "录音" in first

    asked = texts(servers.say(sender, "记录一次催收"))
    assert "说说这次催收" in asked
    second = texts(servers.say(sender, "今天上午9点 0755-12345678 发短信给我同事说我欠钱不还，有截图"))
    assert "记下了" in second and "0755-12345678" in second

    third = texts(servers.say(sender, "帮我记一下：前天晚上10点 139xxxx 打了我8个电话"))
    assert "记下了" in third and "139xxxx" in third
    assert len(store.entries(sender)) == 3

    listing = texts(servers.say(sender, "看看我的记录"))
    assert "共3条" in listing

    fixed = texts(servers.say(sender, "改第3条 时间是前天下午3点"))
    assert "改好了" in fixed
    sms = next(e for e in store.entries(sender) if e.collector == "0755-12345678")
    assert sms.at is not None and sms.at.endswith("T15:00")

    replies = servers.say(sender, "导出记录")
    docs = _documents(replies)
    assert docs, texts(replies)
    doc = docs[0]
    assert doc["mime"] == "text/plain" and doc["filename"].startswith("催收记录_") and doc["filename"].endswith(".txt")
    for expected in ("第1条", "第2条", "第3条", "138xxxx", "0755-12345678", "139xxxx", "整理日期"):
        assert expected in doc["text"], expected

    confirm = texts(servers.say(sender, "删除我的数据"))
    assert "确定要删除吗" in confirm
    servers.say(sender, "/affirm")
    assert store.entries(sender) == []
    assert "还没有" in texts(servers.say(sender, "看看我的记录"))


def test_conduct_check_asks_for_the_message_then_checks_it(servers):
    sender = _sender("conduct")
    asked = texts(servers.say(sender, "帮我看看这条催收短信违不违规"))
    assert "原文贴给我" in asked
    reply = texts(servers.say(sender, "催收说再不还就把我P成通缉令发到我家族群，还说要找人打断我的腿"))
    assert "发现" in reply and "110" in reply
    assert "《治安管理处罚法》（2025年修订）第五十条" in reply


def test_polite_reminder_is_not_called_a_breach(servers):
    sender = _sender("polite")
    reply = texts(servers.say(sender, "帮我看看违规了没：今天上午10点平台客服打了一个电话给我，很礼貌地提醒我还款"))
    assert "没有发现明显违规" in reply


def test_complaint_carries_the_diary_annex(servers):
    sender = _sender("annex")
    assert "记下了" in texts(servers.say(sender, "记一下 昨晚11点 138xxxx 打给我妈说我诈骗，有录音"))
    servers.say(sender, "我要投诉借呗")
    servers.say(sender, "催收打电话给我妈说我诈骗")
    replies = servers.say(sender, "有通话录音")
    body = "\n".join(r["custom"]["text"] for r in replies if isinstance(r.get("custom"), dict) and r["custom"].get("text"))
    assert "附件" in body and "138xxxx" in body, texts(replies)
