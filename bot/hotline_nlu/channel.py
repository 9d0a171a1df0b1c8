"""The chat gateway's input channel: the replies of a turn plus what the gateway must know about it.

Rasa's REST channel returns only the bot messages, so the gateway used to fetch the whole
tracker after every turn (a second reload and replay of the conversation, growing with
its length) just to read the intent and the `handoff` slot. This channel answers with
both in the same reply. `hotline_nlu.tracker_store` summarises the tracker the turn was
saved with and hands the summary over through a context variable; with another tracker
store the channel reads the tracker back, which is correct but slower.
"""

from __future__ import annotations

import contextvars
import hmac
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from hotline_nlu import evidence, runtime
from hotline_nlu.normalize import normalize

logger = logging.getLogger(__name__)

# Summaries of the trackers saved during the current request, by sender; see `note_saved`.
saved_turns: contextvars.ContextVar[dict[str, dict[str, Any]] | None] = contextvars.ContextVar(
    "hotline_saved_turns", default=None
)

DEFAULT_SLOTS = ("handoff",)


def note_saved(tracker: DialogueStateTracker) -> None:
    """Called by the tracker store on save: summarise the tracker if a gateway request waits for it.

    The summary is taken at once, while this turn still holds the conversation's lock.
    """
    holder = saved_turns.get()
    if holder is not None:
        holder[tracker.sender_id] = turn_summary(tracker)


def turn_summary(tracker: DialogueStateTracker | None) -> dict[str, Any]:
    """Intent of this turn's user message and all slot values.

    The newest `user` event is read from all events, not `latest_message`: inside a form
    Rasa leaves `latest_message` on the message that started the form.
    """
    if tracker is None:
        return {"intent": None, "slots": {}}
    intent = None
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered):
            name = event.intent.get("name")
            if name:
                intent = {"name": name, "confidence": event.intent.get("confidence")}
            break
    return {"intent": intent, "slots": tracker.current_slot_values()}


def answered_before(tracker: DialogueStateTracker | None, log_id: Any, slots: tuple[str, ...]) -> dict[str, Any] | None:
    """The answer already given to the message logged as `log_id`, or None if the assistant never saw it.

    The gateway asks (metadata `resumed`) when it answers a turn whose first copy died with its app
    instance: the assistant may have answered that copy already, and must not take the message twice.
    """
    if tracker is None or log_id is None:
        return None
    events = list(tracker.events)
    starts = [
        at
        for at, event in enumerate(events)
        if isinstance(event, UserUttered) and (event.metadata or {}).get("log_id") == log_id
    ]
    if not starts:
        return None
    user = events[starts[0]]
    assert isinstance(user, UserUttered)
    messages: list[dict[str, Any]] = []
    for event in events[starts[0] + 1 :]:
        if isinstance(event, UserUttered):
            break
        if isinstance(event, BotUttered):
            reply: dict[str, Any] = {"recipient_id": tracker.sender_id}
            if event.text:
                reply["text"] = event.text
            reply.update({key: value for key, value in (event.data or {}).items() if value})
            messages.append(reply)
    understood = user.intent or {}
    intent = None
    if understood.get("name"):
        intent = {"name": understood["name"], "confidence": understood.get("confidence")}
    values = tracker.current_slot_values()
    return {"messages": messages, "intent": intent, "slots": {slot: values.get(slot) for slot in slots}}


def authorised(request: Request) -> bool:
    """Only the app's gateway may speak for a citizen: it sends Rasa's token (HOTLINE_RASA_TOKEN).

    Rasa's `--auth-token` guards its own API but not input channels, so this channel checks
    the same token itself; with no token configured it refuses every turn.
    """
    expected = os.environ.get("HOTLINE_RASA_TOKEN", "")
    header = request.headers.get("Authorization", "")
    supplied = header[7:] if header.startswith("Bearer ") else ""
    return bool(expected) and hmac.compare_digest(supplied.encode(), expected.encode())


class GatewayInput(RestInput):
    """`POST /webhooks/gateway/webhook`: REST's request body, answer `{messages, intent, slots}`."""

    def __init__(self, slots: tuple[str, ...] = DEFAULT_SLOTS) -> None:
        self.slots = slots

    @classmethod
    def name(cls) -> str:
        return "gateway"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> GatewayInput:
        slots = (credentials or {}).get("slots") or DEFAULT_SLOTS
        return cls(tuple(str(s) for s in slots))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint("hotline_gateway_webhook", __name__)

        @hook.listener("after_server_start")
        async def tune_loaded_server(*_: Any) -> None:
            runtime.tune()

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not authorised(request):
                return response.json({"error": "the gateway's Rasa token is missing or wrong"}, status=401)
            body = request.json if isinstance(request.json, dict) else {}
            sender_id, text = body.get("sender"), body.get("message")
            if not isinstance(sender_id, str) or not sender_id or not isinstance(text, str):
                return response.json({"error": "sender and message (strings) are required"}, status=400)
            metadata = self.get_metadata(request) or {}
            if metadata.get("resumed"):
                agent = request.app.ctx.agent
                # Under the conversation's lock: a first copy still being answered finishes before we look.
                async with agent.lock_store.lock(sender_id):
                    tracker = await agent.tracker_store.retrieve(sender_id)
                earlier = answered_before(tracker, metadata.get("log_id"), self.slots)
                if earlier is not None:
                    return response.json(earlier)
            collector = CollectingOutputChannel()
            holder: dict[str, dict[str, Any]] = {}
            # the knowledge base's evidence, fetched without blocking Rasa's loop (see hotline_nlu.evidence)
            evidence_token = await evidence.prefetch(normalize(text))
            token = saved_turns.set(holder)
            try:
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        sender_id,
                        input_channel=self._extract_input_channel(request),
                        metadata=metadata,
                    )
                )
            finally:
                saved_turns.reset(token)
                if evidence_token is not None:
                    evidence.prefetched.reset(evidence_token)
            # An error inside Rasa propagates (a 500), so the gateway records the turn for staff
            # instead of reporting an empty answer as if the assistant had chosen silence.
            summary = holder.get(sender_id)
            if summary is None:
                summary = turn_summary(await request.app.ctx.agent.tracker_store.retrieve(sender_id))
            slots = {name: summary["slots"].get(name) for name in self.slots}
            return response.json({"messages": collector.messages, "intent": summary["intent"], "slots": slots})

        return hook
