"""WeChat safe-mode callback latency (issue 9 item 6), for `make bench` (bench/run.py --only wechat).

Starts the real bot as the tests do (``BotServers``: Rasa + action server, WeChat channel in safe
mode) and plays WeChat's servers against it over HTTP: each user turn of ``bench.run.CONVERSATION``
is POSTed, AES-encrypted and signed, to /webhooks/wechat/webhook; the encrypted passive reply is
checked (MsgSignature, AppID, addressed to the sender) and decrypted. Latency is the time from the
POST to the last byte of the reply, as WeChat's servers see it.

The WeChat side is the independent client of tests/test_wechat.py (``WeChatServer``: hashlib and
``cryptography``, not the channel's wechatpy), so a bug in the channel's crypto shows up as errors
here instead of cancelling out.

Run alone: ``python bench/wechat_probe.py [MODEL]`` prints the result as JSON.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
for _p in (str(ROOT / "tests"), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from bench.run import CONVERSATION, pct  # noqa: E402  (bench.run only runs main() as __main__)
from conftest import BotServers  # noqa: E402
from test_wechat import PATH, WeChatServer  # noqa: E402

from xieshang.content import load  # noqa: E402

USERS = 5
WARMUP = ("你好", "借呗逾期了", "谢谢", "你好", "压力好大")
TIMEOUT_S = 30.0


class ProbeError(Exception):
    """A callback that did not come back as a proper encrypted, non-empty text reply."""


def build(server: WeChatServer, openid: str, text: str) -> Tuple[str, bytes, str]:
    """(path?query, body, nonce) of one encrypted text message from ``openid``, as WeChat posts it."""
    nonce = server.nonce()
    path, body = server.request(server.text_xml(text, server.next_id(), openid=openid), nonce=nonce,
                                openid=openid)
    return path, body, nonce


def read_text(server: WeChatServer, status: int, body: str, openid: str, nonce: str) -> str:
    """The text of an encrypted passive reply to ``openid``; ProbeError for anything else."""
    if status != 200:
        raise ProbeError(f"HTTP {status}")
    if "<Encrypt>" not in body:
        raise ProbeError("no encrypted reply" if body.strip() != "success" else "'success' instead of a reply")
    try:
        reply = server.read_reply(body, nonce=nonce)  # checks MsgSignature, nonce and AppID
    except Exception as e:
        raise ProbeError(f"bad reply: {type(e).__name__}") from None
    if reply.get("MsgType") != "text":
        raise ProbeError(f"MsgType {reply.get('MsgType')!r}")
    if reply.get("ToUserName") != openid:
        raise ProbeError("reply addressed to another user")
    content = (reply.get("Content") or "").strip()
    if not content:
        raise ProbeError("empty Content")
    return content


def post(base_url: str, path: str, body: bytes, timeout: float = TIMEOUT_S) -> Tuple[int, str]:
    req = urllib.request.Request(base_url + path, data=body, headers={"Content-Type": "text/xml"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read().decode("utf-8")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", errors="replace")


def turn(base_url: str, server: WeChatServer, openid: str, text: str) -> Tuple[float, str]:
    """One user message through the webhook: (milliseconds, reply text)."""
    path, body, nonce = build(server, openid, text)
    started = time.perf_counter()
    status, answer = post(base_url, path, body)
    ms = (time.perf_counter() - started) * 1000
    return ms, read_text(server, status, answer, openid, nonce)


def safe_mode_on(base_url: str) -> bool:
    with urllib.request.urlopen(base_url + PATH.rsplit("/", 1)[0] + "/", timeout=10) as resp:
        return json.loads(resp.read()).get("mode") == "safe"


def drive(base_url: str, server: WeChatServer, users: int = USERS) -> Dict:
    """Warm up, then ``users`` users one after the other, each walking through CONVERSATION."""
    texts = load("wechat")
    run = os.urandom(3).hex()
    for text in WARMUP:  # not counted; a broken bot shows up as errors below
        try:
            turn(base_url, server, f"oBenchWarm{run}", text)
        except Exception:
            pass
    lat: List[float] = []
    errors: Counter = Counter()
    late = 0
    for u in range(users):
        openid = f"oBench{run}_{u:02d}"
        for text in CONVERSATION:
            try:
                ms, content = turn(base_url, server, openid, text)
            except ProbeError as e:
                errors[str(e)] += 1
                continue
            except Exception as e:  # timeout, connection refused ...
                errors[type(e).__name__] += 1
                continue
            if content == texts["apology"]:  # the bot or the action server failed
                errors["apology"] += 1
                continue
            late += content == texts["pending"]  # not done within WeChat's 5 s: "reply 继续"
            lat.append(ms)
    return {
        "n": len(lat), "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95), "p99_ms": pct(lat, 99),
        "max_ms": round(max(lat), 2) if lat else None,
        "errors": sum(errors.values()), "error_kinds": dict(errors), "late": late,
        "mode": "safe (AES)", "users": users, "warmup": len(WARMUP),
    }


def measure(model: Path, users: int = USERS) -> Dict:
    """Latency of the WeChat callback of the real bot (Rasa + action server) in safe mode."""
    work = Path(tempfile.mkdtemp(prefix="xieshang-wechat-bench-"))
    bot = BotServers(Path(model), work)
    try:
        bot.start()
        if not safe_mode_on(bot.url):
            raise RuntimeError("the WeChat channel is not in safe mode")
        env = bot.env
        server = WeChatServer(env["WECHAT_TOKEN"], env["WECHAT_ENCODING_AES_KEY"], env["WECHAT_APP_ID"])
        return drive(bot.url, server, users)
    finally:
        bot.stop()
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    if len(sys.argv) > 1:
        model = Path(sys.argv[1])
    else:
        model = Path(subprocess.check_output([sys.executable, str(ROOT / "scripts/train.py"), "--path"],
                                             text=True).strip())
    if not model.exists():
        print("没有模型，请先运行 make train。", file=sys.stderr)
        return 1
    print(json.dumps(measure(model), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
