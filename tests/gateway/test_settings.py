"""Settings fail fast with a message that names the variable."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Stack, free_port

ROOT = Path(__file__).resolve().parents[2]


def test_invalid_setting_exits_with_a_clear_message(tmp_path: Path) -> None:
    env = {**os.environ, "HOTLINE_PORT": "eighty", "HOTLINE_DATA_DIR": str(tmp_path)}
    out = subprocess.run([str(ROOT / ".venv/bin/hotline"), "db", "upgrade"], env=env, capture_output=True, text=True)
    assert out.returncode == 2
    assert "HOTLINE_PORT" in out.stderr and "Traceback" not in out.stderr


def test_unsupported_database_url_is_refused(tmp_path: Path) -> None:
    env = {**os.environ, "HOTLINE_DATABASE_URL": "mysql://x", "HOTLINE_DATA_DIR": str(tmp_path)}
    out = subprocess.run([str(ROOT / ".venv/bin/hotline"), "db", "upgrade"], env=env, capture_output=True, text=True)
    assert out.returncode == 2 and "HOTLINE_DATABASE_URL" in out.stderr


def test_several_rasa_workers_without_redis_stop_before_starting(tmp_path: Path) -> None:
    """Several Rasa workers share a Redis lock store; without Redis nothing is started."""
    stack = Stack(
        data_dir=tmp_path,
        model=tmp_path / "unused.tar.gz",
        extra_env={"HOTLINE_RASA_WORKERS": "2", "HOTLINE_REDIS_PORT": str(free_port())},
    )
    with pytest.raises(RuntimeError, match="needs Redis"):
        stack.start()
    assert stack.processes == {}


def test_the_task_queue_follows_the_redis_url_when_it_has_none_of_its_own(tmp_path: Path) -> None:
    """Scaled out with only HOTLINE_REDIS_URL, the app instances and the worker must share one Redis queue: a
    SQLite queue per machine would hold the app's notices where no worker looks."""
    from huey import RedisHuey, SqliteHuey

    from api.settings import Settings
    from hotline.worker import build_queue

    redis = "redis://127.0.0.1:6379/3"
    scaled = Settings(_env_file=None, data_dir=tmp_path, queue_url="", redis_url=redis)  # type: ignore[call-arg]
    assert scaled.effective_queue_url == redis
    huey = build_queue(scaled).huey
    assert isinstance(huey, RedisHuey) and huey.storage.pool.connection_kwargs["db"] == 3
    own = Settings(_env_file=None, data_dir=tmp_path, queue_url="redis://q:6379/1", redis_url=redis)  # type: ignore[call-arg]
    assert own.effective_queue_url == "redis://q:6379/1"
    alone = Settings(_env_file=None, data_dir=tmp_path, queue_url="", redis_url="")  # type: ignore[call-arg]
    assert alone.effective_queue_url == "" and isinstance(build_queue(alone).huey, SqliteHuey)
