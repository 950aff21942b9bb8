"""The DDXPlus knowledge base (Fansi Tchango et al., 2022; CC BY 4.0) as graph nodes and edges.

- a ``Disease`` node per condition (``Disease::ddxplus:<slug>``), named in English, with its ICD-10 codes
  and severity in ``attributes`` and a ``maps_to`` edge to each ``ICD10`` code;
- a ``Symptom`` node per evidence asked as a symptom, a ``RiskFactor`` node per antecedent
  (``Symptom::ddxplus:E_91``, ``RiskFactor::ddxplus:E_79``).  Names are the short clinical names written for
  carelm in ``resources/kg/ddxplus_names.json`` ("fever", "smoking"); an evidence missing there gets its
  question shortened by rule.  The English question, answer type and answer meanings stay in ``attributes``;
- edges ``presents`` (Disease -> Symptom) and ``risk_factor`` (Disease -> RiskFactor: "has risk factor"), weight
  1.0, evidence ``[{"source": "DDXPlus knowledge base"}]``.

The ICD-10-CM nodes the conditions map to, with their ancestors, are part of the result (source ICD-10-CM),
so it forms a graph on its own.  Linking to Hetionet by name is :func:`carelm.kg.loaders.name_links`.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from carelm.core.errors import InputError
from carelm.kg.graph import Edge, Node, name_key
from carelm.kg.icd10 import icd10_id, icd10cm, normalise_icd10
from carelm.kg.sources import DDXPLUS, DDXPLUS_ATTRIBUTION, DDXPLUS_LICENCE

CONDITIONS_FILE = "release_conditions.json"
EVIDENCES_FILE = "release_evidences.json"
NAMES = Path(__file__).resolve().parents[1] / "resources" / "kg" / "ddxplus_names.json"
EVIDENCE = ({"source": "DDXPlus knowledge base"},)
_QUESTION_LEADS = re.compile(
    r"^(?:do|did|does|are|is|have|has|were|was)\s+(?:you|your|the person|any of your|there)\s+"
    r"(?:currently\s+|ever\s+|recently\s+|noticed\s+|feel\s+|have\s+|had\s+|been\s+)*(?:any\s+|a\s+|an\s+)?",
    re.IGNORECASE,
)
_PARENS = re.compile(r"\s*\([^)]*\)")


def ddxplus(path: str | Path, *, with_icd10: bool = True) -> tuple[list[Node], list[Edge]]:
    """Nodes and edges of the DDXPlus knowledge base in ``path`` (its folder or ``release_conditions.json``).

    ``with_icd10`` adds the ICD-10-CM nodes the conditions map to, with their ancestors.
    """
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    conditions = _read_json(folder / CONDITIONS_FILE)
    evidences = _read_json(folder / EVIDENCES_FILE)
    used_as_symptom = {e for c in conditions.values() if isinstance(c, dict) for e in c.get("symptoms", {})}
    evidence_nodes = {key: _evidence_node(folder / EVIDENCES_FILE, key, body, key in used_as_symptom)
                      for key, body in _objects(folder / EVIDENCES_FILE, evidences)}
    nodes = list(evidence_nodes.values())
    edges: list[Edge] = []
    codes: list[str] = []
    for key, body in _objects(folder / CONDITIONS_FILE, conditions):
        disease, disease_codes = _condition_node(folder / CONDITIONS_FILE, key, body)
        nodes.append(disease)
        codes += disease_codes
        edges += [Edge(disease.id, icd10_id(code), "maps_to", DDXPLUS, DDXPLUS_LICENCE, 1.0, EVIDENCE)
                  for code in disease_codes]
        for field, kind in (("symptoms", "presents"), ("antecedents", "risk_factor")):
            for evidence_key in _field(folder / CONDITIONS_FILE, key, body, field, dict):
                if evidence_key not in evidence_nodes:
                    raise InputError(f"{field} names unknown evidence {evidence_key!r}",
                                     location=f"{folder / CONDITIONS_FILE}:{key}")
                target = evidence_nodes[evidence_key].id
                edges.append(Edge(disease.id, target, kind, DDXPLUS, DDXPLUS_LICENCE, 1.0, EVIDENCE))
    if with_icd10 and codes:
        icd_nodes, icd_edges = icd10cm(dict.fromkeys(codes))
        nodes += icd_nodes
        edges += icd_edges
    return nodes, edges


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", location=str(path)) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg})", location=f"{path}:{exc.lineno}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ({type(exc).__name__})", location=str(path)) from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object keyed by name", location=str(path))
    return data


def _objects(path: Path, data: dict[str, Any]):
    for key, body in data.items():
        if not isinstance(body, dict):
            raise InputError("entry must be an object", location=f"{path}:{key}")
        yield key, body


def _field(path: Path, key: str, body: dict[str, Any], field: str, expected: type) -> Any:
    value = body.get(field)
    if not isinstance(value, expected) or isinstance(value, bool):
        raise InputError(f"field {field!r} must be a {expected.__name__}", location=f"{path}:{key}")
    return value


@lru_cache(maxsize=1)
def _curated_names() -> dict[str, Any]:
    return json.loads(NAMES.read_text(encoding="utf-8"))


def _condition_node(path: Path, key: str, body: dict[str, Any]) -> tuple[Node, list[str]]:
    name = body.get("cond-name-eng") or _field(path, key, body, "condition_name", str)
    raw_codes = _field(path, key, body, "icd10-id", str)
    codes = [c for c in (normalise_icd10(part) for part in re.split(r"[,;\s]+", raw_codes) if part) if c]
    synonyms = list(_curated_names()["conditions"].get(name, []))
    bare = _PARENS.sub("", name).strip()
    if bare != name:
        synonyms.insert(0, bare)
    attributes = {"icd10": codes, "icd10_given": raw_codes, "severity": body.get("severity"),
                  "attribution": DDXPLUS_ATTRIBUTION}
    node_id = "Disease::ddxplus:" + name_key(key).replace(" ", "-")
    return Node(node_id, "Disease", name, tuple(dict.fromkeys(synonyms)), DDXPLUS, DDXPLUS_LICENCE, attributes), codes


def _evidence_node(path: Path, key: str, body: dict[str, Any], used_as_symptom: bool) -> Node:
    question = _field(path, key, body, "question_en", str)
    antecedent = bool(body.get("is_antecedent"))
    kind = "Symptom" if used_as_symptom or not antecedent else "RiskFactor"
    curated = _curated_names()["evidences"].get(key) or [short_finding_name(question)]
    attributes: dict[str, Any] = {"question": question, "data_type": body.get("data_type"),
                                  "antecedent": antecedent, "attribution": DDXPLUS_ATTRIBUTION}
    if body.get("code_question") and body["code_question"] != key:
        attributes["group"] = body["code_question"]
    meanings = body.get("value_meaning") or {}
    if isinstance(meanings, dict) and meanings:
        attributes["values"] = {code: m.get("en") for code, m in meanings.items() if isinstance(m, dict)}
    if body.get("data_type") in ("C", "M"):
        attributes["default_value"] = body.get("default_value")
    return Node(f"{kind}::ddxplus:{key}", kind, curated[0], tuple(curated[1:]), DDXPLUS, DDXPLUS_LICENCE, attributes)


def short_finding_name(question: str) -> str:
    """A question turned into a finding name by rule: ``"Do you have a cough?"`` -> ``"cough"``."""
    text = _PARENS.sub("", question).strip().rstrip("?:. ")
    text = _QUESTION_LEADS.sub("", text).strip()
    return text[:1].lower() + text[1:] if text else question
