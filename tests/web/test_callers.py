"""The callers service: one row per caller for 退订, easy-read and slower speech, safe under concurrent
writers on SQLite and PostgreSQL; migration 0009 imports the old data_dir/sms_state.json once."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

from api.migrate import alembic_config
from api.models.caller import CallerPreference
from api.services import callers
from api.settings import get_settings

BEFORE = "0008_console_setup_and_knowledge"


def _rows() -> dict[str, CallerPreference]:
    from api.db import get_engine

    with Session(get_engine()) as s:
        return {row.caller_key: row for row in s.exec(select(CallerPreference)).all()}


def _at_once(jobs: list[Callable[[], None]]) -> None:
    """Run the jobs on their own threads, released together."""
    gate = threading.Barrier(len(jobs))
    errors: list[BaseException] = []

    def run(job: Callable[[], None]) -> None:
        gate.wait()
        try:
            job()
        except BaseException as exc:  # reported below, in the test's own thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_any_form_of_a_number_is_the_same_caller(settings_env: Path) -> None:
    settings = get_settings()
    key = callers.key_for(settings, "+8613912345678")
    assert key == callers.key_for(settings, "139 1234 5678") == callers.key_for(settings, "8613912345678")
    assert "13912345678" not in key and callers.key_for(settings, "") == ""
    assert not callers.is_unsubscribed(settings, "13912345678")
    callers.set_unsubscribed(key, True)
    assert callers.is_unsubscribed(settings, "13912345678") and callers.is_unsubscribed(settings, "+8613912345678")
    assert not callers.is_unsubscribed(settings, "13800138000")


def test_concurrent_unsubscribes_and_wishes_are_all_kept(settings_env: Path) -> None:
    settings = get_settings()
    keys = [callers.key_for(settings, f"1391234{n:04d}") for n in range(6)]
    # Six callers send 退订 at the same moment, and a seventh's 退订, easy-read and slower speech land together.
    both = callers.key_for(settings, "13700000000")
    _at_once(
        [lambda k=k: callers.set_unsubscribed(k, True) for k in keys]
        + [
            lambda: callers.set_unsubscribed(both, True),
            lambda: callers.set_easy_read(both, True),
            lambda: callers.remember_slow(both),
        ]
    )
    rows = _rows()
    assert all(rows[k].unsubscribed for k in keys)
    assert rows[both].unsubscribed and rows[both].easy_read and rows[both].slow_speech
    # Taking back one wish keeps the others; the last one taken back leaves nothing behind.
    _at_once([lambda: callers.set_unsubscribed(both, False), lambda: callers.forget_slow(both)])
    assert callers.preferences(both) == callers.Preferences(easy_read=True)
    callers.set_easy_read(both, False)
    assert both not in _rows()


def test_migration_imports_the_old_sms_state_file(database_url: str, tmp_path: Path) -> None:
    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    command.downgrade(alembic_config(url), BEFORE)  # the suite's databases come migrated to head
    engine = create_engine(url)
    slow_and_unsubscribed, only_easy, only_unsubscribed = "a" * 32, "b" * 32, "c" * 32
    with engine.begin() as conn:
        now = datetime.now(UTC)
        conn.execute(
            text(
                "INSERT INTO caller_preference (caller_key, slow_speech, consented_at, updated_at) "
                "VALUES (:k, :on, :now, :now)"
            ),
            {"k": slow_and_unsubscribed, "on": True, "now": now},
        )
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    state = {"unsubscribed": [slow_and_unsubscribed, only_unsubscribed, 7, ""], "easy": [only_easy]}
    (data_dir / "sms_state.json").write_text(json.dumps(state), encoding="utf-8")

    command.upgrade(alembic_config(url, data_dir=data_dir), "head")

    with Session(engine) as s:
        rows = {row.caller_key: row for row in s.exec(select(CallerPreference)).all()}
    engine.dispose()
    assert set(rows) == {slow_and_unsubscribed, only_easy, only_unsubscribed}  # the junk entries are skipped
    assert rows[slow_and_unsubscribed].slow_speech and rows[slow_and_unsubscribed].unsubscribed
    assert not rows[slow_and_unsubscribed].easy_read
    assert rows[only_easy].easy_read and not rows[only_easy].unsubscribed and not rows[only_easy].slow_speech
    assert rows[only_unsubscribed].unsubscribed and not rows[only_unsubscribed].easy_read


@pytest.mark.parametrize("content", [None, "{not json", "[1, 2]", '{"unsubscribed": "abc"}'])
def test_migration_without_the_file_or_with_a_broken_one(
    database_url: str, tmp_path: Path, content: str | None
) -> None:
    url = database_url.replace("postgresql://", "postgresql+psycopg://")
    command.downgrade(alembic_config(url), BEFORE)  # so that the import really runs
    if content is not None:
        (tmp_path / "sms_state.json").write_text(content, encoding="utf-8")
    command.upgrade(alembic_config(url, data_dir=tmp_path), "head")
    engine = create_engine(url)
    with Session(engine) as s:
        assert s.exec(select(CallerPreference)).all() == []
    engine.dispose()
