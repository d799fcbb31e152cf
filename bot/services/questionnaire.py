"""Questionnaires as data: load content/questionnaires/*.toml, check them, word them and score them."""

from __future__ import annotations

import re
import string
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from bot.content import DEFAULT_LANGUAGE

SCALE, CHOICE, TEXT = "scale", "choice", "text"
MEAN, SUM = "mean", "sum"
MAX_SCALE_STEPS = 11  # 0-10: two rows of buttons is as many as a phone shows well
PLACEHOLDERS = frozenset({"name", "worker"})
Words = dict[str, str]  # language -> text
# A typed number: "7", " 7 ", "7/10", "٧" (any script's digits; int() reads them all).
NUMBER = re.compile(r"\s*(\d{1,3})\s*(?:/\s*\d{1,3})?\s*[.!]?\s*")


class QuestionnaireError(ValueError):
    """A questionnaire file that cannot be used; the message names the file and the field."""


def localised(words: Words, language: str) -> str:
    """Pick the words in a language, in English if it lacks them."""
    return words.get(language) or words[DEFAULT_LANGUAGE]


def plain(text: str) -> str:
    """Fold typed words for comparison: no emoji or punctuation, no case, single spaces."""
    kept = (c for c in unicodedata.normalize("NFKC", text) if unicodedata.category(c)[0] in "LNZ")
    return " ".join("".join(kept).casefold().split())


@dataclass(frozen=True)
class Option:
    value: int
    label: Words


@dataclass(frozen=True)
class Question:
    id: str
    type: str
    text: Words
    min: int = 0
    max: int = 0
    low: Words | None = None
    high: Words | None = None
    options: tuple[Option, ...] = ()

    @property
    def scored(self) -> bool:
        return self.type != TEXT

    @property
    def values(self) -> tuple[int, ...]:
        """List the numbers this question can be answered with."""
        if self.type == SCALE:
            return tuple(range(self.min, self.max + 1))
        return tuple(option.value for option in self.options)

    def parse(self, typed: str, language: str) -> int | None:
        """Read a typed answer: a number on the scale, or an option's words or place in the list."""
        match = NUMBER.fullmatch(typed)
        number = int(match.group(1)) if match else None
        if self.type == SCALE:
            return number if number is not None and self.min <= number <= self.max else None
        if number is not None:
            return self.options[number - 1].value if 1 <= number <= len(self.options) else None
        wanted = plain(typed)
        for option in self.options:
            if wanted and wanted in {plain(localised(option.label, language)), plain(option.label[DEFAULT_LANGUAGE])}:
                return option.value
        return None

    def describe(self, value: int | None, language: str = DEFAULT_LANGUAGE) -> str:
        """Word an answer for staff: the number, or the option's label."""
        if value is None:
            return ""
        for option in self.options:
            if option.value == value:
                return localised(option.label, language)
        return str(value)


@dataclass(frozen=True)
class Score:
    id: str
    label: str
    questions: tuple[str, ...]
    reverse: frozenset[str] = frozenset()
    method: str = MEAN
    min_answered: int = 1
    higher_is_better: bool = True
    low: int = 0  # the range the score can take, worked out from its questions
    high: int = 0


@dataclass(frozen=True)
class Questionnaire:
    id: str
    label: str
    name: Words
    questions: tuple[Question, ...]
    scores: tuple[Score, ...]

    @property
    def languages(self) -> frozenset[str]:
        """Name the languages every one of its texts is given in."""
        sets = [set(words) for words in self.texts()]
        return frozenset(set.intersection(*sets)) if sets else frozenset()

    def texts(self) -> list[Words]:
        """Every piece of wording in it, for checks."""
        found = [self.name]
        for question in self.questions:
            found.append(question.text)
            found += [words for words in (question.low, question.high) if words]
            found += [option.label for option in question.options]
        return found

    def question(self, question_id: str) -> Question:
        return next(q for q in self.questions if q.id == question_id)

    def score(self, values: dict[str, int]) -> dict[str, float | None]:
        """Work out every score from the answered values; None where too few were answered."""
        result: dict[str, float | None] = {}
        for score in self.scores:
            items = []
            for question_id in score.questions:
                if question_id in values:
                    question = self.question(question_id)
                    value = values[question_id]
                    items.append(question.min + question.max - value if question_id in score.reverse else value)
            if len(items) < score.min_answered:
                result[score.id] = None
            else:
                total = sum(items)
                result[score.id] = round(total / len(items), 2) if score.method == MEAN else float(total)
        return result


def _words(data: dict[str, Any], field: str, where: str, *, required: bool = True) -> Words | None:
    value = data.get(field)
    if value is None and not required:
        return None
    if not isinstance(value, dict) or not value or not all(isinstance(v, str) and v.strip() for v in value.values()):
        raise QuestionnaireError(f"{where}: '{field}' must be a table of language = \"words\"")
    if DEFAULT_LANGUAGE not in value:
        raise QuestionnaireError(f"{where}: '{field}' has no {DEFAULT_LANGUAGE!r} words")
    for language, text in value.items():
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
        if names - PLACEHOLDERS:
            raise QuestionnaireError(f"{where}: '{field}' ({language}) uses unknown placeholder {sorted(names - PLACEHOLDERS)}")
    return value


def _question(data: dict[str, Any], where: str) -> Question:
    question_id, kind = data.get("id"), data.get("type")
    if not isinstance(question_id, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", question_id):
        raise QuestionnaireError(f"{where}: 'id' must be a short lower-case name, got {question_id!r}")
    where = f"{where} {question_id!r}"
    text = _words(data, "text", where)
    assert text is not None
    if kind == SCALE:
        low, high = data.get("min"), data.get("max")
        if not isinstance(low, int) or not isinstance(high, int) or not 0 < high - low < MAX_SCALE_STEPS:
            raise QuestionnaireError(f"{where}: a scale needs whole numbers min < max, at most {MAX_SCALE_STEPS} steps")
        return Question(question_id, kind, text, low, high, _words(data, "low", where), _words(data, "high", where))
    if kind == CHOICE:
        raw = data.get("options")
        if not isinstance(raw, list) or not 2 <= len(raw) <= 8:
            raise QuestionnaireError(f"{where}: a choice needs 2 to 8 'options'")
        options = []
        for index, option in enumerate(raw):
            if not isinstance(option, dict) or not isinstance(option.get("value"), int):
                raise QuestionnaireError(f"{where}: option {index + 1} needs a whole-number 'value'")
            label = _words(option, "label", f"{where} option {index + 1}")
            assert label is not None
            options.append(Option(option["value"], label))
        if len({o.value for o in options}) != len(options):
            raise QuestionnaireError(f"{where}: two options have the same value")
        values = [o.value for o in options]
        return Question(question_id, kind, text, min(values), max(values), options=tuple(options))
    if kind == TEXT:
        return Question(question_id, kind, text)
    raise QuestionnaireError(f"{where}: 'type' must be {SCALE!r}, {CHOICE!r} or {TEXT!r}, got {kind!r}")


def _score(data: dict[str, Any], questions: dict[str, Question], where: str) -> Score:
    score_id, label = data.get("id"), data.get("label")
    if not isinstance(score_id, str) or not isinstance(label, str) or not label:
        raise QuestionnaireError(f"{where}: a score needs an 'id' and a 'label'")
    where = f"{where} score {score_id!r}"
    names = data.get("questions")
    if not isinstance(names, list) or not names or any(questions.get(n) is None or not questions[n].scored for n in names):
        raise QuestionnaireError(f"{where}: 'questions' must name scale or choice questions of this questionnaire")
    reverse = data.get("reverse", [])
    if not set(reverse) <= set(names):
        raise QuestionnaireError(f"{where}: 'reverse' may only name questions of this score")
    method = data.get("method", MEAN)
    if method not in (MEAN, SUM):
        raise QuestionnaireError(f"{where}: 'method' must be {MEAN!r} or {SUM!r}")
    ranges = {(questions[n].min, questions[n].max) for n in names}
    if method == MEAN and len(ranges) > 1:
        raise QuestionnaireError(f"{where}: a mean needs questions on the same range")
    min_answered = data.get("min_answered", len(names) if method == SUM else 1)
    if not isinstance(min_answered, int) or not 1 <= min_answered <= len(names):
        raise QuestionnaireError(f"{where}: 'min_answered' must be between 1 and {len(names)}")
    low = sum(questions[n].min for n in names) if method == SUM else questions[names[0]].min
    high = sum(questions[n].max for n in names) if method == SUM else questions[names[0]].max
    return Score(
        score_id, label, tuple(names), frozenset(reverse), method, min_answered,
        bool(data.get("higher_is_better", True)), low, high,
    )


def parse_questionnaire(data: dict[str, Any], source: str) -> Questionnaire:
    """Build a questionnaire from a parsed file, refusing anything incomplete."""
    questionnaire_id, label = data.get("id"), data.get("label")
    if not isinstance(questionnaire_id, str) or f"{questionnaire_id}.toml" != source.rsplit("/", 1)[-1]:
        raise QuestionnaireError(f"{source}: 'id' must match the file name, got {questionnaire_id!r}")
    if not isinstance(label, str) or not label:
        raise QuestionnaireError(f"{source}: 'label' (for staff) is missing")
    name = _words(data, "name", source)
    raw = data.get("questions")
    if not isinstance(raw, list) or not raw:
        raise QuestionnaireError(f"{source}: no [[questions]]")
    questions = [_question(q, f"{source} question {i + 1}") for i, q in enumerate(raw)]
    by_id = {q.id: q for q in questions}
    if len(by_id) != len(questions):
        raise QuestionnaireError(f"{source}: two questions have the same id")
    scores = [_score(s, by_id, source) for s in data.get("scores", [])]
    if len({s.id for s in scores}) != len(scores):
        raise QuestionnaireError(f"{source}: two scores have the same id")
    assert name is not None
    return Questionnaire(questionnaire_id, label, name, tuple(questions), tuple(scores))


@cache
def questionnaires() -> dict[str, Questionnaire]:
    """Load every questionnaire shipped in content/questionnaires, once, keyed by id."""
    found: dict[str, Questionnaire] = {}
    folder = resources.files("content") / "questionnaires"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            source = f"content/questionnaires/{entry.name}"
            try:
                data = tomllib.loads(entry.read_text("utf-8"))
            except tomllib.TOMLDecodeError as exc:
                raise QuestionnaireError(f"{source}: {exc}") from None
            found[entry.name.removesuffix(".toml")] = parse_questionnaire(data, source)
    return found


def get_questionnaire(questionnaire_id: str) -> Questionnaire | None:
    """Return a questionnaire by id, or None if no such file is shipped."""
    return questionnaires().get(questionnaire_id)
