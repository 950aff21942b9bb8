"""The FastAPI application, built by ``create_app(settings)``; routes only parse, call service/, format."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse

from carelm import __version__
from carelm.api.ask_routes import router as ask_router
from carelm.api.auth import authenticate, permits, request_context
from carelm.api.chat_routes import router as chat_router
from carelm.api.errors import install_error_handlers
from carelm.api.hardening import install_hardening
from carelm.api.kg_routes import router as kg_router
from carelm.api.lifecycle_routes import router as lifecycle_router
from carelm.api.reasoning_routes import router as reasoning_router
from carelm.api.schemas import (
    DeidRequest,
    DeidResponse,
    ExtractRequest,
    ExtractResponse,
    Health,
    IngestResult,
    PredictRequest,
    PredictResponse,
    RecordDetail,
    RecordPage,
    RecordSummary,
    ReidentifyRequest,
    ReidentifyResponse,
)
from carelm.api.search_routes import router as search_router
from carelm.api.summary_routes import router as summary_router
from carelm.core.errors import InputError, PayloadTooLarge
from carelm.core.pipeline import Pipeline
from carelm.core.settings import Settings
from carelm.lifecycle.access import ANONYMOUS, Permission
from carelm.service import deid, extract, ingest, lab, records
from carelm.service.context import Context
from carelm.service.process import attach_data_resources
from carelm.store import db


def get_context(request: Request) -> Context:
    return request_context(request)


ContextDep = Annotated[Context, Depends(get_context)]
RawQuery = Annotated[bool, Query(description="Include the original note text (PHI): needs a role that may read it "
                                             "and a stated `purpose`; audited.")]
PurposeQuery = Annotated[str | None, Query(max_length=300, description="Why the original text is needed (audited).")]


def create_app(settings: Settings) -> FastAPI:
    """Build the API for these settings; the store is opened (and migrated) at start-up."""
    context = Context(settings, actor="api", principal=ANONYMOUS)  # requests act for their own principal

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        _ = context.store  # open and migrate before the first request
        yield
        context.close()

    app = FastAPI(title="carelm", version=__version__, lifespan=lifespan,
                  description="Clinical records: ingest, process and read annotated notes.",
                  dependencies=[Depends(authenticate)])
    app.state.context = context
    app.state.deid_pipelines = {}
    app.state.extract_pipeline = None
    install_error_handlers(app)
    install_hardening(app, settings)  # body limit, rate limit, CORS, security headers on every route
    _add_routes(app)
    app.include_router(reasoning_router, dependencies=[permits(Permission.KNOWLEDGE_READ)])
    app.include_router(kg_router, dependencies=[permits(Permission.KNOWLEDGE_READ)])
    app.include_router(search_router)
    app.include_router(chat_router)
    app.include_router(ask_router, dependencies=[permits(Permission.KNOWLEDGE_READ)])
    app.include_router(summary_router)
    app.include_router(lifecycle_router)
    return app


async def _json_body(request: Request, limit: int) -> object:
    declared = request.headers.get("content-length", "0")
    if declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes", location="body")
    body = await request.body()
    if len(body) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes", location="body")
    try:
        return json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"body is not valid JSON ({type(exc).__name__})", location="body") from None


def _deid_pipeline(app: FastAPI, ctx: Context, mode: str) -> Pipeline:
    """One warm de-identification pipeline per mode, keyed by the store's surrogate secret."""
    cache = app.state.deid_pipelines
    if mode not in cache:
        cache[mode] = deid.deid_pipeline(mode, ctx.store.cipher.derived_secret("surrogates"))
        cache[mode].warm_up()
    return cache[mode]


def _extract_pipeline(app: FastAPI, ctx: Context) -> Pipeline:
    """One warm extraction pipeline, built on first use (with the data folder's ICD-10-CM index if built)."""
    if app.state.extract_pipeline is None:
        pipeline = extract.extract_pipeline()
        attach_data_resources(pipeline, ctx.settings)
        pipeline.warm_up()
        app.state.extract_pipeline = pipeline
    return app.state.extract_pipeline


def _add_routes(app: FastAPI) -> None:
    @app.get("/health", response_model=Health, tags=["system"])
    def health(ctx: ContextDep) -> Health:
        current, _ = db.schema_revision(ctx.store.engine)
        return Health(status="ok", version=__version__, database=ctx.store.backend, schema_revision=current)

    @app.post("/v1/records", response_model=IngestResult, status_code=201, tags=["records"],
              responses={422: {"description": "nothing could be stored; the error names each bad entry"}})
    async def create_records(request: Request, ctx: ContextDep):
        """Store a note object (the JSONL line schema) or a FHIR R4 Bundle; bad entries are listed in `issues`."""
        payload = await _json_body(request, ctx.settings.max_request_bytes)
        report = ingest.ingest_payload(ctx, payload)
        if report.issues and not report.record_ids:
            raise InputError("no entry of the body could be stored", location="body",
                             details=[{"location": i.location, "message": i.message} for i in report.issues])
        return JSONResponse(IngestResult(**report.to_dict()).model_dump(), status_code=201)

    @app.get("/v1/records", response_model=RecordPage, tags=["records"])
    def list_records(
        ctx: ContextDep, limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,  # larger ones overflow the database's integers
        patient_id: str | None = None, view: Literal["full", "summary"] = "full", raw: RawQuery = False,
        purpose: PurposeQuery = None,
    ) -> RecordPage:
        """Records in ingest order; `view=full` includes notes with their de-identified text and annotation layers
        (and the original text with `raw=true`, for roles that may read it, with a stated `purpose`)."""
        page, total = records.list_records(ctx, limit=limit, offset=offset, patient_id=patient_id)
        if view == "summary":
            items = [RecordSummary(id=r.id, patient_id=r.patient_id, source=r.source, created_at=r.created_at,
                                   note_count=r.note_count) for r in page]
        else:
            items = [RecordDetail.of(records.get_record(ctx, r.id, include_text=raw, purpose=purpose)) for r in page]
        return RecordPage(total=total, limit=limit, offset=offset, items=items)

    @app.post("/v1/deidentify", response_model=DeidResponse, tags=["de-identification"],
              dependencies=[permits(Permission.TEXT_PROCESS)])
    def deidentify(body: DeidRequest, ctx: ContextDep, request: Request) -> DeidResponse:
        """De-identify one text; spans are offsets into the input text (end exclusive)."""
        if len(body.text.encode()) > ctx.settings.max_request_bytes:
            raise PayloadTooLarge(f"text is larger than {ctx.settings.max_request_bytes} bytes", location="text")
        pipeline = _deid_pipeline(request.app, ctx, body.mode)
        item = deid.DeidItem(body.id, body.text, body.patient)
        [out] = deid.deidentify_items([item], pipeline)
        if "error" in out:
            raise InputError(out["error"], location="text")
        return DeidResponse(**out)

    @app.post("/v1/extract", response_model=ExtractResponse, tags=["extraction"],
              dependencies=[permits(Permission.TEXT_PROCESS)])
    def extract_text(body: ExtractRequest, ctx: ContextDep, request: Request) -> ExtractResponse:
        """Mentions with assertion flags and candidate ICD-10-CM codes; offsets into the input text (end exclusive).

        With `targets`, the mentions are exactly those spans in the given order.
        """
        if len(body.text.encode()) > ctx.settings.max_request_bytes:
            raise PayloadTooLarge(f"text is larger than {ctx.settings.max_request_bytes} bytes", location="text")
        targets = None if body.targets is None else [t.model_dump() for t in body.targets]
        item = extract.ExtractItem(body.id, body.text, extract.check_targets(targets, body.text))
        [out] = extract.extract_items([item], _extract_pipeline(request.app, ctx))
        if "error" in out:
            raise InputError(out["error"], location="text")
        return ExtractResponse(**out)

    @app.post("/v1/notes/{note_id}/reidentify", response_model=ReidentifyResponse, tags=["de-identification"])
    def reidentify(note_id: str, body: ReidentifyRequest, ctx: ContextDep) -> ReidentifyResponse:
        """Rebuild a stored note's real text from its surrogates; needs a purpose and is audited."""
        return ReidentifyResponse(**deid.reidentify_note(ctx, note_id, body.purpose))

    @app.post("/v1/models/{name}/predict", response_model=PredictResponse, tags=["models"])
    def predict(name: str, body: PredictRequest, ctx: ContextDep) -> PredictResponse:
        """Labels and scores (classifier) or entity mentions (tagger) of a registered model for each text."""
        total = sum(len(text.encode()) for text in body.texts)
        if total > ctx.settings.max_request_bytes:
            raise PayloadTooLarge(f"texts are larger than {ctx.settings.max_request_bytes} bytes", location="texts")
        reference = name if body.version is None else f"{name}:{body.version}"
        resolved = lab.resolve_registered(ctx, reference)
        predictor = lab.predictor_for(ctx, reference, body.backend)
        ctx.store.audit.record(ctx.actor, "predict", "model", resolved.id, details={"texts": len(body.texts)})
        return PredictResponse(model=resolved.name, version=resolved.version, task=predictor.card.task,
                               predictions=predictor.predict(body.texts))

    @app.get("/v1/records/{record_id}", response_model=RecordDetail, tags=["records"])
    def get_record(record_id: str, ctx: ContextDep, raw: RawQuery = False, purpose: PurposeQuery = None
                   ) -> RecordDetail:
        """One record with its notes (de-identified text; the original too with `raw=true` and a `purpose`),
        annotation layers and structured items."""
        return RecordDetail.of(records.get_record(ctx, record_id, include_text=raw, purpose=purpose))
