"""The evidence diary (xieshang/diary.py): add, list, correct, delete, export, erase, privacy."""
from __future__ import annotations

import sqlite3
from datetime import date, datetime

import pytest

from xieshang import diary

NOW = datetime(2026, 7, 22, 14, 30)  # Wednesday
TODAY = date(2026, 7, 22)
SENDER = "user-1"


@pytest.fixture()
def db(tmp_path, monkeypatch):
    path = tmp_path / "sub" / "diary.db"
    monkeypatch.setenv("XIESHANG_DIARY_DB", str(path))
    return path


# ------------------------------------------------------------------------------------- parsing


def test_parse_the_example_from_the_issue():
    f = diary.parse_entry("昨晚11点 138xxxx 打给我妈说我诈骗，有录音", NOW)
    assert f["at"] == "2026-07-21T23:00" and f["precision"] == "minute"
    assert f["channel"] == "电话"
    assert f["collector"] == "138xxxx"
    assert f["contacted"] == "我妈"
    assert f["what"] == "打给我妈说我诈骗"
    assert f["evidence"] == "录音"


@pytest.mark.parametrize("text,expected", [
    ("记一下 前天下午3点 0755-12345678 打到我公司前台，说我欠钱不还，有截图",
     {"at": "2026-07-20T15:00", "channel": "电话", "collector": "0755-12345678", "evidence": "截图"}),
    ("帮我记下来：今天上午10点，自称XX律所的人发短信说要起诉我，截图了",
     {"at": "2026-07-22T10:00", "channel": "短信", "collector": "XX律所", "contacted": "本人", "evidence": "截图"}),
    ("记录一次 昨天下午两点有两个人上门，堵我家门口",
     {"at": "2026-07-21T14:00", "channel": "上门"}),
    ("記一下 昨晚十一點 打給我媽 說我是騙子 有錄音",
     {"at": "2026-07-21T23:00", "contacted": "我妈", "evidence": "录音", "what": "打給我媽 說我是騙子"}),
    ("记一下 上周五 微信加了我表姐 发了P过的照片 录音截图都有",
     {"at": "2026-07-17T00:00", "precision": "day", "channel": "微信", "contacted": "我表姐", "evidence": "录音、截图"}),
    ("记一下 刚才打给我领导了 没录音", {"at": "2026-07-22T14:30", "contacted": "我领导", "evidence": None}),
    ("今天的也记上：中午12点 139xxxx 短信轰炸 有截图 😡",
     {"at": "2026-07-22T12:00", "channel": "短信", "collector": "139xxxx", "what": "短信轰炸", "evidence": "截图"}),
    ("记一条：3月5号晚上 催收在家族群里发我欠钱的消息 有截图",
     {"at": "2026-03-05T00:00", "precision": "period", "period": "晚上", "channel": "微信", "contacted": "家族群"}),
    ("记录一次：收到【XX】短信，内容是要我今天18点前还款 否则上门", {"at": None, "channel": "短信"}),
])
def test_parse_entries(text, expected):
    f = diary.parse_entry(text, NOW)
    for key, value in expected.items():
        assert f[key] == value, (key, f)


def test_has_content():
    assert not diary.has_content("记录一次催收", NOW)
    assert not diary.has_content("记一下", NOW)
    assert not diary.has_content("帮我记一下今天的催收", NOW) or diary.parse_entry("帮我记一下今天的催收", NOW)["at"]
    assert diary.has_content("记一下 昨晚11点 138xxxx 打给我妈", NOW)
    assert diary.has_content("催收打给我同事说我欠钱", NOW)


@pytest.mark.parametrize("text,index,fields", [
    ("改第2条 时间是前天下午3点", 2, {"at": "2026-07-20T15:00", "precision": "minute"}),
    ("第1条证据改成截图", 1, {"evidence": "截图"}),
    ("把第三条的号码改成139xxxx", 3, {"collector": "139xxxx"}),
    ("第2条 打给的是我爸不是我妈", 2, {"contacted": "我爸"}),
    ("最后一条改成短信", -1, {"channel": "短信"}),
    ("第2条 前天下午3点", 2, {"at": "2026-07-20T15:00"}),
    ("第4条内容改成：说要上门", 4, {"what": "说要上门"}),
])
def test_parse_corrections(text, index, fields):
    corr = diary.parse_correction(text, NOW)
    assert corr.error is None, corr
    assert corr.index == index
    for key, value in fields.items():
        assert corr.fields[key] == value, corr.fields


def test_correction_without_index_or_value_asks():
    assert diary.parse_correction("改一下", NOW).error == "which"
    assert diary.parse_correction("第2条改一下", NOW).error == "what_field"
    assert diary.parse_correction("第2条时间改成那个啥", NOW).error == "cannot_parse_time"


# ------------------------------------------------------------------------------------- the flow


def test_add_three_correct_delete_export_erase(db):
    n1, e1 = diary.add_entry(SENDER, "记一下 昨晚11点 138xxxx 打给我妈说我诈骗，有录音", NOW)
    n2, e2 = diary.add_entry(SENDER, "记一下 今天上午9点 0755-12345678 发短信给我同事说我欠钱不还，有截图", NOW)
    n3, e3 = diary.add_entry(SENDER, "记一下 前天晚上10点 139xxxx 打了我8个电话", NOW)
    assert db.exists()
    # numbered by when it happened: the 前天 call comes first
    assert (n1, n2, n3) == (1, 2, 1)
    entries = diary.list_entries(SENDER)
    assert [e.collector for e in entries] == ["139xxxx", "138xxxx", "0755-12345678"]
    listing = diary.render_list(entries)
    assert "共3条" in listing and "1. 7月20日 22:00" in listing and "联系了我妈" in listing

    # correct entry 3 (the SMS): it happened the day before yesterday at 15:00 → moves to first place
    result, corr = diary.correct_entry(SENDER, "改第3条 时间是前天下午3点", NOW)
    assert corr.error is None and result is not None
    pos, entry = result
    assert pos == 1 and entry.collector == "0755-12345678" and entry.at == "2026-07-20T15:00"
    assert entry.channel == "短信" and entry.what  # other fields untouched

    # delete entry 2 (now the 前天 22:00 call)
    deleted = diary.delete_entry(SENDER, 2)
    assert deleted is not None and deleted[1].collector == "139xxxx"
    assert [e.collector for e in diary.list_entries(SENDER)] == ["0755-12345678", "138xxxx"]
    assert diary.delete_entry(SENDER, 9) is None

    # export: a dated, numbered annex
    doc = diary.export(SENDER, today=TODAY)
    assert doc is not None and doc.mime == "text/plain"
    assert doc.filename == "催收记录_20260722.txt"
    assert "共2条" in doc.title
    text = doc.text
    assert "整理日期：2026年7月22日" in text
    assert "第1条" in text and "第2条" in text and "第3条" not in text
    assert text.index("0755-12345678") < text.index("138xxxx")
    assert "时间：2026年7月20日 15:00" in text and "时间：2026年7月21日 23:00" in text
    assert "证据：录音" in text and "证据：截图" in text
    assert diary.annex_for(SENDER, today=TODAY) == text
    assert doc.to_custom()["type"] == "document"

    # another sender's diary is separate; erase removes only this sender's
    diary.add_entry("other", "记一下 昨晚11点 138xxxx 打给我爸", NOW)
    assert diary.erase(SENDER) == 2
    assert diary.list_entries(SENDER) == []
    assert diary.annex_for(SENDER) is None
    assert diary.export(SENDER) is None
    assert len(diary.list_entries("other")) == 1
    rows = sqlite3.connect(str(db)).execute("SELECT COUNT(*) FROM diary_entries WHERE sender = ?", (SENDER,)).fetchone()
    assert rows[0] == 0


def test_last_entry_can_be_corrected_and_deleted(db):
    diary.add_entry(SENDER, "记一下 今天上午10点 138xxxx 打给我老婆", NOW)
    diary.add_entry(SENDER, "记一下 前天 139xxxx 发短信", NOW)  # older, but added last
    result, _ = diary.correct_entry(SENDER, "最后一条改成微信", NOW)
    assert result is not None and result[1].collector == "139xxxx" and result[1].channel == "微信"
    deleted = diary.delete_entry(SENDER, diary.parse_index("删掉刚才那条"))
    assert deleted is not None and deleted[1].collector == "139xxxx"
    assert len(diary.list_entries(SENDER)) == 1


def test_collector_number_is_kept_user_identifiers_are_masked(db):
    text = ("记一下 刚才 13812345678 微信加我老婆好友，说我的身份证号是110101199003071234，"
            "我的手机号是13900001111，让我还到卡号6222020200112233445")
    _, entry = diary.add_entry(SENDER, text, NOW)
    assert entry.collector == "13812345678"
    stored = sqlite3.connect(str(db)).execute("SELECT * FROM diary_entries").fetchone()
    blob = " ".join(str(v) for v in stored)
    assert "13812345678" in blob  # evidence
    assert "13900001111" not in blob and "110101199003071234" not in blob
    assert "〔手机号〕" in blob and "〔身份证号〕" in blob


def test_path_from_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("XIESHANG_DIARY_DB", raising=False)
    monkeypatch.setenv("XIESHANG_VAR", str(tmp_path / "var"))
    assert diary.db_path() == tmp_path / "var" / "diary.db"
    diary.add_entry(SENDER, "记一下 昨晚11点 138xxxx 打电话", NOW)
    assert (tmp_path / "var" / "diary.db").exists()
    monkeypatch.delenv("XIESHANG_VAR")
    assert diary.db_path() == diary.ROOT / "var" / "diary.db"


def test_retention_purges_untouched_diaries(db):
    import time

    d = diary.Diary(retention_days=30)
    d.add(SENDER, "记一下 昨晚11点 138xxxx 打电话", NOW)
    assert d.purge_expired(now=time.time() + 29 * 86400) == 0
    assert d.purge_expired(now=time.time() + 31 * 86400) == 1
    assert d.entries(SENDER) == []


def test_empty_diary_and_bad_input(db):
    assert diary.list_entries(SENDER) == []
    assert "还没有" in diary.render_list([])
    assert diary.annex_for(SENDER) is None
    assert diary.erase("nobody") == 0
    for bad in ("", "   ", "😭", "x" * 5000, "第条", None):
        diary.parse_entry(bad, NOW)
        diary.parse_correction(bad, NOW)
    _, entry = diary.add_entry(SENDER, "😭😭", NOW)
    assert "时间未说明" in entry.line()


# ------------------------------------------------------------------------------------- the actions (no model)


def _tracker(sender, text, slots=None, intent="diary_add"):
    from rasa_sdk import Tracker

    return Tracker(sender_id=sender, slots=slots or {}, latest_message={"text": text, "intent": {"name": intent}},
                   events=[], paused=False, followup_action=None, active_loop={}, latest_action_name=None)


def _run(action, tracker):
    import asyncio

    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def test_actions_add_list_correct_delete_export(db):
    from actions import conduct as acts

    text = "记一下 昨晚11点 138xxxx 打给我妈说我诈骗，有录音"
    msgs, events = _run(acts.ActionDiaryAdd(), _tracker(SENDER, text, {"diary_text": text}))
    reply = msgs[0]["text"]
    assert "记下了，这是第1条" in reply and "138xxxx" in reply and "诽谤" in reply
    assert events == [{"event": "slot", "timestamp": None, "name": "diary_text", "value": None}]
    _run(acts.ActionDiaryAdd(), _tracker(SENDER, "记一下 前天下午2点 139xxxx 发短信给我同事"))

    msgs, _ = _run(acts.ActionDiaryList(), _tracker(SENDER, "看看我的记录", intent="diary_list"))
    assert "共2条" in msgs[0]["text"] and "改第2条" in msgs[0]["text"]

    msgs, _ = _run(acts.ActionDiaryCorrect(), _tracker(SENDER, "第1条证据改成截图", intent="diary_correct"))
    assert "改好了" in msgs[0]["text"] and "截图" in msgs[0]["text"]
    msgs, _ = _run(acts.ActionDiaryCorrect(), _tracker(SENDER, "改一下", intent="diary_correct"))
    assert "要改哪一条" in msgs[0]["text"]
    msgs, _ = _run(acts.ActionDiaryCorrect(), _tracker(SENDER, "改第9条 时间是昨天", intent="diary_correct"))
    assert "没有第9条" in msgs[0]["text"]

    msgs, _ = _run(acts.ActionDiaryExport(), _tracker(SENDER, "导出记录", intent="diary_export"))
    assert msgs[0]["text"].startswith("整理好了，共2条")
    doc = msgs[1]["custom"]
    assert doc["type"] == "document" and "第2条" in doc["text"]

    msgs, _ = _run(acts.ActionDiaryDelete(), _tracker(SENDER, "删掉第1条", intent="diary_delete"))
    assert "已删除第1条" in msgs[0]["text"] and "还有1条" in msgs[0]["text"]
    msgs, _ = _run(acts.ActionDiaryDelete(), _tracker(SENDER, "全部删掉", intent="diary_delete"))
    assert "删除我的数据" in msgs[0]["text"]
    assert len(diary.list_entries(SENDER)) == 1


def test_conduct_form_validation_and_check_action(db):
    from rasa_sdk.executor import CollectingDispatcher

    from actions import conduct as acts

    v = acts.ValidateConductForm()
    d = CollectingDispatcher()
    ask = "帮我看看这条催收短信违不违规"
    assert v.validate_conduct_text(ask, d, _tracker(SENDER, ask), {}) == {"conduct_text": None}
    described = "帮我看看：昨晚11点打给我妈说我诈骗"
    assert v.validate_conduct_text(described, d, _tracker(SENDER, described), {}) == {"conduct_text": described}
    asked = _tracker(SENDER, "随便", {"requested_slot": "conduct_text"})
    assert v.validate_conduct_text("您好请尽快还款", d, asked, {}) == {"conduct_text": "您好请尽快还款"}

    msgs, events = _run(acts.ActionCheckConduct(), _tracker(SENDER, described, {"conduct_text": described}))
    assert "发现" in msgs[0]["text"] and msgs[0]["buttons"]
    assert events[0]["name"] == "conduct_text" and events[0]["value"] is None
    polite = "今天上午10点客服打了一个电话提醒我还款"
    msgs, _ = _run(acts.ActionCheckConduct(), _tracker(SENDER, polite, {"conduct_text": polite}))
    assert msgs[0]["text"].startswith("没有发现明显违规") and not msgs[0]["buttons"]


def test_diary_keeps_senders_pseudonymised(tmp_path):
    import sqlite3

    d = diary.Diary(tmp_path / "d.db", var=tmp_path)
    d.add("13812345678", "昨天晚上10点 139xxxx 打了我8个电话")
    senders = {r[0] for r in sqlite3.connect(tmp_path / "d.db").execute("SELECT sender FROM diary_entries")}
    assert senders and "13812345678" not in "".join(senders)
    assert len(d.entries("13812345678")) == 1 and d.erase("13812345678") == 1
