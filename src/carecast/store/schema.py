"""The ledger's tables (SQLAlchemy Core)."""

from __future__ import annotations

import sqlalchemy as sa

__all__ = ["approvals", "attempts", "audit", "audit_head", "audit_target", "consents", "freezes",
           "listen_alerts", "listen_cursors", "listen_reads", "mention_queries", "mentions",
           "metadata", "posts"]

metadata = sa.MetaData()
_when = sa.DateTime(timezone=True)

posts = sa.Table(
    "carecast_posts", metadata,
    sa.Column("id", sa.String(128), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", _when, nullable=False),
    sa.Column("updated_at", _when, nullable=False),
    # The body has the text a BLOCK finding flagged masked out: it can never be sent as is.
    sa.Column("withheld", sa.Boolean, nullable=False, default=False),
    # When it is due (UTC), so a worker finds due posts without reading every body.
    sa.Column("schedule", _when, index=True),
)

attempts = sa.Table(
    "carecast_attempts", metadata,
    sa.Column("post_id", sa.String(128), sa.ForeignKey("carecast_posts.id"), primary_key=True),
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("channel", sa.Text, nullable=False),  # as configured, even if no such channel
    sa.Column("state", sa.String(32), nullable=False, index=True),
    sa.Column("key", sa.String(80), nullable=False),
    sa.Column("tries", sa.Integer, nullable=False, default=0),
    # host:pid of the process that claimed a 'sending' row, to tell a crash from a live send
    sa.Column("owner", sa.String(300)),
    sa.Column("draft", sa.Text),
    sa.Column("draft_hash", sa.String(64)),
    sa.Column("receipt", sa.Text),
    sa.Column("error", sa.Text),
    sa.Column("findings", sa.Text),
    sa.Column("updated_at", _when, nullable=False),
)

approvals = sa.Table(
    "carecast_approvals", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("post_id", sa.String(128), nullable=False, index=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("draft_hash", sa.String(64), nullable=False),
    sa.Column("approver", sa.String(200), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("at", _when, nullable=False),
    # The step of the approval chain, and approve or reject.
    sa.Column("step", sa.String(64), nullable=False, default="review"),
    sa.Column("decision", sa.String(16), nullable=False, default="approve"),
)

# The patient-consent registry: initials only, never a name.
consents = sa.Table(
    "carecast_consents", metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("body", sa.Text, nullable=False),  # the Consent as JSON
    sa.Column("created_at", _when, nullable=False),
    sa.Column("updated_at", _when, nullable=False),
)

# Append-only; each event's hash covers the one before it (see Ledger.verify_audit).
audit = sa.Table(
    "carecast_audit", metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("at", sa.String(40), nullable=False),
    sa.Column("post_id", sa.String(128), nullable=False, index=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
#: A target's newest events by index: every claim checks its state against them.
audit_target = sa.Index("ix_carecast_audit_target", audit.c.post_id, audit.c.account,
                        audit.c.seq)

# One row: the newest event. Locking it serialises appends across workers.
audit_head = sa.Table(
    "carecast_audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

# Resumable upload sessions by target key, so any process resumes the same upload (a YouTube
# video after a lost final-chunk answer) instead of sending it again; gone when the publish ends.
upload_sessions = sa.Table(
    "carecast_upload_sessions", metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("uri", sa.Text, nullable=False),
    sa.Column("updated_at", _when, nullable=False),
)

# Crisis freezes: while one is active (ended_at is null), nothing of its brand ('' = every
# brand) is sent.
freezes = sa.Table(
    "carecast_freezes", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("brand", sa.String(64), nullable=False, default=""),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("by", sa.String(200), nullable=False),
    sa.Column("started_at", _when, nullable=False),
    sa.Column("until", _when),
    sa.Column("ended_at", _when),
    sa.Column("ended_by", sa.String(200)),
)

# -- listening (carecast.listen): what others wrote, kept for the brand's retention limit ------

# One row per item (Mention.key); text is PHI-sensitive: never logged, purged past retention.
mentions = sa.Table(
    "carecast_mentions", metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("brand", sa.String(64), nullable=False, default=""),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("remote_id", sa.String(300), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("parent_id", sa.String(300)),
    sa.Column("created_at", _when, nullable=False, index=True),
    sa.Column("collected_at", _when, nullable=False, index=True),
    sa.Column("findings", sa.Text, nullable=False, default="[]"),  # PHI spans: no text
    sa.Column("labels", sa.Text, nullable=False, default="[]"),  # triage labels
    sa.Column("rating", sa.SmallInteger),  # a review's stars
)

# Which listening queries found an item (one item can match several).
mention_queries = sa.Table(
    "carecast_mention_queries", metadata,
    sa.Column("key", sa.String(400), primary_key=True),
    sa.Column("query", sa.String(64), primary_key=True, index=True),
)

# Where each source (account + own mentions, or account + query) resumes; written in the same
# transaction as the items it read. ``paused_until``: a rate limit's reset.
listen_cursors = sa.Table(
    "carecast_listen_cursors", metadata,
    sa.Column("source", sa.String(200), primary_key=True),
    sa.Column("cursor", sa.Text),
    sa.Column("paused_until", _when),
    sa.Column("updated_at", _when, nullable=False),
)

# Paid reads per account and month (X bills each post read).
listen_reads = sa.Table(
    "carecast_listen_reads", metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("month", sa.String(7), primary_key=True),
    sa.Column("reads", sa.Integer, nullable=False, default=0),
)

# Spike alerts sent: one row per (query, window) so a spike is never alerted twice.
listen_alerts = sa.Table(
    "carecast_listen_alerts", metadata,
    sa.Column("query", sa.String(64), primary_key=True),
    sa.Column("window_start", _when, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("baseline", sa.Float, nullable=False),
    sa.Column("sent_at", _when, nullable=False),
)
