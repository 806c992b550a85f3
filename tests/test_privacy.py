"""Identifiers are masked before storage; delete-my-data and retention really delete rows."""
import asyncio
import json
import sqlite3
import time

import pytest

from xieshang.privacy import luhn_ok, mask, mask_data

MASKED = [
    ("我电话13812345678", "〔手机号〕"),
    ("+86 138 1234 5678 打给我", "〔手机号〕"),
    ("身份证110101199003071234", "〔身份证号〕"),
    ("身份证号11010119900307123X", "〔身份证号〕"),
    ("卡号6222 0212 3456 7890 128", "〔银行卡号〕"),
    ("4111111111111111", "〔银行卡号〕"),
    ("邮箱 zhang.san@qq.com", "〔邮箱〕"),
    ("座机010-12345678", "〔电话〕"),
    ("0755 87654321", "〔电话〕"),
]
KEPT = ["欠了12000元，逾期45天", "2026年11月20日", "每月还2000", "分24期", "12378", "400-810-8866", "1234567890123"]


@pytest.mark.parametrize("text,placeholder", MASKED)
def test_identifiers_are_masked(text, placeholder):
    out = mask(text)
    assert placeholder in out
    assert not any(ch.isdigit() for ch in out.replace("86", "")) or placeholder == "〔电话〕"


@pytest.mark.parametrize("text", KEPT)
def test_ordinary_numbers_kept(text):
    assert mask(text) == text


def test_luhn():
    assert luhn_ok("4111111111111111")
    assert not luhn_ok("4111111111111112")


def test_mask_data_nested():
    data = {"text": "13812345678", "parse_data": {"entities": [{"value": "13812345678"}]}, "n": 3}
    out = mask_data(data)
    assert "13812345678" not in json.dumps(out) and out["n"] == 3


def test_mask_is_idempotent():
    once = mask("13812345678 和 110101199003071234")
    assert mask(once) == once


def _store(tmp_path, **kw):
    from bot.tracker_store import PrivateSQLTrackerStore

    return PrivateSQLTrackerStore(dialect="sqlite", db=str(tmp_path / "t.db"), var=str(tmp_path), **kw)


def _tracker(sender, texts, delete=False):
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    events = []
    for t in texts:
        events += [UserUttered(t, {"name": "inform", "confidence": 1.0}), ActionExecuted("action_listen")]
    if delete:
        events.insert(-1, ActionExecuted("action_delete_my_data"))
    return DialogueStateTracker.from_events(sender, events)


def test_store_masks_and_deletes(tmp_path):
    store = _store(tmp_path)
    asyncio.run(store.save(_tracker("u1", ["我手机13812345678，卡号4111111111111111"])))
    asyncio.run(store.save(_tracker("u2", ["你好"])))
    raw = (tmp_path / "t.db").read_bytes()
    assert b"13812345678" not in raw and b"4111111111111111" not in raw
    rows = sqlite3.connect(tmp_path / "t.db").execute("select data from events where sender_id=?", (store.stored_id("u1"),)).fetchall()
    assert rows and "〔手机号〕" in "".join(r[0] for r in rows).encode().decode("unicode_escape")
    asyncio.run(store.save(_tracker("u1", ["我手机13812345678，卡号4111111111111111", "删除"], delete=True)))
    con = sqlite3.connect(tmp_path / "t.db")
    assert con.execute("select count(*) from events where sender_id=?", (store.stored_id("u1"),)).fetchone()[0] == 0
    assert con.execute("select count(*) from events where sender_id=?", (store.stored_id("u2"),)).fetchone()[0] > 0


def test_retention_purges_old_conversations(tmp_path):
    store = _store(tmp_path, retention_days=30)
    asyncio.run(store.save(_tracker("old", ["旧对话"])))
    asyncio.run(store.save(_tracker("new", ["新对话"])))
    con = sqlite3.connect(tmp_path / "t.db")
    con.execute("update events set timestamp = ? where sender_id = ?", (time.time() - 31 * 86400, store.stored_id("old")))
    con.commit()
    store.purge_expired()
    assert con.execute("select count(*) from events where sender_id=?", (store.stored_id("old"),)).fetchone()[0] == 0
    assert con.execute("select count(*) from events where sender_id=?", (store.stored_id("new"),)).fetchone()[0] > 0


# --- the tracker cache of bot/tracker_store.py -----------------------------------------------------
def _cached_store(tmp_path, **kw):
    from rasa.shared.core.domain import Domain

    return _store(tmp_path, domain=Domain.empty(), **kw)


def test_saved_tracker_is_read_back_from_memory_once(tmp_path):
    store = _cached_store(tmp_path)
    tracker = _tracker("c1", ["你好"])
    asyncio.run(store.save(tracker))
    assert asyncio.run(store.retrieve("c1")) is tracker and store.cache_hits == 1
    again = asyncio.run(store.retrieve("c1"))  # handed out once: a second read goes to the database
    assert again is not tracker and [e.as_dict() for e in again.events] == [e.as_dict() for e in tracker.events]
    assert store.cache_hits == 1


def test_cache_yields_to_another_workers_writes(tmp_path):
    from rasa.shared.core.events import UserUttered

    first, second = _cached_store(tmp_path), _cached_store(tmp_path)  # two Sanic workers, one database
    tracker = _tracker("c2", ["你好"])
    asyncio.run(first.save(tracker))
    other = asyncio.run(second.retrieve("c2"))
    other.update(UserUttered("欠了12000", {"name": "inform", "confidence": 1.0}))
    asyncio.run(second.save(other))
    fresh = asyncio.run(first.retrieve("c2"))
    assert fresh is not tracker and fresh.latest_message.text == "欠了12000"
    assert first.cache_hits == 0


def test_tracker_that_needed_masking_is_not_kept(tmp_path):
    store = _cached_store(tmp_path)
    tracker = _tracker("c3", ["我手机13812345678"])
    asyncio.run(store.save(tracker))
    back = asyncio.run(store.retrieve("c3"))
    assert back is not tracker and "13812345678" not in back.latest_message.text  # the masked copy, as stored
    assert store.cache_hits == 0


def test_deleted_and_purged_conversations_leave_the_cache(tmp_path):
    store = _cached_store(tmp_path)
    asyncio.run(store.save(_tracker("c4", ["你好"])))
    store.delete("c4")
    assert asyncio.run(store.retrieve("c4")) is None
    asyncio.run(store.save(_tracker("c5", ["你好"])))
    store.purge_expired()
    assert len(store.cache) == 0


def test_cached_turns_store_every_event_exactly_once(tmp_path):
    """A new conversation begins with action_session_start before SessionStarted; Rasa reads back from
    SessionStarted on and counts new events from there, so such a tracker must not be kept as it is."""
    from rasa.shared.core.events import ActionExecuted, SessionStarted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    store = _cached_store(tmp_path)
    first = DialogueStateTracker.from_events("c6", [
        ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
        UserUttered("你好", {"name": "greet", "confidence": 1.0}), ActionExecuted("utter_greet"), ActionExecuted("action_listen"),
    ])
    asyncio.run(store.save(first))
    tracker = asyncio.run(store.retrieve("c6"))
    for turn in range(3):
        tracker.update(UserUttered(f"第{turn}句", {"name": "inform", "confidence": 1.0}))
        tracker.update(ActionExecuted("action_listen"))
        asyncio.run(store.save(tracker))
        tracker = asyncio.run(store.retrieve("c6"))
    con = sqlite3.connect(tmp_path / "t.db")
    stored = con.execute("select type_name, action_name from events where sender_id=? order by id", (store.stored_id("c6"),)).fetchall()
    assert len(stored) == 6 + 3 * 2, stored
    assert store.cache_hits == 3  # every read after the first turn came from memory
    assert [e.as_dict()["event"] for e in tracker.events] == [t for t, _ in stored][1:]


def test_saving_a_cached_tracker_needs_no_count_query(tmp_path):
    from rasa.shared.core.events import ActionExecuted, UserUttered

    store = _cached_store(tmp_path)
    asyncio.run(store.save(_tracker("c7", ["你好"])))
    tracker = asyncio.run(store.retrieve("c7"))
    store._additional_events = lambda *a: pytest.fail("counted the stored events again")
    tracker.update(UserUttered("欠了12000", {"name": "inform", "confidence": 1.0}))
    tracker.update(ActionExecuted("action_listen"))
    asyncio.run(store.save(tracker))
    assert asyncio.run(store.retrieve("c7")) is tracker and store.cache_hits == 2
    con = sqlite3.connect(tmp_path / "t.db")
    texts = [r[0] for r in con.execute("select data from events where sender_id=? and type_name='user'", (store.stored_id("c7"),))]
    assert len(texts) == 2 and "12000" in texts[1]


def test_sqlite_store_runs_in_wal_mode_with_pooled_connections(tmp_path):
    store = _store(tmp_path)
    asyncio.run(store.save(_tracker("c8", ["你好"])))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert type(store.engine.pool).__name__ == "QueuePool"


def test_sender_ids_are_stored_pseudonymised(tmp_path):
    from bot.tracker_store import STORED_FORM

    store = _cached_store(tmp_path)
    phone_sender = "13812345678"  # a REST client may well use a phone number as its sender id
    asyncio.run(store.save(_tracker(phone_sender, ["你好"])))
    con = sqlite3.connect(tmp_path / "t.db")
    ids = {r[0] for r in con.execute("select distinct sender_id from events")}
    assert ids == {store.stored_id(phone_sender)} and all(STORED_FORM.match(i) for i in ids)
    assert phone_sender.encode() not in (tmp_path / "t.db").read_bytes()
    assert oct((tmp_path / "sender-key").stat().st_mode & 0o777) == "0o600"
    store.cache.drop()
    assert asyncio.run(store.retrieve(phone_sender)).sender_id == phone_sender
    assert asyncio.run(store.exists(phone_sender)) and phone_sender in asyncio.run(store.keys())
    other = _cached_store(tmp_path)  # another worker: same key file, same stored id
    assert other.stored_id(phone_sender) == store.stored_id(phone_sender)


def test_rows_written_in_clear_are_converted_at_start(tmp_path):
    store = _cached_store(tmp_path)
    asyncio.run(store.save(_tracker("legacy", ["你好"])))
    con = sqlite3.connect(tmp_path / "t.db")
    con.execute("update events set sender_id = 'legacy'")
    con.commit()
    again = _cached_store(tmp_path)
    assert {r[0] for r in con.execute("select distinct sender_id from events")} == {again.stored_id("legacy")}
    assert asyncio.run(again.retrieve("legacy")) is not None
