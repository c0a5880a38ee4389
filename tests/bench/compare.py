#!/usr/bin/python3
"""compare.py — training throughput of cnnrun next to PyTorch on this CPU.

Runs each network's full training step (forward, backward, SGD update) in
PyTorch (Debian's python3-torch, fp32, channels-last, same thread count) and
`cnnrun bench` on the same shapes, once with the OpenBLAS environment as it is
and once with OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE unset, and prints a
markdown table of img/s and the ratio.

  /usr/bin/python3 tests/bench/compare.py [--cnnrun build/cnnrun] [--steps 5]
      [--threads 2] [--nets resnet18,vgg16,googlenet,airbench94]

Registered as a meson benchmark: `meson test -C build --benchmark`.
"""
import argparse
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
                         text=True, env=env, check=True)
    m = re.search(r"maxrss_kb=(\d+)", out.stderr)
    return out.stdout, (int(m.group(1)) / 1024 if m else float("nan"))


def torch_images_per_sec(name, batch, steps, threads):
    """Runs in a child process so the thread setting and environment are its own."""
    code = f"""
import time, torch, sys
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
    loss_fn(net(x), y).backward()
    opt.step()
for _ in range(2):
    step()
t = time.perf_counter()
for _ in range({steps}):
    step()
print({batch} * {steps} / (time.perf_counter() - t))
"""
    out, rss = measured(["/usr/bin/python3", "-c", code])
    return float(out.strip().splitlines()[-1]), rss


def cnnrun_images_per_sec(binary, ini, batch, steps, threads, env):
    out, rss = measured([binary, "bench", ini, "--steps", str(steps), "--batch", str(batch),
                         "--threads", str(threads)], env=env)
    m = re.search(r"^images_per_sec=([0-9.]+)$", out, re.M)
    return float(m.group(1)), rss


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cnnrun", default=os.path.join(ROOT, "build", "cnnrun"))
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nets", default="resnet18,vgg16,googlenet,airbench94")
    a = ap.parse_args()
    env_as_set = dict(os.environ)
    env_unset = {k: v for k, v in os.environ.items()
                 if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    as_set = ", ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                       if k in os.environ) or "none set"
    print(f"# cnnrun vs PyTorch, training img/s, {a.threads} threads, {a.steps} timed steps "
          f"after 2 warm-up ({time.strftime('%Y-%m-%d %H:%M')})")
    print(f"# OpenBLAS environment as set: {as_set}")
    print()
    print("| network | batch | PyTorch img/s | cnnrun (env as set) | ratio | "
          "cnnrun (OPENBLAS_* unset) | ratio | peak RSS PyTorch / cnnrun (MB) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in a.nets.split(","):
        ini, batch = NETS[name]
        pt, pt_rss = torch_images_per_sec(name, batch, a.steps, a.threads)
        c1, c_rss = cnnrun_images_per_sec(a.cnnrun, ini, batch, a.steps, a.threads, env_as_set)
        c2, _ = cnnrun_images_per_sec(a.cnnrun, ini, batch, a.steps, a.threads, env_unset)
        print(f"| {name} | {batch} | {pt:.1f} | {c1:.1f} | {c1 / pt:.2f}x | {c2:.1f} | "
              f"{c2 / pt:.2f}x | {pt_rss:.0f} / {c_rss:.0f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
