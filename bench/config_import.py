"""Time and memory of importing a large configuration file (5,000 websites by default), in a
throwaway SQLite database: the first import (adds them all), a second one (nothing to change),
and the peak Python memory of a dry run (tracemalloc, measured apart since it slows the run).

    .venv/bin/python bench/config_import.py [--sites 5000]

Not part of `make bench`: it needs no sandbox, worker or Redis, and takes a few seconds.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=5_000)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="paystatus-config-bench-"))
    os.environ.update(
        PAYSTATUS_SKIP_DOTENV="true",
        DJANGO_SETTINGS_MODULE="dashboard.settings",
        DATABASE_URL=f"sqlite:///{workdir / 'bench.sqlite3'}",
        SECRET_KEY=secrets.token_urlsafe(50),
        FIELD_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
    )
    import django

    django.setup()
    from django.core.management import call_command

    from integrations_app.config import yamlio
    from integrations_app.config.service import import_config
    from integrations_app.models import DataFastAccount, DataFastSite

    call_command("migrate", verbosity=0)
    account = DataFastAccount(name="Bench")
    account.set_secret("dft_" + "b" * 40)
    account.save()
    document = {
        "version": 1,
        "projects": [{"name": f"Client {number}", "time_zone": "UTC", "members": []} for number in range(50)],
        "websites": [
            {
                "website_id": f"{number:024x}",
                "name": f"Website {number}",
                "account": "Bench",
                "project": f"Client {number % 50}",
            }
            for number in range(args.sites)
        ],
    }
    text = yamlio.dump(document)
    rows = []
    for label, dry_run in (("first import (adds every row)", False), ("second import (nothing to change)", False)):
        started, cpu = time.perf_counter(), time.process_time()
        report = import_config(text, dry_run=dry_run)
        rows.append((label, time.perf_counter() - started, time.process_time() - cpu, report.summary()))
        assert not report.errors, report.errors[:3]
    assert DataFastSite.objects.count() == args.sites
    DataFastSite.objects.all().delete()
    tracemalloc.start()
    report = import_config(text, dry_run=True)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"File: {args.sites:,} websites, {len(text.encode()) / 1_000_000:.2f} MB")
    for label, seconds, cpu_seconds, summary in rows:
        print(f"{label}: {seconds:.2f} s, {cpu_seconds:.2f} s of CPU ({summary})")
    print(f"load average during the run: {os.getloadavg()[0]:.1f} (the numbers are only as good as a quiet machine)")
    print(f"dry run, peak Python memory (tracemalloc): {peak / 1_000_000:.0f} MB; process peak RSS {max_rss:.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
