"""The assistant's own checks, run in its Python 3.10 environment and counted in this summary.

Data validation, the test stories and the action unit tests against the real running
app (the session `stack`). The NLU cross-validation is a diagnostic (`make nlu-eval`),
not a gate: the assistant is judged end to end through the gateway (tests/conversation/).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT, trained_model

BOT = ROOT / "bot"
RASA = str(ROOT / ".venv-bot/bin/rasa")
ARTIFACTS = ROOT / "test-artifacts"


def _env() -> dict[str, str]:
    return {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(BOT)}


def _nlu_files() -> list[str]:
    return sorted(str(p) for p in (ROOT / "nlu_data").rglob("*.yml") if "policies" not in p.parts)


def _run(args: list[str], *, cwd: Path = BOT, env: dict[str, str] | None = None, timeout: int = 1800) -> str:
    out = subprocess.run(args, cwd=cwd, env=env or _env(), capture_output=True, text=True, timeout=timeout, check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 0, f"{' '.join(args[:3])} failed ({out.returncode}):\n{text[-6000:]}"
    return text


def test_training_data_validates() -> None:
    _run(
        [RASA, "data", "validate", "--data", "data", *_nlu_files(), "--domain", "domain.yml", "--config", "config.yml"]
    )


def test_stories_pass(tmp_path: Path) -> None:
    """`--fail-on-prediction-errors` makes Rasa exit non-zero on any wrong prediction."""
    out = tmp_path / "core"
    _run(
        [
            RASA,
            "test",
            "core",
            "--model",
            str(trained_model()),
            "--stories",
            "tests/test_stories.yml",
            "--out",
            str(out),
            "--fail-on-prediction-errors",
        ]
    )
    failed = out / "failed_test_stories.yml"
    assert not failed.exists() or "- story:" not in failed.read_text(encoding="utf-8")




@pytest.mark.stack
def test_action_units_against_the_running_app(stack) -> None:
    env = {
        **_env(),
        "HOTLINE_TEST_APP_URL": stack.app_url,
        "HOTLINE_TEST_SERVICE_TOKEN": stack.env()["HOTLINE_SERVICE_TOKEN"],
    }
    text = _run(
        [str(ROOT / ".venv-bot/bin/python"), "-m", "pytest", "bot/tests", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=env,
    )
    assert " passed" in text and " skipped" not in text.splitlines()[-1], text[-3000:]
