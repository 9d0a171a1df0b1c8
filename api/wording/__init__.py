"""What citizens read and hear, kept as YAML files that federation staff can edit without touching Python.

The shipped wording lives beside this module as `<channel>/<topic>.yml` (for example
`sms/replies.yml`): one folder per channel, because a text message, a web page and a phone
prompt are written differently (a caller hears "按井号键", a reader sees a link), and whoever
edits the phone line's words finds all of them in one folder. Each file is a flat list of
`key: "text"` lines; `{name}` marks a value the hotline fills in.

An office may keep its own wording in `HOTLINE_WORDING_DIR`, laid out the same way and holding
only the keys it changes; they replace the shipped ones key by key. Everything is read once, on
first use, and checked then: a file that is not valid YAML, a text that is empty, an unknown
channel, topic or key, or a placeholder the hotline does not fill in stops with a message naming
the file and key.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from api.settings import get_settings

SHIPPED_DIR = Path(__file__).resolve().parent
CHANNELS = ("web", "sms", "voice")
# The channels that carry each topic. A topic carried by several channels has the same keys, with the
# same placeholders, in each of them: the code asks for them whichever channel the citizen is on.
TOPICS: dict[str, tuple[str, ...]] = {
    "assistant": ("web", "sms", "voice"),
    "rating": ("web", "sms", "voice"),
    "admission": ("web", "sms"),
    "handoff": ("web", "sms"),
    "status": ("web", "sms"),
    "chat": ("web",),
    "feedback": ("web",),
    "replies": ("sms",),
    "follow_up": ("sms",),
    "call": ("voice",),
    "keys": ("voice",),
    "follow_up_call": ("voice",),
}
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")


class WordingError(ValueError):
    """A wording file that cannot be used; the message names the file and the key."""


def placeholders(template: str) -> frozenset[str]:
    """The `{name}` fields of a text; ValueError for an unbalanced brace or a field that is not a plain name."""
    names = set()
    for _, name, spec, conversion in string.Formatter().parse(template):
        if name is None:
            continue
        if not _KEY.match(name) or spec or conversion:
            raise ValueError(f"{{{name}}} is not a plain {{name}} placeholder")
        names.add(name)
    return frozenset(names)


def _read_file(path: Path) -> dict[str, str]:
    """One wording file: a mapping of keys to non-empty texts whose placeholders parse."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise WordingError(f"{path}: not valid YAML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WordingError(f"{path}: cannot be read: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise WordingError(f'{path}: must be a list of `key: "text"` lines')
    texts: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or not _KEY.match(key):
            raise WordingError(f"{path}: key {key!r} must be lower-case letters, digits and _")
        if not isinstance(value, str):
            raise WordingError(f"{path}: {key}: the text must be in quotes (found {type(value).__name__})")
        if not value.strip():
            raise WordingError(f"{path}: {key}: the text is empty")
        try:
            placeholders(value)
        except ValueError as exc:
            raise WordingError(f"{path}: {key}: {exc} (write {{{{ and }}}} for a literal brace)") from None
        texts[key] = value
    return texts


def _read_tree(root: Path) -> dict[tuple[str, str], dict[str, str]]:
    """Every `<channel>/<topic>.yml` under `root`; an unknown channel or topic is a mistake, not ignored."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for path in sorted(root.glob("*/*.y*ml")):
        channel, topic = path.parent.name, path.stem
        if channel not in CHANNELS:
            raise WordingError(f"{path}: unknown channel {channel!r} (one of {', '.join(CHANNELS)})")
        if channel not in TOPICS.get(topic, ()):
            carried = [t for t, channels in TOPICS.items() if channel in channels]
            raise WordingError(f"{path}: unknown topic {topic!r} for {channel} (one of {', '.join(carried)})")
        if (channel, topic) in found:
            raise WordingError(f"{path}: {channel}/{topic} is given twice (.yml and .yaml)")
        found[(channel, topic)] = _read_file(path)
    return found


@dataclass(frozen=True)
class Wording:
    """Every text, by (channel, topic) and key."""

    files: dict[tuple[str, str], dict[str, str]]

    def template(self, channel: str, key: str) -> str:
        topic, _, name = key.partition(".")
        try:
            return self.files[(channel, topic)][name]
        except KeyError:
            raise KeyError(f"no wording {key!r} for the {channel} channel") from None


def _merge(shipped: dict[tuple[str, str], dict[str, str]], override_dir: Path) -> None:
    """Lay an office's own texts over the shipped ones, key by key, keeping every placeholder the same."""
    if not override_dir.is_dir():
        raise WordingError(f"HOTLINE_WORDING_DIR: {override_dir} is not a directory")
    for (channel, topic), texts in _read_tree(override_dir).items():
        path = override_dir / channel / f"{topic}.yml"
        base = shipped.get((channel, topic), {})
        for key, value in texts.items():
            if key not in base:
                raise WordingError(f"{path}: {key}: no such key in the shipped {channel}/{topic}.yml")
            if placeholders(value) != placeholders(base[key]):
                wanted = ", ".join(f"{{{n}}}" for n in sorted(placeholders(base[key]))) or "none"
                raise WordingError(f"{path}: {key}: placeholders must be {wanted}, as in the shipped text")
            base[key] = value


def problems(files: Mapping[tuple[str, str], Mapping[str, str]]) -> list[str]:
    """What is missing or inconsistent: every channel of a topic has its file, with the same keys and, key by key,
    the same placeholders as every other channel of that topic."""
    found: list[str] = []
    for topic, channels in TOPICS.items():
        present = [c for c in channels if (c, topic) in files]
        found += [f"{c}/{topic}.yml is missing" for c in channels if c not in present]
        keys = sorted({key for c in present for key in files[(c, topic)]})
        for key in keys:
            missing = [c for c in present if key not in files[(c, topic)]]
            if missing:
                found.append(f"{topic}.{key} is missing in {', '.join(missing)}")
                continue
            shapes = {c: placeholders(files[(c, topic)][key]) for c in present}
            if len(set(shapes.values())) > 1:
                shown = "; ".join(f"{c}: {', '.join(sorted(n)) or 'none'}" for c, n in shapes.items())
                found.append(f"{topic}.{key} has different placeholders ({shown})")
    return found


@lru_cache
def load(override_dir: Path | None = None) -> Wording:
    """The shipped wording, with an office's own directory laid over it; read and checked once per directory."""
    files = _read_tree(SHIPPED_DIR)
    wrong = problems(files)
    if wrong:
        raise WordingError(f"{SHIPPED_DIR}: " + "; ".join(wrong))
    if override_dir is not None:
        _merge(files, override_dir)
    return Wording(files)


def current() -> Wording:
    """The wording this process uses (the settings name the office's directory, if any)."""
    configured = get_settings().wording_dir
    return load(Path(configured).expanduser().resolve() if configured else None)


def text(channel: str, key: str, /, **values: object) -> str:
    """The text for `key` ("topic.name") on `channel`, with its `{placeholders}` filled in from `values`."""
    return current().template(channel, key).format(**values)


@dataclass(frozen=True)
class Template:
    """One text named by (channel, key), read at each use: a module constant that is never loaded at import."""

    channel: str
    key: str

    def format(self, **values: object) -> str:
        return text(self.channel, self.key, **values)

    def __str__(self) -> str:
        return self.format()


def template(channel: str, key: str) -> Template:
    """A module-level stand-in for a text constant: `template(...).format(name=value)` looks it up when used."""
    return Template(channel, key)


class Texts(Mapping[str, str]):
    """One channel's topic as a read-only mapping of key to template, looked up at each use (never at import)."""

    def __init__(self, channel: str, topic: str) -> None:
        self.channel, self.topic = channel, topic

    def _texts(self) -> dict[str, str]:
        return current().files.get((self.channel, self.topic), {})

    def __getitem__(self, key: str) -> str:
        return self._texts()[str(key)]

    def __iter__(self) -> Iterator[str]:
        return iter(self._texts())

    def __len__(self) -> int:
        return len(self._texts())

    def __repr__(self) -> str:
        return f"Texts({self.channel!r}, {self.topic!r})"


def texts(channel: str, topic: str) -> Texts:
    """A lazy view of one `<channel>/<topic>.yml`, for code that formats its templates itself."""
    return Texts(channel, topic)
