"""Tests for the fake Bot API, driven by the real python-telegram-bot client."""

from __future__ import annotations

import asyncio
import datetime as dtm
import ssl
import threading
import time

import httpx
import pytest
import telegram
from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
)
from telegram.request import HTTPXRequest

from .botapi import FakeBotAPI

CHAT = 4242

# PTB 22 itself warns whenever it builds a RetryAfter or reads an int duration (they become
# timedeltas in v23); that is the client's business, not the fake's.
pytestmark = pytest.mark.filterwarnings(
    "ignore:.*will be of type `datetime.timedelta`:telegram.warnings.PTBDeprecationWarning"
)


# Each default HTTPXRequest loads the CA bundle (~70 ms); the fake is plain HTTP, so share one.
_HTTPX_KWARGS = {"verify": ssl.create_default_context()}


def make_bot(fake: FakeBotAPI, token: str | None = None) -> telegram.Bot:
    return telegram.Bot(
        token or fake.token,
        base_url=f"{fake.url}/bot",
        base_file_url=f"{fake.url}/file/bot",
        request=HTTPXRequest(httpx_kwargs=_HTTPX_KWARGS),
        get_updates_request=HTTPXRequest(httpx_kwargs=_HTTPX_KWARGS),
    )


def seconds(obj: object, attr: str) -> float:
    """Read a PTB duration attribute as seconds, whether it is an int or a timedelta."""
    value = getattr(obj, attr)
    return value.total_seconds() if isinstance(value, dtm.timedelta) else value


@pytest.fixture(scope="module")
def server():
    with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
def fake(server):
    server.reset()
    return server


@pytest.fixture
async def bot(fake):
    async with make_bot(fake) as bot:
        yield bot


async def test_get_me_reports_username(bot):
    me = await bot.get_me()
    assert me.username == "KeyworkerTestBot"
    assert me.is_bot
    assert bot.username == "KeyworkerTestBot"


async def test_push_text_then_offset_confirms_and_forgets(fake, bot):
    pushed = fake.push_text(CHAT, "hello", first_name="Ria", username="ria")
    updates = await bot.get_updates(timeout=0)
    assert [u.update_id for u in updates] == [pushed["update_id"]]
    assert updates[0].message.text == "hello"
    assert updates[0].message.from_user.username == "ria"
    # Unconfirmed updates are delivered again, like Telegram does.
    assert len(await bot.get_updates(timeout=0)) == 1

    offset = pushed["update_id"] + 1
    assert await bot.get_updates(offset=offset, timeout=0) == ()
    assert fake.confirmed_offset == offset
    assert fake.pending_updates() == []


async def test_update_ids_increment_and_redelivery_is_delivered_once(fake, bot):
    first = fake.push_text(CHAT, "one")
    second = fake.push_text(CHAT, "two")
    assert second["update_id"] == first["update_id"] + 1
    offset = second["update_id"] + 1
    await bot.get_updates(offset=offset, timeout=0)

    fake.push_update(first)
    again = await bot.get_updates(offset=offset, timeout=0)
    assert [u.update_id for u in again] == [first["update_id"]]
    assert await bot.get_updates(offset=offset, timeout=0) == ()


async def test_long_poll_returns_when_update_pushed_from_another_thread(fake, bot):
    timer = threading.Timer(0.2, fake.push_text, args=(CHAT, "late"))
    started = time.monotonic()
    timer.start()
    try:
        updates = await bot.get_updates(timeout=10)
    finally:
        timer.cancel()
    elapsed = time.monotonic() - started
    assert [u.message.text for u in updates] == ["late"]
    assert 0.15 < elapsed < 2


async def test_long_poll_times_out_empty(bot):
    started = time.monotonic()
    assert await bot.get_updates(timeout=dtm.timedelta(milliseconds=300)) == ()
    assert 0.25 < time.monotonic() - started < 2


async def test_send_message_recorded_with_decoded_markup(fake, bot):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("I'm OK", callback_data="ok")]])
    first = await bot.send_message(CHAT, "How are you?", reply_markup=markup)
    second = await bot.send_message(CHAT, "Still here")
    assert second.message_id == first.message_id + 1
    assert first.reply_markup == markup
    assert first.from_user.username == "KeyworkerTestBot"
    assert first.chat.type == "private"

    sent = fake.sent_messages(CHAT)
    assert sent[0]["chat_id"] == CHAT
    assert sent[0]["reply_markup"] == {"inline_keyboard": [[{"text": "I'm OK", "callback_data": "ok"}]]}
    assert fake.sent_texts(CHAT) == ["How are you?", "Still here"]
    assert [c["status"] for c in fake.calls("sendMessage")] == [200, 200]


async def test_fail_next_429_raises_retry_after_then_succeeds(fake, bot):
    fake.fail_next("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(CHAT, "first")
    assert seconds(caught.value, "retry_after") == 7
    await bot.send_message(CHAT, "second")
    assert fake.sent_texts(CHAT) == ["second"]
    assert [c["status"] for c in fake.calls("sendMessage")] == [429, 200]


async def test_fail_next_5xx_raises_network_error(fake, bot):
    fake.fail_next("getMe", status=502, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError):
            await bot.get_me()
    assert (await bot.get_me()).username == "KeyworkerTestBot"


async def test_block_chat_raises_forbidden(fake, bot):
    fake.block_chat(CHAT)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(CHAT, "hi")
    await bot.send_message(CHAT + 1, "other chat still works")
    fake.unblock_chat(CHAT)
    await bot.send_message(CHAT, "hi again")
    assert fake.sent_texts(CHAT) == ["hi again"]


async def test_voice_and_photo_downloads_return_pushed_bytes(fake, bot):
    fake.push_voice(CHAT, b"OggS-voice-bytes", duration=4)
    fake.push_photo(CHAT, b"\xff\xd8jpeg-bytes", caption="me")
    voice_msg, photo_msg = [u.message for u in await bot.get_updates(timeout=0)]

    assert seconds(voice_msg.voice, "duration") == 4
    voice_file = await voice_msg.voice.get_file()
    assert bytes(await voice_file.download_as_bytearray()) == b"OggS-voice-bytes"

    assert len(photo_msg.photo) > 1 and photo_msg.caption == "me"
    photo_file = await photo_msg.photo[-1].get_file()
    assert bytes(await photo_file.download_as_bytearray()) == b"\xff\xd8jpeg-bytes"


async def test_set_webhook_records_url_and_secret(fake, bot):
    fake.push_text(CHAT, "pending")
    try:
        assert await bot.set_webhook("https://example.org/tg", secret_token="s3cret_token")
        assert fake.webhook["url"] == "https://example.org/tg"
        assert fake.webhook["secret_token"] == "s3cret_token"
        info = await bot.get_webhook_info()
        assert info.url == "https://example.org/tg" and info.pending_update_count == 1
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
    finally:
        await bot.delete_webhook(drop_pending_updates=True)
    assert fake.webhook is None
    assert fake.pending_updates() == []


async def test_wrong_token_is_rejected(fake):
    with pytest.raises(InvalidToken):
        async with make_bot(fake, token="999:WRONG"):
            pass


async def test_unknown_method_is_not_found(bot):
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")


async def test_callback_answer_and_edit(fake, bot):
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="yes")]])
    sent = await bot.send_message(CHAT, "Coming on Friday?", reply_markup=markup)
    fake.push_callback(CHAT, "yes", sent.message_id)
    (update,) = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query.data == "yes" and query.message.message_id == sent.message_id
    assert query.message.reply_markup == markup

    assert await bot.answer_callback_query(query.id, text="Thanks")
    edited = await bot.edit_message_text("See you Friday", chat_id=CHAT, message_id=sent.message_id)
    assert edited.text == "See you Friday" and edited.reply_markup is None
    with pytest.raises(BadRequest, match="not modified"):
        await bot.edit_message_text("See you Friday", chat_id=CHAT, message_id=sent.message_id)
    assert await bot.delete_message(CHAT, sent.message_id)
    with pytest.raises(BadRequest, match="not found"):
        await bot.delete_message(CHAT, sent.message_id)


async def test_command_and_other_update_kinds_parse(fake, bot):
    fake.push_command(CHAT, "start", "invite123")
    fake.push_sticker(CHAT, "🙂")
    fake.push_location(CHAT, 54.0, -1.5)
    fake.push_document(CHAT, b"%PDF", "plan.pdf", "application/pdf")
    fake.push_video_note(CHAT, b"mp4")
    command, sticker, location, document, video_note = [u.message for u in await bot.get_updates()]
    assert command.text == "/start invite123"
    assert command.entities[0].type == "bot_command" and command.entities[0].length == len("/start")
    assert sticker.sticker.emoji == "🙂"
    assert (location.location.latitude, location.location.longitude) == (54.0, -1.5)
    assert document.document.file_name == "plan.pdf"
    assert video_note.video_note is not None


async def test_uploads_record_filename_bytes_and_caption(fake, bot):
    await bot.send_document(CHAT, document=b"%PDF-1.4", filename="notes.pdf", caption="Your notes")
    photo = await bot.send_photo(CHAT, photo=b"\x89PNG", filename="hello.png")
    files = fake.sent_files(CHAT)
    assert [(f["method"], f["filename"], f["data"], f["caption"]) for f in files] == [
        ("sendDocument", "notes.pdf", b"%PDF-1.4", "Your notes"),
        ("sendPhoto", "hello.png", b"\x89PNG", None),
    ]
    assert photo.photo[-1].file_id


async def test_chat_action_and_commands(fake, bot):
    assert await bot.send_chat_action(CHAT, "typing")
    assert await bot.set_my_commands([("start", "Start"), ("help", "Get help")])
    assert fake.commands == [{"command": "start", "description": "Start"},
                             {"command": "help", "description": "Get help"}]
    assert fake.calls("sendChatAction")[0]["params"] == {"chat_id": CHAT, "action": "typing"}


async def test_wait_for_sent_async_does_not_block_loop(fake, bot):
    async def send_later():
        await asyncio.sleep(0.1)
        await bot.send_message(CHAT, "later")

    task = asyncio.create_task(send_later())
    sent = await fake.wait_for_sent_async(CHAT, timeout=3)
    await task
    assert [m["text"] for m in sent] == ["later"]


def test_wait_for_sent_times_out_with_clear_message(fake):
    fake.push_text(CHAT, "ignored")
    httpx.post(f"{fake.url}/bot{fake.token}/sendMessage", json={"chat_id": 7, "text": "elsewhere"})
    with pytest.raises(AssertionError, match=r"expected 1 sendMessage to chat 4242.*elsewhere"):
        fake.wait_for_sent(CHAT, timeout=0.1)


def test_json_get_and_bad_token_over_plain_http(fake):
    base = f"{fake.url}/bot{fake.token}"
    assert httpx.get(f"{base}/getMe").json()["result"]["username"] == "KeyworkerTestBot"
    reply = httpx.post(f"{base}/sendMessage", json={"chat_id": "7", "text": "123"}).json()
    assert reply["ok"] and reply["result"]["text"] == "123"
    assert fake.sent_messages(7)[0]["text"] == "123"
    wrong = httpx.get(f"{fake.url}/bot1:nope/getMe")
    assert wrong.status_code == 401
    assert wrong.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}
    missing = httpx.post(f"{base}/fooBar")
    assert missing.status_code == 404
    assert missing.json() == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}


async def test_enforce_limits_answers_429_for_fast_sends():
    with FakeBotAPI(enforce_limits=True, global_per_second=3) as fake:
        async with make_bot(fake) as bot:
            results = []
            for i in range(3):
                try:
                    results.append(await bot.send_message(CHAT, f"m{i}"))
                except RetryAfter as exc:
                    results.append(exc)
            assert isinstance(results[0], telegram.Message)
            assert all(isinstance(r, RetryAfter) and seconds(r, "retry_after") == 1 for r in results[1:])
            assert fake.too_many_requests == 2

            # The global limit applies across chats.
            outcomes = await asyncio.gather(
                *(bot.send_message(100 + i, "x") for i in range(3)), return_exceptions=True
            )
            assert sum(isinstance(o, RetryAfter) for o in outcomes) == 1


async def test_stop_ends_pending_long_poll_quickly():
    fake = FakeBotAPI().start()
    thread_name = f"FakeBotAPI:{fake.url.rsplit(':', 1)[1]}"
    async with make_bot(fake) as bot:
        poll = asyncio.create_task(bot.get_updates(timeout=30))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await asyncio.to_thread(fake.stop)
        assert time.monotonic() - started < 3
        result = await asyncio.gather(poll, return_exceptions=True)
        assert result[0] == () or isinstance(result[0], NetworkError)
    assert thread_name not in [t.name for t in threading.enumerate()]
