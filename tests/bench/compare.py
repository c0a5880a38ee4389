#!/usr/bin/python3
"""compare.py — training throughput of cnnrun next to PyTorch on this CPU.

Runs each network's full training step (forward, backward, SGD update) in
PyTorch (Debian's python3-torch, fp32, channels-last, same thread count) and
`cnnrun bench` on the same shapes, in alternating rounds (cnnrun, PyTorch,
cnnrun, PyTorch, ...) so that a slow spell of the machine falls on both.
Each measurement times steps for a window of --seconds (at least --min-steps
steps) after 2 warm-up steps and keeps every step's time. Prints, after the
machine's CPU model and the sgemm peak `cnnrun bench` measured, a markdown
table: median img/s of each (from the median step time, with the step
times' interquartile range), the ratio (the median of the rounds' ratios,
with their min-max), cnnrun's effective GFLOP/s against the peak, and the
peak RSS of both. Progress goes to stderr.

  /usr/bin/python3 tests/bench/compare.py [--cnnrun build/cnnrun] [--seconds 30]
      [--rounds 3] [--min-steps 5] [--threads 2] [--batch B]
      [--nets resnet18,vgg16,googlenet,airbench94] [--unset-openblas] [--short]

--precision bf16 trains cnnrun with `[experiment] precision = bf16` and
PyTorch with `torch.autocast('cpu', dtype=torch.bfloat16)` around forward
and loss (its oneDNN uses AVX512-BF16 / AMX where the CPU has them).

--short is a smoke test (batch 8, 1 s windows, 2 rounds, 1 step at least);
--unset-openblas adds a cnnrun run with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE
unset to every round (another column). Registered as a meson benchmark:
`meson test -C build --benchmark`.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

NETS = {  # name: (experiment file, batch)
    "resnet18": (os.path.join(ROOT, "experiments", "resnet18.ini"), 128),
    "vgg16": (os.path.join(ROOT, "experiments", "vgg16.ini"), 128),
    "googlenet": (os.path.join(ROOT, "experiments", "googlenet.ini"), 128),
    "airbench94": (os.path.join(HERE, "airbench94.ini"), 512),
}


def torch_net(name):
    """The same networks in PyTorch (pytorch-cifar definitions)."""
    import torch.nn as nn

    def cbr(i, o, k=3, s=1, p=1, bias=True):
        return [nn.Conv2d(i, o, k, s, p, bias=bias), nn.BatchNorm2d(o), nn.ReLU(inplace=True)]

    if name == "vgg16":
        cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
               512, 512, 512, "M"]
        layers, c = [], 3
        for x in cfg:
            if x == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += cbr(c, x)
                c = x
        return nn.Sequential(*layers, nn.Flatten(), nn.Linear(512, 10))

    if name == "resnet18":
        class Block(nn.Module):
            def __init__(self, i, o, s):
                super().__init__()
                self.c1 = nn.Conv2d(i, o, 3, s, 1, bias=False)
                self.b1 = nn.BatchNorm2d(o)
                self.c2 = nn.Conv2d(o, o, 3, 1, 1, bias=False)
                self.b2 = nn.BatchNorm2d(o)
                self.sc = nn.Sequential()
                if s != 1 or i != o:
                    self.sc = nn.Sequential(nn.Conv2d(i, o, 1, s, bias=False), nn.BatchNorm2d(o))

            def forward(self, x):
                out = self.b1(self.c1(x)).relu()
                return (self.b2(self.c2(out)) + self.sc(x)).relu()

        layers, c = cbr(3, 64, bias=False), 64
        for w, s in [(64, 1), (64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1)]:
            layers.append(Block(c, w, s))
            c = w
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 10))

    if name == "googlenet":
        import torch

        class Inception(nn.Module):
            def __init__(self, i, n1, r3, n3, r5, n5, pp):
                super().__init__()
                self.b1 = nn.Sequential(*cbr(i, n1, 1, 1, 0))
                self.b2 = nn.Sequential(*cbr(i, r3, 1, 1, 0), *cbr(r3, n3))
                self.b3 = nn.Sequential(*cbr(i, r5, 1, 1, 0), *cbr(r5, n5), *cbr(n5, n5))
                self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), *cbr(i, pp, 1, 1, 0))

            def forward(self, x):
                return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)

        spec = [(192, 64, 96, 128, 16, 32, 32), (256, 128, 128, 192, 32, 96, 64), "M",
                (480, 192, 96, 208, 16, 48, 64), (512, 160, 112, 224, 24, 64, 64),
                (512, 128, 128, 256, 24, 64, 64), (512, 112, 144, 288, 32, 64, 64),
                (528, 256, 160, 320, 32, 128, 128), "M",
                (832, 256, 160, 320, 32, 128, 128), (832, 384, 192, 384, 48, 128, 128)]
        layers = cbr(3, 192)
        for s in spec:
            layers.append(nn.MaxPool2d(3, 2, 1) if s == "M" else Inception(*s))
        return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(1024, 10))

    if name == "airbench94":
        layers = [nn.Conv2d(3, 24, 2, 1, 0), nn.GELU()]
        c = 24
        for w in [64, 256, 256]:
            layers += [nn.Conv2d(c, w, 3, 1, 1, bias=False), nn.MaxPool2d(2), nn.BatchNorm2d(w),
                       nn.GELU(), nn.Conv2d(w, w, 3, 1, 1, bias=False), nn.BatchNorm2d(w),
                       nn.GELU()]
            c = w
        return nn.Sequential(*layers, nn.MaxPool2d(3), nn.Flatten(), nn.Linear(256, 10, bias=False))
    raise ValueError(name)


def measured(argv, env=None):
    """Runs argv under /usr/bin/time; returns (stdout, peak RSS in MB)."""
    out = subprocess.run(["/usr/bin/time", "-f", "maxrss_kb=%M"] + argv, capture_output=True,
                         text=True, env=env)
    if out.returncode != 0:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"{argv[0]} failed (exit {out.returncode})")
    m = re.search(r"maxrss_kb=(\d+)", out.stderr)
    return out.stdout, (int(m.group(1)) / 1024 if m else float("nan"))


def quantile(v, q):
    """The q-quantile of the values (linear between neighbours), as cnnrun bench takes it."""
    v = sorted(v)
    at = q * (len(v) - 1)
    i = int(at)
    return v[i] + (at - i) * (v[i + 1] - v[i]) if i + 1 < len(v) else v[-1]


def torch_steps(name, batch, seconds, min_steps, threads, precision="fp32"):
    """Step times (s) of PyTorch in a child process (its own threads and environment)."""
    ctx = ("torch.autocast('cpu', dtype=torch.bfloat16)" if precision == "bf16"
           else "contextlib.nullcontext()")
    code = f"""
import contextlib
import json, time, torch, sys
sys.path.insert(0, {HERE!r})
from compare import torch_net
torch.set_num_threads({threads})
torch.manual_seed(0)
net = torch_net({name!r}).to(memory_format=torch.channels_last)
opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, weight_decay=5e-4)
x = torch.randn({batch}, 3, 32, 32).to(memory_format=torch.channels_last)
y = torch.randint(0, 10, ({batch},))
loss_fn = torch.nn.CrossEntropyLoss()
def step():
    opt.zero_grad(set_to_none=True)
    with {ctx}:
        loss = loss_fn(net(x), y)
    loss.backward()
    opt.step()
for _ in range(2):
    step()
times, t0 = [], time.perf_counter()
while len(times) < {min_steps} or time.perf_counter() - t0 < {seconds}:
    t = time.perf_counter()
    step()
    times.append(time.perf_counter() - t)
print(json.dumps(times))
"""
    out, rss = measured(["/usr/bin/python3", "-c", code])
    return json.loads(out.strip().splitlines()[-1]), rss


def cnnrun_steps(binary, ini, batch, seconds, min_steps, threads, env, precision="fp32"):
    """cnnrun bench's step-time quantiles (s) and its other key=value lines."""
    out, rss = measured([binary, "bench", ini, "--steps", str(min_steps), "--seconds",
                         str(seconds), "--batch", str(batch), "--threads", str(threads),
                         "--set", f"experiment.precision={precision}"], env=env)
    kv = dict(re.findall(r"^([a-z0-9_]+)=([0-9.]+)$", out, re.M))
    q = {k: float(kv["step_ms_" + k]) / 1e3 for k in ("min", "q1", "median", "q3", "max")}
    return q, {k: float(v) for k, v in kv.items()}, rss


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cnnrun", default=os.path.join(ROOT, "build", "cnnrun"))
    ap.add_argument("--seconds", type=float,
                    help="timing window of each measurement (default 30; --short: 1)")
    ap.add_argument("--rounds", type=int,
                    help="alternating rounds of cnnrun and PyTorch per network (default 3; "
                         "--short: 2)")
    ap.add_argument("--min-steps", type=int,
                    help="timed steps at least (default 5; --short: 1)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=0, help="every network's batch (default: its own)")
    ap.add_argument("--nets", default="resnet18,vgg16,googlenet,airbench94")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="bf16: cnnrun precision = bf16, PyTorch bf16 autocast")
    ap.add_argument("--unset-openblas", action="store_true",
                    help="also run cnnrun with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset")
    ap.add_argument("--short", action="store_true",
                    help="smoke test: batch 8, 1 s windows, 2 rounds, 1 step at least (each "
                         "unless given)")
    a = ap.parse_args()
    for key, normal, short in (("batch", 0, 8), ("seconds", 30.0, 1.0), ("rounds", 3, 2),
                               ("min_steps", 5, 1)):
        if not getattr(a, key):
            setattr(a, key, short if a.short else normal)
    if a.rounds < 1 or a.min_steps < 1 or a.seconds <= 0:
        ap.error("--rounds and --min-steps must be at least 1, --seconds above 0")
    nets = a.nets.split(",")
    for name in nets:
        if name not in NETS:
            ap.error(f"unknown network '{name}' (known: {', '.join(NETS)})")
    env_as_set = dict(os.environ)
    env_unset = {k: v for k, v in os.environ.items()
                 if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    as_set = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                       if k in os.environ) or "none set"
    variants = [("env as set", env_as_set)] + ([("OPENBLAS_* unset", env_unset)]
                                               if a.unset_openblas else [])
    rows, peaks = [], []
    for name in nets:
        ini, batch = NETS[name]
        batch = a.batch or batch
        pt_times, pt_rss = [], 0.0
        cn = {v: {"med": [], "q1": [], "q3": [], "ratio": [], "gflops": [], "rss": 0.0}
              for v, _ in variants}
        for r in range(a.rounds):
            meds = {}
            for v, env in variants:
                print(f"# {name} round {r + 1}/{a.rounds}: cnnrun ({v}) ...", file=sys.stderr,
                      flush=True)
                q, kv, rss = cnnrun_steps(a.cnnrun, ini, batch, a.seconds, a.min_steps,
                                          a.threads, env, a.precision)
                c = cn[v]
                c["med"].append(q["median"]), c["q1"].append(q["q1"]), c["q3"].append(q["q3"])
                c["gflops"].append((kv["effective_gflops"], kv["peak_ratio"]))
                c["rss"] = max(c["rss"], rss)
                peaks.append(kv["sgemm_peak_gflops"])
                meds[v] = q["median"]
            print(f"# {name} round {r + 1}/{a.rounds}: PyTorch ...", file=sys.stderr, flush=True)
            t, rss = torch_steps(name, batch, a.seconds, a.min_steps, a.threads, a.precision)
            pt_times += t
            pt_rss = max(pt_rss, rss)
            for v in meds:
                cn[v]["ratio"].append(quantile(t, 0.5) / meds[v])
        rows.append((name, batch, pt_times, pt_rss, cn))

    print(f"# precision {a.precision}" + (" (cnnrun precision = bf16; PyTorch bf16 autocast)"
                                          if a.precision == "bf16" else ""))
    print(f"# cnnrun vs PyTorch, training img/s, {a.threads} threads, {a.rounds} alternating "
          f"rounds of {a.seconds:g} s windows (>= {a.min_steps} steps, after 2 warm-up) "
          f"({time.strftime('%Y-%m-%d %H:%M')})")
    print(f"# CPU: {cpu_model()}; sgemm peak (cnnrun bench: engine gemm(), 2048^3, best of 5): "
          f"{max(peaks):.1f} GFLOP/s (min over the runs {min(peaks):.1f})")
    print(f"# OpenBLAS environment as set: {as_set}")
    print("# img/s: batch / median step time (IQR of the step times); ratio: cnnrun / PyTorch "
          "img/s, median of the rounds [min-max]")
    print()
    head = "| network | batch | PyTorch img/s |"
    for v, _ in variants:
        head += f" cnnrun ({v}) img/s | ratio | GFLOP/s (x peak) |"
    print(head + " peak RSS PyTorch / cnnrun (MB) |")
    print("|---" * (head.count("|") - 1 + 1) + "|")
    for name, batch, pt_times, pt_rss, cn in rows:
        pm = quantile(pt_times, 0.5)
        line = (f"| {name} | {batch} | {batch / pm:.1f} ({batch / quantile(pt_times, 0.75):.1f}"
                f"-{batch / quantile(pt_times, 0.25):.1f}) |")
        for v, _ in variants:
            c = cn[v]
            m = quantile(c["med"], 0.5)
            g = sorted(c["gflops"])[len(c["gflops"]) // 2]
            line += (f" {batch / m:.1f} ({batch / max(c['q3']):.1f}-{batch / min(c['q1']):.1f}) |"
                     f" {quantile(c['ratio'], 0.5):.2f}x [{min(c['ratio']):.2f}-"
                     f"{max(c['ratio']):.2f}] | {g[0]:.1f} ({g[1]:.2f}) |")
        rss = max(c["rss"] for c in cn.values())
        print(line + f" {pt_rss:.0f} / {rss:.0f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
