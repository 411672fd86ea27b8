"""Settings and the one place obskit reads environment variables.

Variables read (only here): ``PROMETHEUS_URL``, ``OBSKIT_NOW``, ``OBSKIT_CACHE_DIR``,
``XDG_CACHE_HOME``, ``OBSKIT_CATALOG``, ``OBSKIT_DATA``, ``OBSKIT_ENCODING``, ``OBSKIT_CONCURRENCY``, and the connection
variables listed in :meth:`Settings.from_env`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from .errors import ConfigError

#: The scrape interval obskit assumes where none is given (the demo's; Grafana's ``timeInterval``).
SCRAPE_INTERVAL = 30

__all__ = [
    "Settings",
    "cache_dir",
    "catalog_files",
    "demo_state",
    "now",
    "parse_instant",
    "prometheus_url",
    "redact_url",
    "resolve_url",
]

#: Prometheus refuses range queries over this many points per series (not configurable).
PROMETHEUS_MAX_POINTS = 11_000
_ENV_FIELDS = {
    "PROMETHEUS_USERNAME": "username",
    "PROMETHEUS_PASSWORD": "password",
    "PROMETHEUS_BEARER_TOKEN": "bearer_token",
    "PROMETHEUS_TENANT": "tenant",
    "PROMETHEUS_CA_BUNDLE": "ca_bundle",
}
_CREDENTIAL_FIELDS = ("username", "password", "bearer_token", "tenant")
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_URL_EXAMPLE = "an http(s) URL like http://127.0.0.1:9090"
_FLOATS = ("timeout", "backoff")
_BOUNDS: dict[str, tuple[float, float, str]] = {  # setting: (lowest, highest, example)
    "timeout": (0.001, math.inf, "30"),
    "max_points": (2, PROMETHEUS_MAX_POINTS, "11000"),
    "target_points": (1, PROMETHEUS_MAX_POINTS, "1000"),
    "max_workers": (1, 64, "4"),
    "retries": (0, 10, "2"),
    "backoff": (0, 60, "0.5"),
    "series_budget": (1, math.inf, "10000"),
    "concurrency": (1, 64, "2"),
}
#: Accepted ``encoding`` settings: ``auto`` measures the link (obskit.client._link).
ENCODINGS = ("auto", "identity", "gzip")


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Where obskit keeps demo data and the demo's state file.

    ``$OBSKIT_CACHE_DIR``, else ``$XDG_CACHE_HOME/obskit``, else ``~/.cache/obskit``.
    """
    env = _env(environ)
    if env.get("OBSKIT_CACHE_DIR"):
        return Path(env["OBSKIT_CACHE_DIR"]).expanduser()
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "obskit"


def state_file(environ: Mapping[str, str] | None = None) -> Path:
    """The running demo's state file (``url``, ``pid``, ``end``, ...)."""
    return cache_dir(environ) / "demo" / "state.json"


def replay_data(environ: Mapping[str, str] | None = None) -> Path | None:
    """The fixture directory ``$OBSKIT_DATA`` names: tests and notebooks replay it, or None.

    >>> replay_data({"OBSKIT_DATA": "notebooks/fixtures/exporters"}).name
    'exporters'
    """
    text = _env(environ).get("OBSKIT_DATA", "").strip()
    return Path(text).expanduser() if text else None


def catalog_files(environ: Mapping[str, str] | None = None) -> list[Path]:
    """The catalog files ``$OBSKIT_CATALOG`` names (``os.pathsep``-separated), or none.

    >>> [p.name for p in catalog_files({"OBSKIT_CATALOG": "a.yaml" + os.pathsep + "b.yaml"})]
    ['a.yaml', 'b.yaml']
    """
    text = _env(environ).get("OBSKIT_CATALOG", "")
    return [Path(part).expanduser() for part in text.split(os.pathsep) if part.strip()]


def _catalog_files(value: object) -> tuple[str, ...]:
    """``Settings.catalog`` as a tuple of existing files, or a ConfigError naming the bad one."""
    items = [value] if isinstance(value, str | Path) else value
    if not isinstance(items, list | tuple):
        raise ConfigError(
            f"catalog must be a list of catalog files, like catalog=['metrics.yaml']; got {value!r}"
        )
    files = []
    for item in items:
        path = Path(str(item)).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"catalog file {str(item)!r} does not exist; write one with `obskit catalog "
                "import --prometheus URL --owns PREFIX --out FILE` or fix the path"
            )
        files.append(str(path))
    return tuple(files)


def demo_state(environ: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The state the running demo recorded, or ``None`` when no demo runs."""
    path = state_file(environ)
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    pid = state.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        return None
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def parse_instant(text: str, what: str = "time") -> datetime:
    """An ISO 8601 instant as an aware UTC datetime ('Z' or an offset; naive means UTC).

    >>> parse_instant("2026-02-14T18:00:00Z").isoformat()
    '2026-02-14T18:00:00+00:00'
    """
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{what} must be an ISO 8601 instant like 2026-02-14T18:00:00Z; got {text!r}"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def now(environ: Mapping[str, str] | None = None) -> datetime:
    """The instant notebooks and relative times ("-6h", "now") are evaluated at.

    ``$OBSKIT_NOW`` when set (the demo pins it to its data's end time, so every run
    against the demo sees the same instant), else the running demo's pinned end when
    ``PROMETHEUS_URL`` is unset or points at that demo, else the wall clock (UTC).

    >>> now({"OBSKIT_NOW": "2026-02-14T18:00:00Z"}).isoformat()
    '2026-02-14T18:00:00+00:00'
    """
    env = _env(environ)
    if env.get("OBSKIT_NOW"):
        return parse_instant(env["OBSKIT_NOW"], "OBSKIT_NOW")
    state = demo_state(environ)
    if state and state.get("end") and not state.get("live"):
        url = env.get("PROMETHEUS_URL")
        if not url or url.rstrip("/") == str(state.get("url", "")).rstrip("/"):
            return parse_instant(str(state["end"]), "the demo's end time")
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True, repr=False)
class Settings:
    """How to reach one Prometheus-compatible server; validated when built.

    Parameters
    ----------
    url : str
        Base URL, e.g. ``http://127.0.0.1:9090`` or ``https://vm.example/select/0/prometheus``.
        Credentials written into it (``https://user:pw@host``) move to ``username``/``password``.
    username, password : str, optional
        HTTP basic auth.
    bearer_token : str, optional
        Sent as ``Authorization: Bearer ...``.
    headers : mapping, optional
        Extra HTTP headers for every request.
    tenant : str, optional
        Sent as ``X-Scope-OrgID`` (Cortex, Mimir, Thanos).
    ca_bundle : str, optional
        PEM file with the CA that signed the server certificate.
    verify : bool
        Verify TLS certificates (default ``True``).
    timeout : float
        Seconds to wait for connect and for each response (default 30).
    max_points : int
        Most points per series in one range request; longer ranges are split into
        chunks (at most Prometheus' own cap of 11,000).
    target_points : int
        Points per series a range query aims at when no step is given (default 1000).
    max_workers : int
        Most chunks fetched at once (default 4). Against a Prometheus on this machine
        (loopback) also at most one per CPU core: the server and this process share them,
        and more requests at once would only compete for the same cores.
    retries : int
        Retries of a request answered with a 5xx status, with exponential backoff (default 2).
    backoff : float
        Backoff factor in seconds between those retries (default 0.5).
    scrape_interval : float
        The data source's scrape interval in seconds (Grafana's "Scrape interval"), used
        to expand ``$__rate_interval`` when a query carrying Grafana macros is run.
    series_budget : int or None
        Most series one result may hold before :class:`~obskit.TooLargeError` (default
        10,000; ``None`` for no limit).
    encoding : str
        ``Accept-Encoding`` of requests: ``"auto"`` (default: ``identity`` on loopback; on
        another host the faster of ``identity`` and ``gzip`` as measured on this client's
        big answers), ``"identity"`` or ``"gzip"``.
    concurrency : int or None
        Range pieces fetched at once, exactly (``None``, the default: chosen per server
        from what its answers measured, at most ``max_workers``).
    catalog : sequence of paths
        Catalog files (YAML, see :mod:`obskit.catalog`) describing this server's metrics,
        used over the shipped one whenever this client validates, lints or lists metrics;
        default none (the process-wide catalog: ``catalog.use()`` or ``$OBSKIT_CATALOG``).

    Secrets (``password``, ``bearer_token``, sensitive ``headers``) never appear in
    ``repr()``/``str()``.

    >>> s = Settings("http://bob:s3cret@127.0.0.1:9090/")
    >>> s.url, s.username
    ('http://127.0.0.1:9090', 'bob')
    >>> "s3cret" in repr(s)
    False
    """

    url: str
    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    tenant: str | None = None
    ca_bundle: str | None = None
    verify: bool = True
    timeout: float = 30.0
    max_points: int = PROMETHEUS_MAX_POINTS
    target_points: int = 1000
    max_workers: int = 4
    retries: int = 2
    backoff: float = 0.5
    series_budget: int | None = 10_000
    scrape_interval: float = float(SCRAPE_INTERVAL)
    encoding: str = "auto"
    concurrency: int | None = None
    catalog: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        parts = _check_url(self.url, "url")
        set_ = object.__setattr__
        set_(self, "url", _unparse(parts))
        if parts.username and self.username is None:
            set_(self, "username", unquote(parts.username))
        if parts.password and self.password is None:
            set_(self, "password", unquote(parts.password))
        set_(self, "headers", {str(k): str(v) for k, v in self.headers.items()})
        self._check_numbers()
        if self.ca_bundle is not None:
            bundle = Path(self.ca_bundle).expanduser()
            if not bundle.is_file():
                raise ConfigError(
                    "ca_bundle must be a PEM file with the server's CA, like /etc/ssl/my-ca.pem; "
                    f"{self.ca_bundle!r} is not a file"
                )
            set_(self, "ca_bundle", str(bundle))
        set_(self, "catalog", _catalog_files(self.catalog))

    def _check_numbers(self) -> None:
        for name, (low, high, example) in _BOUNDS.items():
            value = getattr(self, name)
            if not (name in ("series_budget", "concurrency") and value is None):
                _check_number(name, value, low, high, example)
        if self.encoding not in ENCODINGS:
            raise ConfigError(
                f"encoding must be one of {', '.join(ENCODINGS)}, e.g. encoding='gzip' for a "
                f"slow link; got {self.encoding!r}"
            )

    def __repr__(self) -> str:
        shown = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("password", "bearer_token") and value is not None:
                value = "***"
            elif f.name == "headers":
                value = {
                    k: "***" if k.lower() in _SENSITIVE_HEADERS else v for k, v in value.items()
                }
            shown.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(shown)})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from keyword arguments, then ``PROMETHEUS_*`` variables, then defaults.

        The URL comes from :func:`resolve_url`. ``PROMETHEUS_USERNAME``,
        ``PROMETHEUS_PASSWORD``, ``PROMETHEUS_BEARER_TOKEN``, ``PROMETHEUS_TENANT`` and
        ``PROMETHEUS_CA_BUNDLE`` fill fields not given as arguments (``None`` counts as
        not given). Credentials from the environment belong to ``PROMETHEUS_URL``: they
        are not sent to a different server named by an explicit ``url=``.

        >>> env = {"PROMETHEUS_URL": "http://127.0.0.1:9090", "PROMETHEUS_TENANT": "shop"}
        >>> Settings.from_env(env, timeout=5).tenant
        'shop'
        """
        env = os.environ if environ is None else environ
        unknown = set(overrides) - {f.name for f in fields(cls)}
        if unknown:
            valid = ", ".join(f.name for f in fields(cls))
            raise ConfigError(f"unknown setting(s) {sorted(unknown)}; valid settings: {valid}")
        given = {k: v for k, v in overrides.items() if v is not None}
        url = resolve_url(given.pop("url", None), environ)
        from_env: dict[str, Any] = {
            name: env[var] for var, name in _ENV_FIELDS.items() if env.get(var)
        }
        from_env.update(_link_env(env))
        url_has_credentials = "@" in url.partition("://")[2]
        if url_has_credentials or (
            "url" in overrides and overrides["url"] and not _same_origin(url, env)
        ):
            # Credentials written into the URL are the more explicit choice; and credentials
            # from PROMETHEUS_* are never sent to another server than $PROMETHEUS_URL's.
            for name in _CREDENTIAL_FIELDS:
                from_env.pop(name, None)
        return cls(url=url, **{**from_env, **given})


def _link_env(env: Mapping[str, str]) -> dict[str, Any]:
    """``encoding`` and ``concurrency`` from ``OBSKIT_ENCODING`` / ``OBSKIT_CONCURRENCY``."""
    found: dict[str, Any] = {}
    if env.get("OBSKIT_ENCODING"):
        found["encoding"] = env["OBSKIT_ENCODING"].strip().lower()
    text = env.get("OBSKIT_CONCURRENCY", "").strip()
    if text and text.lower() != "auto":
        try:
            found["concurrency"] = int(text)
        except ValueError:
            raise ConfigError(
                f"OBSKIT_CONCURRENCY must be a whole number from 1 to 64 or 'auto', e.g. "
                f"OBSKIT_CONCURRENCY=2; got {text!r}"
            ) from None
    return found


def _check_number(name: str, value: object, low: float, high: float, example: str) -> None:
    kinds = (int, float) if name in _FLOATS else (int,)
    if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
        kind = "a number" if name in _FLOATS else "a whole number"
        bounds = f"at least {low:g}" if high == math.inf else f"from {low:g} to {high:g}"
        raise ConfigError(f"{name} must be {kind} {bounds}, e.g. {name}={example}; got {value!r}")


def resolve_url(url: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """The Prometheus URL to use: ``url``, else ``$PROMETHEUS_URL``, else the running demo's.

    Checked and without a trailing slash; credentials written into it are kept (for
    :class:`Settings` to take), so show it only through :func:`redact_url`.

    >>> resolve_url(None, {"PROMETHEUS_URL": "http://127.0.0.1:9090/"})
    'http://127.0.0.1:9090'
    """
    env = os.environ if environ is None else environ
    if url:
        return _unparse(_check_url(url, "url"), keep_credentials=True)
    if env.get("PROMETHEUS_URL"):
        return _unparse(_check_url(env["PROMETHEUS_URL"], "PROMETHEUS_URL"), keep_credentials=True)
    state = demo_state(environ)
    if state and state.get("url"):
        return _unparse(_check_url(str(state["url"]), "the demo's URL"), keep_credentials=True)
    raise ConfigError(
        "no Prometheus URL: pass one, e.g. obskit.connect('http://127.0.0.1:9090'), "
        "set PROMETHEUS_URL, or start the local demo with `obskit demo start`"
    )


def prometheus_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``$PROMETHEUS_URL`` if it is set (no demo fallback: for commands that may run offline).

    >>> prometheus_url({"PROMETHEUS_URL": "http://127.0.0.1:9090"}), prometheus_url({})
    ('http://127.0.0.1:9090', None)
    """
    return (_env(environ).get("PROMETHEUS_URL") or "").strip() or None


def redact_url(url: str) -> str:
    """``url`` without the ``user:password@`` part, for messages and logs.

    >>> redact_url("https://bob:s3cret@prom.example:9090/api")
    'https://prom.example:9090/api'
    """
    text = str(url)
    scheme, sep, rest = text.partition("://")
    if sep and "@" in rest:
        # Textually, not with urlsplit: an unencoded # / ? in a password ends urlsplit's
        # netloc early and would leave the rest of the password in the "redacted" URL.
        return f"{scheme}://{rest.rpartition('@')[2]}"
    return text


def _check_url(url: str, what: str) -> SplitResult:
    text = str(url).strip()
    bad = f"{what} must be {_URL_EXAMPLE}; got {redact_url(text)!r}"
    if not text or any(ch.isspace() for ch in text):
        raise ConfigError(f"{bad} (it contains spaces or is empty)")
    has_credentials = "@" in text.partition("://")[2]
    if has_credentials:
        bad += " (if the password holds # / ? or @, percent-encode them, or pass password=)"
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        # The parser's text can quote a misparsed password: leave it out then.
        raise ConfigError(bad if has_credentials else f"{bad} ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ConfigError(f"{bad} (scheme must be http or https)")
    if not parts.hostname:
        raise ConfigError(f"{bad} (no host)")
    if parts.query or parts.fragment:
        raise ConfigError(f"{bad} (no ?query or #fragment in the base URL)")
    return parts


def _unparse(parts: SplitResult, keep_credentials: bool = False) -> str:
    netloc = parts.netloc if keep_credentials else parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"


def _same_origin(url: str, env: Mapping[str, str]) -> bool:
    """Whether ``url`` names the server ``$PROMETHEUS_URL`` names (or that is unset)."""
    if not env.get("PROMETHEUS_URL"):
        return True
    try:
        ours, theirs = urlsplit(url), urlsplit(env["PROMETHEUS_URL"].strip())
        return (ours.scheme, ours.hostname, ours.port) == (
            theirs.scheme,
            theirs.hostname,
            theirs.port,
        )
    except ValueError:
        return False
