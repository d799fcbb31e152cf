"""The caseload puts whoever needs attention now first, and says why on each row."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from bot.clock import FrozenClock
from models import Alert, Appointment, DeliveryStatus, Direction, Message, SenderKind, YoungPerson
from tests.conftest import Service


def rows(page: str) -> list[tuple[str, str]]:
    """Each caseload row's name and its 'needs attention' words, top to bottom."""
    body = page.split('id="caseload-rows"', 1)[1]
    found = re.findall(r'<th scope="row">\s*<a [^>]*>([^<]+)</a>.*?<td class="reasons">(.*?)</td>', body, re.S)
    return [(name, " ".join(html.unescape(re.sub(r"<[^>]+>", " ", words)).split())) for name, words in found]


async def test_caseload_orders_by_who_needs_attention_now(service: Service, clock: FrozenClock) -> None:
    jo = await service.staff("jo", "Jo")
    now = clock.now()  # Wednesday 25 November 2026, 10:00 in London
    people = {name: await service.young_person(f"{name} Test", jo, name) for name in ("Ava", "Ben", "Cal", "Dee", "Eli", "Fay")}
    async with service.rt.db() as session:
        for name in ("Ben", "Cal", "Dee", "Eli", "Fay"):
            person = await session.get(YoungPerson, people[name].id)
            person.linked_at = now - timedelta(days=30)
            person.last_inbound_at = now - timedelta(days=1)
        session.add(Message(
            young_person_id=people["Ben"].id, direction=Direction.INBOUND, sender_kind=SenderKind.YOUNG_PERSON,
            channel="webchat", body="can you ring me", meta={}, delivery_status=DeliveryStatus.RECEIVED,
            created_at=now - timedelta(hours=2),
        ))
        session.add(Alert(young_person_id=people["Cal"].id, level="urgent", categories=["self_harm"], source="not_ok",
                          raised_at=now - timedelta(minutes=5)))
        session.add(Appointment(
            young_person_id=people["Dee"].id, created_by_id=jo.id, what="Dentist", starts_at=now + timedelta(hours=5),
            created_at=now - timedelta(days=3), updated_at=now - timedelta(days=3),
        ))
        (await session.get(YoungPerson, people["Eli"].id)).last_inbound_at = now - timedelta(days=20)
        # Fay's appointment is tomorrow: nothing for today.
        session.add(Appointment(
            young_person_id=people["Fay"].id, created_by_id=jo.id, what="College", starts_at=now + timedelta(days=1),
            created_at=now - timedelta(days=3), updated_at=now - timedelta(days=3),
        ))
        await session.commit()
    console = await service.login("jo")

    page = await console.get("/young-people")
    shown = rows(page.text)
    assert shown[:4] == [
        ("Cal", "Urgent alert, not picked up (5 min)"),
        ("Ben", "1 unread message, waiting 2 h"),
        ("Dee", "Appointment today at 15:00"),
        ("Eli", "Not heard from for 20 days"),
    ]
    assert sorted(shown[4:]) == [("Ava", "Nothing now"), ("Fay", "Nothing now")]

    # Once the alert is picked up it still shows, below nothing that is more urgent.
    async with service.rt.db() as session:
        alert = (await session.execute(Alert.__table__.select())).first()
        stored = await session.get(Alert, alert.id)
        stored.acknowledged_at = now
        await session.commit()
    again = await console.get("/young-people", params={"fragment": "true"})
    assert rows('id="caseload-rows"' + again.text)[0] == ("Cal", "Urgent alert open")

    # A search keeps the same order and reasons, for the people it finds.
    found = await console.get("/young-people", params={"q": "Ben"})
    assert rows(found.text) == [("Ben", "1 unread message, waiting 2 h")]
