"""Business: calls, resolution, orders and fittings, tools, transfers and cost.

"Today" panels use the panel time override ``now/d`` (today so far) with ``$__range``:
in the dashboard's Europe/Berlin time zone that is the increase since local midnight,
the store's business day. A fixed ``[24h]`` would mix in yesterday evening, and
``$__range`` of the dashboard's own range would change with the time picker.
"""

from obskit import panels as p
from obskit.promql import ratio

CALLS = 'voicebot_calls_total{scenario=~"$scenario"}'
TODAY = "now/d"
RANGE = "[$__range]"


def today(title, description, metric, legend):
    """A stat: the increase of `metric` since local midnight (Europe/Berlin)."""
    query = f"sum(increase({metric}{RANGE}))"
    return p.stat(title, description, [p.target(query, legend, instant=True)],
                  unit="short", time_from=TODAY, decimals=0)  # fmt: skip


calls_today = today(
    "Calls today", "Finished calls since local midnight (Europe/Berlin), scenarios in $scenario.",
    CALLS, "calls",
)  # fmt: skip
orders_today = today(
    "Orders created today", "Orders the bot created since local midnight (Europe/Berlin).",
    "voicebot_orders_created_total", "orders",
)  # fmt: skip
fittings_today = today(
    "Fittings booked today",
    "In-store fitting appointments the bot booked since local midnight (Europe/Berlin).",
    "voicebot_fittings_booked_total", "fittings",
)  # fmt: skip
resolution_rate = p.gauge(
    "Bot resolution rate",
    "Share of finished calls the bot resolved without an operator over the time range.",
    [
        p.target(
            ratio(
                f'sum(increase(voicebot_calls_total{{scenario=~"$scenario", outcome="bot_resolved"}}{RANGE}))',
                f"sum(increase({CALLS}{RANGE}))",
                min_volume=p.MIN_VOLUME,
                volume=f"sum(increase({CALLS}{RANGE}))",
            ),
            "resolved by the bot",
            instant=True,
        )
    ],
    unit="percentunit",
    steps=p.thresholds("red", (0.5, "orange"), (0.65, "green")),
)
calls_per_hour = p.timeseries(
    "Calls per hour",
    "Finished calls in each hour, by outcome (scenarios in $scenario).",
    [p.target(f"sum by (outcome) (increase({CALLS}[$__interval]))", "{{outcome}}")],
    unit="short",
    bars=True,
    interval="1h",  # one bar per hour: the step and the increase window are both 1h
)
bot_vs_operator = p.piechart(
    "Resolution: bot vs operator",
    "Calls resolved by the bot against calls transferred to an operator over the time range.",
    [
        p.target(
            'sum by (outcome) (increase(voicebot_calls_total{scenario=~"$scenario", '
            f'outcome=~"bot_resolved|operator_transfer"}}{RANGE}))',
            "{{outcome}}",
            instant=True,
        )
    ],
    unit="short",
)
tool_usage = p.piechart(
    "Tool usage",
    "Tool calls the LLM made over the time range, by tool.",
    [
        p.target(
            f"sum by (tool_name) (increase(voicebot_tool_calls_total{RANGE}))",
            "{{tool_name}}",
            instant=True,
        )
    ],
    unit="short",
)
transfer_reasons = p.barchart(
    "Transfer reasons",
    "Calls handed to a human operator over the time range, by reason.",
    [
        p.target(
            f"sum by (reason) (increase(voicebot_transfers_total{RANGE}))",
            "{{reason}}",
            instant=True,
            table=True,
        )
    ],
    unit="short",
    x_field="reason",
)
call_cost = p.timeseries(
    "Average call cost",
    "Money spent per finished call (telephony, STT, LLM, TTS); no value while no calls finish.",
    [
        p.target(
            "sum(rate(voicebot_call_cost_usd_total[$__rate_interval]))"
            " / (sum(rate(voicebot_calls_total[$__rate_interval])) > 0)",
            "cost per call",
        )
    ],
    unit="currencyUSD",
)
scenarios = p.piechart(
    "Scenario distribution",
    "Finished calls over the time range by scenario; the $scenario variable filters this dashboard.",
    [p.target(f"sum by (scenario) (increase({CALLS}{RANGE}))", "{{scenario}}", instant=True)],
    unit="short",
)

dashboard = p.dashboard(
    "Business Dashboard",
    uid="obskit-business-dashboard",
    description="What the voice bot does for the business: calls, resolution, orders, cost.",
    variables=[p.variable("scenario", "voicebot_calls_total", "scenario")],
    time=("now-24h", "now"),
    timezone="Europe/Berlin",
    rows=[
        p.row(5, calls_today, orders_today, fittings_today, resolution_rate),
        p.row(8, (calls_per_hour, 16), (scenarios, 8)),
        p.row(8, bot_vs_operator, tool_usage, transfer_reasons),
        p.row(8, (call_cost, 24)),
    ],
    source=__file__,
)
