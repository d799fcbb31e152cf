"""The chronology export: a readable, dated record for the case system, from a hand-built history; audited; private."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import select

from models import (
    Alert,
    AlertAction,
    Appointment,
    AuditEvent,
    CheckIn,
    Flag,
    Message,
    MissingEpisode,
    PlacementMove,
    StaffRole,
    WellbeingAnswer,
    WellbeingResponse,
)
from tests.conftest import Service


def at(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


async def history(service: Service) -> int:
    """Jo looks after Sam: two days of messages, a check-in, an appointment, an alert, a missing episode, a move."""
    jo = await service.staff("jo", "Jo")
    sam = await service.young_person("Samira Haddad", jo, "Sam")
    async with service.rt.db() as session:
        def message(when: datetime, direction: str, sender: str, body: str, staff_id: int | None = None) -> Message:
            return Message(young_person_id=sam.id, direction=direction, sender_kind=sender, staff_id=staff_id, body=body,
                           delivery_status="received" if direction == "in" else "sent", created_at=when)

        session.add_all([
            message(at(20, 9), "in", "young_person", "my secret words"),
            message(at(20, 9, 5), "in", "young_person", "are you there"),
            message(at(20, 9, 30), "out", "staff", "Yes, here for you", jo.id),
            message(at(20, 18), "out", "bot", "Hi Sam! Time for a check-in."),
            message(at(22, 23, 30), "in", "young_person", "late night words"),  # 23:30 UTC is still the 22nd in London (GMT)
            CheckIn(young_person_id=sam.id, source="scheduled", sent_at=at(20, 18), answered_at=at(20, 18, 10),
                    answer="mood", mood=2, wants_contact=True),
            Appointment(young_person_id=sam.id, created_by_id=jo.id, what="Dentist", starts_at=at(23, 14, 30), place="Market Street",
                        status="attended", answer="yes", answered_at=at(21, 18), outcome_by_id=jo.id, outcome_at=at(23, 16),
                        created_at=at(19, 11), updated_at=at(23, 16)),
            Flag(young_person_id=sam.id, kind="wants_contact", raised_at=at(20, 18, 10), cleared_at=at(20, 19), cleared_by_id=jo.id),
            MissingEpisode(young_person_id=sam.id, started_at=at(21, 20), started_by_id=jo.id, note="Did not come home",
                           messages_sent=2, first_contact_at=at(21, 22), ended_at=at(22, 1), ended_by_id=jo.id, end_note="Back at placement"),
            PlacementMove(young_person_id=sam.id, moved_at=at(24, 12), recorded_by_id=jo.id, note="Emergency move", created_at=at(24, 15)),
        ])
        alert = Alert(young_person_id=sam.id, level="urgent", categories=["self_harm"], source="message", raised_at=at(21, 21))
        session.add(alert)
        response = WellbeingResponse(young_person_id=sam.id, questionnaire="listened", language="en", trigger="scheduled",
                                     status="complete", started_at=at(21, 16), updated_at=at(21, 16, 5), completed_at=at(21, 16, 5),
                                     scores={"listened": 0})
        session.add(response)
        session.add(WellbeingResponse(young_person_id=sam.id, questionnaire="ons4", language="en", trigger="self", status="complete",
                                      started_at=at(22, 17, 25), updated_at=at(22, 17, 30), completed_at=at(22, 17, 30),
                                      scores={"life": 7, "worthwhile": 8, "happy": 6, "anxious": 2, "overall": 7.25}))
        await session.flush()
        session.add_all([
            AlertAction(alert_id=alert.id, kind="raised", note="message", at=at(21, 21)),
            AlertAction(alert_id=alert.id, staff_id=jo.id, kind="acknowledged", at=at(21, 21, 4)),
            AlertAction(alert_id=alert.id, staff_id=jo.id, kind="action", note="Rang Sam, safe with carer", at=at(21, 21, 20)),
            WellbeingAnswer(response_id=response.id, question="listened", position=0, value=0, answered_at=at(21, 16, 5)),
        ])
        await session.commit()
    return sam.id


async def test_the_csv_and_page_tell_the_story_by_date_without_anyones_words(service: Service) -> None:
    sam = await history(service)
    console = await service.login("jo")
    got = await console.get(f"/young-people/{sam}/chronology.csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    assert got.headers["content-disposition"] == f'attachment; filename="chronology-young-person-{sam}-2026-11-25.csv"'
    assert got.headers["cache-control"] == "no-store"
    rows = list(csv.reader(io.StringIO(got.text)))
    assert rows[0] == ["date", "time", "type", "what happened", "by"]
    assert rows[1:] == [
        ["2026-11-19", "11:00", "Appointment made", "Dentist at 23 Nov 2026 14:30, Market Street; said they would be there; attended", "Jo"],
        ["2026-11-20", "", "Messages", "4 messages: 2 from Sam, 1 from Jo, 1 automatic (check-ins, reminders, answers)", ""],
        ["2026-11-20", "18:00", "Check-in", "Check-in sent: feeling Not good (2 of 5); wanted their worker to get in touch", ""],
        ["2026-11-20", "18:10", "Flag", "Flag raised: Wants you to get in touch", ""],
        ["2026-11-20", "19:00", "Flag", "Flag cleared: Wants you to get in touch", "Jo"],
        ["2026-11-21", "16:05", "Wellbeing", "Did you feel listened to? (answered): 👎 No", ""],
        ["2026-11-21", "20:00", "Missing from care", "Reported missing: Did not come home", "Jo"],
        ["2026-11-21", "21:00", "Safeguarding alert", "Alert 1 (urgent): self harm", ""],
        ["2026-11-21", "21:04", "Alert action", "Alert 1 picked up", "Jo"],
        ["2026-11-21", "21:20", "Alert action", "Alert 1 action taken: Rang Sam, safe with carer", "Jo"],
        ["2026-11-21", "22:00", "Missing from care", "First in touch while missing (2 'are you safe?' messages sent)", ""],
        ["2026-11-22", "01:00", "Missing from care", "Back safe: Back at placement", "Jo"],
        ["2026-11-22", "17:30", "Wellbeing", "ONS personal wellbeing (4 questions, 0-10) (answered): Life satisfaction 7; "
         "Things done feel worthwhile 8; Happiness yesterday 6; Anxiety yesterday (lower is better) 2; Overall, anxiety turned round 7.25", ""],
        ["2026-11-22", "", "Messages", "1 message: 1 from Sam", ""],
        ["2026-11-23", "16:00", "Appointment outcome", "Dentist: attended", "Jo"],
        ["2026-11-24", "", "Placement move", "Moved placement: Emergency move", "Jo"],
    ]
    page = await console.get(f"/young-people/{sam}/chronology.html")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "attachment;" in page.headers["content-disposition"]
    assert "<h1>Chronology: Samira Haddad (Sam)</h1>" in page.text and "key worker Jo" in page.text
    assert "Sat 21 Nov 2026" in page.text and "Alert 1 action taken: Rang Sam, safe with carer" in page.text
    assert "<script" not in page.text
    for words in ("my secret words", "are you there", "Yes, here for you", "late night words"):
        assert words not in page.text and words not in got.text  # messages are counted, never quoted


async def test_each_export_is_in_the_audit_log_and_only_their_people_and_admins_may_export(service: Service) -> None:
    sam = await history(service)
    await service.staff("ali", "Ali")
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    await service.staff("ada", "Ada", StaffRole.ADMIN)
    jo = await service.login("jo")
    page = await jo.get(f"/young-people/{sam}/data/panel")
    assert f'href="/young-people/{sam}/chronology.html"' in page.text and f'href="/young-people/{sam}/chronology.csv"' in page.text
    assert (await jo.get(f"/young-people/{sam}/chronology.html")).status_code == 200
    for other in ("ali", "priya"):
        client = await service.login(other)
        for fmt in ("html", "csv"):
            refused = await client.get(f"/young-people/{sam}/chronology.{fmt}")
            assert refused.status_code == 404 and "Samira" not in refused.text
    admin = await service.login("ada")
    assert (await admin.get(f"/young-people/{sam}/chronology.csv")).status_code == 200
    assert (await admin.get("/young-people/999/chronology.csv")).status_code == 404

    async with service.rt.db() as session:
        exports = list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "export_chronology").order_by(AuditEvent.id)))
    assert [(e.young_person_id, e.target, e.detail["format"]) for e in exports] == [
        (sam, f"young_person:{sam}", "html"), (sam, f"young_person:{sam}", "csv"),
    ]
    assert exports[0].actor_staff_id != exports[1].actor_staff_id  # Jo, then Ada
    assert exports[0].detail["entries"] == 16 and exports[0].ip == "127.0.0.1"
