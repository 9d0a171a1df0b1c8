"""Per-turn costs of the Rasa server process that its settings cannot remove.

`tune()` runs once the model is loaded (see `hotline_nlu.channel`):

- Rasa checks every action server answer with `jsonschema.validate`, which first
  validates the schema itself against its meta-schema: about 4 ms of CPU per custom
  action call, and a new session always calls `action_session_start`. The same check
  now runs with one validator built at start-up.
- Every custom action call sends the whole conversation to the action server as JSON, and
  Rasa opens a new HTTP client (and connection) for each call: the JSON encoding alone was
  about a tenth of Rasa's time per turn. The client now encodes with ujson (half the time,
  same JSON) and reuses the connections of one pool per event loop.
- The loaded model is millions of Python objects; each full pass of the garbage
  collector scanned them all and held up every waiting turn for 100-200 ms. They are
  moved out of the collector's reach. (A model replaced at run time then stays in
  memory until the next restart.)
"""

from __future__ import annotations

import asyncio
import functools
import gc
import json
from typing import Any

import aiohttp
import ujson
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.shared.constants import DOCS_BASE_URL
from rasa.utils.endpoints import EndpointConfig


@functools.lru_cache(maxsize=1)
def _action_result_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    """`RemoteAction._validate_action_result` with the validator built once."""
    error = best_match(_action_result_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response "
        f"from the Action endpoint is valid. For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise error


def fast_json(value: Any) -> str:
    """The same JSON as json.dumps, written by ujson; anything ujson refuses goes to json.dumps."""
    try:
        return str(ujson.dumps(value, ensure_ascii=False, escape_forward_slashes=False))
    except (TypeError, OverflowError, ValueError):
        return json.dumps(value)


_connectors: dict[asyncio.AbstractEventLoop, aiohttp.TCPConnector] = {}


def _shared_connector() -> aiohttp.TCPConnector:
    loop = asyncio.get_running_loop()
    connector = _connectors.get(loop)
    if connector is None or connector.closed:
        connector = _connectors[loop] = aiohttp.TCPConnector(limit=100)
    return connector


def _session(self: EndpointConfig) -> aiohttp.ClientSession:
    """`EndpointConfig.session` (Rasa 3.6) with a shared connection pool and the faster JSON encoder."""
    auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
    return aiohttp.ClientSession(
        headers=self.headers,
        auth=auth,
        timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
        connector=_shared_connector(),
        connector_owner=False,
        json_serialize=fast_json,
    )


def tune() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    EndpointConfig.session = _session  # type: ignore[method-assign]
    gc.collect()
    gc.freeze()


__all__ = ["tune"]
