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

# Province-level units (short names) and larger cities with their province.
PROVINCES = [
    "北京",
    "天津",
    "上海",
    "重庆",
    "河北",
    "山西",
    "辽宁",
    "吉林",
    "黑龙江",
    "江苏",
    "浙江",
    "安徽",
    "福建",
    "江西",
    "山东",
    "河南",
    "湖北",
    "湖南",
    "广东",
    "海南",
    "四川",
    "贵州",
    "云南",
    "陕西",
    "甘肃",
    "青海",
    "台湾",
    "内蒙古",
    "广西",
    "西藏",
    "宁夏",
    "新疆",
    "香港",
    "澳门",
]
CITIES = dict(
    pair.split(":")
    for pair in [
        "石家庄:河北",
        "唐山:河北",
        "保定:河北",
        "邯郸:河北",
        "太原:山西",
        "大同:山西",
        "沈阳:辽宁",
        "大连:辽宁",
        "长春:吉林",
        "哈尔滨:黑龙江",
        "南京:江苏",
        "苏州:江苏",
        "无锡:江苏",
        "杭州:浙江",
        "宁波:浙江",
        "温州:浙江",
        "合肥:安徽",
        "福州:福建",
        "厦门:福建",
        "南昌:江西",
        "济南:山东",
        "青岛:山东",
        "烟台:山东",
        "郑州:河南",
        "洛阳:河南",
        "武汉:湖北",
        "宜昌:湖北",
        "长沙:湖南",
        "广州:广东",
        "深圳:广东",
        "东莞:广东",
        "佛山:广东",
        "海口:海南",
        "三亚:海南",
        "成都:四川",
        "绵阳:四川",
        "贵阳:贵州",
        "昆明:云南",
        "西安:陕西",
        "兰州:甘肃",
        "天水:甘肃",
        "西宁:青海",
        "呼和浩特:内蒙古",
        "包头:内蒙古",
        "南宁:广西",
        "桂林:广西",
        "拉萨:西藏",
        "银川:宁夏",
        "乌鲁木齐:新疆",
        "江汉:武汉",
    ]
)
_SUFFIX = re.compile(r"(特别行政区|维吾尔自治区|壮族自治区|回族自治区|自治区|自治州|省|市|地区|区|县|旗|镇|乡)$")
_ORG_WORDS = re.compile(r"人民政府|办公厅|办公室|办事处|残疾人联合会|残联|委员会|街道办")


def core(name: str) -> str:
    """ "石家庄市" -> "石家庄"; street names keep 街 because "民意" alone is an ordinary word."""
    name = name.strip()
    if name.endswith("街道"):
        return name[:-1]
    stripped = _SUFFIX.sub("", name)
    return stripped if len(stripped) >= 2 else name


def _with_parents(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        while name and name not in out:
            out.append(name)
            name = CITIES.get(name, "")
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
            if re.fullmatch(r"[\u4e00-\u9fff]{2,3}", part) and (part in PROVINCES or part in CITIES):
                found.append(part)
    for name in [*PROVINCES, *CITIES]:
        if name in title and name not in found:
            found.append(name)
    ordered = _with_parents([n for n in found if n not in ("XX", "")])
    return tuple(sorted(set(ordered), key=ordered.index))


@lru_cache(maxsize=4096)
def _pinyin(text: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(text, style=Style.NORMAL, errors="default"))


def places_in(question: str, corpus_places: frozenset[str]) -> list[str]:
    """Places named in a question: any known name verbatim, corpus places also by sound."""
    named = [n for n in (*corpus_places, *PROVINCES, *CITIES) if n in question]
    syllables = _pinyin(question)
    for name in corpus_places:
        if name in named or len(name) < 2:
            continue
        target = _pinyin(name)
        if any(syllables[i : i + len(target)] == target for i in range(len(syllables) - len(target) + 1)):
            named.append(name)
    return sorted(set(named), key=len, reverse=True)
