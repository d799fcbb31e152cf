"""/start: link a chat with an invite code, or greet someone already linked."""

from __future__ import annotations

from bot.services.invite import RedeemFailure, do_redeem_invite
from bot.services.wellbeing_plan import do_ensure_plan
from handlers.turn import Turn
from models import StaffMember, YoungPerson


async def handle(turn: Turn) -> bool:
    if turn.event.command != "start":
        return False
    code = turn.event.args.strip()
    if turn.young_person is not None and not code:
        await turn.say(
            "start.already_linked",
            name=turn.young_person.preferred_name,
            worker=turn.key_worker.display_name if turn.key_worker else "",
        )
        return True
    if not code:
        await turn.say("start.not_invited")
        return True
    link = await do_redeem_invite(
        turn.session, turn.now, code, kind=turn.event.channel, address=turn.event.address
    )
    if isinstance(link, RedeemFailure):
        if turn.young_person is not None:
            await turn.say(
                "start.already_linked",
                name=turn.young_person.preferred_name,
                worker=turn.key_worker.display_name if turn.key_worker else "",
            )
        else:
            await turn.say("start.code_not_valid")
        return True
    young_person = await turn.session.get(YoungPerson, link.young_person_id)
    assert young_person is not None  # the invite's foreign key guarantees it
    worker = await turn.session.get(StaffMember, young_person.key_worker_id)
    turn.link, turn.young_person, turn.key_worker = link, young_person, worker
    turn.events.append(("linked", {"channel": str(link.kind)}))
    # Wellbeing prompts start from joining, even for someone who never writes first.
    await do_ensure_plan(turn.session, turn.now, young_person, turn.rt.settings.tz)
    names = {"name": young_person.preferred_name, "worker": worker.display_name if worker else ""}
    # Offer a first check-in, so they see how it works (the privacy note's markup is the reply keyboard).
    first = [[{"label": turn.text("checkin.first_button"), "data": "checkin:first"}]]
    await turn.say("start.welcome", buttons=first, **names)
    # The persistent "I'm not OK" button stays under the chat from now on.
    await turn.say("start.privacy", keyboard=[[turn.text("crisis.not_ok_button")]], **names)
    return True
