"""Wellbeing: average scores, the change over the period, and young people whose score got worse."""

from __future__ import annotations

from bot.services.indicators.figures import PREVIOUS, TOTAL, Figure, Group, figure
from bot.services.indicators.sql import Ctx
from bot.services.questionnaire import Questionnaire, questionnaires

VOICE = "listened"  # the 'Did you feel listened to?' question is reported under the young person's voice


async def _questionnaire(ctx: Ctx, questionnaire: Questionnaire) -> list[Figure]:
    """Summarise every score of one questionnaire in one query: window functions, no per-row lookups."""
    scores = questionnaire.scores
    # Each response is read (and its JSON parsed) once, one row per score in it.
    keys = [ctx.json_key(s.id) for s in scores]
    k = "CASE je.key " + " ".join(f"WHEN '{key}' THEN {i}" for i, key in enumerate(keys)) + " END"
    if ctx.dialect == "sqlite":
        pairs, number = "JOIN json_each(r.scores) AS je", "CAST(je.value AS REAL)"
    else:
        pairs, number = "CROSS JOIN LATERAL json_each_text(r.scores) AS je(key, value)", "CAST(je.value AS DOUBLE PRECISION)"
    each = (
        f"SELECT {k} AS k, r.young_person_id AS yp, r.completed_at AS t, r.id AS rid, {number} AS v "
        f"FROM wellbeing_responses r {pairs} WHERE r.questionnaire = '{questionnaire.id}' AND r.completed_at IS NOT NULL "
        f"AND r.completed_at < {ctx.ts(ctx.period.end)} AND je.key IN ({', '.join(repr(key) for key in keys)})"
    )
    # prev_v: the score before this one. For a young person's first score in a window, that is their
    # last score before the window (their baseline); with none, the first score is its own baseline.
    s = (
        f"s AS (SELECT k, yp, t, v, LAG(v) OVER (PARTITION BY k, yp ORDER BY t, rid) AS prev_v, rid "
        f"FROM ({each}) AS a WHERE v IS NOT NULL)"
    )
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
        f"{ctx.with_(s, x, ends)} SELECT k, g, SUM(total) / SUM(n), AVG(last_v - base_v), SUM(CASE k {worse} END), COUNT(*) "
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
