#!/usr/bin/env python
"""NLU evaluation of the hotline assistant.

1. 5-fold cross-validation over nlu_data/ (`rasa test nlu --cross-validation`).
2. The held-out set bot/tests/nlu_holdout.yml, written separately from the training
   data, against a model trained on all of nlu_data/ (or --model).

Prints the per-intent report of both and exits 1 when the cross-validation intent
macro-F1 is below --min-f1 (default 0.93) or the held-out accuracy below
--min-holdout-accuracy (default 0.85).

Run from anywhere with the bot environment:
    RASA_TELEMETRY_ENABLED=false .venv-bot/bin/python bot/tests/nlu_eval.py [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

BOT = Path(__file__).resolve().parent.parent
ROOT = BOT.parent
RASA = str(Path(sys.executable).parent / "rasa")
NLU_DATA = ROOT / "nlu_data" / "intents"
HOLDOUT = BOT / "tests" / "nlu_holdout.yml"

# `rasa test nlu --cross-validation` shuffles its folds with an unseeded StratifiedKFold,
# so two runs on the same data differ by +-0.01 macro-F1; pin the folds so that runs
# before and after a data or pipeline change are comparable.
SEEDED_RASA = """
import sys
import sklearn.model_selection as ms
seed = int(sys.argv.pop(1))
_kfold = ms.StratifiedKFold
ms.StratifiedKFold = lambda n_splits, shuffle=True: _kfold(n_splits=n_splits, shuffle=True, random_state=seed)
from rasa.__main__ import main
sys.argv[0] = "rasa"
main()
"""


def run(args: list[str], log: Path, seed: int | None = None) -> None:
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", PYTHONPATH=str(BOT))
    command = [RASA, *args] if seed is None else [sys.executable, "-c", SEEDED_RASA, str(seed), *args]
    with log.open("w") as handle:
        proc = subprocess.run(command, cwd=BOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        print(f"rasa {' '.join(args)} failed; see {log}", file=sys.stderr)
        print(log.read_text()[-3000:], file=sys.stderr)
        sys.exit(2)


def print_report(title: str, report_file: Path) -> dict:
    report = json.loads(report_file.read_text())
    print(f"\n=== {title} ===")
    print(f"{'intent':<24}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}")
    for name, row in sorted(report.items()):
        if not isinstance(row, dict) or name in ("macro avg", "weighted avg", "micro avg"):
            continue
        print(f"{name:<24}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1-score']:>10.3f}{row['support']:>10}")
    for name in ("macro avg", "weighted avg"):
        row = report.get(name)
        if row:
            print(
                f"{name:<24}{row['precision']:>10.3f}{row['recall']:>10.3f}{row['f1-score']:>10.3f}{row['support']:>10}"
            )
    if "accuracy" in report:
        print(f"{'accuracy':<24}{report['accuracy']:>30.3f}")
    return report


def print_confusions(errors_file: Path, top: int = 15) -> None:
    """The most frequent (expected -> predicted) pairs: where new training data helps most."""
    if not errors_file.exists():
        return
    pairs = Counter((err["intent"], err["intent_prediction"]["name"]) for err in json.loads(errors_file.read_text()))
    print("most frequent confusions (expected -> predicted):")
    for (expected, predicted), count in pairs.most_common(top):
        print(f"  {expected} -> {predicted}: {count}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=None, help="results folder (default: a temp dir)")
    parser.add_argument("--model", default=None, help="trained model for the held-out test")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="fold shuffling seed (fixed so runs compare)")
    parser.add_argument("--min-f1", type=float, default=0.93)
    parser.add_argument("--min-holdout-accuracy", type=float, default=0.85)
    parser.add_argument("--skip-cv", action="store_true")
    parser.add_argument("--skip-holdout", action="store_true")
    args = parser.parse_args()

    out = Path(args.out or tempfile.mkdtemp(prefix="hotline-nlu-eval-")).resolve()
    out.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    started = time.monotonic()

    if not args.skip_cv:
        t0 = time.monotonic()
        run(
            [
                "test",
                "nlu",
                "--nlu",
                str(NLU_DATA),
                "--config",
                "config.yml",
                "--cross-validation",
                "--folds",
                str(args.folds),
                "--out",
                str(out / "cv"),
            ],
            out / "cv.log",
            seed=args.seed,
        )
        report = print_report(f"{args.folds}-fold cross-validation (test folds)", out / "cv" / "intent_report.json")
        print_confusions(out / "cv" / "intent_errors.json")
        macro_f1 = report["macro avg"]["f1-score"]
        print(
            f"cross-validation intent macro-F1: {macro_f1:.4f} (threshold {args.min_f1}); {time.monotonic() - t0:.0f}s"
        )
        if macro_f1 < args.min_f1:
            failures.append(f"cross-validation macro-F1 {macro_f1:.4f} < {args.min_f1}")

    if not args.skip_holdout:
        t0 = time.monotonic()
        model = args.model
        if not model:
            run(
                [
                    "train",
                    "nlu",
                    "--nlu",
                    str(NLU_DATA),
                    "--config",
                    "config.yml",
                    "--out",
                    str(out / "model"),
                    "--fixed-model-name",
                    "nlu",
                ],
                out / "train.log",
            )
            model = str(out / "model" / "nlu.tar.gz")
        run(
            ["test", "nlu", "--model", model, "--nlu", str(HOLDOUT), "--out", str(out / "holdout")], out / "holdout.log"
        )
        report = print_report("held-out set", out / "holdout" / "intent_report.json")
        accuracy = report["accuracy"]
        print(
            f"held-out intent accuracy: {accuracy:.4f}, macro-F1: {report['macro avg']['f1-score']:.4f} "
            f"(accuracy threshold {args.min_holdout_accuracy}); {time.monotonic() - t0:.0f}s"
        )
        errors = out / "holdout" / "intent_errors.json"
        if errors.exists():
            for err in json.loads(errors.read_text())[:40]:
                print(
                    f"  miss: {err['text']!r}: expected {err['intent']}, got "
                    f"{err['intent_prediction']['name']} ({err['intent_prediction']['confidence']:.2f})"
                )
        if accuracy < args.min_holdout_accuracy:
            failures.append(f"held-out accuracy {accuracy:.4f} < {args.min_holdout_accuracy}")

    print(f"\nresults in {out}; total {time.monotonic() - started:.0f}s")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
