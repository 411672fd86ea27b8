"""The obskit exception tree and warning classes.

Users catch :class:`ObskitError` and nothing else::

    ObskitError
    ├── ConfigError              bad argument or setting (URL, step, time range, ...)
    ├── PrometheusError          a request to Prometheus failed (query, url, status, ...)
    │   ├── UnreachableError     no connection within the timeout
    │   ├── AuthError            401 / 403
    │   ├── TLSError             certificate not trusted / handshake failed
    │   ├── QuerySyntaxError     400 bad_data: Prometheus could not parse the query
    │   ├── QueryExecutionError  422 execution: the query parsed but failed
    │   ├── QueryTimeoutError    503 timeout, or the client's own timeout
    │   └── TooLargeError        over the points cap or the series budget
    ├── ValidationError          a query has error-level findings (carries the report)
    ├── DashboardError           a dashboard file or source is wrong (carries the path)
    └── DemoError                the demo Prometheus could not be set up or started

Which of these a failed request raises (from the requests exception, the HTTP status or
Prometheus' ``errorType``) is decided in one place: the table in :mod:`obskit.client._errors`.

Warnings: :class:`PromQLWarning` (Prometheus' own ``warnings``/``infos``).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AuthError",
    "ConfigError",
    "DashboardError",
    "DemoError",
    "ObskitError",
    "PromQLWarning",
    "PrometheusError",
    "QueryExecutionError",
    "QuerySyntaxError",
    "QueryTimeoutError",
    "TLSError",
    "TooLargeError",
    "UnreachableError",
    "ValidationError",
]


class ObskitError(Exception):
    """Base of every error obskit raises on purpose."""


class ConfigError(ObskitError, ValueError):
    """A bad argument or setting; the message shows a valid example."""


class PrometheusError(ObskitError):
    """A request to a Prometheus-compatible API failed.

    Attributes carry the facts a user needs: ``query`` (the expression or
    endpoint asked for), ``url`` (without credentials), ``status`` (HTTP
    status or ``None``), ``error_type`` and ``message`` (Prometheus' own text).
    """

    hint = ""

    def __init__(
        self,
        message: str,
        *,
        query: str | None = None,
        url: str | None = None,
        status: int | None = None,
        error_type: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.query = query
        self.url = url
        self.status = status
        self.error_type = error_type
        if hint is not None:
            self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        asked = f"query {self.query!r}" if self.query else "request"
        where = f" at {self.url}" if self.url else ""
        code = f" (HTTP {self.status}" if self.status else ""
        if code:
            code += f", {self.error_type})" if self.error_type else ")"
        text = f"{asked} failed{where}{code}: {self.message}"
        return f"{text}. {self.hint}" if self.hint else text

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, self.__dict__))


def _rebuild(cls: type[PrometheusError], message: str, state: dict[str, Any]) -> PrometheusError:
    err = cls.__new__(cls)
    err.__dict__.update(state)
    Exception.__init__(err, err._render())
    return err


class UnreachableError(PrometheusError):
    hint = "Check the URL and that Prometheus is running (demo: `obskit demo start`)"


class AuthError(PrometheusError):
    hint = "Check the username/password or bearer token given to obskit.connect()"


class TLSError(PrometheusError):
    hint = "Pass ca_bundle= with the CA that signed the server certificate (or verify=False)"


class QuerySyntaxError(PrometheusError):
    hint = "Fix the expression; obskit.validate(expr) shows where"


class QueryExecutionError(PrometheusError):
    hint = "The query parsed but failed while running; narrow it or check the operand types"


class QueryTimeoutError(PrometheusError):
    hint = "Use a shorter range, a larger step, fewer series, or raise timeout="


class TooLargeError(PrometheusError):
    hint = "Use a larger step, a shorter range, or aggregate with sum by (...)"


class ValidationError(ObskitError):
    """A query was refused because validation found error-level problems."""

    def __init__(self, message: str, report: Any = None) -> None:
        self.report = report
        super().__init__(message)


class DashboardError(ObskitError):
    """A dashboard source, JSON file or panel is wrong; ``path`` says which file."""

    def __init__(self, message: str, path: Any = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class DemoError(ObskitError):
    """The demo Prometheus (or its data) could not be set up, started or stopped."""


class PromQLWarning(UserWarning):
    """A warning or info Prometheus returned with a result."""
