"""Every kind of scheduled job and the function that runs it: one table, read by the scheduler."""

from __future__ import annotations

from bot.scheduler import JobHandler

JOB_HANDLERS: dict[str, JobHandler] = {}
