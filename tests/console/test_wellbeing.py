"""The wellbeing panel: the worker's plan, scores over time as a chart and a table, the answers, and who may see them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import select

from bot.clock import FrozenClock
from bot.services.wellbeing import do_record_answer, do_start_response
from models import Job, JobState, StaffMember, YoungPerson
from tests.conftest import Service


async def answered(service: Service, clock: FrozenClock, person_id: int, at: datetime, values: list[int | None]) -> None:
    """Record an ONS questionnaire answered at a given time; None skips a question, a short list leaves it open."""
    clock.set(at)
    async with service.rt.db() as session:
        person = await session.get(YoungPerson, person_id)
        response = await do_start_response(session, service.rt.now(), person, "ons4", "scheduled")
        for position, value in enumerate(values):
            await do_record_answer(session, service.rt.now(), response, position, value=value)
        await session.commit()


async def sam_with_history(service: Service, clock: FrozenClock) -> tuple[StaffMember, int]:
    jo = await service.staff("jo", "Jo")
    sam = await service.young_person("Samira Haddad", jo, "Sam")
    await answered(service, clock, sam.id, datetime(2026, 9, 25, 17, 30, tzinfo=UTC), [5, 6, 4, 7])
    await answered(service, clock, sam.id, datetime(2026, 10, 25, 18, 0, tzinfo=UTC), [7, 8, 6, 2])
    await answered(service, clock, sam.id, datetime(2026, 11, 25, 9, 0, tzinfo=UTC), [8, None])  # left part way
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=UTC))
    return jo, sam.id


def svgs(html: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", html, flags=re.S)


async def test_the_panel_charts_scores_over_time_with_a_table_and_the_answers(service: Service, clock: FrozenClock) -> None:
    _, sam = await sam_with_history(service, clock)
    console = await service.login("jo")
    page = await console.get(f"/young-people/{sam}")
    assert f'hx-get="/young-people/{sam}/wellbeing/panel"' in page.text

    panel = await console.get(f"/young-people/{sam}/wellbeing/panel")
    assert panel.status_code == 200
    charts = svgs(panel.text)
    titles = [re.search(r"<title[^>]*>([^<]+)</title>", svg).group(1) for svg in charts]
    assert titles == [
        "Life satisfaction", "Things done feel worthwhile", "Happiness yesterday",
        "Anxiety yesterday (lower is better)", "Overall, anxiety turned round",
    ]
    life = charts[0]
    assert 'role="img"' in life and 'aria-labelledby="' in life
    assert (
        "<desc" in life
        and "Life satisfaction, from 0 to 10, higher is better: 5 on 25 Sep 2026, 7 on 25 Oct 2026, 8 on 25 Nov 2026." in life
    )
    assert len(re.findall(r"<circle ", life)) == 3 and "<polyline" in life
    assert ">8</text>" in life  # the newest value is written on the chart
    overall = charts[4]
    # (5 + 6 + 4 + (10 - 7)) / 4 and (7 + 8 + 6 + (10 - 2)) / 4; the open one has no overall yet.
    assert "4.5 on 25 Sep 2026, 7.25 on 25 Oct 2026." in overall and len(re.findall(r"<circle ", overall)) == 2
    assert "lower is better: 7 on 25 Sep 2026, 2 on 25 Oct 2026." in charts[3]
    for svg in charts:  # greys only, so it reads the same printed in black and white
        for colour in re.findall(r'(?:fill|stroke)="#([0-9a-f]{6})"', svg):
            assert colour[0:2] == colour[2:4] == colour[4:6], colour
        assert "style=" not in svg and "<script" not in svg

    table = re.search(r"<table.*?</table>", panel.text, flags=re.S).group(0)
    assert "<caption>Scores by date" in table and '<th scope="col">Life satisfaction</th>' in table
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]
    cells = [re.findall(r"<t[hd][^>]*>\s*([^<]*?)\s*</t[hd]>", row) for row in rows]
    assert cells == [  # newest first
        ["25 Nov 2026", "8", "–", "–", "–", "–", "1 of 4 (not finished yet)"],
        ["25 Oct 2026", "7", "8", "6", "2", "7.25", "4 of 4"],
        ["25 Sep 2026", "5", "6", "4", "7", "4.5", "4 of 4"],
    ]

    assert "Think about your life these days. All in all, how happy are you with it?" in panel.text
    assert "Skipped" in panel.text and "Not answered" in panel.text
    assert "25 Oct 2026: Finished, sent on the plan" in panel.text

    full = await console.get(f"/young-people/{sam}/wellbeing")  # the same, without script
    assert full.status_code == 200 and len(svgs(full.text)) == 5 and "Back to Sam" in full.text


async def test_the_worker_picks_the_questions_and_how_often(service: Service, clock: FrozenClock) -> None:
    jo = await service.staff("jo", "Jo")
    sam = await service.young_person("Samira Haddad", jo, "Sam")
    console = await service.login("jo")
    panel = await console.get(f"/young-people/{sam.id}/wellbeing/panel")
    assert "Every month once Sam has joined" in panel.text and "No answers yet." in panel.text

    async with service.rt.db() as session:
        person = await session.get(YoungPerson, sam.id)
        person.linked_at = service.rt.now()
        await session.commit()
    panel = await console.get(f"/young-people/{sam.id}/wellbeing/panel")  # linked: on the default plan
    assert "ONS personal wellbeing (4 questions, 0-10): every month." in panel.text
    assert "Next: Fri 25 Dec 2026, 17:00" in panel.text

    saved = await console.post(
        f"/young-people/{sam.id}/wellbeing/plan",
        data={"questionnaire": "feelings", "frequency": "weekly"},
        headers={"HX-Request": "true"},
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    assert "Quick feelings check (3 taps and a note): every week." in saved.text
    assert "Next: Wed 2 Dec 2026, 17:00" in saved.text
    assert re.search(r'<option value="feelings" selected>', saved.text)
    async with service.rt.db() as session:
        jobs = (await session.execute(select(Job.due_at, Job.state).where(Job.kind == "wellbeing").order_by(Job.id))).all()
    assert jobs == [
        (datetime(2026, 12, 25, 17, 0, tzinfo=UTC), JobState.CANCELLED),
        (datetime(2026, 12, 2, 17, 0, tzinfo=UTC), JobState.PENDING),
    ]

    off = await console.post(
        f"/young-people/{sam.id}/wellbeing/plan", data={"questionnaire": "feelings", "frequency": "off"},
        headers={"HX-Request": "true"},
    )
    assert "off (only when they ask)." in off.text and "Next:" not in off.text
    async with service.rt.db() as session:
        pending = await session.scalar(select(Job.id).where(Job.kind == "wellbeing", Job.state == JobState.PENDING))
    assert pending is None

    refused = await console.post(
        f"/young-people/{sam.id}/wellbeing/plan", data={"questionnaire": "feelings", "frequency": "hourly"}
    )
    assert refused.status_code == 400 and "There is no frequency called hourly" in refused.text
    refused = await console.post(
        f"/young-people/{sam.id}/wellbeing/plan", data={"questionnaire": "kessler", "frequency": "weekly"},
        headers={"HX-Request": "true"},
    )
    assert 'role="alert">There is no questionnaire called kessler' in refused.text  # shown in the panel


async def test_another_key_worker_gets_not_found(service: Service, clock: FrozenClock) -> None:
    _, sam = await sam_with_history(service, clock)
    await service.staff("ali", "Ali")
    ali = await service.login("ali")
    for response in (
        await ali.get(f"/young-people/{sam}/wellbeing/panel"),
        await ali.get(f"/young-people/{sam}/wellbeing"),
        await ali.post(f"/young-people/{sam}/wellbeing/plan", data={"questionnaire": "feelings", "frequency": "weekly"}),
        await ali.post(f"/young-people/{sam}/wellbeing/prompts"),
    ):
        assert response.status_code == 404
        assert "Life satisfaction" not in response.text
    async with service.rt.db() as session:
        assert await session.scalar(select(Job.id).where(Job.kind == "wellbeing")) is None
