#!/usr/bin/env bash
# Make sure the Redis the Celery tests use as broker (tests/e2e/test_celery.py) is reachable;
# on this machine, start it when down (and install Debian's redis-server first when missing
# and root). Prints what to do when it cannot.
set -u
# The server is $IDENTSYNC_REDIS (redis://host:port), as in tools/airflow_stack/settings.py.
URL="${IDENTSYNC_REDIS:-redis://127.0.0.1:6379}"
HOSTPORT="${URL#*://}"; HOSTPORT="${HOSTPORT##*@}"; HOSTPORT="${HOSTPORT%%/*}"
HOST="${HOSTPORT%%:*}"; PORT="${HOSTPORT##*:}"; [ "$PORT" = "$HOST" ] && PORT=6379
# PING over bash's /dev/tcp: redis-cli need not be installed for the check.
ping_redis() {
  local reply
  { exec 3<>"/dev/tcp/$HOST/$PORT"; } 2>/dev/null || return 1
  printf 'PING\r\n' >&3
  read -r -t 2 reply <&3 || reply=""
  exec 3<&- 3>&-
  [[ "$reply" == "+PONG"* ]]
}
ping_redis && exit 0
case "$HOST" in
  127.0.0.1|localhost|::1) ;;
  *) echo "No Redis at $HOST:$PORT (IDENTSYNC_REDIS=$URL): start it there, or unset" \
          "IDENTSYNC_REDIS to use a local one, then run the command again." >&2
     exit 1 ;;
esac
"$(dirname "$0")/ensure_apt.sh" redis-server redis-server "the Celery broker of tests/e2e/test_celery.py" || exit 1
# A test server: no persistence. Root uses Debian's folders; anyone else a private one.
dir=/var/lib/redis; logfile=/var/log/redis/ci.log
if ! { mkdir -p "$dir" /var/log/redis && [ -w "$dir" ] && [ -w /var/log/redis ]; } 2>/dev/null; then
  dir="${TMPDIR:-/tmp}/identsync-redis-$(id -u)"; mkdir -p "$dir"; logfile="$dir/redis.log"
fi
echo "Redis at $HOST:$PORT is down; starting redis-server (log $logfile)" >&2
redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$PORT" --save "" --appendonly no \
  --dir "$dir" --logfile "$logfile" >/dev/null
for _ in $(seq 1 50); do ping_redis && exit 0; sleep 0.2; done
echo "ERROR: redis-server did not answer on $HOST:$PORT within 10 s; see $logfile" >&2
exit 1
