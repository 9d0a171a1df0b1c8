"""Easy-read (易读) rewriting: short sentences and everyday words.

For readers with intellectual disabilities, elderly readers and deaf readers whose
first language is sign language. The function is pure (no I/O, no state) and
standard-library only, so the web and SMS channels and, if wanted, the assistant's
own Python 3.10 environment can all call it.

Rules, in order: plain words for official ones; one sentence per line; sentences
longer than `max_chars` split at commas without breaking a condition from its
result; a list after a colon becomes one item per line.
"""

from __future__ import annotations

import re

__all__ = ["MAX_SENTENCE_CHARS", "PLAIN_WORDS", "rewrite", "sentences"]

MAX_SENTENCE_CHARS = 20

# Official or written words → words used in everyday speech. Longest keys win.
PLAIN_WORDS: dict[str, str] = {
    "办理手续": "办手续",
    "办理": "办",
    "相关部门": "负责的部门",
    "有关部门": "负责的部门",
    "相关材料": "要用的材料",
    "申请人": "申请的人",
    "携带": "带上",
    "提交": "交",
    "予以": "给",
    "给予": "给",
    "即可": "就可以",
    "如需": "如果要",
    "若需": "如果要",
    "须": "要",
    "需": "要",
    "届时": "到时候",
    "逾期": "过了期限",
    "申领": "申请",
    "前往": "去",
    "拨打": "打",
    "告知": "告诉",
    "获得": "得到",
    "鉴于": "因为",
    "因此": "所以",
    "务必": "一定要",
    "是否": "是不是",
    "知悉": "知道",
    "此外": "另外",
    "以及": "和",
    "及时": "马上",
    "尽快": "快点",
    "受理": "收到",
    "进行": "做",
    "协助": "帮助",
    "咨询": "问",
    "敬请": "请",
    "谅解": "理解",
    "之后": "以后",
    "之前": "以前",
    "所需": "要用的",
    "凭": "拿着",
}

# Words that contain a key above but must stay as they are.
_KEEP = ("必须", "需要", "急需", "必需", "无须", "凭证", "文凭", "咨询电话")

_CONDITION_START = re.compile(r"^(如果|要是|假如|若|因为|由于|只要|只有|除非|虽然|当|为了|一旦)")
_SENTENCE_END = re.compile(r"(?<=[。！？!?；;])|\n+")
_CLAUSE = re.compile(r"(?<=[，,])")
_CITATION = re.compile(r"(（(?:出处|依据)：[^\n]*?）(?=\n|$))")
_LIST_AFTER_COLON = re.compile(r"^(?P<head>[^：:]{1,30}[：:])(?P<items>[^：:]+)$")


def _plain_words(text: str) -> str:
    keep = {f"\x00{i}\x00": word for i, word in enumerate(_KEEP)}
    for marker, word in keep.items():
        text = text.replace(word, marker)
    pattern = re.compile("|".join(re.escape(k) for k in sorted(PLAIN_WORDS, key=len, reverse=True)))
    text = pattern.sub(lambda m: PLAIN_WORDS[m.group(0)], text)
    # "A及B" (and) but not 及时/涉及/普及/来不及/以及 (handled above).
    text = re.sub(r"(?<![涉普以来])及(?![时格])", "和", text)
    for marker, word in keep.items():
        text = text.replace(marker, word)
    return text


def _end(sentence: str) -> str:
    sentence = sentence.strip().rstrip("，,、；;")
    if not sentence:
        return ""
    return sentence if sentence[-1] in "。！？!?：:" else sentence + "。"


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """Split at commas into pieces of at most `max_chars`; a condition keeps its result."""
    if len(sentence) <= max_chars:
        return [sentence]
    clauses = [c for c in _CLAUSE.split(sentence) if c.strip()]
    out: list[str] = []
    current = ""
    glue = False  # the current piece is a bare condition: its result must follow it
    for clause in clauses:
        if current and not glue and len(current) + len(clause) > max_chars:
            out.append(current)
            current = clause
            glue = bool(_CONDITION_START.match(clause.strip()))
        else:
            glue = not current and bool(_CONDITION_START.match(clause.strip()))
            current += clause
    if current:
        out.append(current)
    return out


def _list_lines(sentence: str) -> list[str]:
    """'要带：身份证、户口本、照片。' → head line and one line per item."""
    match = _LIST_AFTER_COLON.match(sentence.strip())
    if not match:
        return [sentence]
    items = [i.strip().rstrip("。；;") for i in re.split(r"[、；;]", match.group("items")) if i.strip()]
    if len(items) < 3:
        return [sentence]
    return [match.group("head")] + [f"· {item}" for item in items]


def sentences(text: str, *, max_chars: int = MAX_SENTENCE_CHARS) -> list[str]:
    """The easy-read lines of `text`, in order. A source line ("（出处：《…》…）") is kept whole and as
    written: a citation cut into pieces or with its words swapped no longer names the document."""
    lines: list[str] = []
    for part in _CITATION.split(text.replace("\r\n", "\n")):
        if _CITATION.fullmatch(part):
            lines.append(part.strip())
        elif part.strip():
            lines.extend(_plain_sentences(part, max_chars))
    return lines


def _plain_sentences(text: str, max_chars: int) -> list[str]:
    text = _plain_words(text)
    lines: list[str] = []
    for raw in _SENTENCE_END.split(text):
        if not raw or not raw.strip():
            continue
        for line in _list_lines(raw.strip()):
            if line.startswith("· ") or line.endswith(("：", ":")):
                lines.append(line)
                continue
            for piece in _split_long(line, max_chars):
                ended = _end(piece)
                if ended and ended not in ("。",):
                    lines.append(ended)
    return lines


def rewrite(text: str, *, max_chars: int = MAX_SENTENCE_CHARS) -> str:
    """Rewrite an answer into easy-read text: one short sentence per line, everyday words."""
    if not text or not text.strip():
        return ""
    return "\n".join(sentences(text, max_chars=max_chars))
