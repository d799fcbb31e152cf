"""A young person's text is read straight from Telegram's JSON into the same event python-telegram-bot's
objects give; every other update, and any text not shaped as Telegram sends one, still goes through them."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from telegram import Bot, Update

from bot.channels.telegram import plain_text_event, to_event

SAM = {"id": 5550100, "is_bot": False, "first_name": "Sam", "language_code": "en"}
PRIVATE = {"id": 5550100, "first_name": "Sam", "type": "private"}


def update(**message: Any) -> dict[str, Any]:
    return {"update_id": 812, "message": {"message_id": 44, "from": SAM, "chat": PRIVATE, "date": 1764619200, **message}}


READ_DIRECTLY = [
    update(text="hi, just saying I got to college ok today"),
    update(text="  can we talk tomorrow?\nnot urgent x  "),
    update(text="/start abc123", entities=[{"type": "bot_command", "offset": 0, "length": 6}]),
    update(text="/checkin@KeyworkerBot", entities=[{"type": "bot_command", "offset": 0, "length": 21}]),
    update(text="/HELP me", entities=[{"type": "bot_command", "offset": 0, "length": 5}]),
    update(text="/"),
    update(text="I don't feel safe here 😞", reply_to_message={"message_id": 40, "chat": PRIVATE, "date": 1764619100, "text": "How are you?"}),
    update(text=""),
]

LEFT_TO_PTB = [
    update(photo=[{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 68}], caption="my new room"),
    update(sticker={"file_id": "s1", "file_unique_id": "u2", "type": "regular", "width": 512, "height": 512,
                    "is_animated": False, "is_video": False, "emoji": "🥳"}),
    update(location={"latitude": 54.2379, "longitude": -1.3414}),
    {"update_id": 813, "edited_message": {**update(text="edited")["message"], "edit_date": 1764619300}},
    {"update_id": 814, "callback_query": {"id": "77", "from": SAM, "chat_instance": "ci", "data": "ci:yes",
                                          "message": {"message_id": 40, "chat": PRIVATE, "date": 1764619100, "text": "Ok?"}}},
    {"update_id": 815, "message": {**update(text="hello all")["message"], "chat": {"id": -100, "title": "Group", "type": "group"}}},
    {"update_id": 816, "my_chat_member": {"chat": PRIVATE, "from": SAM, "date": 1764619200,
                                          "old_chat_member": {"status": "member", "user": SAM},
                                          "new_chat_member": {"status": "kicked", "user": SAM, "until_date": 0}}},
]

NOT_AS_SENT = [
    {"update_id": "812", "message": update(text="hi")["message"]},
    {"update_id": 812, "message": {**update(text="hi")["message"], "message_id": "44"}},
    {"update_id": 812, "message": {**update(text="hi")["message"], "chat": {"id": "5550100", "type": "private"}}},
    {"update_id": 812, "message": {**update(text="hi")["message"], "date": None}},
    {"update_id": 812, "message": {k: v for k, v in update(text="hi")["message"].items() if k != "date"}},
    {"update_id": 812, "message": {**update(text="hi")["message"], "text": 42}},
    {"update_id": 812, "message": update(text="hi")["message"], "edited_message": update(text="hi")["message"]},
    {"update_id": 812, "message": None},
    {"update_id": True, "message": update(text="hi")["message"]},
    [update(text="hi")],
    None,
]


@pytest.fixture(scope="module")
def bot() -> Bot:
    return Bot("123456:TEST")


@pytest.mark.parametrize("raw", READ_DIRECTLY)
def test_a_private_text_gives_the_event_python_telegram_bot_would(raw: dict[str, Any], bot: Bot) -> None:
    sent = copy.deepcopy(raw)
    event = plain_text_event(raw)
    assert event is not None
    assert event == to_event(Update.de_json(raw, bot))
    assert raw == sent  # read, never changed


@pytest.mark.parametrize("raw", LEFT_TO_PTB + NOT_AS_SENT)
def test_anything_else_is_left_to_python_telegram_bot(raw: object) -> None:
    assert plain_text_event(raw) is None


def test_a_command_keeps_its_arguments_and_a_text_its_words(bot: Bot) -> None:
    start = plain_text_event(update(text="/Start@KeyworkerBot  abc123 "))
    assert start is not None and (start.command, start.args, start.text) == ("start", "abc123", "/Start@KeyworkerBot  abc123 ")
    words = plain_text_event(update(text="  can we talk?  "))
    assert words is not None and (words.command, words.text, words.address, words.external_id, words.receipt) == (
        None, "  can we talk?  ", "5550100", "44", ("telegram", 812)
    )
