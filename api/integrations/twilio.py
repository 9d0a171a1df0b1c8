"""Twilio webhooks: one check for every channel that Twilio calls (SMS, calls, follow-up calls).

A webhook is answered only when Twilio signed it with the account's auth token, or,
in development, when the webhooks were opened explicitly (`HOTLINE_TWILIO_WEBHOOKS`),
with a warning at start. Otherwise anyone could forge an SMS to close a stranger's
work order or take a voice stream token.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import Enum
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from api.settings import Settings

log = logging.getLogger("hotline.twilio")


class Verdict(Enum):
    OK = "ok"
    BAD_SIGNATURE = "bad_signature"
    CLOSED = "twilio_webhooks_closed"


MESSAGES = {
    Verdict.BAD_SIGNATURE: "签名无效 / invalid Twilio signature",
    Verdict.CLOSED: "未配置 Twilio，电话和短信接口未开放 / Twilio webhooks are closed: no auth token configured",
}


def public_url(request: Request, settings: Settings) -> str:
    """The URL Twilio signed: the configured public address (behind a proxy) or the one we were called at."""
    if not settings.public_base_url:
        return str(request.url)
    query = f"?{request.url.query}" if request.url.query else ""
    return settings.public_base_url + request.url.path + query


def check_webhook(request: Request, params: Mapping[str, str], settings: Settings) -> Verdict:
    if settings.twilio_auth_token:
        from twilio.request_validator import RequestValidator

        signature = request.headers.get("X-Twilio-Signature", "")
        validator = RequestValidator(settings.twilio_auth_token)
        if signature and validator.validate(public_url(request, settings), dict(params), signature):
            return Verdict.OK
        log.warning("Twilio webhook refused: signature missing or wrong (%s)", request.url.path)
        return Verdict.BAD_SIGNATURE
    if settings.twilio_webhooks_open:
        return Verdict.OK
    log.warning("Twilio webhook refused: no auth token configured (%s)", request.url.path)
    return Verdict.CLOSED


def refusal(verdict: Verdict) -> JSONResponse:
    return JSONResponse({"error": {"code": verdict.value, "message": MESSAGES[verdict]}}, status_code=403)


def rest_client(settings: Settings, *, http_client: Any = None) -> Any:
    """The one Twilio REST client: the configured deadline and API address (Twilio's own unless set)."""
    from twilio.http.http_client import TwilioHttpClient
    from twilio.rest import Client

    http = http_client or TwilioHttpClient(timeout=settings.twilio_timeout_seconds)
    client = Client(settings.twilio_account_sid, settings.twilio_auth_token, http_client=http)
    if settings.twilio_api_base_url:
        client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    return client


def startup_problems(settings: Settings) -> list[str]:
    """What stops the app from starting (production) or deserves a warning (development)."""
    if settings.environment == "production":
        missing = [
            name
            for name, value in (
                ("HOTLINE_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
                ("HOTLINE_PUBLIC_BASE_URL", settings.public_base_url),
            )
            if not value
        ]
        return [f"{name} must be set in production (Twilio webhooks are signed against it)" for name in missing]
    if settings.twilio_webhooks and not settings.twilio_auth_token:
        log.warning(
            "HOTLINE_TWILIO_WEBHOOKS is on without HOTLINE_TWILIO_AUTH_TOKEN: /sms and /voice webhooks accept "
            "unsigned requests from anyone. Development only."
        )
    return []
