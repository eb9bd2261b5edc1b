"""The ``carecast`` command line: a thin shell over the public API (see ``carecast --help``)."""

import carecast.cli.brand  # noqa: F401  (registers brand audit, brand sync)
from carecast.cli import (
    doctor,  # noqa: F401  (registers doctor)
    init,  # noqa: F401  (registers init)
    loop,  # noqa: F401  (registers worker, schedule, freeze, thaw, takedown, posts)
    plan,  # noqa: F401  (registers plan check, plan apply, calendar)
    serve,  # noqa: F401  (registers serve, serve add-client, serve hash-key)
    workflow,  # noqa: F401  (registers approve, reject, pending, consent, audit)
)
from carecast.cli.commands import app, main

__all__ = ["app", "main"]
