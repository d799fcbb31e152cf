"""The running service's parts, shared by the channels, the handlers and the console."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.channels.base import Channel
from bot.clock import Clock
from bot.content import Content
from bot.events import EventBus
from bot.health import Health
from bot.lifeline import Lifeline
from bot.metrics import Metrics
from bot.outbox import Outbox
from config.settings import Settings

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramChannel
    from bot.scheduler import Scheduler
    from bot.services.risk import RiskChecker


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    db: async_sessionmaker[AsyncSession]
    clock: Clock
    content: Content
    events: EventBus
    risk: RiskChecker
    outbox: Outbox
    channels: dict[str, Channel] = field(default_factory=dict)
    telegram: TelegramChannel | None = None
    scheduler: Scheduler | None = None
    health: Health = field(default_factory=Health)
    lifeline: Lifeline = field(default_factory=Lifeline)
    metrics: Metrics = field(default_factory=Metrics)

    def now(self) -> datetime:
        return self.clock.now()

    @property
    def bot_username(self) -> str | None:
        return self.telegram.username if self.telegram else None
