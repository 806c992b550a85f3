"""The web chat page and the embeddable widget, served by the Rasa server itself.

Registered in bot/credentials.yml as ``bot.channels.webchat.WebChatInput``. Rasa mounts a channel's
blueprint at ``urljoin("/webhooks/", url_prefix())``; ``url_prefix()`` is ``/chat`` so the routes are:

    GET /chat                 the full-page chat (``?embed=1``: the same page inside the widget's iframe)
    GET /chat/widget.js       one-line embed: <script src=".../chat/widget.js" data-server="..."></script>
    GET /chat/static/<file>   the page's own CSS/JS and the socket.io client copied from npm at set-up

The channel has no message endpoint: the page talks to Rasa's socketio channel (``/socket.io``,
session persistence, metadata under ``customData``). Every file comes from web/static/ on this
machine; nothing is fetched from a CDN. If the socket.io client was never installed (no npm), the
channel still starts and the page shows a notice instead of chatting.
"""
from __future__ import annotations

import logging
import mimetypes
import os
import re
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, Iterable, List, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
STATIC_DIR = ROOT / "web" / "static"
VENDOR_FILE = STATIC_DIR / "vendor" / "socket.io.min.js"
STATIC_TYPES = {
    ".js": "application/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
    ".json": "application/json",
}
# host[:port] as a browser sends it in Host; anything else is left out of the CSP
_HOST_RE = re.compile(r"^[A-Za-z0-9.\-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$")
_ORIGIN_RE = re.compile(r"^(https?://[A-Za-z0-9.\-]+(:\d{1,5})?|https?://\*\.[A-Za-z0-9.\-]+|\*|'self'|'none')$")


def parse_origins(value: Any) -> List[str]:
    """Origins allowed to frame the widget: a list or a space/comma separated string; bad ones dropped."""
    if value is None:
        return []
    items: Iterable[Any] = value if isinstance(value, (list, tuple)) else re.split(r"[\s,]+", str(value))
    out = []
    for item in items:
        item = str(item).strip().rstrip("/")
        if item and _ORIGIN_RE.match(item):
            out.append(item)
        elif item:
            logger.warning("webchat: ignoring embed origin %r (expected e.g. https://example.org)", item)
    return out


def content_security_policy(host: Optional[str], frame_ancestors: str) -> str:
    """Strict CSP for the chat page: only this server's scripts, styles and sockets."""
    connect = ["'self'"]
    if host and _HOST_RE.match(host):
        connect += [f"ws://{host}", f"wss://{host}"]
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src " + " ".join(connect),
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors " + frame_ancestors,
        ]
    )


COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def static_path(name: str) -> Optional[Path]:
    """The file under web/static/ for a request path, or None (no traversal, known types only)."""
    if not name or "\\" in name or "\x00" in name:
        return None
    try:
        path = (STATIC_DIR / name).resolve()
        path.relative_to(STATIC_DIR.resolve())
    except (ValueError, OSError):
        return None
    if path.suffix not in STATIC_TYPES or not path.is_file():
        return None
    return path


class WebChatInput(InputChannel):
    """Serves /chat, /chat/widget.js and /chat/static/*; messages go through the socketio channel."""

    @classmethod
    def name(cls) -> Text:
        return "webchat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        credentials = credentials or {}
        return cls(embed_origins=credentials.get("embed_origins"))

    def __init__(self, embed_origins: Any = None) -> None:
        # Who may show the chat in the widget's iframe: credentials `embed_origins`, else the
        # environment XIESHANG_EMBED_ORIGINS, else any site (the widget is meant for any page).
        # The full page /chat (without ?embed=1) may only be framed by this server itself.
        if embed_origins is None:
            embed_origins = os.environ.get("XIESHANG_EMBED_ORIGINS", "*")
        origins = parse_origins(embed_origins) or ["'none'"]
        if "'self'" not in origins and "*" not in origins and "'none'" not in origins:
            origins.insert(0, "'self'")
        self.embed_frame_ancestors = " ".join(origins)
        if not VENDOR_FILE.is_file():
            logger.warning(
                "webchat: %s 不存在（没有运行 npm ci？），网页聊天会显示提示而不能对话。运行 make venv 安装。", VENDOR_FILE
            )

    def url_prefix(self) -> Text:
        return "/chat"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint("webchat", __name__)

        def page_headers(request: Request) -> Dict[str, str]:
            embed = request.args.get("embed") == "1"
            ancestors = self.embed_frame_ancestors if embed else "'self'"
            headers = dict(COMMON_HEADERS)
            headers["Content-Security-Policy"] = content_security_policy(request.headers.get("host"), ancestors)
            if not embed:
                headers["X-Frame-Options"] = "SAMEORIGIN"
            return headers

        @bp.route("/", methods=["GET", "HEAD"])
        async def chat_page(request: Request) -> HTTPResponse:
            page = STATIC_DIR / "chat.html"
            return response.html(page.read_text(encoding="utf-8"), headers=page_headers(request))

        @bp.route("/widget.js", methods=["GET", "HEAD"])
        async def widget(request: Request) -> HTTPResponse:
            body = (STATIC_DIR / "widget.js").read_text(encoding="utf-8")
            headers = dict(COMMON_HEADERS, **{"Cross-Origin-Resource-Policy": "cross-origin"})
            return response.text(body, headers=headers, content_type=STATIC_TYPES[".js"])

        @bp.route("/static/<name:path>", methods=["GET", "HEAD"])
        async def static(request: Request, name: str) -> HTTPResponse:
            path = static_path(name)
            if path is None:
                return response.text("not found", status=404, headers=COMMON_HEADERS)
            return await response.file(
                str(path), headers=dict(COMMON_HEADERS), mime_type=STATIC_TYPES.get(path.suffix) or
                (mimetypes.guess_type(path.name)[0] or "application/octet-stream"),
            )

        return bp
