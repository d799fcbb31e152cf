"""Sends through the Telegram channel over aiohttp: what arrives at the Bot API, and what each kind of
trouble means to the outbox (wait as asked, try again later, unreachable), as it was over httpx."""

from __future__ import annotations

import socket

import pytest

from bot.channels.base import Attachment, Button, ChannelUnreachable, Outgoing, RetryLater, SendFailed
from bot.channels.telegram import TelegramChannel
from bot.channels.transport import AiohttpRequest
from bot.content import Content
from tests.fakes.botapi import FakeBotAPI

CHAT = 4242


@pytest.fixture
async def channel(fake_bot_api: FakeBotAPI):
    channel = TelegramChannel(fake_bot_api.token, fake_bot_api.url, Content.load(), send_timeout=0.5, per_chat_rate=1000)
    await channel.start()
    yield channel
    await channel.stop()


def outgoing(text: str, **extra: object) -> Outgoing:
    return Outgoing(message_id=1, young_person_id=1, text=text, **extra)  # type: ignore[arg-type]


async def test_a_reply_arrives_with_its_words_buttons_and_silence(channel: TelegramChannel, fake_bot_api: FakeBotAPI) -> None:
    assert isinstance(channel.bot.request, AiohttpRequest)
    sent_id = await channel.send(str(CHAT), outgoing(
        "Thanks Sam — Jo's back at 9 tomorrow 🌱", buttons=((Button("Yes", "ci:yes"), Button("Not now", "ci:no")),), silent=True,
    ))

    [sent] = fake_bot_api.sent_messages(CHAT)
    assert sent["text"] == "Thanks Sam — Jo's back at 9 tomorrow 🌱"
    assert sent["reply_markup"]["inline_keyboard"] == [
        [{"text": "Yes", "callback_data": "ci:yes"}, {"text": "Not now", "callback_data": "ci:no"}]
    ]
    assert sent["disable_notification"] is True
    assert sent_id is not None and int(sent_id) > 0


async def test_a_file_arrives_with_its_name_bytes_and_caption(channel: TelegramChannel, fake_bot_api: FakeBotAPI) -> None:
    data = b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" + bytes(range(256))
    await channel.send(str(CHAT), outgoing(
        "Your appointment, for your calendar", attachment=Attachment("Jo – café review.ics", "text/calendar", data),
    ))

    [upload] = fake_bot_api.sent_files(CHAT)
    assert (upload["method"], upload["filename"], upload["data"]) == ("sendDocument", "Jo – café review.ics", data)
    assert upload["caption"] == "Your appointment, for your calendar"


async def test_flood_control_asks_the_outbox_to_wait_as_long_as_telegram_said(
    channel: TelegramChannel, fake_bot_api: FakeBotAPI
) -> None:
    fake_bot_api.fail_next("sendMessage", status=429, retry_after=7)
    with pytest.raises(RetryLater) as waited:
        await channel.send(str(CHAT), outgoing("hello"))
    assert waited.value.seconds == 7
    await channel.send(str(CHAT), outgoing("hello again"))
    assert fake_bot_api.sent_texts(CHAT) == ["hello again"]


async def test_a_server_error_or_a_hanging_call_is_tried_again_later(channel: TelegramChannel, fake_bot_api: FakeBotAPI) -> None:
    fake_bot_api.fail_next("sendMessage", status=502, description="Bad Gateway")
    with pytest.raises(SendFailed):
        await channel.send(str(CHAT), outgoing("one"))

    fake_bot_api.stall_next("sendMessage", seconds=3)  # longer than the channel's 0.5 s
    with pytest.raises(SendFailed, match="TimedOut"):
        await channel.send(str(CHAT), outgoing("two"))
    assert fake_bot_api.sent_texts(CHAT) == []


async def test_a_blocked_chat_is_unreachable_and_a_refused_connection_fails_for_now(
    channel: TelegramChannel, fake_bot_api: FakeBotAPI
) -> None:
    fake_bot_api.block_chat(CHAT)
    with pytest.raises(ChannelUnreachable):
        await channel.send(str(CHAT), outgoing("hello"))

    with socket.socket() as unused:  # a port nobody listens on
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    nowhere = TelegramChannel(fake_bot_api.token, f"http://127.0.0.1:{port}", Content.load(), per_chat_rate=1000)
    await nowhere.bot.request.initialize()
    try:
        with pytest.raises(SendFailed, match="NetworkError"):
            await nowhere.send(str(CHAT), outgoing("hello"))
    finally:
        await nowhere.bot.request.shutdown()
