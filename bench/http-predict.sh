#!/usr/bin/env bash
# The HTTP predict path under a fixed request rate, from a separate load process (issue 23's target:
# p99 <= 5 ms at 500 requests/s). One run, about 2 minutes:
#   1. a KRaft broker in its own JVM (`metastream broker`);
#   2. a sinusoid base meta-trained into a fresh model store (`train sinusoid --promote production`);
#   3. an instance (`metastream run`) with the task API on loopback, a bearer token, 1 stream thread;
#   4. TASKS tasks with SHOTS samples each on the samples topic (bench SeedTasks), and a wait until
#      the last one is adapted;
#   5. Debian's wrk (a C client, its own process) POSTs /tasks/task-N/predict at RATE requests/s,
#      paced by bench/http-predict.lua: WARMUP seconds not measured, then DURATION seconds measured;
#   6. p50/p90/p99/p99.9, the rate achieved and the errors, printed and written as JSON (REPORT).
#
# Needs: mvn -B -q -DskipTests package (stream-app/target/metastream.jar, bench/target/benchmarks.jar),
# wrk (apt-get install wrk), python3, curl.
# Settings by environment: RATE (500), DURATION (30), WARMUP (10), TASKS (1000), SHOTS (10),
# CONNECTIONS (8), THREADS (2, wrk's), TRAIN_ITERATIONS (300), REPORT (bench/results/http-predict.json),
# SET ("key=value ..." more pipeline settings for `run`), JAVA_OPTS (the instance's JVM options).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RATE=${RATE:-500}
SECONDS_MEASURED=${DURATION:-30}
WARMUP=${WARMUP:-10}
TASKS=${TASKS:-1000}
SHOTS=${SHOTS:-10}
CONNECTIONS=${CONNECTIONS:-8}
THREADS=${THREADS:-2}
TRAIN_ITERATIONS=${TRAIN_ITERATIONS:-300}
REPORT=${REPORT:-bench/results/http-predict.json}
JAR=$ROOT/stream-app/target/metastream.jar
BENCH=$ROOT/bench/target/benchmarks.jar
for f in "$JAR" "$BENCH"; do
  [[ -f $f ]] || { echo "missing $f: run mvn -B -q -DskipTests package first" >&2; exit 2; }
done
command -v wrk > /dev/null || { echo "wrk not found: apt-get install wrk" >&2; exit 2; }

WORK=$(mktemp -d /tmp/http-predict.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2> /dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2> /dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
wait_for() { # seconds, description, command...
  local limit=$1 what=$2; shift 2
  for _ in $(seq 1 $((limit * 2))); do
    if "$@" > /dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "timed out after ${limit}s waiting for $what" >&2
  tail -40 "$WORK"/*.log >&2 || true
  exit 1
}
java_() { java -Dai.djl.offline=true -Djava.io.tmpdir="$WORK" "$@"; }

echo "== broker"
java_ -jar "$JAR" broker > "$WORK/broker.log" 2>&1 &
PIDS+=($!)
wait_for 60 "the broker" grep -q '^bootstrap.servers=' "$WORK/broker.log"
BOOTSTRAP=$(sed -n 's/^bootstrap.servers=//p' "$WORK/broker.log" | head -1)
echo "bootstrap.servers=$BOOTSTRAP"

echo "== base model ($TRAIN_ITERATIONS meta-training iterations)"
java_ -jar "$JAR" train sinusoid --store "$WORK/models" --iterations "$TRAIN_ITERATIONS" --promote production \
  > "$WORK/train.log" 2>&1 || { tail -20 "$WORK/train.log" >&2; exit 1; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
TOKEN=$(python3 -c 'import secrets; print(secrets.token_hex(16))')
cat > "$WORK/metastream.properties" <<EOF
bootstrap.servers=$BOOTSTRAP
application.id=http-predict
state.dir=$WORK/state
model.store.dir=$WORK/models
model.name=sinusoid
model.alias=production
topic.replication.factor=1
http.port=$PORT
http.auth.token=$TOKEN
EOF
for kv in ${SET:-}; do echo "$kv" >> "$WORK/metastream.properties"; done

echo "== instance on 127.0.0.1:$PORT"
# shellcheck disable=SC2086
java -Dai.djl.offline=true ${JAVA_OPTS:-} -jar "$JAR" run --config "$WORK/metastream.properties" > "$WORK/run.log" 2>&1 &
RUN_PID=$!
PIDS+=($RUN_PID)
wait_for 120 "/ready" curl -fsS "http://127.0.0.1:$PORT/ready"

echo "== $TASKS tasks of $SHOTS samples"
java_ -cp "$BENCH" io.metastream.bench.SeedTasks --bootstrap-servers "$BOOTSTRAP" --tasks "$TASKS" --shots "$SHOTS"
adapted() {
  curl -fsS -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/tasks/task-$((TASKS - 1))" \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d["adapted"] and d["supportSize"] >= '"$SHOTS"' else 1)'
}
wait_for 120 "task-$((TASKS - 1)) to be adapted" adapted
curl -fsS -H "Authorization: Bearer $TOKEN" -X POST -d '{"features":[0.5]}' "http://127.0.0.1:$PORT/tasks/task-0/predict"
echo

LUA=$ROOT/bench/http-predict.lua
export RATE TASKS TOKEN THREADS
echo "== warm-up: ${WARMUP}s at $RATE requests/s"
REPORT='' wrk -t "$THREADS" -c "$CONNECTIONS" -d "${WARMUP}s" -s "$LUA" "http://127.0.0.1:$PORT" > "$WORK/warmup.txt"
grep '^wrk-json' "$WORK/warmup.txt"

# CPU time of the instance's threads, by thread name with digits folded (worker-1, worker-2 -> worker-N).
thread_cpu() {
  for t in /proc/"$RUN_PID"/task/*; do
    printf '%s\t%s\n' "$(tr '0-9' 'N' < "$t/comm" | tr -s 'N' | tr ' \t' '__')" "$(awk '{print $14 + $15}' "$t/stat" 2> /dev/null || echo 0)"
  done 2> /dev/null | awk -F'\t' '{s[$1] += $2} END {for (k in s) print k "\t" s[k]}'
}
if [[ -n ${PROFILE:-} ]]; then
  # A JFR recording of the measured window only: PROFILE=file.jfr [PROFILE_SETTINGS=profile or a .jfc]
  jcmd "$RUN_PID" JFR.start name=predict settings="${PROFILE_SETTINGS:-profile}" filename="$PROFILE" > /dev/null
fi
thread_cpu > "$WORK/threads-before.tsv"
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_BEFORE=$(awk '{print $14 + $15}' "/proc/$RUN_PID/stat")
echo "== measured: ${SECONDS_MEASURED}s at $RATE requests/s (load average $LOAD_BEFORE)"
REPORT="$WORK/wrk.json" wrk -t "$THREADS" -c "$CONNECTIONS" -d "${SECONDS_MEASURED}s" --latency -s "$LUA" \
  "http://127.0.0.1:$PORT" | tee "$WORK/wrk.txt"
CPU_AFTER=$(awk '{print $14 + $15}' "/proc/$RUN_PID/stat")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
thread_cpu > "$WORK/threads-after.tsv"
if [[ -n ${PROFILE:-} ]]; then
  jcmd "$RUN_PID" JFR.stop name=predict > /dev/null
fi
curl -fsS "http://127.0.0.1:$PORT/metrics" > "$WORK/metrics.txt" || true

mkdir -p "$(dirname "$REPORT")"
python3 - "$WORK/wrk.json" "$REPORT" "$WORK/threads-before.tsv" "$WORK/threads-after.tsv" <<EOF
import json, os, platform, subprocess, sys
wrk = json.load(open(sys.argv[1]))
ticks = os.sysconf("SC_CLK_TCK")
def threads(path):
    return {k: float(v) for k, v in (line.rstrip("\\n").split("\\t") for line in open(path) if "\\t" in line)}
before, after = threads(sys.argv[3]), threads(sys.argv[4])
by_thread = {k: round((after[k] - before.get(k, 0)) / ticks, 2) for k in after}
by_thread = dict(sorted(((k, v) for k, v in by_thread.items() if v > 0), key=lambda kv: -kv[1]))
report = {
    "what": "POST /tasks/{id}/predict on one metastream run instance, loopback, bearer token, from wrk in its own process",
    "command": "bench/http-predict.sh",
    "target": {"rate": $RATE, "p99_ms": 5.0},
    "settings": {"rate": $RATE, "seconds": $SECONDS_MEASURED, "warmup_s": $WARMUP, "tasks": $TASKS, "shots": $SHOTS,
                 "connections": $CONNECTIONS, "wrk_threads": $THREADS, "set": "${SET:-}", "java_opts": "${JAVA_OPTS:-}"},
    "wrk": wrk,
    "p50_ms": wrk["latency_us"]["p50"] / 1000, "p99_ms": wrk["latency_us"]["p99"] / 1000,
    "p999_ms": wrk["latency_us"]["p999"] / 1000, "rate_achieved": wrk["rate"],
    "instance_cpu_s": ($CPU_AFTER - $CPU_BEFORE) / ticks,
    "instance_cpu_s_by_thread": by_thread,
    "instance_cpu_ms_per_request": ($CPU_AFTER - $CPU_BEFORE) / ticks * 1000 / max(1, wrk["requests"]),
    "load_average_before": "$LOAD_BEFORE", "load_average_after": "$LOAD_AFTER",
    "cpus": os.cpu_count(), "kernel": platform.release(),
    "wrk_version": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0],
}
report["met"] = report["p99_ms"] <= 5.0 and report["rate_achieved"] >= 0.98 * $RATE and sum(wrk["errors"].values()) == 0
json.dump(report, open(sys.argv[2], "w"), indent=2)
print("predict over HTTP at %.0f requests/s (target $RATE): p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms; "
      "errors %s; instance CPU %.1f s; load average %s -> %s; target p99 <= 5 ms %s"
      % (report["rate_achieved"], report["p50_ms"], report["p99_ms"], report["p999_ms"], wrk["latency_us"]["max"] / 1000,
         wrk["errors"], report["instance_cpu_s"], "$LOAD_BEFORE", "$LOAD_AFTER", "met" if report["met"] else "missed"))
print("instance CPU-s by thread over the measured window:", by_thread)
EOF
