"""Turn a run's measurements into the dated markdown file (and its JSON twin) in results/."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from bench import report
from bench.config import Profile

RSS_LIMIT_MIB = 150
# "No growth" between the first and the second run of the same load, with room for what a
# Python process does on its own (allocator arenas, a freed block not given back): 2 MiB.
GROWTH_LIMIT_MIB = 2.0
EXPIRY_LIMIT_S = 10
FANOUT_LIMIT_S = 60

PAIRS = [
    ("team_small", "team", "Practitioners and Staff tab", "3 members, 3 pending", "300 + 300"),
    ("patients_small", "patients", "Patients page", "small office", "big office"),
    ("patient_small", "patient", "Patient page", "small office", "big office"),
    ("dashboard_small", "dashboard", "Portal dashboard", "1 clinic", "3 clinics"),
]


def _ms(value: float) -> str:
    return f"{value:.1f}"


def scenario_rows(results: dict) -> tuple[list[list], list[tuple[str, bool | None]]]:
    rounds = results.get("rounds", [])
    if not rounds:
        return [], []
    first = rounds[0]["scenarios"]
    last = rounds[-1]["scenarios"] if len(rounds) > 1 else None
    ceiling = first.get("ceiling", {}).get("rps") or 0
    signed_in = first.get("ceiling_session", {}).get("rps") or 0
    ceiling_last = (last or {}).get("ceiling", {}).get("rps") or 0
    rows, verdicts = [], []
    for key, meta in results["scenarios"].items():
        run = first[key]
        ratio = run["rps"] / ceiling if ceiling else 0
        target = meta["target"]
        checks, wanted = [], []
        if "ratio" in target:
            checks.append(ratio >= target["ratio"])
            wanted.append(f"≥ {target['ratio']:.0%} of ceiling")
        if "p99_ms" in target:
            checks.append(run["p99_ms"] < target["p99_ms"])
            wanted.append(f"p99 < {target['p99_ms']} ms")
        ok = all(checks) if checks else None
        verdicts.append((meta["title"], ok))
        row = [
            meta["title"],
            f"{run['rps']:.0f}",
            _ms(run["p50_ms"]),
            _ms(run["p99_ms"]),
            "1.00" if key == "ceiling" else f"{ratio:.2f}",
            f"{run['rps'] / signed_in:.2f}" if signed_in else "—",
            results["queries"].get(key, "—"),
            ", ".join(wanted) or "—",
            report.verdict(ok),
        ]
        if last is not None:
            again = last[key]
            again_ratio = again["rps"] / ceiling_last if ceiling_last else 0
            row += [f"{again['rps']:.0f}", _ms(again["p99_ms"]), f"{again_ratio:.2f}"]
        rows.append(row)
    return rows, verdicts


def write(profile: Profile, ids, results: dict, out: Path | None) -> Path:
    stamp = datetime.fromisoformat(results["started"]).strftime("%Y-%m-%d-%H%M")
    directory = profile.results_dir
    directory.mkdir(parents=True, exist_ok=True)
    path = out or directory / f"{stamp}-{profile.name}.md"
    results["machine"] = report.machine()
    results["dataset"] = report.dataset_counts(ids)
    path.write_text(render(profile, results))
    path.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    return path


def render(profile: Profile, results: dict) -> str:
    out = [f"# Bench results, {results['started']} ({profile.name} profile)", ""]
    out.append(
        f"`python -m bench.run{' --smoke' if profile.name == 'smoke' else ''}`: "
        f"{profile.duration} s per scenario at {profile.connections} connections "
        f"(wrk -t {profile.threads} -c {profile.connections}), after "
        + (f"{profile.warmup} s of warm-up" if profile.warmup else "one warm-up request")
        + f"; gunicorn with {profile.web_workers} sync workers (gunicorn.conf.py), a Celery "
        f"worker with {profile.worker_processes} processes, wrk and PostgreSQL on the same "
        f"machine. Run took {results['total_seconds'] / 60:.1f} min "
        f"(data set ready after {results['setup_seconds']:.0f} s)."
    )
    out += ["", "## Machine", ""]
    out.append(report.table(["", ""], [[k, v] for k, v in results["machine"].items()]))
    before = ", ".join(f"{x:.2f}" for x in results["load_before"])
    after = ", ".join(f"{x:.2f}" for x in results["load_after"])
    out += ["", f"Load average before the run: {before}; after: {after} (`{results['uptime']}`)."]
    out += ["", "## Data set", ""]
    counts = [[k, f"{v:,}"] for k, v in results["dataset"].items()]
    out.append(report.table(["rows", "count"], counts))

    rows, verdicts = scenario_rows(results)
    rounds = results.get("rounds", [])
    out += ["", "## Pages under load", ""]
    headers = [
        "Scenario",
        "req/s",
        "p50 ms",
        "p99 ms",
        "ratio to ceiling",
        "ratio to signed-in ceiling",
        "queries/request",
        "target",
        "result",
    ]
    if len(rounds) > 1:
        headers += ["2nd run req/s", "2nd run p99 ms", "2nd run ratio"]
    out.append(report.table(headers, rows))
    out.append("")
    out.append(
        "Targets are judged on the first run; the second run is the same load again, for the "
        "memory check below."
    )

    queries = results.get("queries", {})
    const_rows = []
    for small, big, title, small_label, big_label in PAIRS:
        if small in queries and big in queries:
            ok = queries[small] == queries[big]
            verdicts.append((f"queries constant: {title}", ok))
            const_rows.append(
                [
                    title,
                    f"{queries[small]} ({small_label})",
                    f"{queries[big]} ({big_label})",
                    report.verdict(ok),
                ]
            )
    out += ["", "## SQL queries per request, small against large data", ""]
    out.append(report.table(["Page", "small", "large", "constant"], const_rows))
    app_time = results.get("app_time", {})
    if app_time:
        out += ["", "## The application's own time per request", ""]
        out.append(
            "Measured in the driver with Django's test client (same session, database and "
            "middleware; no HTTP server, no queue), mean of the measured requests. What a "
            "page costs here bounds its requests/s under load: 2 workers on 2 cores, shared "
            "with PostgreSQL and wrk."
        )
        out.append("")
        time_rows = [
            [key, queries.get(key, "—"), _ms(t["wall_ms"]), _ms(t["cpu_ms"]), _ms(t["sql_ms"])]
            for key, t in app_time.items()
        ]
        out.append(
            report.table(["request", "queries", "wall ms", "Python CPU ms", "SQL ms"], time_rows)
        )

    if rounds:
        out += ["", "## Memory of the gunicorn workers (resident, MiB)", ""]
        start = results.get("rss_start", {})
        first = rounds[0]["rss"]
        last = rounds[-1]["rss"]
        mem_rows = []
        max_rss = max(last.values()) if last else 0
        growth_ok = True
        for pid in sorted(set(first) | set(last), key=int):
            growth = last.get(pid, 0) - first.get(pid, 0)
            ok = pid in first and pid in last and growth <= GROWTH_LIMIT_MIB
            growth_ok = growth_ok and ok
            mem_rows.append(
                [
                    pid,
                    _ms(start.get(pid, 0)),
                    _ms(first.get(pid, 0)),
                    _ms(last.get(pid, 0)),
                    f"{growth:+.1f}",
                    report.verdict(ok),
                ]
            )
        out.append(
            report.table(
                [
                    "worker pid",
                    "at start",
                    "after run 1",
                    f"after run {len(rounds)}",
                    "growth",
                    f"growth ≤ {GROWTH_LIMIT_MIB:g} MiB",
                ],
                mem_rows,
            )
        )
        rss_ok = max_rss <= RSS_LIMIT_MIB
        verdicts.append((f"every worker ≤ {RSS_LIMIT_MIB} MB", rss_ok))
        verdicts.append(("no growth between runs", growth_ok))
        out += [
            "",
            f"Largest worker after the run: {max_rss:.1f} MiB "
            f"(target ≤ {RSS_LIMIT_MIB}): {report.verdict(rss_ok)}.",
        ]

    jobs_rows = []
    if "expiry" in results:
        e = results["expiry"]
        ok = e["seconds"] < EXPIRY_LIMIT_S and e["statements"] == 1
        verdicts.append(("code expiry", ok))
        jobs_rows.append(
            [
                f"Code expiry (`accesscodes.expire`) on {e['codes']:,} due codes",
                f"{e['seconds']:.2f} s, {e['statements']} statement(s), {e['expired']:,} expired",
                f"< {EXPIRY_LIMIT_S} s, 1 statement",
                report.verdict(ok),
            ]
        )
    if "fanout" in results:
        f = results["fanout"]
        ok = f["delivered_seconds"] < FANOUT_LIMIT_S and f["sent"] == f["emails"]
        verdicts.append(("invitation fan-out", ok))
        jobs_rows.append(
            [
                f"Invitation fan-out, {f['emails']:,} emails, 2 worker processes",
                f"all delivered after {f['delivered_seconds']:.1f} s (created and queued in "
                f"{f['queued_seconds']:.1f} s; {f['sent']} sent, {f['failed']} failed, the sink "
                f"received {f['sink_received']})",
                f"< {FANOUT_LIMIT_S} s",
                report.verdict(ok),
            ]
        )
    for inv in results.get("invite", {}).values():
        judged = inv["smtp_delay"] > 0 and inv["connections"] == 1
        ok = inv["p99_ms"] < 50 if judged else None
        if ok is not None:
            verdicts.append(("invite POST while SMTP is slow", ok))
        jobs_rows.append(
            [
                f"Invite POST, SMTP answering in {inv['smtp_delay']:g} s per message, "
                f"{inv['connections']} connection(s)",
                f"{inv['requests']} posts: p50 {inv['p50_ms']:.1f} ms, "
                f"p99 {inv['p99_ms']:.1f} ms; {inv['queued_after']} emails waiting in the "
                "queue after",
                "p99 < 50 ms" if judged else "(for comparison)",
                report.verdict(ok),
            ]
        )
    if jobs_rows:
        out += ["", "## Background work", ""]
        out.append(report.table(["Measurement", "value", "target", "result"], jobs_rows))
    if "expiry" in results:
        out += ["", "Plan of the expiry statement:", "", "```", results["expiry"]["plan"], "```"]

    misses = [name for name, ok in verdicts if ok is False]
    out += ["", "## Summary", ""]
    out.append("All targets met." if not misses else "Missed: " + "; ".join(misses) + ".")
    if results["failures"]:
        out += ["", "**Errors (the numbers above cannot be trusted):**", ""]
        out += [f"- {failure}" for failure in results["failures"]]
    out.append("")
    return "\n".join(out)


def summary(results: dict) -> str:
    rows, _ = scenario_rows(results)
    lines = [
        f"{'scenario':44} {'req/s':>7} {'p50':>7} {'p99':>7} {'ratio':>6} {'signed':>6} "
        f"{'queries':>7}  result"
    ]
    for row in rows:
        lines.append(
            f"{row[0][:44]:44} {row[1]:>7} {row[2]:>7} {row[3]:>7} {row[4]:>6} {row[5]:>6} "
            f"{row[6]!s:>7}  {row[8]}"
        )
    if results.get("rounds"):
        rss = results["rounds"][-1]["rss"]
        lines.append(
            "gunicorn workers RSS after the run: "
            + ", ".join(f"{mib:.1f} MiB" for mib in rss.values())
        )
    return "\n".join(lines)
