"""Retrieval and answers: synonyms, ASR homophones, places, disagreement, no-answer, cache, CLI, unanswered log."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.knowledge import answer_question, list_unanswered, record_unanswered
from api.knowledge import index as index_module
from api.knowledge.cli import kb_app
from api.knowledge.index import KnowledgeIndex, build_index, corpus_fingerprint, get_index, uploads_dir
from api.knowledge.ingest import load_corpus

from .conftest import CORPUS, ROOT

SJZ = "000_152a772414c7805d.txt"
GANSU = "001_2ca6db4dc01b3a74.txt"
TIANJIN = "002_b17fbb1a17816d85.txt"
MINYI = "003_b6ba1d5b91b6dfaa.txt"
VILLAGE = "004_090302efc44af654.txt"


def test_answer_quotes_document_and_cites_it(kb_index: KnowledgeIndex) -> None:
    a = answer_question(kb_index, "县级残联几年召开一次代表大会")
    assert a.answered and "每5年召开一次代表大会" in a.text
    assert a.citation is not None
    assert a.citation.doc_id == GANSU and a.citation.issuer == "甘肃省"
    assert a.citation.section.endswith("⑴强化县级残联组织")
    assert "《甘肃省基层残疾人综合服务能力建设“十三五”实施方案》" in a.reply
    assert "出处" in a.reply and "详细" in a.reply
    document = "".join(s.text for s in kb_index.sentences if s.doc_id == GANSU)
    # verbatim, never composed: every quoted run is in the document ("……" marks text left out between runs)
    assert all(part in document for part in a.text.split("……"))


def test_voice_form_is_short_and_offers_sms(kb_index: KnowledgeIndex) -> None:
    a = answer_question(kb_index, "专职委员的待遇问题通过哪些途径解决")
    assert a.answered
    assert "按9" in a.voice and "发短信" in a.voice
    spoken = a.voice.split("。这是")[0]
    assert len(spoken) <= 2 * 60
    assert "（" not in a.voice.split("这是")[1].split("的规定")[0].replace("《", "")  # no parenthesised metadata


def test_a_caller_asking_for_a_list_hears_the_list(kb_index: KnowledgeIndex) -> None:
    """The spoken form is one clause window out of a long sentence: for "还帮啥" it is the enumeration."""
    a = answer_question(kb_index, "帮困难的残疾人 帮贫帮急 还帮啥")
    assert a.answered and a.citation is not None and a.citation.doc_id == MINYI
    assert "帮病、帮思想" in a.voice.split("。这是")[0]


@pytest.mark.parametrize(
    ("question", "fact"),
    [
        ("我们平凉新调来的县残联理事长至少得干多久", "任满一届以上"),  # a term: the sentence with the term
    ],
)
def test_the_kind_of_answer_asked_for_decides_between_close_sentences(
    kb_index: KnowledgeIndex, question: str, fact: str
) -> None:
    a = answer_question(kb_index, question)
    assert fact in a.text
    assert fact in a.voice.split("。这是")[0] or fact in a.voice.split("这句：")[-1]


@pytest.mark.parametrize(
    ("question", "doc", "fact"),
    [
        ("残疾证管理系统", TIANJIN, "残疾人证管理系统"),  # 残疾证 = 残疾人证
        ("辅具适配服务有补贴吗", SJZ, "辅助器具适配服务补贴"),  # 辅具 = 辅助器具
        ("村残疾人协会能不能跟邻近村联合成立", VILLAGE, "联合成立残协"),  # 残疾人协会 = 残协
        ("乡镇要建几个托养机构", GANSU, "日间照料托养服务机构"),  # 托养 <-> 日间照料
    ],
)
def test_synonyms(kb_index: KnowledgeIndex, question: str, doc: str, fact: str) -> None:
    a = answer_question(kb_index, question)
    assert a.answered and a.citation is not None
    assert a.citation.doc_id == doc and fact in a.text


def test_homophone_from_speech_recognition(kb_index: KnowledgeIndex) -> None:
    a = answer_question(kb_index, "县级蚕联几年召开一次带表大会")  # 残联 -> 蚕联, 代表 -> 带表
    assert a.answered and "每5年召开一次" in a.text


@pytest.mark.parametrize("preamble", ["你好，我听不见，", "我眼睛看不清，", "我耳朵不好使，"])
def test_caller_describing_their_own_hearing_or_sight_still_gets_the_answer(
    kb_index: KnowledgeIndex, preamble: str
) -> None:
    plain = answer_question(kb_index, "想问县级残联几年开一次代表大会")
    described = answer_question(kb_index, preamble + "想问县级残联几年开一次代表大会")
    assert plain.answered and described.answered
    assert described.text == plain.text and described.citation == plain.citation


def test_a_how_to_question_is_not_answered_with_a_plans_goal(kb_index: KnowledgeIndex) -> None:
    """The documents are plans: "做好残疾人证的核发与管理工作" does not tell anyone how to get the card."""
    a = answer_question(kb_index, "残疾人证怎么办理")
    assert not a.answered and a.closest
    assert a.reply.startswith("我没有找到与您的问题完全对应的规定") and "登记" in a.reply


def test_place_named_in_question_is_preferred(kb_index: KnowledgeIndex) -> None:
    a = answer_question(kb_index, "武汉残联代表大会里残疾人和亲友的比例")
    assert a.citation is not None and a.citation.doc_id == MINYI and "70%" in a.text
    assert not a.conflicts
    b = answer_question(kb_index, "石家庄残联代表大会里残疾人和亲友的比例")
    assert b.citation is not None and b.citation.doc_id == SJZ and "65%" in b.text


def test_place_heard_as_homophone(kb_index: KnowledgeIndex) -> None:
    a = answer_question(kb_index, "石加庄残联代表大会里残疾人和亲友的比例")
    assert a.citation is not None and a.citation.doc_id == SJZ


@pytest.mark.parametrize(("home", "doc", "fact"), [("石家庄市", SJZ, "65%"), ("武汉市", MINYI, "70%")])
def test_home_region_preferred_and_disagreement_reported(
    kb_index: KnowledgeIndex, home: str, doc: str, fact: str
) -> None:
    a = answer_question(kb_index, "残联代表大会代表中残疾人和亲友的比例是多少", home_region=home)
    assert a.citation is not None and a.citation.doc_id == doc and fact in a.text
    other = {SJZ: MINYI, MINYI: SJZ}[doc]
    assert [p.citation.doc_id for p in a.conflicts] == [other]
    assert "各地规定不同" in a.reply and "各地规定不同" in a.voice
    assert "65%" in a.reply and "70%" in a.reply
    assert "石家庄市人民政府办公室" in a.reply and "民意街道办事处" in a.reply


def test_place_without_documents_takes_no_answer_path(kb_index: KnowledgeIndex) -> None:
    a = answer_question(kb_index, "北京残联代表大会里残疾人的比例是多少")
    assert not a.answered and a.reason == "place_not_covered"
    assert "北京" in a.reply and "工单" in a.reply and a.offer_work_order


@pytest.mark.parametrize("question", ["残疾证丢了怎么补办", "今天天气怎么样", "", "   ", "？？？", "a" * 3000])
def test_no_answer_offers_work_order(kb_index: KnowledgeIndex, question: str) -> None:
    a = answer_question(kb_index, question)
    assert not a.answered and a.citation is None and a.text == ""
    assert "没有" in a.reply and "咨询工单" in a.reply and "规定时限" in a.reply
    assert "工单" in a.voice and "按0" in a.voice


def test_threshold_is_a_parameter(kb_index: KnowledgeIndex) -> None:
    q = "县级残联几年召开一次代表大会"
    assert answer_question(kb_index, q, min_confidence=0.5).answered
    assert not answer_question(kb_index, q, min_confidence=1.01).answered


def test_passages_considered_are_reported(kb_index: KnowledgeIndex) -> None:
    a = answer_question(kb_index, "天津注册助残志愿者要达到多少人")
    assert 1 < len(a.passages) <= 8
    # ranked by how much of the question a sentence covers, plus half its share of the best BM25 score,
    # plus the small nudges for the kind of answer asked for
    best = max(p.score for p in a.passages)
    position = {s.text: i for i, s in enumerate(kb_index.sentences)}
    named = kb_index.search(a.question).named_places
    bonus = {p.text: kb_index.bonus(a.question, position[p.text], named) for p in a.passages}
    assert any(bonus.values())  # the 背景 sentence among them is nudged down
    assert a.passages == sorted(a.passages, key=lambda p: -(p.coverage + 0.5 * p.score / best + bonus[p.text]))
    assert a.score == a.passages[0].score


def test_cache_written_reused_and_invalidated(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("某市助残办法\n一、总则\n残疾人证由县级残联核发。\n", encoding="utf-8")
    data = tmp_path / "kb"
    built = build_index(corpus, data)
    assert (data / "passages.json").is_file() and (data / "bm25").is_dir()
    loaded = KnowledgeIndex.load(data, corpus_fingerprint(corpus))
    assert loaded is not None and [s.text for s in loaded.sentences] == [s.text for s in built.sentences]
    assert answer_question(loaded, "残疾证谁发").answered
    (corpus / "b.txt").write_text("某县托养办法\n一、总则\n托养补贴每月发放。\n", encoding="utf-8")
    assert KnowledgeIndex.load(data, corpus_fingerprint(corpus)) is None  # stale: a document was added
    (data / "passages.json").write_text("{broken", encoding="utf-8")
    assert KnowledgeIndex.load(data) is None


def test_get_index_builds_lazily_then_memoizes(tmp_path: Path) -> None:
    data = tmp_path / "kb"
    assert not data.exists()
    first = get_index(CORPUS, data)
    assert (data / "passages.json").is_file()
    assert get_index(CORPUS, data) is first


def test_import_builds_nothing(tmp_path: Path) -> None:
    code = "import api.knowledge, api.knowledge.cli, api.knowledge.index as i; assert not i._loaded"
    env = {"HOTLINE_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    assert not any(tmp_path.iterdir())


def test_unanswered_log_roundtrip(tmp_path: Path) -> None:
    assert list_unanswered(data_dir=tmp_path) == []
    record_unanswered("残疾证丢了怎么补办", "voice", 0.42, data_dir=tmp_path)
    record_unanswered("我电话13812345678帮我查一下", "sms", 0.1, data_dir=tmp_path)
    (tmp_path / "unanswered.jsonl").open("a", encoding="utf-8").write("{torn")
    rows = list_unanswered(data_dir=tmp_path)
    assert [r["channel"] for r in rows] == ["sms", "voice"]
    assert "13812345678" not in rows[0]["question"] and rows[1]["score"] == 0.42
    assert list_unanswered(data_dir=tmp_path, limit=1) == rows[:1]


def test_ask_records_unanswered_only_with_channel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from api.knowledge import ask

    a = ask("导盲犬能不能带进地铁", channel="web", corpus_dir=CORPUS, data_dir=tmp_path)
    assert not a.answered
    ask("县级残联几年召开一次代表大会", channel="web", corpus_dir=CORPUS, data_dir=tmp_path)
    ask("盲人按摩师资格证怎么考", corpus_dir=CORPUS, data_dir=tmp_path)
    assert [r["question"] for r in list_unanswered(data_dir=tmp_path)] == ["导盲犬能不能带进地铁"]


def test_cli_build_and_ask(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--corpus", str(CORPUS), "--data-dir", str(tmp_path)]
    built = runner.invoke(kb_app, ["build", *args])
    assert built.exit_code == 0, built.output
    assert "5 documents" in built.output
    asked = runner.invoke(kb_app, ["ask", "天津注册助残志愿者要达到多少人", *args])
    assert asked.exit_code == 0, asked.output
    assert "10万人" in asked.output and "confidence=" in asked.output and "passages considered" in asked.output
    as_json = runner.invoke(kb_app, ["ask", "导盲犬能不能带进地铁", "--json", "--channel", "cli", *args])
    payload = json.loads(as_json.output)
    assert payload["answered"] is False and payload["citation"] is None
    listed = runner.invoke(kb_app, ["unanswered", "--data-dir", str(tmp_path)])
    assert "导盲犬" in listed.output


def test_a_document_another_instance_added_is_answered_here_after_the_refresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Scaled out, staff add a document on one instance; the others find the rebuilt cache and answer from it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("某市助残办法\n一、总则\n残疾人证由县级残联核发。\n", encoding="utf-8")
    data = tmp_path / "kb"
    here = get_index(corpus, data)
    # The other instance: a document added beside the index, the cache rebuilt; this process's memory untouched.
    uploads_dir(data).mkdir()
    (uploads_dir(data) / "b.txt").write_text("某县托养办法\n一、总则\n托养补贴每月发放。\n", encoding="utf-8")
    other = KnowledgeIndex.from_documents(load_corpus(corpus) + load_corpus(uploads_dir(data)))
    other.save(data, corpus_fingerprint(corpus, uploads_dir(data)))
    assert get_index(corpus, data) is here  # looked at no more than every REFRESH_SECONDS
    monkeypatch.setattr(index_module, "REFRESH_SECONDS", 0.0)
    refreshed = get_index(corpus, data)
    assert refreshed is not here and answer_question(refreshed, "托养补贴什么时候发").answered
    assert get_index(corpus, data) is refreshed  # unchanged cache: the same index


def test_a_half_written_cache_keeps_the_index_in_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("某市助残办法\n一、总则\n残疾人证由县级残联核发。\n", encoding="utf-8")
    data = tmp_path / "kb"
    here = get_index(corpus, data)
    (data / "passages.json").write_text("{half", encoding="utf-8")
    monkeypatch.setattr(index_module, "REFRESH_SECONDS", 0.0)
    assert get_index(corpus, data) is here
