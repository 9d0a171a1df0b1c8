"""Moving a call to a person, and what happens when nobody answers.

The call is moved with Twilio's REST API to TwiML that dials the on-duty number (or SIP
address). The staff member hears a short summary before the two are connected (the
`<Number url>` whisper), and when the dial ends unanswered, busy or failed, Twilio asks
the Dial `action` what next: a call-back work order is made and the call returns to the
assistant, whose first words give the order number. The summary is read from the
grievance log, so any app instance can answer Twilio's requests.
"""

from __future__ import annotations

from urllib.parse import urlencode

from sqlmodel import Session, col, select

from api.models.grievance import GrievanceRecord
from api.services.masking import mask_text
from api.settings import Settings

# DialCallStatus values meaning a person took the call (it has now ended): nothing more to do.
ANSWERED = frozenset({"completed", "answered"})
SUMMARY_CHARS = 60


def _url(settings: Settings, path: str, call_sid: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}{path}?{urlencode({'call': call_sid})}"


def dial_twiml(settings: Settings, *, call_sid: str) -> str:
    """TwiML that rings the on-duty target; the summary plays to them first, the outcome comes back to us."""
    from twilio.twiml.voice_response import Dial, VoiceResponse

    target = settings.voice_transfer_number.strip()
    dial = Dial(
        action=_url(settings, "/voice/transfer-result", call_sid),
        method="POST",
        timeout=settings.voice_transfer_ring_seconds,
        caller_id=settings.twilio_phone_number or None,
    )
    whisper = _url(settings, "/voice/whisper", call_sid)
    if target.startswith("sip:"):
        dial.sip(target, url=whisper, method="POST")
    else:
        dial.number(target, url=whisper, method="POST")
    response = VoiceResponse()
    response.append(dial)
    return str(response)


def staff_summary(session: Session, *, session_id: str) -> str:
    """What the staff member hears before the caller is put through: the caller's last words, masked."""
    said = session.exec(
        select(GrievanceRecord.text)
        .where(GrievanceRecord.session_id == session_id, GrievanceRecord.status == "received")
        .where(~col(GrievanceRecord.text).startswith("["))  # key presses are logged as "[按键0] …"
        .order_by(col(GrievanceRecord.id).desc())
        .limit(1)
    ).first()
    if not said:
        return "残联服务热线转来一位来电人，要求人工服务。"
    text = (mask_text(said.strip()) or "")[:SUMMARY_CHARS]
    return f"残联服务热线转来一位来电人。来电人刚才说：{text}。"


def whisper_twiml(summary: str) -> str:
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.say(summary, language="cmn-CN")
    return str(response)


def hang_up_twiml() -> str:
    from twilio.twiml.voice_response import VoiceResponse

    response = VoiceResponse()
    response.hangup()
    return str(response)
