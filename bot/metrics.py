"""Prometheus figures for one process: messages in and out, latency, queue depth, open alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Alert, DeliveryStatus, Job, JobState, Message, UndeliveredUpdate

# Seconds: an inbound update is committed in milliseconds; a delivery may wait out a 429.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    """Counters kept in memory by this process; queue depths read from the database when scraped."""

    def __init__(self) -> None:
        # A registry per app, so two services in one test process never share a counter.
        self.registry = CollectorRegistry()
        self.received = Counter(
            "keyworker_messages_received", "Inbound messages stored, by channel", ["channel"], registry=self.registry
        )
        self.delivered = Counter(
            "keyworker_messages_delivered",
            "Outbound messages whose delivery ended, by channel and outcome (sent, failed, unreachable)",
            ["channel", "status"],
            registry=self.registry,
        )
        self.inbound_seconds = Histogram(
            "keyworker_inbound_seconds",
            "Time to store, check and answer one inbound event (one transaction)",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.delivery_seconds = Histogram(
            "keyworker_delivery_seconds",
            "Time from the outbox taking a message to its outcome being recorded, retries included",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.retries = Counter(
            "keyworker_delivery_retries", "Delivery attempts retried, by reason", ["reason"], registry=self.registry
        )
        self.outbox_pending = Gauge(
            "keyworker_outbox_pending", "Messages stored and waiting to be delivered (all processes)", registry=self.registry
        )
        self.jobs_due = Gauge(
            "keyworker_jobs_due", "Scheduled jobs due now and not yet claimed (all processes)", registry=self.registry
        )
        self.jobs_running = Gauge(
            "keyworker_jobs_running", "Scheduled jobs claimed and running (all processes)", registry=self.registry
        )
        self.alerts_open = Gauge(
            "keyworker_alerts_open", "Safeguarding alerts not yet closed", registry=self.registry
        )
        self.alerts_unacknowledged = Gauge(
            "keyworker_alerts_unacknowledged", "Safeguarding alerts nobody has picked up yet", registry=self.registry
        )
        self.updates_kept_aside = Gauge(
            "keyworker_updates_kept_aside",
            "Inbound updates that kept failing, kept aside and not yet handled by a person (all processes)",
            registry=self.registry,
        )
        self.live_listeners = Gauge(
            "keyworker_live_listeners", "Console pages and web chats listening for live updates here", registry=self.registry
        )
        self.database_up = Gauge(
            "keyworker_database_up", "1 when the database answered the last scrape, else 0", registry=self.registry
        )

    async def refresh(self, session: AsyncSession, now: datetime) -> None:
        """Read the queue depths and open alerts from the database, in one statement (one round trip a scrape)."""

        def count(model: Any, *where: Any) -> Any:
            return select(func.count()).select_from(model).where(*where).scalar_subquery()

        row = (await session.execute(select(
            count(Message, Message.delivery_status == DeliveryStatus.PENDING),
            count(Job, Job.state == JobState.PENDING, Job.due_at <= now),
            count(Job, Job.state == JobState.RUNNING),
            count(Alert, Alert.closed_at.is_(None)),
            count(Alert, Alert.closed_at.is_(None), Alert.acknowledged_at.is_(None)),
            count(UndeliveredUpdate, UndeliveredUpdate.resolved_at.is_(None)),
        ))).one()
        gauges = (
            self.outbox_pending, self.jobs_due, self.jobs_running, self.alerts_open, self.alerts_unacknowledged,
            self.updates_kept_aside,
        )
        for gauge, value in zip(gauges, row, strict=True):
            gauge.set(value or 0)

    def render(self) -> bytes:
        """Return every figure in the Prometheus text format."""
        return generate_latest(self.registry)
