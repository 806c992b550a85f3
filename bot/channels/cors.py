"""Limit which web sites may open a socket.io connection to the bot.

``rasa run --cors`` (scripts/run.sh passes ``XIESHANG_CORS``) only covers plain HTTP. Rasa 3.6's
``SocketIOInput.blueprint`` hard-codes ``AsyncServer(cors_allowed_origins=[])``, which switches
python-engineio's own Origin check off, and browsers apply no CORS to WebSockets: any site could
talk to the bot over ``/socket.io``. Re-enabling engineio's check would make it send a second
``Access-Control-Allow-Origin`` next to sanic-cors' one, so instead this refuses, at ``connect``,
a connection whose ``Origin`` is neither the bot's own address nor in the allowed list:

    from bot.channels.cors import restrict_socketio_origins
    bp = super().blueprint(handle)
    restrict_socketio_origins(self.sio, namespace=self.namespace)  # origins from XIESHANG_CORS

Allowed origins: ``XIESHANG_CORS`` (space or comma separated; ``*`` = any site; unset = only the
bot's own address), or the ``origins`` argument.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Dict, Iterable, List, Optional, Union

from xieshang.guard import log_safe

logger = logging.getLogger(__name__)


def parse_origins(value: Union[str, Iterable[str], None]) -> Optional[List[str]]:
    """``None`` means any origin; otherwise the list (possibly empty: only the bot's own address)."""
    if value is None:
        return []
    items = value.replace(",", " ").split() if isinstance(value, str) else [str(v) for v in value]
    items = [i.strip().rstrip("/") for i in items if i.strip()]
    return None if "*" in items else items


def origin_allowed(origin: Optional[str], environ: Dict[str, Any], allowed: Optional[List[str]]) -> bool:
    if not origin or allowed is None:
        return True  # not a browser, or any site allowed
    origin = origin.rstrip("/")
    if origin in allowed:
        return True
    scheme = environ.get("HTTP_X_FORWARDED_PROTO") or environ.get("wsgi.url_scheme", "http")
    hosts = {environ.get("HTTP_HOST"), environ.get("HTTP_X_FORWARDED_HOST")} - {None, ""}
    return any(origin == f"{scheme}://{h}" for h in hosts)


def restrict_socketio_origins(sio: Any, origins: Union[str, Iterable[str], None] = None, namespace: Optional[str] = None) -> None:
    """Wrap the ``connect`` handler of ``sio`` so foreign origins are refused (after the blueprint)."""
    allowed = parse_origins(os.environ.get("XIESHANG_CORS") if origins is None else origins)
    ns = namespace or "/"
    original = sio.handlers.get(ns, {}).get("connect")

    async def connect(sid: str, environ: Dict[str, Any], auth: Optional[Dict] = None) -> bool:
        origin = environ.get("HTTP_ORIGIN")
        if not origin_allowed(origin, environ, allowed):
            logger.warning("socket.io connection from origin %s refused (not in XIESHANG_CORS)", log_safe(origin, 100))
            return False
        if original is None:
            return True
        return await original(sid, environ, auth)

    sio.on("connect", connect, namespace=ns)
