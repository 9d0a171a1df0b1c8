"""Start the action server on a private address, answering only Rasa (its shared secret).

rasa_sdk's own server listens on 0.0.0.0 and runs any action for anyone, so a stranger
could file a work order as the assistant. This one binds to HOTLINE_RASA_INTERFACE and
refuses every call without the token Rasa sends (`?token=`, bot/endpoints.yml).
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from typing import Any

from rasa_sdk.endpoint import create_app
from sanic import response
from sanic.request import Request

logger = logging.getLogger("hotline.actions")


def token_ok(request: Request, expected: str) -> bool:
    supplied = request.args.get("token") or ""
    return bool(expected) and hmac.compare_digest(supplied.encode(), expected.encode())


def build_app(token: str) -> Any:
    app = create_app("actions", cors_origins=None)

    @app.middleware("request")
    async def require_token(request: Request) -> response.HTTPResponse | None:
        if request.path == "/health" or token_ok(request, token):
            return None
        logger.warning("action server: refused a call without Rasa's token (%s)", request.path)
        return response.json({"error": "unauthorised"}, status=401)

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args()
    token = os.environ.get("HOTLINE_ACTION_SERVER_TOKEN", "")
    if not token:
        sys.exit("HOTLINE_ACTION_SERVER_TOKEN is not set: the action server would run actions for anyone.")
    logging.basicConfig(level=logging.INFO)
    host = os.environ.get("HOTLINE_RASA_INTERFACE", "127.0.0.1")
    build_app(token).run(host=host, port=args.port, workers=1, access_log=False)


if __name__ == "__main__":
    main()
