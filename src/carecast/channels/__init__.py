"""Channels: one module per platform, all on the contract in ``carecast.channels.base``."""

from carecast.channels.base import Channel, ChannelOptions, split_thread
from carecast.channels.registry import (
    build_channel,
    channel_classes,
    channel_names,
    get_channel_class,
)

__all__ = [
    "Channel",
    "ChannelOptions",
    "build_channel",
    "channel_classes",
    "channel_names",
    "get_channel_class",
    "split_thread",
]
