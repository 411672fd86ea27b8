"""``%load_ext obskit``: the ``%%promql`` cell magic, ``%promql`` line magic and PromQL completion.

Completion goes through the kernel's own ``complete_request`` (an IPython matcher), so
Tab works in JupyterLab and any other front end without an extension.

>>> # %load_ext obskit
>>> # %%promql --range 6h -o calls
>>> # sum by (outcome) (rate(voicebot_calls_total[$__rate_interval]))
"""

from __future__ import annotations

from typing import Any

from ._cell import USAGE, parse_options, run
from ._complete import Vocabulary, complete, promql_before_cursor

__all__ = ["USAGE", "load_ipython_extension", "parse_options", "unload_ipython_extension"]

_MATCHER_ID = "obskit.promql"


class Clients:
    """The client a cell names (``--client NAME``), else one ``obskit.connect()`` per kernel,
    and one completion :class:`Vocabulary` per client."""

    def __init__(self) -> None:
        self._default: Any = None
        self._vocabularies: dict[int, Vocabulary] = {}

    def get(self, namespace: dict[str, Any], name: str | None) -> Any:
        from ..client import Client
        from ..errors import ConfigError

        if name is not None:
            found = namespace.get(name)
            if not isinstance(found, Client):
                raise ConfigError(
                    f"%%promql: --client {name} must name an obskit client in this notebook, "
                    f"e.g. {name} = obskit.connect('http://127.0.0.1:9090')"
                )
            return found
        if self._default is None:
            import obskit

            self._default = obskit.connect()
        return self._default

    def vocabulary(self, client: Any) -> Vocabulary:
        key = id(client)
        if key not in self._vocabularies:
            self._vocabularies[key] = Vocabulary(client)
        return self._vocabularies[key]

    def for_completion(self, namespace: dict[str, Any], code: str) -> Vocabulary:
        """The vocabulary of the client the code at hand talks to (offline: catalog only)."""
        from ..client import Client
        from ..errors import ObskitError

        first = code.lstrip().split("\n", 1)[0]
        name = None
        if first.startswith(("%%promql", "%promql")) and "--client" in first:
            words = first.split()
            after = words.index("--client") + 1 if "--client" in words else len(words)
            name = words[after] if after < len(words) else None
        candidate = namespace.get(name) if name else None
        if isinstance(candidate, Client):
            return self.vocabulary(candidate)
        try:
            return self.vocabulary(self.get(namespace, None))
        except ObskitError:
            return self.vocabulary(None)


def load_ipython_extension(ipython: Any) -> None:
    """Register ``%%promql``, ``%promql`` and the PromQL matcher on ``ipython``."""
    from IPython.core.completer import context_matcher

    clients = Clients()

    def promql(line: str, cell: str | None = None) -> Any:
        """``%%promql [options]`` with the query below, or ``%promql [options --] QUERY``."""
        if cell is None:
            line, _, cell = _split_line(line)
        return run(line, cell, ipython.user_ns, clients)

    @context_matcher(identifier=_MATCHER_ID)
    def promql_matcher(context: Any) -> dict[str, Any]:
        from IPython.core.completer import SimpleCompletion

        code = context.full_text
        offset = _offset(code, context)
        text = promql_before_cursor(code, offset)
        if text is None:
            return {"completions": [], "suppress": False}
        vocabulary = clients.for_completion(ipython.user_ns, code)
        prefix, found = complete(text, vocabulary)
        completions = [SimpleCompletion(name, type=kind) for name, kind in found]
        return {
            "completions": completions,
            "suppress": bool(completions),
            "matched_fragment": prefix,
        }

    ipython.register_magic_function(promql, magic_kind="line_cell", magic_name="promql")
    completer = ipython.Completer
    completer.custom_matchers[:] = [
        m
        for m in completer.custom_matchers
        if getattr(m, "matcher_identifier", None) != _MATCHER_ID
    ]
    completer.custom_matchers.append(promql_matcher)


def unload_ipython_extension(ipython: Any) -> None:
    """Remove the PromQL matcher (IPython keeps registered magics until restart)."""
    completer = ipython.Completer
    completer.custom_matchers[:] = [
        m
        for m in completer.custom_matchers
        if getattr(m, "matcher_identifier", None) != _MATCHER_ID
    ]


def _split_line(line: str) -> tuple[str, str, str]:
    """``%promql [options --] QUERY``: with ``--``, the options stand before it."""
    if " -- " in f" {line} ":
        options, _, query = f" {line} ".partition(" -- ")
        return options.strip(), "--", query.strip()
    return "", "", line.strip()


def _offset(code: str, context: Any) -> int:
    """The cursor's offset in ``code`` from IPython's (line, column) position."""
    lines = code.split("\n")
    row = min(context.cursor_line, len(lines) - 1)
    return sum(len(line) + 1 for line in lines[:row]) + context.cursor_position
