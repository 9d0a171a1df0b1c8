"""pytest setup for the assistant's action tests (run with the bot environment)."""

import sys
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent
if str(BOT) not in sys.path:
    sys.path.insert(0, str(BOT))
