"""Per-turn costs of the Rasa server process that its settings cannot remove.

`tune()` runs once the model is loaded (see `hotline_nlu.channel`):

- Rasa checks every action server answer with `jsonschema.validate`, which first
  validates the schema itself against its meta-schema: about 4 ms of CPU per custom
  action call, and a new session always calls `action_session_start`. The same check
  now runs with one validator built at start-up.
- The loaded model is millions of Python objects; each full pass of the garbage
  collector scanned them all and held up every waiting turn for 100-200 ms. They are
  moved out of the collector's reach. (A model replaced at run time then stays in
  memory until the next restart.)
"""

from __future__ import annotations

import functools
import gc
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


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


def tune() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    gc.collect()
    gc.freeze()


__all__ = ["tune"]
