"""Rasa's own argument parser accepts the token however it begins (a generated one may start with "-")."""

from __future__ import annotations

import argparse

import pytest
from rasa.cli.arguments.run import add_server_arguments

from run_rasa import rasa_argv


@pytest.mark.parametrize("token", ["-Ab3_x", "--looks-like-an-option", "plain_token"])
def test_rasa_reads_the_token_and_the_interface(token: str) -> None:
    parser = argparse.ArgumentParser()
    add_server_arguments(parser)
    argv = rasa_argv(["--enable-api", "--port", "5005"], token=token, interface="127.0.0.1")
    parsed = parser.parse_args(argv[1:])
    assert parsed.auth_token == token and parsed.interface == "127.0.0.1" and parsed.enable_api
