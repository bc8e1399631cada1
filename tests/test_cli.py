"""The ``concierge`` command: staff management and one-line start-up errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app
from tests.command import concierge, staff_add
from tests.conftest import TEST_HOTEL

runner = CliRunner()


def invoke(args: list[str], db_url: str, **extra: str) -> tuple[int, str]:
    env = {"DATABASE_URL": db_url, "CONCIERGE_CONFIG": str(TEST_HOTEL), **extra}
    result = runner.invoke(app, args, env=env)
    return result.exit_code, result.output


def test_staff_add_list_remove(engine: object, db_url: str) -> None:
    code, out = invoke(staff_add(1001, "Maria", "housekeeping", language="it"), db_url)
    assert code == 0, out
    assert out.startswith("registered Maria (housekeeping, staff, it, telegram id 1001)")
    code, out = invoke(staff_add(1009, "Sofia", "front_desk", role="supervisor"), db_url)
    assert code == 0, out
    code, out = invoke(["staff", "list"], db_url)
    assert code == 0
    rows = out.splitlines()[1:]
    assert rows[0].split() == ["1009", "Sofia", "front_desk", "supervisor", "en", "off"]
    assert rows[1].split() == ["1001", "Maria", "housekeeping", "staff", "it", "off"]
    code, out = invoke(["staff", "remove", "--telegram-id", "1001"], db_url)
    assert (code, out.strip()) == (0, "removed Maria (housekeeping)")
    code, out = invoke(["staff", "remove", "--telegram-id", "1001"], db_url)
    assert code == 2 and "no active staff member with telegram id 1001" in out


def test_staff_add_refuses_unknown_department_with_valid_keys(engine: object, db_url: str) -> None:
    code, out = invoke(staff_add(1, "X", "spa"), db_url)
    assert code == 2
    assert (
        out.strip()
        == "error: unknown department 'spa'; valid keys: front_desk, housekeeping, maintenance"
    )


def test_staff_add_refuses_language_the_hotel_does_not_offer(engine: object, db_url: str) -> None:
    code, out = invoke(staff_add(1, "X", "front_desk", language="ja"), db_url)
    assert code == 2 and "language 'ja' is not offered" in out


def test_every_subcommand_has_help() -> None:
    for args in (
        ["--help"],
        ["run", "--help"],
        ["db", "upgrade", "--help"],
        ["staff", "add", "--help"],
        ["staff", "list", "--help"],
        ["staff", "remove", "--help"],
        ["config", "check", "--help"],
        ["guests", "checkout", "--help"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, args
        assert "Usage:" in result.output


def run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Start ``concierge run`` as a real process and let it fail."""
    environ = {
        k: v
        for k, v in os.environ.items()
        if k not in ("TELEGRAM_BOT_TOKEN", "DATABASE_URL", "CONCIERGE_CONFIG")
    }
    environ.update(env)
    return concierge(["run"], env=environ, cwd=tmp_path)


def test_run_without_token_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_bot(tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "error: TELEGRAM_BOT_TOKEN is not set; create a bot with @BotFather and export its token"
    )


def test_run_with_bad_config_names_the_key(tmp_path: Path) -> None:
    bad = tmp_path / "hotel.toml"
    bad.write_text(
        TEST_HOTEL.read_text(encoding="utf-8").replace("Europe/Rome", "Europe/Atlantis"),
        encoding="utf-8",
    )
    result = run_bot(tmp_path, TELEGRAM_BOT_TOKEN="1:x", CONCIERGE_CONFIG=str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"error: {bad}: hotel.timezone: unknown time zone 'Europe/Atlantis' (use an IANA name such as Europe/Rome)"
    ]


@pytest.mark.parametrize(
    ("url", "code", "message"),
    [
        (
            "postgresql+psycopg://nobody@127.0.0.1:9/none",
            3,
            "error: cannot reach the database at postgresql+psycopg://nobody@127.0.0.1:9/none: ",
        ),
        ("nonsense", 2, "error: DATABASE_URL is not a valid database URL: 'nonsense'"),
    ],
)
def test_run_with_unusable_database_is_a_one_line_error(
    tmp_path: Path, url: str, code: int, message: str
) -> None:
    result = run_bot(
        tmp_path, TELEGRAM_BOT_TOKEN="1:x", DATABASE_URL=url, CONCIERGE_CONFIG=str(TEST_HOTEL)
    )
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message)
