"""Job workers: ``parley worker``, a process that runs jobs from every queue until SIGINT/SIGTERM,
and the workers an API process runs beside itself in embedded mode."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from saq import CronJob, Queue, Worker

from app import reactions
from app.ai import config as ai_config
from app.integrations import delivery as webhook_delivery
from app.integrations import outbox
from app.platform import metrics, telemetry
from app.platform.config import Settings
from app.platform.logging import configure_logging
from app.platform.queues import QUEUE_NAMES, Queues, stop_workers
from app.platform.runtime import JobContext, WorkerFactory, start_runtime
from app.workers import registry

# How long a running job has to finish once its worker stops. More than the dequeue timeout
# below, so a worker's idle dequeues end within it too.
STOP_GRACE_SECONDS = 5


class _OwnedWorker(Worker):
    # Its owner handles SIGINT/SIGTERM and stops it: uvicorn and the API's lifespan, or
    # run_worker_process.
    SIGNALS: list[Any] = []


def build_workers(
    queues: Queues,
    *,
    concurrency: int,
    startup: Callable[[JobContext], Any],
) -> list[Worker]:
    return [
        owned_worker(
            queues[name],
            functions=registry.functions(name),
            cron_jobs=registry.CRON_JOBS.get(name, []),
            concurrency=concurrency,
            startup=startup,
        )
        for name in QUEUE_NAMES
    ]


def owned_worker(
    queue: Queue,
    *,
    functions: Sequence[Any],
    cron_jobs: Sequence[CronJob[Any]],
    concurrency: int,
    startup: Callable[[JobContext], Any],
) -> Worker:
    """A worker of ``queue`` whose owner stops it (app.platform.queues.stop_workers)."""
    return _OwnedWorker(
        queue,
        functions=list(functions),
        cron_jobs=list(cron_jobs),
        concurrency=concurrency,
        startup=startup,
        # A job's span and its latency (app.platform.telemetry, app.platform.metrics).
        before_process=[telemetry.job_started, metrics.job_started],
        after_process=[metrics.job_finished, telemetry.job_finished],
        timers={"schedule": 1, "sweep": 30, "abort": 1, "worker_info": 10},
        # Short blocking dequeues let a stopping worker notice promptly; running jobs get the
        # grace period to finish.
        dequeue_timeout=1.0,
        # Upkeep loops are cancelled at once (stop_workers); jobs are safe to rerun, so one
        # still running after the grace period is cancelled and retried.
        shutdown_grace_period_s=STOP_GRACE_SECONDS,
    )


def in_process_workers(concurrency: int) -> WorkerFactory:
    """The workers an API process runs beside itself (the embedded default)."""

    def build(queues: Queues, startup: Callable[[JobContext], None]) -> list[Worker]:
        return build_workers(queues, concurrency=concurrency, startup=startup)

    return build


log = structlog.get_logger("parley.worker")


async def run_worker_process(settings: Settings) -> None:
    configure_logging(json_lines=settings.json_logs, level=settings.log_level)
    telemetry.configure_tracing("parley-worker")
    metrics.serve_worker_metrics(settings)
    reactions.install()
    async with start_runtime(settings) as runtime:
        workers = build_workers(
            runtime.queues,
            concurrency=settings.worker_concurrency,
            startup=runtime.job_context,
        )
        runtime.workers = workers
        await outbox.attach(runtime)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        if ai_config.is_configured(settings):
            # Semantic Kernel costs a second or more of CPU to import. Imported before the
            # worker takes jobs rather than at its first AI run, where the import's hold on the
            # GIL stalled every job the worker was running (webhooks, sends) for that long.
            await asyncio.to_thread(ai_config.import_frameworks)
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
        await outbox.detach(runtime)
        await webhook_delivery.close_client()
    telemetry.flush_tracing()
