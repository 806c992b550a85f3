"""The bot on a WeChat Official Account (公众号): Rasa 3.6 input channel ``wechat``.

Registered in bot/credentials.yml as ``bot.channels.wechat.WeChatInput``; Rasa mounts it at
``/webhooks/wechat/``:

    GET  /webhooks/wechat/          health: {"status": "ok"} (or the reason it is switched off)
    GET  /webhooks/wechat/webhook   WeChat's server check: signature → echo ``echostr``
    POST /webhooks/wechat/webhook   messages, plain (明文), compatible (兼容) or safe (安全) mode

Settings come from credentials.yml or the environment: ``WECHAT_TOKEN`` (without it every request
gets 503 and a clear message), ``WECHAT_APP_ID``, ``WECHAT_ENCODING_AES_KEY`` (absent: plain mode;
present: only encrypted messages are accepted), ``WECHAT_APP_SECRET`` (absent: passive replies only),
``WECHAT_API_BASE`` (the API's base URL, for tests) and a few limits (see ``wechat_core.Settings``).

How a message is answered (WeChat waits 5 seconds, then retries up to three times):

* the bot's messages for one user message become ONE passive reply: texts joined, buttons as
  numbered options ("回复数字 1/2/3 选择"), a typed number later maps back to the button's payload;
* a text over WeChat's limit (2048 bytes) is split into pages; the user gets the next page by
  replying "继续";
* if the bot is not done within ``passive_timeout`` (4.5 s) the answer is "success" and the reply
  goes out later through the customer-service API (when ``WECHAT_APP_SECRET`` is set), else the
  user is told to reply "继续" in a few seconds;
* a retry of a MsgId already being handled waits for the first answer: the conversation never runs
  twice;
* a voice message uses WeChat's speech recognition text; images and others get a short note;
  a new follower gets the bot's greeting;
* if Rasa or the action server fails the user gets a kind apology, never an HTTP 500.

The OpenID is the sender id; logs only show a hash of it. The protocol and reply logic are plain
functions in ``bot/channels/wechat_core.py`` (tested without Rasa).
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable, Dict, List, Optional, Set, Text

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot.channels import wechat_core as core
from bot.channels.wechat_core import Inbound, Outcome, Refused, Settings

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class WeChatOutput(CollectingOutputChannel):
    """Collects the bot's messages of one turn; the channel turns them into one reply."""

    @classmethod
    def name(cls) -> Text:
        return "wechat"


async def read_body(request: Request, limit: int) -> Optional[bytes]:
    """The request body, or None as soon as it is longer than ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        return None
    if request.body or request.stream is None:  # already read (a route without stream=True)
        body = request.body or b""
        return body if len(body) <= limit else None
    buf = bytearray()
    while True:
        chunk = await request.stream.read()
        if chunk is None:
            break
        buf += chunk
        if len(buf) > limit:
            return None
    return bytes(buf)


class WeChatBridge:
    """Runs one WeChat message through the bot and decides the reply (no HTTP here)."""

    def __init__(self, settings: Settings, texts: Optional[Dict[str, Any]] = None) -> None:
        self.settings = settings
        self.texts = texts or core._texts()
        self.inflight = core.InFlight()
        self.buttons = core.ButtonMemory()
        self.pages = core.PageMemory()
        self.late: Dict[str, asyncio.Task] = {}
        self.tasks: Set[asyncio.Task] = set()
        self.api = (core.CustomerService(settings.app_id, settings.app_secret, settings.api_base)
                    if settings.api_enabled else None)

    def _keep(self, task: asyncio.Task) -> asyncio.Task:
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def handle(self, msg: Any, on_new_message: OnNewMessage, deadline: float) -> Outcome:
        key = core.dedup_key(msg)
        first, fut = self.inflight.claim(key)
        if not first:
            logger.info("wechat: retry of %s from %s, answered once", key, core.mask_openid(msg.source))
            try:
                return await asyncio.wait_for(asyncio.shield(fut), max(0.05, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                return Outcome(None)
        try:
            outcome = await self._process(msg, key, on_new_message, deadline)
        except Exception:
            logger.exception("wechat: failed to answer a message from %s", core.mask_openid(msg.source))
            outcome = Outcome(self.texts["apology"])
        if not fut.done():
            fut.set_result(outcome)
        return outcome

    async def _process(self, msg: Any, key: str, on_new_message: OnNewMessage, deadline: float) -> Outcome:
        user = str(msg.source)
        what: Inbound = core.inbound(msg, self.texts)
        logger.info("wechat: %s %s from %s", msg.type, getattr(msg, "event", "") or "", core.mask_openid(user))
        if what.kind == "ignore":
            return Outcome(None)
        if what.kind == "note":
            return Outcome(what.text)
        if what.kind == "subscribe":
            text = self.settings.subscribe_payload
        else:
            if core.is_continue(what.text, self.texts) and (self.pages.has(user) or self._late_running(user)):
                return await self._continue(user, deadline)
            text = self.buttons.resolve(user, what.text) or core.clean_user_text(what.text)
            if not text:
                return Outcome(self.texts["empty_input"])

        out = WeChatOutput()
        message = UserMessage(
            text, out, user, input_channel="wechat", message_id=key,
            metadata={"wechat": {"msg_type": msg.type, "msg_id": key}},
        )
        task = self._keep(asyncio.ensure_future(self._run(on_new_message, message)))
        done, _ = await asyncio.wait({task}, timeout=max(0.0, deadline - time.monotonic()))
        if done:
            pages = self._pages(user, out.messages, task.result())
            self.pages.put(user, pages[1:])
            return Outcome(pages[0])
        # too slow for WeChat's 5 seconds: never cancel the bot, deliver when it is done
        logger.info("wechat: answer for %s is late, %s", core.mask_openid(user),
                    "sending it through the customer-service API" if self.api else "kept for “继续”")
        late = self._keep(asyncio.ensure_future(self._deliver_late(user, task, out)))
        self.late[user] = late
        late.add_done_callback(lambda t, u=user: self.late.pop(u, None) if self.late.get(u) is t else None)
        return Outcome(None) if self.api else Outcome(self.texts["pending"])

    def _late_running(self, user: str) -> bool:
        task = self.late.get(user)
        return task is not None and not task.done()

    async def _run(self, on_new_message: OnNewMessage, message: UserMessage) -> bool:
        try:
            await on_new_message(message)
            return True
        except Exception:
            logger.exception("wechat: the bot failed on a message from %s", core.mask_openid(message.sender_id))
            return False

    def _pages(self, user: str, messages: List[Dict[str, Any]], ok: bool) -> List[str]:
        text, buttons = core.compose(messages, self.texts)
        if not text:
            text, buttons = self.texts["apology"], []
        elif not ok:
            text = text + "\n\n" + self.texts["apology"]
        self.buttons.remember(user, buttons)
        return core.paginate(text, self.settings.max_text_bytes, self.texts)

    async def _deliver_late(self, user: str, task: "asyncio.Task[bool]", out: WeChatOutput) -> None:
        try:
            await self._deliver_late_pages(user, task, out)
        except Exception:  # a background task: log, never leave an unretrieved exception behind
            logger.exception("wechat: could not deliver a late answer to %s", core.mask_openid(user))

    async def _deliver_late_pages(self, user: str, task: "asyncio.Task[bool]", out: WeChatOutput) -> None:
        ok = await task
        pages = self._pages(user, out.messages, ok)
        sent = 0
        if self.api is not None:
            for page in pages[: max(1, self.settings.max_cs_messages)]:
                try:
                    await self.api.send_text(user, page)
                except Exception as e:  # quota, 48 h window, unverified account, network ...
                    logger.warning("wechat: customer-service message to %s failed: %s", core.mask_openid(user), e)
                    break
                sent += 1
        self.pages.put(user, pages[sent:])

    async def _continue(self, user: str, deadline: float) -> Outcome:
        late = self.late.get(user)
        if not self.pages.has(user) and late is not None and not late.done():
            await asyncio.wait({late}, timeout=max(0.0, deadline - time.monotonic()))
        page = self.pages.next(user)
        if page:
            return Outcome(page)
        return Outcome(self.texts["still_working"])


class WeChatInput(InputChannel):
    """WeChat Official Account callback at /webhooks/wechat/webhook."""

    @classmethod
    def name(cls) -> Text:
        return "wechat"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(Settings.from_mapping(credentials))

    def __init__(self, settings: Optional[Settings] = None, **overrides: Any) -> None:
        settings = settings or Settings.from_mapping(None)
        for name, value in overrides.items():
            setattr(settings, name, value)
        self.settings = settings
        self.problem = settings.problem()
        core.install_log_filter()
        if self.problem:
            logger.warning("wechat: %s; /webhooks/wechat/webhook answers 503.", self.problem)
            self.cryptos: List[Any] = []
        else:
            self.cryptos = core.make_cryptos(settings)
            mode = "safe (encrypted)" if self.cryptos else "plain"
            if not self.cryptos:
                logger.warning("wechat: plain mode; messages are not signed. Prefer safe mode (set WECHAT_ENCODING_AES_KEY).")
            logger.info("wechat: %s mode, %s", mode,
                        "customer-service API on" if settings.api_enabled else "passive replies only")
        self.bridge = WeChatBridge(settings)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        bp = Blueprint("wechat_webhook", __name__)
        settings = self.settings

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            if self.problem:
                return response.json({"status": "off", "reason": self.problem}, status=503)
            return response.json({"status": "ok", "mode": "safe" if self.cryptos else "plain"})

        @bp.route("/webhook", methods=["GET"])
        async def verify(request: Request) -> HTTPResponse:
            if self.problem:
                return response.text(self.problem, status=503)
            args = request.args
            try:
                core.check_signature(settings.token, args.get("signature"), args.get("timestamp"), args.get("nonce"))
                core.check_fresh(args.get("timestamp"), settings.max_age)
            except Refused as e:
                logger.warning("wechat: GET refused (%s)", e.reason)
                return response.text("forbidden", status=e.status)
            echostr = args.get("echostr") or ""
            if len(echostr) > 512:
                return response.text("bad echostr", status=400)
            return response.text(echostr, content_type="text/plain; charset=utf-8")

        @bp.route("/webhook", methods=["POST"], stream=True)
        async def receive(request: Request) -> HTTPResponse:
            started = time.monotonic()
            if self.problem:
                return response.text(self.problem, status=503)
            try:
                body = await read_body(request, settings.max_body)
                if body is None:
                    raise Refused(413, "body too large")
                args = request.args
                timestamp, nonce = args.get("timestamp"), args.get("nonce")
                core.check_signature(settings.token, args.get("signature"), timestamp, nonce)
                core.check_fresh(timestamp, settings.max_age)
                root = core.parse_xml(body)
                encrypted = (args.get("encrypt_type") or "raw").lower() == "aes"
                crypto = None
                if encrypted:
                    if not self.cryptos:
                        raise Refused(400, "encrypted message but WECHAT_ENCODING_AES_KEY is not set")
                    xml, crypto = core.decrypt(root, self.cryptos, settings.token, args.get("msg_signature"),
                                               timestamp, nonce)
                else:
                    if self.cryptos and not settings.allow_plain:
                        raise Refused(403, "plain message refused: safe mode is configured")
                    xml = body.decode("utf-8", errors="replace")
                msg = core.parse_message(xml)
            except Refused as e:
                logger.warning("wechat: POST refused with %s (%s)", e.status, e.reason)
                return response.text(e.reason if e.status != 403 else "forbidden", status=e.status)

            # from here on the request is genuine: always 200 (WeChat retries anything else)
            try:
                outcome = await self.bridge.handle(msg, on_new_message, started + settings.passive_timeout)
            except Exception:
                logger.exception("wechat: unexpected error")
                outcome = Outcome(self.bridge.texts["apology"])
            if outcome.text is None:
                return response.text("success")
            try:
                xml = core.render_text_reply(outcome.text, msg, crypto, nonce, timestamp)
            except Exception:
                logger.exception("wechat: cannot render the reply")
                return response.text("success")
            return response.text(xml, content_type="application/xml; charset=utf-8")

        return bp
