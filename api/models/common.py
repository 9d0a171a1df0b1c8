"""Shared pieces of the back-office models: input hygiene and list envelopes."""

from __future__ import annotations

import re
from typing import Any

from pydantic import field_validator
from sqlmodel import SQLModel

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def storable(text: str) -> str:
    """Text every database (and hash) accepts: control characters dropped (tab and line breaks kept),
    lone surrogates replaced with U+FFFD.

    PostgreSQL cannot store NUL and nothing can encode a lone surrogate; removing them
    rather than refusing keeps the words around them, so nothing a citizen sent is lost.
    """
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


def clean_text(value: Any) -> Any:
    """`storable`, then trimmed: for every string field of a request body."""
    if not isinstance(value, str):
        return value
    return storable(value).strip()


class CleanInput(SQLModel):
    """Mixin for request bodies: every string field is cleaned before the field's own checks."""

    @field_validator("*", mode="before")
    @classmethod
    def _clean_strings(cls, value: Any) -> Any:
        return clean_text(value)
