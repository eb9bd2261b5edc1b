"""carecast on Celery workers: thin tasks over the same publisher and ledger claims.

``make_app(config)`` returns a Celery app with three tasks:

- ``carecast.publish_target(post_id, account)``: one target, through ``Loop.run_post`` (the
  worker's own path: freeze, review, claim, send, reconcile). A target that failed or whose
  outcome is unknown is enqueued again when the dispatcher's retry policy would retry its
  error (``RetryPolicy.retries``), after the wait it gives, while the ledger still finds it
  due (claimed fewer than ``[publish] worker_rounds`` times). Never Celery's autoretry.
- ``carecast.fan_out(post_id)``: enqueues the targets of a stored post that have work now.
- ``carecast.enqueue_due()``: run by the beat schedule; enqueues what
  ``Ledger.due_targets`` finds (scheduled posts whose time came, approved drafts, failed and
  unknown ones with rounds left, sends a killed worker left).

The broker only delivers: every task may run twice or not at all; the claim in the ledger
makes the send happen once, and the beat finds whatever a lost message left behind.
Run it with ``carecast worker --celery`` or ``celery -A carecast.celery worker`` (the
configuration file from ``CARECAST_CONFIG``).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from carecast.config import Config, load_config
from carecast.errors import CarecastError, ConfigurationError
from carecast.records import State

if TYPE_CHECKING:
    from celery import Celery

    from carecast.publish.publisher import Publisher

__all__ = ["CelerySettings", "make_app", "worker_argv"]

log = logging.getLogger("carecast.celery")

class CelerySettings(BaseSettings):
    """Where the broker is and how the queue is timed (``CARECAST_CELERY_*`` variables)."""

    model_config = SettingsConfigDict(env_prefix="CARECAST_CELERY_", frozen=True,
                                      extra="forbid")

    broker_url: str = Field(default="redis://127.0.0.1:6379/0", repr=False,
                            description="The broker (Redis by default).")
    visibility_timeout: float = Field(
        default=3600.0, ge=1,
        description="Seconds before the broker hands an unacknowledged task to another "
                    "worker; at least [publish] stale_sending_after.")
    beat_interval: float = Field(default=30.0, ge=0.1, le=86400,
                                 description="Seconds between scans for what is due.")
    queue: str = Field(default="carecast", min_length=1, max_length=200,
                       description="The queue carecast's tasks go to.")


def worker_argv(*, beat: bool = False, name: str | None = None) -> list[str]:
    """The ``celery worker`` arguments carecast runs with: one process taking one task at a
    time (``solo``: a SIGKILL leaves no orphan child), ``beat`` embedded when asked."""
    argv = ["worker", "--pool", "solo", "--loglevel", "INFO", "--without-gossip",
            "--without-mingle"]
    if beat:
        argv.append("--beat")
    if name:
        argv += ["--hostname", name]
    return argv


def make_app(config: Config | str | Path | None = None, *,
             settings: CelerySettings | None = None,
             publisher: Publisher | None = None) -> Celery:
    """A Celery app publishing with ``config`` (a ``Config``, or the path of
    ``carecast.toml``). ``publisher`` replaces the one each worker process builds (tests
    give one with a frozen clock)."""
    try:
        from celery import Celery, signals
    except ImportError:
        raise ConfigurationError("carecast's Celery tasks need the celery extra: "
                                 "pip install 'carecast[celery]'") from None
    if publisher is not None:
        config = publisher.config
    elif not isinstance(config, Config):
        config = load_config(config)
    settings = settings or CelerySettings()
    lease = config.publish.stale_sending_after
    if settings.visibility_timeout < lease:
        raise ConfigurationError(
            f"CARECAST_CELERY_VISIBILITY_TIMEOUT: {settings.visibility_timeout:g} s is shorter "
            f"than [publish] stale_sending_after ({lease:g} s); a task would be handed to a "
            "second worker while the first may still hold the target: raise it")
    app = Celery("carecast", set_as_current=False)
    app.conf.update(
        broker_url=settings.broker_url,
        broker_transport_options={"visibility_timeout": settings.visibility_timeout},
        broker_connection_retry_on_startup=True,
        task_acks_late=True,  # a task is acknowledged after it ran: a crash redelivers it
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # a worker holds no task it is not running
        task_ignore_result=True,
        task_default_queue=settings.queue,
        task_serializer="json", accept_content=["json"],
        enable_utc=True, timezone="UTC",
        worker_hijack_root_logger=False,
        beat_schedule={"carecast-enqueue-due": {"task": "carecast.enqueue_due",
                                                "schedule": settings.beat_interval}},
    )
    state = _State(config, settings, publisher)
    app.carecast = state
    signals.worker_process_init.connect(state.forked, weak=False)
    signals.worker_process_shutdown.connect(state.close, weak=False)

    @app.task(name="carecast.publish_target", shared=False)  # type: ignore[untyped-decorator]
    def publish_target(post_id: str, account: str) -> dict[str, Any]:
        """Publish one (post, account) target through the worker's path."""
        pub = state.publisher()
        state.markers.clear(post_id, account)
        try:
            report = pub.loop.run_post(post_id, only=[account])
        except CarecastError as exc:  # a bad post is the ledger's to report, never retried
            log.error("post %s account %s: %s", post_id, account, type(exc).__name__)
            return {"post_id": post_id, "account": account, "state": "error",
                    "error": type(exc).__name__}
        outcome = next((o for o in report.outcomes if o.account == account), None) \
            if report is not None else None
        if outcome is None:
            return {"post_id": post_id, "account": account, "state": "skipped"}
        error = outcome.error
        if outcome.state in (State.FAILED, State.UNKNOWN) and error is not None \
                and pub.retry_policy.retries(error) and (post_id, account) in state.due(post_id):
            wait = min(pub.retry_policy.wait_for(error, outcome.tries),
                       settings.visibility_timeout / 2)
            state.enqueue([(post_id, account)], countdown=wait, force=True)
        return {"post_id": post_id, "account": account, "state": str(outcome.state),
                "tries": outcome.tries}

    @app.task(name="carecast.fan_out", shared=False)  # type: ignore[untyped-decorator]
    def fan_out(post_id: str) -> int:
        """Enqueue every target of a stored post that has work now; returns how many."""
        return state.enqueue(state.due(post_id))

    @app.task(name="carecast.enqueue_due", shared=False)  # type: ignore[untyped-decorator]
    def enqueue_due() -> int:
        """Enqueue every target with work now (the beat runs it); returns how many."""
        return state.enqueue(state.due())

    state.task = publish_target
    return app


class _State:
    """What the tasks of one app share in a worker process: the publisher, built once."""

    def __init__(self, config: Config, settings: CelerySettings,
                 publisher: Publisher | None) -> None:
        self.config = config
        self.settings = settings
        self.given = publisher
        self._publisher = publisher
        self._lock = threading.Lock()
        self.markers = _Markers(settings)
        self.task: Any = None

    def publisher(self) -> Publisher:
        if self._publisher is None:
            with self._lock:
                if self._publisher is None:
                    from carecast.publish.publisher import Publisher

                    self._publisher = Publisher(self.config)
        return self._publisher

    def forked(self, **_: Any) -> None:
        """A new pool process: its own publisher (no connection is shared across a fork)."""
        self._publisher = self.given
        self.markers = _Markers(self.settings)

    def close(self, **_: Any) -> None:
        if self._publisher is not None and self._publisher is not self.given:
            self._publisher.close()
        self._publisher = self.given

    def due(self, post_id: str | None = None) -> list[tuple[str, str]]:
        """The targets with work now (of ``post_id`` only, if given): ``Ledger.due_targets``
        with the worker's settings."""
        publish = self.publisher().config.publish
        return self.publisher().ledger.due_targets(
            stale_after=publish.stale_sending_after, rounds=publish.worker_rounds,
            post_id=post_id)

    def enqueue(self, targets: Iterable[tuple[str, str]], *, countdown: float = 0.0,
                force: bool = False) -> int:
        """Send a task per target not already queued (``force``: even so); how many."""
        wanted = list(targets)
        sent = 0
        for target, fresh in zip(wanted, self.markers.take(wanted, countdown, force=force),
                                 strict=True):
            if fresh:
                self.task.apply_async(target, countdown=countdown or None)
                sent += 1
        return sent


class _Markers:
    """Which targets have a task in the queue, so the beat does not pile up copies (Redis
    brokers only; elsewhere every scan enqueues again, which is safe, only slower). A
    marker lives one visibility timeout (after that the broker would redeliver anyway); a
    delayed task's only its delay and two beat intervals: a worker holds a delayed task
    until it is due, and a worker killed meanwhile takes it along until the visibility
    timeout, so the beat enqueues the target again instead."""

    def __init__(self, settings: CelerySettings) -> None:
        self.ttl = settings.visibility_timeout
        self.grace = 2 * settings.beat_interval
        self._client: Any = None
        if urlsplit(settings.broker_url).scheme in ("redis", "rediss"):
            import redis

            self._client = redis.Redis.from_url(settings.broker_url, socket_timeout=5,
                                                socket_connect_timeout=5)

    @staticmethod
    def _name(post_id: str, account: str) -> str:
        return f"carecast:queued:{len(post_id)}:{post_id}:{account}"

    def take(self, targets: Sequence[tuple[str, str]], countdown: float, *, force: bool
             ) -> list[bool]:
        """Mark the targets queued (one round trip); False for each that already was (and
        not ``force``)."""
        if self._client is None or not targets:
            return [True] * len(targets)
        import redis

        ttl = max(1, math.ceil(countdown + self.grace if countdown else self.ttl))
        try:
            pipe = self._client.pipeline(transaction=False)
            for post_id, account in targets:
                pipe.set(self._name(post_id, account), b"1", ex=ttl, nx=not force)
            return [bool(done) or force for done in pipe.execute()]
        except redis.RedisError:  # the broker is away: the task's own send fails or waits
            return [True] * len(targets)

    def clear(self, post_id: str, account: str) -> None:
        if self._client is None:
            return
        import redis

        with contextlib.suppress(redis.RedisError):
            self._client.delete(self._name(post_id, account))


def __getattr__(name: str) -> Any:
    """``celery -A carecast.celery worker``: the app of ``CARECAST_CONFIG`` (or
    ``carecast.toml`` in the current folder), made on first use."""
    if name != "app":
        raise AttributeError(name)
    made = make_app(os.environ.get("CARECAST_CONFIG") or None)
    globals()["app"] = made
    return made
