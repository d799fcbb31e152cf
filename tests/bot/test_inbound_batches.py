"""Updates that arrive together are handled in one transaction (bot/inbound.py, Batcher); whatever goes
wrong in a batch, each update is still stored exactly once, each chat's in order, and one that fails
loses none of the others."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from bot.clock import FrozenClock
from bot.inbound import Batcher, HeldBack, receive
from handlers.turn import InboundEvent
from models import ContentKind, DeliveryStatus, Direction, Message, TeamMember, YoungPerson
from tests.bot.test_undelivered import LEE_CHAT, Poison, link_lee
from tests.conftest import Service
from tests.e2e.test_telegram_behaviour import FlakyRisk, fast_telegram, link_sam, stored  # noqa: F401 - a fixture
from tests.e2e.test_telegram_loop import SAM_CHAT
from tests.fakes.botapi import FakeBotAPI
from tests.handlers.test_cover import BACK, record_leave
from tests.safeguarding.test_lifeline import HELPLINE, SlowDatabase, slow_db  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("fast_telegram")


def text(chat: int, words: str, update_id: int) -> InboundEvent:
    return InboundEvent(
        channel="telegram", address=str(chat), content_kind=ContentKind.TEXT, text=words,
        receipt=("telegram", update_id), external_id=str(update_id),
    )


async def words_from(service: Service, person_id: int) -> list[str]:
    """What a young person sent, in the order it was stored."""
    async with service.rt.db() as session:
        rows = await session.scalars(
            select(Message).where(Message.young_person_id == person_id, Message.direction == Direction.INBOUND)
            .order_by(Message.id)
        )
        return [message.body or "" for message in rows]


async def together(service: Service, *events: InboundEvent) -> list[BaseException | None]:
    """Hand events to the service's batcher at the same moment; return what handling each raised."""
    batcher = service.rt.telegram.batcher
    assert isinstance(batcher, Batcher)
    futures = batcher.submit_all([(event, lambda event: receive(service.rt, event)) for event in events])
    return list(await asyncio.gather(*futures, return_exceptions=True))


async def test_updates_arriving_together_are_stored_once_each_in_one_transaction_and_again_count_once(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    console, sam_id = await link_sam(service, fake_bot_api)
    await link_lee(service, fake_bot_api, console)
    batcher = service.rt.telegram.batcher
    batches = batcher.batches

    first = [text(SAM_CHAT, "sam one", 9001), text(LEE_CHAT, "lee one", 9002), text(SAM_CHAT, "sam two", 9003)]
    assert await together(service, *first) == [None, None, None]
    assert batcher.batches == batches + 1  # one transaction for all three
    assert (await words_from(service, sam_id))[-2:] == ["sam one", "sam two"]
    assert await stored(service, "lee one") == 1

    # Telegram hands the same updates over again (the offset was not confirmed before a crash), with a new one.
    again = await together(service, *first, text(SAM_CHAT, "sam three", 9004))
    assert again == [None, None, None, None]
    await service.idle()
    assert (await words_from(service, sam_id))[-3:] == ["sam one", "sam two", "sam three"]
    assert [await stored(service, words) for words in ("sam one", "sam two", "lee one", "sam three")] == [1, 1, 1, 1]


async def test_one_update_failing_in_a_batch_loses_none_of_the_others_and_keeps_its_chat_in_order(
    service: Service, fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    console, sam_id = await link_sam(service, fake_bot_api)
    await link_lee(service, fake_bot_api, console)
    # Fails in the batch and again on its own, then works (a passing fault, say).
    poison = Poison(monkeypatch, text="this one breaks", fail_times=2)

    outcomes = await together(
        service, text(SAM_CHAT, "this one breaks", 9101), text(LEE_CHAT, "lee is fine", 9102),
        text(SAM_CHAT, "sam after it", 9103),
    )
    assert isinstance(outcomes[0], KeyError) and outcomes[1] is None and isinstance(outcomes[2], HeldBack)
    assert poison.tries == 2
    assert await stored(service, "lee is fine") == 1
    # Sam's next message waits behind the one that failed (order per chat), and neither is half stored.
    assert "sam after it" not in await words_from(service, sam_id)
    assert await stored(service, "this one breaks") == 0

    # Handed over again (Telegram redelivers what was not confirmed): both stored once, in order.
    assert await together(service, text(SAM_CHAT, "this one breaks", 9101), text(SAM_CHAT, "sam after it", 9103)) == [None, None]
    assert (await words_from(service, sam_id))[-2:] == ["this one breaks", "sam after it"]
    assert await stored(service, "lee is fine") == 1


async def test_an_urgent_message_in_a_batch_held_up_by_the_database_gets_help_at_once(
    service: Service, fake_bot_api: FakeBotAPI, slow_db: SlowDatabase
) -> None:
    console, sam_id = await link_sam(service, fake_bot_api)
    await link_lee(service, fake_bot_api, console)
    service.rt.settings.crisis_reply_seconds = 0  # the deadline has passed as soon as it is set
    slow_db.stall()
    handling = asyncio.create_task(
        together(service, text(LEE_CHAT, "lee says hi", 9201), text(SAM_CHAT, "i want to kill myself", 9202))
    )

    sent = await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=3)  # the welcome, the privacy note, then help
    assert HELPLINE in sent[2]["text"]
    assert not handling.done()  # the batch still waits on the database: nothing is lost meanwhile

    slow_db.release()
    assert await handling == [None, None]
    await service.idle()
    assert await stored(service, "i want to kill myself") == 1 and await stored(service, "lee says hi") == 1
    sent = await fake_bot_api.wait_for_sent_async(SAM_CHAT, count=5)  # the stored replies follow as usual
    assert "I have told Jo now" in sent[3]["text"]


async def test_words_the_risk_checker_fails_on_hold_up_no_other_update_of_their_batch(
    service: Service, fake_bot_api: FakeBotAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    console, sam_id = await link_sam(service, fake_bot_api)
    await link_lee(service, fake_bot_api, console)
    risk = FlakyRisk("odd words")
    monkeypatch.setattr(service.rt, "risk", risk)

    outcomes = await together(service, text(SAM_CHAT, "some odd words", 9301), text(LEE_CHAT, "lee again", 9302))
    assert isinstance(outcomes[0], RuntimeError) and outcomes[1] is None
    assert await stored(service, "lee again") == 1 and await stored(service, "odd words") == 0
    assert "odd words" not in caplog.text  # the batch's roll-back is logged by type and place only

    risk.failing = False  # the checker is back: the update, handed over again, is stored once
    assert await together(service, text(SAM_CHAT, "some odd words", 9301)) == [None]
    assert (await words_from(service, sam_id))[-1] == "some odd words"
    assert await stored(service, "odd words") == 1


@pytest.mark.parametrize("lee_first", [False, True])
async def test_a_batch_answers_each_young_person_for_their_own_worker_s_leave(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock, lee_first: bool
) -> None:
    # Sam's worker Jo has leave coming up, covered by Ali; Lee's worker is Ali. Out of hours, one text from
    # each in the same batch: Sam hears when Jo is back, Lee only the usual out-of-hours reply from Ali.
    console, sam_id = await link_sam(service, fake_bot_api)
    lee_id = await link_lee(service, fake_bot_api, console)
    ali = await service.staff("ali", "Ali")
    async with service.rt.db() as session, session.begin():
        await session.execute(update(YoungPerson).where(YoungPerson.id == lee_id).values(key_worker_id=ali.id))
        jo_id = (await session.get(YoungPerson, sam_id)).key_worker_id
    await record_leave(console, jo_id, ali.id)
    clock.set(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))  # a Friday evening
    before_sam, before_lee = len(fake_bot_api.sent_messages(SAM_CHAT)), len(fake_bot_api.sent_messages(LEE_CHAT))
    events = [text(SAM_CHAT, "are you there", 9101), text(LEE_CHAT, "anyone around", 9102)]
    batches = service.rt.telegram.batcher.batches
    assert await together(service, *(reversed(events) if lee_first else events)) == [None, None]
    assert service.rt.telegram.batcher.batches == batches + 1
    await service.idle()
    sam = [m["text"] for m in fake_bot_api.sent_messages(SAM_CHAT)[before_sam:]]
    lee = [m["text"] for m in fake_bot_api.sent_messages(LEE_CHAT)[before_lee:]]
    assert sam[0].startswith(f"Thanks. Jo is not at work right now, and is away until {BACK}.\n")
    assert len(lee) == 1 and "Ali" in lee[0] and "away" not in lee[0]


async def test_several_texts_from_each_chat_in_one_batch_are_stored_once_in_order_and_answered_once_each(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    # Sam has two hub team members, who hear of Sam's messages live; out of hours, Sam sends three texts and
    # Lee two, all in one batch: each stored once in its chat's order, each chat answered once, the replies
    # recorded as sent, and the team told of Sam's messages and of how the reply went.
    console, sam_id = await link_sam(service, fake_bot_api)
    lee_id = await link_lee(service, fake_bot_api, console)
    kai, ali = await service.staff("kai", "Kai"), await service.staff("ali", "Ali")
    async with service.rt.db() as session, session.begin():
        for member, role in ((kai, "life coach"), (ali, "education")):
            session.add(TeamMember(young_person_id=sam_id, staff_id=member.id, role=role, added_at=service.rt.now()))
    clock.set(datetime(2026, 11, 27, 18, 0, tzinfo=UTC))  # a Friday evening
    before_sam, before_lee = len(fake_bot_api.sent_messages(SAM_CHAT)), len(fake_bot_api.sent_messages(LEE_CHAT))
    heard = service.rt.events.subscribe({f"staff:{kai.id}"})
    batches = service.rt.telegram.batcher.batches

    outcomes = await together(
        service, text(SAM_CHAT, "sam one", 9401), text(LEE_CHAT, "lee one", 9402), text(SAM_CHAT, "sam two", 9403),
        text(SAM_CHAT, "sam three", 9404), text(LEE_CHAT, "lee two", 9405),
    )
    assert outcomes == [None] * 5
    assert service.rt.telegram.batcher.batches == batches + 1
    await service.idle()

    assert (await words_from(service, sam_id))[-3:] == ["sam one", "sam two", "sam three"]
    assert (await words_from(service, lee_id))[-2:] == ["lee one", "lee two"]
    words = ("sam one", "sam two", "sam three", "lee one", "lee two")
    assert [await stored(service, said) for said in words] == [1] * 5
    sam = fake_bot_api.sent_messages(SAM_CHAT)[before_sam:]
    lee = fake_bot_api.sent_messages(LEE_CHAT)[before_lee:]
    assert len(sam) == 1 and len(lee) == 1  # one automatic answer each, to the chat it came from
    assert "Jo" in sam[0]["text"] and "Jo" in lee[0]["text"]
    async with service.rt.db() as session:
        replies = (await session.scalars(
            select(Message).where(Message.direction == Direction.OUTBOUND, Message.created_at == clock.now())
        )).all()
    assert sorted(reply.young_person_id for reply in replies) == sorted([sam_id, lee_id])
    assert all(reply.delivery_status == DeliveryStatus.SENT and reply.sent_at == clock.now() for reply in replies)
    assert all(reply.external_id for reply in replies)  # Telegram's id of what it delivered

    told = []
    while not heard.queue.empty():
        event = heard.queue.get_nowait()
        assert event is not None and event.young_person_id == sam_id  # Kai hears of Sam only
        told.append(event.kind)
    heard.close()
    assert told.count("message") == 4 and told.count("status") == 1  # three texts, the reply, how it went
