"""Job workers: ``parley worker``, a process that runs jobs from every queue until SIGINT/SIGTERM,
and the workers an API process runs beside itself in embedded mode."""

from __future__ import annotations

import asyncio
import gc
import signal
from collections.abc import Callable, Sequence
from typing import Any

import structlog
from saq import CronJob, Worker

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


class _InProcessWorker(Worker):
    # Inside the API process uvicorn owns SIGINT/SIGTERM; the lifespan stops the worker.
    SIGNALS: list[Any] = []


def build_workers(
    queues: Queues,
    *,
    concurrency: int,
    startup: Callable[[JobContext], Any],
    in_process: bool,
) -> list[Worker]:
    worker_class = _InProcessWorker if in_process else Worker
    workers: list[Worker] = []
    for name in QUEUE_NAMES:
        functions: Sequence[Any] = registry.functions(name)
        cron: Sequence[CronJob[Any]] = registry.CRON_JOBS.get(name, [])
        workers.append(
            worker_class(
                queues[name],
                functions=list(functions),
                cron_jobs=list(cron),
                concurrency=concurrency,
                startup=startup,
                # A job's span and its latency (app.platform.telemetry, app.platform.metrics).
                before_process=[telemetry.job_started, metrics.job_started],
                after_process=[metrics.job_finished, telemetry.job_finished],
                timers={"schedule": 1, "sweep": 30, "abort": 1, "worker_info": 10},
                # Short blocking dequeues let a stopping worker notice promptly; running
                # jobs get the grace period to finish.
                dequeue_timeout=1.0,
                # SAQ's stop waits the whole grace period for its upkeep loops, which never
                # end by themselves; jobs are safe to rerun, so an interrupted one is swept
                # and retried rather than holding the shutdown.
                shutdown_grace_period_s=1 if in_process else 10,
            )
        )
    return workers


def in_process_workers(concurrency: int) -> WorkerFactory:
    """The workers an API process runs beside itself (the embedded default)."""

    def build(queues: Queues, startup: Callable[[JobContext], None]) -> list[Worker]:
        return build_workers(queues, concurrency=concurrency, startup=startup, in_process=True)

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
            in_process=True,  # this function owns the signals and stops every worker
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
