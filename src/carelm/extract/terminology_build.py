"""Build the shipped terminology, ``resources/terminology/terms.jsonl.gz``, for the term matcher.

Sources, in priority order (the first entry for a matching key wins):

1. ``resources/terminology/abbreviations.json``: clinical abbreviations and synonyms written for carelm;
2. ICD-10-CM via ``simple_icd_10_cm`` (public domain): category and code descriptions and inclusion terms,
   cleaned of parenthesised non-essential modifiers, "NOS" and ", unspecified"; chapter 18 (R codes)
   gives SYMPTOM, chapters 1-17, 19 and 22 PROBLEM; external causes (V-Y), factors (Z) and 7th-character
   extensions are left out;
3. DDXPlus condition names (CC BY 4.0), when the shared data is given;
4. Hetionet v1.0 node names (CC0): Disease -> PROBLEM, Symptom -> SYMPTOM, Compound and Pharmacologic Class
   -> DRUG, Anatomy -> ANATOMY.  No edges are used (Compound-causes-SideEffect is SIDER, not redistributable).

Run ``python -m carelm.extract.terminology_build [SHARED_DATA] [OUT]``; without shared data the file holds
the abbreviations and ICD-10-CM only.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from carelm.extract.terms import fold, is_case_sensitive, tokens_of

RESOURCES = Path(__file__).resolve().parents[1] / "resources" / "terminology"
DEFAULT_OUT = RESOURCES / "terms.jsonl.gz"
HETIONET_TYPES = {
    "Disease": "PROBLEM",
    "Symptom": "SYMPTOM",
    "Compound": "DRUG",
    "Pharmacologic Class": "DRUG",
    "Anatomy": "ANATOMY",
}
_SKIP_CHAPTERS = {"20", "21"}
_MAX_TOKENS = 8
_PARENS = re.compile(r"\s*[(\[][^)\]]*[)\]]")
_TAILS = re.compile(
    r",?\s+(?:NOS|not elsewhere classified|without (?:complications?|mention of \w+))$|,\s*unspecified.*$",
    re.IGNORECASE,
)
_UNUSABLE = re.compile(r"[,;:\[]|\bunspecified\b|\b[A-Z]\d\d(?:\.\d+)?-[A-Z]?\d", re.IGNORECASE)
_LEADS = re.compile(r"^unspecified\s+", re.IGNORECASE)
_CLASS_ENDINGS = ("Agents", "Inhibitors", "Antagonists", "Agonists", "Blockers", "Drugs", "Vaccines", "Analogs")
# English words that are also names of compounds or anatomy in Hetionet.
_COMMON_WORDS = {"water", "gold", "iron", "oxygen", "air", "sugar", "alcohol", "salt", "tin", "lead", "silver", "body"}


def clean_icd_term(text: str) -> str | None:
    """An ICD-10-CM description or inclusion term as a clinician would write it, or None if unusable."""
    term = _PARENS.sub("", text).strip()
    term = _LEADS.sub("", _TAILS.sub("", term)).strip(" ,;")
    if not term or _UNUSABLE.search(term) or term.lower().startswith(("other ", "others")):
        return None
    if len(tokens_of(term)) > _MAX_TOKENS:
        return None
    return term


def _abbreviation_entries() -> Iterator[dict[str, Any]]:
    data = json.loads((RESOURCES / "abbreviations.json").read_text(encoding="utf-8"))
    for group in data["groups"]:
        for term in group["terms"]:
            entry = {"term": term, "type": group["type"], "concept": group.get("concept"), "source": "carelm"}
            entry["canonical"] = group["canonical"]
            if "not_followed_by" in group:
                entry["not_followed_by"] = group["not_followed_by"]
            yield entry


def _icd_entries() -> Iterator[dict[str, Any]]:
    import simple_icd_10_cm as icd

    for code in icd.get_all_codes(True):
        if icd.is_chapter_or_block(code) or icd.is_extended_subcategory(code):
            continue
        chapter = icd.get_ancestors(code)[-1]
        if chapter in _SKIP_CHAPTERS:
            continue
        kind = "SYMPTOM" if chapter == "18" else "PROBLEM"
        description = icd.get_description(code)
        names = [description, *icd.get_inclusion_term(code), *icd.get_includes(code)]
        for name in names:
            term = clean_icd_term(name)
            if term:
                yield {"term": term, "type": kind, "concept": code, "source": "icd10cm", "canonical": description}


def _ddxplus_entries(shared: Path) -> Iterator[dict[str, Any]]:
    path = shared / "ddxplus_kb" / "release_conditions.json"
    if not path.exists():
        return
    for name in json.loads(path.read_text(encoding="utf-8")):
        for part in re.split(r"\s*/\s*", re.sub(r"^Possible\s+", "", name)):
            term = _PARENS.sub("", part).strip()
            yield {"term": term, "type": "PROBLEM", "concept": f"DDXPlus:{name}", "source": "ddxplus"}


def _hetionet_entries(shared: Path) -> Iterator[dict[str, Any]]:
    path = shared / "hetionet" / "hetionet-v1.0-nodes.tsv"
    if not path.exists():
        return
    with path.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            kind = HETIONET_TYPES.get(row["kind"])
            name = row["name"].strip()
            if row["kind"] == "Pharmacologic Class" and not name.endswith(_CLASS_ENDINGS):
                continue
            if kind and name and name.lower() not in _COMMON_WORDS and len(tokens_of(name)) <= _MAX_TOKENS:
                yield {"term": name, "type": kind, "concept": row["id"], "source": "hetionet"}


def match_key(term: str) -> str:
    """The key two spellings of one term share: case-folded unless a short capital abbreviation."""
    tokens = tokens_of(term)
    return " ".join(tokens) if is_case_sensitive(term) else " ".join(fold(t) for t in tokens)


def _resolve(entries: list[dict[str, Any]]) -> None:
    """Give hand-written entries without a concept the id another source has for their name or a synonym."""
    known: dict[tuple[str, str], str] = {}
    for entry in entries:
        if entry["concept"]:
            known.setdefault((match_key(entry["term"]), entry["type"]), entry["concept"])
    synonyms: dict[str, list[str]] = {}
    for entry in entries:
        if not entry["concept"]:
            synonyms.setdefault(entry["canonical"], []).append(entry["term"])
    for entry in entries:
        if not entry["concept"]:
            name = entry["canonical"]
            found = (known.get((match_key(term), entry["type"])) for term in [name, *synonyms[name]])
            fallback = f"carelm:{entry['type'].lower()}/{name.lower().replace(' ', '-')}"
            entry["concept"] = next((concept for concept in found if concept), fallback)


def collect_entries(shared_data: Path | None) -> list[dict[str, Any]]:
    """All entries in priority order, deduplicated on their match key (the first one kept).

    Short capital abbreviations are taken from the hand-written list only: those in ICD-10-CM inclusion terms
    or Hetionet names (``PCP``, ``ALL``) too often mean something else in notes.
    """
    sources = [_abbreviation_entries(), _icd_entries()]
    if shared_data is not None:
        sources += [_ddxplus_entries(shared_data), _hetionet_entries(shared_data)]
    entries = [entry for source in sources for entry in source]
    _resolve(entries)
    seen: set[str] = set()
    unique = []
    for entry in entries:
        key = match_key(entry["term"])
        if entry["source"] != "carelm" and is_case_sensitive(entry["term"]):
            continue
        if key and key not in seen:
            seen.add(key)
            if entry.get("canonical") == entry["term"]:
                del entry["canonical"]
            unique.append(entry)
    return unique


def build_terminology(shared_data: Path | None, out: Path) -> dict[str, Any]:
    """Write the terminology to ``out`` (gzip JSON lines, a header line first); returns counts by source and type."""
    if shared_data is not None and not shared_data.is_dir():
        shared_data = None
    entries = collect_entries(shared_data)
    stats = {
        "entries": len(entries),
        "by_source": dict(Counter(entry["source"] for entry in entries)),
        "by_type": dict(Counter(entry["type"] for entry in entries)),
    }
    header = {"version": 1, "kind": "carelm-terminology", "shared_data": shared_data is not None, **stats}
    lines = [json.dumps(header, sort_keys=True)]
    lines += [json.dumps(entry, ensure_ascii=False, sort_keys=True) for entry in entries]
    out.parent.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(out, "wb", mtime=0) as handle:
        handle.write(("\n".join(lines) + "\n").encode("utf-8"))
    stats["bytes"] = out.stat().st_size
    return stats


def main(argv: list[str]) -> None:
    """Command line: ``[SHARED_DATA] [OUT]`` (defaults: ``$CARELM_SHARED_DATA`` or ``../shared/data``)."""
    shared = Path(argv[0] if argv else os.environ.get("CARELM_SHARED_DATA", "../shared/data"))
    out = Path(argv[1]) if len(argv) > 1 else DEFAULT_OUT
    print(json.dumps(build_terminology(shared, out), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
