"""`make bench` / `make bench-smoke`: build (or reuse) the data set, start the production stack
on loopback, load it with wrk, measure the background jobs, write the results file.

    python -m bench.run            # full: the issue's data set, 15 s per scenario
    python -m bench.run --smoke    # seconds: every code path, nothing worth comparing
    python -m bench.run --rebuild  # drop and rebuild the data set first

Exit status 1 when a scenario errs (unexpected responses, wrk errors, undelivered emails):
the numbers of such a run mean nothing. A missed target is reported, not an error.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench import config
from bench.config import FULL, SMOKE, Profile


def log(message: str) -> None:
    print(message, flush=True)


# --- the database --------------------------------------------------------------------------
def ensure_database(profile: Profile, rebuild: bool) -> None:
    import psycopg

    url = config.database_url(profile)
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [profile.database]
        ).fetchone()
        if exists and rebuild:
            log(f"dropping database {profile.database} (--rebuild)")
            conn.execute(f'DROP DATABASE "{profile.database}" WITH (FORCE)')
            exists = None
        if not exists:
            log(f"creating database {profile.database}")
            conn.execute(f'CREATE DATABASE "{profile.database}"')


def flush_redis(profile: Profile) -> None:
    import redis

    redis.Redis.from_url(config.redis_url(profile)).flushdb()


# --- scenarios -----------------------------------------------------------------------------
def scenarios(fx, files: dict[str, Path]) -> list:
    from bench.loadgen import Scenario

    admin, patient, redeemer = fx["big_admin"], fx["three_clinics"], fx["redeemer"]
    return [
        Scenario("ceiling", 'Ceiling: GET /healthz ("ok", full middleware)', "/healthz"),
        # The same view with a signed-in clinic user's session: the middleware then loads the
        # session, the user and the second factor as for every page below. Not a target; it
        # shows how much of a page is the page (bench/README.md).
        Scenario(
            "ceiling_session",
            "Ceiling, signed in: GET /healthz with the admin's session",
            "/healthz",
            cookie=admin.cookie,
        ),
        Scenario(
            "team",
            "Practitioners and Staff tab, big office",
            "/office/team/",
            cookie=admin.cookie,
            target={"p99_ms": 100},
        ),
        Scenario("patients", "Patients page, big office", "/patients/", cookie=admin.cookie),
        Scenario(
            "patient",
            "Patient page",
            "/patients/",
            cookie=admin.cookie,
            paths_file=files["patients"],
            target={"ratio": 0.40, "p99_ms": 50},
        ),
        Scenario(
            "dashboard",
            "Portal dashboard, three clinics",
            "/portal/dashboard/",
            cookie=patient.cookie,
            target={"ratio": 0.40, "p99_ms": 50},
        ),
        Scenario(
            "link",
            "Invitation link (remembers it, redirects)",
            "/",
            paths_file=files["links"],
            expect=302,
            expect_location="/invitation/",
            target={"ratio": 0.40, "p99_ms": 50},
        ),
        Scenario(
            "landing",
            "Invitation landing page",
            "/invitation/",
            sessions_file=files["opened"],
            target={"ratio": 0.40, "p99_ms": 50},
        ),
        Scenario(
            "redeem",
            '"+Access Code" redemption POST',
            "/portal/access-code/",
            method="POST",
            expect=302,
            expect_location="/portal/dashboard/",
            cookie=redeemer.cookie,
            csrf=redeemer.csrf,
            bodies_file=files["codes"],
            target={"ratio": 0.30},
        ),
    ]


def invite_scenario(sessions_file: Path, tag: str, per_session: int, sessions_per_thread: int):
    from bench.loadgen import Scenario

    return Scenario(
        "invite",
        "Invite POST",
        "/office/invitations/new/staff/",
        method="POST",
        expect=302,
        expect_location="/office/team/",
        sessions_file=sessions_file,
        invite_tag=tag,
        max_per_thread=per_session * sessions_per_thread,
        posts_per_session=per_session,
        target={"p99_ms": 50},
    )


def quick_warmup(base: str, scenario) -> None:
    """Smoke runs: one request of each GET scenario instead of seconds of load (POSTs warm up
    in the query count). Its status is checked by the measured run that follows."""
    import http.client
    from urllib.parse import urlsplit

    if scenario.method != "GET":
        return
    path = scenario.path
    if scenario.paths_file:
        path = scenario.paths_file.read_text().split()[0]
    cookie = scenario.cookie
    if scenario.sessions_file:
        cookie = scenario.sessions_file.read_text().split("\t")[0]
    url = urlsplit(base)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        conn.getresponse().read()
    finally:
        conn.close()


# --- the run -------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny data set, ~1 s per scenario")
    parser.add_argument("--rebuild", action="store_true", help="drop and rebuild the data set")
    parser.add_argument("--duration", type=int, help="seconds per scenario")
    parser.add_argument("--rounds", type=int, help="times the whole load is run (memory growth)")
    parser.add_argument("--only", help="comma-separated scenario keys (a partial run)")
    parser.add_argument("--skip-jobs", action="store_true", help="no expiry/fan-out/invite")
    parser.add_argument(
        "--profile", metavar="SCENARIO", help="py-spy flame graph of one worker in SCENARIO"
    )
    parser.add_argument("--out", type=Path, help="results file (default: dated, in results/)")
    parser.add_argument("--web-workers", type=int, help="gunicorn workers (default: the profile's)")
    args = parser.parse_args(argv)

    profile = SMOKE if args.smoke else FULL
    overrides = {}
    if args.duration:
        overrides["duration"] = args.duration
    if args.rounds:
        overrides["rounds"] = args.rounds
    if args.web_workers:
        overrides["web_workers"] = args.web_workers
    profile = dataclasses.replace(profile, **overrides)

    from bench import loadgen

    if not loadgen.wrk_available():
        log("wrk is not installed: apt-get install -y wrk (make bench installs it)")
        return 2
    from bench.stack import free_ports

    port, smtp_port = free_ports(profile.port, 2)
    env = config.app_environment(profile, port=port, smtp_port=smtp_port)
    os.environ.update(env)
    var = config.var_dir(profile)
    var.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    load_before = os.getloadavg()
    log(
        f"bench ({profile.name}): database {profile.database}, redis db {profile.redis_db}, "
        f"web on 127.0.0.1:{port}, SMTP sink on {smtp_port}; load average {load_before}"
    )

    ensure_database(profile, args.rebuild)
    import django

    django.setup()
    import logging

    # The driver's own requests (query counts) would print a log line each.
    logging.getLogger("outsmart.request").setLevel(logging.WARNING)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    flush_redis(profile)

    from bench import dataset

    data = dataset.marker()
    if data is not None and data["shape"] != profile.shape.as_dict():
        log("the data set has another shape: rebuilding it")
        from django.db import connections

        connections.close_all()
        ensure_database(profile, rebuild=True)
        call_command("migrate", verbosity=0)
        data = None
    if data is None:
        log("building the data set")
        ids = dataset.build(profile.shape, log)
    else:
        log("reusing the data set (python -m bench.run --rebuild to build it again)")
        ids = dataset.ids_from_marker(data)
    setup_seconds = time.monotonic() - started

    call_command("collectstatic", interactive=False, verbosity=0)
    from bench.stack import Stack

    stack = Stack(
        env=env,
        var=var,
        port=port,
        smtp_port=smtp_port,
        web_workers=profile.web_workers,
        worker_processes=profile.worker_processes,
    )
    results: dict = {
        "profile": profile.name,
        "started": datetime.now().isoformat(timespec="seconds"),
        "load_before": load_before,
        "setup_seconds": setup_seconds,
        "failures": [],
    }
    try:
        stack.start_sink()
        stack.start_worker()
        stack.start_web()
        log(f"stack up: gunicorn {stack.web().pid} (workers {stack.web_worker_pids(stack.web())})")
        measure(profile, stack, ids, var, args, results)
    finally:
        stack.stop()
    if not args.skip_jobs and not args.only:
        from bench import jobs

        log("code expiry")
        expiry = jobs.code_expiry(ids, profile.expiry_codes, log)
        results["expiry"] = dataclasses.asdict(expiry)
        log(
            f"  {expiry.expired} codes expired in {expiry.seconds:.2f} s, "
            f"{expiry.statements} statement(s)"
        )
    results["load_after"] = os.getloadavg()
    results["uptime"] = subprocess.run(
        ["uptime"],  # noqa: S607 - the system's own
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    results["total_seconds"] = time.monotonic() - started

    from bench import results as output

    # Partial or shortened runs are not comparable: they stay out of bench/results/.
    partial = bool(args.only or args.skip_jobs or args.duration or args.rounds or args.web_workers)
    out = args.out or (var / "partial-results.md" if partial else None)
    path = output.write(profile, ids, results, out)
    log(f"\nresults: {path}")
    print(output.summary(results), flush=True)
    if results["failures"]:
        log("\nFAILED: " + "\n  ".join(results["failures"]))
        return 1
    return 0


def measure(profile: Profile, stack, ids, var: Path, args, results: dict) -> None:
    from bench import fixtures, jobs, loadgen, queries

    fixtures.cleanup_previous(ids)
    sessions = {
        "big_admin": fixtures.session_for(ids.big_admin, two_factor=True),
        "small_admin": fixtures.session_for(ids.small_admin, two_factor=True),
        "three_clinics": fixtures.session_for(ids.three_clinics, two_factor=False),
        "one_clinic": fixtures.session_for(ids.one_clinic, two_factor=False),
        "redeemer": fixtures.session_for(ids.redeemer, two_factor=False),
    }
    files = {
        "patients": var / "patient-paths.txt",
        "links": var / "invitation-links.txt",
        "opened": var / "invitation-sessions.txt",
        "codes": var / "redeem-codes.txt",
        "warmup_codes": var / "redeem-codes-warmup.txt",
    }
    files["patients"].write_text("\n".join(fixtures.patient_paths(ids)) + "\n")
    files["links"].write_text("\n".join(fixtures.landing_paths(ids)) + "\n")
    opened = fixtures.invitation_opened_sessions(ids, max(profile.threads, 2))
    files["opened"].write_text("".join(f"{s.cookie}\t{s.csrf}\n" for s in opened))
    tag = fixtures.run_tag()
    wanted = set(args.only.split(",")) if args.only else None
    plan = [s for s in scenarios(sessions, files) if wanted is None or s.key in wanted]
    if wanted:  # both ceilings, for the ratios
        ceilings = [s for s in scenarios(sessions, files) if s.key.startswith("ceiling")]
        plan = ceilings + [s for s in plan if not s.key.startswith("ceiling")]

    # --- SQL queries per request ---------------------------------------------------------
    log("counting queries per request")
    fixtures.issue_redemption_codes(ids, 4, files["codes"], batch="q")
    code_bodies = files["codes"].read_text().split()
    small_patient = f"/patients/{ids.patients[ids.small_office][0]}/"
    counts = {
        "ceiling": queries.count(None, "/healthz"),
        "ceiling_session": queries.count(sessions["big_admin"], "/healthz"),
        "team": queries.count(sessions["big_admin"], "/office/team/"),
        "team_small": queries.count(sessions["small_admin"], "/office/team/"),
        "patients": queries.count(sessions["big_admin"], "/patients/"),
        "patients_small": queries.count(sessions["small_admin"], "/patients/"),
        "patient": queries.count(sessions["big_admin"], files["patients"].read_text().split()[0]),
        "patient_small": queries.count(sessions["small_admin"], small_patient),
        "dashboard": queries.count(sessions["three_clinics"], "/portal/dashboard/"),
        "dashboard_small": queries.count(sessions["one_clinic"], "/portal/dashboard/"),
        "link": queries.count(None, files["links"].read_text().split()[0], expect=302),
        "landing": queries.count(opened[0], "/invitation/"),
        "redeem": queries.count(
            sessions["redeemer"],
            "/portal/access-code/",
            method="POST",
            bodies=code_bodies[:4],
            expect=302,
        ),
    }
    query_admins = fixtures.invite_admins(2, tag + "q")
    invite_session = fixtures.session_for(query_admins[0], two_factor=True)
    counts["invite"] = queries.count(
        invite_session,
        "/office/invitations/new/staff/",
        method="POST",
        bodies=[f"email=q{n}-{tag}%40invite.bench.example" for n in range(4)],
        expect=302,
    )
    results["queries"] = {k: v.queries for k, v in counts.items()}
    results["app_time"] = {
        k: {"wall_ms": v.wall_ms, "cpu_ms": v.cpu_ms, "sql_ms": v.sql_ms} for k, v in counts.items()
    }
    results["query_statements"] = {k: v.statements for k, v in counts.items()}
    log("  " + ", ".join(f"{k} {v.queries}" for k, v in counts.items()))
    jobs.wait_quiet(stack)

    # --- the load, in rounds ---------------------------------------------------------------
    results["rss_start"] = stack.web_rss()
    results["rounds"] = []
    for round_no in range(1, profile.rounds + 1):
        fixtures.drop_unused_redemption_codes(ids)
        # Apart for the warm-up: each code can be used once.
        fixtures.issue_redemption_codes(ids, profile.redeem_codes, files["codes"], f"{round_no}")
        if profile.warmup:
            fixtures.issue_redemption_codes(
                ids, profile.redeem_codes // 3, files["warmup_codes"], f"w{round_no}"
            )
        log(f"round {round_no}/{profile.rounds}")
        measured = {}
        for scenario in plan:
            if profile.warmup:
                warm = scenario
                if scenario.bodies_file:
                    warm = dataclasses.replace(scenario, bodies_file=files["warmup_codes"])
                loadgen.run(
                    stack.base,
                    warm,
                    threads=profile.threads,
                    connections=profile.connections,
                    duration=profile.warmup,
                )
            else:
                quick_warmup(stack.base, scenario)
            if scenario.method == "POST":
                jobs.wait_quiet(stack)
            profiler = None
            if args.profile == scenario.key and round_no == 1:
                profiler = start_profiler(stack, var, scenario.key, profile.duration)
            result = loadgen.run(
                stack.base,
                scenario,
                threads=profile.threads,
                connections=profile.connections,
                duration=profile.duration,
            )
            if profiler is not None:
                profiler.wait(60)
            measured[scenario.key] = dataclasses.asdict(result)
            problem = result.failed
            if problem:
                results["failures"].append(f"round {round_no} {scenario.key}: {problem}")
            log(
                f"  {scenario.key:10} {result.rps:8.1f} req/s  p50 {result.p50_ms:6.1f} ms  "
                f"p99 {result.p99_ms:6.1f} ms  {result.requests} requests"
                + (f"  FAILED: {problem}" if problem else "")
            )
            stack.check_alive()
            if scenario.method == "POST":
                # Its emails are sent now, not during the next scenario.
                waited = jobs.wait_quiet(stack)
                log(f"  (waited {waited:.0f} s for the worker to send the queued emails)")
        rss = stack.web_rss()
        log("  gunicorn workers RSS: " + ", ".join(f"{p}: {m:.1f} MiB" for p, m in rss.items()))
        results["rounds"].append({"scenarios": measured, "rss": rss})
    results["scenarios"] = {s.key: {"title": s.title, "target": s.target} for s in plan}
    # The redemptions of this run go now, so the data set is counted (and left) at its shape.
    fixtures.cleanup_previous(ids)
    if args.skip_jobs or args.only:
        return

    # --- invite POST: with the SMTP sink answering at once, then slowly -------------------
    # One admin posting (what the target is about: does the admin wait for the mail server?),
    # then eight at once (the same, with queueing in front of the two web workers).
    results["invite"] = {}
    for phase, delay in (("fast", 0.0), ("slow", profile.slow_smtp_delay)):
        jobs.wait_quiet(stack)
        stack.set_smtp_delay(delay)
        for connections in (1, profile.invite_threads):
            key = f"{phase}-{connections}"
            result, queued = invite_run(
                profile, stack, var, f"{tag}{phase[0]}{connections}", connections
            )
            results["invite"][key] = {
                **dataclasses.asdict(result),
                "smtp_delay": delay,
                "connections": connections,
                "queued_after": queued,
            }
            if result.failed:
                results["failures"].append(f"invite POST ({key}): {result.failed}")
            log(
                f"invite POST, SMTP {delay:g} s/message, {connections} connection(s): "
                f"{result.requests} posts, p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, "
                f"{queued} emails waiting in the queue after"
            )
        if phase == "fast":
            # --- the fan-out, while the sink is fast ---
            waited = jobs.wait_quiet(stack)
            log(f"invitation fan-out: {profile.fanout_emails} emails (waited {waited:.0f} s idle)")
            fanout = jobs.invitation_fanout(
                stack, ids, profile.fanout_emails, tag, timeout=max(120, profile.duration * 8)
            )
            results["fanout"] = dataclasses.asdict(fanout)
            log(
                f"  queued in {fanout.queued_seconds:.1f} s, all delivered after "
                f"{fanout.delivered_seconds:.1f} s ({fanout.sent} sent, {fanout.failed} failed, "
                f"sink got {fanout.sink_received})"
            )
            if fanout.sent != fanout.emails:
                results["failures"].append(f"fan-out: {fanout.sent} of {fanout.emails} emails sent")
    stack.set_smtp_delay(0)
    fixtures.cleanup_previous(ids)


def invite_run(profile: Profile, stack, var: Path, tag: str, connections: int):
    """Admins of fresh offices post the invitation form on `connections` connections, each
    admin `invite_posts_per_thread` times (with a new address each time); on one connection,
    five admins one after the other, for more samples."""
    from bench import fixtures, jobs, loadgen

    sessions_per_thread = 5 if connections == 1 else 1
    lines = []
    for admin_id in fixtures.invite_admins(connections * sessions_per_thread, tag):
        session = fixtures.session_for(admin_id, two_factor=True)
        lines.append(f"{session.cookie}\t{session.csrf}")
    sessions_file = var / f"invite-sessions-{tag}.txt"
    sessions_file.write_text("\n".join(lines) + "\n")
    scenario = invite_scenario(
        sessions_file, tag, profile.invite_posts_per_thread, sessions_per_thread
    )
    result = loadgen.run(
        stack.base,
        scenario,
        threads=connections,
        connections=connections,
        duration=max(2, profile.duration // 3),
    )
    return result, jobs.queue_length()


def start_profiler(stack, var: Path, key: str, duration: int):
    """py-spy on the first gunicorn worker for the measured part of one scenario."""
    import shutil

    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    pid = stack.web_worker_pids(stack.web())[0]
    out = var / f"profile-{key}.svg"
    log(f"  profiling worker {pid} with py-spy -> {out}")
    return subprocess.Popen(  # noqa: S603
        [py_spy, "record", "-p", str(pid), "-d", str(duration), "-o", str(out), "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


if __name__ == "__main__":
    sys.exit(main())
