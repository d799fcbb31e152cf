"""/start with a staff link code: a worker connects their own Telegram for alert notices."""

from __future__ import annotations

from bot.services.staff_link import PREFIX, read_code
from handlers.turn import Turn
from models import ChannelKind, StaffMember


async def handle(turn: Turn) -> bool:
    event = turn.event
    if event.command != "start" or not event.args.startswith(PREFIX) or event.channel != ChannelKind.TELEGRAM:
        return False
    staff_id = read_code(turn.rt.settings.resolved_secret_key(), event.args.strip(), turn.now)
    staff = await turn.session.get(StaffMember, staff_id) if staff_id else None
    if staff is None or not staff.active:
        turn.direct.append(turn.rt.content.text("crisis.staff_link_bad"))
        return True
    staff.telegram_chat_id = event.address
    turn.direct.append(turn.rt.content.text("crisis.staff_linked"))
    return True
