"""The core loop over the built-in web chat: invite link, join, message, live console, reply, live page."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from models import ChannelKind, ChannelLink, Message
from tests.conftest import Service
from tests.e2e.test_telegram_loop import invite_for, next_event


async def join_webchat(service: Service, code: str) -> str:
    """Open the invite's web-chat link, press 'Start chatting', return the private chat path."""
    join_page = await service.client.get(f"/c/{code}")
    assert join_page.status_code == 200 and "Start chatting" in join_page.text
    joined = await service.client.post(f"/c/{code}/join")
    assert joined.status_code == 303
    return joined.headers["location"]


async def test_young_person_and_worker_talk_through_web_chat(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)

    page = await service.client.get(chat)
    assert "Chat with Jo" in page.text
    assert "Hi Sam! You are now linked to Jo" in page.text  # the welcome is in the chat itself

    async with console.stream("GET", f"/events?young_person={person_id}") as staff_events:
        sent = await service.client.post(f"{chat}/messages", data={"text": "hi jo its me"}, headers={"HX-Request": "true"})
        assert sent.status_code == 200 and "hi jo its me" in sent.text  # shown in their chat at once
        await next_event(staff_events, "message", containing="hi jo its me")

    async with service.client.stream("GET", f"{chat}/events") as young_person_events:
        await console.post(f"/young-people/{person_id}/messages", data={"body": "Hi Sam! Free on Friday?"})
        bubble = await next_event(young_person_events, "message", containing="Hi Sam! Free on Friday?")
        assert "Jo" in bubble

    await service.idle()
    conversation = await console.get(f"/young-people/{person_id}")
    assert "hi jo its me" in conversation.text and "via web chat" in conversation.text
    assert re.search(r'delivery sent">Sent', conversation.text)


async def test_invite_link_works_once(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    _, code = await invite_for(console, "Tyler Brooks", "Ty")
    await join_webchat(service, code)

    again = await service.client.get(f"/c/{code}")
    assert again.status_code == 404 and "does not work" in again.text
    rejoin = await service.client.post(f"/c/{code}/join")
    assert rejoin.status_code == 404


async def test_expired_invite_and_unknown_link_are_refused_kindly(service: Service, clock) -> None:  # type: ignore[no-untyped-def]
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    _, code = await invite_for(console, "Chloe Mensah")
    clock.advance(days=7, seconds=1)
    expired = await service.client.get(f"/c/{code}")
    assert expired.status_code == 404 and "ask your worker for a new one" in expired.text
    unknown = await service.client.get("/c/wdefinitely-not-a-real-link")
    assert unknown.status_code == 404
    posted = await service.client.post("/c/wdefinitely-not-a-real-link/messages", data={"text": "hello"})
    assert posted.status_code == 404
    async with service.rt.db() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0


async def test_empty_and_huge_web_messages_lose_nothing(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Daniel Okafor", "Dan")
    chat = await join_webchat(service, code)

    empty = await service.client.post(f"{chat}/messages", data={"text": "   "}, headers={"HX-Request": "true"})
    assert empty.status_code == 422 and "Please type something first." in empty.text

    huge = "x" * 10_001
    refused = await service.client.post(f"{chat}/messages", data={"text": huge}, headers={"HX-Request": "true"})
    assert refused.status_code == 422 and huge in refused.text  # their words stay in the box

    five_thousand = "word " * 1000
    await service.client.post(f"{chat}/messages", data={"text": five_thousand})
    page = await console.get(f"/young-people/{person_id}")
    assert five_thousand.strip() in page.text


async def test_new_web_chat_link_retires_the_old_one(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Megan Price", "Meg")
    old_chat = await join_webchat(service, code)

    second = await console.post(f"/young-people/{person_id}/invites")
    new_code = re.search(r'id="invite-code">([^<]+)<', second.text).group(1)
    new_chat = await join_webchat(service, new_code)

    assert (await service.client.get(old_chat)).status_code == 404
    assert (await service.client.get(new_chat)).status_code == 200
    async with service.rt.db() as session:
        links = (await session.scalars(select(ChannelLink).where(ChannelLink.kind == ChannelKind.WEBCHAT))).all()
        assert len(links) == 1
