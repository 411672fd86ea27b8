"""The one function every obskit request goes through: send, retry a 503, map failures, decode."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import urlencode

import requests

from ..config import Settings
from . import _envelope, _errors

__all__ = ["POST_OVER", "Transport"]

log = logging.getLogger("obskit")

#: Requests whose form-encoded parameters are longer than this are sent as POST.
POST_OVER = 2048
#: Bytes read from the socket at once.
READ_SIZE = 1 << 20
_FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class Transport:
    """Sends requests to one server's ``/api/v1`` through one configured session.

    ``settings.url`` may carry a path (``http://host/prometheus``,
    ``http://vmselect/select/0/prometheus``): every endpoint is appended to it.

    >>> t = Transport(requests.Session(), Settings("http://127.0.0.1:9090/prom"))
    >>> t.endpoint("status/buildinfo")
    'http://127.0.0.1:9090/prom/api/v1/status/buildinfo'
    """

    def __init__(self, session: requests.Session, settings: Settings) -> None:
        self.session = session
        self.settings = settings

    def endpoint(self, path: str) -> str:
        return f"{self.settings.url}/api/v1/{path}"

    def call(
        self,
        path: str,
        params: Mapping[str, Any],
        what: str,
        *,
        warn: bool = True,
        matrix: bool = False,
        parsing: threading.Lock | None = None,
        post: bool = True,
    ) -> _envelope.Decoded:
        """One request to ``/api/v1/<path>`` (POST when long and ``post``), decoded.

        ``what`` names what was asked (the expression, or e.g. ``"labels"``) in errors and
        warnings. ``matrix`` lets a large range-query body be parsed straight into numpy
        columns; ``parsing`` is held while the body is parsed. Every failure is raised as
        the :class:`~obskit.PrometheusError` subclass :mod:`obskit.client._errors` names.
        """
        url = self.endpoint(path)
        status, body = self._send(url, params, what, post)
        decode = _envelope.decode_matrix if matrix else _envelope.decode
        with parsing or contextlib.nullcontext():
            return decode(body, status=status, query=what, url=url, warn=warn)

    def _send(
        self, url: str, params: Mapping[str, Any], what: str, post: bool
    ) -> tuple[int, bytes]:
        """The status and whole body of a request, a 503 retried unless it is a timeout.

        500/502/504 are retried by the session's adapter; 503 is retried here, where the
        body tells Prometheus' query timeout (not worth repeating) from an unavailable
        server or proxy.
        """
        retries, backoff = self.settings.retries, self.settings.backoff
        for attempt in range(retries + 1):
            status, body = self._send_once(url, params, what, post)
            if status != 503 or attempt == retries or _envelope.is_timeout(body):
                break
            delay = backoff * 2**attempt
            log.info("%s answered 503; retry %d in %.2f s", url, attempt + 1, delay)
            time.sleep(delay)
        return status, body

    @contextlib.contextmanager
    def post_raw(self, path: str, what: str, **kwargs: Any) -> Iterator[requests.Response]:
        """POST to ``/api/v1/<path>`` for an answer that is not Prometheus' JSON (remote
        read, VictoriaMetrics' export): this session, timeout and TLS; a request that got
        no answer, also while the body is read inside the block, mapped as :meth:`call`
        maps it. The caller judges the status and the body.
        """
        url = self.endpoint(path)
        timeout = self.settings.timeout
        try:
            with self.session.post(url, timeout=timeout, verify=self.session.verify,
                                   **kwargs) as response:  # fmt: skip
                yield response
        except requests.RequestException as exc:
            raise _errors.from_exception(exc, what, url, timeout) from exc

    def _send_once(
        self, url: str, params: Mapping[str, Any], what: str, post: bool
    ) -> tuple[int, bytes]:
        """The status and whole body of one request; a request that got no answer mapped."""
        encoded = urlencode(params, doseq=True)
        post = post and len(encoded) > POST_OVER
        try:
            response = self.session.request(
                "POST" if post else "GET",
                url,
                params=None if post else encoded,
                data=encoded if post else None,
                headers=_FORM if post else None,
                timeout=self.settings.timeout,
                verify=self.session.verify,  # else $REQUESTS_CA_BUNDLE overrides session.verify
                stream=True,
            )
            try:  # big reads: requests' default of 10 kB costs ~0.1 s per 30 MB
                body = b"".join(response.iter_content(READ_SIZE))
            finally:
                response.close()
        except requests.RequestException as exc:
            raise _errors.from_exception(exc, what, url, self.settings.timeout) from exc
        log.debug("%s %s -> %s (%d bytes)", response.request.method, url, response.status_code,
                  len(body))  # fmt: skip
        return response.status_code, body
