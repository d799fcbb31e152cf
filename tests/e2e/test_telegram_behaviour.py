"""Telegram behaviour a young person or a worker would notice: bad invites, long and unusual text,
duplicates, Bot API errors (429, 403, 5xx, 400) and offsets that never lose a message."""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.channels import telegram as telegram_channel
from bot.clock import FrozenClock
from bot.services.risk import RiskAssessment
from models import ChannelLink, InboundReceipt, Message, YoungPerson
from tests.conftest import Service
from tests.e2e.test_telegram_loop import SAM_CHAT, invite_for
from tests.fakes.botapi import FakeBotAPI

STRANGER_CHAT = 5550099
NOT_INVITED = "ask your worker for an invite"
CODE_NOT_VALID = "that invite does not work"


# -- helpers shared by the Telegram test modules ---------------------------------------------


@pytest.fixture
def fast_telegram(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Lift the pacing of one message a second per chat, and record the poller's backoffs unwaited."""
    # Module attributes, read when the service starts: so this comes before `service` (pytestmark).
    backoffs: list[int] = []

    async def backoff(failures: int) -> None:
        backoffs.append(failures)
        await asyncio.sleep(0.005)

    monkeypatch.setattr(telegram_channel, "PER_CHAT_RATE", 1000.0)
    monkeypatch.setattr(telegram_channel, "_backoff", backoff)
    return backoffs


pytestmark = pytest.mark.usefixtures("fast_telegram")


async def until(check: Callable[[], Any], timeout: float = 5, what: str = "condition") -> None:
    """Wait for an asynchronous effect of the running service (checked every 10 ms)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.01)


async def handled(service: Service, fake: FakeBotAPI, *updates: dict[str, Any]) -> None:
    """Wait until the poller confirmed these updates (so they are committed), then for their effects."""
    last = max(update["update_id"] for update in updates)
    await until(lambda: fake.confirmed_offset > last, what=f"offset past update {last}")
    await service.idle()


async def link_sam(service: Service, fake: FakeBotAPI) -> tuple[httpx.AsyncClient, int]:
    """Have Jo invite Sam in the console and Sam open the deep link; return Jo's console and Sam's id."""
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    person_id, code = await invite_for(console, "Samira Haddad", "Sam")
    fake.push_command(SAM_CHAT, "start", code)
    await fake.wait_for_sent_async(SAM_CHAT, count=2)  # welcome and privacy note
    await service.idle()
    return console, person_id


def delivery(page: str, body: str) -> str:
    """Return the delivery line shown under the worker's message containing body."""
    for item in re.findall(r'<li id="msg-\d+".*?</li>', page, re.S):
        if html.escape(body, quote=False) in item:
            found = re.search(r'<p class="delivery [a-z_]+">(.*?)</p>', item, re.S)
            assert found, f"no delivery status under {body[:30]!r}"
            return html.unescape(found.group(1))
    raise AssertionError(f"no message {body[:30]!r} on the page")


def caseload_status(page: str, name: str) -> str:
    """Return the status cell of a young person's row on the caseload page."""
    for row in re.findall(r"<tr.*?</tr>", page, re.S):
        if f">{name}<" in row:
            return re.findall(r'<span class="status [a-z]+">([^<]+)</span>', row)[-1]
    raise AssertionError(f"{name} is not on the caseload")


async def count(service: Service, model: type, *where: Any) -> int:
    """Count stored rows of a model."""
    async with service.rt.db() as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


async def stored(service: Service, words: str) -> int:
    """Count the stored messages whose text contains these words (read back decrypted)."""
    async with service.rt.db() as session:
        return sum(words in (body or "") for body in await session.scalars(select(Message.body)))


async def reply(console: httpx.AsyncClient, person_id: int, body: str) -> None:
    """Send a reply from the conversation page, as the reply box does."""
    response = await console.post(
        f"/young-people/{person_id}/messages", data={"body": body}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200, response.text


# -- invites ---------------------------------------------------------------------------------


async def test_strangers_and_bad_codes_get_a_kind_answer_and_nothing_is_kept(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)

    updates = [
        fake.push_command(STRANGER_CHAT, "start"),
        fake.push_command(STRANGER_CHAT + 1, "start", "iNoSuchCodeAtAll0000000"),
        fake.push_text(STRANGER_CHAT + 2, "hello is anyone there"),
    ]
    for chat, expected in ((STRANGER_CHAT, NOT_INVITED), (STRANGER_CHAT + 1, CODE_NOT_VALID),
                           (STRANGER_CHAT + 2, NOT_INVITED)):
        [answer] = await fake.wait_for_sent_async(chat)
        assert expected in answer["text"]
    await handled(service, fake, *updates)

    # Nothing about the strangers: no link, no message, no young person (only Sam's own).
    assert await count(service, ChannelLink) == 1
    assert await count(service, YoungPerson) == 1
    assert await count(service, Message, Message.young_person_id != sam_id) == 0
    page = await console.get(f"/young-people/{sam_id}")
    assert "hello is anyone there" not in page.text

    # Sam's second /start (plain, or with the code already used) says they are linked already.
    fake.push_command(SAM_CHAT, "start")
    sent = await fake.wait_for_sent_async(SAM_CHAT, count=3)
    assert "You are linked to Jo" in sent[2]["text"]


async def test_a_code_works_once_and_only_for_seven_days(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    fake = fake_bot_api
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    sam_id, sam_code = await invite_for(console, "Samira Haddad", "Sam")
    _, lee_code = await invite_for(console, "Lee Brown", "Lee")

    clock.advance(days=6, hours=23)  # Sam just in time
    fake.push_command(SAM_CHAT, "start", sam_code)
    assert "Hi Sam" in (await fake.wait_for_sent_async(SAM_CHAT, count=2))[0]["text"]

    clock.advance(hours=1, minutes=1)  # Lee a minute too late
    fake.push_command(5550002, "start", lee_code)
    assert CODE_NOT_VALID in (await fake.wait_for_sent_async(5550002))[0]["text"]

    # Someone else trying Sam's used code is turned away, and Sam stays linked to their own phone.
    used = fake.push_command(5550003, "start", sam_code)
    assert CODE_NOT_VALID in (await fake.wait_for_sent_async(5550003))[0]["text"]
    await handled(service, fake, used)
    async with service.rt.db() as session:
        links = (await session.scalars(select(ChannelLink))).all()
    assert [(link.young_person_id, link.address) for link in links] == [(sam_id, str(SAM_CHAT))]

    console = await service.login("jo")  # a week on, Jo signs in again
    caseload = (await console.get("/young-people")).text
    assert caseload_status(caseload, "Sam") == "Linked"
    assert caseload_status(caseload, "Lee") == "Invited"


# -- long and unusual text -------------------------------------------------------------------


def _prose(length: int, seed: str) -> str:
    words = f"{seed} this is a long message about school and the weekend and my placement 🙂\n".split(" ")
    text, i = "", 0
    while len(text) < length:
        text += words[i % len(words)] + " "
        i += 1
    return text[:length].strip()


async def test_5000_characters_are_stored_whole_and_replies_are_split_in_order(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)

    theirs = _prose(5000, "Sam")
    await handled(service, fake, fake.push_text(SAM_CHAT, theirs))
    page = await console.get(f"/young-people/{sam_id}")
    assert html.escape(theirs, quote=False) in page.text

    ours = _prose(5000, "Jo")
    await reply(console, sam_id, ours)
    sent = [m["text"] for m in (await fake.wait_for_sent_async(SAM_CHAT, count=4))[2:]]
    await service.idle()
    assert len(sent) == 2 and all(len(part) <= 4096 for part in sent)
    whole = f"Jo:\n{ours}"
    # In order, nothing lost: only the whitespace at the break is left out.
    assert whole.startswith(sent[0]) and whole.endswith(sent[1])
    assert whole[len(sent[0]) : len(whole) - len(sent[1])].strip() == ""
    assert len(fake.sent_messages(SAM_CHAT)) == 4  # nothing sent twice
    assert delivery((await console.get(f"/young-people/{sam_id}")).text, ours[:200]) == "Sent"


async def test_emoji_and_right_to_left_text_arrive_unchanged_both_ways(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)

    theirs = "مرحبا، هل يمكننا أن نلتقي يوم الجمعة؟ 👋🏽 ❤️‍🔥 👩‍👩‍👧 🇬🇧 𝒮𝒶𝓂"
    await handled(service, fake, fake.push_text(SAM_CHAT, theirs))
    assert html.escape(theirs, quote=False) in (await console.get(f"/young-people/{sam_id}")).text

    ours = "نعم، الساعة الثالثة في المركز 🙂👍🏾 — Jo ✨ שלום"
    await reply(console, sam_id, ours)
    sent = await fake.wait_for_sent_async(SAM_CHAT, count=3)
    assert sent[2]["text"] == f"Jo:\n{ours}"


# -- duplicates ------------------------------------------------------------------------------


async def test_an_update_delivered_twice_is_stored_once_and_answered_once(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)

    message = fake.push_text(SAM_CHAT, "are we still on for friday")
    stranger = fake.push_text(STRANGER_CHAT, "hi who is this")
    fake.push_update(message)  # the same update again straight away (often in the same batch)
    fake.push_update(stranger)
    await handled(service, fake, message, stranger)
    fake.push_update(message)  # and once more after it was confirmed, as Telegram may redeliver
    fake.push_update(stranger)
    await until(lambda: not fake.pending_updates(), what="redelivered updates taken")
    await handled(service, fake, fake.push_text(SAM_CHAT, "ok"))

    page = (await console.get(f"/young-people/{sam_id}")).text
    assert page.count("are we still on for friday") == 1
    assert await stored(service, "are we still on for friday") == 1
    assert len(fake.sent_messages(STRANGER_CHAT)) == 1


# -- Bot API errors --------------------------------------------------------------------------


async def test_flood_control_429_is_waited_out_and_the_reply_arrives(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)

    fake.fail_next("sendMessage", status=429, retry_after=3)
    await reply(console, sam_id, "See you at 3")
    sent = await fake.wait_for_sent_async(SAM_CHAT, count=3)
    await service.idle()
    assert sent[2]["text"] == "Jo:\nSee you at 3"
    assert 3 in service.sleeps.calls
    assert delivery((await console.get(f"/young-people/{sam_id}")).text, "See you at 3") == "Sent"


async def test_a_blocked_bot_shows_unreachable_until_they_write_again(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)

    fake.block_chat(SAM_CHAT)
    await reply(console, sam_id, "Are you ok?")
    await service.idle()
    page = (await console.get(f"/young-people/{sam_id}")).text
    assert delivery(page, "Are you ok?").startswith("Could not reach them")
    assert "Unreachable since" in page
    assert caseload_status((await console.get("/young-people")).text, "Sam") == "Unreachable"

    # They unblock the bot and write: the channel works again and replies reach them.
    fake.unblock_chat(SAM_CHAT)
    await handled(service, fake, fake.push_text(SAM_CHAT, "sorry, my phone was off"))
    assert caseload_status((await console.get("/young-people")).text, "Sam") == "Linked"
    assert "Unreachable since" not in (await console.get(f"/young-people/{sam_id}")).text
    await reply(console, sam_id, "No worries")
    assert (await fake.wait_for_sent_async(SAM_CHAT, count=3))[2]["text"] == "Jo:\nNo worries"


async def test_server_errors_are_retried_and_lasting_failures_show_not_sent(
    service: Service, fake_bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)

    fake.fail_next("sendMessage", status=500, times=2)
    await reply(console, sam_id, "First try")
    assert (await fake.wait_for_sent_async(SAM_CHAT, count=3))[2]["text"] == "Jo:\nFirst try"
    await service.idle()
    assert service.sleeps.calls == [1, 2]  # backed off twice, without really waiting

    with caplog.at_level(logging.ERROR):
        fake.fail_next("sendMessage", status=502, times=1000)  # Telegram stays down
        await reply(console, sam_id, "Second try")
        await service.idle()
        fake.reset()
        # A reply Telegram refuses outright is not retried, nor left 'Sending…' for ever.
        fake.fail_next("sendMessage", status=400, description="Bad Request: can't parse entities")
        await reply(console, sam_id, "Odd one")
        await service.idle()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]  # handled, not crashed
    page = (await console.get(f"/young-people/{sam_id}")).text
    assert delivery(page, "First try") == "Sent"
    assert delivery(page, "Second try").startswith("Not sent")
    assert delivery(page, "Odd one").startswith("Not sent")
    assert await stored(service, "Second try") == 1  # the worker's words are kept

    await reply(console, sam_id, "Next one")  # and the chat is not stuck behind them
    assert (await fake.wait_for_sent_async(SAM_CHAT))[0]["text"] == "Jo:\nNext one"


async def test_messages_to_each_young_person_arrive_in_the_order_they_were_written(
    service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    invited = [await invite_for(console, f"Young Person {n}", f"Kit{n}") for n in range(12)]
    chats = {7000 + n: person_id for n, (person_id, _) in enumerate(invited)}
    for chat, (_, code) in zip(chats, invited, strict=True):
        fake.push_command(chat, "start", code)  # a dozen at once, delivered concurrently
    for chat in chats:
        welcome, privacy = await fake.wait_for_sent_async(chat, count=2)
        assert "You are now linked" in welcome["text"] and "What we keep" in privacy["text"]

    chat, person_id = next(iter(chats.items()))
    bodies = [f"part {n} of what I want to say" for n in range(1, 5)]
    for body in bodies:
        await reply(console, person_id, body)
    sent = await fake.wait_for_sent_async(chat, count=6)
    assert [m["text"] for m in sent[2:]] == [f"Jo:\n{body}" for body in bodies]


# -- offsets ---------------------------------------------------------------------------------


class FlakyRisk:
    """A risk checker that fails while told to, for words containing a marker."""

    def __init__(self, marker: str) -> None:
        self.marker = marker
        self.failing = True
        self.failures = 0

    def assess(self, text: str) -> RiskAssessment:
        if self.failing and self.marker in text:
            self.failures += 1
            # Quoting the words, as database errors quote their parameters: they must not reach a log.
            raise RuntimeError(f"risk service unavailable for {text!r}")
        return RiskAssessment(None)


async def test_an_update_is_confirmed_only_once_it_is_stored(
    fast_telegram: list[int], service: Service, fake_bot_api: FakeBotAPI, caplog: pytest.LogCaptureFixture
) -> None:
    fake = fake_bot_api
    console, sam_id = await link_sam(service, fake)
    ok = fake.push_text(SAM_CHAT, "first, this one is fine")
    await handled(service, fake, ok)
    assert fake.confirmed_offset == ok["update_id"] + 1

    risk = FlakyRisk("the database is down")
    service.rt.risk = risk
    with caplog.at_level(logging.WARNING):
        failing = fake.push_text(SAM_CHAT, "the database is down for this one")
        other = fake.push_text(STRANGER_CHAT, "hi")  # same batch, another chat
        await until(lambda: risk.failures >= 3, what="the failing update to be retried")
        assert fake.confirmed_offset <= failing["update_id"]
        assert await stored(service, "the database is down") == 0

        risk.failing = False  # the trouble passes: the same update is handled, nothing is lost
        await handled(service, fake, failing, other)
    page = (await console.get(f"/young-people/{sam_id}")).text
    assert page.count("the database is down for this one") == 1
    assert len(fake.sent_messages(STRANGER_CHAT)) == 1  # the other chat was answered once
    assert await count(service, InboundReceipt, InboundReceipt.update_id == failing["update_id"]) == 1
    assert fast_telegram and fast_telegram[0] == 1
    logged = "\n".join(record.getMessage() + (record.exc_text or "") for record in caplog.records)
    assert f"update {failing['update_id']} not handled" in logged and "database is down" not in logged

    # And the poller is still alive for what comes next.
    await handled(service, fake, fake.push_text(SAM_CHAT, "still here"))
    assert "still here" in (await console.get(f"/young-people/{sam_id}")).text


async def test_the_poller_survives_bot_api_errors_on_get_updates(
    fast_telegram: list[int], service: Service, fake_bot_api: FakeBotAPI
) -> None:
    fake = fake_bot_api
    # 409: someone else is polling with this token for a while; 500: Telegram has trouble.
    fake.fail_next("getUpdates", status=409, times=2)
    fake.fail_next("getUpdates", status=500, times=1)
    fake.push_text(STRANGER_CHAT, "hello?")  # ends the long poll under way, so the faults come next
    await fake.wait_for_sent_async(STRANGER_CHAT)
    await until(lambda: len(fast_telegram) >= 3, what="three failed polls")

    fake.push_text(STRANGER_CHAT + 1, "anyone?")
    assert NOT_INVITED in (await fake.wait_for_sent_async(STRANGER_CHAT + 1))[0]["text"]
    assert fast_telegram == [1, 2, 3]  # backed off a little longer each time, then carried on
