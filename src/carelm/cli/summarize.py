"""``carelm summarize``: a patient's cited summary, or a report draft, as Markdown or JSON."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from carelm.cli.common import DbOption, err_console, handle_errors, make_context
from carelm.core.errors import InputError
from carelm.service import summary as summary_service


class ReportKind(StrEnum):
    discharge = "discharge"
    referral = "referral"


def summarize(
    patient: Annotated[str, typer.Argument(help="Patient id: the stored id (see `carelm records`) or the id the "
                                                "patient was ingested with.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: items with citations, the Markdown text "
                                                         "and the report when asked.")] = False,
    report: Annotated[ReportKind | None, typer.Option("--report", help="Draft a report from the summary.")] = None,
    polish: Annotated[bool, typer.Option("--polish", help="Let the configured language model (CARELM_LLM_*) "
                                                          "rewrite each report section; a rewrite that adds "
                                                          "anything the summary lacks is discarded.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of standard output.")] = None,
    db: DbOption = None,
) -> None:
    """Summarise a patient's stored notes and record items; every statement cites a stored span or field."""
    if polish and report is None:
        raise InputError("--polish rewrites a report: add --report discharge or --report referral",
                         location="--polish")
    ctx = make_context(db)
    try:
        payload = summary_service.summary_payload(ctx, patient, report=report.value if report else None,
                                                  polish=polish)
    finally:
        ctx.close()
    if as_json:
        text = json.dumps(payload, ensure_ascii=False, indent=2) + "\n"
    else:
        text = payload["report"]["text"] if payload["report"] else payload["text"]
    if out is None:
        sys.stdout.write(text)
        return
    partial = out.with_name(out.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, out)
    counts = sum(len(payload[name]) for name in ("problems", "findings", "medications", "allergies", "procedures",
                                                  "family_history"))
    err_console.print(f"wrote {out} ({counts} item(s), {len(payload['timeline'])} timeline event(s))",
                      highlight=False)


def register(app: typer.Typer) -> None:
    """Add the commands of this module to the ``carelm`` command line."""
    app.command("summarize")(handle_errors(summarize))
