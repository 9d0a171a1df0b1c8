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
