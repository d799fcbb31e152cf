"""/metrics for Prometheus: messages in and out, queue depth and open alerts, behind an optional token."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from config.settings import Settings
from tests.conftest import Service
from tests.e2e.test_bot_api_faults import figure
from tests.e2e.test_webchat_loop import join_webchat
from tests.e2e.test_telegram_loop import invite_for

TOKEN = "scraper-token-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})


async def test_metrics_count_messages_alerts_and_queues_for_a_scraper_with_the_token(service: Service) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    _, code = await invite_for(console, "Samira Haddad", "Sam")
    chat = await join_webchat(service, code)
    await service.client.post(f"{chat}/messages", data={"text": "i want to die"})  # raises an alert
    await service.idle()

    assert (await service.client.get("/metrics")).status_code == 401
    assert (await service.client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status_code == 401
    response = await service.client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    figures = response.text
    assert figure(figures, 'keyworker_messages_received_total{channel="webchat"}') == 1
    assert figure(figures, 'keyworker_messages_delivered_total{channel="webchat",status="sent"}') >= 2
    assert figure(figures, "keyworker_alerts_open") == 1
    assert figure(figures, "keyworker_alerts_unacknowledged") == 1
    assert figure(figures, "keyworker_outbox_pending") == 0
    assert figure(figures, "keyworker_database_up") == 1
    assert figure(figures, "keyworker_inbound_seconds_count") >= 2  # the join (/start) and the message
    assert "i want to die" not in figures and "Sam" not in figures
