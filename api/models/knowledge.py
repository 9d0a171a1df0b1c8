"""Answer entries staff write for questions the documents do not answer well.

An entry is used by the assistant only after a supervisor approves it, and only until it
expires. Editing an approved entry makes a new version (a new row with the same
`entry_key`) that waits for approval while the approved one keeps answering, so citizens
never read an unchecked answer and auditors can read every version that was ever used.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from pydantic import field_validator
from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from api.models.common import CleanInput


class EntryStatus(enum.StrEnum):
    draft = "draft"
    approved = "approved"
    retired = "retired"


class KnowledgeEntryBase(SQLModel):
    questions: str = Field(sa_column=Column(Text, nullable=False), description="Question forms, one per line")
    answer: str = Field(sa_column=Column(Text, nullable=False), description="The answer in plain words")
    easy_read: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    source_title: str = Field(max_length=200, description="The document (or page) the answer rests on")
    source_article: str = Field(default="", max_length=100, description="Article or section, e.g. 第十二条")
    source_date: str = Field(default="", max_length=32)
    source_url: str = Field(default="", max_length=500)
    expires_on: date | None = None


class KnowledgeEntry(KnowledgeEntryBase, table=True):
    __tablename__ = "knowledge_entry"

    id: int | None = Field(default=None, primary_key=True)
    entry_key: int | None = Field(default=None, index=True, description="The first version's id, shared by all")
    version: int = 1
    status: EntryStatus = Field(default=EntryStatus.draft, max_length=16, index=True)
    created_by: str = Field(max_length=64)
    created_at: datetime
    approved_by: str | None = Field(default=None, max_length=64)
    approved_at: datetime | None = None

    def question_list(self) -> list[str]:
        return [q.strip() for q in self.questions.splitlines() if q.strip()]

    def citation(self) -> str:
        """The source as the citizen reads it: 《title》article（date）, then the address if any."""
        title = self.source_title.strip()
        text = title if title.startswith("《") else f"《{title}》"
        text += self.source_article.strip()
        if self.source_date.strip():
            text += f"（{self.source_date.strip()}）"
        if self.source_url.strip():
            text += f" {self.source_url.strip()}"
        return text


class KnowledgeEntryCreate(CleanInput, KnowledgeEntryBase):
    questions: str = Field(min_length=2, max_length=2000)
    answer: str = Field(min_length=2, max_length=2000)
    easy_read: str = Field(default="", max_length=1000)
    source_title: str = Field(min_length=2, max_length=200)

    @field_validator("source_url", mode="after")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("https://", "http://")):
            raise ValueError("an address starting with http:// or https://")
        return value
