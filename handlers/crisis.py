"""Crisis: an urgent message, /help or 'I'm not OK' gets help at once and a person is alerted."""

from __future__ import annotations

import unicodedata
from datetime import timedelta

from bot.services.alert import do_raise_alert
from bot.services.flag import do_raise_flag
from handlers.turn import Turn
from models import SafetyPlan

NOT_OK = "crisis:not_ok"


def _plain(text: str) -> str:
    return unicodedata.normalize("NFKC", text).replace("’", "'").strip().casefold()


def asked_for_help(turn: Turn) -> str | None:
    """Say how the young person asked for help ('help', 'not_ok'), if they did."""
    event = turn.event
    if event.command == "help":
        return "help"
    if event.payload == NOT_OK:
        return "not_ok"
    # The persistent Telegram keyboard button arrives as its own label, in whichever language it was
    # sent: a keyboard from before they changed language still works.
    content = turn.rt.content
    if event.text and _plain(event.text) in {_plain(content.text("crisis.not_ok_button", lang)) for lang in content.languages}:
        return "not_ok"
    return None


async def send_help(turn: Turn) -> None:
    """Reply with the safety plan first, if there is one, then the helplines."""
    young_person, worker = turn.young_person, turn.key_worker
    assert young_person is not None
    await turn.say(
        "crisis.urgent_reply",
        purpose="crisis",
        name=young_person.preferred_name,
        worker=worker.display_name if worker else "",
    )
    plan = await turn.session.get(SafetyPlan, young_person.id)
    if plan is not None:
        await turn.say(
            "crisis.safety_plan",
            purpose="safety_plan",
            warning_signs=plan.warning_signs or "-",
            things_that_help=plan.things_that_help or "-",
            people_and_places=plan.people_and_places or "-",
            who_to_call=plan.who_to_call or "-",
        )
    await turn.say("crisis.helplines", purpose="helplines", out_of_hours=turn.rt.settings.out_of_hours_phone)


async def handle(turn: Turn) -> bool:
    young_person = turn.young_person
    if young_person is None:
        return False
    source = asked_for_help(turn)
    risk = turn.risk
    if source is None and risk is not None and risk.is_urgent:
        source = "message"
    if source is not None:
        # Quiet hours never apply here: replies go out at once, whatever the hour.
        await send_help(turn)
        alert, new = await do_raise_alert(
            turn.session,
            turn.now,
            young_person,
            level="urgent",
            categories=list(risk.categories) if risk and risk.is_urgent else ["asked_for_help"],
            source=source,
            message_id=await turn.message_id(),
            escalate_after=timedelta(minutes=turn.rt.settings.alert_escalation_minutes),
        )
        turn.events.append(("alert", {"alert_id": alert.id, "new": new}))
        return True
    if risk is not None and risk.level == "concern":
        await do_raise_flag(
            turn.session, turn.now, young_person.id, "risk_concern",
            categories=list(risk.categories), message_id=await turn.message_id(),
        )
        turn.events.append(("caseload", {}))
    return False
