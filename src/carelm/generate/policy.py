"""The PHI guard: only text without detected identifiers reaches a backend marked ``external``.

Every outgoing message of an external backend goes through carelm's de-identification detector
(``carelm.deid.v1``, the same rules as ``carelm process``).  The policy (``CARELM_LLM_PHI_POLICY``) decides
what happens when it finds identifiers:

* ``refuse`` (default): nothing is sent; the call fails with a PolicyError (HTTP 403 ``policy_refused``)
  naming the messages and identifier types (never the text).  Text that still holds a detectable name, date
  or number was not de-identified, so it probably holds identifiers the detector misses too: the safe answer
  is to send nothing.
* ``redact``: each identifier is replaced by its type in brackets (``[NAME]``, ``[DATE]``, ``[PHONE]``) and
  the redacted messages are sent.  Use it for text that was de-identified with realistic surrogates (which
  the detector flags as names and dates again) when the redacted form is good enough for the task.

The guard is a property of the backend, not of its callers: :func:`guarded` wraps any external backend
and the factory (:func:`carelm.generate.backends.make_backend`) never returns an external backend without
it; the ``openai`` backend refuses to be built as external without a guard.  Refusals and redactions
are logged with message indexes and counts per identifier type only.  A backend that is not external
(``extractive``, ``transformers``, a local server with ``CARELM_LLM_EXTERNAL=false``) is passed through.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from functools import lru_cache
from typing import Any

from carelm.core.errors import InputError, PolicyError
from carelm.core.pipeline import Pipeline
from carelm.core.registry import create_stage
from carelm.core.types import Note
from carelm.generate.backend_common import check_messages
from carelm.generate.base import Backend, Message

log = logging.getLogger(__name__)
POLICIES = ("refuse", "redact")


class PhiGuard:
    """Screens messages for identifiers and refuses or redacts them (see the module docstring)."""

    def __init__(self, policy: str = "refuse"):
        if policy not in POLICIES:
            raise InputError(f"unknown PHI policy {policy!r}; accepted: {', '.join(POLICIES)}")
        self.policy = policy
        self._lock = threading.Lock()
        self._pipeline: Pipeline | None = None

    def _detector(self) -> Pipeline:
        with self._lock:
            if self._pipeline is None:
                stages = [create_stage("carelm.normalize.v1"), create_stage("carelm.deid.v1", mode="redact")]
                pipeline = Pipeline(stages)
                pipeline.warm_up()
                self._pipeline = pipeline
            return self._pipeline

    def __call__(self, messages: list[Message]) -> list[Message]:
        """The messages to send (redacted under ``redact``); a PolicyError under ``refuse`` when any holds PHI,
        and under either policy when the detector fails on a message (it cannot vouch for that text)."""
        messages = check_messages(messages)
        notes = [Note(text=message["content"], id=str(index)) for index, message in enumerate(messages)]
        detector = self._detector()
        with self._lock:  # the stages are shared; one screening at a time
            result = detector.run(notes)
        if result.failed:
            failed = sorted(int(note.id) for note, _ in result.failed)
            log.warning("phi policy refused an external call: detector failed", extra={"messages": failed})
            raise PolicyError("the identifier detector failed on a message, so it cannot be sent to an external "
                              "language model", location=f"messages[{failed[0]}]")
        found = {index: Counter(span.label for span in note.layers.get("phi", [])) for index, note in enumerate(notes)}
        found = {index: counts for index, counts in found.items() if counts}
        if not found:
            return messages
        totals = sum(found.values(), Counter())
        details = [{"location": f"messages[{index}]", "message": _describe(counts)} for index, counts in found.items()]
        if self.policy == "refuse":
            log.warning("phi policy refused an external call",
                        extra={"messages": sorted(found), "identifiers": dict(sorted(totals.items()))})
            raise PolicyError(
                f"{sum(totals.values())} identifier(s) ({_describe(totals)}) found in text bound for an external "
                "language model; de-identify it first, or set CARELM_LLM_PHI_POLICY=redact",
                location="messages", details=details,
            )
        log.info("phi policy redacted an external call",
                 extra={"messages": sorted(found), "identifiers": dict(sorted(totals.items()))})
        return [{"role": message["role"], "content": note.views["deid"]} for message, note in zip(
            messages, notes, strict=True)]


def _describe(counts: Counter) -> str:
    return ", ".join(f"{label} x{count}" for label, count in sorted(counts.items()))


@lru_cache(maxsize=len(POLICIES))
def phi_guard(policy: str = "refuse") -> PhiGuard:
    """The process's guard for ``policy`` (its detector is compiled once)."""
    return PhiGuard(policy)


class GuardedBackend:
    """An external backend whose every call is screened first; the inner backend is not exposed."""

    external = True

    def __init__(self, backend: Backend, guard: PhiGuard):
        self.name = backend.name
        self.phi_guard = guard
        self.__backend = backend

    def complete(self, messages: list[Message], *, max_tokens: int = 256, temperature: float = 0.0) -> str:
        return self.__backend.complete(self.phi_guard(messages), max_tokens=max_tokens, temperature=temperature)


def guarded(backend: Backend, settings: Any = None, policy: str | None = None) -> Backend:
    """``backend`` itself when it is local or already screens its calls with a PhiGuard, else it wrapped in the
    PHI guard of ``policy`` (default: the settings' ``llm_phi_policy``, else ``refuse``)."""
    if not backend.external or isinstance(getattr(backend, "phi_guard", None), PhiGuard):
        return backend
    chosen = policy or getattr(settings, "llm_phi_policy", None) or "refuse"
    return GuardedBackend(backend, phi_guard(chosen))
