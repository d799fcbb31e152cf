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
    MODEL_VERSION,
    Logistic,
    ModelledRiskChecker,
    RiskModel,
    build,
    features,
    load_model,
    read_labelled,
)
from bot.clock import FrozenClock
from config.settings import Settings
from models import Direction, Message
from sqlalchemy import select
from tests.conftest import Service, Sleeps, running_service
from tests.fakes.botapi import FakeBotAPI
from tests.handlers.test_crisis import SAM, alerts, sam_on_telegram
from tests.safeguarding.test_risk import HERE, LABELLED_SETS, eval_rows, scores

URGENT, CONCERN = RiskLevel.URGENT, RiskLevel.CONCERN


@pytest.fixture(scope="module")
def checker() -> ModelledRiskChecker:
    return ModelledRiskChecker.from_content()


@pytest.fixture(scope="module")
def rules_only() -> RuleRiskChecker:
    return RuleRiskChecker.from_content()


# ------------------------------------------------------------------ what the service flags

@pytest.mark.parametrize("text", ["ive got it all planned", "everyone will be better off after tonight", "sorting out who gets my stuff after im gone"])
def test_model_catches_danger_the_rules_have_no_wording_for(checker, rules_only, text):
    assert rules_only.assess(text).level is None
    result = checker.assess(text)
    assert result.is_urgent
    assert result.rule_ids == (ModelledRiskChecker.MODEL_URGENT,)
    assert len(result.categories) == 1 and result.categories[0] in CATEGORIES


async def test_the_service_alerts_on_a_wording_only_the_model_knows(service: Service, fake_bot_api: FakeBotAPI) -> None:
    await sam_on_telegram(service, fake_bot_api)
    fake_bot_api.push_text(SAM, "everyone will be better off after tonight")
    sent = await fake_bot_api.wait_for_sent_async(SAM, count=4)
    assert "I have told Jo now" in sent[2]["text"] and "0800 1111" in sent[3]["text"]
    [alert] = await alerts(service)
    assert alert.level == "urgent" and alert.categories


LOWERED = "i think about hurting myself when i get angry but i never have"


async def test_a_lowered_verdict_flags_the_conversation_without_paging_anyone(service: Service, fake_bot_api: FakeBotAPI) -> None:
    await sam_on_telegram(service, fake_bot_api)
    fake_bot_api.push_text(SAM, LOWERED)
    await service.until_stored(LOWERED)
    await service.idle()
    assert await alerts(service) == []
    async with service.rt.db() as session:
        newest = await session.scalar(select(Message).where(Message.direction == Direction.INBOUND).order_by(Message.id.desc()).limit(1))
    assert newest.body == LOWERED and newest.risk_level == "concern"  # flagged for Jo on the conversation and caseload


async def test_with_lowering_turned_off_every_rules_urgent_raises_an_alert(
    settings: Settings, clock: FrozenClock, sleeps: Sleeps, fake_bot_api: FakeBotAPI
) -> None:
    async with running_service(settings.model_copy(update={"risk_model_may_lower": False}), clock, sleeps) as service:
        await sam_on_telegram(service, fake_bot_api)
        fake_bot_api.push_text(SAM, LOWERED)
        await service.until_stored(LOWERED)
        await service.idle()
        [alert] = await alerts(service)
        assert alert.level == "urgent" and "self_harm" in alert.categories


@pytest.mark.parametrize("text", ["/stop", "stop", "STOP", "please stop", "/start", "/settings", "ok thanks", "no"])
def test_commands_and_one_or_two_words_raise_no_alarm_from_the_model(checker, text):
    # "/stop" pauses prompts: it must never page the duty rota. Short crisis words are the rules' job.
    assert checker.assess(text).level is None


def test_model_adds_a_concern_flag_where_rules_find_nothing(checker, rules_only):
    text = "nothing feels real anymore"
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


@pytest.mark.parametrize("text", ["hiya", "can i change my appointment to thursday", "lol ok", "thanks jo", "is jo off?"])
def test_everyday_messages_stay_unflagged(checker, text):
    assert checker.assess(text).level is None


@pytest.mark.parametrize("text", [
    "kms", "wanna die", "dont want to be here", "i want to unalive myself", "i want to kill myself tonight",
    "he is hitting me right now im scared", "i took 20 paracetamol and feel sick", "there is a man following me",
    "i have run away and have nowhere to sleep", "i know how im going to do it",
])
def test_rules_verdict_stands_when_urgent(checker, rules_only, text):
    assert checker.assess(text) == rules_only.assess(text)


@pytest.mark.parametrize("text", [
    "when i was small my stepdad used to hit us but that was ages ago",
    "my ex used to slap me but we split up ages ago",
    "i think about hurting myself when i get angry but i never have",
])
def test_model_lowers_a_rules_urgent_it_is_sure_is_not_one_to_a_concern(checker, rules_only, text):
    # Past harm, urges without an act: the worker should know, the duty rota need not be paged.
    assert rules_only.assess(text).is_urgent
    lowered = checker.assess(text)
    assert lowered.level is CONCERN and lowered.categories == rules_only.assess(text).categories
    assert ModelledRiskChecker.MODEL_LOWERED in lowered.rule_ids
    # A council that wants every rule's urgent to stand turns it off (KEYWORKER_RISK_MODEL_MAY_LOWER=false).
    assert ModelledRiskChecker.from_content(may_lower=False).assess(text) == rules_only.assess(text)


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


PARAGRAPH = "Sam this is a long message about school and the weekend and my placement 🙂 "


def test_a_harmless_paragraph_said_over_and_over_is_not_urgent(checker):
    # Summed over a long message the model's small weights used to add up to a page for the duty rota.
    for times in (1, 3, 30, 300):
        assert not checker.assess(PARAGRAPH * times).is_urgent, times


def test_danger_only_the_model_knows_is_found_in_the_middle_of_a_long_message(checker, rules_only):
    text = PARAGRAPH * 20 + "sorting out who gets my stuff after im gone. " + PARAGRAPH * 20
    assert rules_only.assess(text).level is None
    assert checker.assess(text).rule_ids == (ModelledRiskChecker.MODEL_URGENT,)


def test_checker_satisfies_the_protocol_and_names_categories(checker):
    def use(c: RiskChecker) -> RiskAssessment:
        return c.assess("hello")

    assert use(checker).level is None
    assert checker.category_label("missing") == "Running away / missing"


# ------------------------------------------------------------------ judged on the labelled sets

def test_eval_set_meets_the_issue_target(checker):
    recall, precision = scores(checker, eval_rows("eval_set.csv"), "urgent")
    assert recall >= 0.98 and precision >= 0.90


# Floors, not results: each sits just under today's figure (docs/benchmarks.md), so no change to
# the rules, the model or its training makes a set worse. eval_set, eval_holdout and eval_holdout2
# are tuned on (rules written against them, the model trained on them). eval_holdout3 was written
# by someone who never saw the rules, the model or the other sets; the model is not trained on it,
# but its first thresholds were chosen on it. eval_holdout4 to 8 were written the same way and
# nothing was chosen on them (the thresholds come from cross-validation over the training writers,
# bench/safeguarding_cv.py): they are the honest figures for wording nobody tuned on. eval_holdout7
# and 8 were written after the last thresholds were chosen and each scored once, with the model as it
# ships. Over the five together urgent recall is 0.984 at precision 0.956 (the issue's target: 0.98 at
# 0.90); eval_holdout4 alone is 0.969. Lowering a rule's urgent below 0.2 turns some false pages into false
# concern flags, so concern precision is a little lower than with lowering below 0.05.
@pytest.mark.parametrize(
    ("name", "level", "min_recall", "min_precision"),
    [
        ("eval_holdout.csv", "urgent", 0.97, 0.95),  # tuned on
        ("eval_holdout.csv", "concern", 0.93, 0.97),  # tuned on
        ("eval_holdout2.csv", "urgent", 1.0, 1.0),  # tuned on
        ("eval_holdout2.csv", "concern", 1.0, 0.95),  # tuned on
        ("eval_holdout3.csv", "urgent", 0.98, 0.92),  # first thresholds chosen on it
        ("eval_holdout3.csv", "concern", 0.89, 0.96),  # first thresholds chosen on it
        ("eval_holdout4.csv", "urgent", 0.96, 0.96),  # never tuned on
        ("eval_holdout4.csv", "concern", 0.93, 0.88),  # never tuned on
        ("eval_holdout5.csv", "urgent", 0.97, 0.93),  # never tuned on
        ("eval_holdout5.csv", "concern", 0.84, 0.88),  # never tuned on
        ("eval_holdout6.csv", "urgent", 0.99, 0.94),  # never tuned on
        ("eval_holdout6.csv", "concern", 0.89, 0.93),  # never tuned on
        ("eval_holdout7.csv", "urgent", 0.99, 0.95),  # never tuned on, scored once
        ("eval_holdout7.csv", "concern", 0.90, 0.94),  # never tuned on, scored once
        ("eval_holdout8.csv", "urgent", 0.99, 0.97),  # never tuned on, scored once
        ("eval_holdout8.csv", "concern", 0.87, 0.94),  # never tuned on, scored once
    ],
)
def test_holdout_floors(checker, name, level, min_recall, min_precision):
    recall, precision = scores(checker, eval_rows(name), level)
    assert recall >= min_recall, f"{name} {level} recall {recall:.3f}"
    assert precision >= min_precision, f"{name} {level} precision {precision:.3f}"


# ------------------------------------------------------------------ the model file

# The model is trained on exactly these sets and nothing else: a rebuild from them gives the
# shipped file byte for byte, so no evaluation set (eval_holdout3 to 8) can have leaked into it.
TRAINING_SETS = ("eval_set.csv", "eval_holdout.csv", "eval_holdout2.csv", *(name for name in LABELLED_SETS if name.startswith("train_")))


def test_shipped_model_is_what_the_training_sets_train():
    rows = read_labelled([HERE / name for name in TRAINING_SETS])
    shipped = load_model()
    rebuilt = build(
        rows, load_rules().normaliser.normalise, shipped.urgent_threshold, shipped.concern_threshold,
        lower_threshold=shipped.lower_threshold,
    )
    assert rebuilt.to_json() == shipped.to_json(), "rebuild with: python -m bot.services.risk_model " + " ".join(
        f"tests/safeguarding/{name}" for name in TRAINING_SETS
    )


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
    assert len(path.read_bytes()) < 1_800_000  # about 1.6 MB from some 9,400 labelled messages
    assert json.loads(gzip.decompress(path.read_bytes()))["version"] == MODEL_VERSION


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
