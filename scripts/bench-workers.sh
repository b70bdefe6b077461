#!/usr/bin/env bash
# Stored games/s of one tournament three ways on this machine: one process on SQLite (--threads T),
# and on PostgreSQL with `--workers-only` and 1 worker (T threads) or 2 workers (T/2 threads each).
# Usage: scripts/bench-workers.sh POSTGRES_URL_OF_A_DATABASE_TO_CREATE_IN GAMES_PER_PAIRING GAME AGENTS...
# e.g.   scripts/bench-workers.sh postgres://arena@127.0.0.1:15432/postgres 10000 tic_tac_toe random random
set -euo pipefail
server="$1"; games="$2"; game="$3"; shift 3
arena="${ARENA:-target/release/arena}"
threads="${THREADS:-2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
base="${server%/*}"

fresh() { # a new database on the server; its URL
  psql -q "$server" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" -c "CREATE DATABASE $1" >/dev/null
  echo "$base/$1"
}
speed() { grep -o '[0-9]* games in [0-9.]* s: [0-9]* games/s' "$1"; }

"$arena" tournament --game "$game" --agents "$@" --games-per-pairing "$games" --threads "$threads" \
  --db "$work/one.db" > "$work/sqlite.out"
echo "sqlite, one process, $threads threads: $(speed "$work/sqlite.out")"

for workers in 1 2; do
  url="$(fresh "arena_bench_$workers")"
  "$arena" tournament --game "$game" --agents "$@" --games-per-pairing "$games" --db "$url" --workers-only \
    > "$work/planner.out" 2>/dev/null &
  planner=$!
  # Workers start once the plan is stored (an idle worker with --idle-exit would leave early).
  until [ "$(psql -qtA "$url" -c "SELECT count(*) FROM matches" 2>/dev/null || echo 0)" -gt 0 ]; do sleep 0.2; done
  per=$(( threads / workers )); [ "$per" -ge 1 ] || per=1
  for k in $(seq 1 "$workers"); do
    "$arena" worker --db "$url" --threads "$per" --name "bench$k" --idle-exit 1 --json > "$work/worker$k.out" 2>/dev/null &
  done
  wait "$planner"
  wait
  echo "postgres, $workers worker(s) x $per threads: $(speed "$work/planner.out")"
  for k in $(seq 1 "$workers"); do
    echo "  worker $k: $(cat "$work/worker$k.out")"
  done
done
