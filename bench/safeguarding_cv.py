"""Leave-one-writer-out cross-validation of the risk model's lowering threshold.

Run from the repository root: .venv/bin/python -m bench.safeguarding_cv [THRESHOLD ...]
(about 10 minutes on one core). Each of the training sets written for training
(tests/safeguarding/train_*.csv, one writer each) is held out in turn: the model is trained
on the tuned sets and the other writers' sets, and the held-out writer's messages are scored
with a rule's urgent verdict lowered below each threshold (0: never lowered). Prints urgent
recall and precision summed over every held-out writer. No evaluation set (eval_holdout3 to 5)
is read, so the threshold can be chosen here without tuning on them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from bench.safeguarding_eval import load_rows
from bot.services.risk import RuleRiskChecker, load_rules
from bot.services.risk_model import ModelledRiskChecker, RiskModel, build, load_model, read_labelled

HERE = Path(__file__).resolve().parent.parent / "tests" / "safeguarding"
TUNED = [HERE / name for name in ("eval_set.csv", "eval_holdout.csv", "eval_holdout2.csv")]


def main(argv: list[str]) -> int:
    thresholds = [float(a) for a in argv] or [0.0, 0.02, 0.05]
    writers = sorted(HERE.glob("train_*.csv"))
    rules = RuleRiskChecker.from_content()
    normalise = load_rules().normaliser.normalise
    shipped = load_model()
    counts = {t: [0, 0, 0] for t in thresholds}  # true, false and missed urgent verdicts
    for held in writers:
        trained = build(read_labelled([*TUNED, *(w for w in writers if w != held)]), normalise,
                        shipped.urgent_threshold, shipped.concern_threshold)
        rows = load_rows(held)
        for t in thresholds:
            checker = ModelledRiskChecker(rules, RiskModel(
                trained.any_risk, trained.urgent, trained.categories, trained.urgent_threshold, trained.concern_threshold, t))
            for row in rows:
                level = checker.assess(row.text).level
                got = level.value if level else "none"
                counts[t][0] += row.level == "urgent" and got == "urgent"
                counts[t][1] += row.level != "urgent" and got == "urgent"
                counts[t][2] += row.level == "urgent" and got != "urgent"
        print(f"held out {held.stem}: done", flush=True)
    print("\nlower below   urgent recall   precision   false urgent   urgent missed")
    for t, (tp, fp, fn) in counts.items():
        print(f"{t:>11}   {tp / (tp + fn):>13.3f}   {tp / (tp + fp):>9.3f}   {fp:>12}   {fn:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
