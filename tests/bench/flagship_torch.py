#!/usr/bin/python3
"""flagship_torch.py — experiments/flagship.ini's recipe (airbench94_muon) in PyTorch, for timing.

Owns a from-the-spec PyTorch 1.13 (CPU, fp32, channels-last as in compare.py) implementation of
the recipe cnnrun's experiments/flagship.ini runs: whitening 2x2 stem, three ConvGroups, Muon for
the 3x3 filters, SGD groups with coupled decay, label smoothing 0.2 summed, linear decay, batch
2000, translate 2 + alternating flip, 6-view TTA. It exists so the cnnrun / PyTorch ratio of the
flagship is measured on this CPU, not assumed from the per-step bench.

  /usr/bin/python3 tests/bench/flagship_torch.py [--time-steps 6] [--threads 2] [--batch 2000]
  /usr/bin/python3 tests/bench/flagship_torch.py --full [--seed 1]   # 8 epochs, accuracy
  /usr/bin/python3 tests/bench/flagship_torch.py --smoke             # runs at all?

Reading the numbers (--time-steps): after the setup (load, pre-flip/pad, whitening) and one
warm-up step, N training steps are timed one by one (batch fetch + augmentation, forward,
backward, both optimizers) and one plain and one 6-view evaluation of the 10,000 test images.
"projected" = 400,000 training images at the median step's img/s + 2 plain evaluations (epochs
4 and 8, eval_every = 4) + the final 6-view one: the figure to set beside cnnrun's
train_seconds (which likewise excludes loading and whitening). Timed steps are early ones
(whitening bias still trained): the difference from late steps is one 24-vector's gradient.
Compare only runs taken one after the other on an otherwise idle machine.
"""
import argparse
import math
import os
import resource
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)
EPOCHS, WHITEN_BIAS_EPOCHS, EVAL_EVERY = 8, 3, 4
WD = 0.004  # 2e-6 x 2000, per batch of summed loss; given to SGD as wd / lr0 (coupled)
CL = torch.channels_last


def load(path):
    """CIFAR-10 binary batch: (uint8 N x 3 x 32 x 32, int64 labels)."""
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)
    return (torch.from_numpy(raw[:, 1:].reshape(-1, 3, 32, 32).copy()),
            torch.from_numpy(raw[:, 0].astype(np.int64)))


def normalise(x_uint8):
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x_uint8.float() / 255 - mean) / std


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.whiten = nn.Conv2d(3, 24, 2, padding=0, bias=True)
        convs, bns, c = [], [], 24
        for w in (64, 256, 256):
            convs += [nn.Conv2d(c, w, 3, padding=1, bias=False),
                      nn.Conv2d(w, w, 3, padding=1, bias=False)]
            bns += [nn.BatchNorm2d(w, eps=1e-12, momentum=0.4) for _ in range(2)]
            c = w
        self.convs, self.bns = nn.ModuleList(convs), nn.ModuleList(bns)
        self.head = nn.Linear(256, 10, bias=False)
        self.train_whiten_bias = True
        self.whiten.weight.requires_grad_(False)
        for bn in self.bns:
            bn.weight.requires_grad_(False)  # gammas fixed at 1
        with torch.no_grad():
            for conv in self.convs:  # dirac: the first in_ch filters are identities
                o, i = conv.weight.shape[:2]
                conv.weight[:i].zero_()
                conv.weight[torch.arange(i), torch.arange(i), 1, 1] = 1
            self.head.weight /= self.head.weight.std()

    def forward(self, x):
        b = self.whiten.bias if self.train_whiten_bias else self.whiten.bias.detach()
        x = F.gelu(F.conv2d(x, self.whiten.weight, b))
        for g in range(3):
            x = F.gelu(self.bns[2 * g](F.max_pool2d(self.convs[2 * g](x), 2)))
            x = F.gelu(self.bns[2 * g + 1](self.convs[2 * g + 1](x)))
        x = F.max_pool2d(x, 3).flatten(1)
        return self.head(x) / x.size(-1)


def init_whitening(net, images, eps=5e-4):
    """Uncentred 2x2-patch covariance of the (normalised) images; filters ±v_k / sqrt(l_k+eps)
    in ascending eigenvalue order."""
    cov, n = torch.zeros(12, 12), 0
    for chunk in images.split(500):
        p = F.unfold(chunk, 2).transpose(1, 2).reshape(-1, 12)  # (c, r, q) order
        cov += p.T @ p
        n += p.shape[0]
    lam, vec = torch.linalg.eigh(cov / n)
    w = (vec / torch.sqrt(lam + eps)).T.reshape(12, 3, 2, 2)
    with torch.no_grad():
        net.whiten.weight.copy_(torch.cat([w, -w]))


class Muon:
    """Nesterov momentum 0.6, weight renorm to sqrt(out) by the whole tensor's norm, 3 quintic
    Newton-Schulz iterations on the (out, in*9) update / its Frobenius norm; fp32."""

    def __init__(self, params, lr, momentum=0.6):
        self.params, self.lr0, self.lr, self.m = list(params), lr, lr, momentum
        self.bufs = [torch.zeros_like(p) for p in self.params]

    @staticmethod
    def orthogonalise(g, a=3.4445, b=-4.7750, c=2.0315):
        x = g / (g.norm() + 1e-7)
        t = x.shape[0] > x.shape[1]
        if t:
            x = x.T
        for _ in range(3):
            s = x @ x.T
            x = a * x + (b * s + c * (s @ s)) @ x
        return x.T if t else x

    @torch.no_grad()
    def step(self):
        for p, buf in zip(self.params, self.bufs):
            g = p.grad
            buf.mul_(self.m).add_(g)
            u = g + self.m * buf
            p.mul_(math.sqrt(p.shape[0]) / p.norm())
            p.sub_(self.lr * self.orthogonalise(u.reshape(p.shape[0], -1)).view_as(p))


def optimisers(net):
    sgd = torch.optim.SGD([
        dict(params=[net.whiten.bias], lr=0.053, weight_decay=WD / 0.053),
        dict(params=[bn.bias for bn in net.bns], lr=0.053, weight_decay=WD / 0.053),
        dict(params=[net.head.weight], lr=0.67, weight_decay=WD / 0.67),
    ], lr=0.053, momentum=0.85, nesterov=True)
    for g in sgd.param_groups:
        g["lr0"] = g["lr"]
    return sgd, Muon([c.weight for c in net.convs], lr=0.24)


class Loader:
    """Per-run random pre-flip and reflect pad by 2 (kept as uint8: normalising is per-channel
    affine, so it commutes with the padding); per epoch a fresh permutation, drop_last; per image
    per epoch a fresh shift in -2..2 (cropped per batch: the same distribution as cropping the
    whole set each epoch); in odd epochs the batch is mirrored."""

    def __init__(self, x, y, batch):
        r = torch.tensor([2, 1] + list(range(32)) + [30, 29])  # reflect: edge pixel not repeated
        self.x = x[:, :, r][:, :, :, r].contiguous()
        flip = torch.rand(len(x)) < 0.5  # mirroring the padded image = padding the mirrored one
        self.x[flip] = self.x[flip].flip(3)
        self.y, self.batch = y, batch
        self.per_epoch = len(x) // batch

    def epoch(self, e):
        perm = torch.randperm(len(self.x))
        for k in range(self.per_epoch):
            idx = perm[k * self.batch:(k + 1) * self.batch]
            yield self.crop(self.x[idx], e), self.y[idx]

    def crop(self, padded, e):
        sy, sx = torch.randint(0, 5, (2, len(padded)))
        out = torch.empty(len(padded), 3, 32, 32, dtype=torch.uint8)
        for dy in range(5):
            for dx in range(5):
                m = (sy == dy) & (sx == dx)
                out[m] = padded[m][:, :, dy:dy + 32, dx:dx + 32]
        if e % 2 == 1:
            out = out.flip(3)
        return normalise(out).contiguous(memory_format=CL)


def train_step(net, sgd, muon, x, y, s, total, whiten_steps):
    net.train()
    net.train_whiten_bias = s < whiten_steps
    loss = F.cross_entropy(net(x), y, label_smoothing=0.2, reduction="sum")
    loss.backward()
    for i, g in enumerate(sgd.param_groups):
        g["lr"] = g["lr0"] * (1 - s / (whiten_steps if i == 0 else total))
    muon.lr = muon.lr0 * (1 - s / total)
    sgd.step()  # skips the whitening bias once it has no gradient
    muon.step()
    sgd.zero_grad(set_to_none=True)
    for p in muon.params:
        p.grad = None


@torch.no_grad()
def evaluate(net, x, y, tta, batch=2000):
    net.eval()
    correct = 0
    for xb, yb in zip(x.split(batch), y.split(batch)):
        xb = xb.contiguous(memory_format=CL)
        if tta:
            p = F.pad(xb, (1, 1, 1, 1), mode="reflect")
            a, c = p[..., 0:32, 0:32], p[..., 2:34, 2:34]
            logits = (0.25 * (net(xb) + net(xb.flip(3))) +
                      0.125 * (net(a) + net(a.flip(3)) + net(c) + net(c.flip(3))))
        else:
            logits = net(xb)
        correct += (logits.argmax(1) == yb).sum().item()
    return correct / len(y)


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "unknown"


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data",
                                                   "cifar-10-batches-bin"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--time-steps", type=int, default=6)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help="the whole 8-epoch run, with accuracy")
    mode.add_argument("--smoke", action="store_true", help="batch 32, 1 step, 256 test images")
    a = ap.parse_args()
    if a.smoke:
        a.batch, a.time_steps = 32, 1
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    print(f"# flagship recipe in PyTorch {torch.__version__}, fp32, channels-last, "
          f"{torch.get_num_threads()} threads, CPU: {cpu_model()}")

    t0 = time.perf_counter()
    parts = [load(os.path.join(a.data, f"data_batch_{i}.bin")) for i in range(1, 6)]
    x_train = torch.cat([p[0] for p in parts])
    y_train = torch.cat([p[1] for p in parts])
    del parts
    x_test, y_test = load(os.path.join(a.data, "test_batch.bin"))
    if a.smoke:
        x_test, y_test = x_test[:256], y_test[:256]
    x_test = normalise(x_test)
    net = Net().to(memory_format=CL)
    init_whitening(net, normalise(x_train[:5000]))
    sgd, muon = optimisers(net)
    loader = Loader(x_train, y_train, a.batch)
    total = EPOCHS * loader.per_epoch
    whiten_steps = WHITEN_BIAS_EPOCHS * loader.per_epoch
    setup = time.perf_counter() - t0
    print(f"setup (load, pre-flip/pad, whitening): {setup:.2f} s; batch {a.batch}, "
          f"{total} steps in the recipe")

    if a.full:
        t0, s = time.perf_counter(), 0
        for e in range(EPOCHS):
            for x, y in loader.epoch(e):
                train_step(net, sgd, muon, x, y, s, total, whiten_steps)
                s += 1
            if (e + 1) % EVAL_EVERY == 0:
                print(f"epoch {e + 1}: test accuracy (plain) {100 * evaluate(net, x_test, y_test, False):.2f} %"
                      f"  [{time.perf_counter() - t0:.1f} s]", flush=True)
        acc = evaluate(net, x_test, y_test, True)
        print(f"final test accuracy (6-view TTA) {100 * acc:.2f} %")
        print(f"train_seconds {time.perf_counter() - t0:.1f} (training + the evaluations)")
        print(f"peak RSS {peak_rss_mb():.0f} MB")
        return 0

    batches = loader.epoch(0)
    warmup = 0 if a.smoke else 1
    times = []
    for s in range(warmup + a.time_steps):
        t = time.perf_counter()
        x, y = next(batches)
        train_step(net, sgd, muon, x, y, s, total, whiten_steps)
        if s >= warmup:
            times.append(time.perf_counter() - t)
    t = time.perf_counter()
    evaluate(net, x_test, y_test, False)
    plain = time.perf_counter() - t
    t = time.perf_counter()
    evaluate(net, x_test, y_test, True)
    tta = time.perf_counter() - t

    med = statistics.median(times)
    img_s = a.batch / med
    train = EPOCHS * len(x_train) / img_s
    projected = train + 2 * plain + tta
    print(f"train step (batch {a.batch}, {len(times)} timed after {warmup} warm-up): "
          f"median {med:.3f} s, min {min(times):.3f}, max {max(times):.3f}; {img_s:.1f} img/s")
    print(f"evaluation of {len(y_test)} test images: plain {plain:.2f} s "
          f"({len(y_test) / plain:.1f} img/s), 6-view TTA {tta:.2f} s")
    print(f"projected recipe: {train:.0f} s training ({EPOCHS} x {len(x_train)} images) + "
          f"2 x {plain:.1f} s plain + {tta:.1f} s TTA = {projected:.0f} s ({projected / 60:.1f} min)")
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
