"""Bad input, thrown at random: no crash, nothing lost, a clear answer for whoever sent it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models import Message
from tests.conftest import Service
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat
from tests.fakes.botapi import FakeBotAPI

# Any text a phone or a browser can send: every Unicode character but lone surrogates.
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12_000)
FUZZ = settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


def run_from_thread(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on the service's loop from hypothesis's worker thread."""
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=60)


async def test_web_chat_accepts_or_kindly_refuses_any_text_and_loses_nothing(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    _, code = await invite_for(console, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)
    loop = asyncio.get_running_loop()

    @FUZZ
    @given(text=TEXT)
    def send(text: str) -> None:
        answer = run_from_thread(loop, service.client.post(f"{chat}/messages", data={"text": text}, headers={"HX-Request": "true"}))
        if text.strip() and len(text) <= 10_000:
            assert answer.status_code == 200, answer.text
            stored = run_from_thread(loop, _bodies(service))
            assert text in stored  # stored exactly, whatever it was
        else:
            assert answer.status_code == 422
            assert "Please" in answer.text  # a kind, clear reason, and their words kept in the box

    await asyncio.to_thread(send)


async def test_console_forms_survive_any_input(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, _ = await invite_for(console, "Tyler Brooks", "Ty")
    loop = asyncio.get_running_loop()

    @FUZZ
    @given(name=TEXT, preferred=TEXT, body=TEXT)
    def post(name: str, preferred: str, body: str) -> None:
        added = run_from_thread(loop, console.post("/young-people", data={"full_name": name, "preferred_name": preferred}))
        assert added.status_code in (200, 400, 422), added.status_code
        replied = run_from_thread(loop, console.post(f"/young-people/{person_id}/messages", data={"body": body}, headers={"HX-Request": "true"}))
        assert replied.status_code in (200, 422), replied.status_code
        if replied.status_code == 422:
            assert "empty" in replied.text or "too long" in replied.text or "not right" in replied.text

    await asyncio.to_thread(post)


MALFORMED = st.one_of(
    st.fixed_dictionaries({"update_id": st.integers(1_000_000, 2_000_000)}),
    st.fixed_dictionaries({"update_id": st.integers(1_000_000, 2_000_000), "message": st.dictionaries(st.text(max_size=8), st.none() | st.integers() | st.text(max_size=20), max_size=4)}),
    st.fixed_dictionaries({"update_id": st.integers(1_000_000, 2_000_000), "message": st.fixed_dictionaries({"message_id": st.integers(), "date": st.integers(0, 2**31), "chat": st.fixed_dictionaries({"id": st.integers(1, 2**40), "type": st.sampled_from(["private", "group", "channel", "???"])}), "text": TEXT})}),
    st.fixed_dictionaries({"update_id": st.integers(1_000_000, 2_000_000), "callback_query": st.fixed_dictionaries({"id": st.text(max_size=5), "data": st.text(max_size=70)})}),
)


async def test_malformed_telegram_updates_never_stop_the_intake(service: Service, fake_bot_api: FakeBotAPI) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    _, code = await invite_for(console, "Chloe Mensah", "Chloe")
    fake_bot_api.push_command(3330001, "start", code)
    await fake_bot_api.wait_for_sent_async(3330001, count=2)

    @FUZZ
    @given(update=MALFORMED)
    def push(update: dict[str, Any]) -> None:
        fake_bot_api.push_update(update)

    await asyncio.to_thread(push)
    fake_bot_api.push_text(3330001, "still here?")
    await service.until_stored("still here?", attempts=3000)


async def _bodies(service: Service) -> list[str | None]:
    async with service.rt.db() as session:
        return list((await session.scalars(select(Message.body))).all())
