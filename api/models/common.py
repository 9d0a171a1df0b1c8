"""Shared pieces of the back-office models: input hygiene and list envelopes."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator
from sqlmodel import SQLModel


def clean_text(value: Any) -> Any:
    """Refuse text the databases cannot store (NUL, lone surrogates) and trim spaces.

    Without this a stray NUL byte would reach PostgreSQL and fail as a 500.
    """
    if not isinstance(value, str):
        return value
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value.strip()


class CleanInput(SQLModel):
    """Mixin for request bodies: every string field is cleaned before the field's own checks."""

    @field_validator("*", mode="before")
    @classmethod
    def _clean_strings(cls, value: Any) -> Any:
        return clean_text(value)
