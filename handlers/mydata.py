"""/mydata: what is held about the young person, who can see it, and a button to ask for a copy."""

from __future__ import annotations

from bot.services.data_rights import COPY_FLAG, counts, do_request_copy, who_can_see
from bot.services.opt_out import is_paused
from handlers.stop import command_of
from handlers.turn import Turn

COPY = "mydata:copy"  # stale-safe: asking twice keeps the one open request


async def handle(turn: Turn) -> bool:
    young_person = turn.young_person
    if young_person is None:
        return False
    worker = turn.key_worker.display_name if turn.key_worker else ""
    if turn.event.payload == COPY:
        await do_request_copy(turn.session, turn.now, young_person)
        turn.events.append(("flag", {"kind": COPY_FLAG}))
        await turn.say("mydata.copy_asked", worker=worker)
        return True
    if command_of(turn.event) != "mydata":
        return False
    held = await counts(turn.session, young_person.id)
    await turn.say("mydata.held", name=young_person.preferred_name, **held)
    await turn.say("mydata.who", people=", ".join(await who_can_see(turn.session, young_person)))
    await turn.say(
        "mydata.rights",
        buttons=[[{"label": turn.text("mydata.copy_button"), "data": COPY}]],
        days=turn.rt.settings.retention_days_after_leaving,
    )
    if is_paused(young_person):
        await turn.say("mydata.stopped")
    return True
