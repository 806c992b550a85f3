"""The bot end to end over Rasa's REST channel, with the action server, as `make run` starts it."""
import re

import pytest

from conftest import texts

pytestmark = pytest.mark.e2e
HAN = re.compile(r"[\u4e00-\u9fff]")


def test_contacts_called_gets_chinese_help(servers):
    replies = servers.say("e2e-basic-1", "催收给我妈打电话了怎么办")
    text = texts(replies)
    assert replies and HAN.search(text)
    assert "证据" in text  # the contacts-called triage, not a generic answer


def test_greeting_offers_buttons(servers):
    replies = servers.say("e2e-basic-2", "你好")
    assert any(r.get("buttons") for r in replies)
    assert all(b["payload"].startswith("/") for r in replies for b in r.get("buttons") or [])


def test_http_api_needs_token(servers):
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(servers.url + "/status", timeout=10)
    assert err.value.code in (401, 403)
    with urllib.request.urlopen(f"{servers.url}/status?token={servers.token}", timeout=10) as resp:
        assert resp.status == 200


@pytest.mark.parametrize("origin, allowed", [
    (None, True),                       # not a browser (curl, a server-side client)
    ("{own}", True),                    # the bot's own web chat page
    ("https://evil.example", False),    # a page of another site: browsers apply no CORS to WebSockets
])
def test_socketio_connections_from_other_sites_are_refused(servers, origin, allowed):
    import asyncio

    import socketio

    async def attempt() -> bool:
        client = socketio.AsyncClient(reconnection=False)
        headers = {"Origin": origin.format(own=servers.url)} if origin else {}
        try:
            await client.connect(servers.url, headers=headers, socketio_path="/socket.io",
                                 transports=["polling"], wait_timeout=10)
        except socketio.exceptions.ConnectionError:
            return False
        await client.disconnect()
        return True

    assert asyncio.run(attempt()) is allowed


def _socketio_turns(url: str, session: str, messages, wait: float = 8.0):
    """Send messages over socket.io as the web chat does; the bot's replies to each, in order."""
    import asyncio

    import socketio

    async def run():
        client = socketio.AsyncClient(reconnection=False)
        inbox: "asyncio.Queue" = asyncio.Queue()
        client.on("bot_uttered", lambda data: inbox.put_nowait(data))
        await client.connect(url, socketio_path="/socket.io", transports=["polling"], wait_timeout=10)
        await client.emit("session_request", {"session_id": session})
        await asyncio.sleep(0.3)
        turns = []
        for text in messages:
            await client.emit("user_uttered", {"message": text, "session_id": session})
            got = [await asyncio.wait_for(inbox.get(), wait)]
            while True:  # the rest of this turn's replies
                try:
                    got.append(await asyncio.wait_for(inbox.get(), 0.6))
                except asyncio.TimeoutError:
                    break
            turns.append([g.get("text") or "" for g in got])
        await client.disconnect()
        return turns

    return asyncio.run(run())


def test_socketio_messages_are_screened_like_rest(servers):
    from xieshang.guard import EMPTY, TOO_LONG

    empty, long, normal = _socketio_turns(servers.url, "sio-guard-1", ["   \u200b ", "还不上" * 4000, "催收打给我妈了"])
    assert empty == [EMPTY]  # answered without asking the bot
    assert long[0] == TOO_LONG and len(long) > 1  # the note, then the bot's answer to the cut text
    assert normal and all(t for t in normal)
