"""``carecast serve``: a REST service over the public API, for CMSs (``carecast[server]``).

FastAPI builds the OpenAPI schema and validates requests from carecast's own pydantic models
(``Post`` is the request's ``post``), so the schema and the checks cannot drift from the
library; uvicorn serves it. Nothing here is imported by ``import carecast``.

- ``create_app(publisher, clients)``: the ASGI app (see ``carecast.server.app``).
- ``Clients`` / ``hash_key`` / ``new_key``: API keys per client, scoped to brands and verbs,
  stored hashed (see ``carecast.server.clients``).
- ``Notifier``: signed callbacks when a submitted target is published, held or fails.
- ``serve``: run it all with uvicorn.
"""

from __future__ import annotations

from carecast.publish import Publisher
from carecast.server.app import create_app
from carecast.server.callbacks import Notifier
from carecast.server.clients import Client, Clients, Verb, hash_key, new_key

__all__ = ["Client", "Clients", "Notifier", "Verb", "create_app", "hash_key", "new_key",
           "serve"]


def serve(publisher: Publisher, clients: Clients, *, host: str = "127.0.0.1",
          port: int = 8750, max_body: int = 1 << 20, callback_interval: float = 5.0) -> None:
    """Serve the API until stopped, sending callbacks meanwhile. On SIGTERM or Ctrl-C,
    uvicorn finishes the calls in flight and the callback thread its pass, then the process
    ends by the signal (uvicorn re-raises it)."""
    import uvicorn

    notifier = Notifier(publisher.ledger, clients, publisher.clock)
    uvicorn.run(create_app(publisher, clients, max_body=max_body, notifier=notifier,
                           callback_interval=callback_interval),
                host=host, port=port, log_level="info")
