"""BM25 over cited sentences, with region-aware ranking, cached on disk.

Ranking is bm25s over words + character/pinyin bigrams (see tokens.py), then a
region factor: a place named in the question outweighs the deployment's home
region, and documents of another named place are pushed down, because a rule of
Tianjin is no answer for a caller in Shijiazhuang. The index is built on demand
(never at import) and cached under the data directory keyed by a fingerprint of
the corpus files, so adding a document and running `kb build` is all it takes.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from api.knowledge import places, tokens
from api.knowledge.ingest import DOC_SUFFIXES, Document, Sentence, load_corpus
from api.settings import PROJECT_ROOT, get_settings

FORMAT_VERSION = 4
NAMED_PLACE_BOOST = 1.6
OTHER_PLACE_FACTOR = 0.6
HOME_REGION_BOOST = 1.25
RELATED_WEIGHT = 0.5
CORPUS_IDF_FULL_WEIGHT = 2.0
# A question word the documents never use (not even its characters): everyday words around the
# content ("疙瘩", "老伴") say little about which passage answers, so they weigh less.
UNKNOWN_WORD_WEIGHT = 0.5
# A question word found only in the headings above a sentence counts this much: the heading names the
# topic of the section, the sentence may be about something else in it.
HEADING_WEIGHT = 0.8
# A question word found only in the adjacent sentence of the same section counts this much.
NEIGHBOUR_WEIGHT = 0.5
# A word of this many characters that the corpus never uses is a specific term (个人所得税, 高铁票):
# a question about it is not answered with certainty from sentences that share only its other words.
FOREIGN_TERM_CHARS = 3
ADMIN_CHARS = re.compile(r"[省市县区乡镇村街]")  # "各市县", "天水市": places and levels, not terms
# Candidates re-ranked by coverage plus this share of their (normalised) BM25 score. On the
# end-to-end question set (tests/conversation/questions) the right sentence came first for 213 of
# 305 questions by BM25 alone, 224 re-ranked from 20 candidates.
RERANK_POOL = 20
RERANK_SCORE_WEIGHT = 0.5
# "哪三个职能": a sentence that lists things (two or more 、) answers a question that asks for a list.
LIST_BONUS = 0.15
# A sentence that gives the kind of answer the question wants (who, funds, a term; tokens.ANSWER_TYPES).
ANSWER_TYPE_BONUS = 0.15
# A sentence of a plan's background section says how things stood, not what is to be done: a question
# about what the rules provide is better answered by the measures, other things equal.
BACKGROUND_PENALTY = 0.05
BACKGROUND = re.compile(r"背景|现状|形势")
# Re-ranking share of the place rule: a sentence of the named place's document against one of another
# place's, beyond what the region factor does to BM25 (coverage alone does not know the place).
NAMED_PLACE_BONUS = 0.1


@dataclass(frozen=True)
class DocInfo:
    """What a citation needs to know about a document."""

    doc_id: str
    title: str
    issuer: str
    date: str
    regions: tuple[str, ...]


@dataclass(frozen=True)
class Hit:
    """One ranked sentence: final score, raw BM25 and how much of the question it covers."""

    passage: int
    score: float
    bm25: float
    coverage: float


@dataclass
class SearchResult:
    hits: list[Hit]
    named_places: list[str]
    uncovered_places: list[str]
    substance: float = 0.0  # total weight of the question's content words
    foreign_terms: list[str] | None = None  # specific terms the corpus never uses (个人所得税)


def corpus_fingerprint(corpus_dir: Path, *more: Path) -> str:
    """Content hash of the corpus folders: a changed, added or removed file invalidates the cache."""
    digest = hashlib.sha256(f"v{FORMAT_VERSION}".encode())
    for folder in (corpus_dir, *more):
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.is_file() and (path.suffix.lower() in DOC_SUFFIXES or path.name == "INDEX.md"):
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _passage_text(sentence: Sentence) -> str:
    """A sentence is indexed with its section titles, which name its topic."""
    headings = " ".join(re.sub(r"^\S*?[、)）.．⑴-⒇①-⑳]", "", label, count=1) for label in sentence.path)
    return f"{sentence.text} {headings}"


class KnowledgeIndex:
    """Sentences, their documents and a BM25 retriever over them."""

    def __init__(
        self,
        docs: list[DocInfo],
        sentences: list[Sentence],
        passage_tokens: list[tuple[str, ...]],
        retriever: bm25s.BM25 | None = None,
    ) -> None:
        self.docs = {d.doc_id: d for d in docs}
        self.sentences = sentences
        self.passage_tokens = passage_tokens
        if retriever is None:
            retriever = bm25s.BM25()
            retriever.index([list(t) for t in passage_tokens], show_progress=False)
        self.retriever = retriever
        doc_pos = {d.doc_id: i for i, d in enumerate(docs)}
        self._doc_order = [d.doc_id for d in docs]
        self._doc_of = np.array([doc_pos[s.doc_id] for s in sentences], dtype=np.int32)
        self._token_sets = [frozenset(t) for t in passage_tokens]
        df: Counter[str] = Counter()
        for token_set in self._token_sets:
            df.update(token_set)
        self._df = df
        self.places = frozenset(p for d in docs for p in d.regions)
        self._by_position = {(s.doc_id, s.position): i for i, s in enumerate(sentences)}

    # building and persistence

    @classmethod
    def from_documents(cls, documents: list[Document]) -> KnowledgeIndex:
        docs = [DocInfo(d.doc_id, d.title, d.issuer, d.date, d.regions) for d in documents]
        sentences = [s for d in documents for s in d.sentences]
        return cls(docs, sentences, [tokens.tokenize_cached(_passage_text(s)) for s in sentences])

    def save(self, folder: Path, fingerprint: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.retriever.save(str(folder / "bm25"), show_progress=False)
        payload = {
            "version": FORMAT_VERSION,
            "fingerprint": fingerprint,
            "docs": [d.__dict__ for d in self.docs.values()],
            "sentences": [[s.doc_id, s.position, s.text, list(s.path)] for s in self.sentences],
            "tokens": [list(t) for t in self.passage_tokens],
        }
        # a name of its own per writer: several app instances (or the warm-up and a first question) may build
        tmp = folder / f"passages.json.{os.getpid()}.{threading.get_ident()}.tmp"
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        tmp.replace(folder / "passages.json")

    @classmethod
    def load(cls, folder: Path, fingerprint: str | None = None) -> KnowledgeIndex | None:
        """The cached index, or None when it is missing, stale or unreadable."""
        try:
            payload = json.loads((folder / "passages.json").read_text(encoding="utf-8"))
            if payload.get("version") != FORMAT_VERSION or (fingerprint and payload["fingerprint"] != fingerprint):
                return None
            retriever = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        except (OSError, ValueError, KeyError):
            return None
        docs = [DocInfo(**{**d, "regions": tuple(d["regions"])}) for d in payload["docs"]]
        sentences = [Sentence(d, p, t, tuple(path)) for d, p, t, path in payload["sentences"]]
        return cls(docs, sentences, [tuple(t) for t in payload["tokens"]], retriever)

    # querying

    def idf(self, token: str) -> float:
        n = len(self.sentences)
        df = self._df.get(token, 0)
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def coverage(
        self, query_tokens: list[str], passage: int, alternatives: dict[str, tuple[str, ...]] | None = None
    ) -> float:
        """Share of the question's words the passage contains, each weighted by how informative it is.

        A word counts as present verbatim, or when all its character bigrams are
        there (segmentation differs), or all its pinyin bigrams (an ASR homophone).
        Words found almost everywhere in the corpus (残疾人) weigh little: their
        presence does not show that the passage answers this question.
        """
        have = self._token_sets[passage]
        text = self.sentences[passage].text
        own = self._normalized(passage)
        total = found = 0.0
        for word in (t for t in query_tokens if not t.startswith(("b:", "p:"))):
            weight = self.word_weight(word)
            if self._unknown(word):
                weight *= UNKNOWN_WORD_WEIGHT
            total += weight
            if word in own or (len(word) == 1 and word in text):
                found += weight
                continue
            if word in have:  # only in the section's headings: the topic, not what this sentence says
                found += HEADING_WEIGHT * weight
                continue
            if alternatives and any(alt in text for alt in alternatives.get(word, ())):
                found += weight
                continue
            grams = tokens.char_bigrams(word)
            if grams and all("b:" + g in have for g in grams):
                found += weight
            elif (sounds := tokens.pinyin_bigrams(word)) and all("p:" + g in have for g in sounds):
                found += 0.8 * weight
            elif any(word in self._normalized(n) for n in self._neighbours(passage)):
                # said in the next or previous sentence of the same section: the answer may span both
                found += NEIGHBOUR_WEIGHT * weight
        return found / total if total else 0.0

    def _neighbours(self, passage: int) -> list[int]:
        return [n for n in (self.neighbour(passage, 1), self.neighbour(passage, -1)) if n is not None]

    def _normalized(self, passage: int) -> str:
        cache = self.__dict__.setdefault("_normalized_texts", {})
        if passage not in cache:
            cache[passage] = tokens.normalize(self.sentences[passage].text)
        return str(cache[passage])

    def word_weight(self, word: str) -> float:
        """How much a question word counts: informative in general Chinese and not found everywhere here."""
        return tokens.informativeness(word) * min(1.0, self.idf(word) / CORPUS_IDF_FULL_WEIGHT)

    def substance(self, query_tokens: list[str]) -> float:
        """How much a question asks about, by its words' weight in general Chinese ("你们人呢" has almost
        nothing); independent of the corpus, so that a small corpus does not make every question thin."""
        return sum(tokens.informativeness(w) for w in query_tokens if not w.startswith(("b:", "p:")))

    def _unknown(self, word: str) -> bool:
        """Neither the word nor all of its character bigrams occur anywhere in the corpus."""
        if self._df.get(word, 0):
            return False
        grams = tokens.char_bigrams(word)
        return not grams or not all(self._df.get("b:" + g, 0) for g in grams)

    def query_tokens(self, question: str) -> tuple[list[str], list[str], list[tuple[str, ...]]]:
        """(tokens, related tokens, places named with their parents); place names are removed, ranking
        handles them."""
        main, related, named, _ = self.query(question)
        return main, related, named

    def query(self, question: str) -> tuple[list[str], list[str], list[tuple[str, ...]], dict[str, tuple[str, ...]]]:
        """query_tokens() plus the formal alternatives of the everyday words replaced (tokens.paraphrase)."""
        question = tokens.to_simplified(question)
        named = places.places_in(question, self.places)
        text = question
        for line in named:
            text = re.sub(re.escape(line[0]) + r"(省|市|区|县|街道|街)?", " ", text)
        text, alternatives = tokens.paraphrase(tokens.normalize(tokens.strip_fillers(text)))
        main = list(dict.fromkeys(tokens.tokenize(text)))
        formal = [w for alts in alternatives.values() for w in alts[1:]]
        related = [t for w in [*tokens.related_terms(text), *formal] for t in tokens.tokenize(w) if t not in main]
        return main, related, named, alternatives

    def region_factors(self, named: list[str], home_region: str) -> np.ndarray:
        factors = np.ones(len(self._doc_order), dtype=np.float32)
        home = places.core(home_region) if home_region else ""
        for i, doc_id in enumerate(self._doc_order):
            regions = self.docs[doc_id].regions
            if named:
                if any(p in regions for p in named):
                    factors[i] = NAMED_PLACE_BOOST
                elif regions:
                    factors[i] = OTHER_PLACE_FACTOR
            elif home and home in regions:
                factors[i] = HOME_REGION_BOOST
        return factors

    def _scores(self, toks: list[str]) -> np.ndarray:
        known = [t for t in toks if t in self.retriever.vocab_dict]
        if not known:
            return np.zeros(len(self.sentences), dtype=np.float32)
        return np.asarray(self.retriever.get_scores(known), dtype=np.float32)

    def search(self, question: str, k: int = 8, home_region: str = "") -> SearchResult:
        main, related, lines, alternatives = self.query(question)
        named = list(dict.fromkeys(p for line in lines for p in line))
        raw = self._scores(main)
        if related:
            raw = raw + RELATED_WEIGHT * self._scores(related)
        final = raw * self.region_factors(named, home_region)[self._doc_of]
        pool = min(max(k, RERANK_POOL), len(final))
        top = np.argpartition(-final, pool - 1)[:pool] if pool else np.array([], dtype=np.int64)
        top = top[np.argsort(-final[top], kind="stable")]
        hits = [
            Hit(int(i), float(final[i]), float(raw[i]), self.coverage(main, int(i), alternatives))
            for i in top
            if final[i] > 0
        ]
        # BM25 finds the candidates; how much of the question a sentence covers decides among them.
        best = max((h.score for h in hits), default=0.0) or 1.0
        hits.sort(
            key=lambda h: -(h.coverage + RERANK_SCORE_WEIGHT * h.score / best + self.bonus(question, h.passage, named))
        )
        hits = hits[:k]
        covered = {p for d in self.docs.values() for p in d.regions}
        uncovered = [line[0] for line in lines if not set(line) & covered]
        foreign = [
            w
            for w in main
            if len(w) >= FOREIGN_TERM_CHARS and ":" not in w and not ADMIN_CHARS.search(w) and self._unknown(w)
        ]
        return SearchResult(hits, named, uncovered, self.substance(main), foreign)

    def bonus(self, question: str, passage: int, named: Sequence[str] = ()) -> float:
        """Re-ranking nudges: the named place's own document, the kind of answer asked for (a list, who,
        funds, a term); background last."""
        sentence = self.sentences[passage]
        place = 0.0
        if named and (regions := self.docs[sentence.doc_id].regions):
            place = NAMED_PLACE_BONUS if any(p in regions for p in named) else -NAMED_PLACE_BONUS
        listing = bool(tokens.ASKS_FOR_A_LIST.search(question)) and sentence.text.count("、") >= 2
        background = bool(sentence.path) and bool(BACKGROUND.search(sentence.path[0]))
        return (
            place
            + (LIST_BONUS if listing else 0.0)
            + (ANSWER_TYPE_BONUS if tokens.answer_type_bonus(question, sentence.text) else 0.0)
            - (BACKGROUND_PENALTY if background else 0.0)
        )

    def neighbour(self, passage: int, step: int) -> int | None:
        """The adjacent sentence in the same section, if any."""
        s = self.sentences[passage]
        other = self._by_position.get((s.doc_id, s.position + step))
        if other is not None and self.sentences[other].path == s.path:
            return other
        return None


# one index per (corpus, cache folder) per process, loaded on first use

_loaded: dict[tuple[Path, Path], KnowledgeIndex] = {}
_lock = threading.Lock()
_build_lock = threading.Lock()

# Another app instance that adds a document rebuilds the cache in the shared folder; this one notices
# by the cache file's modification time, looked at no more often than this.
REFRESH_SECONDS = 30.0
# (corpus, cache folder) -> (when the cache was last looked at, its modification time then)
_seen: dict[tuple[Path, Path], tuple[float, int]] = {}


def _cache_stamp(data_dir: Path) -> int:
    try:
        return (data_dir / "passages.json").stat().st_mtime_ns
    except OSError:
        return 0


def default_corpus_dir() -> Path:
    configured = getattr(get_settings(), "kb_corpus_dir", None)
    return Path(configured) if configured else PROJECT_ROOT / "nlu_data" / "policies"


def default_data_dir() -> Path:
    return get_settings().data_dir / "kb"


def uploads_dir(data_dir: Path) -> Path:
    """Documents staff added from the console, kept with the index (the shipped corpus stays read-only)."""
    return data_dir / "documents"


def build_index(corpus_dir: Path | None = None, data_dir: Path | None = None) -> KnowledgeIndex:
    """Parse the corpus and the documents staff added, build the index and write the cache (`kb build`)."""
    corpus_dir = corpus_dir or default_corpus_dir()
    data_dir = data_dir or default_data_dir()
    added = uploads_dir(data_dir)
    docs = load_corpus(corpus_dir) + (load_corpus(added) if added.is_dir() else [])
    index = KnowledgeIndex.from_documents(docs)
    index.save(data_dir, corpus_fingerprint(corpus_dir, added))
    key = (corpus_dir.resolve(), data_dir.resolve())
    with _lock:
        _loaded[key] = index
        _seen[key] = (time.monotonic(), _cache_stamp(data_dir))
    return index


def get_index(corpus_dir: Path | None = None, data_dir: Path | None = None) -> KnowledgeIndex:
    """The index for this corpus: from memory, else from a fresh cache, else built now."""
    corpus_dir = corpus_dir or default_corpus_dir()
    data_dir = data_dir or default_data_dir()
    key = (corpus_dir.resolve(), data_dir.resolve())
    with _lock:
        index = _loaded.get(key)
        seen = _seen.get(key, (0.0, 0))
    if index is not None:
        if time.monotonic() - seen[0] < REFRESH_SECONDS:
            return index
        return _refreshed(key, index, seen[1], corpus_dir, data_dir)
    # One build at a time in this process: the start-up warm-up and the first question must not both
    # build (and write the cache) at once; the second waits and takes the first one's index.
    with _build_lock:
        with _lock:
            if key in _loaded:
                return _loaded[key]
        stamp = _cache_stamp(data_dir)
        index = KnowledgeIndex.load(data_dir, corpus_fingerprint(corpus_dir, uploads_dir(data_dir)))
        if index is not None:
            with _lock:
                _loaded[key] = index
                _seen[key] = (time.monotonic(), stamp)
            return index
        return build_index(corpus_dir, data_dir)


def _refreshed(
    key: tuple[Path, Path], index: KnowledgeIndex, stamp: int, corpus_dir: Path, data_dir: Path
) -> KnowledgeIndex:
    """The index another instance rebuilt (a document added or removed), once its cache is complete.

    A cache caught half-written or not matching the documents yet is looked at again next time;
    meanwhile the index in memory keeps answering.
    """
    now = _cache_stamp(data_dir)
    fresh = None
    if now != stamp:
        fresh = KnowledgeIndex.load(data_dir, corpus_fingerprint(corpus_dir, uploads_dir(data_dir)))
    with _lock:
        if fresh is not None:
            _loaded[key] = fresh
        _seen[key] = (time.monotonic(), now if fresh is not None else stamp)
        return _loaded[key]
