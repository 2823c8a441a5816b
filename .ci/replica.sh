#!/usr/bin/env bash
# Starts a streaming replica (a hot standby) of the PostgreSQL cluster at PG_HOST:PG_PORT
# (default 127.0.0.1:5432, the CI database's) and prints the port it listens on (127.0.0.1,
# a free one); `.ci/replica.sh --stop DIR` stops it and deletes its copy of the cluster.
#
#   port=$(.ci/replica.sh var/ci/replica)
#
# DIR (emptied first, and a standby already running there stopped, so it can be run again)
# gets the standby's data directory (DIR/data), taken with `pg_basebackup -R -X stream`
# from the running primary, and its log (DIR/postgresql.log), where the standby logs every
# statement it is sent (`log_statement = all`): .ci/smoke.py reads it to see which reads the
# standby served. The server binaries are Debian's for the primary's major version
# (/usr/lib/postgresql/N/bin). Under root, it runs as postgres.
#
# The copy is of the whole cluster (every database on it), as streaming replication is;
# it holds no replication slot, so a standby left behind keeps no WAL on the primary.
#
# The primary must accept a replication connection from 127.0.0.1 for postgres. If it does
# not, this script appends `host replication postgres 127.0.0.1/32 trust` to the primary's
# pg_hba.conf and reloads it (trust: for CI, on the loopback interface only; `all` in a
# pg_hba line does not cover replication). It needs `wal_level` replica or logical and
# `max_wal_senders` above 0, PostgreSQL's defaults, and says so if they are not.
set -euo pipefail

PG_HOST=${PG_HOST:-127.0.0.1} PG_PORT=${PG_PORT:-5432}
WAIT_SECONDS=60

run=()
if [[ $(id -u) == 0 ]]; then run=(runuser -u postgres --); fi

primary() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -XAtq -v ON_ERROR_STOP=1 -c "$1"; }

bin_dir() { echo "/usr/lib/postgresql/$(($(primary 'SHOW server_version_num') / 10000))/bin"; }

# An immediate shutdown: the copy is deleted next, so the restart point a fast one writes
# (seconds of syncing every file of the copy) would be wasted.
stop() {  # stop DIR: the standby in DIR, if one runs there
  if [[ -f $1/data/postmaster.pid ]]; then
    "${run[@]}" "$(bin_dir)/pg_ctl" stop -D "$1/data" -m immediate -s
  fi
}

if [[ ${1:-} == --stop ]]; then
  stop "${2:?usage: $0 --stop DIR}" || true  # a stale pid file: nothing runs there
  rm -rf "$2/data"  # the copy of the whole cluster; the log stays
  exit 0
fi
dir=${1:?usage: $0 DIR}

replication_accepted() {
  psql "host=$PG_HOST port=$PG_PORT user=postgres replication=true" -XAtq -c IDENTIFY_SYSTEM >/dev/null 2>&1
}

# The primary: able to stream, and letting postgres on 127.0.0.1 do it.
if [[ $(primary 'SHOW wal_level') == minimal || $(primary 'SHOW max_wal_senders') == 0 ]]; then
  echo "the primary cannot stream: set wal_level = replica and max_wal_senders > 0, and restart it" >&2
  exit 1
fi
if ! replication_accepted; then
  hba=$(primary 'SHOW hba_file')
  echo "allowing replication from 127.0.0.1 for postgres in $hba" >&2
  if [[ -n $(tail -c 1 "$hba") ]]; then echo >>"$hba"; fi
  cat >>"$hba" <<'EOF'
# Added by Perkline's .ci/replica.sh, for CI's streaming replica:
host replication postgres 127.0.0.1/32 trust
EOF
  primary 'SELECT pg_reload_conf()' >/dev/null
  for _ in $(seq 1 10); do replication_accepted && break; sleep 0.5; done
  replication_accepted || { echo "the primary still refuses replication from 127.0.0.1 (see $hba)" >&2; exit 1; }
fi

mkdir -p "$dir" && dir=$(cd "$dir" && pwd)
stop "$dir" || true
rm -rf "${dir:?}"/* && touch "$dir/postgresql.log" && chmod 0644 "$dir/postgresql.log"
if [[ ${#run[@]} -gt 0 ]]; then chown -R postgres: "$dir"; fi
bin=$(bin_dir)
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# A copy for one run, deleted after it: nothing of it need survive a crash of this machine,
# so neither the copy nor the standby syncs its files: on a busy machine that was most of
# the copy's time (25 s of 0.3 GB against 9 s without).
"${run[@]}" "$bin/pg_basebackup" -h "$PG_HOST" -p "$PG_PORT" -U postgres -D "$dir/data" -R -X stream \
  -c fast --no-sync

# Debian keeps the configuration outside the data directory, so the copy has none: the
# standby's own, with the settings a hot standby must not have below its primary's.
{
  primary "SELECT format('%s = %s', name, setting) FROM pg_settings WHERE name IN ('max_connections',
    'max_worker_processes', 'max_wal_senders', 'max_prepared_transactions', 'max_locks_per_transaction')"
  cat <<'EOF'
hot_standby = on
fsync = off
shared_buffers = 32MB
log_statement = all
log_line_prefix = '%m [%p] %q%u@%d '
EOF
} >"$dir/data/postgresql.conf"
echo 'host all all 127.0.0.1/32 trust' >"$dir/data/pg_hba.conf"
: >"$dir/data/pg_ident.conf"
if [[ ${#run[@]} -gt 0 ]]; then chown postgres: "$dir/data"/pg_{hba,ident}.conf "$dir/data/postgresql.conf"; fi

# No Unix socket: its path would have to fit in 107 bytes wherever DIR is.
"${run[@]}" "$bin/pg_ctl" start -D "$dir/data" -l "$dir/postgresql.log" -w -t "$WAIT_SECONDS" -s \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"

standby() { psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -XAtq -c "$1" 2>/dev/null; }
for _ in $(seq 1 $((WAIT_SECONDS * 2))); do
  if [[ $(standby 'SELECT pg_is_in_recovery()') == t && $(standby 'SELECT status FROM pg_stat_wal_receiver') == streaming ]]; then
    echo "$port"
    exit 0
  fi
  sleep 0.5
done
echo "the standby on port $port is not streaming from the primary (see $dir/postgresql.log)" >&2
stop "$dir" || true
exit 1
