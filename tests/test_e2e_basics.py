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
