"""Working hours: at work or not, when the worker is back, across both clock changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.content import Content
from bot.services.hours import clock_time, describe_when, is_working, last_end, next_start
from models.staff import DEFAULT_WORKING_HOURS

LONDON = ZoneInfo("Europe/London")
HOURS = DEFAULT_WORKING_HOURS


@pytest.mark.parametrize(
    ("moment", "working"),
    [
        (datetime(2026, 11, 25, 9, 0, tzinfo=UTC), True),  # Wednesday 09:00 GMT
        (datetime(2026, 11, 25, 17, 0, tzinfo=UTC), False),  # 17:00 is home time
        (datetime(2026, 11, 28, 12, 0, tzinfo=UTC), False),  # Saturday
        (datetime(2026, 7, 1, 8, 30, tzinfo=UTC), True),  # 09:30 BST in summer
        (datetime(2026, 7, 1, 16, 30, tzinfo=UTC), False),  # 17:30 BST
    ],
)
def test_is_working_in_local_time(moment: datetime, working: bool) -> None:
    assert is_working(HOURS, moment, LONDON) is working


def test_back_on_monday_after_the_spring_clock_change() -> None:
    # Friday 27 March 2026 evening; clocks go forward on Sunday 29 March.
    friday_evening = datetime(2026, 3, 27, 18, 0, tzinfo=UTC)
    back = next_start(HOURS, friday_evening, LONDON)
    assert back == datetime(2026, 3, 30, 9, 0, tzinfo=LONDON)
    assert back.astimezone(UTC).hour == 8  # 09:00 BST is 08:00 UTC


def test_back_on_monday_after_the_autumn_clock_change() -> None:
    friday_evening = datetime(2026, 10, 23, 17, 30, tzinfo=UTC)
    back = next_start(HOURS, friday_evening, LONDON)
    assert back is not None and back.astimezone(UTC) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)
    assert last_end(HOURS, friday_evening, LONDON) == datetime(2026, 10, 23, 17, 0, tzinfo=LONDON)


def test_no_working_hours_means_never_back() -> None:
    assert next_start({}, datetime(2026, 1, 1, tzinfo=UTC), LONDON) is None


def test_plain_words_for_when() -> None:
    content = Content.load()
    now = datetime(2026, 11, 25, 20, 0, tzinfo=UTC)  # Wednesday evening
    assert describe_when(content, "en", datetime(2026, 11, 26, 9, 0, tzinfo=UTC), now, LONDON) == "tomorrow at 9am"
    assert describe_when(content, "en", datetime(2026, 11, 30, 9, 30, tzinfo=UTC), now, LONDON) == "on Monday at 9:30am"
    assert clock_time(datetime(2026, 1, 1, 13, 5)) == "1:05pm"
