#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests: `start DIR PORT` creates one in DIR (initdb, trust
# authentication, listening only on 127.0.0.1:PORT) and prints its URL; `restart DIR` cuts every
# connection and starts it again; `stop DIR` stops it.
# The binaries come from Debian's `postgresql` package (/usr/lib/postgresql/*/bin).
set -euo pipefail

bin=""
for dir in /usr/lib/postgresql/*/bin; do
  if [ -x "$dir/initdb" ]; then bin="$dir"; fi
done
if [ -z "$bin" ]; then
  if command -v initdb >/dev/null 2>&1; then bin="$(dirname "$(command -v initdb)")"; fi
fi
if [ -z "$bin" ]; then
  echo "no PostgreSQL binaries (initdb): install Debian's postgresql package" >&2
  exit 1
fi

# PostgreSQL refuses to run as root: the cluster belongs to the `postgres` user then.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
  start)
    dir="$2"
    port="$3"
    mkdir -p "$dir"
    if [ "$(id -u)" = 0 ]; then chown postgres "$dir"; fi
    as_owner "$bin/initdb" -D "$dir/data" -U arena --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log"
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200" start >/dev/null
    echo "postgres://arena@127.0.0.1:$port/postgres"
    ;;
  stop)
    as_owner "$bin/pg_ctl" -D "$2/data" -m fast stop >/dev/null
    ;;
  restart)
    # Every connection is cut; clients must reconnect.
    as_owner "$bin/pg_ctl" -D "$2/data" -m fast -w restart >/dev/null
    ;;
  *)
    echo "usage: $0 start DIR PORT | restart DIR | stop DIR" >&2
    exit 2
    ;;
esac
