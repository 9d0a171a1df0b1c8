"""`GET /api/on-duty`: can a person take a conversation now? Asked by the assistant's hand-off."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.services import on_duty

router = APIRouter(prefix="/api/on-duty", tags=["staff"])


class OnDutyOut(BaseModel):
    available: bool
    reason: str = Field(description="on_duty, out_of_hours, nobody_signed_in or no_phone_transfer (voice)")
    hours: str = Field(description="Staffed hours on working days, China time", examples=["08:30-17:30"])
    next_service: str = Field(description="When staff are next on duty, in words; empty when available")


@router.get("", response_model=OnDutyOut)
def get_on_duty(
    user: CurrentUser, session: SessionDep, settings: SettingsDep, channel: Literal["web", "sms", "voice"] = "web"
) -> OnDutyOut:
    """Staffed hours and at least one operator or supervisor signed in to the console; for a caller,
    also a way to move the call to a person."""
    transfer = (
        on_duty.phone_transfer_configured(
            twilio_enabled=settings.twilio_enabled, transfer_number=settings.voice_transfer_number or ""
        )
        if channel == "voice"
        else None
    )
    state = on_duty.on_duty(
        session, hours=settings.voice_service_hours, days=settings.service_days, phone_transfer=transfer
    )
    return OnDutyOut(**state.as_dict())
