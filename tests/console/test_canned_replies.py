"""Canned replies: each worker keeps their own list, edits it, and drops one into the reply box to change."""

from __future__ import annotations

import html
import re

import httpx
from sqlalchemy import select

from models import CannedReply
from tests.conftest import Service

HTMX = {"HX-Request": "true"}


async def jo_and_sam(service: Service) -> tuple[int, httpx.AsyncClient]:
    jo = await service.staff("jo", "Jo")
    sam = await service.young_person("Samira Haddad", jo, "Sam")
    return sam.id, await service.login("jo")


def reply_box(page: str) -> str:
    found = re.search(r'<textarea id="body"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "no reply box on the page"
    return html.unescape(found.group(1))


async def ids(service: Service) -> dict[str, int]:
    async with service.rt.db() as session:
        return {r.title: r.id for r in await session.scalars(select(CannedReply))}


async def test_a_worker_starts_with_examples_adds_edits_and_deletes_their_own(service: Service) -> None:
    _, console = await jo_and_sam(service)
    empty = await console.get("/canned-replies")
    assert empty.status_code == 200 and "You have no canned replies yet." in empty.text

    started = await console.post("/canned-replies/starters", follow_redirects=True)
    assert "Checking in" in started.text and "Running late" in started.text

    added = await console.post(
        "/canned-replies", data={"title": "Bus fare", "body": "Hi {name}, I can pay your bus fare. Keep the ticket!"},
        follow_redirects=True,
    )
    assert "Added." in added.text and "I can pay your bus fare" in added.text

    mine = await ids(service)
    changed = await console.post(
        "/canned-replies/update",
        data={"reply_id": mine["Bus fare"], "title": "Bus fare", "body": "Hi {name}, I'll pay your bus fare both ways."},
        follow_redirects=True,
    )
    assert "Changed." in changed.text and "both ways" in changed.text and "Keep the ticket" not in changed.text

    deleted = await console.post("/canned-replies/delete", data={"reply_id": mine["Running late"]}, follow_redirects=True)
    assert "Deleted." in deleted.text and "Running late" not in deleted.text

    refused = await console.post("/canned-replies", data={"title": "Empty", "body": "   "})
    assert refused.status_code == 422 and "Please write the reply." in refused.text


async def test_a_canned_reply_goes_into_the_reply_box_with_the_name_after_what_was_typed(service: Service) -> None:
    sam, console = await jo_and_sam(service)
    await console.post("/canned-replies", data={"title": "Bus fare", "body": "Hi {name}, I can pay your bus fare."})
    fare = (await ids(service))["Bus fare"]

    picker = await console.get(f"/young-people/{sam}/canned-replies")
    assert picker.status_code == 200 and f'value="{fare}"' in picker.text and "Bus fare" in picker.text

    filled = await console.get(f"/young-people/{sam}/reply", params={"canned": fare}, headers=HTMX)
    assert reply_box(filled.text) == "Hi Sam, I can pay your bus fare."
    assert "autofocus" in filled.text

    kept = await console.get(f"/young-people/{sam}/reply", params={"canned": fare, "body": "Good news!"}, headers=HTMX)
    assert reply_box(kept.text) == "Good news!\n\nHi Sam, I can pay your bus fare."

    # It is only put in the box: nothing is sent until the worker presses Send.
    sent = await console.post(f"/young-people/{sam}/messages", data={"body": reply_box(kept.text)})
    assert sent.status_code == 303
    page = await console.get(f"/young-people/{sam}")
    assert "Good news!\n\nHi Sam, I can pay your bus fare." in html.unescape(page.text)


async def test_nobody_can_see_or_use_another_workers_canned_replies(service: Service) -> None:
    sam, console = await jo_and_sam(service)
    await console.post("/canned-replies", data={"title": "Jo's own", "body": "Only Jo writes like this."})
    jos = (await ids(service))["Jo's own"]
    ali_worker = await service.staff("ali", "Ali")
    tia = await service.young_person("Tia Green", ali_worker, "Tia")
    ali = await service.login("ali")

    assert "Only Jo writes like this" not in (await ali.get("/canned-replies")).text
    assert "Jo&#39;s own" not in (await ali.get(f"/young-people/{tia.id}/canned-replies")).text
    into_box = await ali.get(f"/young-people/{tia.id}/reply", params={"canned": jos}, headers=HTMX)
    assert "Only Jo writes like this" not in into_box.text
    assert (await ali.post("/canned-replies/update", data={"reply_id": jos, "body": "hacked"})).status_code == 404
    assert (await ali.post("/canned-replies/delete", data={"reply_id": jos})).status_code == 404
    assert (await ali.get(f"/young-people/{sam}/canned-replies")).status_code == 404
    async with service.rt.db() as session:
        assert (await session.get(CannedReply, jos)).body == "Only Jo writes like this."
