"""Who a request comes from, for rate limits keyed per citizen (the limiter itself: api.services.admission)."""

from __future__ import annotations

from starlette.requests import Request

LOOPBACK = frozenset({"127.0.0.1", "::1"})


def client_address(request: Request, trusted_proxies: frozenset[str]) -> tuple[str, bool]:
    """(the client's address, whether it is this machine itself).

    Behind a trusted proxy the address is the last hop it recorded in X-Forwarded-For;
    a client on this machine without one (the assistant, benchmarks, staff tools) is internal.
    """
    host = request.client.host if request.client else ""
    forwarded = request.headers.get("x-forwarded-for", "")
    if forwarded and host in trusted_proxies:
        return forwarded.split(",")[-1].strip() or host, False
    return host, host in LOOPBACK
