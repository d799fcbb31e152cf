"""A small trained risk classifier that adds recall to the safeguarding rules (and, when very sure,
lowers a rule's urgent verdict to concern), in pure Python.

Features are words, word pairs, ordered word pairs up to three words apart ("want ... die")
and character 3- to 5-grams of the normalised text, so new wordings and misspellings of
known warning signs still score. Weights are logistic regressions kept as data in
content/safeguarding/model.json.gz; rebuild them with `python -m bot.services.risk_model`.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import random
import sys
from collections import Counter
from functools import cache
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from bot.services.risk import CATEGORIES, NO_RISK, RiskAssessment, RiskLevel, RuleRiskChecker, Rules, load_rules

MODEL_VERSION = 2  # 2: a word or pair said twice counts once
_SKIP = 3  # ordered word pairs up to this many words apart


def word_features(word: str) -> list[str]:
    """Return the features of one word on its own: the word and its character 3- to 5-grams."""
    padded = f" {word} "
    return ["w:" + word, *("c:" + padded[k:k + n] for n in (3, 4, 5) for k in range(len(padded) - n + 1))]


def pair_features(words: list[str]) -> list[str]:
    """Return the word-pair features of a text: neighbours, and ordered pairs a word or two apart."""
    return [
        ("b:" if j == i + 1 else "s:") + words[i] + "_" + words[j]
        for i in range(len(words)) for j in range(i + 1, min(i + 1 + _SKIP, len(words)))
    ]


def features(normalised: str) -> list[str]:
    """Return the features of one already-normalised text.

    Each distinct word and word pair counts once, however often it is said: otherwise a message's
    score would grow with its repetitions (a harmless paragraph pasted ten times scored urgent).
    Character n-grams shared by different words still add up.
    """
    words = normalised.split()
    return [f for w in dict.fromkeys(words) for f in word_features(w)] + list(dict.fromkeys(pair_features(words)))


L2 = 3e-2  # how strongly each weight is pulled towards 0 in training


def _sigmoid(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass(frozen=True)
class Logistic:
    """One logistic regression over sparse binary features."""

    bias: float
    weights: Mapping[str, float]

    def probability(self, feats: Iterable[str]) -> float:
        """Return the probability that a text with these features is positive."""
        weights = self.weights
        return _sigmoid(self.bias + sum(weights.get(f, 0.0) for f in feats))

    @classmethod
    def train(cls, samples: list[tuple[list[str], bool]], epochs: int = 10, l2: float = L2,
              rate: float = 0.5, seed: int = 7) -> Logistic:
        """Fit weights with AdaGrad on the log loss, deterministically."""
        weights: dict[str, float] = {}
        squares: dict[str, float] = {}
        bias, bias_sq = 0.0, 1e-8
        order = list(range(len(samples)))
        rng = random.Random(seed)
        for _ in range(epochs):
            rng.shuffle(order)
            for i in order:
                feats, positive = samples[i]
                p = _sigmoid(bias + sum(weights.get(f, 0.0) for f in feats))
                g = p - (1.0 if positive else 0.0)
                bias_sq += g * g
                bias -= rate * g / math.sqrt(bias_sq)
                for f in feats:
                    w = weights.get(f, 0.0)
                    grad = g + l2 * w
                    squares[f] = squares.get(f, 1e-8) + grad * grad
                    weights[f] = w - rate * grad / math.sqrt(squares[f])
        kept = {f: round(w, 2) for f, w in weights.items() if abs(w) >= 0.02}
        return cls(round(bias, 2), kept)


@dataclass(frozen=True)
class RiskModel:
    """The trained parts: is there any risk, is it urgent, and which category it is."""

    any_risk: Logistic
    urgent: Logistic
    categories: Mapping[str, Logistic]
    urgent_threshold: float
    concern_threshold: float
    # A rule's urgent verdict is lowered to concern where the urgent part scores below this (0: never).
    lower_threshold: float = 0.0

    @classmethod
    def from_json(cls, text: str) -> RiskModel:
        """Parse a model file, refusing one from another version or with unknown categories."""
        data = json.loads(text)
        if data.get("version") != MODEL_VERSION:
            raise ValueError(f"Risk model version {data.get('version')!r} is not {MODEL_VERSION}.")
        unknown = set(data["categories"]) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"Risk model has unknown categories {sorted(unknown)}.")

        def part(d: Mapping[str, object]) -> Logistic:
            return Logistic(float(d["bias"]), dict(d["weights"]))  # type: ignore[arg-type]

        return cls(
            part(data["any_risk"]), part(data["urgent"]),
            {c: part(d) for c, d in data["categories"].items()},
            float(data["urgent_threshold"]), float(data["concern_threshold"]), float(data.get("lower_threshold", 0.0)),
        )

    def to_json(self) -> str:
        """Serialise the model, sorted so a rebuild from the same data gives the same file."""
        def part(m: Logistic) -> dict[str, object]:
            return {"bias": m.bias, "weights": dict(sorted(m.weights.items()))}

        return json.dumps({
            "version": MODEL_VERSION,
            "urgent_threshold": self.urgent_threshold,
            "concern_threshold": self.concern_threshold,
            "lower_threshold": self.lower_threshold,
            "any_risk": part(self.any_risk),
            "urgent": part(self.urgent),
            "categories": {c: part(m) for c, m in sorted(self.categories.items())},
        }, separators=(",", ":")) + "\n"

    def category(self, feats: list[str]) -> str:
        """Return the likeliest category for a risky text."""
        return max(self.categories, key=lambda c: self.categories[c].probability(feats))


@cache  # read once per process: the file does not change while the service runs
def load_model() -> RiskModel:
    """Load the model shipped in the content package."""
    path = resources.files("content") / "safeguarding" / "model.json.gz"
    return RiskModel.from_json(gzip.decompress(path.read_bytes()).decode("utf-8"))


MIN_COUNT = 2  # a feature must occur in at least this many training texts
LOWER_WINDOW, LOWER_STEP = 12, 4  # a rule's urgent is lowered only if every 12-word stretch scores low too
RAISE_WINDOW, RAISE_STEP = 32, 16  # a longer message is raised by its 32-word stretches, not its whole
MIN_MODEL_WORDS = 3  # the model speaks only about messages of at least this many words
MIN_URGENT_WORDS = 4  # ...and raises one to urgent only from this many (cross-validation: 3 and 4 alike)


class ModelledRiskChecker:
    """Rules first; the model may raise a level the rules missed, never where an idiom was cancelled."""

    MODEL_URGENT = "model.urgent"
    MODEL_CONCERN = "model.concern"
    MODEL_LOWERED = "model.lowered"

    _WORD_CACHE_SIZE = 50_000

    def __init__(self, rules: RuleRiskChecker, model: RiskModel, *, may_lower: bool = True,
                 min_urgent_words: int = MIN_URGENT_WORDS) -> None:
        self._rules = rules
        self._model = model
        self._min_urgent_words = min_urgent_words
        self._lower_below = model.lower_threshold if may_lower else 0.0
        self._normalise = rules.rules.normaliser.normalise
        any_w, urgent_w = model.any_risk.weights, model.urgent.weights
        # Both scores in one pass: pair weights side by side, and each word's sum remembered.
        self._pairs = {
            f: (any_w.get(f, 0.0), urgent_w.get(f, 0.0))
            for f in {*any_w, *urgent_w} if f[0] in "bs"
        }
        self._words: dict[str, tuple[float, float]] = {}

    def _logits(self, words: list[str]) -> tuple[float, float]:
        """Return the any-risk and urgent log-odds of a normalised text, split into words."""
        model, cache = self._model, self._words
        z_any, z_urgent = model.any_risk.bias, model.urgent.bias
        for word in dict.fromkeys(words):
            hit = cache.get(word)
            if hit is None:
                feats = word_features(word)
                hit = (sum(model.any_risk.weights.get(f, 0.0) for f in feats),
                       sum(model.urgent.weights.get(f, 0.0) for f in feats))
                if len(cache) >= self._WORD_CACHE_SIZE:
                    cache.clear()
                cache[word] = hit
            z_any += hit[0]
            z_urgent += hit[1]
        pairs = self._pairs
        for f in set(pair_features(words)):
            hit = pairs.get(f)
            if hit is not None:
                z_any += hit[0]
                z_urgent += hit[1]
        return z_any, z_urgent

    def _surely_not_urgent(self, words: list[str], z_urgent: float) -> bool:
        """True when the whole text and every stretch of it score below lower_threshold as urgent.

        A crisis said at the end of a long, harmless message ("this homework is killing me lol ...
        i want to kill myself") must not be outweighed by the rest: each stretch of LOWER_WINDOW
        words is scored on its own, and any one of them scoring higher keeps the rule's verdict.
        """
        if _sigmoid(z_urgent) >= self._lower_below:
            return False
        return all(_sigmoid(self._logits(stretch)[1]) < self._lower_below
                   for stretch in _stretches(words, LOWER_WINDOW, LOWER_STEP))

    @classmethod
    def from_content(cls, *, may_lower: bool = True) -> ModelledRiskChecker:
        """Build the checker from content/safeguarding (rules.toml and model.json.gz)."""
        return cls(RuleRiskChecker.from_content(), load_model(), may_lower=may_lower)

    @property
    def rules(self) -> Rules:
        return self._rules.rules

    def category_label(self, category: str) -> str:
        """Return the staff-facing name of a category, such as 'Self-harm'."""
        return self._rules.category_label(category)

    def assess(self, text: str) -> RiskAssessment:
        """Return the rules' assessment, raised by the model where it is confident and no idiom matched.

        A rule's urgent verdict stands unless the model is very sure the message is not urgent
        (below lower_threshold, chosen by cross-validation over the training writers): then it is
        a concern, flagged for the worker, not a page to the duty rota.
        """
        found, cancelled = self._rules.assess_guarded(text)
        if not text or text.isspace() or (cancelled and not found.is_urgent):
            # Where an exclusion explained words away (an idiom, an accident), the model stays out.
            return found
        if found.is_urgent and not self._lower_below:
            return found
        words = self._normalise(text).split()
        # One or two words ("stop", "please stop", a /command, "kms") give the model no context to
        # weigh: it learnt from sentences. Short words are the rules' alone, urgent ones included.
        if len(words) < MIN_MODEL_WORDS:
            return found
        model = self._model
        z_any, z_urgent = self._logits(words)
        if found.is_urgent:
            if self._surely_not_urgent(words, z_urgent):
                return RiskAssessment(RiskLevel.CONCERN, found.categories, tuple(sorted({*found.rule_ids, self.MODEL_LOWERED})))
            return found
        # The model learnt from messages of a few dozen words at most; over a longer one its sums grow
        # with the length, not the risk (a harmless paragraph repeated scored urgent). So a long
        # message is weighed stretch by stretch, as a person reads it, and its most worrying stretch speaks.
        scored = [(words, z_any, z_urgent)] if len(words) <= RAISE_WINDOW else [
            (stretch, *self._logits(stretch)) for stretch in _stretches(words, RAISE_WINDOW, RAISE_STEP)]
        # Urgent only when both parts agree (the urgent part alone confuses worry with danger), and
        # only from a few words up: a short everyday question must not page the duty rota.
        stretch, z_any, z_urgent = max(scored, key=lambda s: min(s[1], s[2]))
        if len(words) >= self._min_urgent_words and _sigmoid(min(z_any, z_urgent)) >= model.urgent_threshold:
            categories = found.categories or (model.category(features(" ".join(stretch))),)
            return RiskAssessment(RiskLevel.URGENT, categories, tuple(sorted({*found.rule_ids, self.MODEL_URGENT})))
        stretch, z_any, _ = max(scored, key=lambda s: s[1])
        if found.level is None and _sigmoid(z_any) >= model.concern_threshold:
            return RiskAssessment(RiskLevel.CONCERN, (model.category(features(" ".join(stretch))),), (self.MODEL_CONCERN,))
        return found if found.level is not None else NO_RISK


def _stretches(words: list[str], size: int, step: int) -> Iterator[list[str]]:
    """Yield overlapping stretches of size words, step apart, covering every word (one if it is short)."""
    for start in range(0, max(1, len(words) - size + step), step):
        yield words[start:start + size]


# ------------------------------------------------------------------ building the model file

def read_labelled(paths: Iterable[Path]) -> list[tuple[str, str, str]]:
    """Read (text, level, category) rows from labelled CSV files."""
    rows = []
    for path in paths:
        with path.open(newline="", encoding="utf-8") as f:
            rows.extend((r["text"], r["level"], r["category"]) for r in csv.DictReader(f))
    return rows


def build(rows: list[tuple[str, str, str]], normalise: Callable[[str], str], urgent_threshold: float = 0.5,
          concern_threshold: float = 0.5, min_count: int = MIN_COUNT, lower_threshold: float = 0.0,
          l2: float = L2) -> RiskModel:
    """Train every part of the model on labelled rows (text, level, category).

    Features seen in fewer than min_count texts are left out: a word pair one writer used once
    says more about that writer than about risk (and they would double the file).
    """
    raw = [(features(normalise(text)), level, category) for text, level, category in rows]
    counts = Counter(f for feats, _, _ in raw for f in set(feats))
    data = [([f for f in feats if counts[f] >= min_count], level, cat) for feats, level, cat in raw]
    any_risk = Logistic.train([(f, level != "none") for f, level, _ in data], l2=l2)
    urgent = Logistic.train([(f, level == "urgent") for f, level, _ in data], l2=l2)
    risky = [(f, cat) for f, level, cat in data if level != "none"]
    categories = {c: Logistic.train([(f, cat == c) for f, cat in risky], l2=l2) for c in CATEGORIES}
    return RiskModel(any_risk, urgent, categories, urgent_threshold, concern_threshold, lower_threshold)


def main(argv: list[str]) -> int:
    """Train on the labelled sets named (CSV files) and write content/safeguarding/model.json.gz."""
    if not argv:
        print("usage: python -m bot.services.risk_model TRAINING.csv [...] [--urgent 0.25 --concern 0.8 --lower 0.2]")
        return 2
    args = list(argv)
    thresholds = {"--urgent": 0.25, "--concern": 0.8, "--lower": 0.2}
    for flag in thresholds:
        if flag in args:
            i = args.index(flag)
            thresholds[flag] = float(args[i + 1])
            del args[i:i + 2]
    model = build(read_labelled(Path(a) for a in args), load_rules().normaliser.normalise,
                  thresholds["--urgent"], thresholds["--concern"], lower_threshold=thresholds["--lower"])
    out = Path(str(resources.files("content") / "safeguarding" / "model.json.gz"))
    out.write_bytes(gzip.compress(model.to_json().encode("utf-8"), compresslevel=9, mtime=0))
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
