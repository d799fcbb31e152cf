"""Risk detection: what the checker flags, what it leaves alone, and that it never breaks."""

from __future__ import annotations

import csv
import random
import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.services.risk import (
    CATEGORIES,
    RiskAssessment,
    RiskChecker,
    RiskLevel,
    RuleRiskChecker,
    Rules,
    load_rules,
)

HERE = Path(__file__).resolve().parent
URGENT, CONCERN = RiskLevel.URGENT, RiskLevel.CONCERN


@pytest.fixture(scope="module")
def checker() -> RuleRiskChecker:
    return RuleRiskChecker.from_content()


def level_of(checker: RuleRiskChecker, text: str) -> RiskLevel | None:
    return checker.assess(text).level


# ------------------------------------------------------------------ each category at each level

CASES = [
    ("suicide", URGENT, "i want to kill myself"),
    ("suicide", URGENT, "everyone would be better off if i was dead"),
    ("suicide", CONCERN, "i feel so hopeless lately"),
    ("suicide", CONCERN, "nobody cares about me"),
    ("self_harm", URGENT, "i just cut myself and it won't stop bleeding"),
    ("self_harm", URGENT, "i'm going to hurt myself tonight"),
    ("self_harm", CONCERN, "i used to self harm in year 9"),
    ("self_harm", CONCERN, "my scars are showing"),
    ("abuse", URGENT, "my stepdad punched me last night"),
    ("abuse", URGENT, "he touches me when nobody's home"),
    ("abuse", CONCERN, "i'm being bullied at school"),
    ("abuse", CONCERN, "my mum keeps screaming at me"),
    ("unsafe_now", URGENT, "there's a man following me"),
    ("unsafe_now", URGENT, "i don't feel safe here"),
    ("unsafe_now", CONCERN, "some lads keep threatening me"),
    ("unsafe_now", CONCERN, "i'm scared to walk home"),
    ("missing", URGENT, "i've run away and i've got nowhere to sleep tonight"),
    ("missing", URGENT, "I've run and I'm not safe"),
    ("missing", CONCERN, "i'm thinking of running away"),
    ("missing", CONCERN, "i want to run away one day"),
    ("missing", URGENT, "staying out all night, don't tell staff where i am"),
    ("exploitation", URGENT, "they're making me sell drugs for them"),
    ("exploitation", URGENT, "he says he'll share my nudes unless i pay"),
    ("exploitation", CONCERN, "my boyfriend is 24 and buys me trainers"),
    ("exploitation", CONCERN, "been going country with the olders"),
    ("substance_emergency", URGENT, "i took 30 paracetamol"),
    ("substance_emergency", URGENT, "my mate's not breathing"),
    ("substance_emergency", CONCERN, "i've been drinking every night"),
    ("substance_emergency", CONCERN, "getting high before school"),
]


@pytest.mark.parametrize(("category", "level", "text"), CASES)
def test_flags_each_category_at_each_level(checker, category, level, text):
    result = checker.assess(text)
    assert result.level is level
    assert category in result.categories


def test_every_category_has_cases_at_both_levels():
    covered = {(category, level) for category, level, _ in CASES}
    assert covered == {(c, lvl) for c in CATEGORIES for lvl in RiskLevel}


# ------------------------------------------------------------------ text-speak and misspellings

@pytest.mark.parametrize(
    "text",
    [
        "kms",
        "KMS",
        "im gonna kms",
        "i want to unalive myself",
        "wanna die",
        "i wanna dieeee",
        "dont want to be here",
        "don't want to be here anymore",
        "don\u2019t want to be here",
        "I DONT WANT TO BE HERE!!!",
        "k1ll mys3lf",
        "i want 2 die",
        "im suisidal",
        "i dnt wanna be alive",
        "thinking about sewerslide",
        "k\u200bms",
        "\uff4b\uff4d\uff53",
    ],
)
def test_text_speak_and_misspellings_are_urgent_suicide(checker, text):
    result = checker.assess(text)
    assert result.is_urgent
    assert "suicide" in result.categories


@pytest.mark.parametrize(
    ("text", "level"),
    [
        ("i did sh last night", CONCERN),
        ("sh urges are bad tonight", CONCERN),
        ("sh it's a secret", None),
        ("i might od", URGENT),
        ("ive od'd", URGENT),
        ("that film was od long", None),
        ("i tuk 2 many pills", URGENT),
        ("hes hittin me", URGENT),
    ],
)
def test_context_dependent_text_speak(checker, text, level):
    assert level_of(checker, text) is level


# ------------------------------------------------------------------ wording families, not single phrases

# Paraphrases of the kinds of wording the untuned holdout missed, none of them copied from it:
# each family must be caught by the rules alone, whatever the spelling.
FAMILIES = [
    # stockpiling, intent + method + time, "unalive" anywhere, dropped g
    ("suicide", URGENT, "ive been saving up pills for when i finally do it"),
    ("suicide", URGENT, "got enough paracetamol saved to do it"),
    ("suicide", URGENT, "im stockpilin my tablets"),
    ("suicide", URGENT, "i been collectin pills in a sock under my bed"),
    ("suicide", URGENT, "gonna unalive tonight"),
    ("suicide", URGENT, "thinking about unaliving"),
    ("suicide", URGENT, "ima jump tonight"),
    ("suicide", URGENT, "i will jump"),
    ("suicide", URGENT, "gonna jump of the bridge"),
    ("suicide", URGENT, "thinkin bout killin myself"),
    ("suicide", URGENT, "im plannin to end it 2nite"),
    ("suicide", URGENT, "tonight is the night"),
    ("suicide", URGENT, "going to take them all when staff go to bed"),
    # overdose said plainly
    ("substance_emergency", URGENT, "took too many of mums tablets and my heart is racing"),
    ("substance_emergency", URGENT, "i took a load of my meds and now i feel really dizzy"),
    ("substance_emergency", URGENT, "my heart is racing i think i took too many"),
    ("substance_emergency", URGENT, "just drank some of the bleach from the cupboard"),
    ("substance_emergency", URGENT, "my mate is fitting"),
    # grabbed, held, followed or shut in, now
    ("unsafe_now", URGENT, "some guy is holding my wrist and wont let me go"),
    ("unsafe_now", URGENT, "a man's got hold of my hood"),
    ("unsafe_now", URGENT, "someone is following me rn"),
    ("unsafe_now", URGENT, "he locked the door and wont let me out"),
    ("unsafe_now", URGENT, "please come get me im scared"),
    ("unsafe_now", URGENT, "he's coming for me now"),
    # debts, packages, being made to do things
    ("exploitation", URGENT, "they said i owe them 500 and have to work it off doing drops"),
    ("exploitation", URGENT, "i have to carry packages for them or they'll hurt my mum"),
    ("exploitation", URGENT, "he's making me do stuff i dont want to"),
    ("exploitation", URGENT, "an older guy keeps pressuring me to sleep with his mates"),
    ("suicide", URGENT, "i cant take it anymore im ending it"),
    ("suicide", URGENT, "goodbye everyone i love you all"),
    ("substance_emergency", URGENT, "i drank a bottle of vodka and took some pills"),
    ("unsafe_now", URGENT, "i'm scared he'll kill me"),
    ("unsafe_now", URGENT, "he's hitting my mum and i'm scared"),
    ("unsafe_now", URGENT, "there's a man in a car who keeps asking me to get in"),
    ("exploitation", URGENT, "i owe the olders and theyre threatening my family"),
    ("unsafe_now", URGENT, "my dad has a knife and hes really angry"),
    ("missing", URGENT, "i ran off and im in a city i dont know and my phone is dying"),
    ("substance_emergency", URGENT, "ive took a full pack of parasetamol"),
    ("unsafe_now", URGENT, "some lads have got me cornered behind the shops"),
    ("unsafe_now", URGENT, "i'm in a car with a man i dont know and i dont know where were going"),
    ("exploitation", URGENT, "they said i'm not allowed home till i've sold everything"),
    ("exploitation", URGENT, "this guy i met online is outside my house and wants to take me somewhere"),
    ("self_harm", URGENT, "cuttin myself rn"),
    ("suicide", URGENT, "i know how im going to do it"),
    ("self_harm", URGENT, "i've got the razor in my hand right now"),
    # running away tonight is urgent (docs/safeguarding-labels.md); having been away and come back is a concern
    ("missing", URGENT, "im doing a runner tonight"),
    ("missing", URGENT, "gonna run away tonight"),
    ("missing", CONCERN, "i've been at my boyfriends and didnt tell staff where i was"),
    ("self_harm", CONCERN, "i always wear a hoodie so staff dont see my arms"),
    ("suicide", CONCERN, "been feelin really rubbish lately"),
    ("exploitation", CONCERN, "an older man keeps asking me to meet him"),
    ("abuse", CONCERN, "my boyfriend checks my phone and wont let me see my friends"),
    ("suicide", CONCERN, "everyone at school hates me"),  # as "everyone hates me" is in the sets
    ("self_harm", CONCERN, "i've been skipping meals"),
]


@pytest.mark.parametrize(("category", "level", "text"), FAMILIES)
def test_wording_families_are_caught_by_the_rules(checker, category, level, text):
    result = checker.assess(text)
    assert result.level is level
    assert category in result.categories


@pytest.mark.parametrize(
    "text",
    [
        "im gonna jump in the shower",
        "gonna jump on fortnite later",
        "we're going to jump on the bus into town",
        "saving up for new trainers",
        "i keep my tablets in the kitchen cupboard",
        "i took two paracetamol for my headache",
        "took too many photos at the party lol",
        "my heart is racing i just ran for the bus",
        "he grabbed my hand and we walked to the park",
        "my nan wont let go of the fact i forgot her birthday",
        "can you pick me up from town at 6",
        "i'm hiding from my little sister she wants to play barbies",
        "my cat ran away but she came back",
        "we had an assembly about knife crime",
        "i'm not suicidal or anything just really bored",
        "im never drinking again lol",
        "my brother keeps hitting me with pillows lol",
        "i'm never going back to that barbers",
        "go to hell",
        "my mum has a knife to cut the cake",
    ],
)
def test_family_lookalikes_are_not_flagged_urgent(checker, text):
    assert not checker.assess(text).is_urgent


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("thinkin of endin it", "thinking of ending it"),
        ("hav been savin up my tablets", "have been saving up my tablets"),
        ("wanna unalive tbh", "want to kill myself to be honest"),
        ("i want to unalive him in fortnite", "i want to kill him in fortnite"),
        ("my cousin is comin round", "my cousin is coming round"),
        ("again the brain train", "again the brain train"),
        ("kevin is within the cabin", "kevin is within the cabin"),
    ],
)
def test_dropped_g_and_text_speak_are_read_back(checker, typed, read):
    assert checker.rules.normaliser.normalise(typed) == read


# ------------------------------------------------------------------ idioms and everyday negatives

@pytest.mark.parametrize(
    "text",
    [
        "this homework is killing me",
        "my feet are killing me",
        "I'd die for a pizza",
        "that cake was to die for",
        "dying to see you",
        "dead tired after football",
        "we killed it at the talent show",
        "i nearly died laughing",
        "he's dead funny",
        "i could kill my brother lol",
        "we got killed 5-0 on saturday",
        "my mum is gonna kill me when she sees my report",
        "can't breathe i'm laughing so hard \U0001f602",
        "kmsl",
        "i want to dye my hair",
        "i want to die of embarrassment",
        "my phone died",
        "gonna hang out with my mates",
        "i want to end it with my boyfriend",
        "i don't want to be here at school",
        "she beat me at fifa",
        "he hit me up on snap",
        "the suicide squad film was mid",
        "overdosed on chocolate this weekend",
        "i cut myself on the bread knife making toast",
    ],
)
def test_idioms_are_not_urgent(checker, text):
    assert not checker.assess(text).is_urgent


@pytest.mark.parametrize(
    "text",
    ["hiya", "can i change my appointment to thursday", "lol ok", "\U0001f44d", "thanks jo", "my phone is dead"],
)
def test_everyday_messages_are_not_flagged(checker, text):
    assert checker.assess(text) == RiskAssessment(level=None)


def test_past_and_negated_statements_drop_to_concern(checker):
    assert level_of(checker, "i tried to kill myself last year but i'm ok now") is CONCERN
    assert level_of(checker, "i used to be suicidal") is CONCERN
    assert level_of(checker, "i would never kill myself") is CONCERN
    assert level_of(checker, "they told me to kill myself on snap") is CONCERN


def test_urgent_wins_over_concern_and_lists_only_urgent_categories(checker):
    result = checker.assess("i'm so depressed and i want to die")
    assert result.level is URGENT
    assert result.categories == ("suicide",)
    assert "suicide.hopeless" in result.rule_ids and "suicide.want_die" in result.rule_ids


def test_several_urgent_categories_are_all_named_and_sorted(checker):
    result = checker.assess("he's hitting me and i've run away, i'm not safe")
    assert result.level is URGENT
    assert result.categories == tuple(sorted(result.categories))
    assert {"abuse", "unsafe_now"} <= set(result.categories)


# ------------------------------------------------------------------ robustness

@pytest.mark.parametrize("text", ["", " ", "\n\t  \r\n", "\u200b", "...", "\U0001f602" * 50])
def test_empty_and_blank_input_is_no_risk(checker, text):
    assert checker.assess(text).level is None


def test_huge_random_input_is_assessed_quickly(checker):
    rng = random.Random(4)
    text = "".join(chr(rng.randrange(0x20, 0x3000)) for _ in range(100_000))
    start = time.perf_counter()
    result = checker.assess(text)
    assert time.perf_counter() - start < 5
    assert isinstance(result, RiskAssessment)


def test_huge_input_still_finds_a_crisis_at_the_end(checker):
    text = "this homework is killing me lol " * 3_000 + "i want to kill myself"
    assert len(text) > 90_000
    start = time.perf_counter()
    assert checker.assess(text).is_urgent
    assert time.perf_counter() - start < 5


def test_huge_repetitive_crisis_input_is_fast(checker):
    start = time.perf_counter()
    assert checker.assess("kms " * 25_000).is_urgent
    assert time.perf_counter() - start < 5


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_any_unicode_text_gives_a_well_formed_assessment(text):
    result = _shared_checker().assess(text)
    known_ids = {rule.id for rule in _shared_checker().rules.rules}
    assert (result.level is None) == (result.categories == ()) == (result.rule_ids == ())
    assert set(result.categories) <= set(CATEGORIES)
    assert result.categories == tuple(sorted(result.categories))
    assert set(result.rule_ids) <= known_ids
    assert result.rule_ids == tuple(sorted(result.rule_ids))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(min_size=1, max_size=40), st.integers(min_value=2_500, max_value=100_000))
def test_huge_text_of_any_kind_gives_an_assessment(chunk, length):
    text = (chunk * (length // len(chunk) + 1))[:length]
    assert isinstance(_shared_checker().assess(text), RiskAssessment)


@given(st.text(alphabet=" \t\n\r\u00a0\u2003\u200b\ufeff", max_size=200))
def test_whitespace_of_any_kind_is_no_risk(text):
    assert _shared_checker().assess(text).level is None


def test_assessment_holds_ids_never_the_young_persons_words(checker):
    text = "my stepdad Gary hit me at 14 Elm Road and i want to kill myself"
    result = checker.assess(text)
    assert result.is_urgent
    flat = repr(result).lower()
    for word in ("gary", "elm", "road", "stepdad", "kill myself"):
        assert word not in flat
    known = {rule.id for rule in checker.rules.rules}
    assert set(result.rule_ids) <= known


# ------------------------------------------------------------------ the word index changes nothing

def _shared_checker() -> RuleRiskChecker:
    global _CHECKER
    try:
        return _CHECKER
    except NameError:
        _CHECKER = RuleRiskChecker.from_content()
        return _CHECKER


_COMPILED: dict[int, tuple[list, list]] = {}


def compiled(rules: Rules) -> tuple[list, list]:
    if id(rules) not in _COMPILED:
        _COMPILED[id(rules)] = (
            [(rule, re.compile(alt)) for rule in rules.rules for alt in rule.alternatives],
            [(re.compile(alt), ex.levels) for ex in rules.exclusions for alt in ex.alternatives],
        )
    return _COMPILED[id(rules)]


def brute_force(rules: Rules, text: str) -> RiskAssessment:
    """Run every rule pattern and every exclusion on the text, with no index: the reference answer."""
    found: dict[RiskLevel, set[str]] = {}
    ids: set[str] = set()
    patterns, exclusions = compiled(rules)
    for variant in rules.normaliser.variants(text):
        covering = [(m.span(), levels) for rx, levels in exclusions for m in rx.finditer(variant)]
        for rule, rx in patterns:
            if rule.id not in ids:
                pos = 0
                while (m := rx.search(variant, pos)) is not None:
                    if not any(
                        rule.level in levels and a <= m.start() and m.end() <= b for (a, b), levels in covering
                    ):
                        ids.add(rule.id)
                        found.setdefault(rule.level, set()).add(rule.category)
                        break
                    pos = m.start() + 1
    for level in RiskLevel:
        if level in found:
            return RiskAssessment(level, tuple(sorted(found[level])), tuple(sorted(ids)))
    return RiskAssessment(level=None)


# Every labelled set (docs/safeguarding-labels.md): eval_* are scored, train_* only trained on.
LABELLED_SETS = tuple(sorted(path.name for path in HERE.glob("*.csv")))


def eval_rows(name: str) -> list[dict[str, str]]:
    with (HERE / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_index_agrees_with_brute_force_on_the_labelled_sets(checker):
    rules = checker.rules
    for name in LABELLED_SETS:
        if (HERE / name).exists():
            for row in eval_rows(name):
                assert checker.assess(row["text"]) == brute_force(rules, row["text"]), row["text"]


def _rule_vocabulary() -> list[str]:
    rules = load_rules()
    words = set()
    for rule in [*rules.rules, *rules.exclusions]:
        for alt in rule.alternatives:
            words.update(re.findall(r"[a-z]{2,}", alt))
    return sorted(words | {"i", "me", "my", "lol", "2", "kms", "wanna", "dont", "sh", "od"})


VOCABULARY = _rule_vocabulary()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=14))
def test_index_agrees_with_brute_force_on_rule_words(words):
    checker = _shared_checker()
    text = " ".join(words)
    assert checker.assess(text) == brute_force(checker.rules, text)


# ------------------------------------------------------------------ the interface and the data

def test_checker_satisfies_the_protocol(checker):
    def use(c: RiskChecker) -> RiskAssessment:
        return c.assess("hello")

    assert use(checker).level is None


def test_category_labels_come_from_the_data(checker):
    assert checker.category_label("self_harm") == "Self-harm"
    assert all(checker.category_label(c) for c in CATEGORIES)
    with pytest.raises(KeyError, match="nonsense"):
        checker.category_label("nonsense")


def test_is_urgent_follows_the_level():
    assert RiskAssessment(URGENT, ("suicide",), ("x",)).is_urgent
    assert not RiskAssessment(CONCERN, ("suicide",), ("x",)).is_urgent
    assert not RiskAssessment(None).is_urgent


MINIMAL = """
[categories]
suicide = {label = "Suicide"}
self_harm = {label = "Self-harm"}
abuse = {label = "Abuse"}
unsafe_now = {label = "Unsafe now"}
missing = {label = "Missing"}
exploitation = {label = "Exploitation"}
substance_emergency = {label = "Substance emergency"}
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[[rule]]\nid = "a"\ncategory = "weather"\nlevel = "urgent"\nphrases = ["x"]', "unknown category"),
        ('[[rule]]\nid = "a"\ncategory = "abuse"\nlevel = "urgent"\npatterns = ["(x"]', "'a' has a bad pattern"),
        ('[[rule]]\nid = "a"\ncategory = "abuse"\nlevel = "urgent"\npatterns = ["(?:x)?"]', "'a' matches empty"),
        ('[[rule]]\nid = "a"\ncategory = "abuse"\nlevel = "urgent"\npatterns = ["<<nope>>"]', "unknown macro 'nope'"),
        ('[[rule]]\nid = "a"\ncategory = "abuse"\nlevel = "urgent"', "'a' has no phrases"),
        ('[[rule]]\nid = "a"\ncategory = "abuse"\nlevel = "soon"\nphrases = ["x"]', "'a' has unknown level 'soon'"),
        ('[[exclusion]]\nid = "e"\nlevels = ["urgent"]', "'e' has no patterns"),
        (
            '[[rule]]\nid = "a"\ncategory = "abuse"\nlevel = "urgent"\nphrases = ["x"]\n'
            '[[rule]]\nid = "a"\ncategory = "abuse"\nlevel = "urgent"\nphrases = ["y"]',
            "'a' is defined twice",
        ),
    ],
)
def test_broken_rules_are_refused_by_name(extra, message):
    with pytest.raises(ValueError, match=message):
        Rules.from_toml(MINIMAL + extra)


def test_missing_category_labels_are_refused():
    with pytest.raises(ValueError, match="substance_emergency"):
        Rules.from_toml(MINIMAL.replace('substance_emergency = {label = "Substance emergency"}', ""))


def test_a_tiny_rule_set_works_end_to_end():
    rules = Rules.from_toml(
        MINIMAL
        + '[text.expansions]\nhlp = "help"\n'
        + '[[rule]]\nid = "u.help"\ncategory = "unsafe_now"\nlevel = "urgent"\nphrases = ["help me"]\n'
        + '[[exclusion]]\nid = "x"\npatterns = ["help me with"]\n'
    )
    checker = RuleRiskChecker(rules)
    assert checker.assess("HLP ME!!").rule_ids == ("u.help",)
    assert checker.assess("hlp me with maths").level is None


# ------------------------------------------------------------------ the labelled evaluation sets

LEVELS = {"urgent", "concern", "none"}
KINDS = {"crisis", "concern", "everyday", "idiom", "misspelling", "textspeak"}


@pytest.mark.parametrize(
    ("name", "minimum"),
    [("eval_set.csv", 300), ("eval_holdout.csv", 80), ("eval_holdout2.csv", 100), ("eval_holdout3.csv", 200),
     ("eval_holdout4.csv", 300), ("eval_holdout5.csv", 300), ("eval_holdout6.csv", 300), ("eval_holdout7.csv", 300),
     ("eval_holdout8.csv", 300),
     *((name, 400) for name in LABELLED_SETS if name.startswith("train_"))],
)
def test_labelled_sets_are_well_formed(name, minimum):
    other_texts = {r["text"] for other in LABELLED_SETS
                   if other != name for r in eval_rows(other)}
    rows = eval_rows(name)
    assert len(rows) >= minimum
    assert len({r["text"] for r in rows}) == len(rows), "duplicate texts"
    assert not other_texts & {r["text"] for r in rows}, "a text is in two sets"
    for row in rows:
        assert row["level"] in LEVELS and row["kind"] in KINDS, row
        assert (row["category"] in CATEGORIES) if row["level"] != "none" else row["category"] == "", row


def test_eval_set_covers_every_category_at_both_levels():
    rows = eval_rows("eval_set.csv")
    for category in CATEGORIES:
        for level in ("urgent", "concern"):
            count = sum(1 for r in rows if r["category"] == category and r["level"] == level)
            assert count >= 5, (category, level, count)
    assert sum(1 for r in rows if r["level"] == "none") >= 100


def scores(checker: RiskChecker, rows: list[dict[str, str]], level: str) -> tuple[float, float]:
    got = [(r["level"], checker.assess(r["text"]).level) for r in rows]
    tp = sum(1 for want, have in got if want == level and have is not None and have.value == level)
    fp = sum(1 for want, have in got if want != level and have is not None and have.value == level)
    fn = sum(1 for want, have in got if want == level and (have is None or have.value != level))
    return tp / (tp + fn), tp / (tp + fp)


def test_eval_set_meets_the_urgent_target(checker):
    recall, precision = scores(checker, eval_rows("eval_set.csv"), "urgent")
    assert recall >= 0.98
    assert precision >= 0.90


def test_eval_set_meets_the_concern_floor(checker):
    recall, precision = scores(checker, eval_rows("eval_set.csv"), "concern")
    assert recall >= 0.85
    assert precision >= 0.85
