"""Ingest refuses what it must not read: links leading outside the folder, FIFOs, devices, files too large."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import pytest

from carelm.core.errors import InputError, PayloadTooLarge
from carelm.ingest.discover import RefusedInput, iter_input_files, reader_for
from carelm.ingest.jsonl import JsonlReader
from carelm.ingest.safety import open_input, read_input, refusal
from carelm.ingest.text import TextReader
from carelm.service.ingest import ingest_path

NOTE = "Follow-up visit. Denies chest pain. Plan: continue lisinopril."
needs_posix = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and symbolic links")


def _jsonl(note_id: str) -> str:
    return json.dumps({"id": note_id, "patient": f"P-{note_id}", "text": f"{NOTE} ({note_id})"}) + "\n"


@pytest.fixture
def folders(tmp_path) -> tuple[Path, Path]:
    """An input folder with two good files, and a folder beside it that must never be read."""
    root, outside = tmp_path / "in", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "a.jsonl").write_text(_jsonl("in-1"), encoding="utf-8")
    (root / "sub" / "b.txt").write_text(NOTE, encoding="utf-8")
    (outside / "secret.jsonl").write_text(_jsonl("leaked"), encoding="utf-8")
    (outside / "other.txt").write_text(NOTE + " outside", encoding="utf-8")
    return root, outside


@needs_posix
def test_links_leading_outside_are_reported_and_never_followed(folders, sqlite_ctx):
    root, outside = folders
    os.symlink(outside / "secret.jsonl", root / "secret.jsonl")  # file link escaping the folder
    os.symlink(outside, root / "elsewhere")  # folder link escaping it
    os.symlink("../../outside/other.txt", root / "sub" / "relative.txt")  # relative path climbing out
    os.symlink(root / "a.jsonl", root / "sub" / "again.jsonl")  # a link inside the folder is fine
    report = ingest_path(sqlite_ctx, root)
    refused = {Path(issue.location).relative_to(root).as_posix(): issue.message for issue in report.issues}
    assert set(refused) == {"secret.jsonl", "elsewhere", "sub/relative.txt"}
    assert all("outside the ingested folder" in m and "not followed" in m for m in refused.values())
    # a.jsonl once (the inner link re-reads it and stores nothing new) and sub/b.txt
    assert (report.records_added, report.notes_added, report.notes_skipped) == (2, 2, 1)
    stored = sqlite_ctx.store.records.list_records(limit=10, offset=0)
    assert sorted(Path(r.source).name for r in stored) == ["a.jsonl:1", "b.txt"]  # never outside/


@needs_posix
def test_fifo_and_device_files_are_refused_without_blocking(folders, sqlite_ctx):
    root, _ = folders
    os.mkfifo(root / "pipe.jsonl")  # opening this for reading would wait for a writer forever
    result: dict = {}
    worker = threading.Thread(target=lambda: result.setdefault("report", ingest_path(sqlite_ctx, root)), daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "ingest blocked on a FIFO"
    [issue] = result["report"].issues
    assert issue.location.endswith("pipe.jsonl") and "FIFO (named pipe), not a regular file" in issue.message
    # readers used on their own refuse too, with O_NONBLOCK so the open itself cannot hang
    [only] = list(JsonlReader().read(root / "pipe.jsonl"))
    assert "FIFO" in only.message
    [device] = list(TextReader().read(Path("/dev/zero")))  # reading it would never end
    assert "character device, not a regular file" in device.message
    assert "character device" in refusal(Path("/dev/null"))


def test_files_over_the_limit_are_refused_before_reading(tmp_path):
    big = tmp_path / "big.txt"
    big.write_text("x" * 5000, encoding="utf-8")
    reader = reader_for(big, format=None, root=tmp_path, max_file_bytes=4096)
    assert isinstance(reader, RefusedInput)
    [issue] = list(reader.read(big))
    assert "5000 bytes, larger than the per-file limit of 4096 bytes" in issue.message
    for direct in (TextReader(max_bytes=4096), JsonlReader(max_bytes=4096)):
        [issue] = list(direct.read(big))
        assert "per-file limit of 4096" in issue.message
    with pytest.raises(PayloadTooLarge):
        read_input(big, max_bytes=4096)
    assert read_input(big, max_bytes=5000) == b"x" * 5000
    assert isinstance(reader_for(big, format=None, root=tmp_path, max_file_bytes=5000), TextReader)


def test_paths_climbing_out_of_the_root_are_refused(folders):
    root, outside = folders
    climbing = root / "sub" / ".." / ".." / "outside" / "other.txt"
    assert climbing.exists()
    reader = reader_for(climbing, format=None, root=root)
    assert isinstance(reader, RefusedInput) and "outside the ingested folder" in reader.reason
    assert isinstance(reader_for(root / "sub" / ".." / "a.jsonl", format=None, root=root), JsonlReader)


@needs_posix
def test_link_loops_and_broken_links_are_reported(tmp_path, sqlite_ctx):
    root = tmp_path / "in"
    root.mkdir()
    (root / "ok.txt").write_text(NOTE, encoding="utf-8")
    os.symlink(root / "loop-b.txt", root / "loop-a.txt")
    os.symlink(root / "loop-a.txt", root / "loop-b.txt")
    os.symlink(root / "missing.txt", root / "broken.txt")
    report = ingest_path(sqlite_ctx, root)
    messages = {Path(i.location).name: i.message for i in report.issues}
    assert set(messages) == {"loop-a.txt", "loop-b.txt", "broken.txt"}
    assert all(m.startswith("cannot read file: broken symbolic link") for m in messages.values())
    assert report.records_added == 1


@needs_posix
def test_open_input_refuses_special_files_and_reads_regular_ones(tmp_path):
    fifo = tmp_path / "p.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="FIFO"):
        open_input(fifo)
    with pytest.raises(InputError, match="folder"):
        open_input(tmp_path)
    regular = tmp_path / "r.txt"
    regular.write_bytes(b"abc")
    os.symlink(regular, tmp_path / "link.txt")
    with open_input(tmp_path / "link.txt") as handle:  # links are resolved, then opened without following
        assert handle.read() == b"abc"
    assert [p.name for p in iter_input_files(tmp_path)] == ["link.txt", "p.txt", "r.txt"]
