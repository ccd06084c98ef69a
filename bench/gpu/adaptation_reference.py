"""The maths of GradientLearner.adapt in PyTorch, timed on CUDA and on the CPU: a reference for what
the hardware gives, not the project's path (that is DJL, bench/.../GpuAdaptation.java).

Same work as the Java benchmark: MLP 1-40-40-1, 10 shots, 5 plain SGD steps of 0.02 on the mean
squared error (MetaTrainingPlan.sinusoidDefault()), batched over tasks with a leading task axis,
gradients written out by hand exactly as MlpMath.descend does (ReLU derivative from sign(activation),
step size folded into the output error, one in-place add per parameter), the loss before adaptation
from the first step's forward pass, one forward pass for the loss after, the parameters packed to
[T, P] and the fall-back rule (loss not lower, or anything non-finite). Support sets are sinusoid
tasks (amplitude 0.1-5, phase 0-pi, x in [-5, 5]); the cost does not depend on the values.

Variants per batch size T:
  host      the project's shape of call: inputs built on the host and copied in, results (packed
            parameters and both losses) copied back to the host every call;
  resident  inputs already on the device, results left there (synchronised once per timed stretch);
  graph     'resident' captured once as a CUDA graph and replayed: no per-op launch cost.
On the CPU only 'host' (nothing to copy), with 1 intra-op thread (the project's setting) and with all.

Writes one JSON report; prints one line per measurement.
"""
import argparse
import json
import math
import os
import platform
import time

import torch

ARCH = [1, 40, 40, 1]
SHOTS = 10
STEPS = 5
STEP_SIZE = 0.02


BASE = None  # flat parameters in MlpMath.pack's layout (per layer W [in, out] row-major, then b)


def base_params(device):
    """The project's meta-trained base when a GpuAdaptation report gave one (--base-report), else a
    seeded He initialisation. A random base diverges on most tasks within 5 steps (inf, then NaN):
    cheap to compute on the GPU, but not the arithmetic the project does."""
    out = []
    if BASE is not None:
        flat = torch.tensor(BASE, dtype=torch.float32)
        offset = 0
        for fan_in, fan_out in zip(ARCH[:-1], ARCH[1:]):
            out.append(flat[offset:offset + fan_in * fan_out].reshape(1, fan_in, fan_out).to(device))
            offset += fan_in * fan_out
            out.append(flat[offset:offset + fan_out].reshape(1, 1, fan_out).to(device))
            offset += fan_out
        assert offset == flat.numel(), (offset, flat.numel())
        return out
    g = torch.Generator().manual_seed(6)
    for fan_in, fan_out in zip(ARCH[:-1], ARCH[1:]):
        out.append((torch.randn(1, fan_in, fan_out, generator=g) * math.sqrt(2.0 / fan_in)).to(device))
        out.append(torch.zeros(1, 1, fan_out).to(device))
    return out


def tasks(n, seed=6):
    g = torch.Generator().manual_seed(seed)
    amp = torch.rand(n, 1, 1, generator=g) * 4.9 + 0.1
    phase = torch.rand(n, 1, 1, generator=g) * math.pi
    x = torch.rand(n, SHOTS, 1, generator=g) * 10 - 5
    y = amp * torch.sin(x - phase)
    w = torch.full((n, SHOTS, 1), 1.0 / SHOTS)
    return x, y, w


def adapt(theta, x, y, w):
    """MlpMath.descend for the squared error, plain steps, then the after-loss, pack and fall-back."""
    row_scale = w * (-2.0 * STEP_SIZE)
    depth = len(theta) // 2
    cur = theta
    loss_before = None
    for s in range(STEPS):
        acts = []
        a = x
        for l in range(depth):
            acts.append(a)
            z = torch.matmul(a, cur[2 * l]).add_(cur[2 * l + 1])
            a = torch.relu(z) if l < depth - 1 else z
        err = a - y
        if s == 0:
            loss_before = (err * err * w).sum(dim=(1, 2))
        delta = err * row_scale
        nxt = [None] * len(cur)
        for l in range(depth - 1, -1, -1):
            nxt[2 * l] = torch.matmul(acts[l].transpose(1, 2), delta)
            nxt[2 * l + 1] = delta.sum(dim=1, keepdim=True)
            if l > 0:
                delta = torch.matmul(delta, cur[2 * l].transpose(1, 2)) * acts[l].sign()
        for i in range(len(nxt)):
            nxt[i].add_(cur[i])
        cur = nxt
    a = x
    for l in range(depth):
        z = torch.matmul(a, cur[2 * l]) + cur[2 * l + 1]
        a = torch.relu(z) if l < depth - 1 else z
    loss_after = ((a - y) ** 2 * w).sum(dim=(1, 2))
    t = x.shape[0]
    packed = torch.cat([p.expand(t, *p.shape[1:]).reshape(t, -1) for p in cur], dim=1)
    fall_back = ~(loss_after <= loss_before) | ~torch.isfinite(loss_after) | ~torch.isfinite(packed).all(dim=1)
    return packed, loss_before, loss_after, fall_back


def timed(fn, tasks_per_call, warmup_s, reps, rep_s, sync):
    """Median tasks/s over `reps` stretches of at least `rep_s` seconds, after `warmup_s` of calls."""
    end = time.perf_counter() + warmup_s
    while time.perf_counter() < end:
        fn()
    sync()
    rates = []
    for _ in range(reps):
        calls = 0
        start = time.perf_counter()
        while True:
            fn()
            calls += 1
            if calls % 4 == 0 or tasks_per_call >= 1024:
                sync()
                now = time.perf_counter()
                if now - start >= rep_s:
                    break
        rates.append(calls * tasks_per_call / (now - start))
    rates.sort()
    return rates[len(rates) // 2], rates


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gpu-batches", default="1,4,16,64,256,1024,4096,16384,65536")
    p.add_argument("--cpu-batches", default="1,4,16,64,256,1024,4096")
    p.add_argument("--warmup-s", type=float, default=0.3)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--rep-s", type=float, default=0.4)
    p.add_argument("--report", default="adaptation-reference.json")
    p.add_argument("--base-report", help="a GpuAdaptation report whose baseParameters to adapt from")
    args = p.parse_args()
    global BASE
    if args.base_report:
        with open(args.base_report) as f:
            BASE = json.load(f).get("baseParameters")
        if BASE is None:
            print("no baseParameters in", args.base_report, "- adapting from a random base", flush=True)

    report = {
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": platform.python_version(),
        "cpuCount": os.cpu_count(),
        "matmulPrecision": torch.get_float32_matmul_precision(),
        "base": "GpuAdaptation's meta-trained base" if BASE is not None else "seeded He initialisation",
        "arch": ARCH, "shots": SHOTS, "steps": STEPS, "stepSize": STEP_SIZE,
        "results": [],
    }
    has_cuda = torch.cuda.is_available()
    if has_cuda:
        report["gpu"] = torch.cuda.get_device_name(0)

    def record(device, variant, threads, size, rate, rates):
        row = {"device": device, "variant": variant, "threads": threads, "batchSize": size,
               "tasksPerSecond": rate, "reps": rates, "microsPerCall": size / rate * 1e6}
        report["results"].append(row)
        print(f"{device:5s} {variant:9s} threads={threads!s:>3s} batch {size:6d}: {rate:14,.0f} tasks/s"
              f"  ({size / rate * 1e6:9.1f} us/call)", flush=True)

    # Correctness between devices: the same tasks adapted on CPU and GPU agree.
    if has_cuda:
        x, y, w = tasks(1024)
        ref = adapt(base_params("cpu"), x, y, w)
        dev = adapt(base_params("cuda"), x.cuda(), y.cuda(), w.cuda())
        ok = ~ref[3]
        report["maxAbsDiffCpuVsCuda"] = (ref[0][ok] - dev[0].cpu()[ok]).abs().max().item() if ok.any() else None
        report["fallBacksCpu"] = int(ref[3].sum())
        report["fallBacksCuda"] = int(dev[3].sum())
        print("over 1024 tasks: fall-backs cpu", report["fallBacksCpu"], "cuda", report["fallBacksCuda"],
              "; max |cpu - cuda| of the others' adapted parameters:", report["maxAbsDiffCpuVsCuda"], flush=True)

    if has_cuda:
        dev = torch.device("cuda")
        theta = base_params(dev)
        sync = torch.cuda.synchronize
        for size in [int(s) for s in args.gpu_batches.split(",")]:
            hx, hy, hw = tasks(size)

            def host_call():
                out = adapt(theta, hx.to(dev), hy.to(dev), hw.to(dev))
                packed, before, after, fb = (t.cpu() for t in out)
                return packed

            rate, rates = timed(host_call, size, args.warmup_s, args.reps, args.rep_s, sync)
            record("cuda", "host", "-", size, rate, rates)

            dx, dy, dw = hx.to(dev), hy.to(dev), hw.to(dev)
            rate, rates = timed(lambda: adapt(theta, dx, dy, dw), size, args.warmup_s, args.reps, args.rep_s, sync)
            record("cuda", "resident", "-", size, rate, rates)

            try:
                stream = torch.cuda.Stream()
                stream.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(stream):
                    for _ in range(3):
                        adapt(theta, dx, dy, dw)
                torch.cuda.current_stream().wait_stream(stream)
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    adapt(theta, dx, dy, dw)
                rate, rates = timed(graph.replay, size, args.warmup_s, args.reps, args.rep_s, sync)
                record("cuda", "graph", "-", size, rate, rates)
                del graph
            except Exception as e:  # a reference only: note it and go on
                report.setdefault("errors", []).append(f"graph at {size}: {e!r}")
                print("graph failed at", size, e, flush=True)
            del dx, dy, dw
            torch.cuda.empty_cache()

    theta = base_params("cpu")
    for threads in (1, os.cpu_count()):
        torch.set_num_threads(threads)
        for size in [int(s) for s in args.cpu_batches.split(",")]:
            hx, hy, hw = tasks(size)
            rate, rates = timed(lambda: adapt(theta, hx, hy, hw), size, args.warmup_s, args.reps, args.rep_s,
                                lambda: None)
            record("cpu", "host", threads, size, rate, rates)

    with open(args.report, "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
