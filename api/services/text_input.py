"""What citizens and staff send, made storable: one cleaning step before the log and the database.

PostgreSQL cannot store NUL, no database (and no hash) can encode a lone UTF-16
surrogate, and control characters only hide text from a reader. Such characters are
removed (surrogates become U+FFFD) rather than refused, so that nothing a citizen sent
is lost: the words around them are kept and answered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl, urlencode

from api.models.common import storable

# Cheap first look at a raw body: a NUL or control (raw or escaped) or any surrogate escape.
_JSON_SUSPECT = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\\u00[01][0-9a-fA-F]|\\u007[fF]|\\u[dD][89a-fA-F]")
_FORM_SUSPECT = re.compile(rb"%[01][0-9a-f]|%7f", re.IGNORECASE)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


clean = storable


def clean_value(value: Any) -> Any:
    """`clean` through a parsed JSON value: every string, key or not."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_value(v) for v in value]
    if isinstance(value, dict):
        return {clean(str(k)): clean_value(v) for k, v in value.items()}
    return value


def clean_body(body: bytes, content_type: bytes) -> bytes:
    """The body with its text cleaned; unchanged when there is nothing to clean or it does not parse."""
    if b"json" in content_type:
        if not _JSON_SUSPECT.search(body):
            return body
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return body  # the handler answers with its own "not valid JSON"
        return json.dumps(clean_value(parsed), ensure_ascii=False).encode("utf-8")
    if b"x-www-form-urlencoded" in content_type:
        if not _FORM_SUSPECT.search(body):
            return body
        pairs = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
        return urlencode([(clean(k), clean(v)) for k, v in pairs]).encode("ascii")
    return body


class CleanInputMiddleware:
    """Clean every JSON and form body before any handler reads it.

    Twilio's webhooks (`skip_paths`) are left as sent: their signature covers the exact
    parameters, and their handlers clean the message text after checking it.
    """

    def __init__(self, app: ASGIApp, *, skip_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.skip_paths = skip_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope.get("method") not in ("POST", "PUT", "PATCH")
            or scope["path"].startswith(self.skip_paths)
        ):
            await self.app(scope, receive, send)
            return
        content_type = dict(scope.get("headers") or []).get(b"content-type", b"").lower()
        if b"json" not in content_type and b"x-www-form-urlencoded" not in content_type:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = clean_body(b"".join(chunks), content_type)
        if scope.get("headers"):
            scope = dict(scope)
            scope["headers"] = [
                (k, str(len(body)).encode() if k.lower() == b"content-length" else v) for k, v in scope["headers"]
            ]
        await self.app(scope, _replay([{"type": "http.request", "body": body, "more_body": False}], receive), send)


def _replay(messages: list[Message], upstream: Receive) -> Receive:
    """Hand the buffered body on once, then the client's own messages (a later disconnect)."""
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        return await upstream()

    return receive
