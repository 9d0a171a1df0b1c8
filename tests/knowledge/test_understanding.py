"""How questions are understood: spoken numbers, Traditional characters, place names, the answer tiers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.knowledge import answer_question, list_unanswered
from api.knowledge.answer import (
    CLOSEST_MIN_CONFIDENCE,
    DEFAULT_MIN_CONFIDENCE,
    MIN_SUBSTANCE,
    OMITTED,
    PROCEDURE,
    Citation,
    chinese_date,
)
from api.knowledge.gazetteer import lineages, names_in
from api.knowledge.index import KnowledgeIndex
from api.knowledge.places import core, lineage, places_in
from api.knowledge.tokens import (
    ASKS_FOR_A_LIST,
    chinese_number,
    normalize,
    paraphrase,
    spoken_numbers,
    to_simplified,
)

SJZ = "000_152a772414c7805d.txt"
GANSU = "001_2ca6db4dc01b3a74.txt"

# Found by running the questions once against the fixed corpus (nlu_data/policies).
MIDDLING = "残疾人家里装修无障碍有补贴吗"  # best sentence covers ~0.42 of it: the closest rule, not an answer
LOST_CARD = "残疾证丢了怎么补办"  # ~0.60 covered, just under the threshold, but a procedure
FOREIGN_TERM = "我是三级残疾 个人所得税能减免多少"  # 个人所得税 appears nowhere in the corpus
CONTENTLESS = "你们人呢"


def _document(index: KnowledgeIndex, doc_id: str) -> str:
    return "".join(s.text for s in index.sentences if s.doc_id == doc_id)


# spoken numbers and characters


@pytest.mark.parametrize(
    ("spoken", "written"),
    [
        ("百分之六十五", "65%"),
        ("五年", "5年"),
        ("三十天", "30天"),
        ("一半", "50%"),
        ("两名", "2名"),
        ("每五年召开一次", "每5年召开1次"),
        ("十三五", "十三五"),  # a plan's name, not a count: no counting word follows
        ("“十三五”规划", "“十三五”规划"),
    ],
)
def test_spoken_numbers_are_written_as_documents_write_them(spoken: str, written: str) -> None:
    assert spoken_numbers(spoken) == written


def test_chinese_number_reads_numbers_as_spoken() -> None:
    assert chinese_number("六十五") == 65
    assert chinese_number("十") == 10
    assert chinese_number("一百") == 100
    assert chinese_number("二五") is None  # digits read one by one are not a number


def test_traditional_characters_become_simplified() -> None:
    assert to_simplified("殘疾人") == "残疾人"
    assert normalize("殘疾人聯合會") == "残疾人联合会"
    assert normalize("殘疾證") == "残疾人证"  # simplified first, then the synonym folded
    assert normalize("百分之七十") == "70%"


def test_traditional_question_gets_the_same_answer(kb_index: KnowledgeIndex) -> None:
    simplified = answer_question(kb_index, "县级残联几年召开一次代表大会")
    traditional = answer_question(kb_index, "縣級殘聯幾年召開一次代表大會")
    assert simplified.answered and traditional.answered
    assert traditional.text == simplified.text and "每5年召开一次代表大会" in traditional.text


def test_everyday_words_are_paraphrased_in_the_documents_register() -> None:
    text, alternatives = paraphrase("村里残协主席能不能由村干部兼着")
    assert "兼着" not in text and "兼任" in text
    assert "兼职" in alternatives["兼任"] and "担任" in alternatives["兼任"]
    assert "两委" in text and "村委会" in alternatives["两委"]


@pytest.mark.parametrize(("question", "asks"), [("哪三个职能", True), ("都有哪些服务", True), ("残疾证怎么办", False)])
def test_questions_asking_for_a_list(question: str, asks: bool) -> None:
    assert bool(ASKS_FOR_A_LIST.search(question)) is asks


# places


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("陇西", ("陇西", "定西", "甘肃")),
        ("安定区", ("安定", "定西", "甘肃")),
        ("鹿泉", ("鹿泉", "石家庄", "河北")),
        ("正定", ("正定", "石家庄", "河北")),
    ],
)
def test_county_names_resolve_with_their_parents(name: str, line: tuple[str, ...]) -> None:
    assert lineages()[name] == (line,)
    assert names_in(f"我们{name}的残联") == {name: (line,)}
    assert lineage(name) == line


def test_everyday_words_that_are_also_county_names_are_not_places() -> None:
    table = lineages()
    assert "安定" not in table and "和平" not in table
    assert names_in("社会安定") == {}
    assert names_in("世界和平") == {}
    assert names_in("社会安定和平") == {}
    # with its suffix the county is meant
    assert "安定区" in names_in("我住安定区")
    assert ("和平", "天津") in table["和平区"]


def test_overlapping_names_are_not_both_taken() -> None:
    assert "西乡" in lineages()  # a county of 汉中, 陕西 on its own
    assert names_in("定西乡") == {"定西": (("定西", "甘肃"),)}


def test_core_drops_the_administrative_suffix() -> None:
    assert core("石家庄市") == "石家庄"
    assert core("安定区") == "安定"
    assert core("民意街道") == "民意街"


def test_places_in_a_question_against_the_corpus(kb_index: KnowledgeIndex) -> None:
    assert {"天津", "石家庄", "甘肃"} <= kb_index.places
    found = places_in("天津市残联", kb_index.places)
    assert found and found[0][0] == "天津"
    assert places_in("我们陇西的乡镇残联主席", kb_index.places) == [("陇西", "定西", "甘肃")]
    assert places_in("石加庄辅具补贴", kb_index.places)[0][0] == "石家庄"  # a homophone of a corpus place


def test_a_county_is_answered_from_its_province_document(kb_index: KnowledgeIndex) -> None:
    result = kb_index.search("我们陇西的乡镇残联主席一般是谁当")
    assert "甘肃" in result.named_places and result.uncovered_places == []
    a = answer_question(kb_index, "我们陇西的乡镇残联主席一般是谁当")
    assert a.answered and a.reason == "answered"
    assert a.citation is not None and a.citation.doc_id == GANSU
    assert "残联主席" in a.text


def test_a_place_no_document_covers_is_declined(kb_index: KnowledgeIndex) -> None:
    result = kb_index.search("杭州助听器补贴多少钱")
    assert result.uncovered_places == ["杭州"]
    a = answer_question(kb_index, "杭州助听器补贴多少钱")
    assert not a.answered and a.reason == "place_not_covered"
    assert a.citation is None and a.text == ""
    assert "杭州" in a.reply and "咨询工单" in a.reply


# answer tiers


def test_a_middling_question_gets_the_closest_rule(kb_index: KnowledgeIndex) -> None:
    a = answer_question(kb_index, MIDDLING)
    assert a.reason == "closest" and a.closest
    assert not a.answered and a.offer_work_order
    assert CLOSEST_MIN_CONFIDENCE <= a.confidence < DEFAULT_MIN_CONFIDENCE
    assert "没有找到" in a.reply and "咨询工单" in a.reply and "（出处：" in a.reply
    assert a.citation is not None and a.text in a.reply
    assert "没有找到" in a.voice and "登记" in a.voice


def test_non_adjacent_quoted_sentences_are_joined_with_an_ellipsis(kb_index: KnowledgeIndex) -> None:
    a = answer_question(kb_index, MIDDLING)
    assert a.citation is not None
    assert OMITTED in a.text
    document = _document(kb_index, a.citation.doc_id)
    parts = a.text.split(OMITTED)
    assert len(parts) >= 2 and all(part and part in document for part in parts)
    assert a.text.replace(OMITTED, "") not in document  # something really was left out between them


def test_a_procedure_question_never_gets_the_closest_rule(kb_index: KnowledgeIndex) -> None:
    assert PROCEDURE.search(LOST_CARD)
    a = answer_question(kb_index, LOST_CARD)
    # the evidence is middling (it would be quoted as the closest rule for any other question) ...
    assert CLOSEST_MIN_CONFIDENCE <= a.confidence < DEFAULT_MIN_CONFIDENCE
    # ... but a plan's nearby sentence does not tell anyone how to replace a card
    assert a.reason == "low_confidence" and not a.answered
    assert a.citation is None and a.text == ""
    assert "（出处：" not in a.reply and "咨询工单" in a.reply


def test_a_question_without_content_is_declined(kb_index: KnowledgeIndex) -> None:
    assert kb_index.search(CONTENTLESS).substance < MIN_SUBSTANCE
    a = answer_question(kb_index, CONTENTLESS)
    assert not a.answered and a.reason == "low_confidence"
    assert a.citation is None and a.confidence == 0.0


def test_a_term_the_corpus_never_uses_is_not_answered_as_certain(kb_index: KnowledgeIndex) -> None:
    result = kb_index.search(FOREIGN_TERM)
    assert result.foreign_terms == ["个人所得税"]
    assert result.substance >= MIN_SUBSTANCE
    a = answer_question(kb_index, FOREIGN_TERM)
    assert not a.answered and a.reason != "answered"
    assert "个人所得税" not in a.text


def test_substance_and_coverage_of_a_policy_question(kb_index: KnowledgeIndex) -> None:
    result = kb_index.search("县级残联几年召开一次代表大会")
    assert result.substance >= MIN_SUBSTANCE and result.foreign_terms == []
    top = result.hits[0]
    assert top.coverage >= DEFAULT_MIN_CONFIDENCE
    assert kb_index.sentences[top.passage].doc_id == GANSU
    main, _, _ = kb_index.query_tokens("县级残联几年召开一次代表大会")
    assert kb_index.coverage(main, top.passage) == pytest.approx(top.coverage)


# citations


def test_dates_are_written_the_chinese_way() -> None:
    assert chinese_date("2019-12-30") == "2019年12月30日"
    assert chinese_date("2014-09-07") == "2014年9月7日"
    assert chinese_date("2016—2020年") == "2016—2020年"
    assert chinese_date("") == ""
    assert Citation("x", "标题", "XX省", "", "").full() == "《标题》（XX省，未注明日期）"
    dated = Citation("x", "标题", "某市", "2021-05-24", "一、总体要求")
    assert dated.full() == "《标题》（某市，2021年5月24日），一、总体要求"


def test_answers_cite_dates_the_chinese_way(kb_index: KnowledgeIndex) -> None:
    a = answer_question(kb_index, "石家庄辅具适配服务补贴")
    assert a.answered and a.citation is not None and a.citation.doc_id == SJZ
    assert a.citation.date == "2019-12-30"
    assert "2019年12月30日" in a.reply and "2019-12-30" not in a.reply
    gansu = answer_question(kb_index, "县级残联几年召开一次代表大会")
    assert gansu.citation is not None and gansu.citation.doc_id == GANSU
    assert "（甘肃省，2016—2020年）" in gansu.reply


# the endpoints


def test_evidence_for_a_policy_question(client: TestClient) -> None:
    resp = client.post("/api/knowledge/evidence", json={"text": "县级残联几年召开一次代表大会"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["answered"] is True and body["exact"] is True
    assert body["confidence"] >= DEFAULT_MIN_CONFIDENCE and body["score"] > 0
    assert body["doc_id"] == GANSU and body["place_not_covered"] is False


def test_evidence_for_the_closest_rule_and_an_uncovered_place(client: TestClient) -> None:
    closest = client.post("/api/knowledge/evidence", json={"text": MIDDLING}).json()
    assert closest["answered"] is True and closest["exact"] is False and closest["doc_id"]
    hangzhou = client.post("/api/knowledge/evidence", json={"text": "杭州助听器补贴多少钱"}).json()
    assert hangzhou["answered"] is False and hangzhou["place_not_covered"] is True and hangzhou["doc_id"] is None


def test_evidence_for_text_the_documents_do_not_answer(client: TestClient) -> None:
    body = client.post("/api/knowledge/evidence", json={"text": CONTENTLESS}).json()
    assert body["answered"] is False and body["exact"] is False and body["doc_id"] is None
    # a cooking question is never answered as certain
    food = client.post("/api/knowledge/evidence", json={"text": "红烧肉怎么做好吃"}).json()
    assert food["exact"] is False


def test_evidence_rejects_empty_text(client: TestClient) -> None:
    resp = client.post("/api/knowledge/evidence", json={"text": ""})
    assert resp.status_code == 422 and resp.json()["error"]["code"] == "validation_error"
    assert client.post("/api/knowledge/evidence", json={}).status_code == 422


def test_evidence_records_nothing_but_ask_does(client: TestClient, settings_env: Path) -> None:
    kb = settings_env / "kb"
    for text in ("红烧肉怎么做好吃", CONTENTLESS, "杭州助听器补贴多少钱"):
        assert client.post("/api/knowledge/evidence", json={"text": text}).status_code == 200
    assert list_unanswered(data_dir=kb) == []
    resp = client.post("/api/knowledge/ask", json={"question": "红烧肉怎么做好吃", "channel": "web"})
    assert resp.status_code == 200
    body = resp.json()
    assert body["answered"] is False and body["offer_work_order"] is True
    records = list_unanswered(data_dir=kb)
    assert [(r["question"], r["channel"]) for r in records] == [("红烧肉怎么做好吃", "web")]
