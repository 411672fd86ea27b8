"""The truth suite catches the ways people really get panel queries wrong.

Each mutation breaks one panel target of a copy of a committed dashboard and runs it through the
same machinery as test_truth_dashboards.py (Grafana's expansion for every setting, the same
instants, the same truth entry and tolerance). A mutation is caught when the comparison reports
a deviation beyond tolerance or a wrong shape (missing/extra series, a label aggregated away),
or the query fails. Run with ``-rP`` to see caught/tried and what caught each one.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from _truth import all_instants, default_settings, evaluate, instant_runs, plan_targets
from test_truth_dashboards import ALTERNATIVES, APP, BIZ, BOARDS, SYS, TABLE

from obskit.demo.truth import Truth
from obskit.demo.truth import truth as demo_truth
from obskit.errors import ObskitError

pytestmark = pytest.mark.prometheus

HITS = "sum(rate(voicebot_tts_cache_hits_total[$__rate_interval]))"
MISSES = "sum(rate(voicebot_tts_cache_misses_total[$__rate_interval]))"


@dataclass(frozen=True)
class Mutation:
    """One realistic mistake: ``change`` turns the committed query into the broken one."""

    name: str
    dashboard: str
    panel: str
    ref_id: str
    change: Callable[[str], str]

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.dashboard, self.panel, self.ref_id)


def _sub(old: str, new: str) -> Callable[[str], str]:
    def change(expr: str) -> str:
        assert old in expr, f"mutation expects {old!r} in {expr!r}"
        return expr.replace(old, new)

    return change


def _is(text: str) -> Callable[[str], str]:
    return lambda _expr: text


MUTATIONS = [
    Mutation("aggregation drops le", APP, "LLM latency", "B",
             _sub("sum by (le, model)", "sum by (model)")),
    Mutation("rate over a gauge", APP, "Active calls", "A",
             _is("sum(rate(voicebot_active_calls[$__rate_interval]))")),
    Mutation("inverted ratio (total / hits)", APP, "TTS cache hit rate", "A",
             _is(f"({HITS} + {MISSES}) / ({HITS} > 0)")),
    Mutation("misses / total instead of hits / total", APP, "TTS cache hit rate", "A",
             _is(f"{MISSES} / (({HITS} + {MISSES}) > 0)")),
    Mutation("missing by label (status_code)", APP, "Store API errors", "A",
             _sub("sum by (status_code) (", "sum(")),
    Mutation("missing by label in a quantile (model)", APP, "LLM latency", "C",
             _sub("sum by (le, model)", "sum by (le)")),
    Mutation("window far too long (1d)", APP, "Call rate", "A",
             _sub("[$__rate_interval]", "[1d]")),
    Mutation("window far too long in a quantile (6h)", APP, "LLM latency", "B",
             _sub("[$__rate_interval]", "[6h]")),
    Mutation("wrong status-code filter (5xx only)", APP, "Store API errors", "A",
             _sub('status_code!~"2.."', 'status_code=~"5.."')),
    Mutation("wrong status-code filter (4xx counted as errors)", APP, "Store API error ratio",
             "A", _sub('{status_code=~"5.."}', '{status_code!~"2.."}')),
    Mutation("$__interval where $__rate_interval belongs", APP, "Rate-limit events", "A",
             _sub("[$__rate_interval]", "[$__interval]")),
    Mutation("irate instead of rate", APP, "Call rate", "A", _sub("rate(", "irate(")),
    Mutation("quantile of cumulative buckets (no rate)", APP, "LLM latency", "B",
             _is('histogram_quantile(0.95, sum by (le, model) '
                 '(voicebot_llm_latency_seconds_bucket{model=~"$llm_model"}))')),
    Mutation("average (sum/count) instead of p99", APP, "LLM latency", "C",
             _is('sum by (model) (rate(voicebot_llm_latency_seconds_sum{model=~"$llm_model"}'
                 '[$__rate_interval])) / sum by (model) (rate(voicebot_llm_latency_seconds_count'
                 '{model=~"$llm_model"}[$__rate_interval]))')),
    Mutation("fixed [24h] instead of today ($__range)", BIZ, "Calls today", "A",
             _sub("[$__range]", "[24h]")),
    Mutation("rate where increase was meant", BIZ, "Calls per hour", "A",
             _sub("increase(", "rate(")),
    Mutation("variable ignored", BIZ, "Scenario distribution", "A",
             _sub('{scenario=~"$scenario"}', "")),
    Mutation("denominator leaves out abandoned calls", BIZ, "Bot resolution rate", "A",
             _sub('(sum(increase(voicebot_calls_total{scenario=~"$scenario"}',
                  '(sum(increase(voicebot_calls_total{scenario=~"$scenario", '
                  'outcome!="abandoned"}')),
    Mutation("cost: increase over rate", BIZ, "Average call cost", "A",
             _sub("sum(rate(voicebot_call_cost_usd_total[$__rate_interval]))",
                  "sum(increase(voicebot_call_cost_usd_total[$__rate_interval]))")),
    Mutation("sum instead of avg over cores", SYS, "CPU busy", "A", _sub("avg(", "sum(")),
    Mutation("idle filter dropped", SYS, "CPU busy", "A", _sub('{mode="idle"}', "")),
    Mutation("used / total without 1 -", SYS, "Memory used", "A", _sub("1 - ", "")),
]  # fmt: skip


def mutated_board(mutation: Mutation) -> dict[str, Any]:
    """A copy of the mutation's dashboard with the one target broken."""
    board = copy.deepcopy(BOARDS[mutation.dashboard])
    for panel in board["panels"]:
        for target in panel.get("targets") or []:
            if (str(panel["title"]), str(target["refId"])) == mutation.key[1:]:
                broken = mutation.change(target["expr"])
                assert broken != target["expr"], f"{mutation.name} changes nothing"
                target["expr"] = broken
                return board
    raise AssertionError(f"no panel target {mutation.key} to mutate")


def verdict(mutation: Mutation, client: Any, truth: Truth) -> str:
    """How the truth suite caught the mutation ('' when it did not)."""
    runs = instant_runs(truth)
    board = mutated_board(mutation)
    settings = default_settings(board, ALTERNATIVES.get(mutation.dashboard, []))
    targets = [
        t for t in plan_targets(board, settings, all_instants(runs)) if t.key == mutation.key
    ]
    try:
        outcomes = evaluate(client, truth, targets, TABLE, runs)
    except ObskitError as exc:
        return f"query fails: {exc}"
    failed = [o for _, o in outcomes if not o.ok]
    if not failed:
        return ""
    first = failed[0]
    return f"{len(failed)}/{len(outcomes)} settings fail, e.g. {first.target}: {first.failures[0]}"


@pytest.fixture(scope="module")
def verdicts(demo, demo_client) -> dict[str, str]:
    truth = demo_truth(demo.spec)
    return {m.name: verdict(m, demo_client, truth) for m in MUTATIONS}


def test_mutations_break_real_panel_targets() -> None:
    for mutation in MUTATIONS:
        assert mutation.key in TABLE
        mutated_board(mutation)  # the change applies to today's query text


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_mutation_is_caught(mutation: Mutation, verdicts: dict[str, str]) -> None:
    assert verdicts[mutation.name], f"the truth suite did not catch: {mutation.name}"


def test_caught_over_tried(verdicts: dict[str, str]) -> None:
    caught = [name for name, why in verdicts.items() if why]
    print(f"mutations caught/tried: {len(caught)}/{len(verdicts)}")  # shown with pytest -rP
    for name, why in verdicts.items():
        print(f"- {name}: {why[:200] or 'NOT CAUGHT'}")
    assert len(caught) == len(verdicts)
