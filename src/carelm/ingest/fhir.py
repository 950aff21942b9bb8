"""FHIR R4 Bundle reader: one bundle becomes one record of its Patient, notes and structured items.

Resources are validated with the ``fhir.resources`` package.  Its default models (version 7
and later) are FHIR R5, so the ``fhir.resources.R4B`` models are used: R4B is wire-compatible
with R4 for every resource type read here.  Each entry is validated on its own, so one
malformed entry becomes one ``IngestIssue`` while the others are kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from fhir.resources.R4B.allergyintolerance import AllergyIntolerance
from fhir.resources.R4B.composition import Composition
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.documentreference import DocumentReference
from fhir.resources.R4B.medicationstatement import MedicationStatement
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient as FhirPatient
from pydantic import ValidationError

from carelm.core.errors import InputError
from carelm.core.types import Note, Patient, Record, RecordItem
from carelm.ingest.base import IngestIssue, ParsedRecord, ReaderOutput
from carelm.ingest.notes import FieldProblem, normalize_kind
from carelm.ingest.safety import MAX_FILE_BYTES, input_issue_message, read_input

log = logging.getLogger(__name__)

_REASONS = {
    "json_invalid": "expected an object",
    "extra_forbidden": "unknown field",
    "missing": "required field missing",
    "base64_decode": "invalid base64 data",
}
_BLOCK_TAGS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "pre"}


class FhirBundleReader:
    """Reads ``.json`` files holding one FHIR R4 Bundle; ``skipped`` counts unsupported resource types."""

    format = "fhir"

    def __init__(self, max_bytes: int = MAX_FILE_BYTES) -> None:
        self.skipped: Counter[str] = Counter()
        self.max_bytes = max_bytes

    def read(self, path: Path) -> ReaderOutput:
        """Yield the bundle's record (if it has a valid Patient) and one issue per bad entry."""
        location = str(path)
        try:
            data = json.loads(read_input(path, self.max_bytes).decode("utf-8-sig"))
        except (OSError, InputError) as exc:
            yield IngestIssue(location, input_issue_message(exc))
            return
        except UnicodeDecodeError as exc:
            yield IngestIssue(location, f"file is not valid UTF-8 (byte {exc.start})")
            return
        except json.JSONDecodeError as exc:
            yield IngestIssue(location, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
            return
        yield from parse_bundle(data, location, self.skipped)


def parse_bundle(data: Any, location: str, skipped: Counter[str] | None = None) -> Iterator[ParsedRecord | IngestIssue]:
    """Turn a FHIR Bundle (parsed JSON) into one ``ParsedRecord`` plus an issue for every bad entry."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        yield IngestIssue(location, "expected a FHIR Bundle (resourceType 'Bundle')")
        return
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        yield IngestIssue(location, "bundle has no 'entry' list")
        return
    patient: Patient | None = None
    record = Record(patient=Patient(external_id=""), external_id=_bundle_id(data), source=location)
    for index, entry in enumerate(entries):
        result = _parse_entry(entry, f"{location}#entry[{index}]", skipped)
        if isinstance(result, Patient) and patient is not None:
            result = IngestIssue(f"{location}#entry[{index}]", "bundle holds more than one Patient; first one used")
        if isinstance(result, IngestIssue):
            yield result
        elif isinstance(result, Patient):
            patient = record.patient = result
        elif isinstance(result, Note):
            record.notes.append(result)
        elif isinstance(result, RecordItem):
            record.items.append(result)
    if patient is None:
        yield IngestIssue(location, "bundle has no valid Patient resource; its notes and items were not stored")
        return
    yield ParsedRecord(record=record, location=location)


def _bundle_id(data: dict[str, Any]) -> str:
    if isinstance(data.get("id"), str) and data["id"].strip():
        return data["id"].strip()
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "bundle-" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def _parse_entry(entry: Any, where: str, skipped: Counter[str] | None) -> Any:
    resource = entry.get("resource") if isinstance(entry, dict) else None
    if not isinstance(resource, dict):
        return IngestIssue(where, "entry has no 'resource' object")
    rtype = resource.get("resourceType")
    if not isinstance(rtype, str):
        return IngestIssue(where, "resource has no 'resourceType'")
    if rtype not in _TYPES:
        if skipped is not None:
            skipped[rtype] += 1
        log.debug("%s: skipped unsupported resource type %s", where, rtype)
        return None
    model, convert = _TYPES[rtype]
    try:
        parsed = model.model_validate(resource)
    except ValidationError as exc:
        return _validation_issue(where, rtype, exc)
    except (ValueError, TypeError):
        return IngestIssue(f"{where} {rtype}", "invalid resource")
    try:
        return convert(parsed)
    except FieldProblem as problem:
        return IngestIssue(f"{where} {rtype}.{problem.field}", problem.reason)


def _validation_issue(where: str, rtype: str, exc: ValidationError) -> IngestIssue:
    errors = exc.errors()
    paths = [_error_path(error["loc"]) for error in errors]
    others = [f"{path or rtype}: {_error_reason(error)}" for path, error in zip(paths[1:], errors[1:], strict=True)]
    message = _error_reason(errors[0]) if errors else "invalid resource"
    if others:
        message += "; also " + "; ".join(others[:2]) + (f" (and {len(others) - 2} more)" if len(others) > 2 else "")
    field = f"{rtype}.{paths[0]}" if paths and paths[0] else rtype
    return IngestIssue(f"{where} {field}", message)


def _error_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier() and part != "root":
            path += f".{part}" if path else part
    return path


def _error_reason(error: Any) -> str:
    reason = _REASONS.get(error.get("type", "").rsplit(".", 1)[-1]) or str(error.get("msg", "invalid value"))
    value = error.get("input")
    if isinstance(value, str) and value.strip():
        reason = re.sub(rf"(?<!\w){re.escape(value)}(?!\w)", "<value>", reason)
    return reason.removeprefix("Value error, ")[:160]


def _patient(res: FhirPatient) -> Patient:
    ids = [ident.value for ident in res.identifier or [] if ident.value]
    external_id = ids[0] if ids else res.id
    if not external_id:
        raise FieldProblem("identifier", "Patient needs an identifier value or an id")
    name = None
    if res.name:
        first = res.name[0]
        name = first.text or " ".join([*(first.given or []), *([first.family] if first.family else [])]) or None
    birth = res.birthDate if isinstance(res.birthDate, date) else None
    return Patient(external_id=external_id, name=name, birth_date=birth, sex=res.gender)


def _document(res: DocumentReference) -> Note:
    texts = []
    for index, content in enumerate(res.content or []):
        att = content.attachment
        if (att.contentType or "").split(";")[0].strip().lower() != "text/plain" or not att.data:
            continue
        try:
            texts.append(att.data.decode("utf-8-sig"))
        except UnicodeDecodeError:
            raise FieldProblem(f"content[{index}].attachment.data", "attachment is not UTF-8 text") from None
    text = "\n\n".join(texts)
    if not text.strip():
        raise FieldProblem("content", "no text/plain attachment with inline base64 data")
    external_id = res.id or (res.masterIdentifier.value if res.masterIdentifier else None)
    kind = normalize_kind(_concept_text(res.type) or "note")
    return Note(text=text, external_id=external_id, kind=kind, title=res.description, authored_at=_datetime(res.date))


def _composition(res: Composition) -> Note:
    text = "\n\n".join(_section_texts(res.section or []))
    if not text.strip():
        raise FieldProblem("section", "composition has no section text")
    external_id = res.id or (res.identifier.value if res.identifier else None)
    kind = normalize_kind(_concept_text(res.type) or "note")
    return Note(text=text, external_id=external_id, kind=kind, title=res.title, authored_at=_datetime(res.date))


def _section_texts(sections: list[Any]) -> list[str]:
    parts = []
    for section in sections:
        body = xhtml_to_text(section.text.div) if section.text and section.text.div else ""
        if body:
            parts.append(f"{section.title.strip()}:\n{body}" if section.title else body)
        parts.extend(_section_texts(section.section or []))
    return parts


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any = None) -> None:
        if tag in _BLOCK_TAGS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self.handle_starttag(tag)

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)


def xhtml_to_text(div: str) -> str:
    """Strip a FHIR narrative's XHTML to plain text, one line per block element."""
    parser = _TextExtractor()
    parser.feed(div)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    return "\n".join(line for line in lines if line)


def _item(kind: str, concept: Any, status: str | None, effective: Any, fallback: str | None = None) -> RecordItem:
    coding = next((c for c in (concept.coding or []) if c.code or c.display), None) if concept else None
    display = (concept.text if concept else None) or (coding.display if coding else None) or fallback
    display = display or (coding.code if coding else None)
    if not display:
        raise FieldProblem("code", "no text, display or code names the item")
    code, system = (coding.code, coding.system) if coding else (None, None)
    return RecordItem(kind=kind, display=display, code=code, system=system, status=status, effective=_iso(effective))


def _clinical(kind: str) -> Any:
    """Converter for Condition and AllergyIntolerance, which share code, clinicalStatus and onset."""
    return lambda res: _item(kind, res.code, _concept_code(res.clinicalStatus), res.onsetDateTime or res.recordedDate)


def _medication(res: MedicationStatement) -> RecordItem:
    period = res.effectivePeriod.start if res.effectivePeriod else None
    fallback = res.medicationReference.display if res.medicationReference else None
    effective = res.effectiveDateTime or period or res.dateAsserted
    return _item("medication", res.medicationCodeableConcept, res.status, effective, fallback)


def _observation(res: Observation) -> RecordItem:
    period = res.effectivePeriod.start if res.effectivePeriod else None
    effective = res.effectiveDateTime or res.effectiveInstant or period or res.issued
    item = _item("observation", res.code, res.status, effective)
    if res.valueQuantity is not None and res.valueQuantity.value is not None:
        item.value = str(res.valueQuantity.value)
        item.unit = res.valueQuantity.unit or res.valueQuantity.code
    elif res.valueString is not None:
        item.value = res.valueString
    elif res.valueCodeableConcept is not None:
        item.value = _concept_text(res.valueCodeableConcept)
    return item


def _concept_text(concept: Any) -> str | None:
    if concept is None:
        return None
    return concept.text or next((c.display for c in concept.coding or [] if c.display), None)


def _concept_code(concept: Any) -> str | None:
    return next((c.code for c in concept.coding or [] if c.code), None) if concept else None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    return datetime.combine(value, datetime.min.time()) if isinstance(value, date) else None


def _iso(value: Any) -> str | None:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value) if value else None


_TYPES: dict[str, tuple[Any, Any]] = {
    "Patient": (FhirPatient, _patient),
    "DocumentReference": (DocumentReference, _document),
    "Composition": (Composition, _composition),
    "Condition": (Condition, _clinical("condition")),
    "MedicationStatement": (MedicationStatement, _medication),
    "AllergyIntolerance": (AllergyIntolerance, _clinical("allergy")),
    "Observation": (Observation, _observation),
}
