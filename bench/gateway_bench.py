"""Chat turns per second and p50/p95 turn latency through the gateway, 10 concurrent sessions.

Starts the real stack (app, Rasa, action server) on free ports in a temporary
directory, warms it up, then sends `--turns` turns from `--sessions` concurrent
sessions. Targets on the 2-core machine: p95 <= 250 ms and >= 30 turns/s.

    .venv/bin/python bench/gateway_bench.py [--turns 300] [--sessions 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from stack import Stack, free_port  # noqa: E402

UTTERANCES = ["你好", "谢谢", "你是机器人吗", "再见", "您好请问", "好的谢谢"]


async def _session(client: httpx.AsyncClient, url: str, sid: str, turns: int, lat: list[float]) -> None:
    for i in range(turns):
        started = time.perf_counter()
        resp = await client.post(
            url, json={"session_id": sid, "text": UTTERANCES[i % len(UTTERANCES)], "channel": "web"}
        )
        resp.raise_for_status()
        lat.append((time.perf_counter() - started) * 1000)


async def _run(app_url: str, turns: int, sessions: int) -> tuple[list[float], float]:
    url = f"{app_url}/api/chat/messages"
    per = max(1, turns // sessions)
    lat: list[float] = []
    async with httpx.AsyncClient(timeout=30) as client:
        await _session(client, url, "bench-warmup", 5, [])
        started = time.perf_counter()
        await asyncio.gather(*(_session(client, url, f"bench-{n}", per, lat) for n in range(sessions)))
        return lat, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--model", type=Path, help="a trained model; default: the one for the current bot/")
    args = parser.parse_args()
    trainer = [str(ROOT / "scripts/train_if_changed.sh")]
    model = args.model or Path(subprocess.run(trainer, capture_output=True, text=True, check=True).stdout.strip())
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            data_dir=Path(tmp), model=model, app_port=free_port(), rasa_port=free_port(), actions_port=free_port()
        )
        subprocess.run(
            [str(ROOT / ".venv/bin/hotline"), "db", "upgrade"],
            env=stack.env(),
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        stack.start()
        try:
            stack.wait_ready()
            lat, wall = asyncio.run(_run(stack.app_url, args.turns, args.sessions))
        finally:
            stack.stop()
    lat.sort()
    p95 = lat[int(0.95 * (len(lat) - 1))]
    print(f"gateway: {len(lat)} turns, {args.sessions} concurrent sessions, SQLite, model {model.name}")
    rate = len(lat) / wall
    p50 = statistics.median(lat)
    print(f"  throughput {rate:.1f} turns/s   p50 {p50:.0f} ms   p95 {p95:.0f} ms   max {lat[-1]:.0f} ms")
    print(f"  targets: >= 30 turns/s, p95 <= 250 ms -> {'met' if len(lat) / wall >= 30 and p95 <= 250 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
