#!/usr/bin/env bash
# Load run: a full 住民記録 file of N residents (default 100,000) applied with
# `madoguchi link import`, on SQLite and on PostgreSQL, timed and with the process's peak
# memory (GNU time's maximum resident set size). Prints a Markdown report.
#
#   cargo build --release --bin madoguchi && benches/link-import.sh [N]
#
# MADOGUCHI_BIN picks the binary (default target/release/madoguchi); PG_ADMIN_URL the
# PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres), where a database
# madoguchi_link_bench is made afresh.
set -euo pipefail
n="${1:-100000}"
root=$(cd "$(dirname "$0")/.." && pwd)
bin="${MADOGUCHI_BIN:-$root/target/release/madoguchi}"
admin="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 700 "$work"
export MADOGUCHI_LOG__LEVEL=error

"$bin" --data-dir "$work/gen" link sample "$work/full.csv" --residents "$n" >/dev/null
bytes=$(stat -c %s "$work/full.csv")

measure() { # label, then the environment for the database
  local label=$1
  local data="$work/$label"
  mkdir -p -m 700 "$data"
  env "${@:2}" "$bin" --data-dir "$data" migrate >/dev/null
  env "${@:2}" "$bin" --data-dir "$data" municipalities create --lg-code 012084 --name 北見市 >/dev/null
  env "${@:2}" /usr/bin/time -f '%e %M' -o "$data/time" \
    "$bin" --data-dir "$data" link import "$work/full.csv" --lg-code 012084 --kind full \
    >"$data/out" 2>"$data/err"
  read -r seconds kib <"$data/time"
  local rate
  rate=$(awk -v n="$n" -v s="$seconds" 'BEGIN { printf "%d", n / s }')
  printf '| %s | %s | %s | %d | %s |\n' "$label" "$n" "$seconds" "$((kib / 1024))" "$rate"
}

echo "# Directory import: a full file of $n residents"
echo
echo "$(nproc) cores; file $((bytes / 1024 / 1024)) MiB (\`madoguchi link sample\`); \`madoguchi link import --kind full\`, release build; both passes (check, then apply in one transaction)."
echo
echo "| database | residents | seconds | peak memory MiB | residents/s |"
echo "|---|---|---|---|---|"
measure sqlite
PGOPTIONS="-c client_min_messages=warning" psql -q "$admin" -c "DROP DATABASE IF EXISTS madoguchi_link_bench" -c "CREATE DATABASE madoguchi_link_bench" >/dev/null
measure postgresql DATABASE_URL="${admin%/*}/madoguchi_link_bench"
