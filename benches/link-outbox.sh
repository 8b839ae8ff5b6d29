#!/usr/bin/env bash
# Load run: N applications (default 50,000) waiting in the outbox on PostgreSQL, delivered by
# one `madoguchi serve` through the `file` connector. The outbox is filled with SQL (what N
# submissions would have written: one application and its delivery each, a 1 KiB form
# document), then the gateway starts; the time is from its start until the last delivery is
# recorded delivered. Prints a Markdown report with the rate and the gateway's peak memory.
#
#   cargo build --release --bin madoguchi && benches/link-outbox.sh [N] [BATCH]
#
# MADOGUCHI_BIN picks the binary (default target/release/madoguchi); PG_ADMIN_URL the
# PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres), where a database
# madoguchi_outbox_bench is made afresh. SETTLE_SECONDS (20) is the pause after `sync` before
# the gateway starts; MADOGUCHI_LOG__LEVEL="warn,madoguchi::link::delivery=debug" logs each
# round's phases; KEEP=1 keeps the work directory.
set -euo pipefail
n="${1:-50000}"
batch="${2:-500}"
root=$(cd "$(dirname "$0")/.." && pwd)
bin="${MADOGUCHI_BIN:-$root/target/release/madoguchi}"
admin="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
db="${admin%/*}/madoguchi_outbox_bench"
work=$(mktemp -d)
trap 'pkill -TERM -P "$server" 2>/dev/null || true; [ -n "${KEEP:-}" ] || rm -rf "$work"' EXIT
server=
chmod 700 "$work"
export MADOGUCHI_LOG__LEVEL=${MADOGUCHI_LOG__LEVEL:-error} MADOGUCHI_DEMO__ENABLED=false DATABASE_URL="$db"

PGOPTIONS="-c client_min_messages=warning" psql -q "$admin" \
  -c "DROP DATABASE IF EXISTS madoguchi_outbox_bench WITH (FORCE)" -c "CREATE DATABASE madoguchi_outbox_bench" >/dev/null
"$bin" --data-dir "$work" migrate >/dev/null
"$bin" --data-dir "$work" municipalities create --lg-code 012084 --name 北見市 >/dev/null
document=$(printf '{"purpose":"勤務先提出","identityDocument":"運転免許証","note":"%s"}' "$(head -c 700 /dev/zero | tr '\0' 'x')")
psql -q "$db" <<SQL
INSERT INTO visits (id, lg_code, status, ticket, catalog_version, household, opened_at, opened_on,
  closed_at, updated_at, opened_by_client, opened_by_staff, revision)
VALUES ('00000000-0000-7000-8000-000000000000', '012084', 'open', NULL, 'bench', '{}', now(),
  '2026-12-03', NULL, now(), NULL, NULL, 0);
INSERT INTO applications (id, visit_id, lg_code, procedure_id, area, member, form, document,
  state, reason, created_at, updated_at)
SELECT gen_random_uuid()::text, '00000000-0000-7000-8000-000000000000', '012084',
  'residentRecordCopy', 'certificates', 'm' || i, 'residentRecordCopy@1',
  '$document', 'submitted', NULL, now(), now()
FROM generate_series(1, $n) AS i;
INSERT INTO deliveries (id, application_id, lg_code, area, connector, line, state, attempts,
  next_attempt_at, lease_owner, lease_until, last_error, created_at, updated_at, delivered_at)
SELECT gen_random_uuid()::text, id, lg_code, area, 'file', 'certificates/bench/' || member,
  'pending', 0, now(), NULL, NULL, NULL, now(), now(), NULL
FROM applications;
ANALYZE;
SQL
cat >"$work/madoguchi.toml" <<TOML
[link.delivery]
batch_size = $batch
poll_interval_ms = 100

[[link.connectors]]
area = "certificates"
kind = "file"
dir = "$work/outbox"
TOML

# Let the disk settle (the previous run's files, the seeding's WAL): back to back, a run
# measures the last one's writeback as much as its own (up to half the rate on this machine).
sync
sleep "${SETTLE_SECONDS:-20}"

delivered() { psql -tA "$db" -c "SELECT count(*) FROM deliveries WHERE state = 'delivered'"; }
start=$(date +%s.%N)
/usr/bin/time -f '%e %M %P' -o "$work/time" \
  "$bin" --config "$work/madoguchi.toml" --data-dir "$work" serve --bind 127.0.0.1:0 >/dev/null 2>"$work/err" &
server=$!
while [ "$(delivered)" -lt "$n" ]; do
  sleep 0.2
  kill -0 "$server" 2>/dev/null || { cat "$work/err"; exit 1; }
done
end=$(date +%s.%N)
pkill -TERM -P "$server"; wait "$server" || true
read -r _ kib cpu < <(tail -n 1 "$work/time")
files=$(find "$work/outbox/012084/certificates" -name '*.json' ! -name 'manifest-*' | wc -l)
manifests=$(find "$work/outbox/012084/certificates" -name 'manifest-*.json' | wc -l)
seconds=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
rate=$(awk -v n="$n" -v s="$seconds" 'BEGIN { printf "%d", n / s }')

echo "# Outbox to the file connector on PostgreSQL"
echo
echo "$(nproc) cores; release build; one gateway process; batch_size $batch; every file and manifest fsynced before the batch is recorded delivered. Time from the gateway's start (migrations checked, worker started) to the last delivery recorded."
echo
echo "| applications | seconds | applications/s | files | manifests | gateway peak memory MiB | gateway CPU |"
echo "|---|---|---|---|---|---|---|"
printf '| %s | %s | %s | %s | %s | %d | %s |\n' "$n" "$seconds" "$rate" "$files" "$manifests" "$((kib / 1024))" "$cpu"
