"""The keyworker command line: serve, demo, migrate, staff and young-person accounts, data rights."""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import datetime, timedelta
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
import uvicorn

from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import SystemClock
from bot.keys import load_keyring
from config.settings import Settings, SettingsError, load_settings
from models import crypto
from models import StaffRole
from models.db import create_engine, create_sessionmaker
from models.migrate import upgrade

app = typer.Typer(help="Keyworker: keeps young people in touch with their key worker.", no_args_is_help=True)
staff_app = typer.Typer(help="Staff accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys.", no_args_is_help=True)
youth_app = typer.Typer(help="Young people.", no_args_is_help=True)
app.add_typer(staff_app, name="staff")
app.add_typer(youth_app, name="youth")
app.add_typer(keys_app, name="keys")
T = TypeVar("T")


def _settings() -> Settings:
    try:
        settings = load_settings()
        settings.resolved_secret_key()
        crypto.configure(load_keyring(settings))
        return settings
    except SettingsError as exc:
        typer.echo(f"Cannot start: {exc}", err=True)
        raise typer.Exit(2) from None


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # httpx logs every request line, which carries the bot token in its URL; python-telegram-bot
    # logs raw updates (a young person's words) when one cannot be parsed. Neither goes in our logs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.ERROR)
    logging.getLogger("telegram.Bot").setLevel(logging.CRITICAL + 1)


def _in_session(
    settings: Settings, work: Callable[[AsyncSession, datetime], Awaitable[T]], *expected: type[Exception]
) -> T:
    """Run one piece of work in a database session; an expected error is printed in one line and exits 1."""

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with create_sessionmaker(engine)() as session:
                return await work(session, SystemClock().now())
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except expected as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


@app.command()
def migrate() -> None:
    """Create or update the database schema."""
    settings = _settings()
    asyncio.run(upgrade(settings.database_url))
    typer.echo(f"Database is up to date ({_redacted(settings.database_url)}).")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Run the service: channels, scheduler and staff console in one process."""
    from bot.app import create_app

    settings = _settings()
    _logging()
    asyncio.run(upgrade(settings.database_url))
    typer.echo(f"Keyworker on http://{host}:{port} ({settings.mode})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info", proxy_headers=True)


@app.command()
def demo(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Seed demo data (first run only), print the logins and links, and serve."""
    from bot.app import create_app
    from bot.demo import seed_demo

    settings = _settings()
    if "public_url" not in settings.model_fields_set:
        settings.public_url = f"http://{host}:{port}"
    _logging()
    asyncio.run(upgrade(settings.database_url))
    summary = asyncio.run(seed_demo(settings, SystemClock()))
    typer.echo(summary)
    uvicorn.run(create_app(settings), host=host, port=port, log_level="info")


@staff_app.command("add")
def staff_add(
    username: Annotated[str, typer.Option(help="Sign-in name, e.g. jo.smith")],
    name: Annotated[str, typer.Option(help="Name shown to young people, e.g. 'Jo'")],
    role: Annotated[StaffRole, typer.Option(help="key_worker, manager or admin")] = StaffRole.KEY_WORKER,
) -> None:
    """Add a staff account and print its one-time password."""
    from bot.services.audit import do_audit
    from bot.services.staff import StaffError, do_create_staff

    async def work(session: AsyncSession, now: datetime) -> str:
        member, password = await do_create_staff(session, now, username=username, display_name=name, role=role)
        do_audit(session, now, "staff_added", target=f"staff:{member.id}", role=role.value, via="command line")
        await session.commit()
        return password

    password = _in_session(_settings(), work, StaffError)
    typer.echo(f"Added {username} ({role.value}). One-time password: {password}")
    typer.echo("They choose their own password when they first sign in.")


def _staff_action(username: str, action: str) -> str:
    """Run one change to a staff account by username and say what was done."""
    from bot.services.audit import do_audit
    from bot.services.staff import do_disable_staff, do_reset_second_factor, find_staff

    async def work(session: AsyncSession, now: datetime) -> str:
        staff = await find_staff(session, username)
        if staff is None:
            raise LookupError(f"No staff member with username {username!r}.")
        if action == "disable":
            ended = await do_disable_staff(session, now, staff)
            message = f"Disabled {staff.username}; ended {ended} session(s)."
        else:
            await do_reset_second_factor(session, now, staff)
            message = f"Reset two-step sign-in for {staff.username}; they set it up again at their next sign-in."
        do_audit(session, now, f"staff_{action}", target=f"staff:{staff.id}", via="command line")
        await session.commit()
        return message

    return _in_session(_settings(), work, LookupError)


@staff_app.command("disable")
def staff_disable(username: Annotated[str, typer.Option(help="Sign-in name")]) -> None:
    """Disable a staff account (someone left) and end all of its sessions at once."""
    typer.echo(_staff_action(username, "disable"))


@staff_app.command("reset-2fa")
def staff_reset_2fa(username: Annotated[str, typer.Option(help="Sign-in name")]) -> None:
    """Clear a staff member's two-step sign-in (lost phone); they enrol again at next sign-in."""
    typer.echo(_staff_action(username, "reset_2fa"))


@youth_app.command("add")
def youth_add(
    name: Annotated[str, typer.Option(help="Full name")],
    key_worker: Annotated[str, typer.Option("--key-worker", help="The key worker's username")],
    preferred: Annotated[str, typer.Option(help="What they like to be called")] = "",
) -> None:
    """Add a young person and print their invite: code, Telegram link and web-chat link."""
    from bot.services.invite import do_issue_invite
    from bot.services.staff import find_staff
    from bot.services.young_person import YoungPersonError, do_add_young_person

    settings = _settings()

    async def work(session: AsyncSession, now: datetime) -> tuple[str, str, str | None, str]:
        worker = await find_staff(session, key_worker)
        if worker is None:
            raise YoungPersonError(f"No staff member with username {key_worker!r}.")
        person = await do_add_young_person(session, now, full_name=name, preferred_name=preferred, key_worker=worker)
        invite = await do_issue_invite(
            session,
            now,
            person,
            ttl=timedelta(days=settings.invite_ttl_days),
            public_url=settings.public_url,
            bot_username=await _bot_username(settings),
            created_by_id=worker.id,
        )
        await session.commit()
        return invite.code, invite.webchat_url, invite.telegram_url, invite.expires_at.isoformat()

    code, webchat, telegram, expires = _in_session(settings, work, YoungPersonError)
    typer.echo(f"Invite code:   {code}")
    typer.echo(f"Telegram link: {telegram or '(Telegram is not configured)'}")
    typer.echo(f"Web chat link: {webchat}")
    typer.echo(f"Works once, until {expires}.")


YoungPersonId = Annotated[int, typer.Option("--id", help="The young person's number, as in the console address /young-people/<number>")]


@app.command("export-young-person")
def export_young_person(
    young_person_id: YoungPersonId,
    out: Annotated[Path, typer.Option(help="Folder to write the export into")] = Path("exports"),
    media: Annotated[bool, typer.Option("--media", help="Also write their photos, voice notes and files")] = False,
) -> None:
    """Write a subject access export of one young person: JSON plus a readable HTML page."""
    from bot.services.data_rights import build_export, do_record_export, write_export
    from models import YoungPerson

    settings = _settings()

    async def work(session: AsyncSession, now: datetime) -> list[Path]:
        if await session.get(YoungPerson, young_person_id) is None:
            raise LookupError(f"No young person with id {young_person_id}.")
        export, files = await build_export(session, now, young_person_id, with_media=media)
        written = write_export(export, files, out, settings.tz)
        do_record_export(session, now, young_person_id, via="command line", media=media)
        await session.commit()
        return written

    written = _in_session(settings, work, LookupError)
    extra = f" and {len(written) - 2} media file(s) in {written[2].parent}" if len(written) > 2 else ""
    typer.echo(f"Wrote {written[0]} and {written[1]}{extra}.")


@app.command("erase-young-person")
def erase_young_person(
    young_person_id: YoungPersonId,
    yes: Annotated[bool, typer.Option("--yes", help="Erase without asking to confirm")] = False,
) -> None:
    """Erase one young person now, as the retention policy in the configuration says."""
    from bot.services.data_rights import do_erase_young_person
    from models import YoungPerson

    settings = _settings()
    mode = settings.retention_erase

    def erase(confirmed: bool) -> Callable[[AsyncSession, datetime], Awaitable[tuple[bool, str]]]:
        async def work(session: AsyncSession, now: datetime) -> tuple[bool, str]:
            person = await session.get(YoungPerson, young_person_id)
            if person is None:
                raise LookupError(f"No young person with id {young_person_id}.")
            if person.erased_at is not None:
                return True, f"Young person {young_person_id} was already erased on {person.erased_at:%Y-%m-%d}."
            if not confirmed:
                return False, person.full_name  # for the question
            await do_erase_young_person(session, now, person, mode=mode, via="command line")
            await session.commit()
            kept = "counts and times kept, names and words removed" if mode == "anonymise" else "nothing kept"
            return True, f"Erased young person {young_person_id} ({mode}: {kept})."

        return work

    finished, answer = _in_session(settings, erase(yes), LookupError)
    if not finished:
        prompt = f"Erase young person {young_person_id} ({answer}) by {mode}? This cannot be undone."
        if not typer.confirm(prompt, default=False):
            typer.echo("Nothing was erased.", err=True)
            raise typer.Exit(1)
        finished, answer = _in_session(settings, erase(True), LookupError)
    typer.echo(answer)


async def _bot_username(settings: Settings) -> str | None:
    if settings.telegram_token is None:
        return None
    from telegram import Bot

    async with Bot(
        settings.telegram_token.get_secret_value(),
        base_url=f"{settings.telegram_api_url}/bot",
        base_file_url=f"{settings.telegram_api_url}/file/bot",
    ) as bot:
        return bot.username


@keys_app.command("new")
def keys_new() -> None:
    """Print a new encryption key (for deployments that keep keys in the environment)."""
    from models.crypto import new_data_key

    typer.echo(new_data_key())


@keys_app.command("rotate")
def keys_rotate(
    wait: Annotated[float, typer.Option(help="Seconds to let running services read the new key file.")] = 12.0,
    batch: Annotated[int, typer.Option(help="Rows per transaction.")] = 500,
) -> None:
    """Add a new key to the key file, make it the newest, and re-encrypt every row with it."""
    import time

    from models.crypto import new_data_key, read_key_file, write_key_file

    settings = _settings()
    if settings.encryption_keys is not None:
        typer.echo(
            "Cannot rotate: keys come from KEYWORKER_ENCRYPTION_KEYS. Put a new key (keyworker keys new) "
            "first in that list, restart the service, then run keyworker keys reencrypt.",
            err=True,
        )
        raise typer.Exit(1)
    path = settings.encryption_key_file or settings.data_dir / "encryption.keys"
    keys, index = read_key_file(path)
    new = new_data_key()
    # First the services learn the new key (so they can read what is re-encrypted), then it becomes the newest.
    write_key_file(path, [*keys, new], index)
    time.sleep(wait)
    write_key_file(path, [new, *keys], index)
    time.sleep(wait)
    typer.echo(f"New key added to {path}; re-encrypting.")
    keys_reencrypt(batch=batch)
    typer.echo("When every service has been running on the new key for a while, old keys can be removed from the file.")


@keys_app.command("reencrypt")
def keys_reencrypt(batch: Annotated[int, typer.Option(help="Rows per transaction.")] = 500) -> None:
    """Re-encrypt every value not yet under the newest key (safe to stop and run again)."""
    from rich.progress import Progress

    from bot.rotation import count_rows, reencrypt

    settings = _settings()

    async def run() -> tuple[int, int]:
        engine = create_engine(settings.database_url)
        try:
            total = await count_rows(engine)
            with Progress() as bar:
                task = bar.add_task("Re-encrypting", total=total)
                report = await reencrypt(
                    engine, crypto.ring(), batch=batch, progress=lambda _name, n: bar.advance(task, n)
                )
            return report.seen, report.reencrypted
        finally:
            await engine.dispose()

    seen, changed = asyncio.run(run())
    typer.echo(f"Looked at {seen} values; re-encrypted {changed}; the rest already used the newest key.")


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def main() -> None:
    """Entry point of the keyworker console script."""
    try:
        app()
    except SettingsError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        sys.exit(2)
