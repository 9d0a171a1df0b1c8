"""One settings class for the whole app: read once, validated, fails fast.

Every value has an embedded default so that a fresh clone runs with no
configuration at all; production overrides come from `HOTLINE_*` variables or
a `.env` file.
"""

from __future__ import annotations

import secrets
import sys
from functools import lru_cache
from pathlib import Path

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration; see `.env.example` for every variable."""

    model_config = SettingsConfigDict(
        env_prefix="HOTLINE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Field(default=PROJECT_ROOT / "var", description="Runtime data (database, models, logs).")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite under data_dir.")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    public_base_url: str = Field(default="", description="Address Twilio reaches us at; empty means http://host:port.")

    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055"
    rasa_timeout_seconds: float = Field(default=8.0, gt=0, le=60)

    secret_key: str = Field(default="", description="Signs staff tokens and cookies; generated per process when empty.")
    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    caller_key_salt: str = Field(default="hotline-caller-key", description="Salt for pseudonymous caller keys.")

    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_phone_number: str = ""

    vosk_model: str = Field(
        default="", description="Path to a Vosk model folder; empty means the default under data_dir."
    )
    max_message_chars: int = Field(default=2000, ge=1, le=20000)

    kb_home_region: str = Field(
        default="", description="This federation's own place (e.g. 石家庄); its documents are preferred."
    )
    kb_min_confidence: float = Field(
        default=0.5, ge=0, le=1, description="Below this the assistant says it has no reliable answer."
    )
    kb_corpus_dir: Path | None = Field(default=None, description="Policy documents; empty means nlu_data/policies.")

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("only sqlite:// and postgresql:// URLs are supported")
        return value

    @field_validator("rasa_url", "action_server_url", "public_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if value and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            if self.database_url.startswith("postgresql://"):
                return "postgresql+psycopg://" + self.database_url.removeprefix("postgresql://")
            return self.database_url
        return f"sqlite:///{self.data_dir / 'hotline.db'}"

    @property
    def effective_secret_key(self) -> str:
        return self.secret_key or _process_secret()

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def vosk_model_path(self) -> Path:
        return Path(self.vosk_model) if self.vosk_model else self.data_dir / "models" / "vosk-model-small-cn-0.22"


@lru_cache
def _process_secret() -> str:
    return secrets.token_urlsafe(32)


@lru_cache
def get_settings() -> Settings:
    """Load settings once; on invalid values exit with a message naming the variable."""
    try:
        return Settings()
    except ValidationError as exc:
        lines = ["Invalid configuration (check your HOTLINE_* variables or .env):"]
        for err in exc.errors():
            name = "HOTLINE_" + "_".join(str(p) for p in err["loc"]).upper()
            lines.append(f"  {name}: {err['msg']}")
        print("\n".join(lines), file=sys.stderr)
        raise SystemExit(2) from None
