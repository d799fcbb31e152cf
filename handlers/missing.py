"""A young person marked missing gets in touch: thank them, and alert their worker and the duty rota."""

from __future__ import annotations

from bot.services.missing import do_record_contact, open_episode
from handlers.turn import Turn


async def handle(turn: Turn) -> bool:
    young_person = turn.young_person
    if young_person is None:
        return False
    episode = turn.episode if turn.episode_known else await open_episode(turn.session, young_person.id)
    if episode is None:
        if turn.event.payload and turn.event.payload.startswith("missing:"):
            # A stale "I'm safe" press after the episode ended: thank them, nothing else to do.
            await turn.say("missing.thanks_safe", worker=turn.key_worker.display_name if turn.key_worker else "")
            return True
        return False
    await do_record_contact(turn.session, turn.now, young_person, episode, await turn.message_id())
    turn.events.append(("alert", {"missing_episode_id": episode.id}))
    await turn.say("missing.thanks_safe", worker=turn.key_worker.display_name if turn.key_worker else "")
    return True
