"""Chinese tokens for BM25: jieba words, character bigrams and pinyin bigrams.

Words carry meaning, character bigrams survive jieba's segmentation mistakes, and
toneless pinyin bigrams survive the homophones a speech recogniser produces
("残连" for 残联). Synonyms are folded to one spelling on both sides so that
"残疾证" finds "残疾人证".
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from functools import lru_cache

import jieba
from pypinyin import Style, lazy_pinyin

# canonical form -> spellings citizens and documents use for the same thing
SYNONYMS: dict[str, tuple[str, ...]] = {
    "残疾人证": ("残疾证", "残废证"),
    "辅助器具": ("辅具", "辅助用具"),
    "残疾人协会": ("残协",),
    "残疾人联合会": ("残联",),
    "残疾人就业保障金": ("残保金", "就业保障金"),
    "专职委员": ("专委",),
    "志愿者": ("义工",),
}
# related services: a question about one should also find the other, at lower weight
RELATED: tuple[tuple[str, str], ...] = (("托养", "日间照料"), ("康复", "复健"))
DOMAIN_WORDS = (
    "残疾人证",
    "残疾人协会",
    "残疾人联合会",
    "专职委员",
    "辅助器具",
    "日间照料",
    "托养",
    "主席团",
    "代表大会",
    "执行理事会",
    "副理事长",
    "理事长",
    "网格员",
    "专门协会",
    "残疾人之家",
    "助残",
    "寄宿制",
)
# question padding that carries no content ("请问…是多少呀")
FILLERS = re.compile(
    r"请问|我想问一下|我想问问|想问一下|问一下|想咨询一下|咨询一下|你好|您好|麻烦|那个|就是说|的话|"
    r"怎么样|怎么办|怎么|怎样|如何|什么样|什么|哪些|哪个|哪里|哪儿|多少|几|多久|多长时间|"
    r"能不能|可不可以|可以吗|是不是|有没有|要不要|会不会|行不行|吗|呢|呀|啊|吧|嘛|哦|呗"
)
STOPWORDS = frozenset(
    [
        "的",
        "了",
        "和",
        "与",
        "及",
        "或",
        "等",
        "是",
        "在",
        "有",
        "要",
        "也",
        "都",
        "就",
        "还",
        "又",
        "被",
        "把",
        "让",
        "给",
        "对",
        "从",
        "向",
        "为",
        "以",
        "由",
        "于",
        "之",
        "其",
        "这",
        "那",
        "我",
        "你",
        "他",
        "她",
        "它",
        "我们",
        "你们",
        "他们",
        "一个",
        "一些",
        "一下",
        "里",
        "里面",
        "上",
        "下",
        "中",
        "去",
        "来",
        "到",
        "能",
        "会",
        "可以",
        "应该",
        "不",
        "没",
        "个",
        "些",
        "啥",
        "谁",
        "几",
        "多",
        "该",
        "得",
        "着",
        "过",
        "跟",
        "同",
        "并",
        "而",
        "但",
        "则",
        "即",
        "如",
        "若",
        "一",
        "现在",
        "时候",
        "一般",
        "一起",
        "现",
        "请",
    ]
)
_VARIANT = re.compile("|".join(sorted((v for vs in SYNONYMS.values() for v in vs), key=len, reverse=True)))
_CANON = {v: k for k, vs in SYNONYMS.items() for v in vs}
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_jieba_lock = threading.Lock()
_jieba_ready = False
_GENERAL_FREQ: dict[str, int] = {}
_GENERAL_TOTAL = 0


def _ensure_jieba() -> None:
    global _jieba_ready
    with _jieba_lock:
        if not _jieba_ready:
            jieba.setLogLevel(60)
            jieba.initialize()
            global _GENERAL_TOTAL
            _GENERAL_TOTAL = jieba.dt.total
            _GENERAL_FREQ.update(jieba.dt.FREQ)
            for word in DOMAIN_WORDS:
                jieba.add_word(word, freq=200000)
            _jieba_ready = True


def normalize(text: str) -> str:
    """Full-width to half-width, lower case, synonyms folded to their canonical spelling."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _VARIANT.sub(lambda m: _CANON[m.group(0)], text)


_LOCATIVE = re.compile(r"(县|村|乡|镇|市|区|街道|社区)里(?!面)")
# A caller saying why they write or ask for help ("我听不见，…") before the question:
# context for staff, not words to look for in the documents.
_SELF_DESCRIPTION = re.compile(
    r"我(?:的)?(?:耳朵|眼睛)?(?:有点|有些|完全)?(?:听不见|听不清|听不到|看不见|看不清|看不到|不好使|不太好|不好)(?:东西|声音)?"
)


def strip_fillers(question: str) -> str:
    """Drop question padding, the caller's description of their own hearing or sight, and
    spoken locatives ("县里" -> "县") that documents never use."""
    return _LOCATIVE.sub(r"\1", FILLERS.sub(" ", _SELF_DESCRIPTION.sub(" ", question)))


@lru_cache(maxsize=65536)
def _pinyin(run: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(run, style=Style.NORMAL))


def char_bigrams(word: str) -> list[str]:
    return [word[i : i + 2] for i in range(len(word) - 1)]


def pinyin_bigrams(word: str) -> list[str]:
    syl = _pinyin(word)
    return [syl[i] + syl[i + 1] for i in range(len(syl) - 1)]


@lru_cache(maxsize=65536)
def informativeness(word: str) -> float:
    """How much a word says, from its frequency in general Chinese (jieba's dictionary): 来 little, 补办 much."""
    _ensure_jieba()
    freq = _GENERAL_FREQ.get(word, 0)
    return math.log(_GENERAL_TOTAL / (freq + 1)) if _GENERAL_TOTAL else 1.0


def tokenize(text: str) -> list[str]:
    """All tokens of a normalized text: words, "b:" character bigrams, "p:" pinyin bigrams."""
    _ensure_jieba()
    # No HMM: guessing unknown words glues characters across word boundaries ("村医来兼" -> "医来").
    words = [
        w for w in (x.strip() for x in jieba.lcut(text, HMM=False)) if w and w not in STOPWORDS and not _is_punct(w)
    ]
    out = list(words)
    for run in _CJK_RUN.findall(text):
        out.extend("b:" + run[i : i + 2] for i in range(len(run) - 1))
        syl = _pinyin(run)
        out.extend(f"p:{syl[i]}{syl[i + 1]}" for i in range(len(syl) - 1))
    return out


@lru_cache(maxsize=65536)
def tokenize_cached(text: str) -> tuple[str, ...]:
    return tuple(tokenize(normalize(text)))


def related_terms(normalized_question: str) -> list[str]:
    """Words related to those in the question (托养 -> 日间照料), for a lower-weight second query."""
    extra = []
    for a, b in RELATED:
        if a in normalized_question and b not in normalized_question:
            extra.append(b)
        elif b in normalized_question and a not in normalized_question:
            extra.append(a)
    return extra


def _is_punct(token: str) -> bool:
    return all(not ch.isalnum() for ch in token)
