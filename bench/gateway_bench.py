"""Chat turns per second and p50/p95 turn latency through the gateway, 10 concurrent sessions.

Starts the real stack (app, Rasa, action server) on free ports in a temporary
directory, warms it up, then sends `--turns` turns from `--sessions` concurrent
sessions, twice: small talk (greetings and thanks), and a realistic mix in which each
session asks policy questions from the end-to-end question set, files a complaint
through the whole intake to a work order, looks a work order up with a wrong and then
the right code, and says hello and thanks. Targets on the 2-core machine, for both:
p95 <= 250 ms and >= 30 turns/s.

Wall-clock figures depend on whatever else the machine runs, so the load average
is printed with them, and so is the CPU time each part of the stack spent per turn
(utime + stime of its process group from /proc), which other load barely moves.

    .venv/bin/python bench/gateway_bench.py [--turns 300] [--sessions 10] [--rasa-workers 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

from stack import Stack, free_port  # noqa: E402

UTTERANCES = ["你好", "谢谢", "你是机器人吗", "再见", "您好请问", "好的谢谢"]
INTAKE = [
    "我要投诉",
    "社区办事员不给我办残疾证换证，推来推去",
    "对",
    "和平区南营门街道西康路社区",
    "上个星期三上午",
    "希望尽快给我办好",
    "13912345678",
    "我姓王",
    "需要保密",
    "确认提交",
]


def policy_questions() -> list[str]:
    """The end-to-end set's policy questions (tests/conversation/questions), in a fixed order."""
    questions: list[str] = []
    for path in sorted((ROOT / "tests/conversation/questions").glob("policy_*.yml")):
        questions += [str(item["q"]) for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {})["policy"]]
    return questions


def realistic_script(n: int, questions: list[str]) -> list[str]:
    """One session's turns: policy questions, a complaint to a work order, a status lookup, small talk."""
    asked = [questions[(n * 7 + k) % len(questions)] for k in range(4)]
    status = ["查询工单进度", "202601010001", "1234", "不对 后四位是5678"]
    return ["你好", asked[0], asked[1], *INTAKE, asked[2], *status, asked[3], "谢谢"]


async def _session(
    client: httpx.AsyncClient,
    url: str,
    sid: str,
    turns: int,
    lat: list[float],
    first: list[float] | None = None,
    script: list[str] | None = None,
) -> None:
    texts = script or UTTERANCES
    for i in range(turns):
        started = time.perf_counter()
        resp = await client.post(url, json={"session_id": sid, "text": texts[i % len(texts)], "channel": "web"})
        resp.raise_for_status()
        lat.append((time.perf_counter() - started) * 1000)
        if i == 0 and first is not None:
            first.append(lat[-1])


def cpu_seconds(pgid: int) -> float:
    """User + system CPU time of every live process in a process group (each stack part has its own)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # after the command name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12)
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def _cpu(stack: Stack) -> dict[str, float]:
    return {name: cpu_seconds(proc.pid) for name, proc in stack.processes.items()}


async def _run(
    stack: Stack, turns: int, sessions: int, mix: str
) -> tuple[list[float], list[float], float, dict[str, float]]:
    url = f"{stack.app_url}/api/chat/messages"
    per = max(1, turns // sessions)
    lat: list[float] = []
    first: list[float] = []
    questions = policy_questions()
    scripts = [realistic_script(n, questions) if mix == "realistic" else None for n in range(sessions)]
    async with httpx.AsyncClient(timeout=30) as client:
        await _session(client, url, f"bench-warmup-{mix}", 5, [])
        cpu_before = {**_cpu(stack), "bench client": time.process_time()}
        started = time.perf_counter()
        await asyncio.gather(
            *(_session(client, url, f"bench-{mix}-{n}", per, lat, first, scripts[n]) for n in range(sessions))
        )
        wall = time.perf_counter() - started
        cpu_after = {**_cpu(stack), "bench client": time.process_time()}
        return lat, first, wall, {name: cpu_after[name] - cpu_before[name] for name in cpu_after}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--model", type=Path, help="a trained model; default: the one for the current bot/")
    parser.add_argument(
        "--rasa-workers",
        type=int,
        default=int(os.environ.get("HOTLINE_RASA_WORKERS", "1")),
        help="Rasa processes (more than one needs Redis as the lock store)",
    )
    args = parser.parse_args()
    trainer = [str(ROOT / "scripts/train_if_changed.sh")]
    model = args.model or Path(subprocess.run(trainer, capture_output=True, text=True, check=True).stdout.strip())
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(
            data_dir=Path(tmp),
            model=model,
            app_port=free_port(),
            rasa_port=free_port(),
            actions_port=free_port(),
            extra_env={"HOTLINE_RASA_WORKERS": str(args.rasa_workers)},
        )
        subprocess.run(
            [str(ROOT / ".venv/bin/hotline"), "db", "upgrade"],
            env=stack.env(),
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        stack.start()
        results = {}
        try:
            stack.wait_ready()
            for mix in ("smalltalk", "realistic"):
                results[mix] = asyncio.run(_run(stack, args.turns, args.sessions, mix))
            load = Path("/proc/loadavg").read_text().split()[:3]
        finally:
            stack.stop()
    print(
        f"gateway: {args.turns} turns per mix, {args.sessions} concurrent sessions, SQLite, "
        f"{args.rasa_workers} Rasa worker(s), model {model.name}"
    )
    met = True
    for mix, (lat, first, wall, cpu) in results.items():
        lat.sort()
        p95 = lat[int(0.95 * (len(lat) - 1))]
        rate = len(lat) / wall
        p50 = statistics.median(lat)
        print(f"  {mix:<10} {rate:.1f} turns/s   p50 {p50:.0f} ms   p95 {p95:.0f} ms   max {lat[-1]:.0f} ms")
        # Every session starts at once, so the first turns (a new session runs action_session_start
        # on the action server) queue behind each other; they are part of p95.
        print(
            f"             first turn of a session: median {statistics.median(first):.0f} ms, max {max(first):.0f} ms"
        )
        per_turn = "   ".join(f"{name} {1000 * sec / len(lat):.1f}" for name, sec in cpu.items())
        print(f"             CPU ms per turn: {per_turn}   total {1000 * sum(cpu.values()) / len(lat):.1f}")
        met = met and rate >= 30 and p95 <= 250
    print(f"  load average at the end: {' '.join(load)} (2 cores)")
    print(f"  targets (both mixes): >= 30 turns/s, p95 <= 250 ms -> {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
