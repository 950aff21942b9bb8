"""The ``carelm`` command line: thin wrappers that parse options and call service/."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from carelm.cli import ask as ask_commands
from carelm.cli import audit as audit_commands
from carelm.cli import deid as deid_commands
from carelm.cli import diagnose as diagnose_commands
from carelm.cli import extract as extract_commands
from carelm.cli import kg as kg_commands
from carelm.cli import lab as lab_commands
from carelm.cli import lifecycle as lifecycle_commands
from carelm.cli import resources as resource_commands
from carelm.cli import search as search_commands
from carelm.cli import security as security_commands
from carelm.cli import summarize as summarize_commands
from carelm.cli.common import DbOption, KeyOption, console, handle_errors, make_context, progress_bar, use_key
from carelm.cli.render import print_record, print_summary
from carelm.ingest.tabular import CsvMapping
from carelm.service import access as access_service
from carelm.service import demo as demo_service
from carelm.service import ingest as ingest_service
from carelm.service import process as process_service
from carelm.service import records as record_service
from carelm.service.context import initialise

app = typer.Typer(help="carelm: offline-first clinical records platform.", no_args_is_help=True,
                  pretty_exceptions_enable=False)


@app.callback()
def main(key: KeyOption = None) -> None:
    """carelm: offline-first clinical records platform.  Commands act for the principal of `--key` (or
    CARELM_API_KEY), or for the local operator on a SQLite file you own (see docs/security.md)."""
    use_key(key)


@app.command()
@handle_errors
def init(db: DbOption = None) -> None:
    """Create the data folder, an encryption key file (when none is configured) and the database schema."""
    ctx = make_context(db)
    info = initialise(ctx.settings)
    console.print(f"database ready ({info['database']}), key from {info['key_source']}"
                  + (" (new key file written)" if info["key_file_created"] else ""))


@app.command()
@handle_errors
def ingest(
    path: Annotated[Path, typer.Argument(help="A file or folder: .txt, .jsonl, .csv or FHIR .json bundles.")],
    db: DbOption = None,
    format: Annotated[str | None, typer.Option(help="Force a format: text, jsonl, csv, fhir.")] = None,
    patient: Annotated[str | None, typer.Option(help="Patient id for plain text files.")] = None,
    kind: Annotated[str, typer.Option(help="Note type for plain text files.")] = "note",
    text_column: Annotated[str | None, typer.Option(help="CSV column holding the note text.")] = None,
    id_column: Annotated[str | None, typer.Option(help="CSV column holding the note id.")] = None,
    patient_column: Annotated[str | None, typer.Option(help="CSV column holding the patient id.")] = None,
    kind_column: Annotated[str | None, typer.Option(help="CSV column holding the note type.")] = None,
    date_column: Annotated[str | None, typer.Option(help="CSV column holding the note date.")] = None,
    record_column: Annotated[str | None, typer.Option(help="CSV column holding the record (encounter) id.")] = None,
    title_column: Annotated[str | None, typer.Option(help="CSV column holding the note title.")] = None,
) -> None:
    """Store records from files; bad entries are reported and skipped, re-ingest is a no-op."""
    ctx = make_context(db)
    mapping = CsvMapping(text=text_column, id=id_column, patient=patient_column, kind=kind_column,
                         date=date_column, record=record_column, title=title_column)
    options = ingest_service.IngestOptions(format=format, csv_mapping=mapping, patient=patient, kind=kind)
    with progress_bar("ingesting", None) as advance:
        report = ingest_service.ingest_path(ctx, path, options, on_record=lambda _: advance())
    for issue in report.issues:
        console.print(f"[yellow]skipped[/yellow] {issue}", highlight=False, soft_wrap=True)
    console.print(f"{report.files} file(s): {report.records_added} new record(s), {report.notes_added} new note(s), "
                  f"{report.notes_skipped} already stored, {len(report.issues)} rejected")
    ctx.close()
    if report.issues and not report.record_ids:
        raise typer.Exit(1)


@app.command()
@handle_errors
def process(
    db: DbOption = None,
    reprocess: Annotated[bool, typer.Option("--all", help="Reprocess every note, not only new ones.")] = False,
    pipeline: Annotated[Path | None, typer.Option(help="Pipeline config JSON ({'stages': [...]}).")] = None,
    stage: Annotated[list[str] | None, typer.Option(help="Stage name to run (repeat for several).")] = None,
) -> None:
    """Run the pipeline over stored notes with a progress bar."""
    ctx = make_context(db)
    chosen = process_service.load_pipeline(pipeline, stage)
    with progress_bar("processing", process_service.pending_count(ctx, reprocess)) as advance:
        report = process_service.process_notes(ctx, chosen, reprocess=reprocess, on_batch=advance)
    console.print(f"run {report.run_id}: {report.notes_done} note(s) processed, {report.notes_failed} failed")
    ctx.close()


@app.command()
@handle_errors
def show(
    record_id: Annotated[str, typer.Argument(help="Record id (see `carelm records`).")],
    db: DbOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    raw: Annotated[bool, typer.Option("--raw", help="Include the original note text (PHI; needs --purpose).")] = False,
    purpose: Annotated[str | None, typer.Option(help="Why the original text is needed (written to the audit log).")
                       ] = None,
) -> None:
    """Show a record with its notes (de-identified text; the original with --raw --purpose) and annotation layers."""
    ctx = make_context(db)
    record = record_service.get_record(ctx, record_id, include_text=raw, purpose=purpose)
    print_record(record, as_json=as_json)
    ctx.close()


@app.command("records")
@handle_errors
def list_records(
    db: DbOption = None, limit: int = 20, offset: int = 0,
    patient_id: Annotated[str | None, typer.Option(help="Only this patient's records.")] = None,
) -> None:
    """List stored records (ids, patient ids, note counts)."""
    ctx = make_context(db)
    page, total = record_service.list_records(ctx, limit=limit, offset=offset, patient_id=patient_id)
    for r in page:
        console.print(f"{r.id}  patient={r.patient_id}  notes={r.note_count}  source={r.source}", highlight=False)
    console.print(f"{len(page)} of {total} record(s)")
    ctx.close()


@app.command()
@handle_errors
def stats(db: DbOption = None) -> None:
    """Counts of patients, records, notes and annotations by layer, as JSON."""
    ctx = make_context(db)
    console.print_json(json.dumps(record_service.stats(ctx)))
    ctx.close()


@app.command()
@handle_errors
def serve(
    db: DbOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default CARELM_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default CARELM_PORT).")] = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) until interrupted."""
    ctx = make_context(db)
    demo_service.serve(ctx.settings, host=host, port=port, announce=console.print)


@app.command()
@handle_errors
def demo(
    db: DbOption = None,
    serve_api: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the API after the run.")] = True,
    port: Annotated[int | None, typer.Option(help="Port for the API.")] = None,
) -> None:
    """Initialise, ingest the bundled sample records, run the pipeline, print a summary, serve the API."""
    ctx = make_context(db)
    started = time.perf_counter()
    initialise(ctx.settings)
    sample = demo_service.sample_path()
    with progress_bar("ingesting sample", demo_service.sample_size()) as advance:
        ingest_service.ingest_path(ctx, sample, on_record=lambda _: advance())
    with progress_bar("processing", process_service.pending_count(ctx, False)) as advance:
        process_service.process_notes(ctx, on_batch=advance)
    print_summary(record_service.stats(ctx), time.perf_counter() - started)
    demo_key = access_service.issue_demo_key(ctx)
    console.print(f"API key of the demo admin (shown once, expires in 7 days): {demo_key}\n"
                  f"  try: curl -H 'Authorization: Bearer {demo_key}' http://127.0.0.1:{port or ctx.settings.port}"
                  "/v1/records?view=summary", highlight=False, soft_wrap=True)
    ctx.close()
    if serve_api:
        demo_service.serve(ctx.settings, host=None, port=port, announce=console.print)


@app.command()
@handle_errors
def synth(
    out: Annotated[Path, typer.Argument(help="JSONL file to write.")],
    patients: int = 50, notes_per_patient: int = 4, seed: int = 7,
) -> None:
    """Write synthetic patients and notes with gold annotations (no real person) as JSONL."""
    count = demo_service.write_synthetic(out, patients=patients, notes_per_patient=notes_per_patient, seed=seed)
    console.print(f"wrote {count} note(s) to {out}")


@app.command()
def stages() -> None:
    """List the registered pipeline stages with the layers they read and write."""
    for name, cls in process_service.registered_stages().items():
        console.print(f"{name}: reads {list(cls.reads)} writes {list(cls.writes)}", highlight=False)


deid_commands.register(app)
resource_commands.register(app)
extract_commands.register(app)
lab_commands.register(app)
diagnose_commands.register(app)
search_commands.register(app)
ask_commands.register(app)
summarize_commands.register(app)
kg_commands.register(app)
audit_commands.register(app)
security_commands.register(app)
lifecycle_commands.register(app)
