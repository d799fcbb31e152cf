"""Demo data: a manager, two key workers and eight young people with a few weeks of history."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.clock import Clock
from bot.services.canned_reply import do_seed_canned_replies
from bot.services.invite import do_issue_webchat_link
from bot.services.note import do_write_note
from bot.services.staff import do_create_staff
from bot.services.young_person import do_add_young_person
from config.settings import Settings
from models import (
    Appointment,
    ChannelKind,
    ChannelLink,
    ChannelStatus,
    DeliveryStatus,
    Direction,
    Message,
    SenderKind,
    StaffMember,
    StaffRole,
    YoungPerson,
)
from models.db import create_engine, create_sessionmaker

DEMO_PASSWORD = "demo-password-1"  # demo only: printed at start, never used outside `keyworker demo`
# Demo only: fixed two-step sign-in keys, printed at start so the demo works without a phone.
DEMO_TOTP = {"priya": "KWDEMOPRIYATWOSTEPKEYAAAAAAAAAAA", "jo": "KWDEMOJOTWOSTEPKEYAAAAAAAAAAAAAA", "ali": "KWDEMOALITWOSTEPKEYAAAAAAAAAAAAA",
             "kim": "KWDEMOKIMTWOSTEPKEYAAAAAAAAAAAAA"}

STAFF = [("priya", "Priya", StaffRole.MANAGER), ("jo", "Jo", StaffRole.KEY_WORKER), ("ali", "Ali", StaffRole.KEY_WORKER),
         ("kim", "Kim", StaffRole.ADMIN)]

# (full name, preferred name, worker, channel, exchanges): each exchange is (who, words), oldest first.
PEOPLE = [
    ("Samira Haddad", "Sam", "jo", "webchat", [
        ("yp", "hey are we still going to college on tuesday"), ("staff", "Yes! I'll pick you up at 10. Bring your ID."),
        ("yp", "ok thanks"), ("yp", "i got the place!!"), ("staff", "That's brilliant news Sam, well done. So proud of you."),
    ]),
    ("Tyler Brooks", "Ty", "jo", "telegram", [
        ("yp", "cant make it today sorry"), ("staff", "No worries. Can we do Thursday instead?"), ("yp", "yeah thursday good"),
        ("yp", "my phone got nicked so this is my new number"),
    ]),
    ("Chloe Mensah", "Chloe", "jo", "webchat", [
        ("staff", "Hi Chloe, how did the meeting with your mum go?"), ("yp", "it was ok. bit awkward"),
        ("yp", "she said she wants to see me again next month"), ("staff", "That sounds like a good step. Want to talk it through on Friday?"),
    ]),
    ("Daniel Okafor", "Dan", "jo", "webchat", [
        ("yp", "what time is my dentist"), ("staff", "2:30pm on Wednesday, at the Market Street surgery."),
    ]),
    ("Aisha Rahman", "Aisha", "ali", "webchat", [
        ("yp", "hi its aisha"), ("staff", "Hi Aisha, good to hear from you. How is the new flat?"), ("yp", "cold lol but ok"),
        ("staff", "I'll ask the housing team about the heating today."),
    ]),
    ("Kieran Walsh", "Kieran", "ali", "telegram", [
        ("staff", "Hi Kieran, just checking in. Fancy a walk on Saturday?"), ("yp", "maybe"),
    ]),
    ("Megan Price", "Meg", "ali", "webchat", [
        ("yp", "can u help me with my cv"), ("staff", "Of course. Bring it on Monday and we'll go through it."),
        ("yp", "ok"), ("yp", "also i passed my theory test"),
    ]),
    ("Jayden Clarke", "Jay", "ali", "webchat", []),
]


async def seed_demo(settings: Settings, clock: Clock) -> str:
    """Seed the demo data on first run; on every run, issue fresh web-chat links and say how to sign in."""
    engine = create_engine(settings.database_url)
    now = clock.now()
    lines = ["", f"Keyworker demo: open {settings.public_url} and sign in as"]
    try:
        async with create_sessionmaker(engine)() as session:
            if not await session.scalar(select(func.count()).select_from(StaffMember)):
                await _seed(session, now)
            for username, name, role in STAFF:
                lines.append(
                    f"  {username:6} / {DEMO_PASSWORD}   ({name}, {role.value.replace('_', ' ')}; "
                    f"two-step key {DEMO_TOTP[username]})"
                )
            lines.append("Two-step sign-in: add the key to any authenticator app, or get the current code with")
            lines.append("  .venv/bin/python -c \"import pyotp; print(pyotp.TOTP('KWDEMOJOTWOSTEPKEYAAAAAAAAAAAAAA').now())\"")
            lines.append("Web chat as each young person (new links each start; old ones stop working):")
            people = await session.scalars(
                select(YoungPerson).join(ChannelLink).where(ChannelLink.kind == ChannelKind.WEBCHAT).order_by(YoungPerson.id)
            )
            for person in people.all():
                token = await do_issue_webchat_link(session, now, person.id)
                lines.append(f"  {person.preferred_name:7} {settings.public_url}/c/{token}")
            await session.commit()
    finally:
        await engine.dispose()
    return "\n".join(lines) + "\n"


async def _seed(session, now: datetime) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(7)
    staff: dict[str, StaffMember] = {}
    people: dict[str, YoungPerson] = {}
    for username, name, role in STAFF:
        member, _ = await do_create_staff(
            session, now - timedelta(days=60), username=username, display_name=name, role=role, password=DEMO_PASSWORD
        )
        member.must_change_password = False
        member.totp_secret = DEMO_TOTP[username]
        staff[username] = member
    for index, (full, preferred, worker, channel, exchanges) in enumerate(PEOPLE):
        person = await do_add_young_person(
            session, now - timedelta(days=40), full_name=full, preferred_name=preferred, key_worker=staff[worker]
        )
        if channel == "telegram":
            session.add(
                ChannelLink(
                    young_person_id=person.id,
                    kind=ChannelKind.TELEGRAM,
                    address=str(900000 + index),
                    linked_at=now - timedelta(days=35),
                    # One demo phone has blocked the bot, so the console shows what that looks like.
                    status=ChannelStatus.UNREACHABLE if preferred == "Kieran" else ChannelStatus.ACTIVE,
                    unreachable_since=now - timedelta(days=3) if preferred == "Kieran" else None,
                )
            )
        else:
            await do_issue_webchat_link(session, now - timedelta(days=35), person.id)
        person.linked_at = now - timedelta(days=35)
        at = now - timedelta(days=28 - index, hours=rng.randint(0, 5))
        for position, (who, words) in enumerate(exchanges):
            at += timedelta(days=rng.randint(0, 4), hours=rng.randint(1, 6), minutes=rng.randint(0, 59))
            at = min(at, now - timedelta(minutes=30 * (len(exchanges) - position)))
            last = position == len(exchanges) - 1
            inbound = who == "yp"
            session.add(
                Message(
                    young_person_id=person.id,
                    direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                    sender_kind=SenderKind.YOUNG_PERSON if inbound else SenderKind.STAFF,
                    staff_id=None if inbound else staff[worker].id,
                    channel=channel,
                    body=words,
                    meta={},
                    delivery_status=DeliveryStatus.RECEIVED if inbound else DeliveryStatus.SENT,
                    created_at=at,
                    sent_at=None if inbound else at,
                    # The newest message from some young people is still unread.
                    read_at=None if (inbound and last and index % 2 == 0) else at + timedelta(minutes=20),
                )
            )
            person.last_message_at = at
            if inbound:
                person.last_inbound_at = at
        people[preferred] = person
    await session.flush()
    await _seed_desk(session, now, staff, people)


async def _seed_desk(session, now: datetime, staff: dict[str, StaffMember], people: dict[str, YoungPerson]) -> None:  # type: ignore[no-untyped-def]
    """Give the key workers canned replies, a private note and an appointment today, so those pages show something."""
    for worker in ("jo", "ali"):
        await do_seed_canned_replies(session, now - timedelta(days=30), staff[worker])
    await do_write_note(session, now - timedelta(days=2), people["Sam"], staff["jo"],
                        "College place confirmed. Sam wants help with the bus pass before term starts.")
    today = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=3)
    session.add(Appointment(
        young_person_id=people["Dan"].id, created_by_id=staff["jo"].id, what="Dentist", starts_at=today,
        place="Market Street surgery", created_at=now - timedelta(days=5), updated_at=now - timedelta(days=5),
    ))
    await session.flush()
