"""Deterministic synthetic clinical notes with gold PHI, clinical mention and section annotations."""

from .generator import NOTE_KINDS, generate_records, main, write_jsonl

__all__ = ["NOTE_KINDS", "generate_records", "main", "write_jsonl"]
