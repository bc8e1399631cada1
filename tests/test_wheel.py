"""The installed package: the wheel, in a fresh virtualenv, answers in every shipped language."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parent.parent
GREETING = "Welcome to {hotel}! I am the hotel's concierge."
# What the build needs; copied so that nothing left in the checkout (build/, a stale
# egg-info, compiled catalogs) can reach the wheel.
SOURCES = ("pyproject.toml", "README.md", "bot", "handlers", "locales")

# Run by the installed interpreter, from outside the source tree: the bot's own catalog
# loading, for a reader whose Telegram is set to German and for every shipped language.
PROBE = """
import json, sys
import bot, bot.i18n
i18n = bot.i18n.I18n("en")
german = i18n.translator(i18n.negotiate("de-DE"))
print(json.dumps({
    "package": bot.__file__,
    "catalogs": str(bot.i18n.LOCALES_DIR),
    "german": german.locale,
    "greetings": {code: i18n.translator(code).gettext(sys.argv[1]) for code in i18n.offered},
}))
"""


def _shipped(locale: str) -> str:
    path = ROOT / "locales" / locale / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as handle:
        message = read_po(handle, locale=locale).get(GREETING)
    assert message is not None, f"{locale} has no greeting"
    return str(message.string or GREETING)


def _run(*command: str | Path, cwd: Path) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_an_installed_wheel_greets_a_german_guest_in_german(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(
                ROOT / name, source / name, ignore=shutil.ignore_patterns("*.mo", "__pycache__")
            )
        else:
            shutil.copy2(ROOT / name, source / name)
    dist = tmp_path / "dist"
    pip = (sys.executable, "-m", "pip")
    _run(*pip, "wheel", "--no-deps", "--quiet", "-w", dist, source, cwd=tmp_path)
    [wheel] = dist.glob("concierge-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        catalogs = {n for n in archive.namelist() if n.startswith("bot/locales/")}
    assert catalogs == {f"bot/locales/{c}/LC_MESSAGES/{DOMAIN}.po" for c in SUPPORTED_LOCALES}

    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(*pip, "--python", python, "install", "--no-deps", "--quiet", wheel, cwd=tmp_path)
    # The dependencies are the ones this interpreter already has: a path entry after the new
    # environment's own packages (so its ``bot`` is the wheel's), not the editable install,
    # whose own .pth file is not read from there. What is checked is the wheel, not pip.
    site = Path(
        _run(
            python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp_path
        ).strip()
    )
    (site / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    found = json.loads(_run(python, "-c", PROBE, GREETING, cwd=elsewhere))
    assert found["german"] == "de"
    german = found["greetings"]["de"]
    assert german == _shipped("de") and german != GREETING
    assert found["greetings"] == {code: _shipped(code) for code in SUPPORTED_LOCALES}
    assert Path(found["package"]).is_relative_to(venv)
    assert Path(found["catalogs"]) == Path(found["package"]).parent / "locales"
    # The command works too, with the example config that ships in the package.
    assert ": OK — " in _run(venv / "bin" / "concierge", "config", "check", cwd=elsewhere)
