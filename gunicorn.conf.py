"""How gunicorn serves Perkline. `gunicorn config.wsgi:application` reads this file from
the working directory (docs/operations.md), and so do the benchmarks, which serve the app
as production does (bench/support/server.py).

Each worker's threads keep the proxy's connections alive and overlap the waits on
PostgreSQL and Redis; the processes use the cores. Other counts and switch intervals were
measured and did no better (docs/performance.md).
"""

import os

# A worker a core and one more, as the benchmarks measure (3 on 2 cores); WEB_CONCURRENCY
# sets another count.
workers = int(os.environ.get("WEB_CONCURRENCY", (os.cpu_count() or 1) + 1))
worker_class = "gthread"
threads = 4
keepalive = 60
# Access lines (with --access-logfile) mask voucher codes and drop credentials.
logger_class = "loyalty.core.accesslog.MaskedAccessLogger"
