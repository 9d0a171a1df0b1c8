"""The scaled-out mode with one app instance and with two, behind HAProxy: chat turns/s and p95, and
work-order creations/s and p95, over HTTP through the balancer, on PostgreSQL and Redis.

Both runs use the same number of Rasa servers (`--rasa-workers`, default 2), so the app instances are
the only thing that changes; each run gets a fresh PostgreSQL database (dropped afterwards) and the
stack's real processes (`scripts/stack.py`, `ScaleOut`). Turns: `--sessions` concurrent conversations
of small talk and policy questions through `POST /api/chat/messages`; work orders: `--clients`
concurrent `POST /api/tickets` with the action server's service token for `--seconds`.

On a machine with fewer cores than processes the second instance competes with Rasa for the same
CPU, so the ratio says what the shape costs or gains here, not on a province's servers; the load
average is printed with each figure.

    .venv/bin/python bench/scale_out.py [--sessions 20] [--turns 300] [--clients 20] [--seconds 10]
        [--rasa-workers 2] [--postgres URL] [--redis redis://127.0.0.1:6379/8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from scratch_db import scratch_database  # noqa: E402
from stack import ScaleOut, Stack, free_port  # noqa: E402

TURNS = ["你好", "残疾人证怎么办理", "谢谢", "护理补贴怎么申请", "你是机器人吗", "好的谢谢", "再见"]


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[int(0.95 * (len(ordered) - 1))]


async def chat(stack: Stack, *, sessions: int, turns: int) -> tuple[float, float, int]:
    """(turns/s, p95 ms, failures) for `turns` turns from `sessions` concurrent conversations."""
    per = max(1, turns // sessions)
    latencies: list[float] = []
    failures = 0

    async def conversation(client: httpx.AsyncClient, n: int) -> None:
        nonlocal failures
        for i in range(per):
            began = time.perf_counter()
            resp = await client.post(
                "/api/chat/messages", json={"session_id": f"web-bench-{n}", "text": TURNS[(n + i) % len(TURNS)]}
            )
            latencies.append(1000 * (time.perf_counter() - began))
            failures += resp.status_code != 200

    async with httpx.AsyncClient(base_url=stack.app_url, timeout=60) as client:
        await asyncio.gather(*(conversation(client, -1 - n) for n in range(4)))  # warm every instance
        latencies.clear()
        began = time.perf_counter()
        await asyncio.gather(*(conversation(client, n) for n in range(sessions)))
        wall = time.perf_counter() - began
    return len(latencies) / wall, p95(latencies), failures


async def work_orders(stack: Stack, *, clients: int, seconds: float) -> tuple[float, float, int]:
    """(creations/s, p95 ms, failures) for `clients` concurrent creators over `seconds`."""
    latencies: list[float] = []
    failures = 0
    headers = {"Authorization": f"Bearer {stack.env()['HOTLINE_SERVICE_TOKEN']}"}
    stop_at = time.perf_counter() + seconds

    async def creator(client: httpx.AsyncClient, n: int) -> None:
        nonlocal failures
        i = 0
        while time.perf_counter() < stop_at:
            began = time.perf_counter()
            resp = await client.post(
                "/api/tickets",
                json={"kind": "咨询", "description": f"压测工单 {n}-{i}", "contact_phone": "13800138000"},
            )
            latencies.append(1000 * (time.perf_counter() - began))
            failures += resp.status_code != 201
            i += 1

    async with httpx.AsyncClient(base_url=stack.app_url, timeout=60, headers=headers) as client:
        began = time.perf_counter()
        await asyncio.gather(*(creator(client, n) for n in range(clients)))
        wall = time.perf_counter() - began
    return len(latencies) / wall, p95(latencies), failures


def run(instances: int, args: argparse.Namespace, model: Path) -> dict[str, tuple[float, float, int]]:
    with (
        contextmanager(scratch_database)(args.postgres, prefix="scale_bench") as database,
        tempfile.TemporaryDirectory() as tmp,
    ):
        stack = Stack(
            data_dir=Path(tmp),
            model=model,
            app_port=free_port(),
            rasa_port=free_port(),
            actions_port=free_port(),
            extra_env={
                "HOTLINE_DATABASE_URL": database,
                "HOTLINE_REDIS_URL": args.redis,
                "HOTLINE_RASA_WORKERS": str(args.rasa_workers),
                # Every client is this machine behind the balancer: one outside address as far as limits go.
                "HOTLINE_CHAT_API_PER_ADDRESS_PER_MINUTE": "100000",
                "HOTLINE_CHAT_RATE_LIMIT": "1000",
                "HOTLINE_WORK_ORDER_ALERT_PER_10_MINUTES": "100000",
                "HOTLINE_VOSK_AUTO_DOWNLOAD": "false",
            },
            scale=ScaleOut(
                app_ports=tuple(free_port() for _ in range(instances)),
                rasa_ports=tuple(free_port() for _ in range(args.rasa_workers)),
            ),
        )
        env = stack.env()
        subprocess.run(
            [str(ROOT / ".venv/bin/hotline"), "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True
        )
        stack.start()
        try:
            stack.wait_ready()
            out = {
                "turns": asyncio.run(chat(stack, sessions=args.sessions, turns=args.turns)),
                "work orders": asyncio.run(work_orders(stack, clients=args.clients, seconds=args.seconds)),
            }
            load = os.getloadavg()[0]
        finally:
            stack.stop()
    for what, (rate, slow, failed) in out.items():
        print(
            f"  {instances} app instance(s): {what:<12} {rate:7.1f}/s   p95 {slow:6.0f} ms"
            f"   failures {failed}   (load {load:.2f})",
            flush=True,
        )
    return out


def _answers(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rasa-workers", type=int, default=2)
    parser.add_argument("--postgres", default=os.environ.get("HOTLINE_TEST_POSTGRES_URL", ""))
    parser.add_argument("--redis", default=os.environ.get("HOTLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/8"))
    parser.add_argument("--model", type=Path, help="a trained model; default: the one for the current bot/")
    args = parser.parse_args()
    missing = [
        why
        for why, ok in (
            ("PostgreSQL (--postgres or HOTLINE_TEST_POSTGRES_URL)", bool(args.postgres)),
            (f"Redis at {args.redis}", _answers(args.redis, 6379)),
            ("HAProxy (scripts/system_packages.sh --scale-out)", shutil.which("haproxy") is not None),
        )
        if not ok
    ]
    if missing:
        print(f"scale-out benchmark skipped: it needs {', '.join(missing)}")
        return 0
    trainer = [str(ROOT / "scripts/train_if_changed.sh")]
    model = args.model or Path(subprocess.run(trainer, capture_output=True, text=True, check=True).stdout.strip())
    print(
        f"scale-out: {args.rasa_workers} Rasa servers, PostgreSQL, Redis, HAProxy; {args.turns} turns from "
        f"{args.sessions} conversations; {args.clients} work-order clients for {args.seconds:.0f} s; "
        f"{os.cpu_count()} cores"
    )
    one = run(1, args, model)
    two = run(2, args, model)
    for what in one:
        print(
            f"  two instances / one, {what}: {two[what][0] / one[what][0]:.2f}x the rate, "
            f"p95 {two[what][1]:.0f} ms vs {one[what][1]:.0f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
