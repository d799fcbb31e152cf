"""Wellbeing: average scores, the change over the period, and young people whose score got worse."""

from __future__ import annotations

from bot.services.indicators.figures import PREVIOUS, TOTAL, Figure, Group, figure
from bot.services.indicators.period import ScopeKind
from bot.services.indicators.sql import Ctx, json_pairs
from bot.services.questionnaire import Questionnaire, questionnaires
from models.rollup import WELLBEING_SCORES

VOICE = "listened"  # the 'Did you feel listened to?' question is reported under the young person's voice


def _last_before(ctx: Ctx, questionnaire: str, key: str) -> str:
    """SQL for a young person's (s0.yp) last score of this key completed before the previous period began."""
    value = ctx.json_num("p.scores", key)
    return (
        f"(SELECT {value} FROM wellbeing_responses p WHERE p.young_person_id = s0.yp AND p.questionnaire = '{questionnaire}' "
        f"AND p.completed_at < {ctx.ts(ctx.period.previous_start)} AND {value} IS NOT NULL "
        "ORDER BY p.completed_at DESC, p.id DESC LIMIT 1)"
    )


def _last_response(ctx: Ctx, questionnaire: str) -> str:
    """CTE baseline(yp, scores): the scores of each young person's last response completed before the previous period began.

    Only for those with a response since then. Their last response holds their last score of every key it has;
    a key it lacks is looked up on its own (_last_before).
    """
    return (
        "baseline AS MATERIALIZED (SELECT y.yp, (SELECT p.scores FROM wellbeing_responses p WHERE p.young_person_id = y.yp "
        f"AND p.questionnaire = '{questionnaire}' AND p.completed_at < {ctx.ts(ctx.period.previous_start)} "
        "ORDER BY p.completed_at DESC, p.id DESC LIMIT 1) AS scores "
        f"FROM (SELECT DISTINCT r.young_person_id AS yp FROM wellbeing_responses r WHERE r.questionnaire = '{questionnaire}' "
        f"AND r.completed_at >= {ctx.ts(ctx.period.previous_start)} AND r.completed_at < {ctx.ts(ctx.period.end)}) AS y)"
    )


def _key_index(keys: list[str], column: str) -> str:
    """SQL numbering a score's key by its place in the questionnaire."""
    return f"CASE {column} " + " ".join(f"WHEN '{key}' THEN {i}" for i, key in enumerate(keys)) + " END"


def _key_list(keys: list[str]) -> str:
    """The questionnaire's keys as an SQL list (plain identifiers: Ctx.json_key checked them)."""
    return ", ".join(f"'{key}'" for key in keys)


def _raw_scores(ctx: Ctx, questionnaire: Questionnaire, keys: list[str], service: bool) -> list[str]:
    """CTEs ending in s(k, yp, t, rid, v, prev_v[, prev_t, next_t, wg]): the period's scores, worked out from the responses.

    prev_v: the score before this one. For a young person's first score in a window, that is their
    last score before the window (their baseline); with none, the first score is its own baseline.
    Each response is read (and its JSON parsed) once, one row per score in it. Only the scores since the
    previous period began are read in order (narrow rows: the sort carries no JSON); only for each young
    person's first one there is the baseline joined, and a key their last response lacks looked up (the last
    before that, by index).
    """
    pairs, number = json_pairs(ctx.dialect, "r.scores")
    each = (
        f"SELECT {_key_index(keys, 'je.key')} AS k, r.young_person_id AS yp, r.completed_at AS t, r.id AS rid, {number} AS v "
        f"FROM wellbeing_responses r {pairs} WHERE r.questionnaire = '{questionnaire.id}' AND r.completed_at IS NOT NULL "
        f"AND r.completed_at >= {ctx.ts(ctx.period.previous_start)} AND r.completed_at < {ctx.ts(ctx.period.end)} "
        f"AND je.key IN ({_key_list(keys)})"
    )
    before = "CASE s0.k " + " ".join(
        f"WHEN {i} THEN COALESCE({ctx.json_num('l.scores', key)}, {_last_before(ctx, questionnaire.id, key)})" for i, key in enumerate(keys)
    ) + " END"
    order = "PARTITION BY k, yp ORDER BY t, rid"
    # Every score counts for the whole service: a score is a young person's first in a window when the one
    # before it (in time) is before the window, and their last when the one after it is after; so one pass in
    # order does, and each score joins its windows by its week (no sort per window).
    spans = f", LAG(t) OVER ({order}) AS prev_t, LEAD(t) OVER ({order}) AS next_t, {ctx.week_of('t')} AS wg" if service else ""
    return [
        _last_response(ctx, questionnaire.id),
        f"s0 AS MATERIALIZED (SELECT k, yp, t, rid, v, LAG(v) OVER ({order}) AS lag_v{spans} FROM ({each}) AS a WHERE a.v IS NOT NULL)",
        f"s AS MATERIALIZED (SELECT s0.*, COALESCE(s0.lag_v, {before}) AS prev_v FROM s0 LEFT JOIN baseline l ON l.yp = s0.yp AND s0.lag_v IS NULL)",
    ]


def _rolled_scores(ctx: Ctx, questionnaire: Questionnaire, keys: list[str], service: bool) -> list[str]:
    """The same s as _raw_scores, read from wellbeing_scores: for a period that ends before the rollup's watermark.

    Every score of the period is rolled up, each with the one before it and (when it came before the watermark)
    the one after it: what _raw_scores works out, read instead. A next score after the watermark is after every window.
    """
    week = f", {ctx.week_of('w.completed_at')} AS wg" if service else ""
    return [
        f"s AS MATERIALIZED (SELECT {_key_index(keys, 'w.key')} AS k, w.young_person_id AS yp, w.completed_at AS t, "
        f"w.response_id AS rid, w.value AS v, w.prev_value AS prev_v, w.prev_at AS prev_t, w.next_at AS next_t{week} "
        f"FROM wellbeing_scores w WHERE w.questionnaire = '{questionnaire.id}' AND w.completed_at >= {ctx.ts(ctx.period.previous_start)} "
        f"AND w.completed_at < {ctx.ts(ctx.period.end)} AND w.key IN ({_key_list(keys)}))"
    ]


async def _questionnaire(ctx: Ctx, questionnaire: Questionnaire) -> list[Figure]:
    """Summarise every score of one questionnaire in one query: window functions (or the rollup), no per-row lookups."""
    scores = questionnaire.scores
    keys = [ctx.json_key(s.id) for s in scores]
    service = ctx.scope.kind == ScopeKind.SERVICE
    mark = await ctx.rollup_mark(WELLBEING_SCORES)
    rolled = mark is not None and mark[0] >= ctx.period.end
    ctes = (_rolled_scores if rolled else _raw_scores)(ctx, questionnaire, keys, service)
    if service:
        on = "grp.wg = s.wg" if ctx.windows() == "gmap" else ctx.in_group("s.t")
        x = (
            "x AS (SELECT s.k, grp.g, s.yp, s.v, s.prev_v, "
            "CASE WHEN s.prev_t IS NULL OR s.prev_t < grp.gs THEN 1 ELSE 0 END AS first_rank, "
            "CASE WHEN s.next_t IS NULL OR s.next_t >= grp.ge THEN 1 ELSE 0 END AS last_rank "
            f"FROM s JOIN {ctx.windows()} AS grp ON {on})"
        )
    else:
        # In a scope, the first and last scores in a window are those the young person had while in scope.
        x = (
            "x AS (SELECT s.k, grp.g, s.yp, s.v, s.prev_v, "
            "ROW_NUMBER() OVER (PARTITION BY s.k, grp.g, s.yp ORDER BY s.t, s.rid) AS first_rank, "
            "ROW_NUMBER() OVER (PARTITION BY s.k, grp.g, s.yp ORDER BY s.t DESC, s.rid DESC) AS last_rank "
            f"FROM s JOIN {ctx.windows()} AS grp ON {ctx.in_group('s.t')} {ctx.join_at('s.yp', 's.t')})"
        )
    ends = (
        "ends AS (SELECT k, g, yp, SUM(v) AS total, COUNT(*) AS n, MAX(CASE WHEN last_rank = 1 THEN v END) AS last_v, "
        "MAX(CASE WHEN first_rank = 1 THEN COALESCE(prev_v, v) END) AS base_v FROM x GROUP BY k, g, yp)"
    )
    worse = " ".join(
        f"WHEN {i} THEN CASE WHEN last_v {'<' if score.higher_is_better else '>'} base_v THEN 1 ELSE 0 END"
        for i, score in enumerate(scores)
    )
    rows = await ctx.rows(
        f"{ctx.with_(*ctes, x, ends)} SELECT k, g, SUM(total) / SUM(n), AVG(last_v - base_v), SUM(CASE k {worse} END), COUNT(*) "
        "FROM ends GROUP BY k, g"
    )
    found: dict[tuple[int, int], tuple[float, float, float]] = {
        (int(k), int(g)): (round(float(avg), 2), round(float(change), 2), float(n_worse)) for k, g, avg, change, n_worse, _ in rows
    }
    figures = []
    for i, score in enumerate(scores):
        groups = (PREVIOUS, TOTAL, *range(ctx.weeks))
        average = {g: found[(i, g)][0] if (i, g) in found else None for g in groups}
        change = {g: found[(i, g)][1] if (i, g) in found else None for g in groups}
        worsened = {g: found[(i, g)][2] if (i, g) in found else 0.0 for g in groups}
        key, label, w = f"wellbeing.{questionnaire.id}.{score.id}", f"{questionnaire.label} · {score.label}", ctx.weeks
        figures += [
            figure(f"{key}.average", f"{label}: average score", "score", average, w, score.higher_is_better),
            figure(f"{key}.change", f"{label}: average change", "score", change, w, score.higher_is_better),
            figure(f"{key}.worse", f"{label}: young people whose score got worse", "count", worsened, w, False),
        ]
    return figures


async def compute(ctx: Ctx) -> Group:
    """Summarise every score of every questionnaire (bar the listened-to question)."""
    figures: list[Figure] = []
    for questionnaire in questionnaires().values():
        if questionnaire.id != VOICE and questionnaire.scores:
            figures += await _questionnaire(ctx, questionnaire)
    return Group("wellbeing", "Wellbeing", tuple(figures))
