"""The assistant's own checks, run in its Python 3.10 environment and counted in this summary.

Data validation, the test stories, the NLU evaluation (5-fold cross-validation with
the per-intent report, and the held-out set) and the action unit tests against the
real running app (the session `stack`).
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


# The gate: 5-fold intent macro-F1 >= 0.93. nlu_eval.py pins the fold shuffling (seed 0), so runs compare:
# 0.9330 on the current 3,484 examples (DIET blended with a char n-gram logistic regression over the text between
# start and end marks, plus two rounds of contrast examples for the most confused pairs); 0.9281 before the second
# round, 0.9205 before the start/end marks, 0.903 with DIET alone on 3,050, 0.881 with [256, 128] hidden layers on
# 2,479, 0.786-0.796 at the start. The weakest intents are faq (it spans eight FAQ topics), out_of_scope and inform.
# The report is printed on every run.
MIN_CV_F1 = 0.93
MIN_HOLDOUT_ACCURACY = 0.93


@pytest.mark.timeout(2700)  # five trainings plus the held-out run: about 13 minutes here (30 epochs), more under load
def test_nlu_cross_validation_and_holdout(capsys: pytest.CaptureFixture[str]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    out = subprocess.run(
        [
            str(ROOT / ".venv-bot/bin/python"),
            str(BOT / "tests/nlu_eval.py"),
            "--model",
            str(trained_model()),
            "--out",
            str(ARTIFACTS / "nlu"),
            "--min-f1",
            str(MIN_CV_F1),
            "--min-holdout-accuracy",
            str(MIN_HOLDOUT_ACCURACY),
        ],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=2400,
        check=False,
    )
    with capsys.disabled():
        print("\n" + out.stdout[-12000:])
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]


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
