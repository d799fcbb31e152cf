"""The core loop over Telegram: invite, /start, message, live console, reply, delivery."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from tests.conftest import Service
from tests.fakes.botapi import FakeBotAPI

SAM_CHAT = 5550001


async def invite_for(client: httpx.AsyncClient, full_name: str, preferred: str = "") -> tuple[int, str]:
    """Add a young person through the console and return their id and invite code."""
    page = await client.post("/young-people", data={"full_name": full_name, "preferred_name": preferred})
    assert page.status_code == 200, page.text
    code = re.search(r'id="invite-code">([^<]+)<', page.text).group(1)
    person_id = int(re.search(r'href="/young-people/(\d+)"', page.text).group(1))
    return person_id, code


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
