"""Leave-one-writer-out cross-validation of the risk model's urgent and lowering thresholds.

Run from the repository root:
.venv/bin/python -m bench.safeguarding_cv [--urgent 0.4,0.5] [--lower 0,0.02,0.05] [--min-urgent-words 3,4] [--l2 0.03]
(about a minute per writer on one core). Each of the training sets written for training
(tests/safeguarding/train_*.csv, one writer each) is held out in turn: the model is trained
on the tuned sets and the other writers' sets, and the held-out writer's messages are scored
at each urgent threshold (both the any-risk and urgent parts at or above it) with a rule's
urgent verdict lowered below each lowering threshold (0: never lowered), the model raising a
message to urgent only from each number of words, with the model trained with the --l2
weight penalty. Prints urgent
recall and precision summed over every held-out writer. No evaluation set (eval_holdout3 to 7)
is read, so the thresholds can be chosen here without tuning on them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.safeguarding_eval import load_rows
from bot.services.risk import RuleRiskChecker, load_rules
from bot.services.risk_model import L2, MIN_URGENT_WORDS, ModelledRiskChecker, RiskModel, build, load_model, read_labelled

HERE = Path(__file__).resolve().parent.parent / "tests" / "safeguarding"
TUNED = [HERE / name for name in ("eval_set.csv", "eval_holdout.csv", "eval_holdout2.csv")]


def _floats(argv: list[str], flag: str, default: list[float]) -> list[float]:
    if flag not in argv:
        return default
    return [float(v) for v in argv[argv.index(flag) + 1].split(",")]


def main(argv: list[str]) -> int:
    urgent_at = _floats(argv, "--urgent", [0.5])
    lower_at = _floats(argv, "--lower", [0.0, 0.02, 0.05])
    words_at = [int(n) for n in _floats(argv, "--min-urgent-words", [MIN_URGENT_WORDS])]
    (l2,) = _floats(argv, "--l2", [L2])
    writers = sorted(HERE.glob("train_*.csv"))
    rules = RuleRiskChecker.from_content()
    normalise = load_rules().normaliser.normalise
    shipped = load_model()
    grid = [(u, t, n) for u in urgent_at for t in lower_at for n in words_at]
    counts = {g: [0, 0, 0] for g in grid}  # true, false and missed urgent verdicts
    for held in writers:
        trained = build(read_labelled([*TUNED, *(w for w in writers if w != held)]), normalise,
                        shipped.urgent_threshold, shipped.concern_threshold, l2=l2)
        rows = load_rows(held)
        for u, t, n in grid:
            checker = ModelledRiskChecker(rules, RiskModel(
                trained.any_risk, trained.urgent, trained.categories, u, trained.concern_threshold, t),
                min_urgent_words=n)
            for row in rows:
                level = checker.assess(row.text).level
                got = level.value if level else "none"
                counts[u, t, n][0] += row.level == "urgent" and got == "urgent"
                counts[u, t, n][1] += row.level != "urgent" and got == "urgent"
                counts[u, t, n][2] += row.level == "urgent" and got != "urgent"
        print(f"held out {held.stem}: done", flush=True)
    print(f"\n{len(writers)} writers held out in turn, l2 {l2}")
    print("urgent at   lower below   words for urgent   urgent recall   precision   false urgent   urgent missed")
    for (u, t, n), (tp, fp, fn) in counts.items():
        print(f"{u:>9}   {t:>11}   {n:>16}   {tp / (tp + fn):>13.3f}   {tp / (tp + fp):>9.3f}   {fp:>12}   {fn:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
