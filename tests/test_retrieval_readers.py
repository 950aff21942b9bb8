"""Literature readers: BEIR JSONL and PubMed XML, with errors that name file:line."""

from __future__ import annotations

import gzip
import json

import pytest

from carelm.core.errors import InputError
from carelm.retrieval.corpus import LiteratureDoc, read_corpus, read_queries
from carelm.retrieval.literature import doc_passages

PUBMED = """<?xml version="1.0" encoding="UTF-8"?>
<PubmedArticleSet>
  <PubmedArticle>
    <MedlineCitation Status="MEDLINE">
      <PMID Version="1">111</PMID>
      <Article>
        <ArticleTitle>Zinc for the <i>common</i> cold.</ArticleTitle>
        <Abstract>
          <AbstractText Label="BACKGROUND">Colds are frequent.</AbstractText>
          <AbstractText Label="RESULTS">Zinc shortened
            symptoms by 2 days.</AbstractText>
        </Abstract>
      </Article>
    </MedlineCitation>
  </PubmedArticle>
  <PubmedArticle>
    <MedlineCitation>
      <PMID Version="1">222</PMID>
      <Article>
        <ArticleTitle>Title only</ArticleTitle>
      </Article>
    </MedlineCitation>
  </PubmedArticle>
</PubmedArticleSet>
"""


def test_pubmed_xml_joins_labelled_abstract_parts(tmp_path):
    path = tmp_path / "pubmed.xml"
    path.write_text(PUBMED, encoding="utf-8")
    docs = list(read_corpus(path))
    assert docs == [
        LiteratureDoc("111", "Zinc for the common cold.",
                      "BACKGROUND: Colds are frequent.\nRESULTS: Zinc shortened symptoms by 2 days."),
        LiteratureDoc("222", "Title only", ""),
    ]
    gz = tmp_path / "pubmed.xml.gz"
    gz.write_bytes(gzip.compress(PUBMED.encode()))
    assert list(read_corpus(gz)) == docs


def test_pubmed_xml_errors_name_the_line(tmp_path):
    missing = tmp_path / "nopmid.xml"
    missing.write_text(PUBMED.replace('<PMID Version="1">222</PMID>', ""), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        list(read_corpus(missing))
    assert caught.value.location == f"{missing}:16" and "PMID" in caught.value.message
    broken = tmp_path / "broken.xml"
    broken.write_text(PUBMED.replace("</ArticleTitle>\n        <Abstract>", "\n        <Abstract>"),
                      encoding="utf-8")
    with pytest.raises(InputError, match="malformed XML") as caught:
        list(read_corpus(broken))
    assert caught.value.location.startswith(f"{broken}:")
    empty = tmp_path / "empty.xml"
    empty.write_text("<PubmedArticleSet></PubmedArticleSet>\n", encoding="utf-8")
    with pytest.raises(InputError, match="no PubmedArticle"):
        list(read_corpus(empty))


def test_beir_jsonl_reads_ids_titles_and_texts(tmp_path):
    path = tmp_path / "corpus.jsonl"
    path.write_text('{"_id": "d1", "title": "T", "text": "Body.", "metadata": {}}\n\n{"_id": 7, "text": "No title"}\n',
                    encoding="utf-8")
    assert list(read_corpus(path)) == [LiteratureDoc("d1", "T", "Body."), LiteratureDoc("7", "", "No title")]


@pytest.mark.parametrize(("line", "message"), [
    ('{"_id": "a", "text": ', "not valid JSON"),
    ('["a", "b"]', "JSON object"),
    ('{"text": "no id"}', "'_id' must be a non-empty string"),
    ('{"_id": "a", "title": "t"}', "'text' must be a string"),
    ('{"_id": "a", "title": 3, "text": "x"}', "'title' must be a string"),
    ('{"_id": "d1", "text": "again"}', "duplicate document id 'd1'"),
])
def test_beir_jsonl_errors_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"_id": "d1", "text": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=message) as caught:
        list(read_corpus(path))
    assert caught.value.location == f"{path}:2"


def test_unknown_extension_and_query_files(tmp_path):
    with pytest.raises(InputError, match="expected .jsonl"):
        list(read_corpus(tmp_path / "corpus.csv"))
    queries = tmp_path / "queries.jsonl"
    queries.write_text(json.dumps({"_id": "q1", "text": "zinc cold"}) + "\n" + json.dumps({"_id": "q2"}) + "\n")
    with pytest.raises(InputError, match="'text' must be a string") as caught:
        read_queries(queries)
    assert caught.value.location == f"{queries}:2"
    queries.write_text(json.dumps({"_id": "q1", "text": "zinc cold"}) + "\n")
    assert read_queries(queries) == [("q1", "zinc cold")]


def test_long_documents_become_runs_with_offsets_into_title_and_text():
    doc = LiteratureDoc("x", "A title", " ".join(f"Sentence {i} is here." for i in range(30)))
    batch = doc_passages(doc, max_words=20, title_weight=2)
    full = doc.full_text
    assert len(batch.rows) > 3 and batch.rows[0]["start"] == 0
    for row, lexical, dense in zip(batch.rows, batch.lexical, batch.dense, strict=True):
        assert full[row["start"]:row["end"]] == row["text"] and row["document_id"] == "x"
        assert lexical.count("A title") == 2 and dense.startswith("A title")
    short = doc_passages(LiteratureDoc("y", "T", "Short text."))
    assert [(r["start"], r["end"], r["text"]) for r in short.rows] == [(0, 13, "T\nShort text.")]
