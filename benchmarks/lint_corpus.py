"""Lint real-world material nobody here wrote and print how often obskit is right.

    python benchmarks/lint_corpus.py DIR... [--dump FILE.tsv] [--labels FILE.tsv]

Every Prometheus target of every Grafana dashboard JSON under the folders (panels, rows'
and collapsed rows' ``panels``, legacy ``rows[]``; targets of other data sources skipped;
the dashboard's variables passed as declared) is linted as a dashboard query, and every
case of a cases file (``*.yaml`` in the format of ``../shared/corpus/lint_cases.yaml``)
is linted with the context the peer had. Printed: findings by rule, agreement with the
peer's verdicts where obskit has a counterpart rule, false alarms on clean cases, fixes that
change a metric's namespace, crashes, and the hand labels: how many of the findings reported
now are labelled, how many of those are false (k of n), and which are unlabelled or labels
no finding matches any more (``--labels``, default ``lint_labels.tsv`` next to this script:
``source, rule, expr, message, verdict, why``, one finding a row, as ``--dump`` writes them).
``--dump`` writes every finding (source, rule, expr, message, fix) as TSV for labelling.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import traceback
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from obskit.lint import Finding, lint
from obskit.promql import Expr

#: Rules added after the cases file was written, by the peer check they answer.
LATER_COUNTERPARTS: dict[str, tuple[str, ...]] = {
    "promql/regexp": ("regex-literal", "regex-anchors", "regex-match-all"),
    "promql/impossible": ("constant-comparison",),
}
#: Data source plugin types that are not Prometheus (a plugin id contains one of these).
_NOT_PROMETHEUS = ("loki", "elasticsearch", "graphite", "influxdb", "tempo", "jaeger", "mysql",
                   "postgres", "grafana", "cloudwatch", "testdata", "__expr__", "expression")  # fmt: skip


# -- dashboards ----------------------------------------------------------------------------------


def panels(container: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside rows, collapsed rows and legacy ``rows[]``."""
    for panel in container.get("panels") or []:
        yield panel
        yield from panels(panel)
    for row in container.get("rows") or []:
        yield from panels(row)


def _ds_type(datasource: Any, variables: dict[str, str]) -> str | None:
    if isinstance(datasource, dict):
        kind = datasource.get("type")
        if kind == "datasource":  # "-- Mixed --" / "-- Grafana --": the targets decide
            return None if "Mixed" in str(datasource.get("uid")) else "grafana"
        return str(kind) if kind else None
    if isinstance(datasource, str):  # legacy: a data source name, a ${variable} or -- Grafana --
        if datasource.startswith("$"):
            return variables.get(datasource.strip("${}"))
        return "grafana" if datasource.startswith("-- ") and "Mixed" not in datasource else None
    return None


def prometheus_targets(panel: dict[str, Any], sources: dict[str, str]) -> Iterator[dict[str, Any]]:
    panel_type = _ds_type(panel.get("datasource"), sources)
    for target in panel.get("targets") or []:
        kind = target.get("dsType") or _ds_type(target.get("datasource"), sources)
        kind = str(kind or panel_type or "prometheus")
        if any(word in kind.lower() for word in _NOT_PROMETHEUS):
            continue
        if target.get("expr"):
            yield target


def declared(dashboard: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """``(variables for lint, datasource variables -> plugin type)`` of a dashboard."""
    variables: dict[str, Any] = {}
    sources = {str(i.get("name")): str(i.get("pluginId")) for i in dashboard.get("__inputs") or []}
    for var in (dashboard.get("templating") or {}).get("list") or []:
        name = var.get("name")
        if not name:
            continue
        if var.get("type") == "datasource":
            sources[name] = str(var.get("query") or "prometheus")
        current = (var.get("current") or {}).get("value")
        if var.get("multi") or var.get("includeAll"):
            variables[name] = current if isinstance(current, list) else ["a", "b"]
        elif var.get("type") == "interval":
            variables[name] = current or "5m"
        else:
            variables[name] = current if isinstance(current, str) and current else "x"
    return variables, sources


def lint_dashboards(files: list[Path]) -> tuple[list[tuple[str, str, Finding]], list[str], int]:
    found, crashes, targets = [], [], 0
    for file in files:
        dashboard = json.loads(file.read_text())
        if "dashboard" in dashboard and "panels" not in dashboard:
            dashboard = dashboard["dashboard"]  # an export wrapped for the HTTP API
        variables, sources = declared(dashboard)
        for panel in panels(dashboard):
            for target in prometheus_targets(panel, sources):
                targets += 1
                expr = str(target["expr"])
                try:
                    findings = lint(expr, dashboard=True, variables=variables)
                except Exception:  # a crash is a finding of this benchmark
                    crashes.append(f"{file.name}: {expr!r}\n{traceback.format_exc(limit=3)}")
                    continue
                found += [(file.name, expr, f) for f in findings]
    return found, crashes, targets


# -- cases ---------------------------------------------------------------------------------------


def lint_case(case: dict[str, Any]) -> list[Finding]:
    context = case.get("context") or {}
    kwargs: dict[str, Any] = {"types": context.get("metadata") or {}}
    if context.get("scrape_interval"):
        kwargs["scrape_interval"] = context["scrape_interval"]
    if context.get("dashboard"):
        kwargs["dashboard"] = True
        kwargs["variables"] = dict.fromkeys(context.get("variables") or [], "x")
    return lint(case["query"], **kwargs)


def _is_cases(data: Any) -> bool:
    """Whether parsed YAML is a cases file: a list of mappings with a query and a verdict."""
    return isinstance(data, list) and all(
        isinstance(c, dict) and "query" in c and "peer_verdict" in c for c in data
    )


def score(case: dict[str, Any], reported: set[str], counterparts: tuple[str, ...]) -> str:
    hit = bool(reported & set(counterparts))
    if case["peer_verdict"] == "flagged":
        return "agree" if hit else "missed"
    return "false alarm" if hit else "agree"


Cases = tuple[dict[str, Counter[str]], list[str], list[str], list[tuple[str, str, Finding]]]


def run_cases(files: list[Path]) -> Cases:
    tallies: dict[str, Counter[str]] = {"file's counterparts": Counter(), "with later": Counter()}
    crashes, notes, found = [], [], []
    for file in files:
        cases = yaml.safe_load(file.read_text())
        if not _is_cases(cases):
            continue  # another YAML file (panels.yaml, provisioning): not a cases file
        for case in cases:
            try:
                findings = lint_case(case)
            except Exception:
                crashes.append(f"{case.get('id')}: {traceback.format_exc(limit=3)}")
                continue
            found += [(str(case.get("id")), str(case["query"]), f) for f in findings]
            reported = {f.rule for f in findings}
            if not case.get("comparable", True):
                continue
            rule = case.get("obskit_rule") or "none"
            own = () if rule == "none" else (rule, *(case.get("also_accept") or ()))
            later = own or LATER_COUNTERPARTS.get(str(case.get("peer_check")), ())
            for name, rules in (("file's counterparts", own), ("with later", later)):
                if not rules:
                    tallies[name]["no-rule"] += 1
                    continue
                verdict = score(case, reported, rules)
                tallies[name][verdict] += 1
                if name == "with later" and verdict != "agree":
                    notes.append(
                        f"  {verdict:11} {case['id']}: {case['query']!r} -> {sorted(reported)}"
                    )
    return tallies, crashes, notes, found


def namespace_changes(found: list[tuple[str, str, Finding]]) -> int:
    """Fixes that bring in a metric from a namespace none of the replaced metrics had."""
    changed = 0
    for _, expr, finding in found:
        if not finding.fix:
            continue
        before = set(Expr.of(expr).metrics)
        after = set(Expr.of(finding.fix).metrics)
        spaces = {name.partition("_")[0] for name in before - after}
        if any(name.partition("_")[0] not in spaces for name in after - before):
            changed += 1
    return changed


# -- labels --------------------------------------------------------------------------------------

Found = list[tuple[str, str, Finding]]
Key = tuple[str, str, str, str]


def _flat(text: str) -> str:
    return " ".join(text.split())


def key(source: str, expr: str, finding: Finding) -> Key:
    """How a finding is matched to its label: source, rule, expression and message."""
    return (source, finding.rule, _flat(expr), _flat(finding.message))


def read_labels(path: Path) -> dict[Key, tuple[str, str]]:
    """``key -> (verdict, why)`` of a labels TSV; a verdict is ``true`` or ``false``."""
    labels: dict[Key, tuple[str, str]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            verdict = row["verdict"].strip()
            if verdict not in ("true", "false") or not row["why"].strip():
                raise SystemExit(f"{path}: {row['source']} {row['rule']}: a label needs the verdict "
                                 f"true or false and a reason (why); got {verdict!r}. Fix the "
                                 "row")  # fmt: skip
            labels[(row["source"], row["rule"], _flat(row["expr"]), _flat(row["message"]))] = (
                verdict,
                row["why"],
            )
    return labels


def report_labels(path: Path, found: Found) -> list[str]:
    """Lines on how the hand labels in ``path`` cover and judge the findings in ``found``."""
    labels = read_labels(path)
    keys = [key(source, expr, f) for source, expr, f in found]
    labelled = [(k, f) for k, (_, _, f) in zip(keys, found, strict=True) if k in labels]
    false = [(k, f) for k, f in labelled if labels[k][0] == "false"]
    serious = [(k, f) for k, f in labelled if f.severity != "info"]
    serious_false = [(k, f) for k, f in serious if labels[k][0] == "false"]
    stale = sorted(set(labels) - set(keys))

    def share(part: list[Any], whole: list[Any]) -> str:
        return f"{len(part)} of {len(whole)} false ({100 * len(part) / max(len(whole), 1):.1f} %)"

    rules = Counter(f.rule for _, f in labelled)
    lines = [
        f"labels ({path.name}): {len(labelled)} of {len(found)} findings labelled over "
        f"{len(rules)} rules; {share(false, labelled)}; warnings and errors only: "
        f"{share(serious_false, serious)}",
        f"  unlabelled findings: {len(found) - len(labelled)}, labels no finding matches: "
        f"{len(stale)}",
    ]
    by_rule = Counter(f.rule for _, _, f in found)
    wrong = Counter(f.rule for _, f in false)
    for rule, count in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {rule:26} {count:3} reported, {rules[rule]:3} labelled, "
                     f"{wrong[rule]:2} false")  # fmt: skip
    for k, _f in false:
        lines.append(f"  false: {k[0]} {k[1]}: {k[2][:100]} -- {labels[k][1]}")
    for k, (source, expr, f) in zip(keys, found, strict=True):
        if k not in labels:
            lines.append(f"  unlabelled: {source} {f.rule}: {_flat(expr)[:100]}")
    for source, rule, expr, _ in stale:
        lines.append(f"  stale label: {source} {rule}: {expr[:100]}")
    return lines


# -- report --------------------------------------------------------------------------------------


def _share(tally: Counter[str]) -> str:
    scored = tally["agree"] + tally["missed"] + tally["false alarm"]
    pct = 100 * tally["agree"] / scored if scored else 0.0
    return (
        f"{tally['agree']}/{scored} agree ({pct:.1f} %), {tally['missed']} missed, "
        f"{tally['false alarm']} false alarms on clean cases, {tally['no-rule']} without a rule"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    parser.add_argument("--dump", type=Path, help="write every finding as TSV here")
    parser.add_argument("--labels", type=Path, default=Path(__file__).with_name("lint_labels.tsv"),
                        help="hand labels of findings (TSV); default: lint_labels.tsv here")  # fmt: skip
    args = parser.parse_args(argv)
    jsons = sorted(p for d in args.dirs for p in d.rglob("*.json"))
    yamls = sorted(p for d in args.dirs for p in d.rglob("*.yaml"))
    cases = [p for p in yamls if _is_cases(yaml.safe_load(p.read_text()))]
    found, crashes, targets = lint_dashboards(jsons)
    by_rule = Counter(f.rule for _, _, f in found)
    fixes = sum(1 for _, _, f in found if f.fix)
    print(f"dashboards: {len(jsons)} files, {targets} Prometheus targets, {len(found)} findings, "
          f"{fixes} with a fix, {len({e for _, e, _ in found})} targets with findings")  # fmt: skip
    for rule, count in sorted(by_rule.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {rule:26} {count}")
    tallies, case_crashes, notes, case_found = run_cases(cases)
    total = sum(tallies["file's counterparts"].values())
    print(f"cases: {len(cases)} files, {total} comparable cases, {len(case_found)} findings")
    for name, tally in tallies.items():
        print(f"  {name:20} {_share(tally)}")
    print("\n".join(notes))
    crashes += case_crashes
    everything = found + case_found
    both = Counter(f.rule for _, _, f in everything)
    print(f"findings by rule (dashboards + cases): {len(everything)}")
    for rule, count in sorted(both.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  {rule:26} {count:3}  ({by_rule[rule]} dashboards, {count - by_rule[rule]} cases)")
    print(f"fixes: {sum(1 for _, _, f in everything if f.fix)}, of which change a metric's "
          f"namespace: {namespace_changes(everything)}")  # fmt: skip
    print(f"crashes: {len(crashes)}")
    if args.labels.exists():
        print("\n".join(report_labels(args.labels, everything)))
    else:
        print(f"labels: {args.labels} does not exist, so no false share")
    for crash in crashes:
        print(crash, file=sys.stderr)
    if args.dump:
        with args.dump.open("w", newline="") as out:
            writer = csv.writer(out, delimiter="\t", lineterminator="\n")
            writer.writerow(["source", "rule", "expr", "message", "fix"])
            for name, expr, f in everything:
                writer.writerow(
                    [name, f.rule, " ".join(expr.split()), " ".join(f.message.split()), f.fix or ""]
                )
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
