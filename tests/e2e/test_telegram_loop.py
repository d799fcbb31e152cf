"""The core loop over Telegram: invite, /start, message, live console, reply, delivery."""

from __future__ import annotations

import asyncio

import httpx
from pydantic import SecretStr

from bot.clock import FrozenClock
from config.settings import Settings
from tests.conftest import Service, Sleeps, invite_for, running_service
from tests.fakes.botapi import FakeBotAPI

SAM_CHAT = 5550001


async def next_event(lines: httpx.Response, name: str, containing: str = "", timeout: float = 10) -> str:
    """Read server-sent events until one with the given name (and text) arrives; return its data."""

    async def read() -> str:
        current, data = None, []
        async for line in lines.aiter_lines():
            if line.startswith("event:"):
                current = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line == "":
                if current == name and containing in "\n".join(data):
                    return "\n".join(data)
                current, data = None, []
        raise AssertionError(f"stream ended before a {name!r} event")

    return await asyncio.wait_for(read(), timeout)


async def test_invite_start_message_reply(service: Service, fake_bot_api: FakeBotAPI) -> None:
    jo = await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Samira Haddad", "Sam")

    fake_bot_api.push_command(SAM_CHAT, "start", code)
    welcome = await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=2)
    assert "Hi Sam" in welcome[0]["text"] and "Jo" in welcome[0]["text"]
    assert "Who sees them" in welcome[1]["text"]

    async with console.stream("GET", f"/events?young_person={person_id}") as stream:
        fake_bot_api.push_text(SAM_CHAT, "can we meet on friday? 🙂")
        fragment = await next_event(stream, "message", containing="can we meet on friday? 🙂")
        assert 'class="msg in young_person"' in fragment

    caseload = await console.get("/young-people")
    assert "Sam" in caseload.text

    page = await console.get(f"/young-people/{person_id}")
    assert "can we meet on friday? 🙂" in page.text

    reply = await console.post(
        f"/young-people/{person_id}/messages", data={"body": "Yes, 3pm at the hub?"}, headers={"HX-Request": "true"}
    )
    assert reply.status_code == 200
    sent = await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=3)
    assert sent[2]["text"] == "Jo:\nYes, 3pm at the hub?"
    await service.idle()
    page = await console.get(f"/young-people/{person_id}")
    assert "Sent" in page.text
    assert jo.id  # the reply came from Jo's own account


async def test_stranger_without_code_is_told_kindly_and_nothing_is_stored(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake_bot_api.push_text(777, "hello?")
    text = (await fake_bot_api.wait_for_sent_async(777))[0]["text"]
    assert "ask your worker" in text
    async with service.rt.db() as session:
        from sqlalchemy import func, select

        from models import Message

        assert await session.scalar(select(func.count()).select_from(Message)) == 0


async def test_a_new_bot_token_keeps_every_link_and_the_whole_conversation(
    settings: Settings, clock: FrozenClock, sleeps: Sleeps, fake_bot_api: FakeBotAPI
) -> None:
    async with running_service(settings, clock, sleeps) as before:
        await before.staff("jo", "Jo")
        console = await before.login("jo")
        person_id, code = await invite_for(console, "Samira Haddad", "Sam")
        fake_bot_api.push_command(SAM_CHAT, "start", code)
        await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=2)
        fake_bot_api.push_text(SAM_CHAT, "said with the old token")
        await before.until_stored("said with the old token")
        secrets_before = dict(before.totp_secrets)

    # The council revokes the token at BotFather and puts the new one in the configuration.
    new_token = "123456:ROTATED-TOKEN"
    fake_bot_api.token = new_token
    rotated = settings.model_copy(update={"telegram_token": SecretStr(new_token)})
    async with running_service(rotated, clock, sleeps) as after:
        after.totp_secrets.update(secrets_before)
        fake_bot_api.push_text(SAM_CHAT, "said with the new token")
        await after.until_stored("said with the new token")
        console = await after.login("jo")
        page = await console.get(f"/young-people/{person_id}")
        assert "said with the old token" in page.text and "said with the new token" in page.text
        await console.post(f"/young-people/{person_id}/messages", data={"body": "Got both, Sam"})
        sent = await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=3)
        assert sent[-1]["text"] == "Jo:\nGot both, Sam"
        assert "ask your worker" not in " ".join(m["text"] for m in sent)  # never treated as a stranger
