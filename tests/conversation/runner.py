"""End-to-end evaluation through the real gateway: what a citizen gets back, judged as they would.

Every question is sent to `POST /api/chat/messages` as the first turn of a fresh
conversation, exactly as the web page, the SMS webhook and the phone line send it, and
the replies are judged by what they say (the fact and the source for a policy question,
the honest refusal with a consultation offer for a question the documents cannot
answer, the right behaviour for everything else), never by the classifier's label alone.

Run against any running hotline (for example after `make run`):

    .venv/bin/python -m tests.conversation.runner --url http://127.0.0.1:8000 [--kind policy] [--show-failures]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml

HERE = Path(__file__).resolve().parent
QUESTIONS = HERE / "questions"

# A distinctive part of each document's title: the source named in a text answer must contain it.
SOURCES = {
    "000_152a772414c7805d.txt": "石家庄市残疾人联合会改革实施方案",
    "001_2ca6db4dc01b3a74.txt": "甘肃省基层残疾人综合服务能力建设",
    "002_b17fbb1a17816d85.txt": "天津市残疾人组织建设工作",
    "003_b6ba1d5b91b6dfaa.txt": "民意街残疾人联合会改革实施方案",
    "004_090302efc44af654.txt": "加强和改进村(社区)残疾人协会工作",
}
# The channel a style of writing arrives on: speech-recognition errors by phone, deaf users' short
# topic-first writing by SMS, the rest in the web chat.
CHANNEL_OF_STYLE = {"asr": "voice", "deaf": "sms"}
DECLINED = re.compile(r"没有找到|没有.{0,20}(相关规定|可靠答案|准确)|找不到")
CONSULTATION_OFFER = re.compile(r"咨询工单")
EMERGENCY_NUMBERS = re.compile(r"110|120|119")


def flat(text: str) -> str:
    """Compare without spaces, quotes or full-width brackets."""
    text = text.replace("（", "(").replace("）", ")")
    return re.sub(r"[\s“”\"'《》]", "", text)


def voice_source(title: str) -> str:
    """Spoken citations shorten the federation's name (api/knowledge/answer.py, Citation.short) and
    speech drops brackets (bot/actions/helpers.py, voice_sentences)."""
    return re.sub(r"[()（）]", "", title.replace("残疾人联合会", "残联"))


@dataclass
class Turn:
    text: str
    channel: str
    status: int
    body: dict[str, Any]

    @property
    def reply(self) -> str:
        return "\n".join(str(r.get("text") or "") for r in self.body.get("replies") or [])

    @property
    def intent(self) -> str:
        return str((self.body.get("intent") or {}).get("name") or "")


class Gateway:
    """The citizen's side of the seam: one HTTP client, one call per turn."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.client = httpx.Client(timeout=timeout)

    def say(self, session_id: str, text: str, channel: str = "web") -> Turn:
        response = self.client.post(
            f"{self.base_url}/api/chat/messages", json={"session_id": session_id, "text": text, "channel": channel}
        )
        try:
            body = response.json()
        except ValueError:
            body = {"raw": response.text[:500]}
        return Turn(text, channel, response.status_code, body)

    def close(self) -> None:
        self.client.close()


def new_session(channel: str, tag: str = "eval") -> str:
    return f"{channel}-{tag}-{uuid.uuid4().hex[:12]}"


# --- judging one first turn ---------------------------------------------------------------


def judge_policy(item: dict[str, Any], turn: Turn) -> str | None:
    """None when the reply holds the fact and names the source; otherwise why not."""
    reply = flat(turn.reply)
    facts = item["fact"] if isinstance(item["fact"], list) else [item["fact"]]
    title = flat(SOURCES[item["doc"]])
    source = title if turn.channel != "voice" else flat(voice_source(SOURCES[item["doc"]]))
    if not any(flat(f) in reply for f in facts):
        return "fact missing"
    if source not in reply:
        return "source missing"
    return None


def judge_unanswerable(item: dict[str, Any], turn: Turn) -> str | None:
    if DECLINED.search(turn.reply) and CONSULTATION_OFFER.search(turn.reply):
        return None
    return "not declined with a consultation offer"


def _intent_is(*names: str) -> Callable[[dict[str, Any], Turn], str | None]:
    def judge(item: dict[str, Any], turn: Turn) -> str | None:
        return None if turn.intent in names else f"intent {turn.intent or '-'}"

    return judge


def judge_emergency(item: dict[str, Any], turn: Turn) -> str | None:
    if turn.intent != "emergency":
        return f"intent {turn.intent or '-'}"
    if not EMERGENCY_NUMBERS.search(turn.reply.split("\n")[0]):
        return "numbers not first"
    if not turn.body.get("ticket_number"):
        return "no work order"
    return None


def judge_greet(item: dict[str, Any], turn: Turn) -> str | None:
    return None if turn.intent == "greet" and "您好" in turn.reply else f"intent {turn.intent or '-'}"


JUDGES: dict[str, Callable[[dict[str, Any], Turn], str | None]] = {
    "policy": judge_policy,
    "unanswerable": judge_unanswerable,
    "greet": judge_greet,
    "thank": _intent_is("thank"),
    "goodbye": _intent_is("goodbye"),
    "complain": _intent_is("complain"),
    "request_help": _intent_is("request_help"),
    "check_status": _intent_is("check_ticket_status"),
    "request_human": _intent_is("request_human"),
    "emergency": judge_emergency,
    "out_of_scope": _intent_is("out_of_scope"),
}


@dataclass
class Outcome:
    kind: str
    item: dict[str, Any]
    turn: Turn
    failure: str | None


@dataclass
class Report:
    outcomes: list[Outcome] = field(default_factory=list)

    def by_kind(self) -> dict[str, tuple[int, int]]:
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for o in self.outcomes:
            totals[o.kind][1] += 1
            totals[o.kind][0] += o.failure is None
        return {k: (v[0], v[1]) for k, v in sorted(totals.items())}

    def rate(self, kind: str) -> float:
        passed, total = self.by_kind().get(kind, (0, 0))
        return passed / total if total else 1.0

    def rate_of_others(self) -> float:
        passed = total = 0
        for kind, (p, t) in self.by_kind().items():
            if kind not in ("policy", "unanswerable"):
                passed, total = passed + p, total + t
        return passed / total if total else 1.0

    def by_style(self, kind: str = "policy") -> dict[str, str]:
        counts: dict[str, Counter[bool]] = defaultdict(Counter)
        for o in self.outcomes:
            if o.kind == kind:
                counts[str(o.item.get("style") or "-")][o.failure is None] += 1
        return {s: f"{c[True]}/{c[True] + c[False]}" for s, c in sorted(counts.items())}

    def summary(self) -> str:
        lines = ["kind             passed/total  rate"]
        for kind, (p, t) in self.by_kind().items():
            lines.append(f"{kind:<16} {p:>6}/{t:<6} {p / t:6.1%}")
        lines.append(f"policy by style: {self.by_style()}")
        lines.append(f"all other kinds: {self.rate_of_others():.1%}")
        return "\n".join(lines)

    def failures(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": o.kind,
                "q": o.item["q"],
                "channel": o.turn.channel,
                "why": o.failure,
                "intent": o.turn.intent,
                "reply": o.turn.reply[:300],
                **({"doc": o.item["doc"], "fact": o.item["fact"]} if "doc" in o.item else {}),
            }
            for o in self.outcomes
            if o.failure
        ]


def load_items(folder: Path = QUESTIONS) -> list[tuple[str, dict[str, Any]]]:
    """(kind, item) for every question of every file in the folder."""
    items: list[tuple[str, dict[str, Any]]] = []
    for path in sorted(folder.glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for kind, entries in data.items():
            if kind not in JUDGES:
                raise ValueError(f"{path.name}: unknown kind {kind!r}")
            items.extend((kind, dict(entry)) for entry in entries or [])
    return items


def evaluate(gateway: Gateway, items: Iterable[tuple[str, dict[str, Any]]], workers: int = 4) -> Report:
    def one(pair: tuple[str, dict[str, Any]]) -> Outcome:
        kind, item = pair
        channel = str(item.get("channel") or CHANNEL_OF_STYLE.get(str(item.get("style")), "web"))
        turn = gateway.say(new_session(channel), str(item["q"]), channel)
        if turn.status != 200:
            return Outcome(kind, item, turn, f"HTTP {turn.status}")
        return Outcome(kind, item, turn, JUDGES[kind](item, turn))

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return Report(list(pool.map(one, list(items))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--kind", action="append", help="only these kinds (repeatable)")
    parser.add_argument("--questions", type=Path, default=QUESTIONS, help="folder of question files")
    parser.add_argument("--show-failures", action="store_true")
    parser.add_argument("--out", type=Path, help="write the failures here as JSON")
    args = parser.parse_args(argv)
    items = [(k, i) for k, i in load_items(args.questions) if not args.kind or k in args.kind]
    gateway = Gateway(args.url)
    try:
        report = evaluate(gateway, items)
    finally:
        gateway.close()
    print(report.summary())
    if args.show_failures:
        for failure in report.failures():
            print(json.dumps(failure, ensure_ascii=False))
    if args.out:
        args.out.write_text(json.dumps(report.failures(), ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --- multi-turn scenarios -------------------------------------------------------------------

SCENARIOS = HERE / "scenarios.yml"


def load_scenarios(path: Path = SCENARIOS) -> list[dict[str, Any]]:
    return list((yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("scenarios") or [])


def check_turn(step: dict[str, Any], turn: Turn) -> list[str]:
    """What is wrong with one answer, judged against the step's expectations."""
    problems: list[str] = []
    if turn.status != 200:
        return [f"HTTP {turn.status}: {turn.body}"]
    wanted = step.get("intent")
    if wanted and turn.intent not in ([wanted] if isinstance(wanted, str) else wanted):
        problems.append(f"intent {turn.intent or '-'}, wanted {wanted}")
    for pattern in step.get("has") or []:
        if not re.search(pattern, turn.reply):
            problems.append(f"reply lacks /{pattern}/")
    for pattern in step.get("lacks") or []:
        if re.search(pattern, turn.reply, re.S):
            problems.append(f"reply has /{pattern}/")
    if "handoff" in step and bool(turn.body.get("handoff")) != bool(step["handoff"]):
        problems.append(f"handoff {turn.body.get('handoff')}, wanted {step['handoff']}")
    if "ticket" in step and bool(turn.body.get("ticket_number")) != bool(step["ticket"]):
        problems.append(f"work order {turn.body.get('ticket_number')}, wanted {'one' if step['ticket'] else 'none'}")
    if step.get("silent") and turn.reply:
        problems.append("the assistant spoke while a person held the conversation")
    if not step.get("silent") and not turn.reply:
        problems.append("no reply")
    return problems


def run_scenario(
    gateway: Gateway,
    scenario: dict[str, Any],
    *,
    ticket: str = "",
    after_turn: Callable[[str, dict[str, Any]], None] | None = None,
) -> tuple[list[str], str, list[Turn]]:
    """Play a scenario; (problems, last work-order number, turns)."""
    channel = str(scenario.get("channel") or "web")
    session_id = new_session(channel, "scenario")
    problems: list[str] = []
    number = ""
    turns: list[Turn] = []
    for index, step in enumerate(scenario["turns"], 1):
        text = str(step["say"]).replace("{ticket}", ticket)
        turn = gateway.say(session_id, text, channel)
        turns.append(turn)
        problems += [f"turn {index} ({text}): {p} — reply: {turn.reply[:160]!r}" for p in check_turn(step, turn)]
        number = str(turn.body.get("ticket_number") or number)
        if after_turn is not None:
            after_turn(session_id, step)
    for pattern in scenario.get("never") or []:  # a promise no reply of the conversation may make
        problems += [
            f"turn {index} ({turn.text}): says {pattern!r} — reply: {turn.reply[:160]!r}"
            for index, turn in enumerate(turns, 1)
            if re.search(pattern, turn.reply)
        ]
    return problems, number, turns
