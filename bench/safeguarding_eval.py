"""Print recall, precision and speed of the risk checkers on the labelled safeguarding sets.

Run from the repository root: .venv/bin/python bench/safeguarding_eval.py [--misses] [--against REV]
Each set is scored by the rules alone and by the rules with the trained model (the checker
the service uses). --misses lists the service checker's mistakes (row numbers are CSV line
numbers; the header is line 1). --against REV also builds the checkers from the rules and
model file of a git revision (read with `git show`, today's code) and measures both
throughputs side by side, in alternating rounds over the same messages.
eval_set, eval_holdout and eval_holdout2 are tuned on (and trained on, with the train_* sets);
eval_holdout3 to eval_holdout8 were each written by someone who never saw the rules, the model
or the other sets, and none is trained on. The model's first thresholds were chosen on
eval_holdout3; nothing was chosen on eval_holdout4 to 8: they are the honest figures.
"""

from __future__ import annotations

import csv
import gzip
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bot.services.risk import RiskAssessment, RiskChecker, RiskLevel, RuleRiskChecker, Rules
from bot.services.risk_model import ModelledRiskChecker, RiskModel

ROOT = Path(__file__).resolve().parent.parent
SETS = {
    "eval_set": ROOT / "tests" / "safeguarding" / "eval_set.csv",
    "eval_holdout": ROOT / "tests" / "safeguarding" / "eval_holdout.csv",
    "eval_holdout2": ROOT / "tests" / "safeguarding" / "eval_holdout2.csv",
    "eval_holdout3 (first thresholds chosen on it)": ROOT / "tests" / "safeguarding" / "eval_holdout3.csv",
    "eval_holdout4 (never tuned on)": ROOT / "tests" / "safeguarding" / "eval_holdout4.csv",
    "eval_holdout5 (never tuned on)": ROOT / "tests" / "safeguarding" / "eval_holdout5.csv",
    "eval_holdout6 (never tuned on)": ROOT / "tests" / "safeguarding" / "eval_holdout6.csv",
    "eval_holdout7 (never tuned on)": ROOT / "tests" / "safeguarding" / "eval_holdout7.csv",
    "eval_holdout8 (never tuned on)": ROOT / "tests" / "safeguarding" / "eval_holdout8.csv",
}
SHOW_MISSES = 40


@dataclass(frozen=True)
class Row:
    line: int
    text: str
    level: str  # urgent | concern | none
    category: str
    kind: str


def load_rows(path: Path) -> list[Row]:
    """Read a labelled CSV, numbering rows by their line in the file."""
    with path.open(newline="", encoding="utf-8") as f:
        return [
            Row(n, r["text"], r["level"], r["category"], r["kind"])
            for n, r in enumerate(csv.DictReader(f), start=2)
        ]


def got_level(assessment: RiskAssessment) -> str:
    return assessment.level.value if assessment.level else "none"


def report(name: str, rows: list[Row], checker: RiskChecker, label: str, misses_too: bool) -> None:
    results = [(row, checker.assess(row.text)) for row in rows]
    print(f"\n== {name}: {len(rows)} rows, {label} ==")
    print(f"{'level':<10}{'TP':>5}{'FP':>5}{'FN':>5}{'recall':>9}{'precision':>11}")
    levels = [lvl.value for lvl in RiskLevel]
    for level in [*levels, "any"]:
        def wanted(value: str) -> bool:
            return value != "none" if level == "any" else value == level

        tp = sum(1 for row, a in results if wanted(row.level) and wanted(got_level(a)))
        fp = sum(1 for row, a in results if not wanted(row.level) and wanted(got_level(a)))
        fn = sum(1 for row, a in results if wanted(row.level) and not wanted(got_level(a)))
        recall = tp / (tp + fn) if tp + fn else float("nan")
        precision = tp / (tp + fp) if tp + fp else float("nan")
        print(f"{level:<10}{tp:>5}{fp:>5}{fn:>5}{recall:>9.3f}{precision:>11.3f}")
    flagged = [(row, a) for row, a in results if row.level != "none" and a.level is not None]
    same_cat = sum(1 for row, a in flagged if row.category in a.categories)
    print(f"category named among those found, on flagged risk rows: {same_cat}/{len(flagged)}")
    by_kind: dict[str, list[bool]] = {}
    for row, a in results:
        by_kind.setdefault(row.kind, []).append(got_level(a) == row.level)
    print("level exactly right by kind: " + ", ".join(
        f"{k} {sum(v)}/{len(v)}" for k, v in sorted(by_kind.items())
    ))
    misses = [(row, a) for row, a in results if got_level(a) != row.level]
    if not misses_too:
        return
    print(f"misclassified: {len(misses)}" + (f" (first {SHOW_MISSES})" if len(misses) > SHOW_MISSES else ""))
    for row, a in misses[:SHOW_MISSES]:
        found = got_level(a) + (f" {','.join(a.categories)}" if a.categories else "")
        expected = row.level + (f" {row.category}" if row.category else "")
        print(f"  line {row.line:>3}: expected {expected:<28} got {found:<32} {row.text!r}")


def throughput(texts: list[str], checker: RiskChecker, runs: int = 5) -> float:
    """Return messages per CPU second, the median of several passes over all texts.

    CPU time rather than wall time, so other work on a shared machine does not count.
    """
    rates = []
    for _ in range(runs):
        start = time.process_time()
        for text in texts:
            checker.assess(text)
        rates.append(len(texts) / (time.process_time() - start))
    return statistics.median(rates)


def main(argv: list[str]) -> int:
    rules = RuleRiskChecker.from_content()
    service = ModelledRiskChecker.from_content()
    checkers: list[tuple[str, RiskChecker]] = [("rules alone", rules), ("rules + model (the service)", service)]
    print(f"rules: {len(rules.rules.rules)}, exclusions: {len(rules.rules.exclusions)}")
    all_texts = []
    for name, path in SETS.items():
        if not path.exists():
            print(f"\n== {name}: {path} is missing ==")
            continue
        rows = load_rows(path)
        all_texts.extend(row.text for row in rows)
        for label, checker in checkers:
            report(name, rows, checker, label, misses_too="--misses" in argv and checker is service)
    if all_texts:
        for label, checker in checkers:
            rate = throughput(all_texts, checker)
            print(f"\nthroughput, {label}: {rate:,.0f} messages per CPU second, one core "
                  f"(median of 5 passes over all {len(all_texts)} messages above)")
    if "--against" in argv and all_texts:
        compare(argv[argv.index("--against") + 1], all_texts, checkers)
    return 0


def checkers_at(rev: str) -> list[tuple[str, RiskChecker]]:
    """Build the rules-alone and service checkers from a git revision's rules and model files."""
    def show(path: str) -> bytes:
        return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True).stdout

    rules = RuleRiskChecker(Rules.from_toml(show("content/safeguarding/rules.toml").decode("utf-8")))
    model = RiskModel.from_json(gzip.decompress(show("content/safeguarding/model.json.gz")).decode("utf-8"))
    return [(f"rules alone at {rev}", rules), (f"rules + model at {rev}", ModelledRiskChecker(rules, model))]


def compare(rev: str, texts: list[str], now: list[tuple[str, RiskChecker]], rounds: int = 3) -> None:
    """Print throughputs of a revision's checkers and today's, measured in alternating rounds."""
    pairs = list(zip(checkers_at(rev), now, strict=True))
    rates: dict[str, list[float]] = {}
    for _ in range(rounds):
        for (old_label, old), (new_label, new) in pairs:
            rates.setdefault(old_label, []).append(throughput(texts, old))
            rates.setdefault(new_label, []).append(throughput(texts, new))
    print(f"\nside by side over the same {len(texts)} messages (median of {rounds} rounds of 5 passes):")
    for (old_label, _), (new_label, _) in pairs:
        old_rate, new_rate = statistics.median(rates[old_label]), statistics.median(rates[new_label])
        print(f"  {old_label}: {old_rate:,.0f}; now: {new_rate:,.0f} messages per CPU second ({new_rate / old_rate:.2f}x)")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
