"""An edited text from a young person is stored as a new message marked edited, and checked for risk like any other."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from models import Alert, Message, YoungPerson
from tests.conftest import Service
from tests.e2e.test_telegram_behaviour import count, fast_telegram, handled, link_sam  # noqa: F401
from tests.e2e.test_telegram_loop import SAM_CHAT
from tests.fakes.botapi import FakeBotAPI

pytestmark = pytest.mark.usefixtures("fast_telegram")


def edit(original: dict, **changes: object) -> dict:
    """The update Telegram sends when the young person edits a message they sent."""
    return {"edited_message": {**original["message"], **changes, "edit_date": int(time.time())}}


async def from_sam(service: Service, sam_id: int) -> list[Message]:
    async with service.rt.db() as session:
        return list(await session.scalars(
            select(Message).where(Message.young_person_id == sam_id, Message.sender_kind == "young_person").order_by(Message.id)
        ))


async def test_an_edit_is_stored_as_a_new_message_and_its_words_are_checked_for_risk(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)
    first = fake.push_text(SAM_CHAT, "see you at 4")
    await handled(service, fake, first)
    sent_before = len(fake.sent_messages(SAM_CHAT))

    changed = fake.push_update(edit(first, text="actually i want to kill myself"))
    await handled(service, fake, changed)

    original, edited = (await from_sam(service, sam_id))[-2:]
    assert (original.body, edited.body) == ("see you at 4", "actually i want to kill myself")
    assert edited.meta["edited"] is True and edited.meta["edit_of"] == original.external_id
    assert edited.risk_level == "urgent"
    assert await count(service, Alert, Alert.young_person_id == sam_id) == 1
    assert len(fake.sent_messages(SAM_CHAT)) > sent_before  # the crisis reply went out
    page = (await console.get(f"/young-people/{sam_id}")).text
    assert "actually i want to kill myself" in page and "Edited" in page


async def test_an_edit_without_words_such_as_a_moving_live_location_is_not_stored(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    _, sam_id = await link_sam(service, fake)
    shared = fake.push_location(SAM_CHAT, 51.5, -0.1)
    await handled(service, fake, shared)
    before = len(await from_sam(service, sam_id))

    moved = [fake.push_update(edit(shared, location={"latitude": 51.5 + n / 1000, "longitude": -0.1})) for n in range(3)]
    await handled(service, fake, *moved)
    assert len(await from_sam(service, sam_id)) == before


async def test_an_edit_is_never_taken_as_a_command(service: Service, fake_bot_api: FakeBotAPI) -> None:
    """Sam fixes a typo by editing it into '/stop': the edit reaches Jo, and prompts carry on."""
    fake = fake_bot_api
    _, sam_id = await link_sam(service, fake)
    typo = fake.push_text(SAM_CHAT, "/stpo")
    await handled(service, fake, typo)
    sent_before = len(fake.sent_messages(SAM_CHAT))

    changed = fake.push_update(edit(typo, text="/stop"))
    await handled(service, fake, changed)

    assert (await from_sam(service, sam_id))[-1].body == "/stop"
    async with service.rt.db() as session:
        sam = await session.get(YoungPerson, sam_id)
        assert sam is not None and sam.opted_out_at is None
    assert not any("stop" in m.get("text", "").lower() for m in fake.sent_messages(SAM_CHAT)[sent_before:])
