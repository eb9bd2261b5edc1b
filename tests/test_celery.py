"""The Celery tasks, run eagerly over a fake platform: the same claims, each target once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

pytest.importorskip("celery")

from carecast import Post
from carecast.celery import CelerySettings, make_app
from carecast.errors import ConfigurationError
from carecast.records import State
from carecast.testing import FrozenClock, fake_config

SETTINGS = CelerySettings(broker_url="memory://", visibility_timeout=600, beat_interval=1)


def _app(publisher: Any) -> Any:
    app = make_app(settings=SETTINGS, publisher=publisher)
    app.conf.task_always_eager = True
    return app


def test_beat_scan_publishes_each_due_target_once(fake_publisher: Any) -> None:
    clock = FrozenClock()
    publisher = fake_publisher(["a", "b"], clock=clock)
    for i in range(3):
        publisher.publish(Post(id=f"p{i}", text=f"Flu clinic {i} opens Monday.",
                               schedule=clock.now() + timedelta(hours=1)))
    assert publisher.platform.sends == []
    app = _app(publisher)
    assert app.tasks["carecast.enqueue_due"].delay().get() == 0  # nothing due yet
    clock.advance(hours=2)
    assert app.tasks["carecast.enqueue_due"].delay().get() == 6
    assert app.tasks["carecast.enqueue_due"].delay().get() == 0
    assert app.tasks["carecast.fan_out"].delay("p0").get() == 0
    assert sorted(set(publisher.platform.sends)) == sorted(publisher.platform.sends)
    assert len(publisher.platform.sends) == 6
    assert {r.state for i in range(3) for r in publisher.status(f"p{i}")} == {State.PUBLISHED}


def test_a_visibility_timeout_shorter_than_the_lease_is_refused() -> None:
    config = fake_config(["a"], stale_sending_after=900)
    with pytest.raises(ConfigurationError, match="CARECAST_CELERY_VISIBILITY_TIMEOUT"):
        make_app(config, settings=SETTINGS)


def test_the_app_acks_late_and_prefetches_one() -> None:
    app = make_app(fake_config(["a"]), settings=SETTINGS)
    assert app.conf.task_acks_late is True
    assert app.conf.worker_prefetch_multiplier == 1
    assert app.conf.broker_transport_options == {"visibility_timeout": 600}
    assert "carecast-enqueue-due" in app.conf.beat_schedule
