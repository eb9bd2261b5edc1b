"""Fixtures shared by the channel tests: the real Bluesky network (see ``bsky_network.py``)."""

from .bsky_network import bsky_network, clinic, connect, patient, sky

__all__ = ["bsky_network", "clinic", "connect", "patient", "sky"]
