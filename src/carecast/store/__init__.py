"""The ledger: attempts, states, approvals and the audit trail (SQLite or PostgreSQL)."""

from carecast.store.audit import AuditEvent
from carecast.store.ledger import AuditReport, Failure, Ledger

__all__ = ["AuditEvent", "AuditReport", "Failure", "Ledger"]
