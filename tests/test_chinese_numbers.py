"""`chinese_numbers`, shared by the app (Python 3.11) and the assistant (Python 3.10, Rasa): standard
library only, the same file in both environments, and the same readings on both sides."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from chinese_numbers import digits, phones
from tests.conftest import ROOT

PACKAGE = ROOT / "chinese_numbers"
BOT_PYTHON = ROOT / ".venv-bot/bin/python"


def test_only_the_standard_library_is_imported() -> None:
    for path in sorted(PACKAGE.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 10))  # 3.10 syntax
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert top in sys.stdlib_module_names or top in ("__future__", "chinese_numbers"), (path, name)


def test_the_assistant_reads_digits_with_the_same_module() -> None:
    if not BOT_PYTHON.exists():
        pytest.skip("the assistant's environment (.venv-bot) is not built")
    # Started as Rasa starts the action server: from bot/, with only bot/ on the path.
    script = (
        "from actions import helpers; import chinese_numbers.digits as d; "
        "print(d.__file__); print(helpers.validate_phone('幺三八 零零幺三 八零零零')); "
        "print(helpers.spoken_digits('202611230007'))"
    )
    done = subprocess.run(
        [str(BOT_PYTHON), "-c", script], cwd=ROOT / "bot", capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    where, phone, spoken = done.stdout.splitlines()
    assert where == str(PACKAGE / "digits.py")
    assert phone == "13800138000" == digits.ascii_digits("幺三八零零幺三八零零零")
    assert spoken == "，".join(digits.read_digits(g) for g in ("2026", "1123", "0007"))


def test_readings_both_ways() -> None:
    assert digits.read_digits("13800138000", phone=True) == "幺三八零零幺三八零零零"
    assert digits.read_digits("2026-11") == "二零二六一一"
    assert digits.ascii_digits("〇洞两幺，拐") == "0021，拐"
    assert digits.ascii_digits("妖拐勾", heard=True) == "179"
    assert [digits.number_to_chinese(n) for n in (10, 65, 200, 10005)] == ["十", "六十五", "两百", "一万零五"]
    assert digits.chinese_number("两百") == 200 and digits.chinese_number("幺") is None


def test_phone_patterns() -> None:
    assert phones.is_mobile("13912345678") and not phones.is_mobile("12912345678")
    assert phones.is_callback_number("01062345678") and not phones.is_callback_number("62345678")
    assert phones.e164_mobile("+86 139-1234-5678") == "+8613912345678" == phones.e164_mobile("8613912345678")
    assert phones.national_mobile("010-62345678") is None and phones.e164_mobile(None) is None
