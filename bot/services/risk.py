"""Risk detection: check every inbound text against the safeguarding rules kept as data."""

from __future__ import annotations

import bisect
import re
import tomllib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any, Protocol

from bot.services.risk_text import COMMON_WORDS, TextNormaliser, anchor_options

CATEGORIES: tuple[str, ...] = (
    "suicide",
    "self_harm",
    "abuse",
    "unsafe_now",
    "missing",
    "exploitation",
    "substance_emergency",
)

_MACRO = re.compile(r"<<(\w+)>>")


class RiskLevel(StrEnum):
    URGENT = "urgent"
    CONCERN = "concern"


# Highest first: the order in which levels are reported.
_LEVELS = (RiskLevel.URGENT, RiskLevel.CONCERN)


@dataclass(frozen=True)
class RiskAssessment:
    """What the rules found in one text: never the text itself."""

    level: RiskLevel | None  # the highest level found, None when nothing was
    categories: tuple[str, ...] = ()  # category ids found at that level, sorted
    rule_ids: tuple[str, ...] = ()  # every rule that fired, at any level, sorted

    @property
    def is_urgent(self) -> bool:
        """Say whether a person must be alerted now."""
        return self.level is RiskLevel.URGENT


NO_RISK = RiskAssessment(level=None)


class RiskChecker(Protocol):
    def assess(self, text: str) -> RiskAssessment: ...


@dataclass(frozen=True)
class Rule:
    id: str
    category: str
    level: RiskLevel
    alternatives: tuple[str, ...]  # regexes on normalised text, each wrapped in word boundaries


@dataclass(frozen=True)
class Exclusion:
    id: str
    levels: frozenset[RiskLevel]
    alternatives: tuple[str, ...]


@dataclass(frozen=True)
class Rules:
    """The safeguarding rules as loaded from content/safeguarding/rules.toml."""

    version: int
    labels: Mapping[str, str]
    rules: tuple[Rule, ...]
    exclusions: tuple[Exclusion, ...]
    normaliser: TextNormaliser

    @classmethod
    def from_toml(cls, text: str) -> Rules:
        """Parse and check the rules file, naming the rule at fault if anything is wrong."""
        return cls.from_mapping(tomllib.loads(text))

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Rules:
        """Build rules from already-parsed data."""
        labels = {cat: str(entry["label"]) for cat, entry in data.get("categories", {}).items()}
        missing = [c for c in CATEGORIES if c not in labels]
        unknown = [c for c in labels if c not in CATEGORIES]
        if missing or unknown:
            raise ValueError(f"Risk categories are wrong: missing {missing}, unknown {unknown}.")
        text = data.get("text", {})
        normaliser = TextNormaliser(
            expansions=text.get("expansions", {}),
            leet=text.get("leet", {}),
            rewrites=[(r["pattern"], r["replace"]) for r in text.get("rewrite", [])],
            dropped_g_keep=text.get("dropped_g_keep"),
        )
        macros = _expand_macros(data.get("macros", {}))
        rules = []
        seen: set[str] = set()
        for entry in data.get("rule", []):
            rule_id = entry.get("id", "?")
            if rule_id in seen:
                raise ValueError(f"Risk rule '{rule_id}' is defined twice.")
            seen.add(rule_id)
            if entry.get("category") not in CATEGORIES:
                raise ValueError(f"Risk rule '{rule_id}' has unknown category {entry.get('category')!r}.")
            phrases = [re.escape(normaliser.normalise(p)) for p in entry.get("phrases", [])]
            patterns = [_apply_macros(p, macros, rule_id) for p in entry.get("patterns", [])]
            if not phrases and not patterns:
                raise ValueError(f"Risk rule '{rule_id}' has no phrases or patterns.")
            alternatives = tuple(_bounded(p, rule_id) for p in phrases + patterns)
            rules.append(Rule(rule_id, entry["category"], _level(entry.get("level"), rule_id), alternatives))
        exclusions = []
        for entry in data.get("exclusion", []):
            ex_id = entry.get("id", "?")
            patterns = [_apply_macros(p, macros, ex_id) for p in entry.get("patterns", [])]
            if not patterns:
                raise ValueError(f"Risk exclusion '{ex_id}' has no patterns.")
            levels = frozenset(_level(v, ex_id) for v in entry.get("levels", ["urgent"]))
            exclusions.append(Exclusion(ex_id, levels, tuple(_bounded(p, ex_id) for p in patterns)))
        return cls(int(data.get("version", 1)), labels, tuple(rules), tuple(exclusions), normaliser)


def load_rules() -> Rules:
    """Load the rules shipped in the content package."""
    path = resources.files("content") / "safeguarding" / "rules.toml"
    return Rules.from_toml(path.read_text(encoding="utf-8"))


class _Index:
    """Patterns filed under anchor words, so a text runs only the patterns it could match."""

    def __init__(self, entries: list[tuple[str, Any]]) -> None:
        self.entries = [(re.compile(regex), payload) for regex, payload in entries]
        options = [anchor_options(regex) for regex, _ in entries]
        # Prefer anchors that few other patterns share, and never the commonest words.
        shared = Counter(w for opts in options for opt in opts for w in opt)
        self.by_word: dict[str, list[int]] = {}
        self.always: list[int] = []
        for i, opts in enumerate(options):
            if not opts:
                self.always.append(i)
                continue
            best = min(opts, key=lambda ws: sum(1000 if w in COMMON_WORDS else shared[w] for w in ws))
            for word in best:
                self.by_word.setdefault(word, []).append(i)

    def candidates(self, words: set[str]) -> set[int]:
        found = set(self.always)
        by_word = self.by_word
        for word in words:
            hits = by_word.get(word)
            if hits:
                found.update(hits)
        return found


class _Spans:
    """Text spans of exclusions, answering 'does one of them cover this match?' in log time."""

    def __init__(self, spans: list[tuple[int, int]]) -> None:
        spans.sort()
        self.starts = [s for s, _ in spans]
        self.reach = []
        furthest = -1
        for _, end in spans:
            furthest = max(furthest, end)
            self.reach.append(furthest)

    def covers(self, start: int, end: int) -> bool:
        i = bisect.bisect_right(self.starts, start)
        return i > 0 and self.reach[i - 1] >= end


class RuleRiskChecker:
    """Assess texts with phrase and pattern rules, cancelling idioms at the levels they name."""

    def __init__(self, rules: Rules) -> None:
        self._rules = rules
        self._normaliser = rules.normaliser
        self._labels = dict(rules.labels)
        self._patterns = _Index([(alt, rule) for rule in rules.rules for alt in rule.alternatives])
        self._exclusions = _Index([(alt, ex.levels) for ex in rules.exclusions for alt in ex.alternatives])

    @classmethod
    def from_content(cls) -> RuleRiskChecker:
        """Build a checker from content/safeguarding/rules.toml."""
        return cls(load_rules())

    @property
    def rules(self) -> Rules:
        return self._rules

    def category_label(self, category: str) -> str:
        """Return the staff-facing name of a category, such as 'Self-harm'."""
        try:
            return self._labels[category]
        except KeyError:
            raise KeyError(f"Risk category '{category}' has no label in rules.toml.") from None

    def assess(self, text: str) -> RiskAssessment:
        """Return the highest risk level found in a text, its categories and the rules that fired."""
        return self.assess_guarded(text)[0]

    def assess_guarded(self, text: str) -> tuple[RiskAssessment, frozenset[RiskLevel]]:
        """Assess a text, also saying at which levels an exclusion (an idiom, say) cancelled a match."""
        if not text or text.isspace():
            return NO_RISK, frozenset()
        found: dict[RiskLevel, set[str]] = {}
        rule_ids: set[str] = set()
        cancelled: set[RiskLevel] = set()
        for variant in self._normaliser.variants(text):
            self._scan(variant, found, rule_ids, cancelled)
        for level in _LEVELS:
            if level in found:
                return RiskAssessment(level, tuple(sorted(found[level])), tuple(sorted(rule_ids))), frozenset(cancelled)
        return NO_RISK, frozenset(cancelled)

    def _scan(
        self, text: str, found: dict[RiskLevel, set[str]], rule_ids: set[str], cancelled: set[RiskLevel]
    ) -> None:
        words = set(text.split())
        spans: dict[RiskLevel, _Spans] = {}
        for i in self._patterns.candidates(words):
            regex, rule = self._patterns.entries[i]
            if rule.id in rule_ids:
                continue
            pos = 0
            while (m := regex.search(text, pos)) is not None:
                level = rule.level
                if level not in spans:
                    spans[level] = self._exclusion_spans(text, words, level)
                if not spans[level].covers(m.start(), m.end()):
                    rule_ids.add(rule.id)
                    found.setdefault(level, set()).add(rule.category)
                    break
                cancelled.add(level)
                pos = m.start() + 1

    def _exclusion_spans(self, text: str, words: set[str], level: RiskLevel) -> _Spans:
        spans = []
        for i in self._exclusions.candidates(words):
            regex, levels = self._exclusions.entries[i]
            if level in levels:
                spans.extend(m.span() for m in regex.finditer(text))
        return _Spans(spans)


def _level(value: object, owner: str) -> RiskLevel:
    try:
        return RiskLevel(value)
    except ValueError:
        raise ValueError(f"Risk rule '{owner}' has unknown level {value!r}.") from None


def _bounded(pattern: str, owner: str) -> str:
    """Wrap a pattern to match whole words only, refusing ones that are broken or match nothing."""
    regex = r"\b(?:" + pattern + r")\b"
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        raise ValueError(f"Risk rule '{owner}' has a bad pattern: {exc}") from None
    empty = compiled.match("word")
    if empty is not None and empty.end() == 0:
        raise ValueError(f"Risk rule '{owner}' matches empty text.")
    return regex


def _expand_macros(raw: Mapping[str, str]) -> dict[str, str]:
    macros: dict[str, str] = {}
    for name, value in raw.items():
        macros[name] = _apply_macros(value, macros, f"macros.{name}")
    return macros


def _apply_macros(pattern: str, macros: Mapping[str, str], owner: str) -> str:
    def expand(m: re.Match[str]) -> str:
        if m.group(1) not in macros:
            raise ValueError(f"Risk rule '{owner}' uses unknown macro '{m.group(1)}'.")
        return "(?:" + macros[m.group(1)] + ")"

    return _MACRO.sub(expand, pattern)
