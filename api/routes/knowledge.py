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


class AskOut(BaseModel):
    answered: bool
    answer: str = Field(description="The text reply: quoted sentences and the citation, or the no-answer message.")
    voice_answer: str = Field(description="Short form for speech.")
    citation: str | None
    score: float
    confidence: float


@router.post("/ask", response_model=AskOut)
async def ask_policy(body: AskIn) -> AskOut:
    """Answer from the federation's own documents; unanswered questions are kept for staff."""
    answer = await run_in_threadpool(ask, body.question, channel=body.channel)
    return AskOut(
        answered=answer.answered,
        answer=answer.reply,
        voice_answer=answer.voice,
        citation=answer.citation.full() if answer.citation else None,
        score=answer.score,
        confidence=answer.confidence,
    )
