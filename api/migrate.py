"""Bring a database to the newest schema with the project's Alembic migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str, *, data_dir: Path | None = None) -> Config:
    """`data_dir`: the runtime data directory, for migrations that import files kept there before."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["data_dir"] = data_dir
    return cfg


def upgrade(url: str, *, data_dir: Path | None = None) -> None:
    command.upgrade(alembic_config(url, data_dir=data_dir), "head")
