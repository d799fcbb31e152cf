"""The service's risk checker: rules plus a trained model, judged on sets it was and was not built on."""

from __future__ import annotations

import gzip
import json
from importlib import resources

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services.risk import CATEGORIES, RiskAssessment, RiskChecker, RiskLevel, RuleRiskChecker, load_rules
from bot.services.risk_model import (
    Logistic,
    ModelledRiskChecker,
    RiskModel,
    build,
    features,
    load_model,
    read_labelled,
)
from tests.conftest import Service
from tests.fakes.botapi import FakeBotAPI
from tests.handlers.test_crisis import SAM, alerts, sam_on_telegram
from tests.safeguarding.test_risk import HERE, eval_rows, scores

URGENT, CONCERN = RiskLevel.URGENT, RiskLevel.CONCERN


@pytest.fixture(scope="module")
def checker() -> ModelledRiskChecker:
    return ModelledRiskChecker.from_content()


@pytest.fixture(scope="module")
def rules_only() -> RuleRiskChecker:
    return RuleRiskChecker.from_content()


# ------------------------------------------------------------------ what the service flags

@pytest.mark.parametrize("text", ["i have a rope in my room", "the pills are in my hand"])
def test_model_catches_danger_the_rules_have_no_wording_for(checker, rules_only, text):
    assert rules_only.assess(text).level is None
    result = checker.assess(text)
    assert result.is_urgent
    assert result.rule_ids == (ModelledRiskChecker.MODEL_URGENT,)
    assert len(result.categories) == 1 and result.categories[0] in CATEGORIES


async def test_the_service_alerts_on_a_wording_only_the_model_knows(service: Service, fake_bot_api: FakeBotAPI) -> None:
    await sam_on_telegram(service, fake_bot_api)
    fake_bot_api.push_text(SAM, "i have a rope in my room")
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=4)
    assert "I have told Jo now" in sent[2]["text"] and "0800 1111" in sent[3]["text"]
    [alert] = await alerts(service)
    assert alert.level == "urgent" and alert.categories


@pytest.mark.parametrize("text", ["/stop", "stop", "STOP", "please stop", "/start", "/settings", "ok thanks", "no"])
def test_commands_and_one_or_two_words_raise_no_alarm_from_the_model(checker, text):
    # "/stop" pauses prompts: it must never page the duty rota. Short crisis words are the rules' job.
    assert checker.assess(text).level is None


def test_model_adds_a_concern_flag_where_rules_find_nothing(checker, rules_only):
    text = "i have nothing left"
    assert rules_only.assess(text).level is None
    assert checker.assess(text) == RiskAssessment(CONCERN, ("suicide",), (ModelledRiskChecker.MODEL_CONCERN,))


@pytest.mark.parametrize(
    "text",
    [
        "this homework is killing me",
        "I'd die for a pizza",
        "my mum is gonna kill me when she sees my report",
        "i want to end it with my boyfriend",
        "can't breathe i'm laughing so hard \U0001f602",
        "i cut myself on the bread knife making toast",
        "we got killed 5-0 on saturday",
        "overdosed on chocolate this weekend",
    ],
)
def test_model_never_overrules_an_idiom_to_urgent(checker, text):
    assert not checker.assess(text).is_urgent


@pytest.mark.parametrize("text", ["hiya", "can i change my appointment to thursday", "lol ok", "thanks jo"])
def test_everyday_messages_stay_unflagged(checker, text):
    assert checker.assess(text).level is None


@pytest.mark.parametrize("text", ["kms", "wanna die", "dont want to be here", "i want to unalive myself"])
def test_rules_verdict_stands_when_urgent(checker, rules_only, text):
    assert checker.assess(text) == rules_only.assess(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=2000))
def test_any_text_gives_a_well_formed_assessment(text):
    result = _shared().assess(text)
    known = {r.id for r in _shared().rules.rules} | {ModelledRiskChecker.MODEL_URGENT, ModelledRiskChecker.MODEL_CONCERN}
    assert (result.level is None) == (result.categories == ()) == (result.rule_ids == ())
    assert set(result.categories) <= set(CATEGORIES)
    assert set(result.rule_ids) <= known


def test_huge_input_gives_an_assessment(checker):
    text = "this homework is killing me lol " * 3_000 + "i want to kill myself"
    assert checker.assess(text).is_urgent


def test_checker_satisfies_the_protocol_and_names_categories(checker):
    def use(c: RiskChecker) -> RiskAssessment:
        return c.assess("hello")

    assert use(checker).level is None
    assert checker.category_label("missing") == "Running away / missing"


# ------------------------------------------------------------------ judged on the labelled sets

def test_eval_set_meets_the_issue_target(checker):
    recall, precision = scores(checker, eval_rows("eval_set.csv"), "urgent")
    assert recall >= 0.98 and precision >= 0.90


# Floors, not results: the first holdout was used to tune rules and thresholds; the second was
# written before any measurement and never tuned on (docs/benchmarks.md has the figures). The
# issue's target (urgent recall >= 0.98) is not met on the second; these stop it getting worse.
@pytest.mark.parametrize(
    ("name", "level", "min_recall", "min_precision"),
    [
        ("eval_holdout.csv", "urgent", 0.95, 0.90),
        ("eval_holdout.csv", "concern", 0.85, 0.85),
        ("eval_holdout2.csv", "urgent", 0.80, 0.90),
        ("eval_holdout2.csv", "concern", 0.75, 0.70),
    ],
)
def test_holdout_floors(checker, name, level, min_recall, min_precision):
    recall, precision = scores(checker, eval_rows(name), level)
    assert recall >= min_recall, f"{name} {level} recall {recall:.3f}"
    assert precision >= min_precision, f"{name} {level} precision {precision:.3f}"


def test_model_adds_urgent_recall_on_the_untuned_holdout(checker, rules_only):
    rows = eval_rows("eval_holdout2.csv")
    with_model, _ = scores(checker, rows, "urgent")
    alone, _ = scores(rules_only, rows, "urgent")
    assert with_model > alone


# ------------------------------------------------------------------ the model file

def test_shipped_model_is_what_the_labelled_sets_train():
    rows = read_labelled([HERE / "eval_set.csv", HERE / "eval_holdout.csv"])
    shipped = load_model()
    rebuilt = build(rows, load_rules().normaliser.normalise, shipped.urgent_threshold, shipped.concern_threshold)
    assert rebuilt.to_json() == shipped.to_json(), "rebuild with: python -m bot.services.risk_model " \
        "tests/safeguarding/eval_set.csv tests/safeguarding/eval_holdout.csv"


def test_model_never_trains_on_the_untuned_holdout():
    shipped, normalise = load_model(), load_rules().normaliser.normalise
    only_in_holdout2 = {
        f for text, _, _ in read_labelled([HERE / "eval_holdout2.csv"]) for f in features(normalise(text))
    } - {
        f for text, _, _ in read_labelled([HERE / "eval_set.csv", HERE / "eval_holdout.csv"])
        for f in features(normalise(text))
    }
    assert only_in_holdout2
    assert not only_in_holdout2 & set(shipped.urgent.weights)


def test_model_round_trips_and_refuses_other_versions():
    tiny = build(
        [("i am in danger", "urgent", "unsafe_now"), ("i am sad", "concern", "suicide"), ("i am fine", "none", "")] * 3,
        lambda text: text,
    )
    again = RiskModel.from_json(tiny.to_json())
    assert again == tiny
    assert again.urgent.probability(features("i am in danger")) > again.urgent.probability(features("i am fine"))
    data = json.loads(tiny.to_json())
    with pytest.raises(ValueError, match="version 99"):
        RiskModel.from_json(json.dumps({**data, "version": 99}))
    with pytest.raises(ValueError, match="weather"):
        RiskModel.from_json(json.dumps({**data, "categories": {**data["categories"], "weather": data["urgent"]}}))


def test_shipped_model_file_is_small():
    path = resources.files("content") / "safeguarding" / "model.json.gz"
    assert len(path.read_bytes()) < 400_000
    assert json.loads(gzip.decompress(path.read_bytes()))["version"] == 1


def test_logistic_learns_a_separable_toy_problem():
    model = Logistic.train([(["w:a"], True), (["w:b"], False)] * 10)
    assert model.probability(["w:a"]) > 0.9 > 0.1 > model.probability(["w:b"])


def _shared() -> ModelledRiskChecker:
    global _CHECKER
    try:
        return _CHECKER
    except NameError:
        _CHECKER = ModelledRiskChecker.from_content()
        return _CHECKER
