#!/usr/bin/env bash
# Adaptation throughput across 2 cores, and PyTorch's batched loop as a peer, in one run (issue 23:
# >= 50,000 tasks/s across 2 cores at batch >= 256). About 2.5 minutes:
#   1. JMH AdaptationBenchmark (plain SGD, batch 256 and 1024) with 1 thread (the baseline) and with
#      2 threads (-t 2: each thread its own GradientLearner, libtorch at 1 intra-op thread per OS
#      thread, DjlRuntime.configureCurrentThread); JMH's score for -t 2 is the two threads' sum;
#      then -t 2 again with glibc's heap trimming off (MALLOC_KEEP below), which the profile pointed at;
#   2. bench/cpu_peer.py under Debian's python3-torch (/usr/bin/python3): the same maths, MLP, steps,
#      batches and base (meta-trained by the JVM, GpuAdaptation's report), on the CPU with
#      torch.set_num_threads(1) and (2), and as 2 processes of 1 thread (the shape of -t 2);
#   3. one JSON with every figure, the machine's load average and the JVM/torch versions (REPORT).
# Needs: mvn -B -q -o -DskipTests -pl bench -am package; apt-get install python3-torch.
# Settings by environment: BATCHES (256,1024), WARMUP_ITERATIONS (3), ITERATIONS (5), ITERATION_S (1),
# REPORT (bench/results/jmh-2core-peer.json), JVM_ENV (e.g. "MALLOC_TRIM_THRESHOLD_=... " for the JMH
# forks), PYTHON (/usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
BATCHES=${BATCHES:-256,1024}
WI=${WARMUP_ITERATIONS:-3}
I=${ITERATIONS:-5}
R=${ITERATION_S:-1}
REPORT=${REPORT:-bench/results/jmh-2core-peer.json}
PYTHON=${PYTHON:-/usr/bin/python3}
JAR=bench/target/benchmarks.jar
[[ -f $JAR ]] || { echo "missing $JAR: mvn -B -q -o -DskipTests -pl bench -am package" >&2; exit 2; }
"$PYTHON" -c 'import torch' 2> /dev/null || { echo "$PYTHON has no torch: apt-get install python3-torch" >&2; exit 2; }
WORK=$(mktemp -d /tmp/jmh-2core.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
load() { cut -d' ' -f1-3 /proc/loadavg; }

LOAD_START=$(load)
echo "== load average at start: $LOAD_START"
# glibc gives the freed blocks of every call back to the kernel (its trim threshold follows the
# largest block freed), so each call faults fresh pages in again; these keep them in the process.
MALLOC_KEEP="MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=33554432 MALLOC_TOP_PAD_=67108864"
for run in t1 t2 t2-malloc; do
  t=${run:1:1}
  envs=${JVM_ENV:-}
  [[ $run == t2-malloc ]] && envs="$MALLOC_KEEP"
  echo "== JMH AdaptationBenchmark, -t $t, batch $BATCHES${envs:+, env $envs}"
  # shellcheck disable=SC2086
  env $envs java -jar "$JAR" AdaptationBenchmark -p batchSize="$BATCHES" -p innerStep=sgd -t "$t" \
    -f 1 -wi "$WI" -w "${R}s" -i "$I" -r "${R}s" -rf json -rff "$WORK/jmh-$run.json" > "$WORK/jmh-$run.log" 2>&1 \
    || { tail -30 "$WORK/jmh-$run.log" >&2; exit 1; }
  grep -E '^AdaptationBenchmark' "$WORK/jmh-$run.log"
  [[ $run == t2-malloc ]] || eval "LOAD_T$t=\"\$(load)\""
done

echo "== the base for the peer (GpuAdaptation on the CPU, same seeds as JMH)"
java -cp "$JAR" io.metastream.bench.GpuAdaptation --devices cpu --cpu-batches 256 --warmup-ms 100 \
  --iterations 1 --iteration-ms 100 --report "$WORK/base.json" > "$WORK/base.log" 2>&1 \
  || { tail -20 "$WORK/base.log" >&2; exit 1; }

echo "== PyTorch peer ($PYTHON)"
"$PYTHON" bench/cpu_peer.py --base-report "$WORK/base.json" --batches "$BATCHES" --threads 1,2 --procs 2 \
  --warmup-s 1 --reps "$I" --rep-s "$R" --report "$WORK/peer.json"
LOAD_END=$(load)

mkdir -p "$(dirname "$REPORT")"
"$PYTHON" - "$WORK" "$REPORT" "$LOAD_START" "$LOAD_T1" "$LOAD_T2" "$LOAD_END" "${JVM_ENV:-}" <<'EOF'
import json, os, platform, sys
work, out, load_start, load_t1, load_t2, load_end, jvm_env = sys.argv[1:8]
rows = []
for run in ("t1", "t2", "t2-malloc"):
    t = int(run[1])
    for r in json.load(open(os.path.join(work, "jmh-%s.json" % run))):
        raw = [v for fork in r["secondaryMetrics"]["tasksPerCpuSecond"]["rawData"] for v in fork]
        # The aux counter is each thread's tasks per its own CPU-second, summed over the threads.
        rows.append({"path": "DJL GradientLearner.adapt (JMH)" + (", glibc trim off" if run.endswith("malloc") else ""),
                     "threads": t, "batchSize": int(r["params"]["batchSize"]),
                     "tasksPerSecond": r["primaryMetric"]["score"], "error999": r["primaryMetric"]["scoreError"],
                     "iterations": r["primaryMetric"]["rawData"][0],
                     "tasksPerCpuSecondPerThread": sum(raw) / len(raw) / t, "jvm": r["vmName"] + " " + r["vmVersion"]})
peer = json.load(open(os.path.join(work, "peer.json")))
for p in peer["results"]:
    rows.append({"path": "PyTorch %s batched loop (Python)" % peer["torch"],
                 "threads": p["n"], "mode": "intra-op threads" if p["kind"] == "threads" else "processes of 1 thread",
                 "batchSize": p["batchSize"], "tasksPerSecond": p["tasksPerSecond"],
                 "detail": p.get("reps", p.get("perProcess"))})
best2 = max(r["tasksPerSecond"] for r in rows if r["path"] == "DJL GradientLearner.adapt (JMH)" and r["threads"] == 2
            and r["batchSize"] >= 256)
report = {"what": "adaptation throughput, MLP 1-40-40-1, 10 shots, 5 SGD steps of 0.02, CPU",
          "command": "bench/jmh-2core.sh", "target": {"tasksPerSecond": 50000, "threads": 2, "minBatch": 256},
          "best2ThreadsTasksPerSecond": best2, "met": best2 >= 50000,
          "loadAverage": {"start": load_start, "afterJmhT1": load_t1, "afterJmhT2": load_t2, "end": load_end},
          "cpus": os.cpu_count(), "kernel": platform.release(), "jvmEnv": jvm_env,
          "mallocKeep": "the 'glibc trim off' rows: MALLOC_TRIM_THRESHOLD_=268435456 MALLOC_MMAP_THRESHOLD_=33554432 "
                        "MALLOC_TOP_PAD_=67108864 in the JMH fork's environment",
          "peerFallBacksOf1024": peer["fallBacksOf1024"], "results": rows}
json.dump(report, open(out, "w"), indent=2)
print()
print("%-52s %7s %6s %14s %s" % ("path", "threads", "batch", "tasks/s", "tasks per CPU-s per thread"))
for r in rows:
    label = r["path"] + ("" if "mode" not in r else " [" + r["mode"] + "]")
    print("%-52s %7d %6d %14s %s" % (label[:52], r["threads"], r["batchSize"], format(round(r["tasksPerSecond"]), ","),
                                      format(round(r["tasksPerCpuSecondPerThread"]), ",") if "tasksPerCpuSecondPerThread" in r else ""))
print("2 threads, batch >= 256: best %s tasks/s, target 50,000: %s; load average %s at start, %s at end"
      % (format(round(best2), ","), "met" if report["met"] else "missed", load_start, load_end))
EOF
