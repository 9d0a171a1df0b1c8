"""Start Rasa with its API token taken from the environment.

`rasa run --auth-token` would put the token on the command line, where any local user
reads it with `ps`; here it is added to the arguments inside the process. Rasa listens on
HOTLINE_RASA_INTERFACE (loopback unless a private interface is named).
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    token = os.environ.get("HOTLINE_RASA_TOKEN", "")
    if not token:
        sys.exit("HOTLINE_RASA_TOKEN is not set: Rasa would accept anyone. Start the stack with `make run`.")
    interface = os.environ.get("HOTLINE_RASA_INTERFACE", "127.0.0.1")
    sys.argv = ["rasa", *sys.argv[1:], "--auth-token", token, "--interface", interface]
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
