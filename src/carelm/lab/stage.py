"""``carelm.ner.v1``: a trained tagger as a pipeline stage beside the dictionary matcher.

The stage tags each note's normalized view with the model in ``model`` (a carelm NER model folder) and adds
its mentions to the ``mentions`` layer, so ConText assertion and ICD-10 coding treat them like dictionary
mentions.  Model entity types map to carelm types through ``types`` (default: Disease → PROBLEM, Chemical →
DRUG; others keep their name).  With ``mode="merge"`` (default) the longest match wins, as in the dictionary
matcher: a model mention that covers existing mentions and is longer replaces them ("quendar fever" over
"fever"); one that otherwise overlaps an existing mention is dropped, the dictionary keeping its concept and
canonical term.  ``mode="replace"`` drops the existing mentions instead.  Model mentions carry
``source="model"``, the model path and the tag score.
"""

from __future__ import annotations

from typing import Any, ClassVar

from carelm.core.errors import ConfigError
from carelm.core.registry import Stage, register_stage
from carelm.core.types import Note, Span

MENTIONS = "mentions"
DEFAULT_TYPES = {"Disease": "PROBLEM", "Chemical": "DRUG", "DISEASE": "PROBLEM", "CHEMICAL": "DRUG"}
MODES = ("merge", "replace")


@register_stage
class NerStage(Stage):
    """Adds a trained tagger's mentions to the ``mentions`` layer."""

    name: ClassVar[str] = "carelm.ner.v1"
    reads: ClassVar[tuple[str, ...]] = (MENTIONS,)
    writes: ClassVar[tuple[str, ...]] = (MENTIONS,)

    def __init__(
        self, model: str | None = None, types: dict[str, str] | None = None, mode: str = "merge", min_score: float = 0.0
    ) -> None:
        super().__init__()
        if not isinstance(model, str) or not model:
            raise ConfigError("parameter 'model' must be the path of a carelm NER model folder", location=self.name)
        if mode not in MODES:
            raise ConfigError(f"parameter 'mode' must be one of {', '.join(MODES)}", location=self.name)
        if types is not None and not (isinstance(types, dict) and all(isinstance(v, str) for v in types.values())):
            raise ConfigError("parameter 'types' must map model types to carelm types", location=self.name)
        if isinstance(min_score, bool) or not isinstance(min_score, int | float) or not 0 <= min_score <= 1:
            raise ConfigError("parameter 'min_score' must be a number in [0, 1]", location=self.name)
        self.model, self.mode, self.min_score = model, mode, float(min_score)
        self.types = dict(DEFAULT_TYPES if types is None else types)
        self._predictor: Any = None

    @property
    def params(self) -> dict[str, Any]:
        return {"model": self.model, "types": self.types, "mode": self.mode, "min_score": self.min_score}

    def warm_up(self) -> None:
        from carelm.lab.inference import Predictor

        self._predictor = Predictor(self.model)
        if self._predictor.card.task != "ner":
            raise ConfigError(f"{self.model} is a {self._predictor.card.task} model, not a tagger", location=self.name)
        super().warm_up()

    def __call__(self, notes: list[Note]) -> list[Note]:
        if not self._warm:
            self.warm_up()
        texts = [note.views.get("normalized", note.text) for note in notes]
        for note, found in zip(notes, self._predictor.predict(texts), strict=True):
            model_spans = [
                Span(
                    m["start"],
                    m["end"],
                    self.types.get(m["type"], m["type"]),
                    {"source": "model", "model": self.model, "score": m["score"], "model_type": m["type"]},
                    stage=self.name,
                )
                for m in found["mentions"]
                if m["score"] >= self.min_score
            ]
            existing = [] if self.mode == "replace" else list(note.layer(MENTIONS))
            for span in model_spans:
                touched = [other for other in existing if _overlaps(span, other)]
                if all(_covers(span, other) for other in touched):
                    existing = [other for other in existing if other not in touched] + [span]
            note.layers[MENTIONS] = sorted(existing, key=lambda span: (span.start, span.end))
        return notes


def _overlaps(first: Span, second: Span) -> bool:
    return first.start < second.end and second.start < first.end


def _covers(outer: Span, inner: Span) -> bool:
    """Whether ``outer`` contains ``inner`` and is longer."""
    return outer.start <= inner.start and inner.end <= outer.end and outer.end - outer.start > inner.end - inner.start
