"""`POST /api/knowledge/ask`: policy answers with citations, for the assistant's actions and the web."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.knowledge import ask

router = APIRouter(prefix="/api/knowledge", tags=["knowledge"])


class AskIn(BaseModel):
    question: str = Field(min_length=1, max_length=2000, examples=["县残联多久开一次代表大会"])
    channel: Literal["web", "sms", "voice", "staff"] = "web"
    more: bool = Field(default=False, description="The fuller passage (the whole section) behind the answer: 详细.")


class AskOut(BaseModel):
    answered: bool
    answer: str = Field(description="The text reply: quoted sentences and the citation, or the no-answer message.")
    voice_answer: str = Field(description="Short form for speech.")
    citation: str | None
    score: float
    confidence: float
    offer_work_order: bool = Field(
        description="No exact answer: the reply offers a consultation work order (with or without the closest rule)."
    )


class EvidenceIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000, examples=["村里残协主席能不能由村干部兼着"])


class EvidenceOut(BaseModel):
    answered: bool = Field(description="Whether the documents hold an answer or at least a close rule to quote.")
    exact: bool = Field(description="The answer is above the confidence threshold (not only the closest rule).")
    confidence: float = Field(description="Share of the question's weighted words the best sentence covers (0-1).")
    score: float
    doc_id: str | None
    place_not_covered: bool = Field(description="The text names a place no document covers.")


@router.post("/evidence", response_model=EvidenceOut)
async def evidence(body: EvidenceIn) -> EvidenceOut:
    """How well the documents answer a text, without recording it: the assistant weighs this against its
    intent ranking on every free-text turn (bot/hotline_nlu/evidence.py)."""
    answer = await run_in_threadpool(ask, body.text)
    return EvidenceOut(
        answered=answer.answered or answer.closest,
        exact=answer.answered,
        confidence=answer.confidence,
        score=answer.score,
        doc_id=answer.citation.doc_id if answer.citation else None,
        place_not_covered=answer.reason == "place_not_covered",
    )


@router.post("/ask", response_model=AskOut)
async def ask_policy(body: AskIn) -> AskOut:
    """Answer from the federation's own documents; unanswered questions are kept for staff."""
    answer = await run_in_threadpool(ask, body.question, channel=None if body.more else body.channel, more=body.more)
    return AskOut(
        answered=answer.answered,
        answer=answer.reply,
        voice_answer=answer.voice,
        citation=answer.citation.full() if answer.citation else None,
        score=answer.score,
        confidence=answer.confidence,
        offer_work_order=answer.offer_work_order,
    )
