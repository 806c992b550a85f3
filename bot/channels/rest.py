"""Rasa's REST channel, made sturdy: ``bot.channels.rest.SafeRestInput`` in credentials.yml.

Same name (``rest``), same path (``POST /webhooks/rest/webhook``), same request and reply format as
Rasa's ``RestInput``. In addition:

- every message goes through ``xieshang.guard``: empty messages are answered here without asking the
  bot, long ones are cut with a note, invalid UTF-8 / control characters are dropped, the same
  message again and again gets a gentle line, too many messages a minute get a polite refusal;
- the body is read leniently (invalid UTF-8 inside the JSON is replaced, not a 400);
- it never answers with a 500: any failure becomes a Chinese apology (status 200);
- when a custom action fails (the action server is down or broken: Rasa 3.6's
  ``MessageProcessor._run_action`` logs "Encountered an exception while running action …" and goes
  on without the action's events) or the bot says nothing at all, the reply ends with the apology.
  The failed turn's effects on the state are then taken back (slots filled but never validated,
  a form started or stopped half-way: ``restoring_events``); the message itself stays in the store.
  The same message sent again once the action server is back is handled as if nothing had happened;
- user text is never logged here; senders appear in logs as a salted hash.
"""
from __future__ import annotations

import contextvars
import inspect
import json
import logging
import re
from asyncio import CancelledError
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import ActiveLoop, SlotSet, UserUttered
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from xieshang.guard import APOLOGY, UNREADABLE, Guard, RateLimiter, clean_input, sender_ref

logger = logging.getLogger(__name__)

MAX_SENDER_LENGTH = 255  # the tracker store's sender_id column
PROCESSOR_LOGGER = "rasa.core.processor"
ACTION_FAILURE_LOG = "Encountered an exception while running action"

# Set for the duration of one message: the names of actions that failed while handling it.
_action_failures: contextvars.ContextVar[Optional[List[str]]] = contextvars.ContextVar(
    "xieshang_action_failures", default=None
)


class ActionFailureWatcher(logging.Filter):
    """Notices Rasa's log record of a failed action and notes it for the message being handled.

    Rasa 3.6 swallows the exception of a failed action (e.g. the action server is unreachable:
    ``RemoteAction.run`` raises ``RasaException("Failed to execute custom action …")``) and only logs
    it from ``rasa.core.processor``; this filter is how the channel learns about it. It never drops a
    record.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        failures = _action_failures.get()
        if failures is not None:
            msg = str(record.msg)
            if msg.startswith(ACTION_FAILURE_LOG):
                name = re.match(r"[^']*'([^']*)'", msg)
                failures.append(name.group(1) if name else "action")
        return True


def install_watcher() -> None:
    target = logging.getLogger(PROCESSOR_LOGGER)
    if not any(isinstance(f, ActionFailureWatcher) for f in target.filters):
        target.addFilter(ActionFailureWatcher())


def _reply(recipient: Optional[Text], text: Text) -> Dict[Text, Any]:
    return {"recipient_id": recipient, "text": text}


def parse_body(body: bytes) -> Optional[Dict[Text, Any]]:
    """The request's JSON object; invalid UTF-8 is replaced rather than refused. None if unreadable."""
    try:
        data = json.loads((body or b"").decode("utf-8", errors="replace"))
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def parse_sender(value: Any) -> Optional[Text]:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    sender, _ = clean_input(str(value))
    if not sender or len(sender) > MAX_SENDER_LENGTH or "\n" in sender:
        return None
    return sender


def restoring_events(tracker: Any, message_id: Optional[Text]) -> Optional[List[Any]]:
    """Events that undo what the turn of message ``message_id`` changed (slots, active form).

    None when that message is not the latest user message of ``tracker`` any more. The message and
    everything after it stay in the history; only their effects on the state are taken back. (Rasa's
    ``UserUtteranceReverted`` is no use here: inside a form, Rasa folds the user messages of the form
    into it, and a revert would throw the whole form away.)
    """
    events = list(tracker.events)
    index = next(
        (i for i in range(len(events) - 1, -1, -1)
         if isinstance(events[i], UserUttered) and events[i].message_id == message_id),
        None,
    )
    if index is None or any(isinstance(e, UserUttered) for e in events[index + 1:]):
        return None
    before = tracker.init_copy()
    for event in events[:index]:
        before.update(event)
    restore: List[Any] = [
        SlotSet(name, before.slots[name].value)
        for name, slot in tracker.slots.items()
        if name in before.slots and slot.value != before.slots[name].value
    ]
    if before.active_loop_name != tracker.active_loop_name:
        restore.append(ActiveLoop(before.active_loop_name))
    return restore


async def revert_failed_turn(agent: Any, sender: Text, message_id: Optional[Text]) -> bool:
    """Take back the effects of the failed turn of ``message_id`` (if it is still the latest one)."""
    store = getattr(agent, "tracker_store", None)
    locks = getattr(agent, "lock_store", None)
    if store is None or locks is None or not message_id:
        return False
    async with locks.lock(sender):
        tracker = await store.retrieve(sender)
        restore = restoring_events(tracker, message_id) if tracker is not None else None
        if not restore:
            return False
        for event in restore:
            tracker.update(event)
        await store.save(tracker)
    logger.info("rest: took back the effects of a failed turn (%d events)", len(restore))
    return True


class SafeRestInput(RestInput):
    """Drop-in replacement for ``rest`` in credentials.yml. Optional setting: ``rate_limit``
    (messages a minute per sender; default env ``XIESHANG_RATE_LIMIT``, else 20; 0 = off)."""

    @classmethod
    def name(cls) -> Text:
        return "rest"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> "SafeRestInput":
        credentials = credentials or {}
        return cls(rate_limit=credentials.get("rate_limit"))

    def __init__(self, rate_limit: Optional[float] = None) -> None:
        self.guard = Guard(RateLimiter(rate_limit))
        install_watcher()

    async def handle(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]], request: Request
    ) -> HTTPResponse:
        data = parse_body(request.body)
        sender = parse_sender(data.get("sender")) if data is not None else None
        if sender is None:
            logger.info("rest: unreadable request refused (no JSON object or no valid sender)")
            return response.json([_reply(None, UNREADABLE)], status=400)

        screened = self.guard.screen(sender, data.get("message"))
        if screened.reply is not None:
            return response.json([_reply(sender, screened.reply)])

        metadata = data.get("metadata")
        metadata = metadata if isinstance(metadata, dict) else None
        input_channel = data.get("input_channel")
        input_channel = input_channel if isinstance(input_channel, str) and input_channel else self.name()

        if request.args.get("stream", "").lower() == "true":
            return response.stream(
                self.stream_response(on_new_message, screened.text, sender, input_channel, metadata),
                content_type="text/event-stream",
            )

        collector = CollectingOutputChannel()
        failures: List[str] = []
        message = UserMessage(screened.text, collector, sender, input_channel=input_channel, metadata=metadata)
        token = _action_failures.set(failures)
        try:
            await on_new_message(message)
        except CancelledError:
            logger.error("rest: handling a message from %s timed out", sender_ref(sender))
            failures.append("timeout")
        except Exception as e:  # noqa: BLE001 - whatever happens, the user gets an answer
            logger.error("rest: handling a message from %s failed: %s", sender_ref(sender), type(e).__name__)
            failures.append(type(e).__name__)
        finally:
            _action_failures.reset(token)

        replies = [_reply(sender, note) for note in screened.notes] + list(collector.messages)
        if failures or not collector.messages:
            if failures:
                logger.warning("rest: apologised to %s (failed: %s)", sender_ref(sender), ", ".join(failures))
                try:
                    await revert_failed_turn(getattr(request.app.ctx, "agent", None), sender, message.message_id)
                except Exception as e:  # noqa: BLE001 - the store may be what failed
                    logger.error("rest: could not rewind the failed turn of %s: %s", sender_ref(sender), type(e).__name__)
            replies.append(_reply(sender, APOLOGY))
        return response.json(replies)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        module = inspect.getmodule(self)
        bp = Blueprint(f"custom_webhook_{type(self).__name__}", module.__name__ if module else None)

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                return await self.handle(on_new_message, request)
            except Exception as e:  # noqa: BLE001 - never a 500
                logger.error("rest: unexpected failure: %s", type(e).__name__)
                return response.json([_reply(None, APOLOGY)])

        return bp
