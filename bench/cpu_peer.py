"""PyTorch's batched adaptation loop on the CPU, the peer of AdaptationBenchmark in bench/jmh-2core.sh.

The maths is bench/gpu/adaptation_reference.py's adapt(): MLP 1-40-40-1, 10 shots, 5 plain SGD steps
of 0.02, batched over tasks with bmm, the hand-written backward pass of MlpMath.descend, the loss
before and after, the packed parameters and the fall-back rule. It adapts from the base the JVM
meta-trained (--base-report: a GpuAdaptation report's baseParameters), as the JMH benchmark does.

Per batch size it times:
  threads=N   one process, torch.set_num_threads(N): libtorch's intra-op pool splits each op;
  procs=N     N processes of one intra-op thread each, side by side: the shape of JMH -t N, where
              each thread adapts its own batches. The score is the sum of their tasks/s.
Each figure is the median of --reps stretches of --rep-s seconds after --warmup-s of calls. Prints one
line per figure and writes a JSON report.
"""
import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpu"))
import adaptation_reference as ref  # noqa: E402

import torch  # noqa: E402


def rate_of(size, threads, warmup_s, reps, rep_s):
    torch.set_num_threads(threads)
    theta = ref.base_params("cpu")
    x, y, w = ref.tasks(size)
    rate, rates = ref.timed(lambda: ref.adapt(theta, x, y, w), size, warmup_s, reps, rep_s, lambda: None)
    return rate, rates, time.process_time()


def worker(args, start, out):
    base, size, warmup_s, reps, rep_s = args
    ref.BASE = base
    start.wait()
    cpu0 = time.process_time()
    rate, rates, cpu1 = rate_of(size, 1, warmup_s, reps, rep_s)
    out.put((rate, rates, cpu1 - cpu0))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batches", default="256,1024")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--procs", default="2")
    p.add_argument("--warmup-s", type=float, default=1.0)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--rep-s", type=float, default=1.0)
    p.add_argument("--base-report", required=True)
    p.add_argument("--report", default="cpu-peer.json")
    a = p.parse_args()
    with open(a.base_report) as f:
        ref.BASE = json.load(f)["baseParameters"]
    sizes = [int(s) for s in a.batches.split(",")]
    report = {"torch": torch.__version__, "python": platform.python_version(), "cpuCount": os.cpu_count(),
              "arch": ref.ARCH, "shots": ref.SHOTS, "steps": ref.STEPS, "stepSize": ref.STEP_SIZE,
              "base": "the JVM's meta-trained base (" + a.base_report + ")", "results": []}

    # Same tasks, same maths: how many of 1,024 fall back, as a check that this is the JVM's work.
    x, y, w = ref.tasks(1024)
    report["fallBacksOf1024"] = int(ref.adapt(ref.base_params("cpu"), x, y, w)[3].sum())

    def record(kind, n, size, rate, rates):
        # reps: the rate of every timed stretch (threads), or each process's own median (procs)
        report["results"].append({"kind": kind, "n": n, "batchSize": size, "tasksPerSecond": rate,
                                  "reps" if kind == "threads" else "perProcess": rates})
        print(f"pytorch {kind}={n} batch {size:5d}: {rate:10,.0f} tasks/s", flush=True)

    for size in sizes:
        for t in [int(s) for s in a.threads.split(",") if s]:
            rate, rates, _ = rate_of(size, t, a.warmup_s, a.reps, a.rep_s)
            record("threads", t, size, rate, rates)
        for n in [int(s) for s in a.procs.split(",") if s]:
            ctx = mp.get_context("spawn")  # fork after libtorch has started its OpenMP pool can hang
            start = ctx.Barrier(n)
            out = ctx.Queue()
            ps = [ctx.Process(target=worker, args=((ref.BASE, size, a.warmup_s, a.reps, a.rep_s), start, out))
                  for _ in range(n)]
            for q in ps:
                q.start()
            got = [out.get() for _ in ps]
            for q in ps:
                q.join()
            record("procs", n, size, sum(g[0] for g in got), [g[0] for g in got])
    with open(a.report, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
