"""Tell the assistant that a person holds a conversation, or has handed it back.

Rasa's `handoff` slot drives HandoffPolicy: while it is true the assistant stays
silent. The tracker events API sets it; when Rasa is unreachable the hold in our own
database still stands and the console says the assistant could not be told.
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from api.settings import Settings


async def set_handoff(settings: Settings, *, session_id: str, held: bool) -> bool:
    url = f"{settings.rasa_url}/conversations/{quote(session_id, safe='')}/tracker/events"
    event = {"event": "slot", "name": "handoff", "value": held}
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=2.0)) as client:
            resp = await client.post(url, json=event, params={"include_events": "NONE"})
    except httpx.HTTPError:
        return False
    return resp.status_code == 200
