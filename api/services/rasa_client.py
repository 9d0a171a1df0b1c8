"""HTTP client for the Rasa server: one turn in, replies and understanding out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

# bot/hotline_nlu/channel.py: the replies, the turn's intent and the `handoff` slot in one answer.
GATEWAY_WEBHOOK = "/webhooks/gateway/webhook"


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


class RasaClient:
    """Talks to Rasa's gateway channel over kept-alive connections (one request per turn)."""

    def __init__(self, base_url: str, *, token: str, timeout: float, client: httpx.AsyncClient | None = None) -> None:
        self.base_url = base_url
        self.timeout = timeout
        # Rasa's API token: a query parameter for Rasa's own API, a bearer header for the gateway channel.
        self._token = token
        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=2.0), headers={"Authorization": f"Bearer {token}"}
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def send(self, *, session_id: str, text: str, metadata: dict[str, Any]) -> AssistantTurn:
        try:
            return await asyncio.wait_for(self._turn(session_id, text, metadata), timeout=self.timeout)
        except (TimeoutError, httpx.HTTPError, ValueError) as exc:
            raise AssistantUnavailable(type(exc).__name__) from exc

    async def _turn(self, session_id: str, text: str, metadata: dict[str, Any]) -> AssistantTurn:
        resp = await self._client.post(
            self.base_url + GATEWAY_WEBHOOK,
            json={
                "sender": session_id,
                "message": text,
                "input_channel": metadata.get("channel", "rest"),
                "metadata": metadata,
            },
        )
        resp.raise_for_status()
        data = resp.json()
        if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
            raise ValueError("unexpected answer from the gateway channel")
        replies = [r for r in (_reply_from_rasa(m) for m in data["messages"]) if r]
        intent = data.get("intent") or {}
        return AssistantTurn(
            replies=replies,
            intent=intent.get("name"),
            confidence=intent.get("confidence"),
            slots=data.get("slots") or {},
        )

    async def set_handoff(self, *, session_id: str, held: bool) -> bool:
        """Set the conversation's `handoff` slot (HandoffPolicy keeps the assistant silent while it is true).

        False when Rasa could not be told; the hold in our own database stands either way.
        """
        url = f"{self.base_url}/conversations/{quote(session_id, safe='')}/tracker/events"
        event = {"event": "slot", "name": "handoff", "value": held}
        try:
            resp = await self._client.post(
                url, json=event, params={"include_events": "NONE", "token": self._token}, timeout=5.0
            )
        except httpx.HTTPError:
            return False
        return resp.status_code == 200

    async def health(self) -> str | None:
        """None when Rasa answers and has a model loaded, else the reason."""
        try:
            resp = await self._client.get(self.base_url + "/status", params={"token": self._token}, timeout=2.0)
        except httpx.HTTPError as exc:
            return f"unreachable: {type(exc).__name__}"
        if resp.status_code != 200:
            return f"HTTP {resp.status_code}"
        if not resp.json().get("model_id"):
            return "no model loaded"
        return None
