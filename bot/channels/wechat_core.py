"""WeChat Official Account (公众号) protocol and reply logic, without Rasa.

The Rasa channel (bot/channels/wechat.py) is a thin layer over this module, so all of it is tested
without a model or a server:

* settings from credentials.yml or the environment (``WECHAT_TOKEN`` ...);
* request checks: ``signature`` (sha1 over token, timestamp, nonce), freshness of ``timestamp``, body
  size, XML refused when it has a DTD or entities (defusedxml), safe mode ``msg_signature`` and AES
  via wechatpy, reply rendering (``]]>`` and characters XML forbids are made harmless);
* reply formatting: the bot's messages joined into one text, buttons as numbered options, long texts
  split within WeChat's byte limit into pages ("回复“继续”查看下一段");
* per-user memory with a bound: the last buttons (a typed number maps back to the payload) and the
  pages still to show;
* de-duplication of WeChat's retries by MsgId (a retry waits for the first request's answer);
* the customer-service message API (async, access token cached) for answers later than 5 seconds.
"""
from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import re
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Deque, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeET

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
TEXT_LIMIT_BYTES = 2048          # passive reply and customer-service text (old official doc; community)
MAX_PAGES = 30                   # a long answer never becomes more pages than this
OPENID_RE = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
ACCOUNT_RE = re.compile(r"^[A-Za-z0-9_\-@.]{1,128}$")
NONCE_RE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
AES_KEY_RE = re.compile(r"^[A-Za-z0-9]{43}$")
# characters XML 1.0 forbids, and lone surrogates (they cannot be encoded as UTF-8)
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_TRUE = {"1", "true", "yes", "on"}


# --------------------------------------------------------------------------------------------------
# settings


def _texts() -> Dict[str, Any]:
    from xieshang.content import load

    return load("wechat")


def valid_aes_key(key: Optional[str]) -> bool:
    """An EncodingAESKey is 43 letters/digits that decode (with one "=") to 32 bytes."""
    if not key or not AES_KEY_RE.match(key):
        return False
    try:
        return len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False


@dataclass
class Settings:
    """The channel's settings; every one can come from credentials.yml or the environment."""

    token: str = ""
    app_id: str = ""
    encoding_aes_key: str = ""             # absent: plain mode
    previous_encoding_aes_key: str = ""    # the key before a rotation (WeChat's FAQ: keep both)
    app_secret: str = ""                   # absent: passive replies only
    api_base: str = DEFAULT_API_BASE
    passive_timeout: float = 4.5           # seconds to wait for the bot before answering "success"
    max_age: int = 300                     # a request's timestamp may be this many seconds off
    max_body: int = 64 * 1024
    max_text_bytes: int = TEXT_LIMIT_BYTES
    max_cs_messages: int = 3               # customer-service messages per late answer (quota is 5 / 48 h)
    allow_plain: bool = False              # accept unencrypted POSTs although an AES key is set
    subscribe_payload: str = "/greet"      # what a new follower "says" to the bot

    ENV = {
        "token": "WECHAT_TOKEN",
        "app_id": "WECHAT_APP_ID",
        "encoding_aes_key": "WECHAT_ENCODING_AES_KEY",
        "previous_encoding_aes_key": "WECHAT_PREVIOUS_ENCODING_AES_KEY",
        "app_secret": "WECHAT_APP_SECRET",
        "api_base": "WECHAT_API_BASE",
        "passive_timeout": "WECHAT_PASSIVE_TIMEOUT",
        "max_age": "WECHAT_MAX_AGE",
        "max_body": "WECHAT_MAX_BODY",
        "max_text_bytes": "WECHAT_MAX_TEXT_BYTES",
        "max_cs_messages": "WECHAT_MAX_CS_MESSAGES",
        "allow_plain": "WECHAT_ALLOW_PLAIN",
        "subscribe_payload": "WECHAT_SUBSCRIBE_PAYLOAD",
    }

    @classmethod
    def from_mapping(cls, credentials: Optional[Mapping[str, Any]] = None,
                     environ: Optional[Mapping[str, str]] = None) -> "Settings":
        """Credentials first (``token``, ``app_id`` ... or the env names), then the environment.

        Empty or odd values never raise: a bad number falls back to the default with a warning.
        """
        credentials = dict(credentials or {})
        environ = os.environ if environ is None else environ
        defaults = cls()
        values: Dict[str, Any] = {}
        for name, env_name in cls.ENV.items():
            raw = credentials.get(name, credentials.get(env_name.lower(), credentials.get(env_name)))
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                raw = environ.get(env_name)
            if raw is None or (isinstance(raw, str) and not raw.strip()):
                continue
            default = getattr(defaults, name)
            try:
                if isinstance(default, bool):
                    values[name] = str(raw).strip().lower() in _TRUE
                elif isinstance(default, int):
                    values[name] = int(str(raw).strip())
                elif isinstance(default, float):
                    values[name] = float(str(raw).strip())
                else:
                    values[name] = str(raw).strip()
            except ValueError:
                logger.warning("wechat: ignoring %s=%r (not a number)", env_name, raw)
        settings = cls(**values)
        settings.api_base = settings.api_base.rstrip("/")
        settings.max_text_bytes = max(200, settings.max_text_bytes)
        settings.max_body = max(1024, settings.max_body)
        return settings

    def problem(self) -> Optional[str]:
        """Why the channel cannot take messages (None when it can). Never contains a secret."""
        if not self.token:
            return "WECHAT_TOKEN is not set: the WeChat channel is switched off"
        if self.encoding_aes_key and not valid_aes_key(self.encoding_aes_key):
            return "WECHAT_ENCODING_AES_KEY must be the 43 letters/digits from the WeChat console"
        if self.encoding_aes_key and not self.app_id:
            return "WECHAT_APP_ID is needed for safe mode (WECHAT_ENCODING_AES_KEY is set)"
        return None

    @property
    def safe_mode(self) -> bool:
        return bool(self.encoding_aes_key)

    @property
    def api_enabled(self) -> bool:
        return bool(self.app_id and self.app_secret)


# --------------------------------------------------------------------------------------------------
# request checks


class Refused(Exception):
    """A request that is answered with an error status (and never reaches the bot)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: sha1 of the sorted strings, concatenated (wechatpy's signer)."""
    from wechatpy.utils import WeChatSigner

    signer = WeChatSigner()
    signer.add_data(*parts)
    return signer.signature


def check_signature(token: str, signature: Optional[str], timestamp: Optional[str], nonce: Optional[str]) -> None:
    """``signature`` must be sha1(sorted(token, timestamp, nonce)); constant-time comparison."""
    if not signature or timestamp is None or nonce is None:
        raise Refused(403, "missing signature")
    if not TIMESTAMP_RE.match(timestamp) or not NONCE_RE.match(nonce):
        raise Refused(403, "bad timestamp or nonce")
    expected = sha1_signature(token, timestamp, nonce)
    if not hmac.compare_digest(expected, signature.lower()):
        raise Refused(403, "signature mismatch")


def check_fresh(timestamp: str, max_age: int, now: Optional[float] = None) -> None:
    """A request more than ``max_age`` seconds off this machine's clock is refused (replays)."""
    if max_age <= 0:
        return
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > max_age:
        raise Refused(403, "stale timestamp")


def parse_xml(body: bytes) -> Any:
    """Parse untrusted XML; refuses DTDs, entities and external references (defusedxml)."""
    if not body or not body.strip():
        raise Refused(400, "empty body")
    try:
        root = SafeET.fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise Refused(400, "XML with DTD or entities refused")
    except Exception:  # ParseError, ValueError on odd encodings ...
        raise Refused(400, "malformed XML")
    if root.tag != "xml":
        raise Refused(400, "root element is not <xml>")
    return root


def make_cryptos(settings: Settings) -> List[Any]:
    """wechatpy crypto objects for the current key and, if set, the previous one."""
    if not settings.safe_mode:
        return []
    from wechatpy.crypto import WeChatCrypto

    cryptos = [WeChatCrypto(settings.token, settings.encoding_aes_key, settings.app_id)]
    previous = settings.previous_encoding_aes_key
    if previous and valid_aes_key(previous) and previous != settings.encoding_aes_key:
        cryptos.append(WeChatCrypto(settings.token, previous, settings.app_id))
    return cryptos


def decrypt(root: Any, cryptos: Sequence[Any], token: str, msg_signature: Optional[str],
            timestamp: str, nonce: str) -> Tuple[str, Any]:
    """Check ``msg_signature`` over the ``<Encrypt>`` element, decrypt it; (plain XML, crypto used)."""
    encrypt = (root.findtext("Encrypt") or "").strip()
    if not encrypt:
        raise Refused(400, "no <Encrypt> element")
    if not msg_signature:
        raise Refused(403, "missing msg_signature")
    expected = sha1_signature(token, timestamp, nonce, encrypt)
    if not hmac.compare_digest(expected, msg_signature.lower()):
        raise Refused(403, "msg_signature mismatch")
    for crypto in cryptos:
        try:
            return crypto.decrypt_message({"Encrypt": encrypt}, expected, timestamp, nonce), crypto
        except Exception:  # wrong key: InvalidAppIdException, UnicodeDecodeError, struct.error ...
            continue
    raise Refused(403, "cannot decrypt (wrong EncodingAESKey or AppID)")


def parse_message(xml: str) -> Any:
    """wechatpy's message object for checked XML; odd messages are refused with 400."""
    from wechatpy import parse_message as wechatpy_parse

    parse_xml(xml.encode("utf-8"))  # the decrypted text is checked like the envelope
    try:
        msg = wechatpy_parse(xml)
    except Exception:
        raise Refused(400, "not a WeChat message")
    if msg is None or not OPENID_RE.match(str(getattr(msg, "source", "") or "")):
        raise Refused(400, "missing or odd FromUserName")
    if not ACCOUNT_RE.match(str(getattr(msg, "target", "") or "")):
        raise Refused(400, "missing or odd ToUserName")
    return msg


def xml_text(text: str) -> str:
    """Text that is safe inside wechatpy's ``<![CDATA[...]]>``: forbidden characters dropped and
    ``]]>`` split across two CDATA sections (else WeChat sees malformed XML, "abnormal data")."""
    return _XML_FORBIDDEN.sub("", text or "").replace("]]>", "]]]]><![CDATA[>")


def render_text_reply(text: str, msg: Any, crypto: Any = None, nonce: str = "", timestamp: str = "") -> str:
    """The passive reply XML for ``msg`` (encrypted when the request was)."""
    from wechatpy.replies import TextReply

    xml = TextReply(message=msg, content=xml_text(text)).render()
    if crypto is not None:
        xml = crypto.encrypt_message(xml, nonce, timestamp or str(int(time.time())))
    return xml


def mask_openid(openid: Any) -> str:
    """What logs show instead of an OpenID: a short, stable hash."""
    return "wx#" + hashlib.sha256(str(openid or "").encode("utf-8")).hexdigest()[:12]


_OPENID_PARAM = re.compile(r"(openid=)[^&\s\"']+", re.IGNORECASE)


class OpenIdLogFilter(logging.Filter):
    """Masks ``openid=...`` in log lines (WeChat puts the OpenID in the callback URL, which
    Sanic's access log would otherwise write out)."""

    def filter(self, record: logging.LogRecord) -> bool:
        def clean(value: Any) -> Any:
            return _OPENID_PARAM.sub(lambda m: m.group(1) + mask_openid(m.group(0)[7:]), value) \
                if isinstance(value, str) and "openid=" in value.lower() else value

        record.msg = clean(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(clean(a) for a in record.args)
        for attr in ("request", "url"):
            if hasattr(record, attr):
                setattr(record, attr, clean(getattr(record, attr)))
        return True


def install_log_filter(names: Iterable[str] = ("sanic.access", "sanic.root", "sanic.error")) -> None:
    """Add the OpenID filter once to the loggers that may print request URLs."""
    for name in names:
        log = logging.getLogger(name)
        if not any(isinstance(f, OpenIdLogFilter) for f in log.filters):
            log.addFilter(OpenIdLogFilter())


def dedup_key(msg: Any) -> str:
    """MsgId for messages; FromUserName + CreateTime + Event for events (they have no MsgId)."""
    msg_id = getattr(msg, "id", 0)
    if msg_id:
        return f"id:{msg_id}"
    return f"ev:{getattr(msg, 'source', '')}:{getattr(msg, 'time', '')}:{getattr(msg, 'event', '')}"


# --------------------------------------------------------------------------------------------------
# what the user said


@dataclass
class Inbound:
    """What an incoming message means for the bot.

    kind: ``text`` (send ``text`` to the bot), ``note`` (answer ``text`` without the bot),
    ``ignore`` (answer "success"), ``subscribe`` (send the subscribe payload to the bot).
    """

    kind: str
    text: str = ""


def inbound(msg: Any, texts: Optional[Mapping[str, Any]] = None) -> Inbound:
    texts = texts or _texts()
    kind = getattr(msg, "type", "unknown")
    if kind == "text":
        return Inbound("text", str(getattr(msg, "content", "") or ""))
    if kind == "voice":
        recognition = str(getattr(msg, "recognition", "") or "").strip()
        if recognition:
            return Inbound("text", recognition)
        return Inbound("note", texts["voice_unrecognised"])
    if kind == "event":
        event = getattr(msg, "event", "")
        if event in ("subscribe", "subscribe_scan"):
            return Inbound("subscribe")
        if event == "click" and str(getattr(msg, "key", "") or "").strip():
            return Inbound("text", str(msg.key))
        return Inbound("ignore")  # unsubscribe, view, location, scan, template reports ...
    if kind in ("image", "video", "shortvideo", "location", "link", "file", "miniprogrampage", "unknown"):
        return Inbound("note", texts["only_text"])
    return Inbound("note", texts["only_text"])


def clean_user_text(text: str, limit: int = 2000) -> str:
    """A user's text as the bot sees it: no leading "/" (users cannot inject intents), bounded."""
    text = _XML_FORBIDDEN.sub("", text or "").strip()
    return text.lstrip("/／ \t\r\n")[:limit].strip()


# --------------------------------------------------------------------------------------------------
# replies


Button = Tuple[str, str]  # (title, payload)


def compose(messages: Iterable[Mapping[str, Any]], texts: Optional[Mapping[str, Any]] = None) -> Tuple[str, List[Button]]:
    """Join the bot's messages into one text; buttons become numbered options at the end.

    ``messages`` are Rasa's collected messages (``text``, ``buttons``, ``image``, ``attachment``,
    ``custom``). Documents are flattened to text; custom markers without text are left out.
    """
    texts = texts or _texts()
    chunks: List[str] = []
    buttons: List[Button] = []
    for m in messages:
        if not isinstance(m, Mapping):
            continue
        if m.get("text"):
            chunks.append(str(m["text"]).strip())
        if m.get("image"):
            chunks.append(texts["image_line"].format(url=m["image"]))
        if m.get("attachment"):
            chunks.append(str(m["attachment"]))
        custom = m.get("custom")
        if isinstance(custom, Mapping):
            if custom.get("type") == "document" and custom.get("text"):
                title = str(custom.get("title") or "").strip()
                body = str(custom["text"]).strip()
                chunks.append(f"【{title}】\n{body}" if title else body)
            elif isinstance(custom.get("text"), str) and custom["text"].strip():
                chunks.append(custom["text"].strip())
        for b in list(m.get("buttons") or []) + list(m.get("quick_replies") or []):
            if isinstance(b, Mapping) and (b.get("title") or b.get("payload")):
                title = str(b.get("title") or b.get("payload")).strip()
                payload = str(b.get("payload") or b.get("title")).strip()
                buttons.append((title, payload))
    text = "\n\n".join(c for c in chunks if c)
    if buttons:
        lines = [texts["option_line"].format(number=i, title=title) for i, (title, _) in enumerate(buttons, 1)]
        numbers = "/".join(str(i) for i in range(1, len(buttons) + 1))
        lines.append(texts["choose_hint"].format(numbers=numbers))
        text = (text + "\n\n" if text else "") + "\n".join(lines)
    return text, buttons


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _fit(text: str, limit: int) -> int:
    """The largest prefix length (in characters) whose UTF-8 form fits in ``limit`` bytes."""
    total = 0
    for i, ch in enumerate(text):
        total += len(ch.encode("utf-8", "surrogatepass"))
        if total > limit:
            return i
    return len(text)


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> List[str]:
    """Split ``text`` into parts of at most ``limit`` UTF-8 bytes, at a paragraph, line or sentence
    end when one is in the second half of the part, else at a character boundary."""
    limit = max(16, limit)
    rest = (text or "").strip()
    parts: List[str] = []
    while rest:
        if utf8_len(rest) <= limit:
            parts.append(rest)
            break
        end = max(1, _fit(rest, limit))
        head = rest[:end]
        cut = -1
        for sep in ("\n\n", "\n"):
            pos = head.rfind(sep)
            if pos >= end // 2:
                cut = pos
                break
        if cut < 0:
            found = [m.end() for m in re.finditer(r"[。！？!?；;]", head) if m.end() >= end // 2]
            cut = found[-1] if found else end
        part = rest[:cut].rstrip()
        if not part:  # only whitespace before the separator: cut hard
            part, cut = rest[:end], end
        parts.append(part)
        rest = rest[cut:].strip()
    return parts


def paginate(text: str, limit: int = TEXT_LIMIT_BYTES, texts: Optional[Mapping[str, Any]] = None,
             max_pages: int = MAX_PAGES) -> List[str]:
    """Pages of at most ``limit`` bytes; every page but the last ends with "回复“继续”..."."""
    texts = texts or _texts()
    text = (text or "").strip()
    if utf8_len(text) <= limit:
        return [text] if text else []
    footer = texts["more_footer"]
    reserve = utf8_len(footer.format(left=max_pages)) + 2
    parts = split_text(text, limit - reserve)[:max_pages]
    pages = []
    for i, part in enumerate(parts):
        left = len(parts) - i - 1
        pages.append(part + "\n\n" + footer.format(left=left) if left else part)
    return pages


_FULLWIDTH = str.maketrans("０１２３４５６７８９", "0123456789")
_CN_NUMBERS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_CHOICE = re.compile(r"^(?:选|选择|回复|第)?\s*([0-9]{1,2}|[一二两三四五六七八九十])\s*(?:个|项|号|条)?\s*[.。、,，!！]?$")


def choice_number(text: str) -> Optional[int]:
    """The option a user picked by typing "2", "２", "选2", "第二个" ...; None otherwise."""
    m = _CHOICE.match((text or "").strip().translate(_FULLWIDTH))
    if not m:
        return None
    value = m.group(1)
    return int(value) if value.isdigit() else _CN_NUMBERS[value]


class BoundedMemory:
    """A per-user dict with a size bound (least recently used goes first) and an age limit."""

    def __init__(self, max_items: int = 10000, ttl: float = 24 * 3600.0) -> None:
        self.max_items = max_items
        self.ttl = ttl
        self._data: "OrderedDict[str, Tuple[float, Any]]" = OrderedDict()

    def set(self, key: str, value: Any) -> None:
        self._data.pop(key, None)
        self._data[key] = (time.monotonic(), value)
        while len(self._data) > self.max_items:
            self._data.popitem(last=False)

    def get(self, key: str) -> Any:
        item = self._data.get(key)
        if item is None:
            return None
        stamp, value = item
        if time.monotonic() - stamp > self.ttl:
            self._data.pop(key, None)
            return None
        self._data.move_to_end(key)
        return value

    def pop(self, key: str) -> Any:
        item = self._data.pop(key, None)
        return None if item is None else item[1]

    def __len__(self) -> int:
        return len(self._data)


class ButtonMemory(BoundedMemory):
    """The buttons of the last reply each user saw, so "2" can mean the second button."""

    def remember(self, user: str, buttons: Sequence[Button]) -> None:
        if buttons:
            self.set(user, list(buttons))
        else:
            self.pop(user)

    def resolve(self, user: str, text: str) -> Optional[str]:
        buttons = self.get(user)
        if not buttons:
            return None
        number = choice_number(text)
        if number is not None:
            return buttons[number - 1][1] if 1 <= number <= len(buttons) else None
        wanted = re.sub(r"\s+", "", text or "")
        for title, payload in buttons:
            if wanted and wanted == re.sub(r"\s+", "", title):
                return payload
        return None


class PageMemory(BoundedMemory):
    """Pages of a long (or late) answer still to show to each user."""

    def put(self, user: str, pages: Sequence[str]) -> None:
        if pages:
            self.set(user, deque(pages))
        else:
            self.pop(user)

    def has(self, user: str) -> bool:
        return bool(self.get(user))

    def next(self, user: str) -> Optional[str]:
        pages: Optional[Deque[str]] = self.get(user)
        if not pages:
            return None
        page = pages.popleft()
        if not pages:
            self.pop(user)
        return page


def is_continue(text: str, texts: Optional[Mapping[str, Any]] = None) -> bool:
    texts = texts or _texts()
    word = re.sub(r"[\s。.!！~～]+", "", text or "")
    return word in set(texts.get("continue_words") or [])


# --------------------------------------------------------------------------------------------------
# retries


@dataclass
class Outcome:
    """The answer to one WeChat message: a passive text, or None for "success" (nothing now)."""

    text: Optional[str] = None


class InFlight:
    """Answers by MsgId for WeChat's retries, including messages still being handled.

    ``claim(key)`` returns (True, future) to the first request, which must set the future's result;
    a retry gets (False, the same future) and waits for it. Entries live ``ttl`` seconds (WeChat
    retries within about 15 s) and at most ``max_items`` are kept.
    """

    def __init__(self, ttl: float = 600.0, max_items: int = 10000) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._items: "OrderedDict[str, Tuple[float, asyncio.Future]]" = OrderedDict()

    def _purge(self, now: float) -> None:
        while self._items:
            key, (stamp, fut) = next(iter(self._items.items()))
            if now - stamp > self.ttl or (len(self._items) > self.max_items and fut.done()):
                self._items.popitem(last=False)
            else:
                break
        while len(self._items) > 4 * self.max_items:  # hard bound even if nothing finished
            self._items.popitem(last=False)

    def claim(self, key: str) -> Tuple[bool, "asyncio.Future[Outcome]"]:
        now = time.monotonic()
        self._purge(now)
        item = self._items.get(key)
        if item is not None and now - item[0] <= self.ttl:
            return False, item[1]
        fut: "asyncio.Future[Outcome]" = asyncio.get_running_loop().create_future()
        self._items[key] = (now, fut)
        return True, fut

    def __len__(self) -> int:
        return len(self._items)


# --------------------------------------------------------------------------------------------------
# customer-service message API


class CustomerServiceError(Exception):
    def __init__(self, errcode: Any, errmsg: str = "") -> None:
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class CustomerService:
    """WeChat's customer-service message API with a cached stable access token (aiohttp, async).

    ``send_text`` posts ``{"touser", "msgtype": "text", "text": {"content"}}`` as real UTF-8; on an
    expired or invalid token (40001, 40014, 42001) it refreshes the token once and retries.
    """

    TOKEN_ERRORS = {40001, 40014, 42001}

    def __init__(self, app_id: str, secret: str, base_url: str = DEFAULT_API_BASE, timeout: float = 10.0) -> None:
        self.app_id = app_id
        self.secret = secret
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._token: Optional[str] = None
        self._expires = 0.0
        self._lock: Optional[asyncio.Lock] = None
        self.token_fetches = 0

    async def _post(self, session: Any, path: str, payload: Dict[str, Any], params: Optional[Dict[str, str]] = None) -> Dict[str, Any]:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        async with session.post(self.base_url + path, data=body, params=params,
                                headers={"Content-Type": "application/json; charset=utf-8"}) as resp:
            data = await resp.json(content_type=None)
        if not isinstance(data, dict):
            raise CustomerServiceError(-1, f"odd answer from {path}")
        return data

    async def _fetch_token(self, session: Any, force: bool) -> str:
        self.token_fetches += 1
        data = await self._post(session, "/cgi-bin/stable_token", {
            "grant_type": "client_credential", "appid": self.app_id, "secret": self.secret, "force_refresh": force,
        })
        token = data.get("access_token")
        if not token:
            raise CustomerServiceError(data.get("errcode", -1), str(data.get("errmsg", "no access_token")))
        try:
            expires_in = int(data.get("expires_in", 7200))
        except (TypeError, ValueError):
            expires_in = 7200
        self._token = str(token)
        self._expires = time.monotonic() + max(60, expires_in - 300)
        return self._token

    async def access_token(self, session: Any, refresh: bool = False) -> str:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not refresh and self._token and time.monotonic() < self._expires:
                return self._token
            bad = self._token if refresh else None
            token = await self._fetch_token(session, force=False)
            if bad is not None and token == bad:  # the platform still hands out the rejected token
                token = await self._fetch_token(session, force=True)
            return token

    async def send_text(self, openid: str, content: str) -> None:
        import aiohttp

        payload = {"touser": openid, "msgtype": "text", "text": {"content": content}}
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            for attempt in range(2):
                token = await self.access_token(session, refresh=attempt > 0)
                data = await self._post(session, "/cgi-bin/message/custom/send", payload, {"access_token": token})
                code = data.get("errcode", 0)
                if code in (0, "0"):
                    return
                if attempt == 0 and code in self.TOKEN_ERRORS:
                    continue
                raise CustomerServiceError(code, str(data.get("errmsg", "")))
