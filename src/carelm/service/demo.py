"""The demo and server use-cases: bundled sample data, synthetic data, serving the API."""

from __future__ import annotations

from collections.abc import Callable
from importlib import resources
from pathlib import Path

from carelm.core.settings import Settings

SAMPLE = "sample/records.jsonl"


def sample_path() -> Path:
    """The synthetic sample records shipped with the package."""
    return Path(str(resources.files("carelm.resources").joinpath(SAMPLE)))


def sample_size() -> int:
    with sample_path().open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def write_synthetic(out: Path, *, patients: int, notes_per_patient: int, seed: int) -> int:
    from carelm.synth.generator import generate_records, write_jsonl

    records = generate_records(n_patients=patients, notes_per_patient=notes_per_patient, seed=seed)
    write_jsonl(records, out)
    return len(records)


def serve(settings: Settings, *, host: str | None, port: int | None, announce: Callable[[str], None]) -> None:
    """Serve the API with uvicorn until interrupted."""
    import uvicorn

    from carelm.api.app import create_app

    host = host or settings.host
    port = port or settings.port
    app = create_app(settings)
    announce(f"serving on http://{host}:{port} (OpenAPI at /docs; Ctrl+C to stop)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
