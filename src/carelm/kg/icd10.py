"""The ICD-10-CM hierarchy as graph nodes, from ``simple_icd_10_cm`` (public domain, CDC).

A block that holds a single category under the same name (``B20``) is not a node of its own: the category
stands in its place, under the chapter.
"""

from __future__ import annotations

from collections.abc import Iterable

from carelm.core.errors import InputError
from carelm.kg.graph import Edge, Node, name_key
from carelm.kg.sources import ICD10CM, ICD10CM_LICENCE


def icd10cm(codes: Iterable[str] | None = None) -> tuple[list[Node], list[Edge]]:
    """ICD-10-CM chapters, blocks, categories and codes as ``ICD10`` nodes with ``is_a`` edges child -> parent.

    ``codes`` limits the result to those codes and their ancestors (an unknown code is an InputError);
    None gives the whole code set.  Ids: ``ICD10::J93.0``, blocks ``ICD10::J90-J94``, chapters
    ``ICD10::chapter-10``; inclusion terms become synonyms.
    """
    import simple_icd_10_cm as icd

    if codes is None:
        wanted = list(dict.fromkeys(icd.get_all_codes(True)))
    else:
        wanted = []
        for code in codes:
            dotted = normalise_icd10(code)
            if dotted is None:
                raise InputError(f"not an ICD-10-CM code: {code!r}", location="codes")
            wanted += [dotted, *icd.get_ancestors(dotted)]
        wanted = list(dict.fromkeys(wanted))
    nodes, edges = [], []
    evidence = ({"source": "ICD-10-CM tabular list"},)
    for code in wanted:
        nodes.append(_icd_node(icd, code))
        parent = next((a for a in icd.get_ancestors(code) if a != code), None)
        if parent is not None:
            edges.append(Edge(icd10_id(code), icd10_id(parent), "is_a", ICD10CM, ICD10CM_LICENCE, 1.0, evidence))
    return nodes, edges


def icd10_id(code: str) -> str:
    """The node id of an ICD-10-CM chapter, block or code (dotted)."""
    return f"ICD10::chapter-{code}" if code.isdigit() else f"ICD10::{code}"


def normalise_icd10(code: str) -> str | None:
    """A dotted, upper-case ICD-10-CM code (``"g44.009"`` -> ``"G44.009"``), or None when unknown."""
    import simple_icd_10_cm as icd

    candidate = code.strip().upper()
    if not candidate or not icd.is_valid_item(candidate):
        return None
    return candidate if icd.is_chapter_or_block(candidate) else icd.add_dot(candidate)


def _icd_node(icd, code: str) -> Node:
    if icd.is_chapter(code):
        level = "chapter"
    elif icd.is_block(code) and not icd.is_category(code):
        level = "block"
    elif icd.is_category(code):
        level = "category"
    else:
        level = "extension" if icd.is_extended_subcategory(code) else "subcategory"
    synonyms = tuple(dict.fromkeys(t for t in icd.get_inclusion_term(code) if name_key(t)))
    attributes = {"code": code, "level": level, "billable": level not in ("chapter", "block") and icd.is_leaf(code)}
    return Node(icd10_id(code), "ICD10", icd.get_description(code), synonyms, ICD10CM, ICD10CM_LICENCE, attributes)
