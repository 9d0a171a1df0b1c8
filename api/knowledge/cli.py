"""`hotline kb …`: rebuild the policy index after adding documents, and try questions as a caller would.

Operators drop plain-text or saved HTML pages into the corpus folder and run
`kb build`; `kb ask` shows the answer together with the score and every passage
considered, so that a wrong or missing answer can be understood, not guessed at.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from api.knowledge.answer import ask as ask_question
from api.knowledge.index import build_index, default_corpus_dir, default_data_dir
from api.knowledge.unanswered import list_unanswered

kb_app = typer.Typer(help="政策知识库 / Policy knowledge base: build the index, ask questions.", no_args_is_help=True)

_CORPUS = typer.Option(None, "--corpus", help="Folder of policy documents (default: nlu_data/policies).")
_DATA = typer.Option(None, "--data-dir", help="Where the index is cached (default: <data_dir>/kb).")


@kb_app.command("build")
def build(corpus: Path | None = _CORPUS, data_dir: Path | None = _DATA) -> None:
    """Parse every document and write the index cache."""
    corpus = corpus or default_corpus_dir()
    data_dir = data_dir or default_data_dir()
    index = build_index(corpus, data_dir)
    for doc in index.docs.values():
        count = sum(1 for s in index.sentences if s.doc_id == doc.doc_id)
        place = "、".join(doc.regions) or "未注明地区"
        issuer, date = doc.issuer or "发文单位不详", doc.date or "未注明日期"
        typer.echo(f"  {doc.doc_id}: 《{doc.title}》 {issuer} {date} [{place}] {count} 句")
    typer.echo(f"已建立索引 / index built: {len(index.docs)} documents, {len(index.sentences)} sentences -> {data_dir}")


@kb_app.command("ask")
def ask(
    question: str = typer.Argument(..., help="The question, as a citizen would say it."),
    home_region: str | None = typer.Option(None, "--home-region", help="Deployment's own region, e.g. 石家庄."),
    min_confidence: float | None = typer.Option(None, "--min-confidence", min=0.0, max=1.0),
    channel: str | None = typer.Option(None, "--channel", help="Record an unanswered question under this channel."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    corpus: Path | None = _CORPUS,
    data_dir: Path | None = _DATA,
) -> None:
    """Answer one question and show the score and the passages considered."""
    answer = ask_question(
        question,
        channel=channel,
        home_region=home_region,
        min_confidence=min_confidence,
        corpus_dir=corpus,
        data_dir=data_dir,
    )
    if as_json:
        payload = {
            "answered": answer.answered,
            "reason": answer.reason,
            "confidence": round(answer.confidence, 4),
            "score": round(answer.score, 4),
            "text": answer.text,
            "citation": answer.citation.__dict__ if answer.citation else None,
            "reply": answer.reply,
            "voice": answer.voice,
            "passages": [{"text": p.text, "doc": p.citation.doc_id, "score": p.score} for p in answer.passages],
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    typer.echo(answer.reply)
    typer.echo(f"\n[语音 / voice] {answer.voice}")
    typer.echo(f"\nconfidence={answer.confidence:.3f} score={answer.score:.3f} reason={answer.reason}")
    typer.echo("passages considered:")
    for i, p in enumerate(answer.passages, 1):
        typer.echo(f"  {i}. [{p.score:.2f} cov={p.coverage:.2f}] {p.citation.doc_id} {p.citation.section}")
        typer.echo(f"     {p.text}")


@kb_app.command("unanswered")
def unanswered(limit: int = typer.Option(20, min=1, max=1000), data_dir: Path | None = _DATA) -> None:
    """Questions the documents could not answer, newest first."""
    for record in list_unanswered(data_dir=data_dir, limit=limit):
        typer.echo(json.dumps(record, ensure_ascii=False))
