"""Queue layer: the one actor — a run id in, ``runs.execute.execute_run`` out.

Actors are declared on an explicit broker inside ``declare_actors`` (never at import time). The actor is
idempotent because ``execute_run`` is: a repeated or late message for a run that is not ``queued`` is
dropped. Only a temporary failure before the run was taken (the database is down) raises, so that
dramatiq's ``Retries`` sends the message again later.
"""

from __future__ import annotations

import dramatiq

from shera.queue.broker import ACTOR, QUEUE
from shera.runs.execute import WorkerContext, execute_run


def declare_actors(broker: dramatiq.Broker, ctx: WorkerContext) -> dramatiq.Actor[[str], None]:
    """Declare the run actor on ``broker``, bound to this worker's ``ctx``; returns it."""

    def execute(run_id: str) -> None:
        execute_run(ctx, run_id)

    execute.__name__ = ACTOR
    declare = dramatiq.actor(broker=broker, actor_name=ACTOR, queue_name=QUEUE, max_retries=5)
    actor: dramatiq.Actor[[str], None] = declare(execute)
    return actor
