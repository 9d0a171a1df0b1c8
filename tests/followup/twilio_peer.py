"""Twilio's REST API as a local protocol peer for follow-up tests: every SMS and call the account asks for
is recorded; `twilio` points the app's settings at it.

Like Twilio, it refuses what it is told to refuse with Twilio's JSON error shape and code (21211
invalid 'To' number, 21610 unsubscribed, both HTTP 400), can answer HTTP 500 once, can hold a request
after accepting it (a worker killed while waiting for the answer), and lists what it accepted
(GET Messages.json / Calls.json, filtered by `To`).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

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
        self.posts: list[tuple[str, str]] = []  # (Messages|Calls, To) of every create request, refused ones too
        self.fail_sms = False
        self.delay = 0.0  # seconds before each create request is answered (a slow Twilio)
        self.refuse: dict[str, tuple[int, str]] = {}  # To → (Twilio error code, message), answered with HTTP 400
        self.fail_once: set[str] = set()  # To numbers answered HTTP 500 on their first request
        self.hold: set[str] = set()  # To numbers whose accepted message is answered only after `release`
        self.held = threading.Event()  # set when a held request has been accepted
        self.release = threading.Event()
        self._lock = threading.Lock()
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _authorized(self) -> bool:
                expected = "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
                return self.headers.get("Authorization") == expected

            def do_GET(self) -> None:
                if not self._authorized():
                    return self._send(401, {"code": 20003, "message": "Authenticate", "status": 401})
                url = urlsplit(self.path)
                to = parse_qs(url.query).get("To", [""])[0]
                for name, key, records in (("Messages", "messages", peer.messages), ("Calls", "calls", peer.calls)):
                    if url.path.endswith(f"/Accounts/{SID}/{name}.json"):
                        with peer._lock:
                            found = [peer._resource(name, r) for r in records if not to or r.get("To") == to]
                        return self._send(200, {key: found, "next_page_uri": None, "page": 0, "page_size": 50,
                                                "uri": url.path, "first_page_uri": url.path, "start": 0,
                                                "end": max(0, len(found) - 1), "previous_page_uri": None})  # fmt: skip
                self._send(404, {"code": 20404, "message": "Not found", "status": 404})

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
                form = {k: v[0] for k, v in parse_qs(body).items()}
                if not self._authorized():
                    return self._send(401, {"code": 20003, "message": "Authenticate", "status": 401})
                name = "Calls" if self.path.endswith(f"/Accounts/{SID}/Calls.json") else "Messages"
                if not self.path.endswith(f"/Accounts/{SID}/{name}.json"):
                    return self._send(404, {"code": 20404, "message": "Not found", "status": 404})
                to = form.get("To", "")
                if peer.delay:
                    time.sleep(peer.delay)
                with peer._lock:
                    peer.posts.append((name, to))
                    first_failure = to in peer.fail_once
                    peer.fail_once.discard(to)
                if first_failure:
                    return self._send(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
                if to in peer.refuse:
                    code, message = peer.refuse[to]
                    return self._send(400, {"code": code, "message": message, "status": 400,
                                            "more_info": f"https://www.twilio.com/docs/errors/{code}"})  # fmt: skip
                if name == "Messages" and peer.fail_sms:
                    return self._send(400, {"code": 21211, "message": "Invalid 'To' Phone Number", "status": 400})
                with peer._lock:
                    records = peer.calls if name == "Calls" else peer.messages
                    form["sid"] = ("CA" if name == "Calls" else "SM") + f"{len(records) + 1:032d}"
                    records.append(form)
                if to in peer.hold:
                    peer.held.set()
                    peer.release.wait(30)
                self._send(201, peer._resource(name, form))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client is gone (a killed worker)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def _resource(name: str, form: dict[str, str]) -> dict[str, Any]:
        """A Message or Call resource as Twilio's JSON writes it."""
        shared = {"sid": form.get("sid"), "account_sid": SID, "to": form.get("To"), "from": form.get("From"),
                  "status": "queued", "date_created": formatdate(usegmt=True)}  # fmt: skip
        return shared | ({"body": form.get("Body")} if name == "Messages" else {})

    def close(self) -> None:
        self.release.set()
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


def send_outbox(http_client: Any = None) -> list[str]:
    """Do here and now what the task worker does for each due outbox row (the same `outbox.deliver`);
    the outcomes. A retry is not due yet, so each row is tried once."""
    from api.db import new_session
    from api.services import outbox

    with new_session() as session:
        due = outbox.due(session)
    return [outbox.deliver(i, get_settings(), http_client=http_client).outcome for i, _ in due]
