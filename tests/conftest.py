"""Shared fixtures: isolated settings and databases, and the real running stack.

Unit and API tests get a fresh SQLite database, copied from one migrated once per
session (and the same tests run against the machine's PostgreSQL when
`HOTLINE_TEST_POSTGRES_URL` is set, each database created from a migrated template). End-to-end
tests get the real app, Rasa server and action server on free ports in a
temporary data directory, stopped after the session whether tests pass or fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from scratch_db import scratch_database  # noqa: E402
from stack import ScaleOut, Stack, free_port  # noqa: E402

POSTGRES_URL = os.environ.get("HOTLINE_TEST_POSTGRES_URL", "")
# Tests never reach outside this machine: no speech-model download from the app or the stack.
os.environ["HOTLINE_VOSK_AUTO_DOWNLOAD"] = "false"


def _reset_caches() -> None:
    from api.db import get_engine
    from api.knowledge import entries
    from api.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()
    entries.forget_snapshot()


def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A throw-away database on the local PostgreSQL server: a copy of the migrated template, or empty
    (for a stack, which migrates its database as `make run` does)."""
    yield from scratch_database(POSTGRES_URL, prefix="hotline_test", template=template)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _admin_engine() -> Any:
    return create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://"), isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Migrate once per run (a SQLite file, a PostgreSQL template database); each test gets a fresh copy."""
    from api.migrate import upgrade

    sqlite_file = tmp_path_factory.mktemp("template") / "hotline.db"
    upgrade(f"sqlite:///{sqlite_file}")
    templates = {"sqlite": str(sqlite_file)}
    admin = None
    if POSTGRES_URL:
        admin = _admin_engine()
        name = f"hotline_tpl_{uuid.uuid4().hex[:10]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        upgrade(POSTGRES_URL.rsplit("/", 1)[0] + "/" + name)
        templates["postgres"] = name
    try:
        yield templates
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{templates["postgres"]}"'))
            admin.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]) -> Iterator[str]:
    """A fresh database at the newest schema: a copy of the session's migrated template, not migrated anew."""
    if request.param == "sqlite":
        shutil.copy(migrated_templates["sqlite"], tmp_path / "hotline.db")
        yield f"sqlite:///{tmp_path / 'hotline.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL not configured (HOTLINE_TEST_POSTGRES_URL unset)")
    yield from _postgres_database(template=migrated_templates["postgres"])


@pytest.fixture
def settings_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str) -> Iterator[Path]:
    """Point the app at a fresh, migrated database and a dead Rasa port."""
    monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("HOTLINE_DATABASE_URL", database_url)
    monkeypatch.setenv("HOTLINE_RASA_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HOTLINE_ACTION_SERVER_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("HOTLINE_RASA_TIMEOUT_SECONDS", "2")
    # Test peers play Twilio unsigned; tests/security shows the webhooks closed without this.
    monkeypatch.setenv("HOTLINE_TWILIO_WEBHOOKS", "true")
    _reset_caches()
    yield tmp_path
    from api.db import get_engine

    get_engine().dispose()
    _reset_caches()


@pytest.fixture
def db(settings_env: Path) -> Iterator[object]:
    from sqlmodel import Session

    from api.db import get_engine

    with Session(get_engine()) as session:
        yield session


@pytest.fixture
def client(settings_env: Path) -> Iterator[TestClient]:
    from hotline.app import create_app

    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c


def trained_model() -> Path:
    env_model = os.environ.get("HOTLINE_TEST_MODEL")
    if env_model and Path(env_model).is_file():
        return Path(env_model)
    out = subprocess.run([str(ROOT / "scripts/train_if_changed.sh")], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def start_stack(tmp: Path, *, scale: ScaleOut | None = None, **extra_env: str) -> Stack:
    """The stack on free ports; with `scale`, its scaled-out shape (instances behind HAProxy)."""
    stack = Stack(
        data_dir=tmp,
        model=trained_model(),
        app_port=free_port(),
        rasa_port=free_port(),
        actions_port=free_port(),
        # Staffed round the clock: whether a person is on duty depends on who is signed in, not on the hour.
        extra_env={
            "HOTLINE_DATABASE_URL": "",
            "HOTLINE_SERVICE_DAYS": "every_day",
            "HOTLINE_VOICE_SERVICE_HOURS": "00:00-24:00",
            "HOTLINE_TWILIO_WEBHOOKS": "true",
            # no speech model is fetched during tests: the stack's phone line is keypad-only
            "HOTLINE_VOSK_AUTO_DOWNLOAD": "false",
            **extra_env,
        },
        scale=scale,
    )
    env = stack.env()
    subprocess.run([str(ROOT / ".venv/bin/hotline"), "db", "upgrade"], env=env, cwd=ROOT, check=True)
    stack.start()
    try:
        stack.wait_ready()
    except Exception:
        stack.stop()
        print((tmp / "logs" / "stack.log").read_text(errors="replace")[-4000:])
        raise
    return stack


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[Stack]:
    """A stack of the test's own, for tests that kill or restart its parts."""
    s = start_stack(tmp_path)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The real app + Rasa + action server, shared by the end-to-end tests of a session."""
    s = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield s
    finally:
        s.stop()


# Browser fixtures, registered here once for every suite (one chromium, one app server per session).
from tests.browser_support import AUDITED, axe, browser, context_factory, web_server  # noqa: E402, F401

# Tests that wait on real time (the phone line plays its audio at real speed; the longest call first) or
# start the assistant's own Rasa tools: with several workers (`make check`), these go first so that their
# waiting overlaps the rest.
_LONG_FIRST = ("tests/voice/test_stream_protocol.py", "tests/bot/", "tests/voice/test_transfer.py", "tests/voice/")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return  # not an xdist worker (`make test`): collection order, unchanged

    def rank(item: pytest.Item) -> int:
        return next((i for i, prefix in enumerate(_LONG_FIRST) if item.nodeid.startswith(prefix)), len(_LONG_FIRST))

    items.sort(key=rank)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if AUDITED:
        terminalreporter.write_line(
            f"axe-core WCAG 2.2 A/AA: {len(AUDITED)} page states audited, 0 violations ({', '.join(AUDITED)})"
        )
