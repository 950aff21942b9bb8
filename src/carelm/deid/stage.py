"""The de-identification pipeline stage: a ``phi`` layer and the ``deid`` text view.

Detection runs on the normalised view (same offsets as raw); replacement is applied to
the raw text.  Surrogates are consistent per patient: each patient's seed is a keyed
hash of the patient id under the surrogate secret, so nobody who lacks the key can
recompute a patient's date shift from ids they see.  The ``deid`` view is the one view
whose length differs from raw; the ``phi`` spans carry where each replacement landed.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from carelm.core.errors import PipelineError
from carelm.core.registry import Stage, register_stage
from carelm.core.types import Note, Span
from carelm.deid.base import DeidDoc
from carelm.deid.engine import PhiEngine
from carelm.deid.replace import replace_phi
from carelm.deid.surrogates import SurrogateMaker

MODES = ("surrogate", "redact", "mask")


def patient_seed(secret: bytes, patient: str) -> bytes:
    """The surrogate seed of one patient: stable under one secret, unguessable without it."""
    return hmac.new(secret, ("patient:" + patient).encode(), hashlib.sha256).digest()


@register_stage
class Deidentifier(Stage):
    """Finds Safe Harbor PHI and writes the ``phi`` layer and de-identified ``deid`` text."""

    name = "carelm.deid.v1"
    reads = ("normalized",)
    writes = ("phi", "deid")
    needs_secret = True

    def __init__(self, mode: str = "surrogate", threshold: float = 0.0):
        if mode not in MODES:
            raise PipelineError(f"unknown de-identification mode {mode!r}; accepted: {', '.join(MODES)}")
        self.mode = mode
        self.threshold = threshold
        self._secret: bytes | None = None
        self._engine: PhiEngine | None = None

    @property
    def params(self) -> dict:
        return {"mode": self.mode, "threshold": self.threshold}

    def use_secret(self, secret: bytes) -> None:
        """Set the key behind per-patient surrogates (the store passes one derived from the master key)."""
        self._secret = secret

    def warm_up(self) -> None:
        if self._engine is None:
            self._engine = PhiEngine(threshold=self.threshold)
            self._engine.load()
        if self._secret is None:  # no store: surrogates are consistent within this process only
            self._secret = os.urandom(32)

    def maker_for(self, patient: str) -> SurrogateMaker:
        self.warm_up()
        return SurrogateMaker(patient_seed(self._secret, patient))

    def __call__(self, notes: list[Note]) -> list[Note]:
        self.warm_up()
        makers: dict[str, SurrogateMaker] = {}
        for note in notes:
            patient = note.patient_id or f"note:{note.id}"
            maker = makers.get(patient) or makers.setdefault(patient, self.maker_for(patient))
            self.deidentify(note, maker)
        return notes

    def deidentify(self, note: Note, maker: SurrogateMaker | None) -> None:
        """Detect and replace PHI in one note, assigning its ``phi`` layer and ``deid`` view."""
        doc = DeidDoc(note.views.get("normalized", note.text), kind=note.kind, known=note.known_phi)
        spans = self._engine.find(doc)
        result = replace_phi(note.text, spans, self.mode, maker if self.mode == "surrogate" else None)
        note.views["deid"] = result.text
        note.layers["phi"] = [
            Span(r.start, r.end, r.type, {"score": round(s.score, 3), "source": s.source,
                                          "replacement": r.replacement, "new_start": r.new_start,
                                          "new_end": r.new_end}, self.name)
            for r, s in zip(result.replacements, spans, strict=True)
        ]
