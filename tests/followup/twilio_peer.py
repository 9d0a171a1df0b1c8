"""Twilio's REST API as a local protocol peer for follow-up tests: every SMS and call the account asks for
is recorded; `twilio` points the app's settings at it."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest

from api.settings import get_settings

SID = "AC" + "3" * 32
TOKEN = "twilio-test-token"
OUR_NUMBER = "+8610012345"


class TwilioPeer:
    """Twilio's Messages and Calls APIs on a local port: each request the account makes is recorded."""

    def __init__(self) -> None:
        self.messages: list[dict[str, str]] = []
        self.calls: list[dict[str, str]] = []
        self.fail_sms = False
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
                if self.headers.get("Authorization") != expected:
                    return self._send(401, {"code": 20003, "message": "Authenticate", "status": 401})
                if self.path.endswith(f"/Accounts/{SID}/Calls.json"):
                    peer.calls.append(form)
                    return self._send(201, {"sid": "CA" + "4" * 32, "account_sid": SID, "to": form.get("To"),
                                            "status": "queued"})  # fmt: skip
                if self.path.endswith(f"/Accounts/{SID}/Messages.json"):
                    if peer.fail_sms:
                        return self._send(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
                    peer.messages.append(form)
                    return self._send(201, {"sid": "SM" + "5" * 32, "account_sid": SID, "to": form.get("To"),
                                            "body": form.get("Body"), "status": "queued"})  # fmt: skip
                self._send(404, {"code": 20404, "message": "Not found", "status": 404})

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer() -> Iterator[TwilioPeer]:
    p = TwilioPeer()
    yield p
    p.close()


@pytest.fixture
def twilio(settings_env: Path, peer: TwilioPeer, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwilioPeer]:
    """Twilio configured and pointed at the peer (the app's own setting for Twilio's API address)."""
    monkeypatch.setenv("HOTLINE_TWILIO_ACCOUNT_SID", SID)
    monkeypatch.setenv("HOTLINE_TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("HOTLINE_TWILIO_PHONE_NUMBER", OUR_NUMBER)
    monkeypatch.setenv("HOTLINE_TWILIO_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("HOTLINE_TWILIO_API_BASE_URL", peer.url)
    monkeypatch.setenv("HOTLINE_PUBLIC_BASE_URL", "https://hotline.example.cn")
    get_settings.cache_clear()
    yield peer
    get_settings.cache_clear()
