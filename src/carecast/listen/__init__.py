"""Listening: collect what others say to and about a brand, keep it for its retention limit,
triage it by rules, alert on spikes, and show it in a PHI-masked inbox.

``Listener`` collects (``carecast listen``), ``MentionStore`` keeps and searches, ``triage``
labels, ``check_spikes`` alerts, ``inbox`` and ``inbox_html`` show (``carecast inbox``).
"""

from carecast.listen.collect import Listener, ListenReport, SourceResult
from carecast.listen.digest import Inbox, InboxItem, inbox, inbox_html
from carecast.listen.spikes import Spike, check_spikes, find_spikes
from carecast.listen.triage import LABELS, triage

__all__ = ["LABELS", "Inbox", "InboxItem", "ListenReport", "Listener", "SourceResult", "Spike",
           "check_spikes", "find_spikes", "inbox", "inbox_html", "triage"]
