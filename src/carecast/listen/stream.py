"""Streaming for ``carecast listen --follow``: Mastodon's streaming API (server-sent events)
and Bluesky's Jetstream (a WebSocket), in place of polling those accounts.

Each stream runs in a thread that only reads and parses (with the channel's own parser);
the listener's thread stores every item through the same path as a polled one. A stream
that opens (or reopens) is not trusted until one polled read of the sources it covers has
run after the open: what came before the open is in that read, what came after is queued
on the stream, and the store's keys drop the overlap. While a stream is down its sources
are polled every round; it reopens with a growing pause on the injected clock.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, cast
from urllib.parse import quote, urlencode

from carecast.errors import ChannelError
from carecast.post import Mention

if TYPE_CHECKING:
    from carecast.channels.bluesky import BlueskyChannel
    from carecast.channels.mastodon import MastodonChannel
    from carecast.listen.collect import Listener, ListenReport, SourceResult

__all__ = ["BACKOFF", "REWIND_US", "StreamFollower"]

#: Pauses before each reopening of a stream that failed, in seconds (the last repeats).
BACKOFF = (1.0, 2.0, 5.0, 15.0, 60.0, 300.0)
#: How far before its persisted cursor Jetstream is resumed (the store drops repeats).
REWIND_US = 5_000_000
#: Jetstream messages read between two writes of its cursor when none matched.
CURSOR_EVERY = 200
#: Seconds the listener waits for a stream event before looking at the clock again.
TICK = 0.2


class StreamBroken(Exception):
    """A stream ended, went silent past its heartbeat deadline or sent what cannot be read."""


@dataclass
class _Message:
    stream: _Stream
    what: str  # "opened", "item", "cursor", "closed"
    mention: Mention | None = None
    cursor: str | None = None
    note: str = ""


@dataclass
class _Stream:
    """One stream of one account: the sources it stands in for and its reader."""

    name: str
    account: str
    #: Sources not polled while the stream is live.
    covers: frozenset[str]
    #: Opens the stream and yields "opened", then its items (in the stream's thread).
    read: Callable[[_Stream], Iterator[_Message]]
    live: bool = False
    covered: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None


class StreamFollower:
    """``Listener.follow`` with streams: a polled round every ``[listen] interval`` for the
    sources no live stream covers, and the streams stored as they arrive in between."""

    def __init__(self, listener: Listener) -> None:
        self.listener = listener
        self.config = listener.config.listen
        self.clock = listener.clock
        self.stop = threading.Event()
        self.inbox: queue.Queue[_Message] = queue.Queue(maxsize=10_000)
        self.streams = self._streams()

    def __repr__(self) -> str:
        return f"<StreamFollower {len(self.streams)} streams>"

    # -- which streams -----------------------------------------------------------------------

    def _streams(self) -> list[_Stream]:
        listener = self.listener
        found: list[_Stream] = []
        for name, account in sorted(listener.config.accounts.items()):
            if not account.enabled or f"own:{name}" not in listener.sources():
                continue
            searches = [s for s in listener.sources() if s.startswith(f"search:{name}:")]
            if account.channel == "mastodon":
                found.append(_Stream(f"stream:{name}", name, frozenset({f"own:{name}"}),
                                     self._mastodon_user))
                for source in searches:
                    query = source.split(":", 2)[2]
                    terms = listener.config.listen.queries[query].terms
                    tags = [t[1:] for t in terms if _hashtag(t)]
                    for tag in tags:
                        found.append(_Stream(
                            f"stream:{name}:#{tag}", name,
                            frozenset({source}) if len(tags) == len(terms) else frozenset(),
                            self._mastodon_tag(source, tag)))
            elif account.channel == "bluesky":
                found.append(_Stream(f"jetstream:{name}", name,
                                     frozenset({f"own:{name}", *searches}), self._jetstream))
        return found

    # -- the loop ----------------------------------------------------------------------------

    def follow(self, *, rounds: int | None = None,
               on_result: Callable[[SourceResult], None] | None = None) -> list[ListenReport]:
        """``rounds`` intervals (None: until Ctrl-C), each a polled round of what no live
        stream covers, then the streams stored as they arrive until the next; the reports."""
        from carecast.listen.spikes import check_spikes

        for stream in self.streams:
            stream.thread = threading.Thread(target=self._run, args=(stream,),
                                             name=stream.name, daemon=True)
            stream.thread.start()
        reports: list[ListenReport] = []
        done = 0
        try:
            while rounds is None or done < rounds:
                skip = {s for st in self.streams if st.live for s in st.covers}
                report = self.listener.run_once(on_result=on_result, skip=skip)
                reports.append(report)
                done += 1
                self._pump(report, on_result)
                check_spikes(self.listener.publisher, self.listener.store)
        except KeyboardInterrupt:  # Ctrl-C: every stored item is committed already
            pass
        finally:
            self.close()
        return reports

    def close(self) -> None:
        """Stop every stream (each ends within a tick or its read timeout)."""
        self.stop.set()
        for stream in self.streams:
            stream.covered.set()
            if stream.thread is not None:
                stream.thread.join(timeout=2 * TICK)

    def _pump(self, report: ListenReport,
              on_result: Callable[[SourceResult], None] | None) -> None:
        """Store what the streams send until the next round is due."""
        from carecast.listen.collect import SourceResult

        counts: dict[str, list[int]] = {}
        deadline = self.clock.monotonic() + self.config.interval
        while self.clock.monotonic() < deadline:
            try:
                message = self.inbox.get_nowait()
            except queue.Empty:
                self.clock.sleep(TICK)
                continue
            stream = message.stream
            if message.what == "opened":  # cover the gap, then trust the stream
                for source in self.listener._sources():
                    if source.name in stream.covers:
                        result = self.listener._read(source)
                        report.results.append(result)
                        if on_result is not None:
                            on_result(result)
                stream.live = True
                stream.covered.set()
            elif message.what == "closed":
                stream.live = False
                result = SourceResult(stream.name, stream.account, "paused", message=(
                    f"{message.note}; its sources are polled until it is back"))
                report.results.append(result)
                if on_result is not None:
                    on_result(result)
            else:
                counts.setdefault(stream.name, [0, 0])
                new = self._save(stream, message)
                counts[stream.name][0] += new
                counts[stream.name][1] += message.mention is not None
        for name, (new, read) in sorted(counts.items()):
            account = next(s.account for s in self.streams if s.name == name)
            result = SourceResult(name, account, "ok", new=new, read=read)
            report.results.append(result)
            if on_result is not None:
                on_result(result)

    def _save(self, stream: _Stream, message: _Message) -> int:
        """One streamed item (or only a cursor) into the store, as a polled one is stored."""
        listener = self.listener
        mention = message.mention
        target = stream.name
        if mention is not None and stream.name.startswith("stream:"):
            target = next(iter(stream.covers), "") or target
        sources = {s.name: s for s in listener._sources()}
        spec_source = None
        if mention is not None and mention.query is not None:
            spec_source = sources.get(f"search:{stream.account}:{mention.query}")
        elif mention is not None and target in sources:
            spec_source = sources[target]
        if spec_source is None:
            from carecast.listen.collect import _Source

            spec_source = _Source(target, stream.account)
        items = [listener._stored(mention, spec_source)] if mention is not None else []
        cursor = message.cursor if message.cursor is not None else listener.store.cursor(target)
        return listener.store.save(items, source=target, cursor=cursor)

    # -- one stream's thread -----------------------------------------------------------------

    def _run(self, stream: _Stream) -> None:
        failures = 0
        while not self.stop.is_set():
            try:
                for message in stream.read(stream):
                    if self.stop.is_set():
                        return
                    if message.what == "opened":
                        stream.covered.clear()
                        self.inbox.put(message)
                        stream.covered.wait()
                        failures = 0
                    else:
                        self.inbox.put(message)
                raise StreamBroken("the stream ended")
            except (StreamBroken, ChannelError, OSError, ValueError) as exc:
                note = _safe(exc)
            except Exception as exc:  # the client library's own errors (closed, timeouts)
                note = _safe(exc)
            if self.stop.is_set():
                return
            self.inbox.put(_Message(stream, "closed", note=note))
            pause = BACKOFF[min(failures, len(BACKOFF) - 1)]
            failures += 1
            waited = 0.0
            while waited < pause and not self.stop.is_set():
                self.clock.sleep(min(TICK, pause - waited))
                waited += TICK

    # -- Mastodon ----------------------------------------------------------------------------

    def _mastodon_user(self, stream: _Stream) -> Iterator[_Message]:
        """``GET /api/v1/streaming/user/notification``: the account's notifications."""
        channel = cast("MastodonChannel", self.listener.publisher.channel(stream.account))
        url = channel.streaming_url() + "/api/v1/streaming/user/notification"
        cursor = self.listener.store.cursor(f"own:{stream.account}")
        for event, data in self._sse(url, channel.stream_headers(), stream):
            if not event:
                yield _Message(stream, "opened")
                continue
            mention = channel.stream_mention(event, data) if event == "notification" else None
            if mention is not None:
                if cursor is None or mention.created_at.isoformat() > cursor:
                    cursor = mention.created_at.isoformat()
                yield _Message(stream, "item", mention, cursor)

    def _mastodon_tag(self, source: str, tag: str
                      ) -> Callable[[_Stream], Iterator[_Message]]:
        """``GET /api/v1/streaming/hashtag?tag=``: public posts with the hashtag."""
        query = source.split(":", 2)[2]

        def read(stream: _Stream) -> Iterator[_Message]:
            channel = cast("MastodonChannel", self.listener.publisher.channel(stream.account))
            url = (channel.streaming_url() + "/api/v1/streaming/hashtag?"
                   + urlencode({"tag": tag}, quote_via=quote))
            owned = bool(stream.covers)
            newest = self.listener.store.cursor(source)
            for event, data in self._sse(url, channel.stream_headers(), stream):
                if not event:
                    yield _Message(stream, "opened")
                    continue
                mention = channel.stream_mention(event, data) if event == "update" else None
                if mention is None:
                    continue
                if owned and (newest is None or int(mention.remote_id) > int(newest)):
                    newest = mention.remote_id
                yield _Message(stream, "item", mention.model_copy(update={"query": query}),
                               newest if owned else None)
        return read

    def _sse(self, url: str, headers: dict[str, str], stream: _Stream
             ) -> Iterator[tuple[str, str]]:
        """The ``(event, data)`` pairs of a server-sent event stream; ``:thump`` and other
        comments only prove it alive. Opened with a read timeout of the heartbeat deadline;
        an event over ``stream_max_bytes`` breaks it."""
        import httpx

        cap = self.config.stream_max_bytes
        timeout = httpx.Timeout(self.config.stream_heartbeat, connect=10.0)
        with httpx.Client(timeout=timeout, follow_redirects=False) as client, \
                client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise StreamBroken(f"the instance refused the stream (HTTP "
                                   f"{response.status_code})")
            yield "", ""  # opened: the caller covers the gap first
            event, data, size = "", list[str](), 0
            for line in _lines(response.iter_raw(), cap):
                if not line:
                    if data:
                        yield event or "message", "\n".join(data)
                    event, data, size = "", [], 0
                    continue
                if line.startswith(":"):
                    continue
                name, _, value = line.partition(":")
                value = value.removeprefix(" ")
                size += len(value)
                if size > cap:
                    raise StreamBroken(f"a streamed event is over {cap} bytes")
                if name == "event":
                    event = value
                elif name == "data":
                    data.append(value)

    # -- Bluesky -----------------------------------------------------------------------------

    def _jetstream(self, stream: _Stream) -> Iterator[_Message]:
        """Jetstream's ``subscribe?wantedCollections=app.bsky.feed.post``, resumed from the
        persisted ``time_us`` a few seconds back; every post matched against the account."""
        from websockets.exceptions import ConnectionClosed
        from websockets.sync.client import connect

        channel = cast("BlueskyChannel", self.listener.publisher.channel(stream.account))
        did = channel.stream_did()
        terms = {q.split(":", 2)[2]: self.listener.config.listen.queries[
            q.split(":", 2)[2]].terms for q in stream.covers if q.startswith("search:")}
        params = [("wantedCollections", "app.bsky.feed.post")]
        cursor = self.listener.store.cursor(stream.name)
        if cursor is not None:
            params.append(("cursor", str(max(0, int(cursor) - REWIND_US))))
        url = f"{self.config.jetstream_url}?{urlencode(params)}"
        beat = self.config.stream_heartbeat
        with connect(url, open_timeout=10.0, close_timeout=1.0,
                     max_size=self.config.stream_max_bytes, ping_interval=20.0,
                     ping_timeout=beat, user_agent_header="carecast") as socket:
            yield _Message(stream, "opened")
            idle, last, unsaved = 0.0, cursor, 0
            while not self.stop.is_set():
                try:
                    frame = socket.recv(timeout=TICK)
                except TimeoutError:
                    idle += TICK
                    if idle >= beat:
                        raise StreamBroken(f"Jetstream sent nothing for {beat:g} "
                                           "seconds") from None
                    continue
                except ConnectionClosed as exc:
                    raise StreamBroken(f"Jetstream closed the stream ({_safe(exc)})") from None
                idle = 0.0
                try:
                    message = json.loads(frame)
                except ValueError:
                    raise StreamBroken("Jetstream sent a frame that is not JSON") from None
                if not isinstance(message, dict):
                    continue
                try:
                    mention = channel.jetstream_mention(message, did, terms)
                except ChannelError:
                    continue  # a message without its time: nothing to store or resume from
                when = message.get("time_us")
                if isinstance(when, int) and not isinstance(when, bool):
                    last, unsaved = str(when), unsaved + 1
                if mention is not None or unsaved >= CURSOR_EVERY:
                    unsaved = 0
                    yield _Message(stream, "item", mention, last)



def _hashtag(term: str) -> bool:
    """Whether a query term is one hashtag (``#flu``), which a hashtag stream can follow."""
    return len(term) > 1 and term.startswith("#") and term[1:].replace("_", "a").isalnum()


def _lines(chunks: Iterator[bytes], cap: int) -> Iterator[str]:
    """The lines of a byte stream (LF, CRLF or CR ends), none longer than ``cap`` bytes."""
    buffer = b""
    for chunk in chunks:
        buffer += chunk
        while True:
            lf, cr = buffer.find(b"\n"), buffer.find(b"\r")
            if cr >= 0 and (lf < 0 or cr < lf):
                if cr + 1 == len(buffer):
                    break  # a CR last: its LF may follow in the next chunk
                cut, skip = cr, 2 if buffer[cr + 1:cr + 2] == b"\n" else 1
            elif lf >= 0:
                cut, skip = lf, 1
            else:
                break
            line, buffer = buffer[:cut], buffer[cut + skip:]
            yield line.decode("utf-8", "replace")
        if len(buffer) > cap:
            raise StreamBroken(f"a streamed line is over {cap} bytes")


def _safe(exc: BaseException) -> str:
    """What a stream failure says: its kind and carecast's own message (a client library's
    text may quote the URL, so only its class name)."""
    if isinstance(exc, (StreamBroken, ChannelError)):
        return str(exc)
    return f"the stream failed ({type(exc).__name__})"
