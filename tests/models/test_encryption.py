"""Encryption at rest: words never reach the database file or a dump; names are still findable; keys rotate."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from bot.cli import app as cli
from bot.rotation import reencrypt
from models import Message, YoungPerson, crypto
from models.crypto import KeyRing, new_data_key, read_key_file, write_key_file
from tests.conftest import Service
from tests.e2e.test_telegram_loop import invite_for
from tests.e2e.test_webchat_loop import join_webchat
from tests.fakes.botapi import FakeBotAPI

KAI_CHAT = 7123456789
SECRETS = ["Zephyrine Quackenbush", "my purple umbrella hides the spare key", "Ms Wigglesworth at 14 Larkspur Road"]


def database_bytes(url: str) -> bytes:
    """Everything the database holds, as bytes: the SQLite files, or a pg_dump of PostgreSQL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database)
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    env = {**os.environ, "PGPASSWORD": parsed.password or ""}
    dump = subprocess.run(
        ["pg_dump", "-h", parsed.host or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres",
         "--data-only", parsed.database],
        capture_output=True, check=True, env=env, timeout=60,
    )
    return dump.stdout


async def test_known_sentences_never_reach_the_database_in_plain_text(service: Service, fake_bot_api: FakeBotAPI) -> None:
    await service.staff("jo", "Jo")
    console = await service.login("jo")
    _, kai_code = await invite_for(console, "Kai Tester", "Kai")
    fake_bot_api.push_command(KAI_CHAT, "start", kai_code)  # a Telegram chat id is contact data too
    await fake_bot_api.wait_for_sent_async(KAI_CHAT, count=2, timeout=20)
    person_id, code = await invite_for(console, SECRETS[0], "Zeph")
    chat = await join_webchat(service, code)
    await service.client.post(f"{chat}/messages", data={"text": SECRETS[1]})
    await console.post(f"/young-people/{person_id}/messages", data={"body": "Reply about the umbrella"})
    await console.post(
        f"/young-people/{person_id}/safety-plan",
        data={"warning_signs": "", "things_that_help": "", "people_and_places": SECRETS[2], "who_to_call": ""},
    )
    await service.idle()
    page = await console.get(f"/young-people/{person_id}")
    assert SECRETS[1] in page.text  # the product itself reads them back

    stored = database_bytes(service.rt.settings.database_url)
    for sentence in [*SECRETS, "Reply about the umbrella", "Zeph", str(KAI_CHAT)]:
        assert sentence.encode() not in stored, f"{sentence!r} is stored in plain text"
        assert sentence.lower().encode() not in stored.lower()


def shown(html: str, name: str) -> bool:
    """Whether a name appears as a word of the page's text, between tags."""
    return re.search(rf">[^<]*\b{re.escape(name)}\b[^<]*<", html) is not None


async def test_a_young_person_is_found_by_name_without_decrypting_anyone(service: Service) -> None:
    jo = await service.staff("jo", "Jo")
    await service.young_person("Zoë O'Neil", jo, "Zo")
    await service.young_person("Tyler Brooks", jo, "Ty")
    console = await service.login("jo")
    found = await console.get("/young-people", params={"q": "zoe oneil"})
    # Names as shown in the page's text (not inside a random CSRF token, which may hold "Zo" by chance).
    assert shown(found.text, "Zo") and not shown(found.text, "Ty")
    assert "Tyler" not in found.text
    assert "Tyler" in (await console.get("/young-people", params={"q": "BROOKS"})).text
    nobody = await console.get("/young-people", params={"q": "nobody"})
    assert not shown(nobody.text, "Zo")


async def test_rotation_re_encrypts_everything_in_resumable_batches(service: Service) -> None:
    jo = await service.staff("jo", "Jo")
    for n in range(7):
        await service.young_person(f"Person Number{n}", jo)
    path = service.rt.settings.data_dir / "encryption.keys"
    old_keys, index = read_key_file(path)
    new = new_data_key()
    write_key_file(path, [new, *old_keys], index)
    ring = KeyRing.from_file(path)
    crypto.configure(ring)

    first = await reencrypt(service.rt.engine, ring, batch=3, max_batches=2)  # interrupted after two batches
    assert 0 < first.reencrypted <= 6
    rest = await reencrypt(service.rt.engine, ring, batch=3)  # run again: picks up where it stopped
    assert rest.reencrypted > 0 and rest.seen - rest.reencrypted == first.reencrypted
    again = await reencrypt(service.rt.engine, ring, batch=3)
    assert again.reencrypted == 0  # everything is on the new key now

    only_new = KeyRing([new], index)  # the old key can now be dropped
    crypto.configure(only_new)
    async with service.rt.db() as session:
        names = sorted((await session.scalars(select(YoungPerson.full_name))).all())
    assert names == [f"Person Number{n}" for n in range(7)]


def test_production_without_keys_stops_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("KEYWORKER_") and name != "KEYWORKER_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    env = {
        "KEYWORKER_ENVIRONMENT": "production",
        "KEYWORKER_SECRET_KEY": "p" * 40,
        "KEYWORKER_DATA_DIR": str(tmp_path),
        "KEYWORKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/k.db",
    }
    result = CliRunner().invoke(cli, ["migrate"], env=env)
    assert result.exit_code == 2
    assert result.output.startswith("Cannot start: KEYWORKER_ENCRYPTION_KEYS: no encryption key")
    bad = CliRunner().invoke(cli, ["migrate"], env={**env, "KEYWORKER_ENCRYPTION_KEYS": "not-a-key", "KEYWORKER_INDEX_KEY": "i" * 40})
    assert bad.exit_code == 2 and "not a valid Fernet key" in bad.output


async def test_messages_written_under_an_old_key_still_read_after_the_new_one_arrives(service: Service) -> None:
    jo = await service.staff("jo", "Jo")
    person = await service.young_person("Samira Haddad", jo, "Sam")
    path = service.rt.settings.data_dir / "encryption.keys"
    old_keys, index = read_key_file(path)
    write_key_file(path, [new_data_key(), *old_keys], index)
    crypto.configure(KeyRing.from_file(path))
    async with service.rt.db() as session:
        assert (await session.get(YoungPerson, person.id)).preferred_name == "Sam"
        assert (await session.scalars(select(Message))).all() == []
