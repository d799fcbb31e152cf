"""Telegram intake's safety valves: an update that keeps failing is kept aside, and fetch trouble shows in health.

One update that always fails (a bug meeting an unusual message) must not hold up everyone else's:
after `KEYWORKER_TELEGRAM_UPDATE_ATTEMPTS` failures for a reason other than the database, it is
stored encrypted (`undelivered_updates`), its receipt is written so it is not handled again, and
its young person's worker sees it. A database that is away is never such a reason: those updates
wait and are tried again for as long as it takes, so nothing is lost meanwhile.
"""

from __future__ import annotations

import logging
import traceback
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from bot.events import Event
from bot.health import worth_waiting_for
from bot.runtime import Runtime
from bot.services.undelivered import do_keep_undelivered, linked_young_person, words_of
from bot.services.young_person import audience
from handlers.turn import InboundEvent

log = logging.getLogger(__name__)

Receive = Callable[[InboundEvent], Awaitable[object]]
INTAKE = "telegram_intake"
# Failure counts are kept for this many updates at most (a flood of distinct failures cannot grow memory).
REMEMBERED = 10_000
# getUpdates failing this many times in a row makes /healthz say intake is degraded (one blip does not).
FETCH_FAILURES_DEGRADED = 3


def where(exc: BaseException) -> str:
    """Name an error by its type and the line that raised it: never its text, which may quote someone."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return type(exc).__name__
    frame = frames[-1]
    return f"{type(exc).__name__} at {frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}"


class IntakeGuard:
    """Counts each update's failures, keeps aside one that keeps failing, and reports fetch trouble."""

    def __init__(self, rt: Runtime, attempts: int) -> None:
        self._rt = rt
        self.attempts = attempts
        self._failures: OrderedDict[tuple[str, int], tuple[int, datetime]] = OrderedDict()
        self._fetch_failures = 0

    async def receive(self, event: InboundEvent, raw: dict[str, Any] | None, handle: Receive) -> None:
        """Handle an event; after enough failures not due to the database, keep it aside instead of raising."""
        key = event.receipt
        try:
            await handle(event)
        except Exception as exc:
            if key is None or raw is None or worth_waiting_for(exc):
                raise  # the database is away (or there is nothing to keep): try again later, forever
            tries, first = self._failures.pop(key, (0, self._rt.now()))
            tries += 1
            self._failures[key] = (tries, first)
            while len(self._failures) > REMEMBERED:
                self._failures.popitem(last=False)
            if tries < self.attempts:
                raise
            # Raises (and is tried again) if the database cannot take it: the update is never dropped.
            await self._keep(event, key, raw, tries, first, where(exc))
        self._failures.pop(key, None)

    async def _keep(
        self, event: InboundEvent, key: tuple[str, int], raw: dict[str, Any], tries: int, first: datetime, error: str
    ) -> None:
        rt = self._rt
        _, words = words_of(raw)
        checked = True
        try:
            risk = rt.risk.assess(words) if words else None
        except Exception as exc:  # the very words may be what the checker fails on: staff must read them
            log.error("update %s:%s could not be checked for risk (%s)", key[0], key[1], where(exc))
            risk, checked = None, False
        now = rt.now()
        try:
            async with rt.db() as session, session.begin():
                person = await linked_young_person(session, event.channel, event.address)
                kept = await do_keep_undelivered(
                    session, now, source=key[0], update_id=key[1], raw=raw, young_person=person,
                    first_failed_at=first, failures=tries, error=error, risk=risk, risk_checked=checked,
                    escalate_after=timedelta(minutes=rt.settings.alert_escalation_minutes),
                )
                who = audience(person) if person is not None else None
                person_id = person.id if person is not None else None
        except IntegrityError:
            kept, who = None, None  # another process kept (or handled) it at the same moment
        if kept is None:
            log.info("update %s:%s was handled elsewhere; not kept aside", *key)
            return
        log.error(
            "update %s:%s failed %s times (%s); kept aside as undelivered %s for staff",
            key[0], key[1], tries, error, kept.id,
        )
        if who is not None and person_id is not None:
            rt.events.publish(Event("undelivered", person_id, who, {"undelivered_id": kept.id}))
            if risk is not None and risk.is_urgent:
                rt.events.publish(Event("alert", person_id, who, {}))

    def fetch_failed(self, reason: str) -> None:
        """Note that getUpdates failed; several in a row make intake degraded in health."""
        self._fetch_failures += 1
        if self._fetch_failures >= FETCH_FAILURES_DEGRADED:
            self._rt.health.failed(INTAKE, f"getUpdates failed {self._fetch_failures} times in a row ({reason})", self._rt.now())

    def fetch_worked(self) -> None:
        """Note that getUpdates answered: intake is healthy again."""
        if self._fetch_failures:
            self._fetch_failures = 0
            self._rt.health.recovered(INTAKE)


