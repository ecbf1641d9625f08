"""AI agents: Semantic Kernel single agents with Parley plugins, AutoGen teams, run as jobs.

Nothing here calls a model inside a request: mutations create an AgentRun and enqueue
``run_agent`` on the ``ai`` queue. The frameworks are imported only by the job.
"""
