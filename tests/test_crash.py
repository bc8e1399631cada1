"""Crash tests, short form: the real bot is SIGKILLed five times while guests and staff use it.

``tests/crash.py`` does the work (see its docstring); these run it on the suite's database: one
instance with long polling, and — on PostgreSQL only — two webhook instances behind a
round-robin load balancer. The ``engine`` fixture has migrated the database and emptied it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from tests.crash import Options, run

pytestmark = pytest.mark.crash

ON_POSTGRESQL = os.environ.get("TEST_DATABASE_URL", "").startswith(("postgresql", "postgres:"))


def assert_nothing_lost(db_url: str, workdir: Path, instances: int) -> None:
    """Five kills over about ten seconds of traffic from five guests; the report must be clean."""
    report = run(
        Options(
            kills=5,
            instances=instances,
            database_url=db_url,
            seed=5,
            guests=5,
            requests_per_guest=2,
            kill_gap=(1.0, 2.5),
            settle_timeout=100.0,
            workdir=workdir,
            reset=False,
        )
    )
    print(report.render())
    assert report.ok, report.render()


def test_one_instance_loses_nothing_when_killed(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    assert_nothing_lost(db_url, tmp_path, instances=1)


@pytest.mark.skipif(
    not ON_POSTGRESQL, reason="two instances need PostgreSQL: set TEST_DATABASE_URL to one"
)
def test_two_webhook_instances_lose_nothing_when_one_is_killed(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    assert_nothing_lost(db_url, tmp_path, instances=2)
