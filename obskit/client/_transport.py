"""Set up the one requests.Session a client uses: auth, headers, TLS and 5xx retries."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from ..config import Settings
from . import _link

__all__ = ["configure", "is_loopback", "retry_policy"]

#: Retried by the adapter. 503 is left to the client, which reads the body first: it is
#: also Prometheus' answer for a query that timed out, which a retry would only repeat.
RETRY_STATUSES = (500, 502, 504)


def configure(session: requests.Session, settings: Settings, retry: Retry) -> None:
    """Put auth, headers, TLS settings and the retrying adapter on ``session``.

    >>> s = requests.Session()
    >>> configure(s, Settings("http://127.0.0.1:9090", tenant="shop"), retry_policy(2, 0.5))
    >>> s.headers["X-Scope-OrgID"], s.headers["Accept-Encoding"]
    ('shop', 'identity')
    """
    session.verify = settings.ca_bundle or settings.verify
    if settings.username is not None:
        session.auth = (settings.username, settings.password or "")
    session.headers.update(settings.headers)
    if settings.bearer_token:
        session.headers["Authorization"] = f"Bearer {settings.bearer_token}"
    if settings.tenant:
        session.headers["X-Scope-OrgID"] = settings.tenant
    _link.attach(session, settings)  # Accept-Encoding: measured per server (see _link)
    pool = max(10, settings.max_workers)
    session.mount(settings.url, HTTPAdapter(max_retries=retry, pool_maxsize=pool))


def retry_policy(retries: int, backoff: float) -> Retry:
    """Retry 500/502/504 ``retries`` times with exponential backoff; other errors fail at once.

    Connection errors, TLS errors and read timeouts are not retried: a timed-out query
    would only time out again, and an unreachable server should be reported quickly.

    >>> retry_policy(2, 0.5).status
    2
    """
    return Retry(
        total=None,
        connect=0,
        read=False,
        other=0,
        status=retries,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=None,
        backoff_factor=backoff,
        raise_on_status=False,
    )


def is_loopback(url: str) -> bool:
    """Whether ``url`` points at this machine (``localhost``, ``127.0.0.0/8``, ``::1``).

    >>> is_loopback("http://127.0.0.1:9090"), is_loopback("https://prom.example")
    (True, False)
    """
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
