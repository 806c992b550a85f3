"""Rasa's socketio channel, with one bug fixed: custom payloads.

Rasa 3.6's ``SocketIOOutput.send_custom_json`` calls ``sio.emit(event, **json_message)``: every key of
the payload becomes a keyword argument of ``emit()``. A document (``{"type": "document", "title": ...}``)
or a practice marker (``{"practice": "on"}``) therefore raises ``TypeError: emit() got an unexpected
keyword argument`` and the browser never gets it (nor anything after it in that turn).

This channel is Rasa's own in every other respect (same name ``socketio``, same settings, same
``/socket.io`` path and events, so third-party widgets such as rasa-webchat work unchanged). Its
output sends a custom payload as one ``bot_uttered`` message ``{"custom": payload}``; a document also
carries a flattened ``text`` so a client that only reads ``text`` still shows it.

Every message is screened as on the REST channel (xieshang.guard): an empty one is answered without
asking the bot, a long one is cut with a note, a flood gets a polite line, and a failed custom action
(the action server is down) ends the turn with an apology instead of silence.

A connection from a page of another web site is refused (``XIESHANG_CORS`` lists the sites allowed
besides the bot's own address; bot/channels/cors.py).
"""
from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Text

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketIOInput as RasaSocketIOInput
from rasa.core.channels.socketio import SocketIOOutput as RasaSocketIOOutput
from sanic import Blueprint

from bot.channels.cors import restrict_socketio_origins
from bot.channels.rest import _action_failures, install_watcher
from xieshang.guard import APOLOGY, Guard, RateLimiter, sender_ref

logger = logging.getLogger(__name__)


def custom_message(payload: Any) -> Dict[Text, Any]:
    """The ``bot_uttered`` message for a custom payload (plain function, tested)."""
    if not isinstance(payload, dict):
        return {"custom": payload}
    payload = {k: v for k, v in payload.items() if k != "room"}
    message: Dict[Text, Any] = {"custom": payload}
    if payload.get("type") == "document" and isinstance(payload.get("text"), str):
        title = str(payload.get("title") or "").strip()
        message["text"] = f"【{title}】\n{payload['text']}" if title else payload["text"]
    return message


class SocketIOOutput(RasaSocketIOOutput):
    async def send_custom_json(self, recipient_id: Text, json_message: Dict[Text, Any], **kwargs: Any) -> None:
        await self._send_message(recipient_id, custom_message(json_message))


class SocketIOInput(RasaSocketIOInput):
    """Drop-in replacement for ``socketio`` in credentials.yml (same settings)."""

    @classmethod
    def name(cls) -> Text:
        return "socketio"

    def get_output_channel(self) -> Optional[OutputChannel]:
        output = super().get_output_channel()
        if isinstance(output, RasaSocketIOOutput) and not isinstance(output, SocketIOOutput):
            output = SocketIOOutput(output.sio, output.bot_message_evt)
        return output

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        guard = Guard(RateLimiter())
        install_watcher()

        async def handle(message: UserMessage) -> Any:
            out = message.output_channel
            if isinstance(out, RasaSocketIOOutput) and not isinstance(out, SocketIOOutput):
                out = message.output_channel = SocketIOOutput(out.sio, out.bot_message_evt)
            sender = message.sender_id
            # the same screening as the REST channel (xieshang.guard): empty, too long, floods, repeats
            screened = guard.screen(sender, message.text if isinstance(message.text, (str, bytes)) else None)
            if screened.reply is not None:
                return await out.send_text_message(sender, screened.reply)
            for note in screened.notes:
                await out.send_text_message(sender, note)
            message.text = screened.text
            failures: List[str] = []
            token = _action_failures.set(failures)
            try:
                await on_new_message(message)
            except Exception as e:  # noqa: BLE001 - the user gets an answer, not silence
                logger.error("socketio: handling a message from %s failed: %s", sender_ref(sender), type(e).__name__)
                failures.append(type(e).__name__)
            finally:
                _action_failures.reset(token)
            if failures:  # e.g. the action server is down
                logger.warning("socketio: apologised to %s (failed: %s)", sender_ref(sender), ", ".join(failures))
                await out.send_text_message(sender, APOLOGY)

        bp = super().blueprint(handle)
        # browsers apply no CORS to WebSockets: refuse other sites' pages at connect (bot/channels/cors.py)
        restrict_socketio_origins(self.sio, namespace=self.namespace)
        return bp
