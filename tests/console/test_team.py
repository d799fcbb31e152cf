"""The team around a young person: hub staff read and reply under their own name; handovers are recorded."""

from __future__ import annotations

from sqlalchemy import select

from bot.clock import FrozenClock
from models import AuditEvent, Handover, Message, StaffRole, TeamMember, YoungPerson
from tests.conftest import Service
from tests.fakes.botapi import FakeBotAPI
from tests.handlers.test_cover import linked_sam, say

CHAT = 4480001


async def test_team_member_reads_and_replies_under_their_own_name(service: Service, fake_bot_api: FakeBotAPI) -> None:
    jo, sam, _ = await linked_sam(service, fake_bot_api, CHAT)
    kai_account = await service.staff("kai", "Kai")
    await service.staff("bo", "Bo")
    kai, bo = await service.login("kai"), await service.login("bo")
    await say(service, fake_bot_api, "i got the college place!", CHAT)

    # Not on the team yet: nothing, whatever the id.
    assert (await kai.get(f"/young-people/{sam}")).status_code == 404

    added = await jo.post(f"/young-people/{sam}/team", data={"staff_id": str(kai_account.id), "role": "life coach"})
    assert added.status_code == 303
    team_page = await jo.get(f"/young-people/{sam}/team")
    assert "Kai" in team_page.text and "life coach" in team_page.text

    assert f'href="/young-people/{sam}"' in (await kai.get("/young-people")).text
    conversation = await kai.get(f"/young-people/{sam}")
    assert conversation.status_code == 200 and "i got the college place!" in conversation.text
    panel = await kai.get(f"/young-people/{sam}/team/panel")
    assert "<strong>Jo</strong>, key worker" in panel.text and "<strong>Kai</strong>, life coach" in panel.text

    reply = await kai.post(f"/young-people/{sam}/messages", data={"body": "Brilliant news! Shall we plan the first week?"})
    assert reply.status_code == 303
    sent = await fake_bot_api.wait_for_sent_async(CHAT, count=3)
    assert sent[-1]["text"] == "Kai (life coach):\nBrilliant news! Shall we plan the first week?"
    await service.idle()
    async with service.rt.db() as session:
        mine = (await session.scalars(select(Message).where(Message.staff_id == kai_account.id))).all()
        assert [m.body for m in mine] == ["Brilliant news! Shall we plan the first week?"]
    assert ">Kai<" in (await jo.get(f"/young-people/{sam}")).text  # Jo sees who wrote it

    # A team member reads and replies, but does not change the team or hand over.
    assert (await kai.post(f"/young-people/{sam}/team", data={"staff_id": str(kai_account.id), "role": "x"})).status_code == 403
    assert (await kai.post(f"/young-people/{sam}/handover", data={"to_staff_id": str(kai_account.id)})).status_code == 403

    # Someone not on the team gets 'not found' for every door, however they change the id.
    for path in (f"/young-people/{sam}", f"/young-people/{sam}/team", f"/young-people/{sam}/team/panel"):
        assert (await bo.get(path)).status_code == 404, path
    assert (await bo.post(f"/young-people/{sam}/messages", data={"body": "hi"})).status_code == 404
    assert (await bo.post(f"/young-people/{sam}/team", data={"staff_id": "1", "role": "friend"})).status_code == 404
    assert "Sam" not in (await bo.get("/young-people")).text

    # Taken off the team: access ends, the record of membership stays.
    async with service.rt.db() as session:
        member_id = await session.scalar(select(TeamMember.id).where(TeamMember.staff_id == kai_account.id))
    assert (await bo.post(f"/young-people/{sam}/team/remove", data={"member_id": str(member_id)})).status_code == 404
    removed = await jo.post(f"/young-people/{sam}/team/remove", data={"member_id": str(member_id)})
    assert removed.status_code == 303
    assert (await kai.get(f"/young-people/{sam}")).status_code == 404
    async with service.rt.db() as session:
        member = await session.get(TeamMember, member_id)
        assert member is not None and member.removed_at is not None
        # Both changes to who may read Sam's messages are in the audit log.
        changes = (await session.execute(
            select(AuditEvent.action, AuditEvent.target).where(AuditEvent.action.in_(["team_added", "team_removed"]))
        )).all()
        assert sorted(changes) == [("team_added", f"staff:{kai_account.id}"), ("team_removed", f"staff:{kai_account.id}")]
    for client in (kai, bo):
        await client.aclose()


async def test_manager_sees_figures_only_unless_on_the_team(service: Service, fake_bot_api: FakeBotAPI) -> None:
    jo, sam, _ = await linked_sam(service, fake_bot_api, CHAT)
    priya_account = await service.staff("priya", "Priya", StaffRole.MANAGER)
    priya = await service.login("priya")
    await say(service, fake_bot_api, "private words for jo", CHAT)

    caseload = await priya.get("/young-people")
    assert "Sam" in caseload.text and "private words for jo" not in caseload.text
    assert (await priya.get(f"/young-people/{sam}")).status_code == 404
    team_page = await priya.get(f"/young-people/{sam}/team")
    assert team_page.status_code == 200 and "private words for jo" not in team_page.text
    assert "Open the conversation" not in team_page.text

    # The key worker adds the manager as, say, family-circles worker: now she reads it.
    await jo.post(f"/young-people/{sam}/team", data={"staff_id": str(priya_account.id), "role": "family-circles worker"})
    conversation = await priya.get(f"/young-people/{sam}")
    assert conversation.status_code == 200 and "private words for jo" in conversation.text
    assert "/young-people/" in (await priya.get(f"/staff/{priya_account.id}")).text  # her teams, linked
    await priya.aclose()


async def test_handover_is_recorded_and_the_young_person_told(
    service: Service, fake_bot_api: FakeBotAPI, clock: FrozenClock
) -> None:
    jo, sam, jo_id = await linked_sam(service, fake_bot_api, CHAT)
    ali_account = await service.staff("ali", "Ali")
    ali = await service.login("ali")
    await say(service, fake_bot_api, "moving to leeds next month", CHAT)
    await jo.post(f"/young-people/{sam}/messages", data={"body": "Let's plan it together."})
    await fake_bot_api.wait_for_sent_async(CHAT, count=3)

    refused = await jo.post(f"/young-people/{sam}/handover", data={"to_staff_id": str(jo_id), "note": ""})
    assert refused.status_code == 400 and "already the key worker" in refused.text

    handed = await jo.post(
        f"/young-people/{sam}/handover", data={"to_staff_id": str(ali_account.id), "note": "Ali covers Leeds."}
    )
    assert handed.status_code == 303 and handed.headers["location"] == "/young-people"
    told = await fake_bot_api.wait_for_sent_async(CHAT, count=4)
    assert told[-1]["text"].startswith("Hi Sam. From today your key worker is Ali, instead of Jo.")
    assert told[-1]["text"] == service.rt.content.text("team.handover", name="Sam", new_worker="Ali", old_worker="Jo")

    async with service.rt.db() as session:
        handover = await session.scalar(select(Handover))
        assert handover is not None
        assert (handover.from_staff_id, handover.to_staff_id, handover.by_staff_id) == (jo_id, ali_account.id, jo_id)
        assert handover.at == clock.now() and handover.note == "Ali covers Leeds."
        person = await session.get(YoungPerson, sam)
        assert person is not None and person.key_worker_id == ali_account.id
        audited = await session.scalar(select(AuditEvent).where(AuditEvent.action == "handover"))
        assert (audited.actor_staff_id, audited.young_person_id, audited.target) == (jo_id, sam, f"staff:{ali_account.id}")

    # The history stays with Sam: Ali sees all of it; Jo no longer sees Sam.
    conversation = await ali.get(f"/young-people/{sam}")
    assert "moving to leeds next month" in conversation.text and "Let&#39;s plan it together." in conversation.text
    assert (await jo.get(f"/young-people/{sam}")).status_code == 404
    assert "Sam" not in (await jo.get("/young-people")).text
    history = await ali.get(f"/young-people/{sam}/team")
    assert "Jo to Ali, by Jo" in history.text and "Ali covers Leeds." in history.text

    # A message from Sam now reaches Ali, with Ali's working hours.
    await say(service, fake_bot_api, "hi ali", CHAT)
    assert "hi ali" in (await ali.get(f"/young-people/{sam}")).text
    await ali.aclose()


async def test_manager_hands_over_and_a_worker_manages_only_their_own_hours(service: Service, fake_bot_api: FakeBotAPI) -> None:
    jo, sam, jo_id = await linked_sam(service, fake_bot_api, CHAT)
    ali_account = await service.staff("ali", "Ali")
    await service.staff("priya", "Priya", StaffRole.MANAGER)
    priya = await service.login("priya")

    handed = await priya.post(f"/young-people/{sam}/handover", data={"to_staff_id": str(ali_account.id), "note": ""})
    assert handed.status_code == 303 and handed.headers["location"] == f"/young-people/{sam}/team"
    async with service.rt.db() as session:
        handover = await session.scalar(select(Handover))
        assert handover is not None and handover.by_staff_id != jo_id

    saved = await jo.post(
        f"/staff/{jo_id}/hours", data={"mon_start": "08:00", "mon_end": "16:00", "tue_start": "10:00", "tue_end": "18:00"}
    )
    assert saved.status_code == 303
    page = await jo.get(f"/staff/{jo_id}")
    assert 'value="08:00"' in page.text and 'value="18:00"' in page.text
    bad = await jo.post(f"/staff/{jo_id}/hours", data={"mon_start": "17:00", "mon_end": "09:00"})
    assert bad.status_code == 400 and "must be before the end" in bad.text
    assert (await jo.get(f"/staff/{ali_account.id}")).status_code == 404
    assert (await jo.post(f"/staff/{ali_account.id}/hours", data={"mon_start": "01:00", "mon_end": "02:00"})).status_code == 404
    assert (await priya.get(f"/staff/{jo_id}")).status_code == 200
    await priya.aclose()
