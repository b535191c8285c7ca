#!/usr/bin/env bash
# Make sure the PostgreSQL the tests and the demo use is reachable; start the local cluster
# if it is installed but down. Prints what to do when there is none.
set -u
# The server is $IDENTSYNC_PG (postgresql://user@host:port), as in tools/pgserver.py.
URL="${IDENTSYNC_PG:-postgresql://postgres@127.0.0.1:5432}"
HOSTPORT="${URL##*@}"; HOSTPORT="${HOSTPORT%%/*}"
HOST="${HOSTPORT%%:*}"; PORT="${HOSTPORT##*:}"; [ "$PORT" = "$HOST" ] && PORT=5432
if pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; then exit 0; fi
if command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ]; then
  ver="$(ls /etc/postgresql | head -n1)"
  echo "PostgreSQL at $HOST:$PORT is down; starting cluster $ver/main" >&2
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
  for _ in $(seq 1 30); do pg_isready -q -h "$HOST" -p "$PORT" && exit 0; sleep 1; done
fi
if ! pg_isready -q -h "$HOST" -p "$PORT" 2>/dev/null; then
  echo "No PostgreSQL at $HOST:$PORT. Install one (Debian: apt-get install postgresql) or set" >&2
  echo "IDENTSYNC_PG (postgresql://user@host:port) at a server you have, then run the command again." >&2
  exit 1
fi
