#!/usr/bin/env bash
# Starts a PgBouncer in transaction pooling mode in front of the PostgreSQL at
# PG_HOST:PG_PORT (default 127.0.0.1:5432), for every database and user there, and prints
# the port it listens on (127.0.0.1, a free one). Its configuration, log and pid file go
# into DIR (created; default a fresh directory under var/ci); stop it with
# `kill "$(cat DIR/pgbouncer.pid)"`. PgBouncer refuses to run as root, so under root it
# runs as postgres. Trust authentication: for CI, on the loopback interface only.
set -euo pipefail

dir=${1:-$(mkdir -p var/ci && mktemp -d var/ci/pgbouncer.XXXXXX)}
mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cat >"$dir/pgbouncer.ini" <<EOF
[databases]
* = host=${PG_HOST:-127.0.0.1} port=${PG_PORT:-5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 200
default_pool_size = 20
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
echo '"postgres" ""' >"$dir/userlist.txt"
rm -f "$dir/pgbouncer.pid"

run=()
if [[ $(id -u) == 0 ]]; then
  chown -R postgres: "$dir"
  run=(runuser -u postgres --)
fi
"${run[@]}" pgbouncer --daemon "$dir/pgbouncer.ini"

for _ in $(seq 1 30); do
  if pg_isready -h 127.0.0.1 -p "$port" -q; then echo "$port"; exit 0; fi
  sleep 0.5
done
echo "PgBouncer did not come up on port $port (see $dir/pgbouncer.log)" >&2
exit 1
