"""``parley worker``: a process that runs jobs from every queue until SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import gc
import signal

import structlog

from app.platform.config import Settings
from app.platform.logging import configure_logging
from app.runtime import start_runtime
from app.workers import build_workers, stop_workers

log = structlog.get_logger("parley.worker")


async def run_worker_process(settings: Settings) -> None:
    configure_logging(json_lines=settings.json_logs, level=settings.log_level)
    async with start_runtime(settings, run_workers_here=False) as runtime:
        workers = build_workers(
            runtime.queues,
            concurrency=settings.worker_concurrency,
            startup=runtime.job_context,
            in_process=True,  # this function owns the signals and stops every worker
        )
        runtime.workers = workers
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        # What is loaded by now (modules, schema, models) lives as long as the process: kept out
        # of the collector's passes, a full collection stops every thread for a few ms rather
        # than ~100 ms (which cost a fast campaign a tenth of a second of its device's slots).
        gc.collect()
        gc.freeze()
        tasks = [asyncio.create_task(worker.start()) for worker in workers]
        log.info("worker_started", queues=[w.queue.name for w in workers])
        await stop.wait()
        log.info("worker_stopping")
        await stop_workers(workers)
        await asyncio.gather(*tasks, return_exceptions=True)
