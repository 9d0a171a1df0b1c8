"""The citizen-facing wording files: complete for every channel, consistent, and replaceable by an office."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import wording
from api.models.ticket import TicketStatus
from api.settings import get_settings

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for d in ("api", "voice", "accessibility", "staff_console", "hotline") for p in (ROOT / d).rglob("*.py")]


@pytest.fixture
def office(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An office's own wording directory, named by HOTLINE_WORDING_DIR."""
    monkeypatch.setenv("HOTLINE_WORDING_DIR", str(tmp_path))
    get_settings.cache_clear()
    wording.load.cache_clear()
    yield tmp_path
    get_settings.cache_clear()
    wording.load.cache_clear()


def _write(root: Path, channel: str, topic: str, body: str) -> Path:
    path = root / channel / f"{topic}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(body, encoding="utf-8")
    return path


def test_every_channel_of_a_topic_has_every_key_with_the_same_placeholders() -> None:
    files = wording.load().files
    assert wording.problems(files) == []
    assert set(files) == {(c, t) for t, channels in wording.TOPICS.items() for c in channels}


def test_no_text_is_empty() -> None:
    for (channel, topic), texts in wording.load().files.items():
        assert texts, f"{channel}/{topic}.yml holds no text"
        for key, text in texts.items():
            assert text.strip(), f"{channel}/{topic}.{key} is empty"


def test_a_key_missing_in_one_channel_or_a_placeholder_that_differs_is_found() -> None:
    files = {k: dict(v) for k, v in wording.load().files.items()}
    del files[("sms", "rating")]["closed"]
    files[("voice", "assistant")]["fallback"] = "您的留言已经记录，工单号是{record}。"
    del files[("web", "feedback")]
    assert wording.problems(files) == [
        "assistant.fallback has different placeholders (web: number; sms: number; voice: record)",
        "rating.closed is missing in sms",
        "web/feedback.yml is missing",
    ]


def _used_keys() -> Iterator[tuple[Path, str, str]]:
    """(file, channel, "topic.key") for every key the code names literally; a key asked for on a channel
    the code chooses at run time (the citizen's) must exist on every channel of its topic."""
    direct = re.compile(r'wording\.(?:text|template)\(\s*("\w+"|[\w.]+),\s*"(\w+)\.(\w+)"')
    views = re.compile(r'^(\w+) = wording\.texts\("(\w+)", "(\w+)"\)', re.M)
    for path in SOURCES:
        source = path.read_text(encoding="utf-8")
        for channel, topic, key in direct.findall(source):
            for each in [channel.strip('"')] if channel.startswith('"') else wording.TOPICS[topic]:
                yield path, each, f"{topic}.{key}"
        for name, channel, topic in views.findall(source):
            for key in re.findall(rf'\b{name}\["(\w+)"\]', source):
                yield path, channel, f"{topic}.{key}"


def test_every_key_the_code_asks_for_exists() -> None:
    used = list(_used_keys())
    assert len(used) > 60  # the scan finds the call sites (P["greeting"], wording.text("sms", ...) ...)
    shipped = wording.load()
    missing = []
    for path, channel, key in used:
        try:
            shipped.template(channel, key)
        except KeyError:
            missing.append(f"{path.relative_to(ROOT)}: {channel} {key}")
    assert missing == []


def test_every_status_is_explained_on_every_channel_that_shows_it() -> None:
    for channel in wording.TOPICS["status"]:
        assert set(wording.texts(channel, "status")) == {s.value for s in TicketStatus}


def test_the_greetings_give_key_zero_and_the_recording_notice_word_for_word() -> None:
    """voice.call finds where the notice ends in what it says, to know whether the caller heard it."""
    call = wording.texts("voice", "call")
    assert call["notice"] in call["greeting"] and call["notice"] in call["greeting_keypad"]


def test_nothing_is_read_at_import() -> None:
    code = (
        "import hotline.app, voice.call, accessibility.sms, api.services.follow_up; from api import wording; "
        "print(wording.load.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


def test_an_office_replaces_texts_key_by_key(office: Path) -> None:
    _write(office, "sms", "replies", '# 本办公室的短信\nwelcome: "您好，这里是某某区残联热线。"\n')
    _write(office, "voice", "rating", 'closed: "谢谢（{score}分，{label}），工单{number}已办结。"\n')
    assert wording.text("sms", "replies.welcome") == "您好，这里是某某区残联热线。"
    assert wording.text("sms", "replies.no_more") == "没有更多内容了。请继续发送您的问题。"  # shipped
    assert (
        wording.text("voice", "rating.closed", score=5, label="非常满意", number="1")
        == "谢谢（5分，非常满意），工单1已办结。"
    )
    assert wording.text("web", "rating.closed", score=5, label="非常满意", number="1").startswith("谢谢您的评价")


@pytest.mark.parametrize(
    ("channel", "topic", "body", "says"),
    [
        ("sms", "replies", 'welcome: "没有结束的引号\n', "not valid YAML"),
        ("sms", "replies", 'welcome: ""\n', "welcome: the text is empty"),
        ("sms", "replies", "welcome: 110\n", "welcome: the text must be in quotes"),
        ("sms", "replies", 'welcom: "您好"\n', "welcom: no such key in the shipped sms/replies.yml"),
        ("sms", "replies", 'status_missing: "没有查到工单{numbr}。"\n', "placeholders must be {number}"),
        ("sms", "replies", 'too_long: "太长了{n"\n', "too_long:"),
        ("sms", "replies", '- "一条"\n', "must be a list of `key"),
        ("sms", "calls", 'welcome: "您好"\n', "unknown topic 'calls' for sms"),
        ("fax", "replies", 'welcome: "您好"\n', "unknown channel 'fax'"),
    ],
)
def test_a_malformed_office_file_is_refused_at_load_with_its_name(
    office: Path, channel: str, topic: str, body: str, says: str
) -> None:
    path = _write(office, channel, topic, body)
    with pytest.raises(wording.WordingError) as refused:
        wording.current()
    assert str(path) in str(refused.value) and says in str(refused.value)


def test_the_app_does_not_start_with_a_malformed_office_file(office: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hotline.app import create_app

    path = _write(office, "voice", "call", 'greeting: "您好{"\n')
    with pytest.raises(SystemExit):
        create_app()
    assert f"{path}: greeting:" in capsys.readouterr().err


def test_an_office_directory_that_does_not_exist_is_refused(office: Path) -> None:
    office.rmdir()
    with pytest.raises(wording.WordingError, match="HOTLINE_WORDING_DIR"):
        wording.current()
