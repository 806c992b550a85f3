"""bot/lock_store.py: Rasa's ticket locks shared through SQLite by several worker processes."""
from __future__ import annotations

import asyncio
import multiprocessing
import os
import time
import sqlite3
from pathlib import Path

import pytest

from bot.lock_store import SQLiteLockStore
from conftest import BotServers, say


def test_tickets_are_served_in_order_across_stores(tmp_path):
    a = SQLiteLockStore(db=str(tmp_path / "locks"))
    b = SQLiteLockStore(db=str(tmp_path / "locks"))  # a second worker process, same file
    t1 = a.issue_ticket("u1")
    t2 = b.issue_ticket("u1")
    assert (t1, t2) == (0, 1)
    assert not a.get_lock("u1").is_locked(t1) and b.get_lock("u1").is_locked(t2)
    a.cleanup("u1", t1)
    assert not b.get_lock("u1").is_locked(t2)  # now it is the second worker's turn
    b.cleanup("u1", t2)
    assert a.get_lock("u1") is None  # nobody waits: the lock is gone
    assert b.issue_ticket("u2") == 0  # conversations are independent


def test_lock_context_waits_for_the_other_worker(tmp_path):
    a = SQLiteLockStore(db=str(tmp_path / "locks"))
    b = SQLiteLockStore(db=str(tmp_path / "locks"))
    order = []

    async def turn(store, name, hold):
        async with store.lock("u", wait_time_in_seconds=0.02):
            order.append(f"{name}+")
            await asyncio.sleep(hold)
            order.append(f"{name}-")

    async def main():
        first = asyncio.ensure_future(turn(a, "a", 0.2))
        await asyncio.sleep(0.05)
        await asyncio.gather(first, turn(b, "b", 0))

    asyncio.run(main())
    assert order == ["a+", "a-", "b+", "b-"]


def _issue(path: str, n: int, queue) -> None:
    store = SQLiteLockStore(db=path)
    queue.put([store.issue_ticket("same") for _ in range(n)])


def test_concurrent_processes_never_get_the_same_ticket(tmp_path):
    path = str(tmp_path / "locks")
    SQLiteLockStore(db=path)
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_issue, args=(path, 50, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    got = [t for _ in procs for t in queue.get(timeout=60)]
    for p in procs:
        p.join(10)
    assert sorted(got) == list(range(200))


def test_conversation_ids_are_not_stored_in_clear(tmp_path):
    store = SQLiteLockStore(db=str(tmp_path / "locks"))
    store.issue_ticket("13812345678")
    raw = Path(tmp_path / "locks").read_bytes()
    rows = sqlite3.connect(str(tmp_path / "locks")).execute("SELECT id, data FROM locks").fetchall()
    assert b"13812345678" not in raw and all("13812345678" not in r[0] + r[1] for r in rows)
    assert store.get_lock("13812345678").conversation_id == "13812345678"


def _listening_inodes(port: int) -> set:
    """Inodes of the TCP sockets listening on ``port`` (/proc/net/tcp: state 0A is LISTEN)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f[9])
    return inodes


def _socket_inodes(pid: int) -> set:
    out = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(target[8:-1])
    return out


def test_port_in_use_is_refused_before_the_workers_start():
    import socket

    from bot.workers import check_port_free, supported

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        with pytest.raises(OSError):
            check_port_free("127.0.0.1", port)
    check_port_free("127.0.0.1", port)  # free again
    assert supported({"host": "127.0.0.1", "port": port, "sock": None, "unix": None})
    assert not supported({"host": "127.0.0.1", "port": port, "sock": object(), "unix": None})
    assert not supported({"host": None, "port": None, "sock": None, "unix": "/tmp/x.sock"})


def test_two_sanic_workers_keep_every_conversation(model_path, tmp_path):
    """`XIESHANG_WORKERS=2 make run`: two Rasa processes share the store and the locks."""
    import json
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor

    servers = BotServers(model_path, tmp_path)
    servers.env["SANIC_WORKERS"] = "2"
    servers.start()
    try:
        def user(i: int):
            sender = f"workers-{i}"
            for text in ("借呗逾期了还不上", f"欠了{10000 + i}", "每个月能还2000"):
                assert say(servers.url, sender, text)
            url = f"{servers.url}/conversations/{sender}/tracker?token={servers.token}"
            return json.loads(urllib.request.urlopen(url).read())

        with ThreadPoolExecutor(8) as pool:
            trackers = list(pool.map(user, range(8)))
        workers = Path(f"/proc/{servers.procs['rasa'].pid}/task/{servers.procs['rasa'].pid}/children").read_text().split()
        assert len(workers) == 2, workers  # Rasa kept both workers (it falls back to one without a shared lock store)
        # each worker listens on its own SO_REUSEPORT socket (bot/workers.py), none on a shared one
        port = int(servers.url.rsplit(":", 1)[1])
        for _ in range(120):  # a worker binds its socket once its model is loaded
            listening = _listening_inodes(port)
            if len(listening) == 2:
                break
            time.sleep(0.25)
        assert len(listening) == 2, listening
        held = {pid: _socket_inodes(int(pid)) & listening for pid in workers}
        assert all(len(inodes) == 1 for inodes in held.values()), held
        assert len(set().union(*held.values())) == 2, held
        assert not _socket_inodes(servers.procs["rasa"].pid) & listening
        for i, tracker in enumerate(trackers):
            slots = tracker["slots"]
            assert slots["amount"] == 10000 + i and slots["monthly_payment"] == 2000, slots
            users = [e for e in tracker["events"] if e["event"] == "user"]
            assert len(users) == 3  # every message stored exactly once
    finally:
        servers.stop()
