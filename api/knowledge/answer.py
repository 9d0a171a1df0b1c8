"""Answers citizens can trust: the document's own sentences, where they come from, or an honest "don't know".

The hotline must never invent policy. An answer is one or two sentences quoted
from a document with its title, issuer, date and section; when places disagree
each is given with its source; below the confidence threshold the caller is told
there is no reliable answer and offered a consultation work order instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from api.knowledge import entries, tokens
from api.knowledge.index import Hit, KnowledgeIndex, get_index
from api.knowledge.unanswered import record_unanswered
from api.settings import get_settings

DEFAULT_MIN_CONFIDENCE = 0.6
# Between this and the minimum confidence the closest sentence is quoted as such, with the honest
# "no exact rule found" and the offer of a consultation work order: the citizen sees what the
# documents say nearest to the question and decides.
CLOSEST_MIN_CONFIDENCE = 0.3
# How to do something (apply, replace, where to go, what to bring): the documents are plans and
# opinions, so only an exact answer is given, never the closest rule.
PROCEDURE = re.compile(
    r"怎么(办|补办|申请|办理|领|换|补|开)|如何(办|申请|办理|领取)|去哪(里|儿)?(办|申请|领|补|换)|在哪(里|儿)?(办|申请|领)|"
    r"需要(带)?(什么|哪些)(材料|证件|手续)|流程|手续|要带什么|丢了"
)
# What a sentence that really tells someone how to do something says: where to go, what to bring, what
# to fill in. A plan's "做好残疾人证的核发与管理工作" names the card but tells no one how to get it.
HOW_TO = re.compile(
    r"申请|提交|携带|带上|材料|窗口|到[^，。；]{1,12}(办理|申请|领取|登记)|流程|手续|填写|凭|持[^，。；]{0,6}(证|卡)|工作日内"
)
# A question whose content words weigh less than this asks about nothing the documents could answer
# ("你们人呢": one common character); "天津 专职委员" weighs 18, "残联代表大会几年开一次" 46.
MIN_SUBSTANCE = 12.0
CONFLICT_MIN_RATIO = 0.7
SECOND_SENTENCE_RATIO = 0.6
RUNNER_UP_RATIO = 0.8
ALSO_RATIO = 0.75
DETAIL_MAX_CHARS = 400
VOICE_MAX_CHARS = 80
_NUMBER = re.compile(r"\d+(?:\.\d+)?%|\d+(?:[-—至]\d+)?(?:名|个|天|次|年|人|万)")
_CN_ORDINAL = re.compile(r"^([一二三四五六七八九十]+)、")


def chinese_date(value: str) -> str:
    """ "2019-12-30" -> "2019年12月30日"; anything else (a period such as 2016—2020年) as it is."""
    found = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", value.strip())
    return f"{found.group(1)}年{int(found.group(2))}月{int(found.group(3))}日" if found else value


@dataclass(frozen=True)
class Citation:
    """Where a sentence comes from."""

    doc_id: str
    title: str
    issuer: str
    date: str
    section: str

    def full(self) -> str:
        """《标题》（发文单位，日期），章节 — for text channels; dates written the Chinese way."""
        meta = "，".join(x for x in (self.issuer, chinese_date(self.date) or "未注明日期") if x)
        return f"《{self.title}》（{meta}）" + (f"，{self.section}" if self.section else "")

    def short(self) -> str:
        """A citation that can be listened to: abbreviated title and the top-level part only."""
        title = self.title.replace("残疾人联合会", "残联").replace("“", "").replace("”", "")
        part = _CN_ORDINAL.match(self.section)
        return f"《{title}》" + (f"第{part.group(1)}部分" if part else "")


@dataclass(frozen=True)
class Passage:
    """A sentence considered for the answer, with its scores."""

    text: str
    citation: Citation
    score: float
    coverage: float


@dataclass
class Answer:
    """The result of asking: either a cited answer or the no-answer path with a work-order offer."""

    question: str
    answered: bool
    text: str
    citation: Citation | None
    confidence: float
    score: float
    reply: str
    voice: str
    reason: str
    passages: list[Passage] = field(default_factory=list)
    conflicts: list[Passage] = field(default_factory=list)

    @property
    def offer_work_order(self) -> bool:
        return not self.answered

    @property
    def closest(self) -> bool:
        """Not an answer, but the nearest rule is quoted (as such) beside the work-order offer."""
        return self.reason == "closest"


OMITTED = "……"


def _quote(index: KnowledgeIndex, chosen: list[int]) -> str:
    """The chosen sentences as written, "……" where the document's text between them is left out."""
    parts: list[str] = []
    previous: int | None = None
    for passage in chosen:
        if previous is not None and index.neighbour(previous, 1) != passage:
            parts.append(OMITTED)
        parts.append(index.sentences[passage].text)
        previous = passage
    return "".join(parts)


def _citation(index: KnowledgeIndex, passage: int) -> Citation:
    s = index.sentences[passage]
    d = index.docs[s.doc_id]
    return Citation(d.doc_id, d.title, d.issuer, d.date, s.section)


def _numbers(text: str) -> set[str]:
    return set(_NUMBER.findall(text))


def _answer_passages(index: KnowledgeIndex, hits: list[Hit], words: list[str] | None = None) -> list[int]:
    """The top sentence, plus an adjacent one from the same section when it also answers (it ranks
    close, the top sentence is only a lead-in, or it holds a question word the top sentence lacks)."""
    top = hits[0]
    by_passage = {h.passage: h for h in hits}
    chosen = [top.passage]
    for step in (1, -1):
        other = index.neighbour(top.passage, step)
        if other is not None and other in by_passage and by_passage[other].score >= SECOND_SENTENCE_RATIO * top.score:
            chosen.append(other)
            break
    else:
        nxt = index.neighbour(top.passage, 1)
        if nxt is not None and len(index.sentences[top.passage].text) < 20:
            chosen.append(nxt)
        else:
            top_text = index.sentences[top.passage].text
            missing = [w for w in words or [] if len(w) > 1 and ":" not in w and w not in top_text]
            for step in (1, -1):
                other = index.neighbour(top.passage, step)
                if other is not None and any(w in index.sentences[other].text for w in missing):
                    chosen.append(other)
                    break
    # A runner-up of the same document that answers about as well: the question may be about both.
    doc = index.sentences[top.passage].doc_id
    for hit in hits[1:3]:
        if (
            hit.passage not in chosen
            and index.sentences[hit.passage].doc_id == doc
            and hit.coverage >= RUNNER_UP_RATIO * top.coverage
        ):
            chosen.append(hit.passage)
            break
    return sorted(chosen, key=lambda p: index.sentences[p].position)


def _conflicts(index: KnowledgeIndex, hits: list[Hit], min_confidence: float) -> list[Hit]:
    """Best sentences of documents of other places that state different figures on the same point."""
    top = hits[0]
    top_doc = index.docs[index.sentences[top.passage].doc_id]
    top_numbers = _numbers(index.sentences[top.passage].text)
    if not top_numbers or not top_doc.regions:
        return []
    found: dict[str, Hit] = {}
    for hit in hits[1:]:
        doc = index.docs[index.sentences[hit.passage].doc_id]
        if doc.doc_id == top_doc.doc_id or doc.doc_id in found or not doc.regions:
            continue
        if set(doc.regions) & set(top_doc.regions) or hit.bm25 < CONFLICT_MIN_RATIO * top.bm25:
            continue
        numbers = _numbers(index.sentences[hit.passage].text)
        if hit.coverage >= min_confidence and numbers and numbers != top_numbers:
            found[doc.doc_id] = hit
    return list(found.values())


def _also(index: KnowledgeIndex, hits: list[Hit], chosen: list[int]) -> Hit | None:
    """The best sentence of another document that answers about as well as the top one: several
    documents rule on the same matter (who chairs a village association), and the caller did not say
    whose rule they mean."""
    top = hits[0]
    doc = index.sentences[top.passage].doc_id
    for hit in hits[1:4]:
        if hit.passage in chosen or index.sentences[hit.passage].doc_id == doc:
            continue
        return hit if hit.coverage >= ALSO_RATIO * top.coverage else None
    return None


def _voice_text(text: str, query: list[str], question: str = "") -> str:
    """What a caller hears of a quoted passage: the run of up to three clauses (within VOICE_MAX_CHARS)
    sharing the most words, character pairs and figures with the question, and giving the kind of
    answer it asks for (a list, who, funds, a term)."""
    text = text.rstrip("。；;！？!? ")
    if len(text) <= VOICE_MAX_CHARS:
        return text
    clauses = [c for c in re.split(r"[,，;；:：。]", text) if c]
    words = [t for t in query if ":" not in t and len(t) > 1]
    pairs = {t[2:] for t in query if t.startswith("b:")}
    listing = bool(tokens.ASKS_FOR_A_LIST.search(question))

    def value(chunk: str) -> float:
        shared = sum(1 for i in range(len(chunk) - 1) if chunk[i : i + 2] in pairs)
        kind = (2.0 if listing and "、" in chunk else 0.0) + (1.0 if tokens.answer_type_bonus(question, chunk) else 0.0)
        return sum(1 for w in words if w in chunk) + 0.3 * shared + (0.5 if _NUMBER.search(chunk) else 0) + kind

    windows = [
        (i, n)
        for n in (1, 2, 3)
        for i in range(len(clauses) - n + 1)
        if len("，".join(clauses[i : i + n])) <= VOICE_MAX_CHARS
    ] or [(0, 1)]
    if listing or any(q.search(question) for q, _ in tokens.ANSWER_TYPES):
        # the clause that gives the kind of answer asked for (the list, who, the term) is always heard
        core = max(range(len(clauses)), key=lambda i: (listing and clauses[i].count("、") >= 2, value(clauses[i])))
        windows = [(i, n) for i, n in windows if i <= core < i + n] or [(core, 1)]
    i, n = max(windows, key=lambda w: (value("".join(clauses[w[0] : w[0] + w[1]])), -w[1]))
    best = clauses[i : i + n]
    return "，".join(best)


def _no_answer(question: str, confidence: float, score: float, passages: list[Passage], places: list[str]) -> Answer:
    if places:
        lead = f"抱歉，我们的政策文件里没有{'、'.join(places)}的相关规定，"
        reason = "place_not_covered"
    else:
        lead = "抱歉，在我们掌握的政策文件里没有找到这个问题的可靠答案，"
        reason = "low_confidence"
    reply = (
        lead + "为避免给您不准确的信息，这里先不作答。"
        "可以为您登记一个咨询工单，工作人员会在规定时限内答复您。需要登记吗？"
    )
    voice = lead + "可以为您登记咨询工单，由工作人员答复您。需要的话请说“登记”，或者按0转人工。"
    return Answer(question, False, "", None, confidence, score, reply, voice, reason, passages)


def _closest(index: KnowledgeIndex, question: str, hits: list[Hit], passages: list[Passage]) -> Answer:
    """Middling evidence: say that no rule answers exactly, quote the nearest one with its source, offer
    a consultation work order."""
    top = hits[0]
    query, _, _ = index.query_tokens(question)
    chosen = _answer_passages(index, hits, query)
    text = _quote(index, chosen)
    citation = _citation(index, top.passage)
    reply = f"我没有找到与您的问题完全对应的规定。文件里最接近的是：\n{text}\n（出处：{citation.full()}）\n"
    also = _also(index, hits, chosen)
    if also is not None:
        other = _citation(index, also.passage)
        reply += f"《{other.title}》也有相关规定：{index.sentences[also.passage].text}（出处：{other.full()}）\n"
    reply += "如果这没有回答您的问题，可以为您登记一个咨询工单，工作人员会在规定时限内答复您。需要登记吗？"
    heard = _voice_text(index.sentences[top.passage].text, query, question)
    voice = (
        f"我没有找到完全对应的规定。最接近的是{citation.short()}里的这句：{heard}。"
        "如果没有回答您的问题，请说“登记”，为您登记咨询工单。"
    )
    return Answer(question, False, text, citation, top.coverage, top.score, reply, voice, "closest", passages)


def answer_question(
    index: KnowledgeIndex,
    question: str,
    home_region: str = "",
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    k: int = 8,
    closest_confidence: float = CLOSEST_MIN_CONFIDENCE,
) -> Answer:
    """Answer from the index; quote the closest sentence with a work-order offer when the evidence is
    middling; take the no-answer path when it is weak."""
    question = question.strip()
    result = index.search(question, k=k, home_region=home_region)
    passages = [
        Passage(index.sentences[h.passage].text, _citation(index, h.passage), h.score, h.coverage) for h in result.hits
    ]
    if not result.hits or result.substance < MIN_SUBSTANCE:
        return _no_answer(question, 0.0, 0.0, passages, result.uncovered_places)
    top = result.hits[0]
    top_regions = index.docs[index.sentences[top.passage].doc_id].regions
    if result.uncovered_places and top_regions:
        return _no_answer(question, top.coverage, top.score, passages, result.uncovered_places)
    if top.coverage < min(closest_confidence, min_confidence):
        return _no_answer(question, top.coverage, top.score, passages, [])
    if top.coverage < min_confidence or result.foreign_terms:
        if PROCEDURE.search(question):
            # Plans and opinions hold no procedures: a nearby sentence of a plan does not tell anyone
            # how to replace a lost card.
            return _no_answer(question, top.coverage, top.score, passages, [])
        return _closest(index, question, result.hits, passages)
    query, _, _ = index.query_tokens(question)
    chosen = _answer_passages(index, result.hits, query)
    text = _quote(index, chosen)
    if PROCEDURE.search(question) and not HOW_TO.search(text):
        # Asked how to do something, the documents only mention the subject: say so, quote the nearest
        # rule as such, and offer a consultation order rather than pass a plan's goal off as a procedure.
        return _closest(index, question, result.hits, passages)
    citation = _citation(index, top.passage)
    conflicts = [] if result.named_places else _conflicts(index, result.hits, min_confidence)
    conflict_passages = [p for p in passages if any(p.text == index.sentences[h.passage].text for h in conflicts)]
    reply = f"{text}\n（出处：{citation.full()}）"
    # a caller hears the best sentence; the text channels read the neighbours quoted with it too
    top_text = index.sentences[top.passage].text
    voice = f"{_voice_text(top_text if len(top_text) >= 20 else text, query, question)}。这是{citation.short()}的规定。"
    if conflict_passages:
        reply += "\n请注意，各地规定不同：" + "".join(
            f"\n· {p.text}（出处：{p.citation.full()}）" for p in conflict_passages
        )
        voice += "请注意，各地规定不同，" + "".join(
            f"{p.citation.short()}规定：{_voice_text(p.text, query, question)}。" for p in conflict_passages
        )
    elif not result.named_places and (also := _also(index, result.hits, chosen)) is not None:
        other = _citation(index, also.passage)
        reply += f"\n另外，《{other.title}》也有相关规定：{index.sentences[also.passage].text}（出处：{other.full()}）"
    reply += "\n如需了解详细内容，请回复“详细”；也可以转人工服务。"
    voice += "要听详细内容请说“详细”，按9可以把原文发短信给您。"
    return Answer(
        question, True, text, citation, top.coverage, top.score, reply, voice, "answered", passages, conflict_passages
    )


def detail(index: KnowledgeIndex, answer: Answer) -> Answer:
    """The fuller passage behind an answer ("详细"): its whole section, up to DETAIL_MAX_CHARS, with the source."""
    if answer.citation is None or not answer.passages:
        return answer
    top = next(
        (
            i
            for i, s in enumerate(index.sentences)
            if s.text == answer.passages[0].text and s.doc_id == answer.citation.doc_id
        ),
        None,
    )
    if top is None:
        return answer
    chosen = [top]
    for step in (-1, 1):
        current = top
        while (other := index.neighbour(current, step)) is not None:
            if sum(len(index.sentences[p].text) for p in chosen) + len(index.sentences[other].text) > DETAIL_MAX_CHARS:
                break
            chosen.append(other)
            current = other
    chosen.sort(key=lambda p: index.sentences[p].position)
    text = _quote(index, chosen)
    reply = f"详细内容：\n{text}\n（出处：{answer.citation.full()}）"
    voice = f"详细内容是：{text}。这是{answer.citation.short()}的规定。按9可以把原文发短信给您。"
    return replace(answer, text=text, reply=reply, voice=voice)


def _entry_for(question: str) -> entries.Match | None:
    """An approved staff entry for this question; the documents alone when the database cannot say."""
    try:
        return entries.find(question)
    except SQLAlchemyError:
        return None


def _from_entry(question: str, match: entries.Match, *, more: bool) -> Answer:
    """A staff-written answer, always with the source it rests on and the note that staff wrote it."""
    entry = match.entry
    citation = Citation(
        f"entry-{entry.entry_key}", entry.source_title.strip("《》"), "", entry.source_date, entry.source_article
    )
    source = f"（出处：{entry.citation()}；本条由热线工作人员依据出处整理，经审核）"
    if more:
        fuller = entry.answer + (f"\n简单说：{entry.easy_read}" if entry.easy_read else "")
        reply = f"详细内容：\n{fuller}\n{source}"
        voice = f"详细内容是：{entry.answer}。这是根据{citation.short()}整理的答复。按9可以把原文发短信给您。"
    else:
        reply = f"{entry.answer}\n{source}\n如需了解详细内容，请回复“详细”；也可以转人工服务。"
        voice = f"{entry.easy_read or entry.answer}。这是根据{citation.short()}整理的答复。要听详细内容请说“详细”。"
    return Answer(question, True, entry.answer, citation, match.score, match.score, reply, voice, "entry")


def ask(
    question: str,
    *,
    channel: str | None = None,
    home_region: str | None = None,
    min_confidence: float | None = None,
    corpus_dir: Path | None = None,
    data_dir: Path | None = None,
    more: bool = False,
) -> Answer:
    """Answer a citizen's question; with a channel, questions left unanswered are recorded for staff."""
    if (entry := _entry_for(question)) is not None:
        return _from_entry(question, entry, more=more)
    settings = get_settings()
    region = home_region if home_region is not None else getattr(settings, "kb_home_region", "")
    threshold = min_confidence if min_confidence is not None else getattr(settings, "kb_min_confidence", None)
    index = get_index(corpus_dir, data_dir)
    answer = answer_question(index, question, region or "", DEFAULT_MIN_CONFIDENCE if threshold is None else threshold)
    if more:
        return detail(index, answer)
    if channel and answer.offer_work_order and question.strip():
        record_unanswered(question, channel, answer.confidence, data_dir=data_dir)
    return answer
