"""Start Rasa with its API token taken from the environment.

`rasa run --auth-token` would put the token on the command line, where any local user
reads it with `ps`; here it is added to the arguments inside the process. Rasa listens on
HOTLINE_RASA_INTERFACE (loopback unless a private interface is named).
"""

from __future__ import annotations

import os
import sys


def rasa_argv(args: list[str], *, token: str, interface: str) -> list[str]:
    """`--name=value`, never `--name value`: a generated token may start with "-" (token_urlsafe),
    which argparse would take for an option and refuse ("expected one argument")."""
    return ["rasa", *args, f"--auth-token={token}", f"--interface={interface}"]


def main() -> None:
    token = os.environ.get("HOTLINE_RASA_TOKEN", "")
    if not token:
        sys.exit("HOTLINE_RASA_TOKEN is not set: Rasa would accept anyone. Start the stack with `make run`.")
    interface = os.environ.get("HOTLINE_RASA_INTERFACE", "127.0.0.1")
    sys.argv = rasa_argv(sys.argv[1:], token=token, interface=interface)
    from rasa.__main__ import main as rasa_main

    rasa_main()


if __name__ == "__main__":
    main()
