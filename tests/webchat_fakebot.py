"""A tiny stand-in for `rasa run` used by the browser tests of the web chat: the real channels
(bot.channels.webchat + bot.channels.socketio_channel, with Rasa's own OutputChannel.send_response),
but a scripted bot instead of a trained model, so every kind of reply can be checked exactly.

    python tests/webchat_fakebot.py PORT

GET /fake/received lists what the bot received: [{"sender", "text", "metadata"}].
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from urllib.parse import urljoin

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rasa.core.channels.channel import UserMessage  # noqa: E402
from sanic import Sanic, response  # noqa: E402

from bot.channels.socketio_channel import SocketIOInput  # noqa: E402
from bot.channels.webchat import WebChatInput  # noqa: E402

DOC_TEXT = "您好，我是借呗的用户张三。\n最近收入下降，想申请分12期，每月还2000元。\n<b>这不是粗体</b> <script>alert(1)</script>"
REPLIES = {
    "你好": [{"text": "你好，我是测试机器人。", "buttons": [
        {"title": "帮我写话术", "payload": "/want_doc"}, {"title": "进入练习", "payload": "/practice"}]}],
    "/want_doc": [
        {"text": "好的，话术写好了："},
        {"custom": {"type": "document", "title": "协商电话话术", "text": DOC_TEXT,
                    "filename": "xieshang-call-script.txt", "mime": "text/plain"}},
        {"custom": {"type": "document", "title": "还款日历", "text": "BEGIN:VCALENDAR\nEND:VCALENDAR",
                    "filename": "../../etc/还款日历.ics", "mime": "text/calendar"}},
    ],
    "/practice": [{"text": "【练习模式】喂，你好，这里是平台客服。"}, {"custom": {"practice": "on"}}],
    "退出": [{"text": "练习结束。"}, {"custom": {"practice": "off"}}],
    "链接": [{"text": "官网 https://example.org/a?b=1。 坏的 javascript:alert(1) 和 <a href=\"javascript:alert(2)\">点我</a>"}],
    "/delete_my_data": [{"text": "确定要删除吗？", "buttons": [{"title": "确认删除", "payload": "/affirm"}]}],
    "/affirm": [{"text": "已删除 ✅ 你的内容都已从服务器上清除。"}],
    "/restart": [{"text": "好的，我们重新开始。"}],
}

received = []


async def handle(message: UserMessage) -> None:
    text = message.text or ""
    received.append({"sender": message.sender_id, "text": text, "metadata": message.metadata})
    if text == "慢一点":  # lets a test see the typing indicator
        await asyncio.sleep(1.5)
    replies = REPLIES.get(text)
    if replies is None:
        # echo the user's words back: the page must show them as text, whatever they contain
        replies = [{"text": f"你说的是：{text}"}]
    for reply in replies:
        await message.output_channel.send_response(message.sender_id, dict(reply))


def make_app() -> Sanic:
    app = Sanic("xieshang_fakebot")
    channels = [
        WebChatInput(),
        SocketIOInput(session_persistence=True, metadata_key="customData"),
    ]
    for channel in channels:
        app.blueprint(channel.blueprint(handle), url_prefix=urljoin("/webhooks/", channel.url_prefix()))

    @app.get("/fake/received")
    async def fake_received(_request):
        return response.json(received)

    @app.get("/")
    async def root(_request):
        return response.text("fake bot")

    return app


if __name__ == "__main__":
    port = int(sys.argv[1])
    make_app().run(host="127.0.0.1", port=port, access_log=False, motd=False)
