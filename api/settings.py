"""One settings class for the whole app: read once, validated, fails fast.

Every value has an embedded default so that a fresh clone runs with no
configuration at all; production overrides come from `HOTLINE_*` variables or
a `.env` file.
"""

from __future__ import annotations

import os
import secrets
import sys
from functools import lru_cache
from pathlib import Path
from typing import Literal

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

    environment: Literal["development", "production"] = Field(
        default="development",
        description="production refuses to start with Twilio webhooks open or secrets missing.",
    )

    rasa_url: str = "http://127.0.0.1:5005"
    action_server_url: str = "http://127.0.0.1:5055"
    rasa_timeout_seconds: float = Field(default=8.0, gt=0, le=60)
    rasa_interface: str = Field(
        default="127.0.0.1", description="Address Rasa and the action server listen on (loopback or a private one)."
    )
    rasa_token: str = Field(
        default="", description="Rasa's API token; empty means the one stored in data_dir/rasa_token."
    )
    action_server_token: str = Field(
        default="", description="Rasa's secret for the action server; empty means data_dir/action_server_token."
    )

    secret_key: str = Field(
        default="", description="Signs staff tokens and cookies; empty means the one stored in data_dir/secret_key."
    )
    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    caller_key_salt: str = Field(
        default="", description="Salt for pseudonymous caller keys; empty means data_dir/caller_key_salt."
    )
    log_key: str = Field(
        default="",
        description="Key of the grievance log's keyed hashes, kept out of the database; empty means data_dir/log_key.",
    )
    log_checkpoint_dir: Path | None = Field(
        default=None,
        description="Where signed checkpoints of the log head are appended (a place the database owner cannot "
        "rewrite); empty means data_dir/log-checkpoints.",
    )
    log_checkpoint_seconds: int = Field(
        default=300, ge=1, le=24 * 3600, description="How often the app writes a checkpoint when the log has grown."
    )

    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_phone_number: str = ""
    twilio_webhooks: bool = Field(
        default=False,
        description="Development only: open the Twilio webhooks without an auth token (a warning is printed).",
    )

    vosk_model: str = Field(
        default="", description="Path to a Vosk model folder; empty means the default under data_dir."
    )
    vosk_large_model: bool = Field(
        default=False, description="Use vosk-model-cn-0.22 (1.3 GB) instead of the small one."
    )
    vosk_model_url: str = Field(default="", description="Mirror of the model archive; empty means alphacephei.com.")
    vosk_model_sha256: str = Field(
        default="", description="Expected SHA-256 of that archive; empty means the pinned one."
    )
    cache_dir: Path = Field(
        default=Path.home() / ".cache" / "hotline",
        description="Machine-wide cache shared by checkouts (environments, trained assistant, models).",
    )
    vad_model: str = Field(
        default="",
        description="Path of silero-vad's ONNX model; empty means the one `make prepare` fetches into the cache.",
    )
    vosk_auto_download: bool = Field(default=True, description="Fetch the default model on first use when missing.")
    voice_transfer_number: str = Field(default="", description="On-duty staff number a call is <Dial>ed to on key 0.")
    voice_service_hours: str = Field(
        default="08:30-17:30", description="Staffed hours on staffed days, China time (24:00 for the end of the day)."
    )
    service_days: Literal["workdays", "every_day"] = Field(
        default="workdays", description="Staffed days: Chinese working days, or every day for a round-the-clock centre."
    )
    voice_tts_rate: int = Field(default=190, ge=80, le=400, description="Speech rate (espeak words per minute).")
    voice_tts_slow_rate: int = Field(default=130, ge=80, le=400, description="Rate after the caller presses *.")
    voice_silence_seconds: float = Field(default=8.0, gt=0, le=60, description="Silence before asking again.")
    voice_silence_limit: int = Field(default=3, ge=1, le=10, description="Silences in a row before a polite goodbye.")
    voice_start_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="A media stream that starts no call within this is closed."
    )
    voice_idle_timeout_seconds: float = Field(
        default=60.0, gt=0, le=3600, description="A media stream that sends no frame for this long is closed."
    )
    voice_browser_calls_per_minute: int = Field(
        default=6, ge=1, le=1000, description="Browser-phone calls one outside address may start per minute."
    )
    twilio_api_base_url: str = Field(
        default="", description="Twilio REST API address; empty means https://api.twilio.com (set for an edge)."
    )
    voice_transfer_ring_seconds: int = Field(
        default=25, ge=5, le=120, description="How long a transferred call rings before the caller comes back."
    )
    twilio_timeout_seconds: float = Field(default=10.0, gt=0, le=60, description="Deadline of each Twilio API call.")
    queue_url: str = Field(
        default="",
        description="Task queue of the background worker and of the app that feeds it: a redis:// URL; empty means "
        "HOTLINE_REDIS_URL when that is set (scaled out: one queue for every instance), else SQLite under data_dir.",
    )
    follow_up_after_working_hours: float = Field(
        default=8.0,
        ge=0,
        le=400,
        description="The worker asks for the 回访 rating this many staffed hours after an order is resolved; 0: staff "
        "ask by hand only.",
    )
    log_nightly_at: str = Field(
        default="02:30",
        pattern=r"^$|^([01]\d|2[0-3]):[0-5]\d$",
        description="China time (HH:MM) of the worker's nightly export and chain check of the grievance log; "
        "empty: none.",
    )
    log_export_dir: Path | None = Field(
        default=None, description="Where the nightly exports of the grievance log go; empty means data_dir/log-exports."
    )
    outbox_max_attempts: int = Field(default=5, ge=1, le=20, description="Tries of one SMS or call before it fails.")
    outbox_retry_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="Wait before the second try; each further try waits twice as long."
    )
    outbox_lease_seconds: float = Field(
        default=120.0,
        gt=0,
        le=3600,
        description="A message a crashed worker was sending is looked at again after this long (never sent twice).",
    )
    max_message_chars: int = Field(default=2000, ge=1, le=20000)

    kb_home_region: str = Field(
        default="", description="This federation's own place (e.g. 石家庄); its documents are preferred."
    )
    kb_min_confidence: float = Field(
        default=0.6,
        ge=0,
        le=1,
        description="Below this no answer is given as certain: only the closest rule, with a work-order offer.",
    )
    kb_corpus_dir: Path | None = Field(default=None, description="Policy documents; empty means nlu_data/policies.")

    # Web chat and SMS flood guard (accessibility/): per session, a burst limit and a repeat window.
    chat_rate_limit: int = Field(default=15, ge=1, le=1000, description="Messages allowed per window and session.")
    chat_rate_window_seconds: float = Field(default=30.0, gt=0, le=3600)
    redis_url: str = Field(
        default="",
        description="Redis for the rate limits shared by several app instances (empty: per process), and the task "
        "queue's too unless HOTLINE_QUEUE_URL names another.",
    )
    chat_repeat_seconds: float = Field(
        default=10.0, ge=0, le=3600, description="Same text again within this is refused."
    )
    sms_max_segments: int = Field(default=3, ge=1, le=10, description="Longest SMS reply, in UCS-2 segments.")

    service_token: str = Field(
        default="",
        description=(
            "Bearer token of the assistant's action server; empty means the one stored in data_dir/service_token "
            "(created with mode 0600 on first use, so every process of the stack shares it)."
        ),
    )
    login_max_failures: int = Field(default=5, ge=1, le=100, description="Failed logins before a lockout.")
    login_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
    staff_idle_minutes: int = Field(
        default=20, ge=2, le=12 * 60, description="Staff console: idle time before the login ends (warned 2 min ahead)."
    )
    console_poll_seconds: float = Field(
        default=2.0, gt=0, le=60, description="How often the live queue looks for news."
    )
    public_lookup_per_minute: int = Field(
        default=10, ge=1, le=10000, description="Work-order lookups per citizen (conversation or client address)."
    )
    chat_api_per_address_per_minute: int = Field(
        default=60, ge=1, le=100000, description="Chat API turns per outside client address (this machine is exempt)."
    )
    work_order_alert_per_10_minutes: int = Field(
        default=60, ge=1, le=100000, description="Work orders opened in ten minutes that raise the flood alert."
    )
    trusted_proxies: str = Field(
        default="127.0.0.1,::1", description="Proxies whose X-Forwarded-For names the client (comma-separated)."
    )
    instance_id: str = Field(
        default="",
        max_length=64,
        pattern=r"^[A-Za-z0-9._:-]*$",
        description="Names this app instance in the X-Hotline-Instance response header (set by the scaled-out "
        "stack); empty means no header.",
    )
    sla_policy_file: Path = Field(default=PROJECT_ROOT / "api" / "sla_policy.yml", description="Deadlines per kind.")
    wording_dir: str = Field(
        default="",
        description="An office's own wording (<channel>/<topic>.yml), replacing the shipped texts key by key.",
    )
    admin_username: str = Field(default="admin", description="First administrator (hotline user ensure-admin).")
    admin_password: str = Field(default="", description="Empty: ensure-admin generates one and prints it once.")

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
        return self.secret_key or stored_secret(self.data_dir, "secret_key")

    @property
    def effective_caller_salt(self) -> str:
        return self.caller_key_salt or stored_secret(self.data_dir, "caller_key_salt")

    @property
    def effective_log_key(self) -> str:
        return self.log_key or stored_secret(self.data_dir, "log_key")

    @property
    def effective_checkpoint_dir(self) -> Path:
        return self.log_checkpoint_dir or self.data_dir / "log-checkpoints"

    @property
    def effective_log_export_dir(self) -> Path:
        return self.log_export_dir or self.data_dir / "log-exports"

    @property
    def effective_service_token(self) -> str:
        return self.service_token or stored_secret(self.data_dir, "service_token")

    @property
    def effective_rasa_token(self) -> str:
        return self.rasa_token or stored_secret(self.data_dir, "rasa_token")

    @property
    def effective_action_server_token(self) -> str:
        return self.action_server_token or stored_secret(self.data_dir, "action_server_token")

    @property
    def trusted_proxy_set(self) -> frozenset[str]:
        return frozenset(p.strip() for p in self.trusted_proxies.split(",") if p.strip())

    @property
    def twilio_webhooks_open(self) -> bool:
        """Whether /sms and /voice webhooks answer: signed by Twilio, or explicitly opened in development."""
        return bool(self.twilio_auth_token) or (self.environment == "development" and self.twilio_webhooks)

    @property
    def effective_queue_url(self) -> str:
        """The task queue's Redis, or empty for SQLite: with only HOTLINE_REDIS_URL set (the scaled-out mode), the
        app instances and the worker share that Redis, or each would keep a queue of its own that nobody else reads."""
        return self.queue_url or self.redis_url

    @property
    def twilio_enabled(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)

    @property
    def vad_model_path(self) -> Path:
        """silero-vad's ONNX file; shared by every checkout on the machine, like the trained assistant."""
        if self.vad_model:
            return Path(self.vad_model)
        return self.cache_dir / "vad" / "silero_vad-6.2.3.onnx"

    @property
    def vosk_model_path(self) -> Path:
        name = "vosk-model-cn-0.22" if self.vosk_large_model else "vosk-model-small-cn-0.22"
        return Path(self.vosk_model) if self.vosk_model else self.data_dir / "models" / name


SECRET_NAMES = frozenset(
    {"secret_key", "caller_key_salt", "service_token", "rasa_token", "action_server_token", "log_key"}
)


@lru_cache
def stored_secret(data_dir: Path, name: str) -> str:
    """Read data_dir/<name>, creating it (0600) atomically the first time.

    Secrets left empty in the environment are generated once and kept, so that a
    restart keeps citizens' chats and staff sessions and every process of the stack
    shares them. The value is written to a private temporary file and hard-linked into
    place: a concurrent reader never sees a half-written file and only one value wins.
    """
    if name not in SECRET_NAMES:
        raise ValueError(f"unknown secret {name!r}")
    path = data_dir / name
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = data_dir / f".{name}.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race: use its token
        finally:
            tmp.unlink()
    return path.read_text(encoding="utf-8").strip()


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
