"""Validation of one note object: a JSONL line, a CSV row or the API's JSON body.

Problems are reported as ``IngestIssue`` naming the location and the field, never the
value, so messages stay free of note text and patient identity.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from carelm.core.types import Note, Patient, Record, Span
from carelm.ingest.base import IngestIssue, ParsedRecord

NOTE_KEYS = ("text", "id", "patient", "record", "kind", "title", "date", "annotations")
PATIENT_KEYS = ("id", "name", "birth_date", "sex")
SPAN_KEYS = ("start", "end", "label", "attributes")
UNLINKED_PATIENT = "unlinked"


class FieldProblem(ValueError):
    """A field of an input object is wrong; carries the field path and a reason free of values."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"field '{field}': {reason}")
        self.field = field
        self.reason = reason


def normalize_kind(kind: str) -> str:
    """Lower-case a note type and join its words with underscores ("Discharge Summary" → discharge_summary)."""
    return "_".join(kind.strip().lower().replace("-", " ").split()) or "note"


def parse_note_object(obj: Any, location: str) -> ParsedRecord | IngestIssue:
    """Validate one note object and build a one-note ``Record``, or an issue naming the bad field."""
    if not isinstance(obj, dict):
        return IngestIssue(location, f"expected a JSON object, got {_type_name(obj)}")
    try:
        record = _build_record(obj, location)
    except FieldProblem as problem:
        return IngestIssue(location, str(problem))
    return ParsedRecord(record=record, location=location)


def _build_record(obj: dict[str, Any], location: str) -> Record:
    _check_keys(obj, NOTE_KEYS, "")
    text = _text(obj)
    note_id = _opt_id(obj, "id", "id")
    note = Note(
        text=text,
        external_id=note_id,
        kind=normalize_kind(_opt_str(obj, "kind", "kind") or "note"),
        title=_opt_str(obj, "title", "title"),
        authored_at=_opt_datetime(obj.get("date"), "date"),
        layers=_annotations(obj.get("annotations"), len(text)),
    )
    patient = _patient(obj.get("patient"), note_id)
    record_id = _opt_str(obj, "record", "record")
    return Record(patient=patient, notes=[note], external_id=record_id, source=location)


def _text(obj: dict[str, Any]) -> str:
    if "text" not in obj or obj["text"] is None:
        raise FieldProblem("text", "required field missing")
    text = obj["text"]
    if not isinstance(text, str):
        raise FieldProblem("text", f"expected a string, got {_type_name(text)}")
    if not text.strip():
        raise FieldProblem("text", "must not be empty")
    return text


def _patient(value: Any, note_id: str | None) -> Patient:
    if value is None:
        return Patient(external_id=note_id or UNLINKED_PATIENT)
    if not isinstance(value, dict):
        return Patient(external_id=_id_value(value, "patient"))
    _check_keys(value, PATIENT_KEYS, "patient.")
    if value.get("id") is None:
        raise FieldProblem("patient.id", "required field missing")
    birth = value.get("birth_date")
    return Patient(
        external_id=_id_value(value["id"], "patient.id"),
        name=_opt_str(value, "name", "patient.name"),
        birth_date=None if birth is None else _date(birth, "patient.birth_date"),
        sex=_opt_str(value, "sex", "patient.sex"),
    )


def _annotations(value: Any, text_len: int) -> dict[str, list[Span]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise FieldProblem("annotations", f"expected an object of layers, got {_type_name(value)}")
    layers: dict[str, list[Span]] = {}
    for name, spans in value.items():
        path = f"annotations.{name}"
        if not name:
            raise FieldProblem("annotations", "layer names must not be empty")
        if not isinstance(spans, list):
            raise FieldProblem(path, f"expected a list of spans, got {_type_name(spans)}")
        layers[name] = [_span(span, f"{path}[{i}]", text_len) for i, span in enumerate(spans)]
    return layers


def _span(value: Any, path: str, text_len: int) -> Span:
    if not isinstance(value, dict):
        raise FieldProblem(path, f"expected a span object, got {_type_name(value)}")
    _check_keys(value, SPAN_KEYS, f"{path}.")
    start, end = (_int(value.get(key), f"{path}.{key}") for key in ("start", "end"))
    if not 0 <= start <= end <= text_len:
        raise FieldProblem(path, f"offsets must satisfy 0 <= start <= end <= {text_len} (text length)")
    label = value.get("label")
    if not isinstance(label, str) or not label:
        raise FieldProblem(f"{path}.label", "expected a non-empty string")
    attributes = value.get("attributes", {})
    if not isinstance(attributes, dict):
        raise FieldProblem(f"{path}.attributes", f"expected an object, got {_type_name(attributes)}")
    return Span(start, end, label, dict(attributes), stage="ingest")


def _check_keys(obj: Mapping[str, Any], accepted: tuple[str, ...], prefix: str) -> None:
    for key in obj:
        if key not in accepted:
            shown = key if len(str(key)) <= 40 else f"{str(key)[:40]}..."
            raise FieldProblem(f"{prefix}{shown}", f"unknown field; accepted fields: {', '.join(accepted)}")


def _int(value: Any, field: str) -> int:
    if value is None:
        raise FieldProblem(field, "required field missing")
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldProblem(field, f"expected an integer, got {_type_name(value)}")
    return value


def _id_value(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise FieldProblem(field, f"expected a string or integer id, got {_type_name(value)}")
    text = str(value).strip()
    if not text:
        raise FieldProblem(field, "must not be empty")
    return text


def _opt_id(obj: Mapping[str, Any], key: str, field: str) -> str | None:
    value = obj.get(key)
    return None if value is None else _id_value(value, field)


def _opt_str(obj: Mapping[str, Any], key: str, field: str) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise FieldProblem(field, f"expected a string, got {_type_name(value)}")
    if not value.strip():
        raise FieldProblem(field, "must not be empty")
    return value.strip()


def _date(value: Any, field: str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise FieldProblem(field, "expected a date YYYY-MM-DD")


def _opt_datetime(value: Any, field: str) -> datetime | None:
    """Parse an ISO date or date-time; a bare date becomes midnight of that day."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            if len(text) == 10:
                return datetime.combine(date.fromisoformat(text), datetime.min.time())
            return datetime.fromisoformat(text)
        except ValueError:
            pass
    raise FieldProblem(field, "expected an ISO date (YYYY-MM-DD) or date-time (YYYY-MM-DDTHH:MM[:SS][+HH:MM])")


def _type_name(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    if type(value) in names:
        return names[type(value)]
    return "a number" if isinstance(value, (int, float)) else type(value).__name__
