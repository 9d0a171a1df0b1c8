"""China's administrative divisions, from the maintained JioNLP gazetteer, for naming places in questions.

A caller names their county ("我们陇西的乡镇残联…"), not the province whose document
answers; every province, prefecture and county name (full, "陇西县", and short, "陇西")
resolves here to its line of parents (陇西 -> 定西 -> 甘肃). A short county name that is
also an everyday word (安定, 和平, 东方, 开发) is only taken with its suffix ("安定区").
Loaded on first use, never at import.
"""

from __future__ import annotations

import contextlib
import io
import threading
from functools import lru_cache

import jieba

# A bare county name more frequent than this in general Chinese is a word first (安定 1278, 和平 7998).
COMMON_WORD_FREQ = 600

_lock = threading.Lock()


def _load_divisions() -> dict[str, object]:
    with contextlib.redirect_stdout(io.StringIO()):  # the library prints a banner on import
        import jionlp

        return dict(jionlp.china_location_loader(detail=False))


def _short(entry: dict[str, object]) -> str:
    alias = entry.get("_alias")
    if isinstance(alias, list):
        alias = alias[0] if alias else ""
    return str(alias or entry.get("_full_name") or "")


def _children(entry: dict[str, object]) -> list[dict[str, object]]:
    return [v for k, v in entry.items() if not k.startswith("_") and isinstance(v, dict)]


@lru_cache(maxsize=1)
def lineages() -> dict[str, tuple[tuple[str, ...], ...]]:
    """Each name a caller may say -> the places it can be, each as (itself, its parents…) in short names."""
    with _lock:
        divisions = _load_divisions()
        jieba.initialize()
    found: dict[str, set[tuple[str, ...]]] = {}

    def add(name: str, line: tuple[str, ...], *, bare: bool) -> None:
        if len(name) < 2:
            return
        if bare and jieba.dt.FREQ.get(name, 0) > COMMON_WORD_FREQ:
            return
        found.setdefault(name, set()).add(line)

    for province in divisions.values():
        if not isinstance(province, dict):
            continue
        p_short = _short(province)
        add(str(province["_full_name"]), (p_short,), bare=False)
        add(p_short, (p_short,), bare=False)
        for city in _children(province):
            c_short = _short(city)
            c_line = (c_short, p_short) if c_short != p_short else (p_short,)
            add(str(city["_full_name"]), c_line, bare=False)
            add(c_short, c_line, bare=False)
            for county in _children(city):
                k_short = _short(county)
                line = (k_short, *c_line)
                add(str(county["_full_name"]), line, bare=False)
                add(k_short, line, bare=True)
    return {name: tuple(sorted(lines)) for name, lines in found.items()}


def names_in(text: str) -> dict[str, tuple[tuple[str, ...], ...]]:
    """The gazetteer names in a text, longest first; a name overlapping one already found is not taken
    ("定西乡" is 定西, not also 西乡)."""
    table = lineages()
    hits: dict[str, tuple[tuple[str, ...], ...]] = {}
    covered: list[tuple[int, int]] = []
    for length in range(min(8, len(text)), 1, -1):
        for start in range(len(text) - length + 1):
            piece = text[start : start + length]
            if piece in table and not any(start < b and a < start + length for a, b in covered):
                hits[piece] = table[piece]
                covered.append((start, start + length))
    return hits
