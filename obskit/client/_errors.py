"""The one table from a failed request to the ObskitError subclass that reports it.

A request fails in one of two ways: no answer came (requests raised an exception), or an
answer came that is not ``"status": "success"`` (an HTTP status, maybe Prometheus'
``errorType`` and ``error`` text). :data:`TABLE` lists both kinds of failure in the order
they are tried; the first matching :class:`Rule` names the error class, its message and
its hint. :func:`from_answer` (used by the envelope decoder) and :func:`from_exception`
(used by the transport) are its only readers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import requests
from requests import exceptions as rex

from ..errors import (
    AuthError,
    PrometheusError,
    QueryExecutionError,
    QuerySyntaxError,
    QueryTimeoutError,
    TLSError,
    TooLargeError,
    UnreachableError,
)

__all__ = ["TABLE", "Rule", "from_answer", "from_exception"]

_NO_ANSWER = "no answer within timeout={timeout:g} s"
_NO_ENDPOINT = (
    "The server has no such endpoint: check the URL's path prefix (e.g. "
    "http://host:9090/prometheus for --web.route-prefix=/prometheus, "
    "http://vmselect:8481/select/0/prometheus for a VictoriaMetrics cluster)"
)
_POOL_PREFIX = re.compile(r"^\w*(?:Connection|ConnectionPool)\(host=[^)]*\):\s*")
#: Credentials a server may echo in its error text (vmauth repeats a refused auth header).
_CREDENTIALS = re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9+/=._~-]+", re.IGNORECASE)


@dataclass(frozen=True)
class Rule:
    """One row of :data:`TABLE`: what a failure must show, and the error that reports it.

    A rule with ``exception`` matches only failures where requests raised one of those
    types; a rule without matches only answers. Every condition given must hold:
    ``status`` (one of), ``error_type`` (one of), ``text`` (one of these substrings of
    Prometheus' error text, or of the exception's text). ``message`` is formatted with
    ``text`` (Prometheus' own words), ``reason`` (the innermost cause of an exception)
    and ``timeout``.
    """

    error: type[PrometheusError]
    status: tuple[int, ...] = ()
    error_type: tuple[str, ...] = ()
    exception: tuple[type[BaseException], ...] = ()
    text: tuple[str, ...] = ()
    message: str = "{text}"
    hint: str | None = None

    def matches(
        self, status: int | None, error_type: str | None, text: str, exc: BaseException | None
    ) -> bool:
        if bool(self.exception) != (exc is not None):
            return False
        return (
            (not self.exception or isinstance(exc, self.exception))
            and (not self.status or status in self.status)
            and (not self.error_type or error_type in self.error_type)
            and (not self.text or any(marker in text for marker in self.text))
        )


#: Tried in order; the first rule that matches decides. Exceptions first (no answer came),
#: then answers: specific texts, auth, Prometheus' errorType, and last the bare status.
TABLE: tuple[Rule, ...] = (
    # -- no answer: what requests raised ------------------------------------------------
    Rule(TLSError, exception=(rex.SSLError,), text=("WRONG_VERSION_NUMBER",),
         message="TLS handshake failed: {reason}", hint="It speaks plain HTTP: use an http:// URL"),
    Rule(TLSError, exception=(rex.SSLError,), message="TLS handshake failed: {reason}"),
    Rule(UnreachableError, exception=(rex.ConnectTimeout,),
         message="no connection within {timeout:g} s"),
    Rule(QueryTimeoutError, exception=(rex.Timeout,), message=_NO_ANSWER),
    # while the body streams, requests reports a read timeout as a ConnectionError
    Rule(QueryTimeoutError, exception=(rex.ConnectionError,), text=("Read timed out",),
         message=_NO_ANSWER),
    Rule(UnreachableError, exception=(rex.ConnectionError, rex.ChunkedEncodingError),
         text=("Connection aborted", "RemoteDisconnected", "Connection reset",
               "Connection broken"),
         message="the connection was closed before an answer came: {reason}"),
    Rule(UnreachableError, exception=(rex.ConnectionError,),
         message="cannot connect (timeout {timeout:g} s): {reason}"),
    Rule(PrometheusError, exception=(requests.RequestException,),
         message="request failed: {reason}"),
    # -- an answer: HTTP status, Prometheus' errorType and error text ------------------
    Rule(TLSError, status=(400,), text=("HTTP request to an HTTPS server",),  # Go's answer
         message="the server answered that it speaks HTTPS",
         hint="Use an https:// URL (with ca_bundle= if its certificate is not publicly trusted)"),
    Rule(AuthError, status=(401, 403)),
    Rule(AuthError, status=(400,), text=("cannot find the provided auth token",)),  # vmauth
    Rule(PrometheusError, status=(400, 404),
         text=("unsupported path requested", "missing route for"),  # VictoriaMetrics, vmauth
         hint=_NO_ENDPOINT),
    Rule(PrometheusError, status=(404, 405), hint=_NO_ENDPOINT),
    Rule(TooLargeError,
         text=("exceeded maximum resolution", "too many samples", "max number of series")),
    Rule(QuerySyntaxError, error_type=("bad_data",)),
    Rule(QueryExecutionError, error_type=("execution",)),
    Rule(QueryTimeoutError, error_type=("timeout", "canceled")),
    Rule(QuerySyntaxError, status=(400,)),
    Rule(QueryExecutionError, status=(422,)),
    Rule(QueryTimeoutError, status=(503, 504)),
    Rule(PrometheusError),
)  # fmt: skip


def from_answer(
    status: int,
    error_type: str | None,
    text: str,
    query: str | None,
    url: str | None,
    *,
    full: str | None = None,
) -> PrometheusError:
    """The error for an answer that is not a success, with Prometheus' own ``text``.

    The rules read ``full`` when given (the whole of a long body whose start is
    ``text``). Credentials the server echoes (``Basic ...``, ``Bearer ...``) are
    redacted first.

    >>> from_answer(422, "execution", "many-to-many matching not allowed", "a * b", None)
    ... # doctest: +ELLIPSIS
    QueryExecutionError("query 'a * b' failed (HTTP 422, execution): many-to-many ...")
    """
    text = _CREDENTIALS.sub(r"\1 <redacted>", text)
    rule = _first(status, error_type, text if full is None else full, None)
    return rule.error(
        rule.message.format(text=text),
        query=query,
        url=url,
        status=status,
        error_type=error_type,
        hint=rule.hint,
    )


def from_exception(
    exc: BaseException, query: str | None, url: str, timeout: float
) -> PrometheusError:
    """The error for a request that got no answer: ``exc`` is what requests raised.

    >>> str(from_exception(requests.ConnectTimeout("..."), "up", "http://10.0.0.1/api/v1/query", 5))
    ... # doctest: +ELLIPSIS
    "query 'up' failed at http://10.0.0.1/api/v1/query: no connection within 5 s. Check ..."
    """
    rule = _first(None, None, str(exc), exc)
    message = rule.message.format(text=str(exc), reason=_reason(exc), timeout=timeout)
    return rule.error(message, query=query, url=url, hint=rule.hint)


def _first(
    status: int | None, error_type: str | None, text: str, exc: BaseException | None
) -> Rule:
    return next(rule for rule in TABLE if rule.matches(status, error_type, text, exc))


def _reason(exc: BaseException) -> str:
    """The innermost cause of a requests error, e.g. ``[Errno 111] Connection refused``."""
    inner = exc.args[0] if exc.args else exc
    text = str(getattr(inner, "reason", inner))  # urllib3's MaxRetryError wraps the cause
    text = _POOL_PREFIX.sub("", text).removeprefix("Failed to establish a new connection: ")
    return " ".join(text.split())[:300]
