"""`make bench`: seed a private copy of Paystatus with thousands of sources behind a slow sandbox,
run a real poll cycle, time the pages, the detection latency and the retention, and print one
table (also written to bench/results/latest.md).

    .venv/bin/python bench/run.py            # the full run (about 11 minutes on 2 cores)
    .venv/bin/python bench/run.py --quick    # a small trial (about 2.5 minutes)
    .venv/bin/python bench/run.py --postgres --output bench/results/postgres.md
    .venv/bin/python bench/run.py --only cycle --sites 2000 --workers 1
    .venv/bin/python bench/run.py --scale 50000 --output bench/results/scale-50000.md

Everything runs in a temporary directory with its own SQLite file (or `--postgres`), Redis port,
sandbox, worker(s) and beat; every process is stopped by pid at the end, also on Ctrl-C.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # `python bench/run.py` puts bench/ first, not the project

from bench import config  # noqa: E402
from bench.processes import interrupt_on_signals  # noqa: E402
from bench.report import Report  # noqa: E402
from bench.stack import Stack  # noqa: E402
from scripts.launcher import StartupError  # noqa: E402


def failed(report: Report) -> int:
    """Show what was measured before the failure; leave the committed results alone."""
    if report.rows:
        print("\nIncomplete (not written to the results file):\n\n" + report.render(), file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    scale, args = config.parse(argv)
    phases = set(args.only or (config.SCALE_PHASES if scale.scale_run else config.PHASES))
    output = Path(args.output) if args.output else ROOT / "bench" / "results" / "latest.md"
    workdir = Path(tempfile.mkdtemp(prefix="paystatus-bench-"))
    interrupt_on_signals()
    report = Report(scale=scale)
    cluster = None
    stack = None
    started = time.monotonic()
    try:
        database_url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
        if args.postgres:
            from bench.postgres import Cluster

            cluster = Cluster(workdir / "postgres")
            cluster.start()
            database_url = cluster.create_database("bench")
        stack = Stack(workdir, database_url, overrides=config.overrides(args.set))
        stack.env["POLL_CONCURRENCY"] = str(scale.concurrency)  # every process, as `make run` sets it
        os.environ.update(stack.env)
        from bench import phases as run_phases

        run_phases.run_all(stack, scale, phases, report, cluster=cluster)
    except KeyboardInterrupt:
        print("\nInterrupted: stopping every process the bench started.", file=sys.stderr)
        return 130
    except StartupError as error:
        print(f"\nA process failed: {error}", file=sys.stderr)
        return failed(report)
    except Exception:
        traceback.print_exc()
        return failed(report)
    finally:
        if stack is not None:
            stack.stop()
        if cluster is not None:
            cluster.stop()
        if args.keep:
            print(f"Kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    report.elapsed = time.monotonic() - started
    text = report.render()
    print("\n" + text)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    print(f"Written to {output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
