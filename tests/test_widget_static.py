"""The web chat without a browser or a model: channel routes and headers, the socketio fix for
custom payloads, the credentials wiring, and static checks of the page's files (no HTML injection
APIs, no outside URLs, socket.io client pinned by the lockfile)."""
from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from urllib.parse import urljoin

import pytest
from sanic import Sanic

from bot.channels import webchat
from bot.channels.socketio_channel import SocketIOInput, SocketIOOutput, custom_message
from bot.channels.webchat import WebChatInput, content_security_policy, parse_origins, static_path

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "web" / "static"
_names = itertools.count()

DOC = {"type": "document", "title": "协商电话话术", "text": "第一行\n第二行", "filename": "x.txt", "mime": "text/plain"}


# ---------- socketio: custom payloads ----------

class FakeSio:
    def __init__(self):
        self.emitted = []

    async def emit(self, event, data=None, to=None, room=None, skip_sid=None, namespace=None, callback=None,
                   ignore_queue=False):
        self.emitted.append((event, data, room))


def test_custom_message_shapes():
    assert custom_message(DOC) == {"custom": DOC, "text": "【协商电话话术】\n第一行\n第二行"}
    assert custom_message({"practice": "on"}) == {"custom": {"practice": "on"}}
    assert custom_message({"practice": "off", "room": "x"}) == {"custom": {"practice": "off"}}
    assert custom_message(["a"]) == {"custom": ["a"]}


async def test_rasa_socketio_output_crashes_on_custom_and_ours_does_not():
    from rasa.core.channels.socketio import SocketIOOutput as RasaOutput

    sio = FakeSio()
    with pytest.raises(TypeError):  # the bug this channel exists for
        await RasaOutput(sio, "bot_uttered").send_custom_json("s1", dict(DOC))

    sio = FakeSio()
    out = SocketIOOutput(sio, "bot_uttered")
    # the whole path Rasa takes for a dispatcher message with text + custom
    await out.send_response("s1", {"text": "【练习模式】喂？", "custom": {"practice": "on"}})
    await out.send_response("s1", {"custom": dict(DOC)})
    assert sio.emitted == [
        ("bot_uttered", {"text": "【练习模式】喂？"}, "s1"),
        ("bot_uttered", {"custom": {"practice": "on"}}, "s1"),
        ("bot_uttered", {"custom": DOC, "text": "【协商电话话术】\n第一行\n第二行"}, "s1"),
    ]


async def test_socketio_input_uses_fixed_output_and_keeps_rasa_settings():
    channel = SocketIOInput.from_credentials(
        {"user_message_evt": "user_uttered", "bot_message_evt": "bot_uttered", "session_persistence": True,
         "metadata_key": "customData"})
    assert channel.name() == "socketio" and channel.session_persistence and channel.metadata_key == "customData"
    got = []

    async def on_new_message(message):
        got.append(message)

    channel.blueprint(on_new_message)
    handler = channel.sio.handlers["/"]["user_uttered"]
    await handler("sid1", {"message": "你好", "session_id": "abc123", "customData": {"channel": "webchat"}})
    assert len(got) == 1
    msg = got[0]
    assert isinstance(msg.output_channel, SocketIOOutput)
    assert (msg.text, msg.sender_id, msg.metadata) == ("你好", "abc123", {"channel": "webchat"})
    assert isinstance(channel.get_output_channel(), SocketIOOutput)


# ---------- the web chat channel ----------

def make_app(**kwargs) -> Sanic:
    from rasa.core.channels.channel import register

    app = Sanic(f"webchat_test_{next(_names)}")
    register([WebChatInput(**kwargs), SocketIOInput(session_persistence=True, metadata_key="customData")],
             app, route="/webhooks/")
    return app


def test_url_prefix_lands_at_chat():
    assert urljoin("/webhooks/", WebChatInput().url_prefix()) == "/chat"


def test_chat_page_has_strict_csp():
    _, resp = make_app().test_client.get("/chat", headers={"host": "127.0.0.1:5005"})
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/html")
    assert "协商助手" in resp.text
    csp = resp.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "connect-src 'self' ws://127.0.0.1:5005 wss://127.0.0.1:5005" in csp
    assert "frame-ancestors 'self'" in csp and "unsafe" not in csp
    assert resp.headers["x-frame-options"] == "SAMEORIGIN"
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert resp.headers["referrer-policy"] == "no-referrer"


def test_embed_page_may_be_framed_by_configured_origins(monkeypatch):
    _, resp = make_app().test_client.get("/chat?embed=1")
    assert "frame-ancestors *" in resp.headers["content-security-policy"]
    assert "x-frame-options" not in resp.headers
    monkeypatch.setenv("XIESHANG_EMBED_ORIGINS", "https://ngo.example.org, javascript:alert(1)")
    _, resp = make_app().test_client.get("/chat?embed=1")
    assert "frame-ancestors 'self' https://ngo.example.org;" in resp.headers["content-security-policy"] + ";"
    _, resp = make_app(embed_origins=["https://a.example"]).test_client.get("/chat?embed=1")
    assert "frame-ancestors 'self' https://a.example" in resp.headers["content-security-policy"]


def test_widget_js_and_static_files():
    client = make_app().test_client
    _, resp = client.get("/chat/widget.js")
    assert resp.status == 200 and resp.headers["content-type"].startswith("application/javascript")
    assert "xieshang" in resp.text
    _, resp = client.get("/chat/static/chat.js")
    assert resp.status == 200 and resp.headers["content-type"].startswith("application/javascript")
    _, resp = client.get("/chat/static/chat.css")
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/css")
    for bad in ["/chat/static/chat.html", "/chat/static/../../pyproject.toml", "/chat/static/%2e%2e/%2e%2e/bot/credentials.yml",
                "/chat/static/nothing.js", "/chat/static/..%2f..%2fbot/channels/webchat.py"]:
        _, resp = client.get(bad)
        assert resp.status == 404, bad


def test_static_path_guards():
    assert static_path("chat.js") == (STATIC / "chat.js").resolve()
    for bad in ["", "../chat.js", "../../pyproject.toml", "/etc/passwd", "chat.html", "a\\b.js", "x\x00.js"]:
        assert static_path(bad) is None, bad


def test_channel_starts_without_vendor_file(monkeypatch, tmp_path):
    monkeypatch.setattr(webchat, "VENDOR_FILE", tmp_path / "missing.js")
    _, resp = make_app().test_client.get("/chat")
    assert resp.status == 200


def test_csp_helpers():
    assert "ws://" not in content_security_policy("evil.example; script-src *", "'self'")
    assert "ws://[::1]:5005" in content_security_policy("[::1]:5005", "'self'")
    assert parse_origins("https://a.org https://b.org:8443/") == ["https://a.org", "https://b.org:8443"]
    assert parse_origins(["data:", "https://x.org'; script-src *"]) == []


def test_credentials_register_both_channels():
    from rasa.core.run import create_http_input_channels

    channels = create_http_input_channels(None, str(ROOT / "bot/credentials.yml"))
    by_type = {type(c): c for c in channels}
    assert WebChatInput in by_type
    sio = by_type[SocketIOInput]
    assert sio.session_persistence is True and sio.metadata_key == "customData"
    assert (sio.user_message_evt, sio.bot_message_evt) == ("user_uttered", "bot_uttered")


# ---------- the page's files ----------

@pytest.mark.parametrize("name", ["chat.js", "widget.js"])
def test_js_never_builds_html(name):
    src = (STATIC / name).read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/", "", src, flags=re.S)  # comments may name what is forbidden
    for api in ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
                "setAttribute(\"on", "createContextualFragment", "DOMParser", "srcdoc"]:
        assert api not in code, f"{name} uses {api}"


def test_page_has_no_inline_code_or_outside_urls():
    html = (STATIC / "chat.html").read_text(encoding="utf-8")
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "inline script"
    assert "<style" not in html and not re.search(r"\son\w+=", html) and "style=" not in html
    for url in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert url.startswith(("/chat/static/", "#", "data:")), url
    for name in ["chat.js", "chat.css", "widget.js"]:
        text = (STATIC / name).read_text(encoding="utf-8")
        outside = [u for u in re.findall(r"https?://[^\s\"')]+", text) if "YOUR-BOT-SERVER" not in u]
        assert not outside, (name, outside)


def test_socketio_client_pinned_by_npm_lockfile():
    web = ROOT / "web"
    pkg = json.loads((web / "package.json").read_text())
    lock = json.loads((web / "package-lock.json").read_text())
    assert set(pkg["dependencies"]) == {"socket.io-client"}
    version = lock["packages"]["node_modules/socket.io-client"]["version"]
    assert version.startswith("4."), version  # Socket.IO protocol 5 / Engine.IO 4, as python-socketio 5.9
    assert lock["packages"]["node_modules/socket.io-client"]["integrity"].startswith("sha512-")
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "node_modules/" in ignored and "web/static/vendor/" in ignored
