"""Placement moves in the staff console: the panel on the young person's page, recording a move, and who may."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from sqlalchemy import select, text

from models import AuditEvent, PlacementMove
from tests.conftest import Service

HTMX = {"HX-Request": "true"}


async def jo_and_sam(service: Service) -> tuple[httpx.AsyncClient, int]:
    jo = await service.staff("jo", "Jo")
    sam = await service.young_person("Samira Haddad", jo, "Sam")
    return await service.login("jo"), sam.id


async def moves(service: Service) -> list[PlacementMove]:
    async with service.rt.db() as session:
        return list(await session.scalars(select(PlacementMove).order_by(PlacementMove.id)))


async def test_a_worker_records_a_move_from_the_young_persons_page(service: Service) -> None:
    console, sam = await jo_and_sam(service)
    page = await console.get(f"/young-people/{sam}")
    assert f'hx-get="/young-people/{sam}/placement/panel"' in page.text
    panel = await console.get(f"/young-people/{sam}/placement/panel")
    assert panel.status_code == 200 and "No moves recorded." in panel.text and 'name="csrf_token"' in panel.text

    made = await console.post(
        f"/young-people/{sam}/placement/moves", data={"moved_on": "2026-07-01", "note": "Foster placement ended"}, headers=HTMX
    )
    assert made.status_code == 200, made.text
    assert "Move recorded." in made.text and "Wed 1 Jul 2026" in made.text and "Foster placement ended" in made.text
    assert "recorded by Jo" in made.text and "1 move recorded." in made.text

    # Without htmx (no script), the form posts and comes back to the page.
    plain = await console.post(f"/young-people/{sam}/placement/moves", data={"moved_on": "2026-11-20"})
    assert plain.status_code == 303 and plain.headers["location"] == f"/young-people/{sam}"

    first, second = await moves(service)
    # Midday in London on the day given (summer time in July): the UTC date is the same day.
    assert first.moved_at == datetime(2026, 7, 1, 11, 0, tzinfo=UTC)
    assert second.moved_at == datetime(2026, 11, 20, 12, 0, tzinfo=UTC) and second.note is None
    assert first.young_person_id == sam and first.created_at == service.rt.now()
    async with service.rt.db() as session:
        stored = await session.scalar(text("SELECT note FROM placement_moves WHERE id = :id"), {"id": first.id})
        audited = list(await session.scalars(select(AuditEvent).where(AuditEvent.action == "placement_move")))
    assert "Foster" not in str(stored)  # the note is encrypted at rest
    assert [(a.young_person_id, a.target) for a in audited] == [(sam, f"placement_move:{first.id}"), (sam, f"placement_move:{second.id}")]
    assert audited[0].actor_staff_id is not None

    listed = await console.get(f"/young-people/{sam}/placement/panel")
    assert listed.text.index("Fri 20 Nov 2026") < listed.text.index("Wed 1 Jul 2026")  # newest first


async def test_a_date_in_the_future_or_missing_is_refused_and_what_was_typed_is_kept(service: Service) -> None:
    console, sam = await jo_and_sam(service)
    future = await console.post(
        f"/young-people/{sam}/placement/moves", data={"moved_on": "2026-11-26", "note": "Moving tomorrow"}, headers=HTMX
    )
    assert future.status_code == 422
    assert "cannot be in the future" in future.text and "Moving tomorrow" in future.text
    missing = await console.post(f"/young-people/{sam}/placement/moves", data={"moved_on": ""}, headers=HTMX)
    assert missing.status_code == 422 and "Please give the date of the move." in missing.text
    assert await moves(service) == []


async def test_another_worker_cannot_see_or_record_moves_and_forms_need_their_token(service: Service) -> None:
    console, sam = await jo_and_sam(service)
    await service.staff("ali", "Ali")
    ali = await service.login("ali")
    assert (await ali.get(f"/young-people/{sam}/placement/panel")).status_code == 404
    assert (await ali.post(f"/young-people/{sam}/placement/moves", data={"moved_on": "2026-11-20"})).status_code == 404
    del console.headers["X-CSRF-Token"]
    assert (await console.post(f"/young-people/{sam}/placement/moves", data={"moved_on": "2026-11-20"})).status_code == 403
    assert await moves(service) == []
