"""Place names: which region a document governs and which place a caller asks about.

Policies differ between places (65% in one city, 70% in another), so the region
of each document and any place named in a question steer ranking. Callers speak,
so a place may arrive as a homophone ("石加庄"); corpus places are also matched by
toneless pinyin.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin

from api.knowledge import gazetteer

_SUFFIX = re.compile(r"(特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|省|市|地区|区|县|旗|镇|乡)$")
_ORG_WORDS = re.compile(r"人民政府|办公厅|办公室|办事处|残疾人联合会|残联|委员会|街道办")


def core(name: str) -> str:
    """ "石家庄市" -> "石家庄"; street names keep 街 because "民意" alone is an ordinary word."""
    name = name.strip()
    if name.endswith("街道"):
        return name[:-1]
    stripped = _SUFFIX.sub("", name)
    return stripped if len(stripped) >= 2 else name


def lineage(name: str, prefer: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """(name, its parents…) from the gazetteer; of several places of that name, one under a
    `prefer` place first; a name the gazetteer does not know stands alone."""
    table = gazetteer.lineages()
    lines = table.get(name) or table.get(core(name)) or ()
    if not lines:
        return (core(name),)
    for line in lines:
        if set(line) & prefer:
            return line
    return lines[0] if len(lines) == 1 else (name,)


def _with_parents(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        for place in lineage(name):
            if place not in out:
                out.append(place)
    return out


def document_regions(title: str, issuer: str, extra: str = "") -> tuple[str, ...]:
    """Places a document governs, most specific first, e.g. ("民意街", "江汉", "武汉", "湖北")."""
    found: list[str] = []
    lead = re.match(r"([\u4e00-\u9fff]{2,6}?(?:省|市|自治区|区|县|街道|街|镇|乡))", title)
    if lead and not re.match(r"(关于|加强|进一步|做好|推进|改进|印发)", lead.group(1)):
        found.append(core(lead.group(1)))
    for text in (issuer, extra):
        for part in _ORG_WORDS.sub(" ", re.sub(r"[()（）]", " ", text)).split():
            for m in re.finditer(r"[\u4e00-\u9fff]{2,6}?(?:省|市|自治区|区|县|街道|街)", part):
                found.append(core(m.group(0)))
            if re.fullmatch(r"[\u4e00-\u9fff]{2,3}", part) and part in gazetteer.lineages():
                found.append(part)
    for name in gazetteer.names_in(title):
        if core(name) not in found:
            found.append(core(name))
    ordered = _with_parents([n for n in found if n not in ("XX", "")])
    return tuple(sorted(set(ordered), key=ordered.index))


@lru_cache(maxsize=4096)
def _pinyin(text: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(text, style=Style.NORMAL, errors="default"))


def places_in(question: str, corpus_places: frozenset[str]) -> list[tuple[str, ...]]:
    """Places named in a question, each with its parents (陇西 -> 陇西, 定西, 甘肃): gazetteer names
    verbatim, corpus places also by sound ("石加庄")."""
    spoken = {name: lineage(name, corpus_places) for name in gazetteer.names_in(question)}
    for name in corpus_places:
        if name in question and not any(name in other for other in spoken):
            spoken[name] = lineage(name, corpus_places)
    syllables = _pinyin(question)
    for name in corpus_places:
        if any(name in other for other in spoken) or len(name) < 2:
            continue
        target = _pinyin(name)
        if any(syllables[i : i + len(target)] == target for i in range(len(syllables) - len(target) + 1)):
            spoken[name] = lineage(name, corpus_places)
    ordered = sorted(spoken, key=len, reverse=True)
    return [(core(name), *[p for p in spoken[name] if p not in (name, core(name))]) for name in ordered]
