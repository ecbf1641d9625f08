"""SAQ queues and workers.

Jobs are plain ``async def job(ctx: JobContext, *, some_id)`` functions registered under their
declarations in ``app.workers.registry``. ``ctx["runtime"]`` is the process's :class:`app.platform.runtime.Runtime`.
"""
