"""The WeChat Official Account channel, driven by an independent WeChat client.

The client below plays WeChat's servers WITHOUT wechatpy: signatures with hashlib.sha1, safe mode
with AES-256-CBC from the ``cryptography`` package (PKCS#7 to 32 bytes, IV = key[:16], layout
random16 | length | xml | appid), XML with ElementTree. It is first checked against the official
test vectors, then it talks to the channel mounted in a Sanic test app with a fake bot (no model).
One e2e test at the end talks to the real Rasa server.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import re
import struct
import time
import xml.etree.ElementTree as ET
from typing import Any, Callable, Dict, List, Optional
from urllib.parse import urlencode

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from bot.channels import wechat_core as core
from bot.channels.wechat_core import Settings

PATH = "/webhooks/wechat/webhook"
TOKEN = "xieshangtest"
APP_ID = "wx0123456789abcdef"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OTHER_KEY = "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210abcdefg"
GH = "gh_0123456789ab"
OPENID = "oXsTest_openid-0001"
CJK = re.compile(r"[\u4e00-\u9fff]")


# --------------------------------------------------------------------------------------------------
# the independent client


def sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


class WeChatServer:
    """What WeChat's servers send to a developer's URL, and how they read the answer."""

    def __init__(self, token: str = TOKEN, aes_key: Optional[str] = None, app_id: str = APP_ID) -> None:
        self.token = token
        self.aes_key = aes_key
        self.app_id = app_id
        self._msg_id = 7_000_000_000_000_000_000 + int(time.time() * 1000) % 10**9
        self._nonce = 0

    # crypto ------------------------------------------------------------------------------------
    def _key(self, aes_key: Optional[str] = None) -> bytes:
        key = base64.b64decode((aes_key or self.aes_key) + "=")
        assert len(key) == 32
        return key

    def encrypt(self, plain: str, random16: Optional[bytes] = None, aes_key: Optional[str] = None,
                receive_id: Optional[str] = None) -> str:
        key = self._key(aes_key)
        msg = plain.encode("utf-8")
        data = (random16 or os.urandom(16)) + struct.pack(">I", len(msg)) + msg + (receive_id or self.app_id).encode()
        pad = 32 - len(data) % 32
        data += bytes([pad]) * pad
        enc = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
        return base64.b64encode(enc.update(data) + enc.finalize()).decode()

    def decrypt(self, encrypt: str, aes_key: Optional[str] = None) -> tuple:
        key = self._key(aes_key)
        raw = base64.b64decode(encrypt)
        assert len(raw) % 16 == 0
        dec = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
        data = dec.update(raw) + dec.finalize()
        pad = data[-1]
        assert 1 <= pad <= 32 and data[-pad:] == bytes([pad]) * pad, "bad PKCS#7 padding"
        data = data[16:-pad]
        (length,) = struct.unpack(">I", data[:4])
        return data[4:4 + length].decode("utf-8"), data[4 + length:].decode("utf-8")

    # messages ----------------------------------------------------------------------------------
    def next_id(self) -> int:
        self._msg_id += 1
        return self._msg_id

    def nonce(self) -> str:
        self._nonce += 1
        return f"{int(time.time())}{self._nonce:04d}"

    @staticmethod
    def text_xml(content: str, msg_id: int, openid: str = OPENID, create_time: Optional[int] = None) -> str:
        return (f"<xml><ToUserName>{cdata(GH)}</ToUserName><FromUserName>{cdata(openid)}</FromUserName>"
                f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
                f"<Content>{cdata(content)}</Content><MsgId>{msg_id}</MsgId></xml>")

    @staticmethod
    def other_xml(msg_type: str, fields: str, msg_id: Optional[int] = None, openid: str = OPENID,
                  create_time: Optional[int] = None) -> str:
        mid = f"<MsgId>{msg_id}</MsgId>" if msg_id else ""
        return (f"<xml><ToUserName>{cdata(GH)}</ToUserName><FromUserName>{cdata(openid)}</FromUserName>"
                f"<CreateTime>{create_time or int(time.time())}</CreateTime><MsgType>{cdata(msg_type)}</MsgType>"
                f"{fields}{mid}</xml>")

    def request(self, plain_xml: str, timestamp: Optional[str] = None, nonce: Optional[str] = None,
                encrypted: Optional[bool] = None, **tamper: Any) -> tuple:
        """(url, body) of a POST as WeChat sends it; ``tamper`` overrides query values."""
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or self.nonce()
        encrypted = bool(self.aes_key) if encrypted is None else encrypted
        query = {"signature": sha1_sorted(self.token, timestamp, nonce), "timestamp": timestamp,
                 "nonce": nonce, "openid": OPENID}
        if encrypted:
            encrypt = self.encrypt(plain_xml, aes_key=tamper.pop("aes_key", None))
            body = f"<xml><ToUserName>{cdata(GH)}</ToUserName><Encrypt>{cdata(encrypt)}</Encrypt></xml>"
            query.update(encrypt_type="aes", msg_signature=sha1_sorted(self.token, timestamp, nonce, encrypt))
        else:
            body = plain_xml
        query.update(tamper)
        return PATH + "?" + urlencode(query), body.encode("utf-8")

    def read_reply(self, body: str, nonce: Optional[str] = None) -> Dict[str, str]:
        """The fields of a passive reply; an encrypted one is checked and decrypted first."""
        root = ET.fromstring(body)
        if root.find("Encrypt") is not None:
            encrypt = root.findtext("Encrypt")
            ts, rnonce = root.findtext("TimeStamp"), root.findtext("Nonce")
            assert root.findtext("MsgSignature") == sha1_sorted(self.token, ts, rnonce, encrypt), "bad MsgSignature"
            if nonce is not None:
                assert rnonce == nonce
            plain, receive_id = self.decrypt(encrypt)
            assert receive_id == self.app_id
            root = ET.fromstring(plain)
            out = {child.tag: (child.text or "") for child in root}
            out["_encrypted"] = "1"
            return out
        return {child.tag: (child.text or "") for child in root}


# --------------------------------------------------------------------------------------------------
# the client itself, against the official vectors (knowledge/wechat-protocol.md §3.8)

OA_SAMPLE_BODY = (
    "<xml><ToUserName><![CDATA[gh_10f6c3c3ac5a]]></ToUserName><FromUserName><![CDATA[oyORnuP8q7ou2gfYjqLzSIWZf0rs]]>"
    "</FromUserName><CreateTime>1409735668</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[abcdteT]]>"
    "</Content><MsgId>6054768590064713728</MsgId><Encrypt><![CDATA[hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655"
    "HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDW"
    "yWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X"
    "8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCu"
    "mEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE=]]></Encrypt></xml>"
)
OA_SAMPLE = dict(token="spamtest", key="abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", appid="wx2c2769f8efd9abc2",
                 timestamp="1409735669", nonce="1320562132", msg_signature="5d197aaffba7e9b25a30732f161a50dee96bd5fa")
WECOM_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
WECOM_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvuJTs"
    "3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwGc2hgf5gs"
    "ijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5"
    "wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZ"
    "ZIs2pDBS8R07+qN+E7Q=="
)
WECHATPY_REPLY = """<xml>
<MsgType><![CDATA[text]]></MsgType>
<Content><![CDATA[test]]></Content>
<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>
<ToUserName><![CDATA[messense]]></ToUserName>
<AgentID>1</AgentID>
<CreateTime>1411525903</CreateTime>
</xml>"""
WECHATPY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNcBqGsL8GqxlhZgURnAtObvesEl"
    "5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03"
    "oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsVbwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxE"
    "E8kv3kFxtAGVRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
)


def test_client_signature_vectors():
    assert sha1_sorted("AAAAA", "1714037059", "486452656") == "899cf89e464efb63f54ddac96b0a0a235f53aa78"
    assert sha1_sorted("test", "1410685589", "test") == "f21891de399b4e33a1a93c9a7b8a8fffb5a443ff"


def test_client_decrypts_official_account_sample():
    s = OA_SAMPLE
    client = WeChatServer(s["token"], s["key"], s["appid"])
    encrypt = ET.fromstring(OA_SAMPLE_BODY).findtext("Encrypt")
    assert sha1_sorted(s["token"], s["timestamp"], s["nonce"], encrypt) == s["msg_signature"]
    plain, appid = client.decrypt(encrypt)
    assert appid == s["appid"]
    msg = ET.fromstring(plain)
    assert msg.findtext("Content") == "abcdteT"
    assert msg.findtext("FromUserName") == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert msg.findtext("MsgId") == "6054768590064713728"


def test_client_crypto_matches_wecom_vectors():
    # official WeCom samples: same AES scheme, the receive id is the CorpID
    client = WeChatServer("QDG6eK", WECOM_KEY, "wx5823bf96d3bd56c7")
    assert sha1_sorted("QDG6eK", "1409659813", "1372623149", WECOM_ENCRYPT) == "477715d11cdb4164915debcba66cb864d751f3e6"
    plain, corp = client.decrypt(WECOM_ENCRYPT)
    assert corp == "wx5823bf96d3bd56c7"
    assert ET.fromstring(plain).findtext("Content") == "hello"
    echo = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    assert client.decrypt(echo)[0] == "1616140317555161061"
    # wechatpy's deterministic encryption vector (random16 fixed): byte-for-byte the same
    client = WeChatServer("123456", "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR", "wx49f0ab532d5d035a")
    encrypt = client.encrypt(WECHATPY_REPLY, random16=b"1234567890123456")
    assert encrypt == WECHATPY_ENCRYPT
    assert sha1_sorted("123456", "1411525903", "461056294", encrypt) == "407518b7649e86ef23978113f92d27afa9296533"


@pytest.mark.parametrize("size", list(range(0, 70)))
def test_client_round_trip_all_paddings(size):
    client = WeChatServer(aes_key=AES_KEY)
    text = "x" * size
    assert client.decrypt(client.encrypt(text)) == (text, APP_ID)


# --------------------------------------------------------------------------------------------------
# pure logic (no Rasa, no HTTP)


def test_split_text_respects_bytes_and_boundaries():
    parts = core.split_text("你" * 1000, 2048)
    assert [len(p.encode()) for p in parts] == [2046, 954]
    text = ("第一段。" * 100 + "\n\n") + ("第二段，" * 300)
    parts = core.split_text(text, 2048)
    assert all(core.utf8_len(p) <= 2048 for p in parts)
    assert parts[0].endswith("第一段。")  # cut at the paragraph, not inside it
    assert "".join(parts).replace("\n", "") == text.replace("\n", "")
    mixed = "ab😀中" * 900
    assert "".join(core.split_text(mixed, 100)) == mixed
    assert all(core.utf8_len(p) <= 100 for p in core.split_text(mixed, 100))


def test_paginate_footers():
    texts = core._texts()
    pages = core.paginate("好" * 1900, 2048, texts)
    assert len(pages) == 3
    assert all(core.utf8_len(p) <= 2048 for p in pages)
    assert "还有2段" in pages[0] and "继续" in pages[0] and "还有1段" in pages[1]
    assert "继续" not in pages[-1]
    assert core.paginate("短", 2048, texts) == ["短"]
    assert core.paginate("", 2048, texts) == []


def test_compose_buttons_documents_and_markers():
    text, buttons = core.compose([
        {"recipient_id": "u", "text": "你好"},
        {"recipient_id": "u", "text": "现在最想解决哪件事？",
         "buttons": [{"title": "还不上了", "payload": "/cant_repay"}, {"title": "想投诉", "payload": "/want_complain"}]},
        {"recipient_id": "u", "custom": {"type": "document", "title": "协商话术", "text": "您好，我是……"}},
        {"recipient_id": "u", "custom": {"practice": "on"}},
    ])
    assert text.startswith("你好\n\n现在最想解决哪件事？")
    assert "1. 还不上了" in text and "2. 想投诉" in text and "1/2" in text
    assert "【协商话术】\n您好，我是……" in text
    assert "practice" not in text
    assert buttons == [("还不上了", "/cant_repay"), ("想投诉", "/want_complain")]


@pytest.mark.parametrize("typed,number", [("2", 2), ("２", 2), (" 2 ", 2), ("2.", 2), ("选2", 2), ("第二个", 2),
                                          ("三", 3), ("10", 10), ("我欠了2万", None), ("12345", None), ("", None)])
def test_choice_number(typed, number):
    assert core.choice_number(typed) == number


def test_button_memory_is_bounded_and_maps_back():
    mem = core.ButtonMemory(max_items=3)
    mem.remember("a", [("延期", "/want_extension"), ("分期", "/want_installment")])
    assert mem.resolve("a", "2") == "/want_installment"
    assert mem.resolve("a", "分期") == "/want_installment"
    assert mem.resolve("a", "3") is None and mem.resolve("b", "1") is None
    for user in "bcd":
        mem.remember(user, [("x", "/x")])
    assert len(mem) == 3 and mem.resolve("a", "1") is None  # the oldest user was dropped
    mem.remember("d", [])
    assert mem.resolve("d", "1") is None  # a reply without buttons forgets the old ones


def test_clean_user_text_blocks_intent_injection():
    assert core.clean_user_text('/restart{"x":1}') == 'restart{"x":1}'
    assert core.clean_user_text("  ／/你好 ") == "你好"
    assert core.clean_user_text("a\x00b") == "ab"


def test_xml_text_keeps_cdata_intact():
    reply = f"<xml><Content><![CDATA[{core.xml_text('危险]]><x>a</x>字符' + chr(1))}]]></Content></xml>"
    assert ET.fromstring(reply).findtext("Content") == "危险]]><x>a</x>字符"


def test_settings_from_env_and_credentials():
    env = {"WECHAT_TOKEN": "tok", "WECHAT_APP_ID": APP_ID, "WECHAT_ENCODING_AES_KEY": AES_KEY,
           "WECHAT_PASSIVE_TIMEOUT": "3.5", "WECHAT_MAX_AGE": "nonsense"}
    s = Settings.from_mapping(None, env)
    assert (s.token, s.app_id, s.encoding_aes_key, s.passive_timeout, s.max_age) == ("tok", APP_ID, AES_KEY, 3.5, 300)
    assert s.safe_mode and not s.api_enabled and s.problem() is None
    s = Settings.from_mapping({"token": "fromyaml", "app_secret": "sec"}, env)
    assert s.token == "fromyaml" and s.api_enabled
    assert "WECHAT_TOKEN" in Settings.from_mapping({}, {}).problem()
    assert "43" in Settings.from_mapping(None, {"WECHAT_TOKEN": "t", "WECHAT_ENCODING_AES_KEY": "short"}).problem()


async def test_inflight_returns_the_same_future():
    cache = core.InFlight(ttl=600, max_items=2)
    first, fut = cache.claim("id:1")
    again, fut2 = cache.claim("id:1")
    assert first and not again and fut is fut2
    fut.set_result(core.Outcome("答"))
    for i in range(2, 20):
        _, f = cache.claim(f"id:{i}")
        f.set_result(core.Outcome(None))
    assert len(cache) <= 3


# --------------------------------------------------------------------------------------------------
# the channel in a Sanic test app with a fake bot


class FakeBot:
    """Stands in for Rasa's agent.handle_message: records messages and sends scripted replies."""

    def __init__(self, replies: Optional[Callable[[str], List[Dict[str, Any]]]] = None, delay: float = 0.0,
                 fail: bool = False) -> None:
        self.replies = replies or (lambda text: [{"text": f"收到：{text}"}])
        self.delay = delay
        self.fail = fail
        self.calls: List[Any] = []

    @property
    def texts(self) -> List[str]:
        return [m.text for m in self.calls]

    async def __call__(self, message) -> None:
        self.calls.append(message)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("action server unreachable")
        for reply in self.replies(message.text):
            await message.output_channel.send_response(message.sender_id, dict(reply))


def make_app(bot: FakeBot, **settings: Any):
    from rasa.core.channels.channel import register
    from sanic import Sanic

    from bot.channels.wechat import WeChatInput

    values = dict(token=TOKEN, app_id=APP_ID, encoding_aes_key=AES_KEY, passive_timeout=2.0)
    values.update(settings)
    channel = WeChatInput(Settings(**values))
    app = Sanic(f"wechat_test_{time.time_ns()}")

    class Agent:  # what rasa.core.channels.channel.register calls
        handle_message = staticmethod(bot)

    app.ctx.agent = Agent()
    register([channel], app, route="/webhooks/")  # mounted exactly as `rasa run` mounts it
    return app, channel


async def post(app, url: str, body: bytes):
    _, resp = await app.asgi_client.post(url, content=body, headers={"Content-Type": "text/xml"})
    return resp


async def say(app, server: WeChatServer, text: str, msg_id: Optional[int] = None, **kw: Any) -> Dict[str, str]:
    url, body = server.request(server.text_xml(text, msg_id or server.next_id()), **kw)
    resp = await post(app, url, body)
    assert resp.status == 200, resp.text
    return server.read_reply(resp.text)


async def test_get_verification_official_vector():
    app, _ = make_app(FakeBot(), token="AAAAA", encoding_aes_key="", app_id="", max_age=0)
    q = "signature=899cf89e464efb63f54ddac96b0a0a235f53aa78&timestamp=1714037059&nonce=486452656&echostr=5837397749"
    _, resp = await app.asgi_client.get(f"{PATH}?{q}")
    assert resp.status == 200 and resp.text == "5837397749"
    _, resp = await app.asgi_client.get(f"{PATH}?{q.replace('486452656', '486452657')}")
    assert resp.status == 403
    _, resp = await app.asgi_client.get("/webhooks/wechat/")
    assert resp.status == 200 and resp.json["status"] == "ok"


async def test_get_verification_current_and_stale():
    app, _ = make_app(FakeBot())
    ts, nonce = str(int(time.time())), "12345"
    _, resp = await app.asgi_client.get(f"{PATH}?" + urlencode(
        {"signature": sha1_sorted(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "echostr": "abc123"}))
    assert resp.status == 200 and resp.text == "abc123"
    old = str(int(time.time()) - 3600)
    _, resp = await app.asgi_client.get(f"{PATH}?" + urlencode(
        {"signature": sha1_sorted(TOKEN, old, nonce), "timestamp": old, "nonce": nonce, "echostr": "abc123"}))
    assert resp.status == 403
    _, resp = await app.asgi_client.get(f"{PATH}?echostr=abc123")
    assert resp.status == 403


async def test_safe_mode_round_trip():
    bot = FakeBot(lambda text: [{"text": "别慌，我们一步一步来。"}, {"text": "先说说欠了哪个平台？"}])
    app, _ = make_app(bot)
    server = WeChatServer(aes_key=AES_KEY)
    url, body = server.request(server.text_xml("催收给我妈打电话了怎么办", 123456789), nonce="98765")
    resp = await post(app, url, body)
    assert resp.status == 200
    assert b"<Encrypt>" in resp.body and "别慌".encode() not in resp.body  # nothing in clear text
    reply = server.read_reply(resp.text, nonce="98765")
    assert reply["_encrypted"] and reply["MsgType"] == "text"
    assert reply["ToUserName"] == OPENID and reply["FromUserName"] == GH
    assert reply["Content"] == "别慌，我们一步一步来。\n\n先说说欠了哪个平台？"  # one passive reply, bubbles joined
    [message] = bot.calls
    assert message.text == "催收给我妈打电话了怎么办" and message.sender_id == OPENID
    assert message.input_channel == "wechat" and message.message_id == "id:123456789"


async def test_compatible_mode_official_sample():
    s = OA_SAMPLE
    bot = FakeBot()
    app, _ = make_app(bot, token=s["token"], encoding_aes_key=s["key"], app_id=s["appid"], max_age=0)
    server = WeChatServer(s["token"], s["key"], s["appid"])
    url = PATH + "?" + urlencode({"signature": sha1_sorted(s["token"], s["timestamp"], s["nonce"]),
                                  "timestamp": s["timestamp"], "nonce": s["nonce"], "encrypt_type": "aes",
                                  "msg_signature": s["msg_signature"]})
    resp = await post(app, url, OA_SAMPLE_BODY.encode())
    assert resp.status == 200
    assert server.read_reply(resp.text)["Content"] == "收到：abcdteT"
    assert bot.calls[0].sender_id == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"


async def test_plain_mode_and_cdata_in_reply():
    bot = FakeBot(lambda text: [{"text": "代码里的 ]]> 也要原样显示 <b>&</b>"}])
    app, _ = make_app(bot, encoding_aes_key="")
    server = WeChatServer()
    reply = await say(app, server, "你好")
    assert "_encrypted" not in reply
    assert reply["Content"] == "代码里的 ]]> 也要原样显示 <b>&</b>"
    assert reply["ToUserName"] == OPENID and bot.texts == ["你好"]


async def test_safe_mode_refuses_plain_messages():
    bot = FakeBot()
    app, _ = make_app(bot)
    server = WeChatServer(aes_key=AES_KEY)
    url, body = server.request(server.text_xml("你好", server.next_id()), encrypted=False)
    assert (await post(app, url, body)).status == 403
    assert bot.calls == []


async def test_forged_signatures_are_refused():
    bot = FakeBot()
    app, _ = make_app(bot)
    server = WeChatServer(aes_key=AES_KEY)
    xml = server.text_xml("你好", server.next_id())
    url, body = server.request(xml, signature="0" * 40)
    assert (await post(app, url, body)).status == 403
    url, body = server.request(xml, msg_signature="f" * 40)
    assert (await post(app, url, body)).status == 403
    forger = WeChatServer(token="wrongtoken", aes_key=AES_KEY)
    url, body = forger.request(xml)
    assert (await post(app, url, body)).status == 403
    # right token, wrong EncodingAESKey (msg_signature matches its own ciphertext): 403, not a 500
    url, body = server.request(xml, aes_key=OTHER_KEY)
    assert (await post(app, url, body)).status == 403
    # missing parameters
    assert (await post(app, PATH, body)).status == 403
    assert bot.calls == []
    assert (await say(app, server, "你好"))["Content"] == "收到：你好"  # still answering


async def test_stale_timestamp_is_refused():
    bot = FakeBot()
    app, _ = make_app(bot, max_age=300)
    server = WeChatServer(aes_key=AES_KEY)
    xml = server.text_xml("你好", server.next_id())
    for ts in (int(time.time()) - 301, int(time.time()) + 3600):
        url, body = server.request(xml, timestamp=str(ts))
        assert (await post(app, url, body)).status == 403
    assert bot.calls == []


XXE = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[oXsTest_openid-0001]]></FromUserName>
<CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>&xxe;</Content><MsgId>1</MsgId></xml>"""
BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + "".join(f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
                            for i in range(1, 10))
                  + ']><xml><ToUserName>gh_x</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>'
                  '<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>2</MsgId></xml>')
VALID = ("<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName><FromUserName><![CDATA[oXsTest_openid-0001]]>"
         "</FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content>{}</Content>"
         "<MsgId>{}</MsgId></xml>")
# well-formed messages a plain XML parser would accept: only the DTD/entity rule refuses them
DTD_ONLY = '<!DOCTYPE xml SYSTEM "http://127.0.0.1:1/evil.dtd">' + VALID.format("你好", 3)
INTERNAL_ENTITY = '<!DOCTYPE xml [<!ENTITY who "催收">]>' + VALID.format("&who;", 4)


@pytest.mark.parametrize("payload", [XXE, BILLION_LAUGHS, DTD_ONLY, INTERNAL_ENTITY],
                         ids=["xxe", "billion-laughs", "external-dtd", "internal-entity"])
async def test_xml_attacks_are_refused_fast(payload):
    bot = FakeBot()
    app, _ = make_app(bot, encoding_aes_key="")  # plain mode: the body itself is not signed
    server = WeChatServer()
    url, _ = server.request("<xml/>")
    started = time.monotonic()
    resp = await post(app, url, payload.encode())
    assert resp.status == 400
    assert time.monotonic() - started < 0.5
    assert "DTD or entities" in resp.text and "root:" not in resp.text and bot.calls == []
    # the same inside the encrypted envelope (safe mode)
    app2, _ = make_app(bot)
    server2 = WeChatServer(aes_key=AES_KEY)
    url, body = server2.request(payload)
    assert (await post(app2, url, body)).status == 400
    assert bot.calls == []
    assert (await say(app, server, "还在吗"))["Content"] == "收到：还在吗"


async def test_oversized_and_malformed_bodies():
    bot = FakeBot()
    app, _ = make_app(bot, encoding_aes_key="")
    server = WeChatServer()
    big = server.text_xml("大" * 40000, server.next_id())  # 120 KB
    url, body = server.request(big)
    assert (await post(app, url, body)).status == 413
    for junk in (b"", b"not xml", b"<html></html>", b"<xml></xml>", b"<xml><MsgType>text</MsgType></xml>"):
        url, _ = server.request("<xml/>")
        assert (await post(app, url, junk)).status == 400, junk
    assert bot.calls == []


async def test_buttons_become_numbers_and_a_number_chooses():
    def replies(text):
        if text == "你好":
            return [{"text": "现在最想解决哪件事？", "buttons": [
                {"title": "还不上了，想协商", "payload": "/cant_repay"},
                {"title": "怕爆通讯录", "payload": "/fear_contacts_blast"},
                {"title": "想投诉催收", "payload": "/want_complain"}]}]
        return [{"text": "好的"}]

    bot = FakeBot(replies)
    app, _ = make_app(bot)
    server = WeChatServer(aes_key=AES_KEY)
    content = (await say(app, server, "你好"))["Content"]
    assert "1. 还不上了，想协商\n2. 怕爆通讯录\n3. 想投诉催收" in content
    assert "回复数字 1/2/3" in content
    await say(app, server, "2")
    assert bot.texts[-1] == "/fear_contacts_blast"  # the payload, not "2"
    await say(app, server, "2")
    assert bot.texts[-1] == "2"  # the last reply had no buttons: a number is just text again
    await say(app, server, "你好")
    await say(app, server, "第三个")
    assert bot.texts[-1] == "/want_complain"
    await say(app, server, "/restart")
    assert bot.texts[-1] == "restart"  # typed slash commands do not reach Rasa as intents


async def test_long_answer_is_split_and_continued():
    long_text = "".join(f"第{i}条：遇到催收先别慌，记下时间、号码和说的话，留好录音和截图。\n" for i in range(1, 80))
    bot = FakeBot(lambda text: [{"text": long_text}] if text == "怎么留证据" else [{"text": "嗯"}])
    app, _ = make_app(bot)
    server = WeChatServer(aes_key=AES_KEY)
    pages = [(await say(app, server, "怎么留证据"))["Content"]]
    while "继续" in pages[-1]:
        pages.append((await say(app, server, "继续"))["Content"])
        assert len(pages) < 20
    assert len(pages) >= 3
    assert all(len(p.encode()) <= 2048 for p in pages)
    body = "\n".join(re.sub(r"\n*（还有\d+段，回复“继续”查看下一段）$", "", p) for p in pages)
    assert body.split() == long_text.split()
    assert bot.texts == ["怎么留证据"]  # pages come from memory, the bot ran once
    await say(app, server, "继续")
    assert bot.texts == ["怎么留证据", "继续"]  # nothing left: "继续" is ordinary text again


async def test_voice_image_and_events():
    bot = FakeBot(lambda text: [{"text": "你好，我是协商助手。"}] if text == "/greet" else [{"text": f"收到：{text}"}])
    app, _ = make_app(bot)
    server = WeChatServer(aes_key=AES_KEY)

    async def send(xml):
        url, body = server.request(xml)
        resp = await post(app, url, body)
        assert resp.status == 200
        return resp.text if resp.text == "success" else server.read_reply(resp.text)["Content"]

    voice = server.other_xml("voice", "<MediaId>m1</MediaId><Format>amr</Format>"
                                      "<Recognition><![CDATA[催收天天打电话]]></Recognition>", server.next_id())
    assert await send(voice) == "收到：催收天天打电话"
    silent = server.other_xml("voice", "<MediaId>m2</MediaId><Format>amr</Format><Recognition></Recognition>",
                              server.next_id())
    assert "打字" in await send(silent)
    image = server.other_xml("image", "<PicUrl>http://x/y.jpg</PicUrl><MediaId>m3</MediaId>", server.next_id())
    assert "文字" in await send(image)
    location = server.other_xml("location", "<Location_X>23</Location_X><Location_Y>113</Location_Y>"
                                            "<Scale>20</Scale><Label>x</Label>", server.next_id())
    assert "文字" in await send(location)
    assert bot.texts == ["催收天天打电话"]

    subscribe = server.other_xml("event", "<Event><![CDATA[subscribe]]></Event><EventKey></EventKey>",
                                 create_time=int(time.time()))
    assert await send(subscribe) == "你好，我是协商助手。"
    assert await send(subscribe) == "你好，我是协商助手。"  # WeChat's retry of the event
    assert bot.texts == ["催收天天打电话", "/greet"]
    unsubscribe = server.other_xml("event", "<Event><![CDATA[unsubscribe]]></Event>")
    assert await send(unsubscribe) == "success"
    assert len(bot.calls) == 2


async def test_retry_of_a_message_in_flight_runs_the_bot_once():
    bot = FakeBot(lambda text: [{"text": f"想好了：{text}"}], delay=0.6)
    app, _ = make_app(bot, passive_timeout=3.0)
    server = WeChatServer(aes_key=AES_KEY)
    msg_id = server.next_id()
    xml = server.text_xml("会被起诉吗", msg_id)

    async def deliver(delay):
        await asyncio.sleep(delay)
        url, body = server.request(xml)  # a retry has its own nonce and timestamp
        resp = await post(app, url, body)
        assert resp.status == 200
        return server.read_reply(resp.text)["Content"]

    first, retry = await asyncio.gather(deliver(0), deliver(0.2))
    assert first == retry == "想好了：会被起诉吗"
    assert await deliver(0) == first  # a late retry gets the same answer from the cache
    assert len(bot.calls) == 1


async def test_bot_failure_gives_an_apology_not_a_500():
    bot = FakeBot(fail=True)
    app, _ = make_app(bot)
    server = WeChatServer(aes_key=AES_KEY)
    content = (await say(app, server, "你好"))["Content"]
    assert "抱歉" in content and CJK.search(content)
    silent = FakeBot(lambda text: [])
    app2, _ = make_app(silent)
    assert "抱歉" in (await say(app2, server, "你好"))["Content"]


async def test_late_answer_without_api_is_kept_for_continue():
    bot = FakeBot(lambda text: [{"text": "这是整理好的回答。"}], delay=0.45)
    app, _ = make_app(bot, passive_timeout=0.3)
    server = WeChatServer(aes_key=AES_KEY)
    started = time.monotonic()
    first = (await say(app, server, "帮我算算"))["Content"]
    assert time.monotonic() - started < 0.42  # answered within the passive window
    assert "继续" in first
    assert (await say(app, server, "继续"))["Content"] == "这是整理好的回答。"
    assert bot.texts == ["帮我算算"]


async def test_channel_without_token_answers_503(monkeypatch):
    from rasa.core.run import _create_single_channel

    for name in Settings.ENV.values():
        monkeypatch.delenv(name, raising=False)
    channel = _create_single_channel("bot.channels.wechat.WeChatInput", None)  # as credentials.yml loads it
    assert channel.problem and channel.name() == "wechat"
    from sanic import Sanic

    app = Sanic(f"wechat_off_{time.time_ns()}")

    async def never(message):  # pragma: no cover - must not be called
        raise AssertionError("bot called")

    app.blueprint(channel.blueprint(never), url_prefix="/webhooks/wechat")
    _, resp = await app.asgi_client.get(f"{PATH}?signature=x&timestamp=1&nonce=1&echostr=1")
    assert resp.status == 503 and "WECHAT_TOKEN" in resp.text
    _, resp = await app.asgi_client.post(PATH, content=b"<xml/>")
    assert resp.status == 503


def test_mounted_in_rasas_own_server_app(caplog):
    """Rasa's configure_app (HTTP API on, auth token) and a real HTTP server on 127.0.0.1."""
    from rasa.core.run import configure_app

    from bot.channels.wechat import WeChatInput

    caplog.set_level(logging.INFO)
    channel = WeChatInput(Settings(token=TOKEN, app_id=APP_ID, encoding_aes_key=AES_KEY))
    app = configure_app([channel], enable_api=True, auth_token="secret", port=0)
    bot = FakeBot()

    class Agent:
        handle_message = staticmethod(bot)

    app.ctx.agent = Agent()
    server = WeChatServer(aes_key=AES_KEY)
    url, body = server.request(server.text_xml("你好", server.next_id()))
    _, resp = app.test_client.post(url, content=body)
    assert resp.status == 200 and server.read_reply(resp.text)["Content"] == "收到：你好"
    assert OPENID not in caplog.text  # Sanic's access log prints the URL: its openid= is masked


def test_credentials_register_the_channel(monkeypatch):
    from rasa.core.run import create_http_input_channels

    from bot.channels.wechat import WeChatInput

    monkeypatch.setenv("WECHAT_TOKEN", "fromenv")
    monkeypatch.setenv("WECHAT_ENCODING_AES_KEY", AES_KEY)
    monkeypatch.setenv("WECHAT_APP_ID", APP_ID)
    monkeypatch.delenv("WECHAT_APP_SECRET", raising=False)
    channels = create_http_input_channels(None, "bot/credentials.yml")
    [wechat] = [c for c in channels if isinstance(c, WeChatInput)]
    assert wechat.settings.token == "fromenv" and wechat.cryptos and wechat.bridge.api is None
    assert wechat.url_prefix() == "wechat"


async def test_openid_never_reaches_the_logs(caplog):
    caplog.set_level(logging.DEBUG)
    bot = FakeBot(delay=0.3)
    app, _ = make_app(bot, passive_timeout=0.1)
    server = WeChatServer(aes_key=AES_KEY)
    await say(app, server, "你好")
    await asyncio.sleep(0.4)
    ours = "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))  # httpx: the client
    assert core.mask_openid(OPENID) in ours
    assert OPENID not in ours
    record = logging.LogRecord("sanic.access", logging.INFO, "", 0, "", None, None)
    record.request = f"POST http://h{PATH}?signature=a&openid={OPENID}&nonce=1"
    core.OpenIdLogFilter().filter(record)
    assert OPENID not in record.request and "nonce=1" in record.request


# --------------------------------------------------------------------------------------------------
# the 5-second rule with a fake WeChat API (real HTTP on 127.0.0.1)


class FakeWeChatAPI:
    """stable_token and message/custom/send, recording what the channel sends."""

    def __init__(self, fail_first_send_with: Optional[int] = None) -> None:
        self.token_requests: List[Dict[str, Any]] = []
        self.sends: List[Dict[str, Any]] = []
        self.raw_sends: List[bytes] = []
        self.fail_first_send_with = fail_first_send_with
        self.got_send = asyncio.Event()
        self.server = None

    async def start(self) -> str:
        from aiohttp import web
        from aiohttp.test_utils import TestServer

        app = web.Application()
        app.router.add_post("/cgi-bin/stable_token", self.stable_token)
        app.router.add_post("/cgi-bin/message/custom/send", self.custom_send)
        self.server = TestServer(app, host="127.0.0.1")
        await self.server.start_server()
        return str(self.server.make_url("")).rstrip("/")

    async def stop(self) -> None:
        await self.server.close()

    async def stable_token(self, request):
        from aiohttp import web

        self.token_requests.append(json.loads(await request.read()))
        return web.json_response({"access_token": f"TOKEN-{len(self.token_requests)}", "expires_in": 7200})

    async def custom_send(self, request):
        from aiohttp import web

        raw = await request.read()
        token = request.query.get("access_token")
        if self.fail_first_send_with and not self.sends and token == "TOKEN-1":
            return web.json_response({"errcode": self.fail_first_send_with, "errmsg": "invalid credential"})
        self.raw_sends.append(raw)
        self.sends.append({"token": token, "json": json.loads(raw)})
        self.got_send.set()
        return web.json_response({"errcode": 0, "errmsg": "ok"})

    async def wait_sends(self, n: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.sends) < n:
            assert time.monotonic() < deadline, f"only {len(self.sends)} customer-service messages"
            await asyncio.sleep(0.02)


async def test_slow_bot_answers_success_then_customer_service_api():
    api = FakeWeChatAPI()
    base = await api.start()
    try:
        def replies(text):
            return [{"text": f"慢慢来：{text}"},
                    {"text": "你想先做哪件事？", "buttons": [{"title": "延期", "payload": "/want_extension"},
                                                          {"title": "分期", "payload": "/want_installment"}]}]

        bot = FakeBot(replies, delay=0.7)
        app, channel = make_app(bot, passive_timeout=0.25, app_secret="s3cret", api_base=base)
        server = WeChatServer(aes_key=AES_KEY)
        msg_id = server.next_id()
        url, body = server.request(server.text_xml("我欠了三万", msg_id))
        started = time.monotonic()
        resp = await post(app, url, body)
        assert resp.status == 200 and resp.text == "success"
        assert time.monotonic() - started < 0.6
        assert api.sends == []
        # WeChat does not retry after "success", but if it did: the bot is not run again
        url, body = server.request(server.text_xml("我欠了三万", msg_id))
        assert (await post(app, url, body)).text == "success"

        await api.wait_sends(1)
        [sent] = api.sends
        assert sent["token"] == "TOKEN-1"
        assert sent["json"]["touser"] == OPENID and sent["json"]["msgtype"] == "text"
        content = sent["json"]["text"]["content"]
        assert content.startswith("慢慢来：我欠了三万\n\n你想先做哪件事？") and "1. 延期\n2. 分期" in content
        assert "慢慢来".encode() in api.raw_sends[0]  # real UTF-8, no \\u escapes (WeChat error 40033)
        assert api.token_requests == [{"grant_type": "client_credential", "appid": APP_ID, "secret": "s3cret",
                                       "force_refresh": False}]

        # a second late answer reuses the cached access token; the buttons of the late answer work
        url, body = server.request(server.text_xml("2", server.next_id()))
        assert (await post(app, url, body)).text == "success"
        await api.wait_sends(2)
        assert bot.texts == ["我欠了三万", "/want_installment"]
        assert api.sends[1]["token"] == "TOKEN-1" and len(api.token_requests) == 1
    finally:
        await api.stop()


async def test_customer_service_refreshes_an_invalid_token_once():
    api = FakeWeChatAPI(fail_first_send_with=40001)
    base = await api.start()
    try:
        cs = core.CustomerService(APP_ID, "s3cret", base)
        await cs.send_text(OPENID, "你好")
        assert [s["token"] for s in api.sends] == ["TOKEN-2"]
        assert len(api.token_requests) == 2
    finally:
        await api.stop()


async def test_long_late_answer_uses_few_api_messages():
    api = FakeWeChatAPI()
    base = await api.start()
    try:
        long_text = "请记下每一次催收的时间和内容。" * 600  # about 27 KB: 14 pages
        bot = FakeBot(lambda text: [{"text": long_text}] if text != "继续" else [{"text": "?"}], delay=0.4)
        app, _ = make_app(bot, passive_timeout=0.1, app_secret="s3cret", api_base=base, max_cs_messages=3)
        server = WeChatServer(aes_key=AES_KEY)
        assert (await post(app, *server.request(server.text_xml("留证据", server.next_id())))).text == "success"
        await api.wait_sends(3)
        await asyncio.sleep(0.2)
        assert len(api.sends) == 3  # the quota is 5 per 48 h: at most 3 per answer
        assert all(len(s["json"]["text"]["content"].encode()) <= 2048 for s in api.sends)
        assert "继续" in api.sends[-1]["json"]["text"]["content"]
        page4 = (await say(app, server, "继续"))["Content"]
        assert page4.startswith("请记下") and bot.texts == ["留证据"]
    finally:
        await api.stop()


# --------------------------------------------------------------------------------------------------
# end to end: the real Rasa server with the trained model


@pytest.mark.e2e
def test_e2e_encrypted_message_gets_a_chinese_encrypted_reply(servers):
    import urllib.request

    env = servers.env
    server = WeChatServer(env["WECHAT_TOKEN"], env["WECHAT_ENCODING_AES_KEY"], env["WECHAT_APP_ID"])
    openid = "oE2E" + os.urandom(6).hex()

    def send(text: str) -> Dict[str, str]:
        url, body = server.request(server.text_xml(text, server.next_id(), openid=openid))
        req = urllib.request.Request(servers.url + url, data=body, headers={"Content-Type": "text/xml"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
            answer = resp.read().decode("utf-8")
        assert "<Encrypt>" in answer
        return server.read_reply(answer)

    reply = send("催收给我妈打电话了怎么办")
    assert reply["_encrypted"] and reply["ToUserName"] == openid
    content = reply["Content"]
    if "继续" in content and len(content) < 40:  # the model took longer than WeChat's 5 seconds
        time.sleep(3)
        content = send("继续")["Content"]
    assert CJK.search(content) and "抱歉" not in content, content
    assert openid not in servers.logs()
