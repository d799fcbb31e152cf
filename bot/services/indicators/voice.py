"""The young person's voice: answers to 'Did you feel listened to?' and good news shared."""

from __future__ import annotations

from bot.services.indicators.figures import Group, figure, ratio
from bot.services.indicators.sql import Ctx

LISTENED = "listened"  # the questionnaire id; its one answer is 2 = yes, 1 = a bit, 0 = no


async def compute(ctx: Ctx) -> Group:
    """Count how young people answered the listened-to question, and the good news they shared."""
    answers, yes, a_bit, no = await ctx.by_group_many(ctx.counts(
        ("COUNT(*)", "SUM(CASE WHEN a.value = 2 THEN 1 ELSE 0 END)", "SUM(CASE WHEN a.value = 1 THEN 1 ELSE 0 END)",
         "SUM(CASE WHEN a.value = 0 THEN 1 ELSE 0 END)"),
        "wellbeing_answers a JOIN wellbeing_responses r ON r.id = a.response_id", "a.answered_at", "r.young_person_id",
        f"r.questionnaire = '{LISTENED}' AND a.value IS NOT NULL AND a.skipped = {ctx.false}",
    ), 4)
    news = await ctx.by_group(ctx.counts(("COUNT(*)",), "checkins c", "c.answered_at", "c.young_person_id", "c.answer = 'good_news'"))
    w = ctx.weeks
    return Group("voice", "Young person's voice", (
        figure("voice.listened_answers", "Answered 'Did you feel listened to?'", "count", answers, w),
        figure("voice.listened_yes", "Said yes", "count", yes, w, True),
        figure("voice.listened_a_bit", "Said a bit", "count", a_bit, w),
        figure("voice.listened_no", "Said no", "count", no, w, False),
        figure("voice.listened_yes_share", "Felt listened to (yes)", "percent", ratio(yes, answers), w, True),
        figure("voice.good_news", "Good news shared", "count", news, w, True),
    ))
