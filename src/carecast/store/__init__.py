"""The ledger: attempts, states, approvals and the audit trail (SQLite or PostgreSQL)."""

from carecast.store.ledger import Attempt, AuditEvent, ErrorInfo, Ledger, State

__all__ = ["Attempt", "AuditEvent", "ErrorInfo", "Ledger", "State"]
