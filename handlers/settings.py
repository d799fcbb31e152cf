"""/settings: the young person picks check-in days, check-in time, quiet hours and language, with buttons only.

Every button carries the value it sets ("settings:day:+mon", "settings:time:0900"), never a toggle,
so pressing an old button again is safe: it sets the same thing again.
"""

from __future__ import annotations

from datetime import date, datetime, time

from bot.services import hours
from bot.services.settings import (
    DAYS,
    QUIET_END_CHOICES,
    QUIET_START_CHOICES,
    TIME_CHOICES,
    WEEKDAYS,
    do_set_checkin_schedule,
    do_set_language,
    do_set_quiet_hours,
    get_schedule,
    next_checkin,
)
from handlers.turn import Buttons, Turn
from models import ContentKind

PRESETS = {"all": DAYS, "weekdays": WEEKDAYS, "none": ()}


async def handle(turn: Turn) -> bool:
    if turn.young_person is None:
        return False
    if turn.event.command == "settings":
        await show_menu(turn)
        return True
    payload = turn.event.payload or ""
    if turn.event.content_kind != ContentKind.BUTTON or not payload.startswith("settings:"):
        return False
    _, what, value = (payload.split(":", 2) + ["", ""])[:3]
    action = ACTIONS.get(what)
    if action is None or not await action(turn, value):
        await turn.say("settings.not_understood")
        await show_menu(turn)
    return True


def _hhmm(value: str) -> str:
    return f"{value[:2]}:{value[2:]}"


def _clock(hhmm: str) -> str:
    return hours.clock_time(datetime.combine(date(2000, 1, 1), time.fromisoformat(hhmm)))


def _day_names(turn: Turn, days: list[str]) -> str:
    return ", ".join(turn.text(f"time.{hours.DAY_KEYS[DAYS.index(day)]}") for day in days)


async def _checkins_line(turn: Turn) -> str:
    schedule = await get_schedule(turn.session, turn.young_person.id)
    if schedule is None or not schedule.days:
        return turn.text("settings.checkins_off")
    return turn.text("settings.checkins_on", days=_day_names(turn, schedule.days), time=_clock(schedule.local_time))


async def _next_line(turn: Turn) -> str:
    tz = turn.rt.settings.tz
    moment = next_checkin(await get_schedule(turn.session, turn.young_person.id), turn.now, tz)
    if moment is None:
        return turn.text("settings.next_none")
    return turn.text("settings.next", when=hours.describe_when(turn.rt.content, turn.language, moment, turn.now, tz))


async def show_menu(turn: Turn) -> None:
    """Say what is set now, with a button for each thing they can change."""
    young_person = turn.young_person
    await turn.say(
        "settings.summary",
        checkins=await _checkins_line(turn),
        quiet_from=_clock(young_person.quiet_start),
        quiet_to=_clock(young_person.quiet_end),
        buttons=[
            [{"label": turn.text("settings.days_button"), "data": "settings:menu:days"}],
            [{"label": turn.text("settings.time_button"), "data": "settings:menu:time"}],
            [{"label": turn.text("settings.quiet_button"), "data": "settings:menu:quiet"}],
            [{"label": turn.text("settings.language_button"), "data": "settings:menu:language"}],
        ],
    )


async def _menu(turn: Turn, value: str) -> bool:
    if value == "days":
        await _show_days(turn)
    elif value == "time":
        await _show_times(turn)
    elif value == "quiet":
        await _show_choices(turn, "settings.quiet_start_pick", "qstart", QUIET_START_CHOICES, turn.young_person.quiet_start)
    elif value == "language":
        content = turn.rt.content
        # Each language is named in its own words, so someone who cannot read the current one finds theirs.
        choices = [{"label": content.text("settings.language_name", lang), "data": f"settings:lang:{lang}"} for lang in content.languages]
        await turn.say("settings.language_pick", buttons=[choices])
    elif value == "done":
        await turn.say("settings.saved", checkins=await _checkins_line(turn), next=await _next_line(turn))
    else:
        return False
    return True


async def _show_days(turn: Turn) -> None:
    schedule = await get_schedule(turn.session, turn.young_person.id)
    chosen = list(schedule.days) if schedule else []
    toggles = [
        {
            "label": turn.text("settings.day_on" if day in chosen else "settings.day_off", day=turn.text(f"settings.short_{day}")),
            "data": f"settings:day:{'-' if day in chosen else '+'}{day}",
        }
        for day in DAYS
    ]
    buttons: Buttons = [
        toggles[:4],
        toggles[4:],
        [{"label": turn.text(f"settings.preset_{name}"), "data": f"settings:days:{name}"} for name in PRESETS],
        [{"label": turn.text("settings.done_button"), "data": "settings:menu:done"}],
    ]
    await turn.say("settings.days_pick", checkins=await _checkins_line(turn), buttons=buttons)


async def _show_times(turn: Turn) -> None:
    schedule = await get_schedule(turn.session, turn.young_person.id)
    await _show_choices(turn, "settings.time_pick", "time", TIME_CHOICES, schedule.local_time if schedule else None)


async def _show_choices(turn: Turn, key: str, what: str, choices: tuple[str, ...], current: str | None, **values: str) -> None:
    buttons = [
        {
            "label": turn.text("settings.choice_on" if choice == current else "settings.choice_off", choice=_clock(choice)),
            "data": f"settings:{what}:{choice.replace(':', '')}",
        }
        for choice in choices
    ]
    await turn.say(key, buttons=[buttons[i : i + 4] for i in range(0, len(buttons), 4)], **values)


async def _set_days(turn: Turn, days: list[str]) -> None:
    await do_set_checkin_schedule(turn.session, turn.now, turn.young_person, turn.rt.settings.tz, days=days)
    await _show_days(turn)


async def _day(turn: Turn, value: str) -> bool:
    sign, day = value[:1], value[1:]
    if sign not in "+-" or day not in DAYS:
        return False
    schedule = await get_schedule(turn.session, turn.young_person.id)
    chosen = set(schedule.days) if schedule else set()
    chosen = chosen | {day} if sign == "+" else chosen - {day}
    await _set_days(turn, [d for d in DAYS if d in chosen])
    return True


async def _days(turn: Turn, value: str) -> bool:
    if value not in PRESETS:
        return False
    await _set_days(turn, list(PRESETS[value]))
    return True


async def _time(turn: Turn, value: str) -> bool:
    if _hhmm(value) not in TIME_CHOICES:
        return False
    await do_set_checkin_schedule(turn.session, turn.now, turn.young_person, turn.rt.settings.tz, local_time=_hhmm(value))
    await turn.say("settings.saved", checkins=await _checkins_line(turn), next=await _next_line(turn))
    return True


async def _quiet_start(turn: Turn, value: str) -> bool:
    if _hhmm(value) not in QUIET_START_CHOICES:
        return False
    await do_set_quiet_hours(turn.session, turn.now, turn.young_person, start=_hhmm(value))
    await _show_choices(
        turn, "settings.quiet_end_pick", "qend", QUIET_END_CHOICES, turn.young_person.quiet_end, start=_clock(_hhmm(value))
    )
    return True


async def _quiet_end(turn: Turn, value: str) -> bool:
    if _hhmm(value) not in QUIET_END_CHOICES:
        return False
    young_person = await do_set_quiet_hours(turn.session, turn.now, turn.young_person, end=_hhmm(value))
    await turn.say("settings.quiet_saved", quiet_from=_clock(young_person.quiet_start), quiet_to=_clock(young_person.quiet_end))
    return True


async def _language(turn: Turn, value: str) -> bool:
    if value not in turn.rt.content.languages:
        return False
    await do_set_language(turn.session, turn.now, turn.young_person, value)
    # The keyboard's "I'm not OK" button is sent again with its label in the new language.
    await turn.say("settings.language_saved", keyboard=[[turn.text("crisis.not_ok_button")]])
    return True


ACTIONS = {"menu": _menu, "lang": _language, "day": _day, "days": _days, "time": _time, "qstart": _quiet_start, "qend": _quiet_end}
