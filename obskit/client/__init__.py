"""Talking to Prometheus: the client, its one HTTP transport, range splitting and decoding.

Everything obskit sends over HTTP goes through this package; the rest of obskit is pure.
"""

from ._client import Client, connect

__all__ = ["Client", "connect"]
