"""The Celery queues, named once for the settings (which task goes where) and the launcher (which
worker takes what, `-Q`). Plain names, no Django: the launcher imports this before any settings."""

from __future__ import annotations

# Upstream work: polls and discovery, thousands of messages when many sources are due at once.
UPSTREAM = "polls"
# Everything else: dispatch ticks, alerts, reminders, digests, housekeeping. Celery's default queue
# name, so a message queued before the queues were split is still taken.
CONTROL = "celery"
EVERY = (CONTROL, UPSTREAM)
# Threads of the worker `make run` gives the control queue: a dispatch, an alert run, reminders and a
# long prune or digest at once, none waiting for another.
CONTROL_THREADS = 4
