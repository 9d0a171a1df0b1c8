"""Custom Rasa graph components of the hotline: input normalisation, the emergency
keyword safety net and the handoff policy. Referenced from `config.yml` as
`hotline_nlu.components.<Class>` / `hotline_nlu.policies.<Class>` (Rasa runs with
`bot/` as the working directory, which it puts on `sys.path`).

The project root goes at the end of `sys.path` too, however Rasa, the action server or a test was
started: `chinese_numbers` lives there, the standard-library package the app shares with the
assistant (digit tables, phone-number patterns). Appended, it shadows nothing of the assistant's."""

import sys
from pathlib import Path

_PROJECT_ROOT = str(Path(__file__).resolve().parents[2])
if _PROJECT_ROOT not in sys.path:
    sys.path.append(_PROJECT_ROOT)
