"""An open page's live updates end with its session: nothing more is streamed once it is idle past its time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from bot.clock import FrozenClock
from tests.conftest import Service
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat


async def next_events(lines: AsyncIterator[str], *, until: str = "", containing: str = "", timeout: float = 10) -> list[tuple[str, str]]:
    """Server-sent events (name, data) read on, up to the first named `until` with that text (with none: to the stream's end)."""
    found: list[tuple[str, str]] = []

    async def read() -> None:
        current, data = "", []
        async for line in lines:
            if line.startswith("event:"):
                current = line.split(":", 1)[1].strip()
            elif line.startswith("data:"):
                data.append(line[5:].removeprefix(" "))
            elif line == "" and current:
                found.append((current, "\n".join(data)))
                if current == until and containing in found[-1][1]:
                    return
                current, data = "", []

    await asyncio.wait_for(read(), timeout)
    return found


async def test_an_open_conversation_gets_no_more_messages_once_its_session_is_idle_past_its_time(
    service: Service, clock: FrozenClock,
) -> None:
    await service.staff("jo", "Jo")
    jo = await service.login("jo")
    sam, code = await invite_for(jo, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)
    # The conversation's live parts ask by themselves, saying so: they keep no idle session alive.
    page = (await jo.get(f"/young-people/{sam}")).text
    assert page.count("X-Keyworker-Background") >= 3 and 'hx-disinherit="hx-headers"' in page
    async with jo.stream("GET", f"/events?young_person={sam}") as stream:
        lines = stream.aiter_lines()
        await service.client.post(f"{chat}/messages", data={"text": "first, while Jo is here"})
        await next_events(lines, until="message", containing="first, while Jo is here")
        await service.idle()  # the bot's answer to it, streamed too
        # Jo walks away from the open page for an hour; then Sam writes again.
        clock.advance(minutes=61)
        await service.client.post(f"{chat}/messages", data={"text": "second, to an empty room"})
        rest = await next_events(lines)
    # The page is told to load its parts again (which sends it to sign in), and the stream ends there: Sam's second
    # message never reaches the unattended page.
    assert rest[-1] == ("reload", "")
    assert not any("second, to an empty room" in data for _, data in rest)
    assert (await jo.get("/young-people")).status_code == 303  # the session was ended


async def test_an_open_conversation_gets_no_more_once_the_young_person_is_handed_to_someone_else(service: Service) -> None:
    await service.staff("jo", "Jo")
    ali = await service.staff("ali", "Ali")
    jo = await service.login("jo")
    sam, code = await invite_for(jo, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)
    async with jo.stream("GET", f"/events?young_person={sam}") as stream:
        lines = stream.aiter_lines()
        await service.client.post(f"{chat}/messages", data={"text": "before the handover"})
        await next_events(lines, until="message", containing="before the handover")
        await service.idle()
        moved = await jo.post(f"/young-people/{sam}/handover", data={"to_staff_id": str(ali.id), "note": "Ali is nearer."})
        assert moved.status_code == 303
        await service.client.post(f"{chat}/messages", data={"text": "after the handover, for Ali"})
        rest = await next_events(lines)
    # Jo's page, opened while Sam was Jo's, is sent nothing of Sam's after: it loads its parts again (which Jo may no
    # longer see) and its stream ends.
    assert rest[-1] == ("reload", "")
    assert not any("after the handover" in data for _, data in rest)
