#!/usr/bin/env bash
# psql beyond the describe commands tests/psql.rs compares with PostgreSQL: \copy both ways,
# \timing, \x, variables and \gset, and ON_ERROR_STOP on a failing statement.
set -euo pipefail
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
run() {
    psql -X -q -h "${EDDY_HOST:-127.0.0.1}" -p "${EDDY_PORT:-5488}" -U "${EDDY_USER:-eddy}" \
        -d "${EDDY_DB:-eddy}" -v ON_ERROR_STOP=1 "$@"
}
expect() { # expect <what> <got> <want>
    if [ "$2" != "$3" ]; then
        printf 'FAIL %s:\n  got  %s\n  want %s\n' "$1" "$2" "$3"
        exit 1
    fi
}
echo "version psql $(psql --version | awk '{print $3}')"

printf '1,a,1.50\n2,a,2.25\n3,b,\n' > "$work/in.csv"
run -c "CREATE TABLE readings (id int PRIMARY KEY, sensor text NOT NULL, value numeric(10,2))" \
    -c "CREATE MATERIALIZED VIEW per_sensor AS SELECT sensor, count(*) AS n, sum(value) AS total FROM readings GROUP BY sensor"
run -c "\\copy readings FROM '$work/in.csv' WITH (FORMAT csv)"
run -c "\\copy (SELECT sensor, n, total FROM per_sensor ORDER BY sensor) TO '$work/out.csv' WITH (FORMAT csv)"
expect "\\copy out of a materialized view" "$(cat "$work/out.csv")" $'a,2,3.75\nb,1,'
run -c "\\copy readings TO '$work/all.txt'"
expect "\\copy of a table in text format" "$(sort "$work/all.txt")" $'1\ta\t1.50\n2\ta\t2.25\n3\tb\t\\N'
echo "tested \\copy FROM a CSV file and \\copy TO files, in CSV and text formats"

out=$(run -c '\timing on' -c 'SELECT count(*) FROM readings')
grep -q '^Time: [0-9.]* ms' <<<"$out" || { echo "FAIL \\timing: $out"; exit 1; }
echo "tested \\timing"

out=$(run -c '\x on' -c "SELECT id, sensor FROM readings WHERE id = 1")
expect "\\x" "$out" $'-[ RECORD 1 ]\nid     | 1\nsensor | a'
echo "tested \\x (expanded output)"

out=$(printf 'SELECT max(id) AS top FROM readings \\gset\n\\echo :top\n' | run -At)
expect "\\gset" "$out" "3"
out=$(echo "SELECT n FROM per_sensor WHERE sensor = :'s';" | run -At -v s=b)
expect "psql variables" "$out" "1"
echo "tested \\gset and psql variables"

# Following a view: COPY (SUBSCRIBE ...) TO STDOUT streams for as long as psql reads it
# (stdbuf: psql buffers COPY output it writes to a file until the COPY ends, and this one
# does not end).
run -c "CREATE TABLE ticks (id int PRIMARY KEY, v int)" \
    -c "CREATE MATERIALIZED VIEW tick_sum AS SELECT count(*) AS n, sum(v) AS s FROM ticks"
stdbuf -oL psql -X -q -h "${EDDY_HOST:-127.0.0.1}" -p "${EDDY_PORT:-5488}" -U "${EDDY_USER:-eddy}" \
    -d "${EDDY_DB:-eddy}" -c "COPY (SUBSCRIBE TO tick_sum WITH (PROGRESS)) TO STDOUT" \
    >"$work/stream" 2>&1 &
sub=$!
for i in 1 2 3 4 5; do run -c "INSERT INTO ticks VALUES ($i, $((i * 10)))"; done
last=$(run -At -c "SHOW eddy_epoch")
for _ in $(seq 100); do
    awk -F'\t' -v last="$last" '$2 == "t" && $1 >= last { f = 1 } END { exit !f }' "$work/stream" \
        && break
    sleep 0.1
done
kill "$sub"
wait "$sub" 2>/dev/null || true
# Each row is `epoch progressed diff n s`: summed per row, the diffs must give the view.
got=$(awk -F'\t' '$2 == "f" { c[$4 "|" $5] += $3 }
    END { for (k in c) if (c[k] != 0) print k "|" c[k] }' "$work/stream" | sort)
want=$(run -At -F'|' -c "SELECT n, s, 1 FROM tick_sum")
expect "COPY (SUBSCRIBE) streamed to psql: the diffs sum to the view" "$got" "$want"
echo "tested COPY (SUBSCRIBE TO v WITH (PROGRESS)) TO STDOUT streamed live; the diffs sum to the view"

out=$(run -c "LISTEN tick_sum" -c "INSERT INTO ticks VALUES (6, 60)" 2>&1)
e=$(run -At -c "SHOW eddy_epoch")
grep -q "Asynchronous notification \"tick_sum\" with payload \"$e\" received" <<<"$out" ||
    { echo "FAIL LISTEN on a view in psql: $out (epoch $e)"; exit 1; }
echo "tested LISTEN on a materialized view: psql prints the notification with the epoch"

if run -c "SELECT nope FROM readings" >"$work/err" 2>&1; then
    echo "FAIL: ON_ERROR_STOP did not stop"; exit 1
fi
grep -q 'ERROR:  column "nope" does not exist' "$work/err" || { cat "$work/err"; exit 1; }
echo "tested errors reported as PostgreSQL words them; ON_ERROR_STOP"
echo ok
