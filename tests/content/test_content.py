"""Content: every language has every key with the same placeholders, English reads at a reading age of 9,
and every questionnaire is complete in every language.

Readability is the Flesch-Kincaid grade level from textstat, at most grade 4 (US grade 4 is ages 9-10,
so a reading age of 9). Flesch-Kincaid is used because it measures exactly what makes a short message
hard, long sentences and long words, and needs no word list that would mark names and places as hard.
Each text is measured as a reader sees it: placeholders are taken out (the code fills them with names,
times and places), and each line counts as a sentence, since every line of a message reads as one.
A text of three words or fewer is a label (a button, a day, a heading): the formula says nothing
useful about it, so it is not measured.
"""

from __future__ import annotations

import re
import string

import pytest
import textstat

from bot.content import DEFAULT_LANGUAGE, Content
from bot.services.questionnaire import (
    CHOICE,
    SCALE,
    TEXT,
    QuestionnaireError,
    parse_questionnaire,
    questionnaires,
)

CONTENT = Content.load()
OTHER_LANGUAGES = [language for language in CONTENT.languages if language != DEFAULT_LANGUAGE]
MAX_GRADE = 4.0
LABEL_WORDS = 3
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def prose(text: str) -> str:
    """Turn a text into what a reader sees: placeholders out, each line one sentence."""
    lines = []
    for line in PLACEHOLDER.sub("", text).splitlines():
        line = line.strip().rstrip(":,;-").strip()
        if line:
            lines.append(line if line[-1] in ".!?" else f"{line}.")
    return " ".join(lines)


def grade(text: str) -> float | None:
    """Return the Flesch-Kincaid grade of a text, or None for a label too short to measure."""
    words = prose(text)
    if textstat.lexicon_count(words) <= LABEL_WORDS:
        return None
    return textstat.flesch_kincaid_grade(words)


def names(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_there_is_a_right_to_left_language() -> None:
    assert "ar" in OTHER_LANGUAGES


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_every_key_is_in_every_language_with_the_same_placeholders(language: str) -> None:
    english, other = CONTENT.keys(DEFAULT_LANGUAGE), CONTENT.keys(language)
    assert sorted(english - other) == [], f"missing from content/{language}/"
    assert sorted(other - english) == [], f"in content/{language}/ but not in English"
    different = {
        key: (sorted(CONTENT.placeholders(key)), sorted(CONTENT.placeholders(key, language)))
        for key in english
        if CONTENT.placeholders(key) != CONTENT.placeholders(key, language)
    }
    assert different == {}


@pytest.mark.parametrize("language", OTHER_LANGUAGES)
def test_no_english_is_left_untranslated(language: str) -> None:
    # The same words as English (not just the same placeholders and emoji) means it was never translated.
    same = [
        key
        for key in CONTENT.keys(DEFAULT_LANGUAGE)
        if CONTENT.raw(key, language) == CONTENT.raw(key) and re.search(r"[A-Za-z]{2}", PLACEHOLDER.sub("", CONTENT.raw(key)))
    ]
    assert same == []


@pytest.mark.parametrize("key", sorted(CONTENT.keys(DEFAULT_LANGUAGE)))
def test_english_reads_at_a_reading_age_of_9(key: str) -> None:
    measured = grade(CONTENT.raw(key))
    assert measured is None or measured <= MAX_GRADE, f"grade {measured}: {prose(CONTENT.raw(key))!r}"


def test_the_measure_tells_plain_from_hard() -> None:
    # The check must be able to fail: a council letter does, a label is not measured.
    assert grade("Tap a button to tell Jo if you can go.") <= MAX_GRADE
    assert grade("Your engagement with the safeguarding arrangements is considered satisfactory.") > MAX_GRADE
    assert grade("I'll be there") is None
    assert prose("Hi {name}!\nYou are linked to {worker}\nWhat next:") == "Hi ! You are linked to. What next."


QUESTIONNAIRES = sorted(questionnaires().values(), key=lambda q: q.id)


@pytest.mark.parametrize("questionnaire", QUESTIONNAIRES, ids=lambda q: q.id)
def test_questionnaires_are_complete_in_every_language(questionnaire) -> None:  # type: ignore[no-untyped-def]
    assert set(CONTENT.languages) <= questionnaire.languages
    for words in questionnaire.texts():
        english = names(words[DEFAULT_LANGUAGE])
        assert {language: names(text) for language, text in words.items()} == {
            language: english for language in words
        }
    for question in questionnaire.questions:
        if question.type == SCALE:
            assert question.low and question.high and question.min < question.max
        elif question.type == CHOICE:
            assert len(question.options) >= 2
        else:
            assert question.type == TEXT


@pytest.mark.parametrize("questionnaire", QUESTIONNAIRES, ids=lambda q: q.id)
def test_questionnaire_english_reads_at_a_reading_age_of_9(questionnaire) -> None:  # type: ignore[no-untyped-def]
    hard = {
        words[DEFAULT_LANGUAGE]: measured
        for words in questionnaire.texts()
        if (measured := grade(words[DEFAULT_LANGUAGE])) is not None and measured > MAX_GRADE
    }
    assert hard == {}


def test_the_ons_questions_keep_their_shape() -> None:
    ons = questionnaires()["ons4"]
    assert [(q.id, q.type, q.min, q.max) for q in ons.questions] == [
        ("life", SCALE, 0, 10), ("worthwhile", SCALE, 0, 10), ("happy", SCALE, 0, 10), ("anxious", SCALE, 0, 10),
    ]
    overall = next(s for s in ons.scores if s.id == "overall")
    assert overall.reverse == {"anxious"}
    assert ons.score({"life": 10, "worthwhile": 10, "happy": 10, "anxious": 0})["overall"] == 10
    assert ons.score({"life": 0, "worthwhile": 0, "happy": 0, "anxious": 10})["overall"] == 0
    assert {q.type for q in questionnaires()["feelings"].questions} == {CHOICE, TEXT}


GOOD = {
    "id": "check",
    "label": "A check",
    "name": {"en": "A check"},
    "questions": [{"id": "mood", "type": "scale", "min": 0, "max": 4, "text": {"en": "How are you?"},
                   "low": {"en": "bad"}, "high": {"en": "good"}}],
}


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"id": "other"}, "match the file name"),
        ({"questions": [{**GOOD["questions"][0], "type": "slider"}]}, "'type' must be"),
        ({"questions": [{**GOOD["questions"][0], "max": 20}]}, "at most 11 steps"),
        ({"questions": [{k: v for k, v in GOOD["questions"][0].items() if k != "low"}]}, "'low'"),
        ({"questions": [{"id": "pick", "type": "choice", "text": {"en": "Pick"}, "options": [{"value": 1}]}]}, "2 to 8"),
        ({"questions": [{**GOOD["questions"][0], "text": {"en": "Hi {nmae}"}}]}, "unknown placeholder"),
        ({"scores": [{"id": "s", "label": "S", "questions": ["nope"]}]}, "must name scale or choice"),
    ],
)
def test_a_broken_questionnaire_is_refused_by_name(change: dict, complaint: str) -> None:  # type: ignore[type-arg]
    parse_questionnaire(GOOD, "content/questionnaires/check.toml")
    with pytest.raises(QuestionnaireError, match=complaint):
        parse_questionnaire({**GOOD, **change}, "content/questionnaires/check.toml")
