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

from chinese_numbers.digits import NUMERAL_CHARS, chinese_number

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
# Everyday words for what the documents say in the register of government papers. The spoken word
# is replaced by the first formal word before the search, and a passage that uses any of the formal
# words counts as saying it ("兼着" -> 兼任 / 兼职, "工钱" -> 待遇 / 补贴 / 经费).
PARAPHRASES: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = (
    (("兼着", "兼着干", "兼一下"), ("兼任", "兼职", "担任")),
    (("谁来当", "谁当", "谁来干", "谁干", "来当", "当主席", "当头"), ("担任", "兼任", "由")),
    (("工钱", "工资", "薪水", "报酬", "补助钱"), ("待遇", "补贴", "经费")),
    (("谁出钱", "谁给钱", "谁给发", "哪出的钱", "哪来的钱", "从哪来", "钱从哪"), ("负担", "资金", "经费", "财政")),
    (("钱",), ("经费", "资金", "补贴")),
    (("涨", "加钱"), ("提高", "增加")),
    (("开会", "开大会", "开一回", "开一次"), ("召开", "会议")),
    (("干多久", "干几年", "当几年", "任多久"), ("任期", "任满", "届")),
    (("上门来", "到家里", "来家里", "上家里"), ("上门", "入户")),
    (("在家", "家里头"), ("居家", "家庭")),
    (("看看", "去看望", "来看望", "探望"), ("走访", "探视", "访视")),
    (("本事", "本领"), ("能力", "素质")),
    (("榜样", "好人好事"), ("模范", "典型", "先进")),
    (("讲解", "讲讲", "解释"), ("宣传", "解读", "宣讲")),
    (("地方", "场地", "地儿", "屋子"), ("场所", "阵地", "场地")),
    (("盖楼", "盖房", "地皮", "给地"), ("用地", "建设")),
    (("人手",), ("力量", "人员", "编制")),
    (("活干", "找工作", "找活", "上班挣钱"), ("就业", "岗位")),
    (("上学", "念书", "读书"), ("教育", "入学")),
    (("看病",), ("医疗", "康复")),
    (("网上",), ("互联网", "在线", "信息化")),
    (("换掉", "撤掉", "辞退", "不让干"), ("退出", "能进能出", "动态")),
    (("听谁的", "归谁管", "谁领导"), ("领导", "指导")),
    (("拍板", "说了算", "做主"), ("决策", "决定", "评价")),
    (("大事",), ("重大事项", "重大", "三重一大")),
    (("村干部", "村里干部", "村委"), ("两委", "村委会", "村(居)委会")),
    (("村主任",), ("村委会主任", "主任", "两委")),
    (("家属", "家里人", "亲属", "家人"), ("亲友",)),
    (("聋子", "聋哑人"), ("聋人",)),
    (("瞎子",), ("盲人",)),
    (("评残", "评残疾", "鉴定残疾"), ("残疾评定", "评定")),
    (("补助",), ("补贴", "补助")),
    (("挪作他用", "挪用", "乱用", "挪到别处"), ("变更使用", "用途", "禁止")),
    (("做买卖", "赚钱", "做生意"), ("营利",)),
    (("太慢", "效率低", "拖拉"), ("效率",)),
    (("全办了", "一个地方办"), ("一站式",)),
    (("诉求", "意见", "反映问题"), ("诉求", "信访", "受理")),
    (("小组", "小主"), ("小组",)),
    (("帮扶", "帮一把"), ("帮扶", "帮助", "服务")),
    (("监督", "查一查", "管着"), ("监督", "监管", "评价")),
    (("代表该怎么当", "代表怎么当"), ("代表职责", "履职")),
    (("底子", "基础"), ("基础",)),
    (("照着", "按着", "依着"), ("按照", "根据", "依据")),
    (("党支部", "支部"), ("党组织", "党支部")),
    (("打官司", "告状", "法律问题"), ("法律", "法律援助", "法律服务")),
    (("值班", "坐着上班", "天天去上班", "每天都得去", "去上班"), ("坐班", "驻会")),
    (("结合起来", "结合", "一起搞"), ("联动", "融入", "结合")),
    (("满意不满意", "满意"), ("满意度", "满意")),
    (("在家门口", "家门口", "不用跑老远", "不用跑远"), ("就近", "就地", "就近就便")),
    (("要有残疾人", "得有残疾人"), ("残疾人领导干部", "残疾人")),
    (("定期汇报", "汇报工作", "汇报"), ("汇报", "报告")),
    (("听不见的", "聋的"), ("聋人",)),
)
# A question that asks for several things: "哪三个", "哪几条", "都有哪些", "还有啥".
ASKS_FOR_A_LIST = re.compile(
    r"哪[两三四五六七八九几]|哪些|几个方面|几方面|几条|几支|几类|几项|几块|几个化|都是啥|都有啥|还有啥|还.啥|都.些什么"
)
# What kind of answer a question wants, and the words by which a sentence gives that kind of answer:
# "谁负责" is answered by a sentence that names who is responsible, "钱从哪来" by one about funds,
# "干多久" by one with a term. Used as a small re-ranking bonus between sentences that cover the
# question's topic about equally.
ANSWER_TYPES: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    (
        re.compile(r"谁(来)?(负责|管|抓|牵头|承担|组织)|由谁|哪(个|些|家)(单位|部门|机构)|归谁|谁的事|谁说了算"),
        re.compile(r"负责|责任主体|牵头|主管|组织实施|承担|主体|评价主体"),
    ),
    (
        re.compile(r"钱(从|打)?哪|谁(出|给|掏)钱|哪(来|出)的钱|(经费|资金|钱)(从哪|哪来|谁出|怎么解决|有没有)"),
        re.compile(r"资金|经费|公益金|财政|预算|投入|补助"),
    ),
    (
        re.compile(r"多久|多长时间|几年(?!一次)|任期|干多长"),
        re.compile(r"任满|任期|届|年限|期限|\d+年|[一二三四五六七八九十两]年"),
    ),
    (
        re.compile(r"(支持|鼓励|提倡|赞成)(不|吗|么)|支不支持|(啥|什么)态度|让不让|准不准"),
        re.compile(r"支持|鼓励|培育|提倡|引导|大力"),
    ),
    (
        re.compile(r"谁(来)?评|怎么评|评价|好不好|干得(好|怎么样)"),
        re.compile(r"评价|考核|满意|测评|评议"),
    ),
)
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
    r"同志|姑娘|小姑娘|师傅|大姐|大哥|老师|领导|打听一下|打听|请教一下|请教|再问一句|再问一下|再问个事|问个事|问下|"
    r"我想了解一下|了解一下|想知道|我想知道|告诉我|给我讲讲|讲讲|说说|帮我查一下|查一下|"
    r"怎么样|怎么办|怎么|怎样|如何|什么样|什么|哪些|哪个|哪里|哪儿|多少|几|多久|多长时间|"
    r"能不能|可不可以|可以吗|是不是|有没有|要不要|会不会|行不行|吗|呢|呀|啊|吧|嘛|哦|呗|哈|啦|咧|"
    r"咋样|咋弄|咋办|咋|啥样|啥子|啥|俺们|俺|咱们|咱|那种|这种|这一块|这块|这边|那边|这个|到底|具体|"
    r"谢谢你?|谢啦|多谢|喂+|好的|知道了|明白了|听得到|听得见|听到了|在吗|在不在|"
    r"主要|平时|一般|到底|这回|这次|那几年|最后|老说|总说|听说|听人说"
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


# A bare number ("3" of "三级") says little about the topic: as much as an everyday word.
DIGITS_INFORMATIVENESS = 6.0
_opencc_lock = threading.Lock()
_opencc: list[object] = []
_SPOKEN_PERCENT = re.compile(rf"百分之([{NUMERAL_CHARS}]+)")
# A spoken number before a counting word ("五年", "三十天", "两名"); plan names ("十三五") have none.
_COUNTING_WORDS = "年|名|个|天|次|人|周岁|岁|万|级|届|项|类|条|家|户|所|支|位"
_SPOKEN_COUNT = re.compile(rf"(?<![{NUMERAL_CHARS}])([{NUMERAL_CHARS}]{{1,4}})(?={_COUNTING_WORDS})")


def to_simplified(text: str) -> str:
    """Traditional to Simplified characters (OpenCC t2s), the converter built on first use."""
    with _opencc_lock:
        if not _opencc:
            import opencc  # opencc-python-reimplemented

            _opencc.append(opencc.OpenCC("t2s"))
    return str(_opencc[0].convert(text))  # type: ignore[attr-defined]


def spoken_numbers(text: str) -> str:
    """Numbers as a caller says them, as documents write them: 百分之六十五 -> 65%, 五年 -> 5年, 一半 -> 50%."""

    def percent(match: re.Match[str]) -> str:
        value = chinese_number(match.group(1))
        return f"{value}%" if value is not None else match.group(0)

    def count(match: re.Match[str]) -> str:
        value = chinese_number(match.group(1))
        return str(value) if value is not None else match.group(0)

    text = _SPOKEN_PERCENT.sub(percent, text).replace("一半", "50%")
    return _SPOKEN_COUNT.sub(count, text)


def normalize(text: str) -> str:
    """Full-width to half-width, Simplified characters, lower case, spoken numbers as digits,
    synonyms folded to their canonical spelling."""
    text = spoken_numbers(to_simplified(unicodedata.normalize("NFKC", text)).lower())
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
    if word.replace(".", "").isdigit():
        return DIGITS_INFORMATIVENESS
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


_PARAPHRASE_KEYS = sorted(
    ((key, formal) for keys, formal in PARAPHRASES for key in keys), key=lambda pair: len(pair[0]), reverse=True
)


def paraphrase(text: str) -> tuple[str, dict[str, tuple[str, ...]]]:
    """(text with everyday words replaced by their formal word, formal word -> every formal alternative)."""
    alternatives: dict[str, tuple[str, ...]] = {}
    for key, formal in _PARAPHRASE_KEYS:
        if key in text:
            text = text.replace(key, f" {formal[0]} ")
            alternatives[formal[0]] = tuple(dict.fromkeys((*alternatives.get(formal[0], ()), *formal)))
    return text, alternatives


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


def answer_type_bonus(question: str, sentence: str) -> bool:
    """The question asks for a kind of answer (who, which funds, how long…) that this sentence gives."""
    return any(q.search(question) and a.search(sentence) for q, a in ANSWER_TYPES)
