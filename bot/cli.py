"""The ``concierge`` command: run the bot, migrate the database, manage staff, print room cards."""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from telegram.error import InvalidToken, NetworkError, TelegramError

from bot import intake, outbox
from bot.config import ConfigError, HotelConfig, load_hotel_config
from bot.db import DatabaseError, lock_single_instance, make_engine, session_factory, upgrade
from bot.models import Role
from bot.notifier import Outbox
from bot.services import errors
from bot.services import staff as staff_service
from bot.services.actors import find_staff
from bot.settings import DatabaseSettings, Settings

EXIT_CONFIG = 2  # bad or missing configuration: token, hotel config, database URL
EXIT_UNREACHABLE = 3  # a service the bot needs cannot be reached: database or Telegram

app = typer.Typer(
    help="Concierge: a Telegram bot for hotel guest requests.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
staff_app = typer.Typer(help="Register staff and supervisors.", no_args_is_help=True)
config_app = typer.Typer(help="Hotel configuration.", no_args_is_help=True)
guests_app = typer.Typer(help="Guests' stays.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(guests_app, name="guests")
app.add_typer(staff_app, name="staff")
app.add_typer(config_app, name="config")

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", help="Hotel config (TOML); default $CONCIERGE_CONFIG or the example."),
]


def fail(message: str, code: int = EXIT_CONFIG) -> NoReturn:
    """Print a one-line error and exit."""
    typer.echo("error: " + message, err=True)
    raise typer.Exit(code)


def _hotel(path: Path) -> HotelConfig:
    try:
        return load_hotel_config(path)
    except ConfigError as exc:
        fail(str(exc))


def _setting_error(exc: ValidationError) -> NoReturn:
    error = exc.errors()[0]
    name = str(error["loc"][0]) if error["loc"] else "setting"
    if error["type"] == "missing":
        if name == "TELEGRAM_BOT_TOKEN":
            fail("TELEGRAM_BOT_TOKEN is not set; create a bot with @BotFather and export its token")
        fail(f"{name} is not set")
    fail("{}: {}".format(name, error["msg"]))


def _database(url: str) -> Engine:
    try:
        engine = make_engine(url)
    except DatabaseError as exc:
        fail(str(exc))
    _migrate(engine)
    return engine


def _migrate(engine: Engine) -> None:
    try:
        upgrade(engine)
    except DatabaseError as exc:
        fail(str(exc), EXIT_UNREACHABLE if "cannot reach" in str(exc) else EXIT_CONFIG)


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # httpx logs every request URL, and the URL carries the bot token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


def _now() -> datetime:
    return datetime.now(UTC)


@app.command()
def run(
    config: ConfigOption = None,
    webhook: Annotated[
        bool,
        typer.Option(
            "--webhook",
            help="Receive updates on WEBHOOK_LISTEN for WEBHOOK_URL instead of long polling.",
        ),
    ] = False,
) -> None:
    """Run the bot (migrates the database first): long polling, or a webhook with --webhook."""
    from bot.app import build_application, check_telegram, serve

    try:
        settings = Settings()
    except ValidationError as exc:
        _setting_error(exc)
    if webhook and (problem := settings.webhook_problem()):
        fail(problem)
    hotel = _hotel(config or settings.config_path)
    try:
        engine = make_engine(settings.database_url)
        lock = lock_single_instance(engine)  # before migrating: a second instance changes nothing
    except DatabaseError as exc:
        fail(str(exc))
    _migrate(engine)
    if lock is not None:
        # This process holds the SQLite lock, so every lease in the database belongs to a
        # killed predecessor: its updates and messages go on now, not when the leases end.
        with session_factory(engine)() as session:
            intake.release_all(session)
            outbox.release_all(session)
            session.commit()
    try:
        username = asyncio.run(check_telegram(settings))
        _configure_logging(settings.log_level)
        logging.getLogger("bot").info("connected to Telegram as @%s", username)
        asyncio.run(serve(build_application(settings, hotel, engine), settings, webhook=webhook))
    except InvalidToken:
        fail("Telegram rejected TELEGRAM_BOT_TOKEN; check the token from @BotFather")
    except NetworkError as exc:
        fail(
            f"cannot reach the Telegram Bot API at {settings.telegram_base_url}: {exc}",
            EXIT_UNREACHABLE,
        )
    except TelegramError as exc:
        fail(f"Telegram refused to start the bot: {exc}", EXIT_UNREACHABLE)
    except OSError as exc:
        fail(f"cannot listen on {settings.webhook_listen}: {exc.strerror}", EXIT_UNREACHABLE)
    finally:
        if lock is not None:
            lock.close()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database to the newest schema."""
    settings = DatabaseSettings()
    _database(settings.database_url)
    typer.echo("database is up to date")


@config_app.command("check")
def config_check(config: ConfigOption = None) -> None:
    """Validate the hotel config and summarise it."""
    path = config or DatabaseSettings().config_path
    hotel = _hotel(path)
    typer.echo(f"{path}: OK — {hotel.hotel.name}, {hotel.hotel.timezone}")
    for department in hotel.departments:
        typer.echo(
            "  {}: {}".format(department.key, department.name(hotel.hotel.default_language, "en"))
        )


@staff_app.command("add")
def staff_add(
    telegram_id: Annotated[
        int, typer.Option("--telegram-id", help="The person's numeric Telegram user id.")
    ],
    name: Annotated[str, typer.Option("--name", help="First name shown to guests and colleagues.")],
    department: Annotated[
        str, typer.Option("--department", help="A department key from the hotel config.")
    ],
    role: Annotated[Role, typer.Option("--role", help="staff or supervisor.")] = Role.STAFF,
    language: Annotated[
        str | None, typer.Option("--language", help="Language code; default the hotel's.")
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Register a staff member or supervisor (or update an existing one)."""
    settings = DatabaseSettings()
    hotel = _hotel(config or settings.config_path)
    engine = _database(settings.database_url)
    told = Outbox()
    with session_factory(engine)() as session:
        try:
            result = staff_service.add(
                session,
                hotel,
                telegram_id=telegram_id,
                name=name,
                department=department,
                role=role,
                language=language,
                now=_now(),
                out=told,
            )
        except errors.UnknownDepartment as exc:
            fail("unknown department {!r}; valid keys: {}".format(exc.key, ", ".join(exc.valid)))
        except ValueError as exc:
            fail(str(exc))
        outbox.enqueue(session, told.messages, _now())  # the running bot's sender delivers it
        session.commit()
        member = result.staff
        typer.echo(
            "{} {} ({}, {}, {}, telegram id {}); they start off duty — /duty on in the bot".format(
                "registered" if result.created else "updated",
                member.name,
                member.department,
                member.role,
                member.language,
                member.telegram_id,
            )
        )
        if told.messages:
            typer.echo("they were told in the bot that they are registered")


@staff_app.command("list")
def staff_list() -> None:
    """List registered staff."""
    settings = DatabaseSettings()
    engine = _database(settings.database_url)
    with session_factory(engine)() as session:
        members = staff_service.listing(session)
    if not members:
        typer.echo("no staff registered; add some with: concierge staff add --help")
        return
    typer.echo(
        "{:<14} {:<20} {:<16} {:<11} {:<5} {}".format(
            "telegram id", "name", "department", "role", "lang", "duty"
        )
    )
    for m in members:
        typer.echo(
            "{:<14} {:<20} {:<16} {:<11} {:<5} {}".format(
                m.telegram_id,
                m.name,
                m.department,
                m.role,
                m.language,
                "on" if m.on_duty else "off",
            )
        )


@staff_app.command("remove")
def staff_remove(
    telegram_id: Annotated[
        int, typer.Option("--telegram-id", help="The person's numeric Telegram user id.")
    ],
    config: ConfigOption = None,
) -> None:
    """Remove a staff member; their accepted requests go back to the queue."""
    from bot import outbox
    from bot.i18n import I18n
    from bot.notifier import Outbox
    from bot.services.common import Env

    settings = DatabaseSettings()
    hotel = _hotel(config or settings.config_path)
    env = Env(hotel=hotel, i18n=I18n(hotel.hotel.default_language, hotel.hotel.languages))
    engine = _database(settings.database_url)
    with session_factory(engine)() as session:
        out, now = Outbox(), _now()
        try:
            found = find_staff(session, telegram_id)
            member = staff_service.remove(
                session, out, env, staff_id=found.id if found else None, now=now
            )
        except errors.NotRegistered:
            fail(f"no active staff member with telegram id {telegram_id}")
        outbox.enqueue(session, out.messages, now)  # their cards, edited by the running bot
        session.commit()
    typer.echo(f"removed {member.name} ({member.department})")


@guests_app.command("checkout")
def guests_checkout(
    room: Annotated[str, typer.Option("--room", help="The room whose guests have left.")],
) -> None:
    """End the stay of the guests in a room now: the bot forgets the room and asks again."""
    from bot.services import rooms

    settings = DatabaseSettings()
    engine = _database(settings.database_url)
    with session_factory(engine)() as session:
        count = rooms.checkout(session, room=room, now=_now())
        session.commit()
    typer.echo(
        "checked out {} guest{} from room {}".format(count, "" if count == 1 else "s", room.strip())
    )


@app.command()
def purge(
    older_than: Annotated[
        int | None,
        typer.Option(
            "--older-than",
            min=1,
            help="Days; default the hotel config's limits.retention_days.",
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Anonymize guest data of requests closed more than DAYS ago."""
    from bot.i18n import I18n
    from bot.services.common import Env
    from bot.services.privacy import purge as purge_data

    settings = DatabaseSettings()
    hotel = _hotel(config or settings.config_path)
    days = older_than or hotel.limits.retention_days
    engine = _database(settings.database_url)
    env = Env(hotel=hotel, i18n=I18n(hotel.hotel.default_language, hotel.hotel.languages))
    with session_factory(engine)() as session:
        result = purge_data(session, env, older_than_days=days, now=_now())
        session.commit()
    typer.echo(
        f"anonymized {result.requests} requests and {result.guests} guests older than {days} days; "
        f"deleted {result.updates} stored updates, {result.messages} delivered messages "
        f"and {result.timers} finished timers"
    )


BOT_USERNAME = re.compile(r"@?[A-Za-z0-9_]{5,32}")


@app.command()
def qr(
    rooms: Annotated[
        str,
        typer.Option(
            "--rooms",
            help="Rooms and ranges, e.g. 101-120,201-220,12A (checked against the config).",
        ),
    ],
    out: Annotated[Path, typer.Option("--out", help="The PDF to write, e.g. rooms.pdf.")],
    bot_username: Annotated[
        str | None,
        typer.Option(
            "--bot-username", help="The bot's @username; default: asked from Telegram (getMe)."
        ),
    ] = None,
    config: ConfigOption = None,
) -> None:
    """Print one card per room with a QR code of its signed deep link (an A6 page each)."""
    from bot import roomcards
    from bot.i18n import I18n

    try:
        settings = Settings()
    except ValidationError as exc:
        if any(
            e["type"] == "missing" and e["loc"] == ("TELEGRAM_BOT_TOKEN",) for e in exc.errors()
        ):
            fail("TELEGRAM_BOT_TOKEN is not set; room links are signed with a key derived from it")
        _setting_error(exc)
    hotel = _hotel(config or settings.config_path)
    try:
        chosen = roomcards.parse_rooms(rooms, hotel.room_regex)
    except roomcards.RoomListError as exc:
        fail(f"--rooms: {exc}")
    if bot_username is not None and not BOT_USERNAME.fullmatch(bot_username):
        fail(f"--bot-username {bot_username!r} is not a Telegram username (5-32 of A-Z a-z 0-9 _)")
    username = bot_username or _bot_username(settings)
    try:
        cards = roomcards.cards(chosen, bot_username=username, key=settings.room_link_key)
    except ValueError as exc:
        fail(f"--rooms: {exc}")
    i18n = I18n(hotel.hotel.default_language, hotel.hotel.languages)
    try:
        out.write_bytes(roomcards.render(cards, hotel, i18n))
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    typer.echo(
        "wrote {} room card{} to {} (links to @{})".format(
            len(cards), "" if len(cards) == 1 else "s", out, username.removeprefix("@")
        )
    )


PeriodOption = Annotated[
    str | None,
    typer.Option(
        "--period",
        help="month (default), week, today, yesterday, YYYY-MM or YYYY-MM-DD, in the hotel's zone.",
    ),
]
LanguageOption = Annotated[
    str | None,
    typer.Option("--language", help="The reader's language code; default the hotel's."),
]


def _reader(hotel: HotelConfig, language: str | None) -> str:
    code = language or hotel.hotel.default_language
    if code not in hotel.hotel.languages:
        fail(
            "unknown language {!r}; the hotel offers: {}".format(
                code, ", ".join(hotel.hotel.languages)
            )
        )
    return code


@app.command()
def report(
    period: PeriodOption = None,
    chart: Annotated[
        Path | None, typer.Option("--chart", help="Also write the period's chart as a PNG here.")
    ] = None,
    language: LanguageOption = None,
    config: ConfigOption = None,
) -> None:
    """Print a period's figures as /report shows them; optionally write its chart."""
    from bot import exports
    from bot.i18n import I18n
    from bot.services.common import Env
    from bot.services.reports import BadPeriod, period_label, read_only

    settings = DatabaseSettings()
    hotel = _hotel(config or settings.config_path)
    code = _reader(hotel, language)
    env = Env(hotel=hotel, i18n=I18n(hotel.hotel.default_language, hotel.hotel.languages))
    try:
        chosen = exports.period_of(env, period, _now())
    except BadPeriod as exc:
        fail(f"--period {exc}: use month, week, today, yesterday, YYYY-MM or YYYY-MM-DD")
    engine = _database(settings.database_url)
    sessions = session_factory(engine)
    text = read_only(sessions, lambda s: exports.report_text(s, env, period=chosen, language=code))
    typer.echo(text)
    if chart is not None:
        from bot import charts

        title = period_label(env.t(code), chosen)
        image = read_only(
            sessions,
            lambda s: charts.period_chart(s, env, period=chosen, title=title, language=code),
        )
        try:
            chart.write_bytes(image)
        except OSError as exc:
            fail(f"cannot write {chart}: {exc.strerror}")
        typer.echo(f"wrote the chart to {chart}", err=True)


@app.command()
def export(
    out: Annotated[
        Path, typer.Option("--out", help="The file to write: a .zip of CSV files, or a .xlsx.")
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="csv (a zip with one CSV file per table) or xlsx (a sheet each)."
        ),
    ] = "xlsx",
    period: PeriodOption = None,
    language: LanguageOption = None,
    config: ConfigOption = None,
) -> None:
    """Write a period's requests, timelines and follow-ups as CSV or XLSX."""
    from bot import exports
    from bot.i18n import I18n
    from bot.services.common import Env
    from bot.services.reports import BadPeriod, read_only

    try:
        chosen = exports.Format(fmt.strip().lower())
    except ValueError:
        fail(f"--format {fmt!r}: use csv or xlsx")
    settings = DatabaseSettings()
    hotel = _hotel(config or settings.config_path)
    code = _reader(hotel, language)
    env = Env(hotel=hotel, i18n=I18n(hotel.hotel.default_language, hotel.hotel.languages))
    try:
        scope = exports.scope(env, period_spec=period, language=code, now=_now())
    except BadPeriod as exc:
        fail(f"--period {exc}: use month, week, today, yesterday, YYYY-MM or YYYY-MM-DD")
    engine = _database(settings.database_url)
    try:
        target = out.open("wb")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror}")
    with target:
        counts = read_only(
            session_factory(engine), lambda s: exports.export(s, scope, chosen, target)
        )
    typer.echo(
        "wrote {} to {}".format(", ".join(f"{rows} {key}" for key, rows in counts.items()), out)
    )


def _bot_username(settings: Settings) -> str:
    """The bot's username as Telegram's getMe gives it."""
    from bot.app import check_telegram

    try:
        return asyncio.run(check_telegram(settings))
    except InvalidToken:
        fail("Telegram rejected TELEGRAM_BOT_TOKEN; check the token from @BotFather")
    except NetworkError as exc:
        fail(
            f"cannot reach the Telegram Bot API at {settings.telegram_base_url} to ask the bot's "
            f"username ({exc}); give it with --bot-username",
            EXIT_UNREACHABLE,
        )
    except TelegramError as exc:
        fail(f"Telegram refused getMe: {exc}", EXIT_UNREACHABLE)


def main() -> None:
    """Entry point of the ``concierge`` console script."""
    app()
