"""Ingestion on the raw files: web-page noise is gone, metadata is read, section paths are right."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from api.knowledge.ingest import Document, parse_document, split_sentences

from .conftest import CORPUS

SHARED = Path(__file__).resolve().parents[3] / "shared" / "policy_docs"
NOISE = [
    "ICP",
    "公网安备",
    "网站标识码",
    "网站地图",
    "联系我们",
    "网站声明",
    "关于本站",
    "当前的位置",
    "首页",
    "综合要闻",
    "政民互动",
    "支持Ipv6",
    "无障碍操作说明",
    "党政机关标识",
    "技术支持",
    "主办",
    "承办",
    "微博",
    "政务新闻媒体矩阵",
    "加入收藏",
    "由会员分享",
    "在线阅读",
    "第一文库网",
    "h4sia",
    "<",
    ">",
    "&nbsp",
    "\xa0",
    "印发给你们",
    "民意街道党政综合办公室",
]


def _find(doc: Document, fragment: str) -> tuple[str, ...]:
    hits = [s for s in doc.sentences if fragment in s.text]
    assert hits, f"no sentence contains {fragment!r} in {doc.doc_id}"
    return hits[0].path


def test_corpus_copied_byte_for_byte() -> None:
    if not SHARED.is_dir():
        pytest.skip("shared/policy_docs not beside the checkout")
    for src in SHARED.iterdir():
        assert (CORPUS / src.name).read_bytes() == src.read_bytes(), src.name


def test_every_document_yields_sentences(corpus_docs: dict[str, Document]) -> None:
    assert len(corpus_docs) == 5
    for doc in corpus_docs.values():
        assert len(doc.sentences) >= 30, doc.doc_id


@pytest.mark.parametrize("fragment", NOISE)
def test_no_web_page_noise_survives(corpus_docs: dict[str, Document], fragment: str) -> None:
    for doc in corpus_docs.values():
        for s in doc.sentences:
            assert fragment not in s.text, (doc.doc_id, s.text)
            assert fragment not in s.section, (doc.doc_id, s.section)


def test_no_page_numbers_or_empty_sentences(corpus_docs: dict[str, Document]) -> None:
    for doc in corpus_docs.values():
        for s in doc.sentences:
            assert not re.match(r"^\d{1,3}、", s.text), s.text
            assert len(s.text) >= 3, s.text


def test_page_break_rejoined_mid_sentence(corpus_docs: dict[str, Document]) -> None:
    """In the shared-by-member page "…切实加强各项\\n3、建设。" is one sentence."""
    doc = corpus_docs["004_090302efc44af654.txt"]
    assert any("切实加强各项建设。" in s.text for s in doc.sentences)
    assert any(s.text.startswith("委员中至少明确1名为专职委员") for s in doc.sentences)


@pytest.mark.parametrize(
    ("doc_id", "title", "issuer", "date", "region"),
    [
        (
            "000_152a772414c7805d.txt",
            "石家庄市残疾人联合会改革实施方案",
            "石家庄市人民政府办公室",
            "2019-12-30",
            "石家庄",
        ),
        (
            "001_2ca6db4dc01b3a74.txt",
            "甘肃省基层残疾人综合服务能力建设“十三五”实施方案",
            "甘肃省",
            "2016—2020年",
            "甘肃",
        ),
        (
            "002_b17fbb1a17816d85.txt",
            "天津市残疾人组织建设工作“十二五”实施方案",
            "天津残疾人联合会",
            "2014-09-17",
            "天津",
        ),
        (
            "003_b6ba1d5b91b6dfaa.txt",
            "民意街残疾人联合会改革实施方案",
            "江汉区人民政府民意街道办事处",
            "2021-05-24",
            "民意街",
        ),
        ("004_090302efc44af654.txt", "加强和改进村(社区)残疾人协会工作的实施意见", "XX省", "", None),
    ],
)
def test_metadata(
    corpus_docs: dict[str, Document], doc_id: str, title: str, issuer: str, date: str, region: str | None
) -> None:
    doc = corpus_docs[doc_id]
    assert (doc.title, doc.issuer, doc.date) == (title, issuer, date)
    if region is None:
        assert doc.regions == ()  # a template with the province redacted governs no known place
    else:
        assert region in doc.regions


def test_region_chain_reaches_city_and_province(corpus_docs: dict[str, Document]) -> None:
    assert {"江汉", "武汉", "湖北"} <= set(corpus_docs["003_b6ba1d5b91b6dfaa.txt"].regions)
    assert "河北" in corpus_docs["000_152a772414c7805d.txt"].regions


@pytest.mark.parametrize(
    ("doc_id", "fragment", "path"),
    [
        (
            "000_152a772414c7805d.txt",
            "提高到65%以上,基层一线委员的比例提高到35%以上",
            ("二、改革措施", "(一)健全组织体系", "1.增强领导机构代表性和广泛性"),
        ),
        (
            "000_152a772414c7805d.txt",
            "探索由指定托养机构转变为个人自选托养机构",
            ("二、改革措施", "(五)创新残疾人工作的载体和方式", "2.改革资金支付方式"),
        ),
        ("000_152a772414c7805d.txt", "市残联成立改革工作领导小组", ("三、组织实施", "(一)加强组织领导")),
        (
            "001_2ca6db4dc01b3a74.txt",
            "县级残联每5年召开一次代表大会",
            ("三、主要措施", "(三)加强基层残疾人组织服务能力建设", "1.推进基层组织规范化建设", "⑴强化县级残联组织"),
        ),
        (
            "001_2ca6db4dc01b3a74.txt",
            "村(居)委会主任或副主任负责辖区内残疾人工作并兼任残协主席",
            ("三、主要措施", "(三)加强基层残疾人组织服务能力建设", "1.推进基层组织规范化建设", "⑶健全基层残协组织"),
        ),
        (
            "001_2ca6db4dc01b3a74.txt",
            "乡镇(街道)至少设立1个残疾人日间照料托养服务机构",
            ("三、主要措施", "(二)提高乡镇(街道)及村(社区)服务能力"),
        ),
        ("002_b17fbb1a17816d85.txt", "注册助残志愿者达到10万人", ("二、任务目标",)),
        (
            "002_b17fbb1a17816d85.txt",
            "减免贫困残疾人评定费用",
            ("三、主要措施", "13.进一步加强残疾人证的核发和管理工作"),
        ),
        (
            "003_b6ba1d5b91b6dfaa.txt",
            "残疾人及残疾人亲友的比例提高到70%，",
            ("二、改革措施", "(一)增强组织建设，提升组织效能", "1．增强街残联组织代表性"),
        ),
        (
            "003_b6ba1d5b91b6dfaa.txt",
            "明确社区残协主席由社区主任担任",
            ("二、改革措施", "(二)抓好队伍建设，充实选优配强"),
        ),
        ("004_090302efc44af654.txt", "20XX年底前", ("一、总体要求",)),
        (
            "004_090302efc44af654.txt",
            "副主席2至3名",
            ("二、主要任务", "(三)壮大工作力量,扩展村(社区)残协的代表面"),
        ),
        ("004_090302efc44af654.txt", "解决好专职委员的待遇问题", ("三、保障措施", "(二)加大支持保障")),
    ],
)
def test_section_paths(corpus_docs: dict[str, Document], doc_id: str, fragment: str, path: tuple[str, ...]) -> None:
    assert _find(corpus_docs[doc_id], fragment) == path


def test_saved_html_page_is_cleaned() -> None:
    raw = """<html><head><title>关于残疾人证办理的通知_某市人民政府</title><script>var x='一、脚本';</script></head>
    <body><div class="nav">首页 &gt;&gt; 政策文件</div><h1>某市残疾人证办理实施办法</h1>
    <p>一、办理条件</p><p>（一）申请人&nbsp;需持有本市户籍&amp;居住证。</p>
    <p>1．到户籍所在地残联申请；2．提交照片。</p><div>版权所有：某市残联 京ICP备12345678号</div>
    <p>第 2 页</p></body></html>"""
    doc = parse_document("x.html", raw)
    assert doc.title == "某市残疾人证办理实施办法"
    texts = [s.text for s in doc.sentences]
    assert texts[0] == "申请人 需持有本市户籍&居住证。"
    assert doc.sentences[0].path == ("一、办理条件", "（一）申请人 需持有本市户籍&居住证")
    assert all("ICP" not in t and "脚本" not in t and "首页" not in t and t[-1] != "页" for t in texts)


def test_split_sentences_keeps_quotes_and_semicolons() -> None:
    assert split_sentences("甲方负责“审核。”乙方负责发放；丙。丁方备案。") == [
        "甲方负责“审核。”",
        "乙方负责发放；丙。",
        "丁方备案。",
    ]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("一二（）()1.、。；残联证协会 \n<>&ICP备号⑴会员分享")), max_size=300))
def test_parse_never_crashes_and_drops_icp(raw: str) -> None:
    doc = parse_document("fuzz.txt", raw)
    for s in doc.sentences:
        assert "ICP备" not in s.text
        assert s.text.strip() == s.text
