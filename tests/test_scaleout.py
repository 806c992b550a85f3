"""Scale-out profile (bot/endpoints-scaled.yml): Rasa replicas sharing PostgreSQL and Redis.

Two replicas and one action server are started directly (nginx is not needed to show that any
replica can carry on any conversation). PostgreSQL and Redis are the local ones (started by
scripts/run_scaled.sh --services when installed but stopped); each run uses a fresh database and a
fresh Redis key prefix, removed afterwards.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

import pytest

from conftest import BASE_ENV, ROOT, VENV_BIN, free_port, say, texts, wait_http
from xieshang.guard import APOLOGY

pytestmark = [pytest.mark.e2e, pytest.mark.rasa]

PG = {"host": "127.0.0.1", "port": "5432", "user": "postgres", "login_db": "postgres"}
REDIS = {"host": "127.0.0.1", "port": "6379", "db": "1"}


def services_problem(workdir: Path) -> str:
    """'' when PostgreSQL and Redis answer on localhost, else why not."""
    subprocess.run(["bash", str(ROOT / "scripts/run_scaled.sh"), "--services"], cwd=ROOT,
                   env=dict(os.environ, XIESHANG_VAR=str(workdir)), capture_output=True, timeout=120)
    try:
        import psycopg2

        psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=PG["login_db"], connect_timeout=3).close()
    except Exception as e:  # noqa: BLE001
        return f"PostgreSQL is not reachable on {PG['host']}:{PG['port']} ({type(e).__name__})"
    try:
        import redis

        redis.Redis(host=REDIS["host"], port=int(REDIS["port"]), socket_timeout=3).ping()
    except Exception as e:  # noqa: BLE001
        return f"Redis is not reachable on {REDIS['host']}:{REDIS['port']} ({type(e).__name__})"
    return ""


def pg_admin(sql: str) -> None:
    import psycopg2

    conn = psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=PG["login_db"])
    conn.autocommit = True
    try:
        conn.cursor().execute(sql)
    finally:
        conn.close()


class Cluster:
    """An action server and Rasa replicas on bot/endpoints-scaled.yml, as scripts/run_scaled.sh runs them."""

    def __init__(self, model: Path, workdir: Path, replicas: int = 2) -> None:
        self.model = model
        self.workdir = workdir
        self.db = f"xieshang_test_{uuid.uuid4().hex[:10]}"
        self.prefix = "xstest" + uuid.uuid4().hex[:8]
        self.token = "test-token-" + uuid.uuid4().hex[:12]
        self.actions_port = free_port()
        self.ports = [free_port() for _ in range(replicas)]
        self.procs: Dict[str, subprocess.Popen] = {}
        self.env = dict(
            os.environ, **BASE_ENV,
            ACTIONS_PORT=str(self.actions_port), XIESHANG_VAR=str(workdir), RASA_AUTH_TOKEN=self.token,
            XIESHANG_PG_HOST=PG["host"], XIESHANG_PG_PORT=PG["port"], XIESHANG_PG_DB=self.db,
            XIESHANG_PG_USER=PG["user"], XIESHANG_PG_PASSWORD="", XIESHANG_PG_LOGIN_DB=PG["login_db"],
            XIESHANG_REDIS_HOST=REDIS["host"], XIESHANG_REDIS_PORT=REDIS["port"], XIESHANG_REDIS_DB=REDIS["db"],
            XIESHANG_REDIS_PASSWORD="", XIESHANG_REDIS_PREFIX=self.prefix,
        )

    def url(self, replica: int) -> str:
        return f"http://127.0.0.1:{self.ports[replica]}"

    def start_actions(self) -> None:
        log = open(self.workdir / "actions.log", "ab")
        self.procs["actions"] = subprocess.Popen(
            [str(VENV_BIN / "python"), "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.actions_port)],
            cwd=ROOT, env=dict(self.env, SANIC_HOST="127.0.0.1"), stdout=log, stderr=subprocess.STDOUT,
        )
        wait_http(f"http://127.0.0.1:{self.actions_port}/health", proc=self.procs["actions"])

    def start_replica(self, i: int) -> None:
        log = open(self.workdir / f"rasa-{i}.log", "ab")
        self.procs[f"rasa{i}"] = subprocess.Popen(
            [sys.executable, "-m", "bot.serve", "run", "--model", str(self.model),
             "--endpoints", "bot/endpoints-scaled.yml", "--credentials", "bot/credentials.yml",
             "-i", "127.0.0.1", "--port", str(self.ports[i]), "--enable-api", "--auth-token", self.token],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        wait_http(self.url(i) + "/", proc=self.procs[f"rasa{i}"])

    def kill_replica(self, i: int) -> None:
        proc = self.procs.pop(f"rasa{i}")
        proc.kill()  # no clean shutdown: as if the machine died
        proc.wait(20)

    def start(self) -> "Cluster":
        pg_admin(f"CREATE DATABASE {self.db}")
        self.start_actions()
        for i in range(len(self.ports)):
            self.start_replica(i)
        return self

    def stop(self) -> None:
        for name, proc in list(self.procs.items()):
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        self.procs.clear()
        try:
            pg_admin(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")
        except Exception:  # noqa: BLE001
            pass
        try:
            import redis

            r = redis.Redis(host=REDIS["host"], port=int(REDIS["port"]), db=int(REDIS["db"]))
            for key in r.scan_iter(f"{self.prefix}:*"):
                r.delete(key)
        except Exception:  # noqa: BLE001
            pass

    def say(self, replica: int, sender: str, message: str) -> List[dict]:
        return say(self.url(replica), sender, message, timeout=180)

    def tracker(self, replica: int, sender: str) -> dict:
        url = f"{self.url(replica)}/conversations/{sender}/tracker?token={self.token}"
        with urllib.request.urlopen(url, timeout=60) as resp:
            return json.loads(resp.read())

    def query(self, sql: str, *args) -> list:
        import psycopg2

        conn = psycopg2.connect(host=PG["host"], port=PG["port"], user=PG["user"], dbname=self.db)
        try:
            cur = conn.cursor()
            cur.execute(sql, args)
            return cur.fetchall()
        finally:
            conn.close()


@pytest.fixture(scope="module")
def cluster(model_path):
    workdir = Path(tempfile.mkdtemp(prefix="xieshang-scaled-"))
    problem = services_problem(workdir)
    if problem:
        shutil.rmtree(workdir, ignore_errors=True)
        pytest.skip(f"scale-out test needs PostgreSQL and Redis on localhost: {problem}")
    c = Cluster(model_path, workdir)
    try:
        c.start()
        yield c
    finally:
        c.stop()
        shutil.rmtree(workdir, ignore_errors=True)


CONVERSATION = ["我借呗欠了两万三，逾期三个月了，实在还不上", "2000", "失业了", "三个月后能找到工作"]


def plain_slots(tracker: dict) -> dict:
    return {k: v for k, v in tracker["slots"].items() if k != "session_started_metadata"}


def test_conversation_alternating_between_replicas_keeps_its_slots(cluster):
    # the same conversation on one replica only, for comparison
    expected = [texts(cluster.say(0, "one-replica", m)) for m in CONVERSATION]
    got = [texts(cluster.say(i % 2, "alternating", m)) for i, m in enumerate(CONVERSATION)]
    assert got == expected
    assert all(APOLOGY not in t for t in got)
    slots = plain_slots(cluster.tracker(1, "alternating"))
    assert slots["platform"] == "借呗" and slots["amount"] == 23000
    assert slots == plain_slots(cluster.tracker(0, "one-replica"))
    assert slots == plain_slots(cluster.tracker(0, "alternating"))


def test_twenty_users_ten_messages_each_stored_exactly_once(cluster):
    messages = ["你好", "我借呗逾期了，还不上", "2000", "失业了", "三个月后", "催收说要爆我通讯录",
                "这样催收合法吗", "怎么留证据", "谢谢", "再见"]
    users = [f"load-{n:02d}-{uuid.uuid4().hex[:6]}" for n in range(20)]

    def talk(n_user):
        n, user = n_user
        bot_replies = 0
        for j, message in enumerate(messages):
            replies = cluster.say((n + j) % 2, user, message)
            assert replies and all(r.get("text") != APOLOGY for r in replies), replies
            bot_replies += len(replies)
        return user, bot_replies

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = dict(pool.map(talk, enumerate(users)))

    from bot.tracker_store import sender_key, stored_sender_id

    key = sender_key(cluster.workdir)  # both replicas use this key: sender ids are stored pseudonymised
    stored = {stored_sender_id(user, key): user for user in users}
    rows = cluster.query("SELECT sender_id, type_name, count(*) FROM events GROUP BY sender_id, type_name")
    assert not any(s.startswith("load-") for s, _, _ in rows)
    counts = {(stored[s], t): c for s, t, c in rows if s in stored}
    for user in users:
        assert counts.get((user, "user")) == len(messages), user
    # Every user had the same conversation, so every user has the same number of stored bot events
    # (REST splits one stored text at blank lines into several replies, so replies are not events).
    assert len({counts.get((user, "bot")) for user in users}) == 1, counts
    assert len({results[user] for user in users}) == 1, results
    duplicates = cluster.query(
        "SELECT count(*) FROM (SELECT sender_id, type_name, timestamp, data FROM events "
        "GROUP BY sender_id, type_name, timestamp, data HAVING count(*) > 1) d"
    )
    assert duplicates == [(0,)]


def test_replica_killed_mid_conversation_the_other_carries_on(cluster):
    expected = [texts(cluster.say(1, "control", m)) for m in CONVERSATION]
    first = texts(cluster.say(0, "survivor", CONVERSATION[0]))
    assert first == expected[0]
    cluster.kill_replica(0)
    rest = [texts(cluster.say(1, "survivor", m)) for m in CONVERSATION[1:]]
    assert rest == expected[1:]
    slots = plain_slots(cluster.tracker(1, "survivor"))
    assert slots["platform"] == "借呗" and slots["amount"] == 23000
    assert slots == plain_slots(cluster.tracker(1, "control"))


def test_nginx_configuration(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not nginx:
        pytest.skip("nginx is not installed (scripts/run_scaled.sh installs it on first use)")
    out = subprocess.run(["bash", str(ROOT / "scripts/run_scaled.sh"), "--nginx-config"], cwd=ROOT,
                         env=dict(os.environ, XIESHANG_VAR=str(tmp_path), BOT_PORT="6100"),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr  # includes `nginx -t`
    conf = (tmp_path / "nginx" / "nginx.conf").read_text()
    assert "listen 127.0.0.1:6100;" in conf
    assert "server 127.0.0.1:6101" in conf and "server 127.0.0.1:6102" in conf
    sticky = conf[conf.index("upstream rasa_sticky"):]
    assert "ip_hash;" in sticky[: sticky.index("}")]
    assert "location /socket.io/" in conf and "proxy_pass http://rasa_sticky;" in conf
    assert "access_log off;" in conf
    assert "0.0.0.0" not in conf
