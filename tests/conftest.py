"""Shared fixtures. The model is trained once per run (make test trains before pytest starts) and
shared by every test through session-scoped fixtures; servers are started once per session."""
from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, Iterator

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
BASE_ENV = {
    "PYTHONPATH": str(ROOT),
    "RASA_TELEMETRY_ENABLED": "false",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "PYTHONWARNINGS": "ignore",
}
os.environ.update(BASE_ENV)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def model_path() -> Path:
    path = Path(subprocess.check_output([sys.executable, str(ROOT / "scripts/train.py"), "--path"], text=True).strip())
    if not path.exists():
        subprocess.run([sys.executable, str(ROOT / "scripts/train.py")], check=True, cwd=ROOT)
    return path


@pytest.fixture(scope="session")
def agent(model_path):
    from rasa.core.agent import Agent

    return Agent.load(str(model_path))


@pytest.fixture(scope="session")
def parse(agent):
    """parse(text) -> Rasa's parse result, with the trained model, no server."""
    loop = asyncio.new_event_loop()

    def _parse(text: str) -> Dict:
        return loop.run_until_complete(agent.parse_message(text))

    yield _parse
    loop.close()


def wait_http(url: str, timeout: float = 180.0, proc: subprocess.Popen = None) -> None:
    import urllib.error
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except Exception:
            time.sleep(0.3)
    raise TimeoutError(url)


def say(url: str, sender: str, message: str, timeout: float = 30) -> list:
    """One message to the REST channel at ``url``; the bot's replies."""
    import json
    import urllib.request

    req = urllib.request.Request(
        url + "/webhooks/rest/webhook",
        data=json.dumps({"sender": sender, "message": message}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        assert resp.status == 200
        return json.loads(resp.read())


class BotServers:
    """The Rasa server and the action server, started like `make run` does, on free ports."""

    def __init__(self, model: Path, workdir: Path) -> None:
        self.model = model
        self.workdir = workdir
        self.bot_port = free_port()
        self.actions_port = free_port()
        self.token = "test-token-" + os.urandom(6).hex()
        self.db = workdir / "tracker.db"
        self.log_dir = workdir
        self.procs: Dict[str, subprocess.Popen] = {}
        self.env = dict(
            os.environ,
            **BASE_ENV,
            BOT_PORT=str(self.bot_port),
            ACTIONS_PORT=str(self.actions_port),
            XIESHANG_DB=str(self.db),
            XIESHANG_VAR=str(workdir),
            RASA_AUTH_TOKEN=self.token,
            # the WeChat channel in safe mode (tests/test_wechat.py plays WeChat's servers)
            WECHAT_TOKEN="xieshangtest",
            WECHAT_APP_ID="wx0123456789abcdef",
            WECHAT_ENCODING_AES_KEY="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        )
        self.env.pop("WECHAT_APP_SECRET", None)  # passive replies only: no call to WeChat's API

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.bot_port}"

    def start_actions(self) -> None:
        log = open(self.log_dir / "actions.log", "ab")
        self.procs["actions"] = subprocess.Popen(
            [sys.executable, "-m", "rasa_sdk", "--actions", "actions", "--port", str(self.actions_port)],
            cwd=ROOT, env=dict(self.env, SANIC_HOST="127.0.0.1"), stdout=log, stderr=subprocess.STDOUT,
        )
        wait_http(f"http://127.0.0.1:{self.actions_port}/health", proc=self.procs["actions"])

    def stop_actions(self) -> None:
        proc = self.procs.pop("actions", None)
        if proc:
            proc.terminate()
            proc.wait(20)

    def start_bot(self) -> None:
        log = open(self.log_dir / "rasa.log", "ab")
        self.procs["rasa"] = subprocess.Popen(
            [sys.executable, "-m", "bot.serve", "run", "--model", str(self.model),
             "--endpoints", "bot/endpoints.yml", "--credentials", "bot/credentials.yml",
             "-i", "127.0.0.1", "--port", str(self.bot_port),
             "--enable-api", "--auth-token", self.token],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        wait_http(self.url + "/", proc=self.procs["rasa"])

    def stop_bot(self) -> None:
        proc = self.procs.pop("rasa", None)
        if proc:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    def start(self) -> "BotServers":
        self.start_actions()
        self.start_bot()
        return self

    def stop(self) -> None:
        self.stop_bot()
        self.stop_actions()

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.log_dir.glob("*.log")))

    def say(self, sender: str, message: str, timeout: float = 30):
        return say(self.url, sender, message, timeout)


@pytest.fixture(scope="session")
def servers(model_path) -> Iterator[BotServers]:
    workdir = Path(tempfile.mkdtemp(prefix="xieshang-e2e-"))
    bot = BotServers(model_path, workdir)
    try:
        bot.start()
        yield bot
    finally:
        bot.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def texts(replies) -> str:
    """All text a channel would show for a list of REST replies (documents included)."""
    out = []
    for r in replies:
        if r.get("text"):
            out.append(r["text"])
        for b in r.get("buttons") or []:
            out.append(b.get("title", ""))
        custom = r.get("custom")
        if isinstance(custom, dict):
            out.append(str(custom.get("title", "")))
            out.append(str(custom.get("text", "")))
    return "\n".join(out)
