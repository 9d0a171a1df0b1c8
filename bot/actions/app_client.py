"""Thin HTTP client for the hotline app: the only way the actions reach it.

Base URL from `HOTLINE_APP_URL` (default http://127.0.0.1:8000), service token from
`HOTLINE_SERVICE_TOKEN`. Short timeouts so that a turn stays well inside the
gateway's deadline; a retry only where repeating is safe (GET, or a POST whose
connection was refused before anything was sent). Errors become `AppUnavailable`
or `NotFound`, never a stack trace for the citizen.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from typing import Any

import requests

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class AppUnavailable(Exception):
    """The app could not be reached or answered with a server error."""


class NotFound(Exception):
    """The app answered 404."""


class AppClient:
    def __init__(
        self,
        base_url: str | None = None,
        token: str | None = None,
        connect_timeout: float = 1.5,
        read_timeout: float = 4.0,
        retries: int = 1,
        backoff: float = 0.2,
    ) -> None:
        self.base_url = (base_url or os.environ.get("HOTLINE_APP_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.token = token if token is not None else os.environ.get("HOTLINE_SERVICE_TOKEN", "")
        self.timeout = (connect_timeout, read_timeout)
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if extra:
            headers.update(extra)
        return headers

    def _request(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        url = f"{self.base_url}{path}"
        last_error: Exception | None = None
        for attempt in range(self.retries + 1):
            try:
                response = self.session.request(
                    method,
                    url,
                    json=json,
                    params=params,
                    headers=self._headers(headers),
                    timeout=self.timeout,
                )
            except requests.ConnectionError as exc:  # refused / DNS: nothing was processed
                last_error = exc
            except requests.Timeout as exc:
                last_error = exc
                if not idempotent:
                    break  # the app may have acted on it: do not send it twice
            else:
                if response.status_code >= 500 and idempotent and attempt < self.retries:
                    last_error = AppUnavailable(f"{method} {path}: HTTP {response.status_code}")
                else:
                    return response
            if attempt < self.retries:
                time.sleep(self.backoff * (attempt + 1))
        logger.warning("app request failed: %s %s: %s", method, url, last_error)
        raise AppUnavailable(str(last_error))

    @staticmethod
    def _json(response: requests.Response, path: str) -> dict[str, Any]:
        if response.status_code == 404:
            raise NotFound(path)
        if response.status_code >= 400:
            logger.warning("app answered %s for %s: %s", response.status_code, path, response.text[:300])
            raise AppUnavailable(f"HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise AppUnavailable("invalid JSON from the app") from exc
        if not isinstance(data, dict):
            raise AppUnavailable("unexpected JSON from the app")
        return data

    def create_ticket(self, ticket: dict[str, Any], idempotency_key: str | None = None) -> dict[str, Any]:
        """POST /api/tickets -> {"number", "deadline", "deadline_text", ...}."""
        key = idempotency_key or uuid.uuid4().hex
        response = self._request(
            "POST", "/api/tickets", idempotent=False, json=ticket, headers={"Idempotency-Key": key}
        )
        return self._json(response, "/api/tickets")

    def ticket_status(self, number: str, phone_last4: str, citizen: str = "") -> dict[str, Any]:
        """GET /api/public/tickets/{number}?phone_last4= ; NotFound for unknown/wrong digits.

        `citizen` (the conversation) is the app's rate-limit key, so that one caller's wrong
        guesses do not lock out everyone the assistant speaks for.
        """
        path = f"/api/public/tickets/{number}"
        response = self._request(
            "GET",
            path,
            idempotent=True,
            params={"phone_last4": phone_last4},
            headers={"X-Hotline-Citizen": citizen} if citizen else None,
        )
        return self._json(response, path)

    def ask_knowledge(self, question: str, channel: str, more: bool = False) -> dict[str, Any]:
        """POST /api/knowledge/ask -> {"answered", "answer", "voice_answer", "citation", "score"}; `more`
        asks for the fuller passage behind the answer (详细)."""
        response = self._request(
            "POST",
            "/api/knowledge/ask",
            idempotent=True,
            json={"question": question, "channel": channel, "more": more},
        )
        return self._json(response, "/api/knowledge/ask")

    def on_duty(self, channel: str = "web") -> dict[str, Any]:
        """GET /api/on-duty -> {"available", "reason", "hours", "next_service"}; for a caller, "available"
        also needs a way to move the call to a person."""
        response = self._request("GET", "/api/on-duty", idempotent=True, params={"channel": channel})
        return self._json(response, "/api/on-duty")


_default: AppClient | None = None


def get_client() -> AppClient:
    """The process-wide client (configured from the environment on first use)."""
    global _default
    if _default is None:
        _default = AppClient()
    return _default


def use_base_url(base_url: str, token: str | None = None) -> AppClient:
    """Point the process-wide client at another app (tests, tooling)."""
    global _default
    _default = AppClient(base_url=base_url, token=token)
    return _default
