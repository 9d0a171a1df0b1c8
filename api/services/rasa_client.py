"""HTTP client for the Rasa server: one turn in, replies and understanding out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

REST_WEBHOOK = "/webhooks/rest/webhook"


class AssistantUnavailable(Exception):
    """Rasa did not answer in time or answered with an error."""


@dataclass
class AssistantTurn:
    replies: list[dict[str, Any]]
    intent: str | None = None
    confidence: float | None = None
    slots: dict[str, Any] = field(default_factory=dict)


def _reply_from_rasa(msg: dict[str, Any]) -> dict[str, Any] | None:
    reply: dict[str, Any] = {}
    if msg.get("text"):
        reply["text"] = msg["text"]
    if msg.get("buttons"):
        reply["buttons"] = [{"title": b.get("title", ""), "payload": b.get("payload", "")} for b in msg["buttons"]]
    if msg.get("custom"):
        reply["custom"] = msg["custom"]
    return reply or None


def _turn_intent(tracker: dict[str, Any]) -> dict[str, Any]:
    """The intent of the newest user event.

    Inside a form Rasa keeps `latest_message` on the turn that started the form,
    so the last `user` event is the reliable source for the current turn.
    """
    for event in reversed(tracker.get("events") or []):
        if event.get("event") == "user":
            return (event.get("parse_data") or {}).get("intent") or {}
    return (tracker.get("latest_message") or {}).get("intent") or {}


class RasaClient:
    """Talks to Rasa's REST channel and reads the tracker for intent and slots."""

    def __init__(self, base_url: str, *, timeout: float, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self._client = client or httpx.AsyncClient(timeout=httpx.Timeout(timeout, connect=2.0))

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, *, session_id: str, text: str, metadata: dict[str, Any]) -> AssistantTurn:
        try:
            return await asyncio.wait_for(self._turn(session_id, text, metadata), timeout=self.timeout)
        except (TimeoutError, httpx.HTTPError, ValueError) as exc:
            raise AssistantUnavailable(type(exc).__name__) from exc

    async def _turn(self, session_id: str, text: str, metadata: dict[str, Any]) -> AssistantTurn:
        resp = await self._client.post(
            self.base_url + REST_WEBHOOK,
            json={
                "sender": session_id,
                "message": text,
                "input_channel": metadata.get("channel", "rest"),
                "metadata": metadata,
            },
        )
        resp.raise_for_status()
        replies = [r for r in (_reply_from_rasa(m) for m in resp.json()) if r]
        tracker = await self._client.get(
            f"{self.base_url}/conversations/{session_id}/tracker", params={"include_events": "AFTER_RESTART"}
        )
        tracker.raise_for_status()
        data = tracker.json()
        intent = _turn_intent(data)
        return AssistantTurn(
            replies=replies,
            intent=intent.get("name"),
            confidence=intent.get("confidence"),
            slots=data.get("slots") or {},
        )

    async def health(self) -> str | None:
        """None when Rasa answers and has a model loaded, else the reason."""
        try:
            resp = await self._client.get(self.base_url + "/status", timeout=2.0)
        except httpx.HTTPError as exc:
            return f"unreachable: {type(exc).__name__}"
        if resp.status_code != 200:
            return f"HTTP {resp.status_code}"
        if not resp.json().get("model_id"):
            return "no model loaded"
        return None
