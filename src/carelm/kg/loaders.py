"""Loaders that turn knowledge sources into ``(nodes, edges)`` lists for :class:`~carelm.kg.graph.KnowledgeGraph`.

- :func:`hetionet`: Hetionet v1.0 TSV files (CC0): Disease, Symptom, Compound and Anatomy nodes with the
  treats, palliates, resembles and localizes edges.  Side effects come from SIDER (CC BY-NC-SA 4.0): the
  SideEffect nodes and the Compound-causes-SideEffect edges are read only with ``include_noncommercial=True``.
- :func:`ddxplus`: the DDXPlus knowledge base (CC BY 4.0), see :mod:`carelm.kg.ddxplus`.
- :func:`icd10cm`: the ICD-10-CM hierarchy from ``simple_icd_10_cm`` (public domain), see :mod:`carelm.kg.icd10`.
- :func:`jsonl`: the graph's own interchange format (:mod:`carelm.kg.graphfile`), written by :func:`write_jsonl`.
- :func:`name_links`: ``same_as`` and ``maps_to`` edges between nodes of different sources with the same name.

Bad input raises :class:`~carelm.core.errors.InputError` naming the file and line.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from carelm.core.errors import InputError
from carelm.kg.ddxplus import ddxplus
from carelm.kg.graph import Edge, Node, name_key
from carelm.kg.graphfile import read_jsonl, write_jsonl
from carelm.kg.icd10 import icd10cm
from carelm.kg.sources import (
    CC0,
    HETIONET,
    NAME_LINKS,
    NAME_LINKS_LICENCE,
    SIDER,
    SIDER_LICENCE,
)

__all__ = ["ddxplus", "hetionet", "icd10cm", "jsonl", "name_links", "write_jsonl"]

NODES_FILE = "hetionet-v1.0-nodes.tsv"
# Hetionet's kind names -> ours (ids are rewritten to match: "Side Effect::C0000727" -> "SideEffect::C0000727").
HETIONET_KINDS = {"Disease": "Disease", "Symptom": "Symptom", "Compound": "Compound", "Anatomy": "Anatomy",
                  "Side Effect": "SideEffect"}
# edge file -> (edge kind, metaedge abbreviation, where Hetionet took it from)
HETIONET_EDGES = {
    "Compound_Treats_Disease.tsv": ("treats", "CtD", "PharmacotherapyDB"),
    "Compound_Palliates_Disease.tsv": ("palliates", "CpD", "PharmacotherapyDB"),
    "Disease_Resembles_Disease.tsv": ("resembles", "DrD", "MEDLINE co-occurrence"),
    "Disease_Localizes_Anatomy.tsv": ("localizes", "DlA", "MEDLINE co-occurrence"),
    "Compound_Resembles_Compund.tsv": ("resembles", "CrC", "DrugBank structural similarity"),  # sic: Hetionet's name
}
SIDER_FILE = "Compound_Causes_SideEffect.tsv"
SIDER_COLUMNS = ["drugbank_id", "drugbank_name", "umls_cui_from_meddra", "side_effect_name"]
_END_HEADER = re.compile(r"^:(START|END)_ID\((\w+)\)$")
LINKED_KINDS = ("Disease", "Symptom", "RiskFactor")


# --- Hetionet ----------------------------------------------------------------------------------
def hetionet(path: str | Path, *, include_noncommercial: bool = False) -> tuple[list[Node], list[Edge]]:
    """Nodes and medical edges of Hetionet v1.0 in ``path`` (``hetionet-v1.0-nodes.tsv`` and ``edges/*.tsv``).

    With ``include_noncommercial`` the SIDER side effects (nodes and ``causes`` edges, CC BY-NC-SA 4.0) are
    added; they must never be bundled.  MeSH-style inverted symptom names ("Angina, Unstable") also get their
    natural order as a synonym.
    """
    folder = Path(path)
    nodes = list(_hetionet_nodes(folder / NODES_FILE, include_noncommercial))
    known = {node.id for node in nodes}
    edges: list[Edge] = []
    for file_name, spec in HETIONET_EDGES.items():
        edges += _hetionet_edges(folder / "edges" / file_name, spec, known)
    if include_noncommercial:
        edges += _sider_edges(folder / "edges" / SIDER_FILE, known)
    return nodes, edges


def _tsv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """(line number, cells) of a tab-separated file, the header line included."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for line_no, row in enumerate(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE), 1):
                if row:
                    yield line_no, row
    except FileNotFoundError:
        raise InputError("file not found", location=str(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ({type(exc).__name__})", location=str(path)) from None


def _check_header(path: Path, row: list[str], expected: list[str]) -> None:
    if row != expected:
        raise InputError(f"unexpected header {row}; expected {expected}", location=f"{path}:1")


def _hetionet_nodes(path: Path, include_noncommercial: bool) -> Iterator[Node]:
    rows = _tsv_rows(path)
    _check_header(path, next(rows, (1, []))[1], ["id", "name", "kind"])
    for line_no, row in rows:
        if len(row) != 3 or "::" not in row[0]:
            raise InputError("expected 3 columns: id (Kind::identifier), name, kind", location=f"{path}:{line_no}")
        identifier, name, hetionet_kind = row
        kind = HETIONET_KINDS.get(hetionet_kind)
        if kind is None or (kind == "SideEffect" and not include_noncommercial):
            continue
        if kind == "SideEffect":
            yield Node(f"{kind}::{identifier.split('::', 1)[1]}", kind, name, source=SIDER, licence=SIDER_LICENCE)
            continue
        synonyms = (_natural_order(name),) if kind == "Symptom" and _natural_order(name) else ()
        yield Node(identifier, kind, name, synonyms, source=HETIONET, licence=CC0)


def _natural_order(name: str) -> str | None:
    """``"Angina, Unstable"`` -> ``"Unstable Angina"`` (MeSH headings put the head noun first)."""
    parts = [part.strip() for part in name.split(",")]
    return f"{parts[1]} {parts[0]}" if len(parts) == 2 and all(parts) else None


def _hetionet_edges(path: Path, spec: tuple[str, str, str], known: set[str]) -> Iterator[Edge]:
    kind, metaedge, upstream = spec
    rows = _tsv_rows(path)
    source_kind, target_kind = _end_kinds(path, next(rows, (1, []))[1])
    evidence = ({"source": HETIONET, "metaedge": metaedge, "upstream": upstream},)
    for line_no, row in rows:
        if len(row) != 2:
            raise InputError("expected 2 columns: start id, end id", location=f"{path}:{line_no}")
        source_id, target_id = f"{source_kind}::{row[0]}", f"{target_kind}::{row[1]}"
        _check_ends(path, line_no, known, source_id, target_id)
        yield Edge(source_id, target_id, kind, HETIONET, CC0, 1.0, evidence)


def _end_kinds(path: Path, header: list[str]) -> tuple[str, str]:
    """The node kinds named by a neo4j-import header ``:START_ID(Compound)<TAB>:END_ID(Disease)``."""
    start, end = ([_END_HEADER.match(cell) for cell in header] + [None, None])[:2]
    if len(header) == 2 and start and end and start[1] == "START" and end[1] == "END":
        return start[2], end[2]
    raise InputError(f"unexpected header {header}; expected ':START_ID(Kind)<TAB>:END_ID(Kind)'", location=f"{path}:1")


def _sider_edges(path: Path, known: set[str]) -> Iterator[Edge]:
    rows = _tsv_rows(path)
    _check_header(path, next(rows, (1, []))[1], SIDER_COLUMNS)
    evidence = ({"source": SIDER, "metaedge": "CcSE", "upstream": "SIDER 4.1"},)
    for line_no, row in rows:
        if len(row) != 4:
            raise InputError(f"expected 4 columns: {', '.join(SIDER_COLUMNS)}", location=f"{path}:{line_no}")
        source_id, target_id = f"Compound::{row[0]}", f"SideEffect::{row[2]}"
        _check_ends(path, line_no, known, source_id, target_id)
        yield Edge(source_id, target_id, "causes", SIDER, SIDER_LICENCE, 1.0, evidence)


def _check_ends(path: Path, line_no: int, known: set[str], *ends: str) -> None:
    for end in ends:
        if end not in known:
            raise InputError(f"unknown node {end!r}", location=f"{path}:{line_no}")


# --- own format and links ----------------------------------------------------------------------
def jsonl(path: str | Path) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges of an interchange file (``{"node": ...}`` / ``{"edge": ...}`` lines, gzip or plain)."""
    nodes, edges, _ = read_jsonl(path)
    return nodes, edges


def name_links(nodes: Iterable[Node], kinds: Iterable[str] = LINKED_KINDS) -> list[Edge]:
    """Edges between nodes of different sources whose names or synonyms agree after :func:`name_key`.

    Two nodes of ``kinds`` get ``same_as`` (from the source that sorts first); a node of ``kinds`` and an
    ``ICD10`` category or code get ``maps_to`` towards the code.  Weight 1.0 when both primary names agree,
    0.8 when a synonym made the match; the evidence names the shared key.
    """
    linked = set(kinds)
    by_key: dict[str, dict[str, tuple[Node, bool]]] = {}
    for node in nodes:
        if node.kind not in linked and not (node.kind == "ICD10" and node.attributes.get("level") not in
                                             ("chapter", "block")):
            continue
        for position, name in enumerate((node.name, *node.synonyms)):
            key = name_key(name)
            if key:
                found = by_key.setdefault(key, {})
                primary = found.get(node.id, (node, False))[1] or position == 0
                found[node.id] = (node, primary)
    links: dict[tuple[str, str, str], Edge] = {}
    for key, found in by_key.items():
        members = sorted(found.values(), key=lambda item: (item[0].source, item[0].id))
        for i, (a, a_primary) in enumerate(members):
            for b, b_primary in members[i + 1:]:
                edge = _link(a, b, key, 1.0 if a_primary and b_primary else 0.8)
                if edge is not None:
                    ident = (edge.source_id, edge.target_id, edge.kind)
                    if ident not in links or (links[ident].weight or 0) < (edge.weight or 0):
                        links[ident] = edge
    return list(links.values())


def _link(a: Node, b: Node, key: str, weight: float) -> Edge | None:
    if a.source == b.source or (a.kind == "ICD10" and b.kind == "ICD10"):
        return None
    if "ICD10" in (a.kind, b.kind):
        concept, code = (b, a) if a.kind == "ICD10" else (a, b)
        return Edge(concept.id, code.id, "maps_to", NAME_LINKS, NAME_LINKS_LICENCE, weight, ({"name": key},))
    return Edge(a.id, b.id, "same_as", NAME_LINKS, NAME_LINKS_LICENCE, weight, ({"name": key},))
