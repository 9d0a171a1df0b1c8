"""`hotline`: the command line for operators and auditors."""

from __future__ import annotations

import json
import logging
import os

import typer
from sqlmodel import Session

from api.cli_users import user_app
from api.db import get_engine
from api.knowledge.cli import kb_app
from api.migrate import upgrade
from api.services import grievance_log, log_checkpoints
from api.services.masking import MaskingLogFilter
from api.settings import get_settings
from voice.cli import call as voice_call

app = typer.Typer(help="残联服务热线命令行工具 / Hotline command line.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
log_app = typer.Typer(help="The tamper-evident grievance log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(log_app, name="log")
app.add_typer(user_app, name="user")
app.add_typer(kb_app, name="kb")
app.command("call")(voice_call)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the schema to the newest version."""
    settings = get_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url, data_dir=settings.data_dir)
    with Session(get_engine()) as session:
        anchor = log_checkpoints.anchor_legacy(session)
    if anchor is not None:
        typer.echo(f"已为密钥启用前的 {anchor.seq} 条记录写入检查点 / checkpoint of the unkeyed records")
    typer.echo("数据库已是最新结构 / database schema is up to date")


@log_app.command("verify")
def log_verify() -> None:
    """Check the whole hash chain; exit 1 and name the first broken record if any."""
    with Session(get_engine()) as session:
        result = grievance_log.verify(session)
    if result.ok:
        typer.echo(
            f"OK: {result.records} records, chain intact, head {result.head_hash}; "
            f"{result.checkpoints} signed checkpoints agree (newest at record {result.last_checkpoint})"
        )
        return
    typer.echo(f"BROKEN at record {result.first_broken_id}: {result.reason} ({result.records} records read)", err=True)
    raise typer.Exit(1)


@log_app.command("checkpoint")
def log_checkpoint() -> None:
    """Sign the current head into the checkpoint file outside the database (also done periodically)."""
    with Session(get_engine()) as session:
        checkpoint = log_checkpoints.write(session, reason="cli")
    path = log_checkpoints.checkpoint_file()
    if checkpoint is None:
        typer.echo(f"无需新检查点 / nothing new since the last checkpoint ({path})")
        return
    typer.echo(f"检查点已写入 / checkpoint written: record {checkpoint.seq}, head {checkpoint.head_hash} → {path}")


@log_app.command("receipt")
def log_receipt(
    record_id: int = typer.Argument(..., min=1, help="记录号 / record number on the receipt"),
    code: str = typer.Argument(..., help="8 位校验码 / the 8-digit check code"),
) -> None:
    """Check a citizen's receipt against the log; exit 1 if it does not match an intact record."""
    with Session(get_engine()) as session:
        result = grievance_log.check_receipt(session, record_id=record_id, code=code)
    if result.valid:
        typer.echo(f"回执有效 / receipt valid: record {record_id}, {result.channel}, work order {result.ticket_number}")
        return
    typer.echo(f"回执无效 / receipt NOT valid: record {record_id}: {result.reason}", err=True)
    raise typer.Exit(1)


@log_app.command("tail")
def log_tail(limit: int = typer.Option(10, min=1, max=1000, help="How many records, newest first.")) -> None:
    """Print the newest records as JSON Lines."""
    with Session(get_engine()) as session:
        for rec in grievance_log.search(session, limit=limit):
            typer.echo(json.dumps(rec.model_dump(mode="json"), ensure_ascii=False))


@app.command("worker")
def run_worker(
    threads: int = typer.Option(2, min=1, max=32, help="How many tasks run at once."),
) -> None:
    """Run the background worker (outbox sending, periodic work) until stopped; the Procfile's `worker`."""
    from hotline import worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("twilio.http_client").setLevel(logging.WARNING)  # every request's headers, at INFO
    for handler in logging.getLogger().handlers:
        handler.addFilter(MaskingLogFilter())
    worker.run(workers=threads)


def main() -> None:
    os.umask(0o077)  # what the CLI writes (database, exports, checkpoints) is private to the hotline's user
    app()
