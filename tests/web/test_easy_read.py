"""Easy-read rewriting: short sentences, everyday words, nothing lost, pure."""

from __future__ import annotations

import re

from accessibility.easy_read import MAX_SENTENCE_CHARS, rewrite, sentences

POLICY = (
    "申请残疾人证须携带以下材料：身份证、户口本、近期两寸免冠照片。如需咨询，请拨打热线12345，"
    "工作人员会及时予以答复，届时请保持电话畅通，逾期未办理的请前往区残联办理手续。您的工单号是202611230007。"
)


def test_one_short_sentence_per_line() -> None:
    lines = rewrite(POLICY).split("\n")
    assert len(lines) >= 6
    for line in lines:
        assert len(line) <= MAX_SENTENCE_CHARS + 4 or line.startswith("如果"), line
        assert line.endswith(("。", "！", "？", "：")) or line.startswith("· ")


def test_official_words_become_everyday_words() -> None:
    out = rewrite(POLICY)
    for hard in ("须", "携带", "予以", "届时", "逾期", "前往", "拨打", "如需"):
        assert hard not in out, hard
    for plain in ("带上", "到时候", "去区残联", "打热线"):
        assert plain in out, plain


def test_lists_after_a_colon_become_one_item_per_line() -> None:
    lines = sentences("办证要带：身份证、户口本、照片。")
    assert lines == ["办证要带：", "· 身份证", "· 户口本", "· 照片"]


def test_numbers_and_words_that_look_similar_survive() -> None:
    out = rewrite("工单号202611230007，电话13800138000。您需要本人到场，必须带凭证。这件事涉及补贴。")
    assert "202611230007" in out and "13800138000" in out
    assert "需要" in out and "必须" in out and "凭证" in out and "涉及" in out


def test_a_condition_stays_with_its_result() -> None:
    lines = sentences("如果您行动不便，可以申请上门办理，工作人员会提前和您约好时间，带着设备到您家里。")
    assert lines[0].startswith("如果您行动不便，") and not lines[0].endswith("不便。")


def test_pure_idempotent_and_empty_safe() -> None:
    once = rewrite(POLICY)
    assert rewrite(POLICY) == once
    assert rewrite(once) == once
    assert rewrite("") == "" and rewrite("   \n ") == ""
    # Markup is plain text here; escaping is the page's job.
    assert "<b>" in rewrite("<b>你好</b>")


def test_no_meaning_is_dropped() -> None:
    src = "补贴每月发放一次。发放日期是每月十五日。"
    assert re.sub(r"\s", "", rewrite(src)) == "补贴每月发放一次。发放日期是每月十五日。"
