"""Search use-cases: build, update and query the records and literature indexes.

Records are indexed from the notes' de-identified text only (``deid_text``; raw text is never read here).
Literature comes from BEIR JSONL or PubMed XML files.  Indexes live under ``<data_dir>/index``
(``carelm.retrieval.catalog``); every change writes a new generation and deletes the old ones, so
``remove_notes``/``remove_patient`` leave no postings, vectors or text of the removed notes on disk.
Record filters (patient, kinds, sections, dates) restrict record passages; literature passages ignore them.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path

import numpy as np

from carelm.core.errors import CarelmError, InputError
from carelm.core.types import Passage
from carelm.lifecycle.access import Permission
from carelm.retrieval.catalog import CACHE, literature_folder, literature_names, records_folder
from carelm.retrieval.corpus import corpus_files, read_corpus, read_queries
from carelm.retrieval.filters import PassageFilter
from carelm.retrieval.index import EncoderInfo, PassageIndex
from carelm.retrieval.literature import MAX_WORDS, TITLE_WEIGHT, corpus_passages
from carelm.retrieval.query_encoder import QueryEncoder
from carelm.retrieval.records import RecordNote, note_passages
from carelm.retrieval.search import MODES
from carelm.retrieval.storage import locked
from carelm.service.access import require
from carelm.service.context import Context

log = logging.getLogger(__name__)

SCOPES = ("records", "literature", "both")
__all__ = ["MODES", "SCOPES", "index_after_process", "index_literature", "index_records", "rank_documents",
           "read_queries", "rebuild_records_index", "remove_notes", "remove_patient", "search_passages"]
Progress = Callable[[int], None]


def encoder_info() -> EncoderInfo:
    """The packaged MiniLM encoder (loaded lazily, once per process, by ``carelm.coding.encoder``)."""
    from carelm.coding.encoder import DIMENSIONS, MODEL_NAME, encode

    return EncoderInfo(MODEL_NAME, DIMENSIONS, encode)


_QUERY_ENCODER: list[QueryEncoder] = []
_QUERY_ENCODER_LOCK = threading.Lock()


def query_encoder() -> QueryEncoder:
    """The packaged MiniLM for single queries (through ONNX Runtime when that matches it), built once per process."""
    with _QUERY_ENCODER_LOCK:
        if not _QUERY_ENCODER:
            from carelm.coding.encoder import load_encoder

            _QUERY_ENCODER.append(QueryEncoder(load_encoder()))
        return _QUERY_ENCODER[0]


@lru_cache(maxsize=256)
def _embed_query(text: str) -> np.ndarray:
    return query_encoder()(text)


# --- searching ---------------------------------------------------------------------------------
def search_passages(
    ctx: Context,
    query: str,
    *,
    scope: str = "both",
    k: int = 10,
    mode: str = "hybrid",
    patient: str | None = None,
    kinds: list[str] | None = None,
    sections: list[str] | None = None,
    date_from: date | datetime | str | None = None,
    date_to: date | datetime | str | None = None,
) -> list[Passage]:
    """The ``k`` best passages for ``query`` (best first) from the indexes of ``scope``.

    Scores are BM25 scores, cosine similarities or fused scores by ``mode``; with ``scope="both"`` the
    indexes' lists are merged by score.  Record filters restrict record passages only.
    """
    _require_scope(ctx, scope)
    _check_query(query, scope, mode, k)
    filters = PassageFilter.of(patient, kinds, sections, date_from, date_to)
    passages: list[Passage] = []
    searched_records = False
    for index in _indexes(ctx, scope):
        passages += _search_index(index, query, mode, k, filters)
        searched_records |= index.manifest["scope"] == "records"
    passages.sort(key=lambda p: -p.score)
    if searched_records:  # the query itself is not recorded: it may quote a note
        ctx.store.audit.record(ctx.actor, "search", "records", patient,
                               details={"mode": mode, "k": k, "returned": sum(p.scope == "records" for p in
                                                                              passages[:k])})
    return passages[:k]


def rank_documents(ctx: Context, queries: Iterable[tuple[str, str]], *, k: int = 100, mode: str = "hybrid",
                   scope: str = "literature", on_query: Progress | None = None) -> Iterator[dict]:
    """``{"qid", "ranking": [[document_id, score], ...]}`` per query: documents ranked by their best passage.

    Arguments are checked and the indexes loaded before the first query is searched.
    """
    _require_scope(ctx, scope)
    _check_query("-", scope, mode, k)
    indexes = list(_indexes(ctx, scope))
    if any(index.manifest["scope"] == "records" for index in indexes):
        ctx.store.audit.record(ctx.actor, "search_batch", "records", None, details={"mode": mode, "k": k})
    return _rankings(indexes, queries, k, mode, on_query)


def _rankings(indexes: list[PassageIndex], queries: Iterable[tuple[str, str]], k: int, mode: str,
              on_query: Progress | None) -> Iterator[dict]:
    for qid, text in queries:
        best: dict[str, float] = {}
        for index in indexes:
            for passage in _search_index(index, text, mode, k * 2, PassageFilter()):
                if passage.score > best.get(passage.document_id, -np.inf):
                    best[passage.document_id] = passage.score
        ranking = sorted(best.items(), key=lambda item: (-item[1], item[0]))[:k]
        yield {"qid": qid, "ranking": [[doc, round(score, 6)] for doc, score in ranking]}
        if on_query:
            on_query(1)


def _require_scope(ctx: Context, scope: str) -> None:
    """Records need ``records.read`` (de-identified passages only), literature ``knowledge.read``."""
    if scope in ("records", "both"):
        require(ctx, Permission.RECORDS_READ, target_type="records_index")
    if scope in ("literature", "both"):
        require(ctx, Permission.KNOWLEDGE_READ, target_type="literature_index")


def _check_query(query: str, scope: str, mode: str, k: int) -> None:
    if scope not in SCOPES:
        raise InputError(f"unknown scope {scope!r}; accepted: {', '.join(SCOPES)}", location="scope")
    if mode not in MODES:
        raise InputError(f"unknown mode {mode!r}; accepted: {', '.join(MODES)}", location="mode")
    if not isinstance(k, int) or not 1 <= k <= 1000:
        raise InputError(f"k must be an integer from 1 to 1000, got {k!r}", location="k")
    if not query or not query.strip():
        raise InputError("the query is empty", location="query")


def _indexes(ctx: Context, scope: str) -> Iterable[PassageIndex]:
    data_dir = ctx.settings.data_dir
    folders = [records_folder(data_dir)] if scope in ("records", "both") else []
    if scope in ("literature", "both"):
        folders += [literature_folder(data_dir, name) for name in literature_names(data_dir)]
    for folder in folders:
        index = CACHE.get(folder)
        if index is not None and index.size:
            index.check_encoder(encoder_info())
            yield index


def _search_index(index: PassageIndex, query: str, mode: str, k: int, filters: PassageFilter) -> list[Passage]:
    scope = index.manifest["scope"]
    mask = filters.mask(index.column) if scope == "records" else None
    hits = index.search(query, lambda: _embed_query(query), mode=mode, k=k, mask=mask)
    return [_passage(index.rows[row], scope, score) for row, score in hits]


def _passage(row: dict, scope: str, score: float) -> Passage:
    return Passage(id=row["id"], document_id=row["document_id"], text=row["text"], scope=scope,
                   start=row["start"], end=row["end"], score=score, metadata=dict(row["metadata"]))


# --- literature --------------------------------------------------------------------------------
def index_literature(ctx: Context, path: Path, *, name: str | None = None, fmt: str | None = None,
                     max_words: int = MAX_WORDS, title_weight: int = TITLE_WEIGHT, encoder: EncoderInfo | None = None,
                     on_total: Progress | None = None, on_progress: Progress | None = None) -> dict:
    """Index a corpus file (or every ``.jsonl``/``.xml`` file of a folder) as literature index ``name``
    (default the file or folder name); an index of that name is replaced atomically.  Returns the manifest.

    ``encoder`` defaults to the packaged MiniLM; another must embed exactly as it does (e.g. a cache of it).
    Needs ``knowledge.write``.
    """
    require(ctx, Permission.KNOWLEDGE_WRITE, target_type="literature_index")
    path = Path(path)
    name = name or path.name.split(".")[0]
    folder = literature_folder(ctx.settings.data_dir, name)
    files = corpus_files(path)
    seen: dict[str, str] = {}
    docs = [doc for file in files for doc in read_corpus(file, fmt, seen)]
    if not docs:
        raise InputError("no documents found", location=str(path))
    batch = corpus_passages(docs, max_words, title_weight)
    if on_total:
        on_total(len(batch.rows))
    options = {"name": name, "source": str(path), "max_words": max_words, "title_weight": title_weight}
    encoder = encoder or encoder_info()
    with locked(folder):
        index = PassageIndex.empty("literature", encoder, options=options)
        index = index.add(batch.rows, encoder, lexical_texts=batch.lexical, dense_texts=batch.dense,
                          progress=on_progress)
        CACHE.save(folder, index)
    log.info("literature indexed", extra={"index": name, "documents": len(docs), "passages": index.size})
    return index.manifest


# --- records -----------------------------------------------------------------------------------
def rebuild_records_index(ctx: Context, *, on_total: Progress | None = None,
                          on_progress: Progress | None = None) -> dict:
    """Index every processed note again from the store, replacing the records index.  Returns the manifest."""
    require(ctx, Permission.RECORDS_PROCESS, target_type="records_index")
    folder = records_folder(ctx.settings.data_dir)
    encoder = encoder_info()
    with locked(folder):
        texts = {t.note_id: _fingerprint(t.text) for t in ctx.store.records.iter_deid_texts()}
        rows = _note_rows(ctx, texts)
        if on_total:
            on_total(len(rows))
        index = PassageIndex.empty("records", encoder).add(rows, encoder, progress=on_progress)
        CACHE.save(folder, index)
    ctx.store.audit.record(ctx.actor, "index", "records", None, details={"notes": len(texts), "passages": len(rows)})
    return index.manifest


def index_records(ctx: Context) -> dict[str, int]:
    """Bring the records index up to date with the store: index new or re-processed notes, drop notes that
    are gone.  Called after ``carelm process``; cheap when nothing changed."""
    require(ctx, Permission.RECORDS_PROCESS, target_type="records_index")
    folder = records_folder(ctx.settings.data_dir)
    encoder = encoder_info()
    with locked(folder):
        index = CACHE.get(folder) or PassageIndex.empty("records", encoder)
        current = {t.note_id: _fingerprint(t.text) for t in ctx.store.records.iter_deid_texts()}
        indexed = {row["document_id"]: row.get("fingerprint") for row in index.rows}
        stale = {note for note, mark in indexed.items() if current.get(note) != mark}
        fresh = {note: mark for note, mark in current.items() if indexed.get(note) != mark}
        if not stale and not fresh:
            return {"added": 0, "removed": 0, "passages": index.size}
        if stale:
            index = index.remove(np.isin(index.column("note_id"), list(stale)))
        index = index.add(_note_rows(ctx, fresh), encoder)
        CACHE.save(folder, index)
    log.info("records index updated", extra={"notes_added": len(fresh), "notes_removed": len(stale - set(fresh))})
    return {"added": len(fresh), "removed": len(stale - set(fresh)), "passages": index.size}


def index_after_process(ctx: Context) -> dict[str, int] | None:
    """The ``carelm process`` hook: ``index_records``, with a failure logged instead of failing the run
    (processing already succeeded; ``carelm index records`` can catch up later)."""
    try:
        return index_records(ctx)
    except (CarelmError, OSError) as exc:
        code = exc.code if isinstance(exc, CarelmError) else type(exc).__name__
        log.warning("records index not updated after processing", extra={"error": code})
        return None


def remove_notes(ctx: Context, note_ids: Iterable[str]) -> int:
    """Remove every passage of these notes from the records index (files rewritten); the number removed."""
    return _remove(ctx, "note_id", set(note_ids))


def remove_patient(ctx: Context, patient_id: str) -> int:
    """Remove every passage of this patient's notes from the records index; the number removed."""
    return _remove(ctx, "patient_id", {patient_id})


def _remove(ctx: Context, field: str, values: set[str]) -> int:
    folder = records_folder(ctx.settings.data_dir)
    with locked(folder):
        index = CACHE.get(folder)
        if index is None or not values:
            return 0
        drop = np.isin(index.column(field), list(values))
        if drop.any():
            CACHE.save(folder, index.remove(drop))
    log.info("passages removed from the records index", extra={"by": field, "passages": int(drop.sum())})
    return int(drop.sum())


def _fingerprint(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _note_rows(ctx: Context, fingerprints: dict[str, str]) -> list[dict]:
    """Passage rows of the given notes (read with layers, without raw text), each with the note's fingerprint."""
    rows: list[dict] = []
    for note_id, mark in fingerprints.items():
        stored = ctx.store.records.stored_note(note_id, include_text=False)
        if stored.deid_text is not None:
            rows += [dict(row, fingerprint=mark) for row in note_passages(RecordNote.of(stored))]
    return rows
