"""Turn raw policy files (plain text or saved government web pages) into cited sentences.

Government pages arrive with navigation, footers, ICP numbers, HTML debris and
"shared by member" banners; citizens must never hear that read out as policy, so
cleaning happens here, once, and every kept sentence remembers where it sits in
the document (一、/（一）/1./⑴) so that an answer can cite its section.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path

from api.knowledge import places

DOC_SUFFIXES = (".txt", ".html", ".htm")
_TERMINALS = "。！？!?；;"
_CN_NUM = "一二三四五六七八九十"

# Hierarchy markers, outermost first. Full- and half-width forms both occur.
_MARKERS: tuple[tuple[int, re.Pattern[str]], ...] = (
    (1, re.compile(rf"[{_CN_NUM}]{{1,3}}、")),
    (2, re.compile(rf"[（(][{_CN_NUM}]{{1,3}}[）)]")),
    (3, re.compile(r"\d{1,2}[.．](?!\d)")),
    (4, re.compile(r"[⑴-⒇①-⑳]|[（(]\d{1,2}[）)]")),
)
# A marker starts a section only at a line start or right after a sentence ends.
_INLINE_MARKER = re.compile(
    rf"(?:^|(?<=[。；;！？:：]))\s*(?:[{_CN_NUM}]{{1,3}}、|[（(][{_CN_NUM}]{{1,3}}[）)]|\d{{1,2}}[.．](?!\d)"
    r"|[⑴-⒇①-⑳]|[（(]\d{1,2}[）)])"
)
# Common top-level headings of official documents, used to cut a heading that runs into its text.
_HEADING_WORDS = (
    "总体要求",
    "主要任务",
    "保障措施",
    "组织实施",
    "组织领导",
    "工作目标",
    "任务目标",
    "主要目标",
    "基本原则",
    "指导思想",
    "主要措施",
    "改革措施",
    "检查监督",
    "工作要求",
    "背景",
)

_ALWAYS_NOISE = re.compile(r"ICP备|公网安备|网站标识码|由会员分享|页珍藏版|请在.{0,12}上搜索", re.IGNORECASE)
_NOISE = re.compile(
    r"备案号|^主办[:：]|主办$|承办$|技术支持|版权所有|copyright|©|当前的?位置|首页\s*(>|»|/)"
    r"|网站地图|联系我们|网站声明|关于本站|隐私安全|加入收藏|设为首页|帮助信息|无障碍(操作说明|辅助浏览|浏览)|适老化"
    r"|党政机关标识|新闻媒体矩阵|^(微博|微信|打印|关闭|返回顶部|分享到.*)$|支持\s*ipv6|字号\s*[:：]?\s*[大中小]|打印本页|关闭窗口"
    r"|扫一扫|浏览次数|阅读次数|点击数|上一篇|下一篇|由会员分享|在线阅读|页珍藏版"
    r"|^[-—–\s]*\d{1,3}[-—–\s]*$|^第\s*\d+\s*页(\s*/?\s*共\s*\d+\s*页)?$|^\d+\s*/\s*\d+$",
    re.IGNORECASE,
)
_BANNER_TITLE = re.compile(r"《([^》]+?)\.(?:docx?|pdf|wps|txt)》")
_PAGE_MARK = re.compile(r"^(\d{1,3})、")
_DATE_CN = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
_DATE_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_TITLE_END = re.compile(r"(方案|意见|办法|通知|规定|细则|条例|规划|纲要|决定|规则|指南|须知)$")
_ORG_END = re.compile(r"(办公室|办事处|联合会|人民政府|委员会|残联|厅|局)$")
_PLAN_PERIODS = {"十一五": "2006—2010年", "十二五": "2011—2015年", "十三五": "2016—2020年", "十四五": "2021—2025年"}
_BLOCK_TAGS = re.compile(r"<\s*/?\s*(p|div|br|li|tr|h[1-6]|table|ul|ol|section|article|header|footer)\b[^>]*>", re.I)


@dataclass(frozen=True)
class Sentence:
    """One citable sentence and the section path it belongs to."""

    doc_id: str
    position: int
    text: str
    path: tuple[str, ...]

    @property
    def section(self) -> str:
        return " / ".join(self.path)


@dataclass
class Document:
    """A cleaned document: metadata for citations plus its sentences in order."""

    doc_id: str
    title: str
    issuer: str
    date: str
    regions: tuple[str, ...]
    sentences: list[Sentence] = field(default_factory=list)


def strip_html(raw: str) -> str:
    """Drop scripts, styles and tags (block tags become line breaks) and decode entities."""
    text = re.sub(r"<(script|style)\b.*?</\1\s*>", "\n", raw, flags=re.I | re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)
    text = _BLOCK_TAGS.sub("\n", text)
    text = re.sub(r"<[^>]*>", "", text)
    text = html.unescape(text)
    return text.replace("\xa0", " ").replace("\u3000", " ").replace("\r", "")


def _join_page_breaks(lines: list[str]) -> list[str]:
    """Undo "1、…2、…" page numbers that converters put where a page broke mid-sentence."""
    numbered = [i for i, line in enumerate(lines) if _PAGE_MARK.match(line)]
    nums = [int(_PAGE_MARK.match(lines[i]).group(1)) for i in numbered]  # type: ignore[union-attr]
    consecutive = len(nums) >= 3 and nums == list(range(nums[0], nums[0] + len(nums)))
    breaks_mid = sum(1 for i in numbered if i > 0 and lines[i - 1] and lines[i - 1][-1] not in _TERMINALS + "：:")
    if not (consecutive and breaks_mid >= 2):
        return lines
    out: list[str] = []
    for i, line in enumerate(lines):
        if i in numbered:
            body = _PAGE_MARK.sub("", line, count=1)
            if out and out[-1] and out[-1][-1] not in _TERMINALS:
                out[-1] += body
                continue
            out.append(body)
        else:
            out.append(line)
    return out


def _is_noise(line: str) -> bool:
    if _ALWAYS_NOISE.search(line):
        return True
    return bool(_NOISE.search(line)) and (len(line) <= 60 or "。" not in line)


def _find_title(lines: list[str]) -> int | None:
    for i, line in enumerate(lines):
        compact = line.replace(" ", "")
        if not 6 <= len(compact) <= 60 or any(c in compact for c in "《》" + _TERMINALS):
            continue
        if compact.startswith("关于印发") or _marker_at(compact) or not _TITLE_END.search(compact):
            continue
        return i
    return None


def _marker_at(text: str) -> tuple[int, str] | None:
    for level, pattern in _MARKERS:
        m = pattern.match(text)
        if m:
            return level, m.group(0)
    return None


def _norm_date(y: str, m: str, d: str) -> str:
    return f"{int(y):04d}-{int(m):02d}-{int(d):02d}"


def _read_issuer_date(header: list[str], footer: list[str]) -> tuple[str, str]:
    """Issuer from a signature line followed by a date, else the site's "主办" line; date likewise."""
    lines = [x for x in header if x]
    for i, line in enumerate(lines[:-1]):
        m = _DATE_CN.fullmatch(lines[i + 1]) or _DATE_ISO.match(lines[i + 1])
        if m and _ORG_END.search(line) and len(line) <= 30:
            return line, _norm_date(*m.groups())
    issuer = ""
    for line in footer:
        m = re.search(r"主办[:：]\s*(\S+)|^(\S+?)主办$", line)
        if m:
            issuer = m.group(1) or m.group(2)
            break
    for line in lines:
        m = _DATE_CN.fullmatch(line) or _DATE_ISO.match(line)
        if m:
            return issuer, _norm_date(*m.groups())
    return issuer, ""


def _heading_title(level: int, rest: str) -> tuple[str, str]:
    """Split the text after a marker into its heading title and the remaining body text."""
    if level == 1:
        for word in _HEADING_WORDS:
            if rest.startswith(word):
                return word, rest[len(word) :]
        nxt = _MARKERS[1][1].search(rest, 1, 26)
        cut = re.search(r"[。；;,，：:]", rest)
        if nxt and (not cut or nxt.start() < cut.start()):
            return rest[: nxt.start()].strip(), rest[nxt.start() :]
    m = re.search(r"[。；;]|\.(?=[\u4e00-\u9fff])", rest)
    first = rest[: m.start()] if m else rest
    if len(first) <= 25:
        return first.strip(), rest[len(first) + (1 if m else 0) :]
    clause = re.split(r"[,，：:]", first, maxsplit=1)[0]
    return (clause[:25] + ("…" if len(clause) > 25 else "")), rest


def split_sentences(text: str) -> list[str]:
    """Split on sentence ends (including semicolons); tiny fragments stay with their neighbour."""
    parts = re.findall(rf"[^{_TERMINALS}]+[{_TERMINALS}]*[”’」』)）]*|[{_TERMINALS}]+", text)
    out: list[str] = []
    for part in (p.strip() for p in parts):
        if not part:
            continue
        if out and len(part.rstrip(_TERMINALS)) < 4:
            out[-1] += part
        else:
            out.append(part)
    return [s for s in out if len(s.rstrip(_TERMINALS)) >= 2]


def split_sections(paragraphs: list[str]) -> list[tuple[tuple[str, ...], str]]:
    """Walk paragraphs, tracking the 一、/（一）/1./⑴ stack; return (section path, sentence) pairs."""
    stack: list[tuple[int, str]] = []
    result: list[tuple[tuple[str, ...], str]] = []
    for para in paragraphs:
        starts = [m.start() for m in _INLINE_MARKER.finditer(para)] or [0]
        if starts[0] != 0:
            starts.insert(0, 0)
        for a, b in zip(starts, [*starts[1:], len(para)], strict=True):
            chunk = para[a:b].strip()
            while found := _marker_at(chunk):  # "二、主要任务(一)坚持…" opens two levels at once
                level, marker = found
                item = chunk[len(marker) :]
                title, chunk = _heading_title(level, item)
                chunk = chunk.strip()
                if not chunk and item.rstrip().endswith(tuple(_TERMINALS)):
                    chunk = item.strip()  # a one-sentence item is content, not only a heading
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, marker + title))
            path = tuple(label for _, label in stack)
            result.extend((path, s) for s in split_sentences(chunk))
    return result


def read_index(folder: Path) -> dict[str, dict[str, str]]:
    """Optional INDEX.md table (file | title | issuer / place | date): fills what the text lacks."""
    index_file = folder / "INDEX.md"
    rows: dict[str, dict[str, str]] = {}
    if not index_file.is_file():
        return rows
    for line in index_file.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 4 and cells[0].endswith(DOC_SUFFIXES):
            rows[cells[0]] = {"title": cells[1], "issuer": cells[2], "date": cells[3]}
    return rows


def _date_from_index(value: str) -> str:
    if m := re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", value.strip()):
        return _norm_date(*m.groups())
    if m := re.search(r"(\d{4})\s*[–—-]\s*(\d{4})", value):
        return f"{m.group(1)}—{m.group(2)}年"
    return ""


def parse_document(doc_id: str, raw: str, index_row: dict[str, str] | None = None) -> Document:
    """Clean one raw file and split it into cited sentences."""
    row = index_row or {}
    page_title = re.search(r"<title[^>]*>(.*?)</title>", raw, flags=re.I | re.S)
    text = strip_html(raw)
    banner = _BANNER_TITLE.search(text)
    lines = _join_page_breaks([re.sub(r"\s+", " ", x).strip() for x in text.split("\n")])
    title_at = _find_title(lines)
    if banner:
        title = banner.group(1).strip()
    elif title_at is not None:
        title = lines[title_at].replace(" ", "")
    elif page_title:
        title = re.split(r"[_|\-–—]", html.unescape(page_title.group(1)).strip())[0].strip()
    else:
        title = row.get("title", "") or doc_id
    # The header is everything up to the title plus a few lines after it (pages put the date there).
    header = lines[: title_at + 4] if title_at is not None else lines[:5]
    footer = lines[title_at + 1 :] if title_at is not None else lines
    issuer, date = _read_issuer_date(header, footer)
    issuer = issuer or row.get("issuer", "").split("(")[0].strip()
    period = next((v for k, v in _PLAN_PERIODS.items() if k in title), "")
    date = date or period or _date_from_index(row.get("date", ""))

    body = lines[title_at + 1 :] if title_at is not None else lines
    paragraphs: list[str] = []
    for line in body:
        if not line or _is_noise(line) or _DATE_CN.fullmatch(line) or _DATE_ISO.match(line):
            continue
        if re.search(r"\d{4}年\d{1,2}月\d{1,2}日印发$", line):  # colophon of the issuing office
            continue
        if banner and line.startswith(title):
            line = line[len(title) :]
        is_text = line[-1] in _TERMINALS + "”’」』)）" or len(line) >= 30
        if not is_text and not _marker_at(line):
            continue  # short unpunctuated line in the body: a menu item or a caption
        paragraphs.append(line)
    doc = Document(doc_id, title, issuer, date, places.document_regions(title, issuer, row.get("issuer", "")))
    for i, (path, sentence) in enumerate(split_sections(paragraphs)):
        doc.sentences.append(Sentence(doc_id, i, sentence, path))
    return doc


def load_corpus(folder: Path) -> list[Document]:
    """Read every policy file in the folder (sorted, so builds are reproducible)."""
    index = read_index(folder)
    docs = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in DOC_SUFFIXES and path.is_file():
            raw = path.read_bytes().decode("utf-8", errors="replace")
            docs.append(parse_document(path.name, raw, index.get(path.name)))
    return docs
