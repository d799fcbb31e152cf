"""Jinja2 templates for the console and web chat, with the filters they share."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates

from bot.services.flag import LABELS

TEMPLATES = Path(__file__).with_name("templates")


def service_failing(request: Request) -> dict[str, dict[str, str]]:
    """Return what this process sees failing now (Telegram, the database), for the page's status line."""
    runtime = getattr(request.app.state, "runtime", None)
    return runtime.health.failing() if runtime is not None else {}


def build_templates(tz: ZoneInfo) -> Jinja2Templates:
    """Create the template environment with local-time filters."""
    templates = Jinja2Templates(directory=str(TEMPLATES))

    def local(moment: datetime | None, fmt: str = "%d %b %H:%M") -> str:
        return moment.astimezone(tz).strftime(fmt) if moment else ""

    def iso(moment: datetime | None) -> str:
        return moment.isoformat() if moment else ""

    templates.env.filters["local"] = local
    templates.env.filters["iso"] = iso
    templates.env.globals["flag_labels"] = LABELS
    templates.env.globals["service_failing"] = service_failing
    return templates
