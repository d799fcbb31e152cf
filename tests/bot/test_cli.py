"""The keyworker command line: migrate, staff add, youth add, and clear errors."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()


@pytest.fixture
def env(database_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:  # type: ignore[no-untyped-def]
    for name in list(__import__("os").environ):
        if name.startswith("KEYWORKER_") and name != "KEYWORKER_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    return {"KEYWORKER_DATABASE_URL": database_url, "KEYWORKER_DATA_DIR": str(tmp_path)}


def test_staff_and_young_person_from_the_command_line(env: dict[str, str]) -> None:
    migrated = runner.invoke(app, ["migrate"], env=env)
    assert migrated.exit_code == 0, migrated.output
    assert "up to date" in migrated.output

    added = runner.invoke(app, ["staff", "add", "--username", "jo", "--name", "Jo", "--role", "key_worker"], env=env)
    assert added.exit_code == 0, added.output
    assert re.search(r"One-time password: \S{12,}", added.output)

    duplicate = runner.invoke(app, ["staff", "add", "--username", "jo", "--name", "Jo again"], env=env)
    assert duplicate.exit_code == 1 and "already taken" in duplicate.output

    youth = runner.invoke(app, ["youth", "add", "--name", "Samira Haddad", "--key-worker", "jo"], env=env)
    assert youth.exit_code == 0, youth.output
    assert re.search(r"Invite code:\s+i\S{20,}", youth.output)
    assert "Web chat link: http://127.0.0.1:8000/c/i" in youth.output
    assert "Telegram is not configured" in youth.output

    nobody = runner.invoke(app, ["youth", "add", "--name", "X", "--key-worker", "nobody"], env=env)
    assert nobody.exit_code == 1 and "No staff member with username 'nobody'" in nobody.output


def test_bad_setting_stops_with_one_line(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["migrate"], env={**env, "KEYWORKER_TIMEZONE": "Nowhere/Land"})
    assert result.exit_code == 2
    assert result.output.strip() == "Cannot start: KEYWORKER_TIMEZONE: unknown time zone 'Nowhere/Land'"


def test_bad_role_is_refused(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["staff", "add", "--username", "x", "--name", "X", "--role", "boss"], env=env)
    assert result.exit_code == 2 and "boss" in result.output
