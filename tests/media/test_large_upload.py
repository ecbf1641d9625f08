"""A 100 MB document streams through: the server's memory barely moves while it is uploaded."""

from __future__ import annotations

import gc
import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from tests.support.client import Api
from tests.support.media import upload
from tests.support.messaging import member
from tests.support.server import RunningServer

SIZE = 100 * 1024 * 1024
MAX_GROWTH = 30 * 1024 * 1024


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """The largest resident set size of this process (the server runs in it) while running."""

    def __init__(self) -> None:
        self.peak = _rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, _rss())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


def _large_pdf(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("wb") as out:
        head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        out.write(head)
        digest.update(head)
        block = bytes(range(256)) * 4096  # 1 MiB
        written = len(head)
        while written < SIZE:
            chunk = block[: SIZE - written]
            out.write(chunk)
            digest.update(chunk)
            written += len(chunk)
    return digest.hexdigest()


@pytest.mark.serial
async def test_a_100_mb_document_upload_keeps_the_server_rss_growth_under_30_mb(
    server: RunningServer, api: Api, tmp_path: Path
) -> None:
    owner = await member(server, api)
    document = tmp_path / "annual-report.pdf"
    sha256 = _large_pdf(document)
    # Whatever a first upload sets up once (the store's runtime, worker threads) is not growth
    # from the size of a file: a small one goes first.
    warm_up = await upload(owner, b"%PDF-1.4\n" + b"0" * 3 * 1024 * 1024, "warm-up.pdf")
    assert warm_up.status_code == 200
    gc.collect()
    before = _rss()
    started = time.monotonic()
    with PeakRss() as rss:
        response = await upload(owner, document, document.name, "application/pdf")
    elapsed = time.monotonic() - started
    assert response.status_code == 200, response.text
    payload = response.json()["data"]["uploadMedia"]
    assert payload["userErrors"] == []
    stored = payload["mediaFile"]
    assert (stored["kind"], stored["mimeType"], stored["size"]) == (
        "DOCUMENT",
        "application/pdf",
        SIZE,
    )
    assert stored["sha256"] == sha256
    growth = rss.peak - before
    print(f"100 MB upload: {elapsed:.1f} s, peak RSS growth {growth / 1024 / 1024:.1f} MB")
    assert growth < MAX_GROWTH, f"RSS grew {growth / 1024 / 1024:.1f} MB"
