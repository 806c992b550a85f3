"""bench/wechat_probe.py must keep talking to the real WeChat channel: its requests are checked and
decrypted by the channel's own code, its reply reader accepts only proper encrypted text replies, and
its counting is checked end to end against the channel mounted in-process with a fake bot (no model)."""
from __future__ import annotations

import asyncio
from urllib.parse import parse_qs, urlsplit

import pytest
from test_wechat import AES_KEY, APP_ID, PATH, TOKEN, FakeBot, WeChatServer, make_app

from bench import wechat_probe as probe
from bench.run import CONVERSATION
from bot.channels import wechat_core as core
from bot.channels.wechat_core import Settings

OPENID = "oBenchProbe_01"


def channel_side(path: str, body: bytes):
    """What the channel does with a POST: signatures, decryption, parsing (its own wechatpy crypto)."""
    url = urlsplit(path)
    q = {k: v[0] for k, v in parse_qs(url.query).items()}
    core.check_signature(TOKEN, q["signature"], q["timestamp"], q["nonce"])
    [crypto] = core.make_cryptos(Settings(token=TOKEN, app_id=APP_ID, encoding_aes_key=AES_KEY))
    xml, used = core.decrypt(core.parse_xml(body), [crypto], TOKEN, q["msg_signature"], q["timestamp"], q["nonce"])
    return url.path, q, core.parse_message(xml), used


def test_request_and_reply_round_trip_with_the_channels_crypto():
    server = WeChatServer(TOKEN, AES_KEY, APP_ID)
    path, body, nonce = probe.build(server, OPENID, "催收打给我妈了怎么办")
    route, q, msg, crypto = channel_side(path, body)
    assert route == PATH == "/webhooks/wechat/webhook"
    assert q["encrypt_type"] == "aes" and q["openid"] == OPENID and q["nonce"] == nonce
    assert "催收".encode() not in body  # safe mode: nothing in clear text
    assert msg.type == "text" and msg.source == OPENID and msg.content == "催收打给我妈了怎么办"

    reply = core.render_text_reply("别慌，我们一步一步来。", msg, crypto, nonce, q["timestamp"])
    assert probe.read_text(server, 200, reply, OPENID, nonce) == "别慌，我们一步一步来。"

    # every other answer is an error, not a sample
    with pytest.raises(probe.ProbeError, match="success"):
        probe.read_text(server, 200, "success", OPENID, nonce)
    with pytest.raises(probe.ProbeError, match="HTTP 403"):
        probe.read_text(server, 403, "forbidden", OPENID, nonce)
    with pytest.raises(probe.ProbeError, match="another user"):
        probe.read_text(server, 200, reply, "oSomeoneElse", nonce)
    with pytest.raises(probe.ProbeError, match="bad reply"):
        probe.read_text(server, 200, reply, OPENID, "1")  # not the nonce of this request
    with pytest.raises(probe.ProbeError, match="bad reply"):
        probe.read_text(WeChatServer(TOKEN, AES_KEY, "wxOtherApp"), 200, reply, OPENID, nonce)
    empty = core.render_text_reply("   ", msg, crypto, nonce, q["timestamp"])
    with pytest.raises(probe.ProbeError, match="empty"):
        probe.read_text(server, 200, empty, OPENID, nonce)


async def test_drive_counts_replies_and_errors_through_the_channel(monkeypatch):
    """drive() against the channel's real route (in-process, a fake bot that fails on one line)."""
    failing = CONVERSATION[3]
    bot = FakeBot(lambda text: [] if text == failing else [{"text": f"收到：{text}"}])
    app, _ = make_app(bot)  # same token / AppID / key as BotServers sets
    loop = asyncio.get_running_loop()
    seen = []

    def post(base_url, path, body, timeout=probe.TIMEOUT_S):
        async def go():
            _, resp = await app.asgi_client.post(path, content=body, headers={"Content-Type": "text/xml"})
            return resp.status, resp.text
        status, text = asyncio.run_coroutine_threadsafe(go(), loop).result(timeout)
        seen.append(status)
        return status, text

    monkeypatch.setattr(probe, "post", post)
    server = WeChatServer(TOKEN, AES_KEY, APP_ID)
    result = await asyncio.to_thread(probe.drive, "", server, 2)

    assert set(seen) == {200}
    assert len(bot.calls) == len(probe.WARMUP) + 2 * len(CONVERSATION)
    senders = {m.sender_id for m in bot.calls[len(probe.WARMUP):]}
    assert len(senders) == 2  # one openid per user
    assert [m.text for m in bot.calls[-len(CONVERSATION):]] == CONVERSATION
    assert result["errors"] == 2 and result["error_kinds"] == {"apology": 2}  # the empty answer became the apology
    assert result["n"] == 2 * (len(CONVERSATION) - 1) and result["users"] == 2 and result["late"] == 0
    assert 0 < result["p50_ms"] <= result["p95_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert result["mode"] == "safe (AES)"
