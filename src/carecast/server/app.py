"""The ASGI application of ``carecast serve``: the public API over HTTP, one verb per call.

Every call needs a client's key (``Authorization: Bearer KEY``) whose scope holds the verb and
every brand the call touches; every authenticated call is an audit event with the client's
name. Answers hold states, receipts, errors and findings, never a post's text, so nothing a
check flagged is echoed back; the one exception is the preview page (``/v1/preview.html``,
``/v1/posts/{id}/preview.html``), which shows a client allowed to preview exactly the drafts
its accounts would get (a stored post as it was stored: masked where a check blocked it).
A body over ``max_body`` bytes is refused (413) before it is parsed; a malformed one gets a
422 naming each field (``post.text``) and never quoting it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from carecast.errors import (
    ApprovalRefused,
    AuditTampered,
    CarecastError,
    InvalidPost,
    PostRejected,
    StoreError,
)
from carecast.post import Post, _loc, _message
from carecast.publish import Preview, Publisher
from carecast.records import Attempt, State
from carecast.server.audit import SUBMIT, audit
from carecast.server.callbacks import Notifier
from carecast.server.clients import Client, Clients, Verb

__all__ = ["ApiError", "create_app"]

log = logging.getLogger("carecast.server")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class ApiError(Exception):
    """An HTTP error with carecast's error body: type, message and the fields at fault."""

    def __init__(self, status: int, kind: str, message: str,
                 problems: tuple[tuple[str, str], ...] = (),
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.kind, self.message = status, kind, message
        self.problems, self.headers = problems, headers

    def response(self) -> JSONResponse:
        """The JSON answer."""
        return JSONResponse(_error_body(self.kind, self.message, self.problems),
                            status_code=self.status, headers=self.headers)


def _error_body(kind: str, message: str, problems: tuple[tuple[str, str], ...] = ()
                ) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message,
                      "problems": [{"field": f, "message": m} for f, m in problems]}}


def api_error(exc: CarecastError) -> ApiError:
    """The HTTP form of a carecast error (whose messages are safe to show)."""
    problems = exc.problems if isinstance(exc, InvalidPost) else ()
    if isinstance(exc, InvalidPost) and ("post_id", "unknown") in problems:
        status = 404
    elif isinstance(exc, ApprovalRefused):
        status = 409
    elif isinstance(exc, PostRejected):
        status = 422
    elif isinstance(exc, StoreError):
        status = 503
    elif isinstance(exc, AuditTampered):
        status = 500
    else:
        status = 400
    return ApiError(status, type(exc).__name__, str(exc), problems)


# -- request bodies ---------------------------------------------------------------------------

class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Submit(_Body):
    """A post to preview, publish now, or store for its scheduled time."""

    action: Literal["preview", "publish", "schedule"] = Field(
        default="publish", description="preview: review only, nothing stored or sent; "
        "publish: send now (a post with a future schedule waits for it); schedule: store "
        "it for post.schedule, which must be in the future.")
    post: Post
    only: list[str] = Field(default=[], description="Only these target accounts.")


class PreviewRequest(_Body):
    """A post to show as the preview page; nothing is stored or sent."""

    post: Post
    only: list[str] = Field(default=[], description="Only these target accounts.")


class Reschedule(_Body):
    """A new time for a stored post."""

    at: datetime


class Approve(_Body):
    """A signature on the next step of the drafts awaiting approval."""

    approver: str = Field(min_length=1, max_length=200)
    step: str | None = None
    accounts: list[str] = []
    note: str = Field(default="", max_length=2000)


class Reject(_Body):
    """A rejection: the drafts are held for good."""

    approver: str = Field(min_length=1, max_length=200)
    note: str = Field(min_length=1, max_length=2000, description="Why (stored, not shown).")
    accounts: list[str] = []


class TakedownBody(_Body):
    """Delete a published post from the platforms."""

    reason: str = Field(min_length=1, max_length=2000)
    by: str = Field(min_length=1, max_length=200)
    accounts: list[str] = []


class FreezeBody(_Body):
    """Stop every send of a brand (of every brand without one)."""

    reason: str = Field(min_length=1, max_length=2000)
    by: str = Field(min_length=1, max_length=200)
    brand: str | None = None
    until: datetime | None = None


class ThawBody(_Body):
    """End the freezes of a brand (every freeze without one)."""

    by: str = Field(min_length=1, max_length=200)
    brand: str | None = None


# -- answers ----------------------------------------------------------------------------------

def _attempt(a: Attempt) -> dict[str, Any]:
    """A ledger row without its draft (the draft holds the post's text)."""
    return {"account": a.account, "channel": a.channel, "state": str(a.state),
            "tries": a.tries, "updated_at": a.updated_at.isoformat(),
            "receipt": a.receipt.model_dump(mode="json") if a.receipt else None,
            "error": a.error.to_dict() if a.error else None,
            "findings": [f.model_dump(mode="json") for f in a.findings]}


def _page(preview: Preview) -> HTMLResponse:
    """The preview page, with the headers that keep it to itself: its own policy (nothing
    loads, nothing runs, no framing), no caching (it holds the drafts' text)."""
    from carecast.preview_page import content_security_policy, preview_html

    return HTMLResponse(preview_html(preview), headers={
        "Content-Security-Policy": f"{content_security_policy()}; frame-ancestors 'none'",
        "Cache-Control": "no-store", "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff"})


# -- size limit -------------------------------------------------------------------------------

class BodyLimit:
    """Refuse (413) a request body over ``max_bytes``, before the application reads it."""

    #: A refused body is read (and dropped) up to this many times the limit.
    DRAIN = 16

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or ()).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._refuse(receive, send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            more = message.get("more_body", False)
            if size > self.max_bytes:
                await self._refuse(receive, send, size, more=more)
                return
            chunks.append(chunk)
        body, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, receive: Receive, send: Send, read: int = 0, *,
                      more: bool = True) -> None:
        """Answer 413. Up to ``DRAIN`` times the limit is read and dropped first, so that a
        client still sending gets the answer rather than a reset connection."""
        while more and read <= self.DRAIN * self.max_bytes:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read += len(message.get("body", b""))
            more = message.get("more_body", False)
        data = json.dumps(_error_body(
            "PayloadTooLarge", f"the request body is over {self.max_bytes:,} bytes; send a "
            "smaller post (media by URL or path, not inline), or raise carecast serve "
            "--max-body", (("(body)", "too large"),))).encode()
        await send({"type": "http.response.start", "status": 413, "headers": [
            (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode()),
            (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": data})


# -- the application --------------------------------------------------------------------------

_BEARER = HTTPBearer(auto_error=False, description="A client's API key.")


def _client_of(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None,
                                                        Depends(_BEARER)]) -> Client:
    """The client whose key the call carries; 401 without a valid one."""
    clients: Clients = request.app.state.clients
    client = clients.authenticate(credentials.credentials) if credentials else None
    if client is None:
        log.warning("refused a call without a valid API key")
        raise ApiError(401, "Unauthorized", "give a client's API key as "
                       "'Authorization: Bearer KEY' (carecast serve add-client makes one)",
                       (("authorization", "missing or unknown key"),),
                       headers={"WWW-Authenticate": "Bearer"})
    return client


Caller = Annotated[Client, Depends(_client_of)]


def create_app(publisher: Publisher, clients: Clients, *, max_body: int = 1 << 20,
               notifier: Notifier | None = None, callback_interval: float = 5.0,
               sms_public_url: str | None = None) -> FastAPI:
    """The ASGI app over ``publisher`` for ``clients``. ``notifier`` sends the callbacks:
    its thread runs while the server does (ASGI lifespan), and every call kicks it.
    ``sms_public_url`` is the origin Twilio posts the SMS webhooks to, when a proxy is in
    front (``carecast.sms_inbound``)."""

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if notifier is not None:
            notifier.start(callback_interval)
        try:
            yield
        finally:
            if notifier is not None:
                await asyncio.to_thread(notifier.stop)

    app = FastAPI(
        title="carecast", version="1",
        description="Preview, publish and schedule posts; approve, reject, take down, freeze. "
                    "Every call needs `Authorization: Bearer KEY`.",
        docs_url=None, redoc_url=None, openapi_url="/v1/openapi.json", lifespan=lifespan)
    app.state.clients = clients
    config = publisher.config

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(CarecastError)
    async def _carecast_error(_request: Request, exc: CarecastError) -> JSONResponse:
        return api_error(exc).response()

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Only where and why: pydantic's own error holds the input, which may hold PHI.
        problems = tuple((_loc(tuple(e["loc"][1:] if e["loc"][:1] == ("body",) else e["loc"]))
                          or "(body)", _message(e)) for e in exc.errors())
        lines = "; ".join(f"{f}: {m}" for f, m in problems)
        return JSONResponse(_error_body("InvalidRequest", f"the request is not valid: {lines}",
                                        problems), status_code=422)


    def allow(client: Client, verb: Verb, brands: set[str | None], post_id: str = "") -> None:
        refused = sorted(str(b or "every brand") for b in brands if not client.may(verb, b))
        if refused:
            audit(publisher.ledger, client.name, "api.refused", post_id, verb=str(verb),
                  brands=refused)
            raise ApiError(403, "Forbidden", f"client {client.name} may not {verb} posts of "
                           f"{', '.join(refused)}", (("authorization", "outside its scope"),))

    def stored_brands(client: Client, verb: Verb, post_id: str) -> set[str | None]:
        """The brands a stored post touches; 404 for an unknown one."""
        post = publisher.ledger.get_post(post_id)
        if post is None:
            raise ApiError(404, "NotFound", f"no post {post_id!r} in the store",
                           (("post_id", "unknown"),))
        brands = brands_of(post, publisher.ledger.attempts(post_id))
        allow(client, verb, brands, post_id)
        return brands

    def brands_of(post: Post, rows: list[Attempt]) -> set[str | None]:
        """The post's brand and each target account's."""
        return {post.brand or config.default_brand()} | {
            config.accounts[a.account].brand for a in rows if a.account in config.accounts}

    def call(client: Client, verb: str, post_id: str, run: Callable[[], Any],
             kind: str | None = None, **data: Any) -> Any:
        """Run the library call and audit it, with its HTTP status, as the client's."""
        status = 200
        try:
            return run()
        except CarecastError as exc:
            status = api_error(exc).status
            raise
        finally:
            audit(publisher.ledger, client.name, kind or f"api.{verb}", post_id,
                  verb=verb, status=status, **data)
            if notifier is not None and status == 200:
                notifier.kick()

    @app.post("/sms/{account}/{hook}", include_in_schema=False)
    async def sms_webhook(account: str, hook: str, request: Request) -> Any:
        """Twilio's inbound replies and status callbacks (signed by Twilio, not by a key)."""
        from fastapi.responses import Response

        from carecast.sms_inbound import SmsInbound

        body = await request.body()
        inbound = SmsInbound(_sms_channel(publisher), lambda: _messaging(publisher),
                             public_url=sms_public_url)
        answer = await asyncio.to_thread(
            inbound.handle, request.url.path, body, request.headers.get("X-Twilio-Signature"),
            str(request.url))
        return Response(answer.body, status_code=answer.status,
                        media_type=answer.content_type)

    @app.post("/v1/posts", summary="Preview, publish or schedule a post")
    def submit(body: Submit, client: Caller) -> dict[str, Any]:
        post = publisher.reviewer.localized(body.post)
        verb = Verb(body.action)
        names = publisher.targets(post, body.only)
        allow(client, verb, {post.brand or config.default_brand()}
              | {config.accounts[n].brand for n in names if n in config.accounts}, post.id)
        if verb == Verb.PREVIEW:
            report = call(client, "preview", post.id,
                          lambda: publisher.publish(post, only=body.only, dry_run=True))
            return dict(report.to_dict())
        if verb == Verb.SCHEDULE and (post.schedule is None
                                      or post.schedule <= publisher.clock.now()):
            raise ApiError(422, "InvalidRequest", "post.schedule: give a time in the future "
                           "to schedule a post (or use action publish)",
                           (("post.schedule", "missing or in the past"),))
        report = call(client, str(verb), post.id,
                      lambda: publisher.publish(post, only=body.only), kind=SUBMIT,
                      action=str(verb), accounts=names)
        return dict(report.to_dict())

    @app.post("/v1/preview.html", response_class=HTMLResponse,
              summary="The preview page of a post: each account's draft as its platform "
                      "shows it, findings marked in the text")
    def preview_page(body: PreviewRequest, client: Caller) -> HTMLResponse:
        post = publisher.reviewer.localized(body.post)
        names = publisher.targets(post, body.only)
        allow(client, Verb.PREVIEW, {post.brand or config.default_brand()}
              | {config.accounts[n].brand for n in names if n in config.accounts}, post.id)
        return _page(call(client, "preview", post.id,
                          lambda: publisher.preview(post, only=body.only)))

    @app.get("/v1/posts/{post_id}/preview.html", response_class=HTMLResponse,
             summary="The preview page of a stored post, for its stored targets")
    def stored_preview_page(post_id: str, client: Caller) -> HTMLResponse:
        stored_brands(client, Verb.PREVIEW, post_id)

        def run() -> Preview:
            post = publisher.ledger.get_post(post_id)
            if post is None:  # taken out of the store since stored_brands looked
                raise ApiError(404, "NotFound", f"no post {post_id!r} in the store",
                               (("post_id", "unknown"),))
            only = [a.account for a in publisher.ledger.attempts(post_id)]
            return publisher.preview(post, only=only)

        return _page(call(client, "preview", post_id, run))

    @app.get("/v1/posts", summary="List stored posts of the client's brands")
    def list_posts(client: Caller, brand: str | None = None,
                   state: State | None = None) -> list[dict[str, Any]]:
        if brand is not None:
            allow(client, Verb.LIST, {brand})
        elif Verb.LIST not in client.verbs:
            allow(client, Verb.LIST, {None})

        def rows() -> list[dict[str, Any]]:
            ledger, out = publisher.ledger, []
            for post_id in ledger.post_ids():
                post = ledger.get_post(post_id)
                if post is None:
                    continue
                own = post.brand or config.default_brand()
                targets = ledger.attempts(post_id)
                if (brand is not None and own != brand) or not all(
                        client.may(Verb.LIST, b) for b in brands_of(post, targets)):
                    continue
                if state is not None and all(t.state != state for t in targets):
                    continue
                stored = ledger.stored_at(post_id)
                out.append({"post_id": post_id, "brand": own,
                            "stored_at": stored.isoformat() if stored else None,
                            "schedule": post.schedule.isoformat() if post.schedule else None,
                            "targets": {t.account: str(t.state) for t in targets}})
            return out

        return list(call(client, "list", "", rows))

    @app.get("/v1/posts/{post_id}", summary="Every target's state")
    def status(post_id: str, client: Caller) -> dict[str, Any]:
        stored_brands(client, Verb.STATUS, post_id)
        post = publisher.ledger.get_post(post_id)
        rows = call(client, "status", post_id, lambda: publisher.status(post_id))
        return {"post_id": post_id,
                "schedule": post.schedule.isoformat() if post and post.schedule else None,
                "targets": [_attempt(a) for a in rows]}

    @app.post("/v1/posts/{post_id}/schedule", summary="Give a stored post a new time")
    def reschedule(post_id: str, body: Reschedule, client: Caller) -> dict[str, Any]:
        stored_brands(client, Verb.SCHEDULE, post_id)
        moved = call(client, "schedule", post_id, lambda: publisher.schedule(post_id, body.at))
        return {"post_id": post_id, "schedule": moved.schedule.isoformat()}

    @app.post("/v1/posts/{post_id}/approve", summary="Sign the next approval step")
    def approve(post_id: str, body: Approve, client: Caller) -> dict[str, Any]:
        stored_brands(client, Verb.APPROVE, post_id)
        signed = call(client, "approve", post_id, lambda: publisher.approve(
            post_id, body.approver, step=body.step, accounts=body.accounts, note=body.note),
            approver=body.approver)
        return {"post_id": post_id, "signed": signed}

    @app.post("/v1/posts/{post_id}/reject", summary="Reject the drafts awaiting approval")
    def reject(post_id: str, body: Reject, client: Caller) -> dict[str, Any]:
        stored_brands(client, Verb.REJECT, post_id)
        rejected = call(client, "reject", post_id, lambda: publisher.reject(
            post_id, body.approver, note=body.note, accounts=body.accounts),
            approver=body.approver)
        return {"post_id": post_id, "rejected": rejected}

    @app.post("/v1/posts/{post_id}/takedown", summary="Delete a post from the platforms")
    def takedown(post_id: str, body: TakedownBody, client: Caller) -> dict[str, Any]:
        stored_brands(client, Verb.TAKEDOWN, post_id)
        done = call(client, "takedown", post_id, lambda: publisher.takedown(
            post_id, reason=body.reason, by=body.by, accounts=body.accounts), by=body.by)
        return {"post_id": post_id, "targets": [d.to_dict() for d in done]}

    @app.post("/v1/freeze", summary="Stop every send of a brand at once")
    def freeze(body: FreezeBody, client: Caller) -> dict[str, Any]:
        allow(client, Verb.FREEZE, {body.brand})
        frozen = call(client, "freeze", "", lambda: publisher.freeze(
            reason=body.reason, by=body.by, brand=body.brand, until=body.until),
            brand=body.brand, by=body.by)
        return dict(frozen.to_dict())

    @app.post("/v1/thaw", summary="End the freezes of a brand")
    def thaw(body: ThawBody, client: Caller) -> list[dict[str, Any]]:
        allow(client, Verb.THAW, {body.brand})
        ended = call(client, "thaw", "", lambda: publisher.thaw(by=body.by, brand=body.brand),
                     brand=body.brand, by=body.by)
        return [f.to_dict() for f in ended]

    app.add_middleware(BodyLimit, max_bytes=max_body)
    return app


def _sms_channel(publisher: Publisher) -> Callable[[str], Any]:
    def find(account: str) -> Any:
        from carecast.channels.sms import SmsChannel

        cfg = publisher.config.accounts.get(account)
        if cfg is None or cfg.channel != SmsChannel.name:
            return None
        channel = publisher.channel(account)
        return channel if isinstance(channel, SmsChannel) else None
    return find


def _messaging(publisher: Publisher) -> Any:
    from carecast.store.messaging import Messaging

    return Messaging(publisher.ledger)
