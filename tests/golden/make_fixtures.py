#!/usr/bin/python3
"""make_fixtures.py — writes the PyTorch reference fixtures for tests/test_golden.c.

Run by hand (CI has no torch):   /usr/bin/python3 tests/golden/make_fixtures.py [NAME...]
Writes tests/fixtures/{conv,batchnorm,act,pool,linear,join,xent,blocks,tta,whiten,muon}.bin,
or only the named ones (e.g. `blocks`). blocks.bin is read by tests/test_blocks.c,
whiten.bin by tests/test_init.c, muon.bin (the Muon optimizer's update) by tests/test_golden.c.

Precision: every random input is drawn, rounded to float32 (that is what the
file stores and what the C kernel sees), then the reference is computed in
float64 by PyTorch from exactly those rounded values, and the results are
rounded to float32 for storage. So the stored reference is the float64 answer
for the stored inputs, up to one float32 rounding.

Layout conversions to cnnrun (include/cnnrun/kernels.h):
  activations  NCHW -> NHWC        t.permute(0, 2, 3, 1)
  conv weight  (Cout,Cin,KH,KW) -> (KH,KW,Cin,Cout)   w.permute(2, 3, 1, 0)
  linear weight (out,in) -> (in,out)                    w.t()

File format (little-endian), see tests/golden/README.md:
  "CNFX" | u32 version=1 | u32 ntensors |
  ntensors x ( u32 namelen | name bytes (no NUL) | u32 ndim | u32 dims[ndim] |
               float32 data[prod(dims)] )
Tensor names are "<case>/<tensor>"; "<case>/cfg" holds the case's integer (or
scalar) parameters as float32, in the order documented per layer below.
"""
import os
import struct

import numpy as np
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

VERSION = 1
OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")

torch.set_default_dtype(torch.float64)


class Fixture:
    def __init__(self, fname):
        self.fname = fname
        self.tensors = []  # (name, float32 ndarray)

    def add(self, name, t):
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().numpy()
        a = np.ascontiguousarray(np.asarray(t, dtype=np.float32))
        if a.ndim == 0:
            a = a.reshape(1)
        assert all(n != name for n, _ in self.tensors), name
        self.tensors.append((name, a))

    def write(self):
        path = os.path.join(OUT_DIR, self.fname)
        with open(path, "wb") as f:
            f.write(b"CNFX")
            f.write(struct.pack("<II", VERSION, len(self.tensors)))
            for name, a in self.tensors:
                nb = name.encode("ascii")
                f.write(struct.pack("<I", len(nb)))
                f.write(nb)
                f.write(struct.pack("<I", a.ndim))
                f.write(struct.pack("<%dI" % a.ndim, *a.shape))
                f.write(a.astype("<f4").tobytes())
        print("%-16s %3d tensors %7d bytes" % (self.fname, len(self.tensors), os.path.getsize(path)))


def f32(t):
    """Round to float32 and back: the value the C side will see."""
    return t.to(torch.float32).to(torch.float64)


def randn(g, *shape, scale=1.0, shift=0.0):
    return f32(torch.randn(*shape, generator=g) * scale + shift)


def nhwc(t):
    return t.permute(0, 2, 3, 1)


def leaf(t):
    return t.clone().requires_grad_(True)


def away_from_zero(g, shape, margin=0.05):
    """Normal values pushed away from the relu/leaky kink (|x| >= margin)."""
    x = torch.randn(*shape, generator=g)
    x = torch.sign(x) * (x.abs() + margin)
    x[x == 0] = margin
    return f32(x)


def distinct(g, shape, lo=-2.0, hi=2.0):
    """All-distinct values (a random permutation of an even grid): no max-pool ties."""
    n = int(np.prod(shape))
    p = torch.randperm(n, generator=g).to(torch.float64)
    return f32((lo + (hi - lo) * (p + 0.5) / n).reshape(*shape))


# ---------------------------------------------------------------- conv
# cfg: n, h, w, c_in, c_out, kh, kw, stride, pad, has_bias
CONV_CASES = [
    # name,       n, h, w, cin, cout, k, stride, pad, bias
    ("k1s1",      2, 6, 5, 3, 4, 1, 1, 0, 1),
    ("k1s1_nb",   4, 5, 5, 4, 4, 1, 1, 0, 0),
    ("k1s2",      2, 7, 5, 3, 4, 1, 2, 0, 0),
    ("k3s1p1",    2, 7, 5, 3, 4, 3, 1, 1, 1),
    ("k3s2p1",    2, 7, 6, 4, 3, 3, 2, 1, 1),
    ("k3s1p0_nb", 3, 6, 7, 2, 5, 3, 1, 0, 0),
    ("k5s1p2",    2, 6, 6, 3, 2, 5, 1, 2, 1),
    ("k7s2p3",    2, 8, 7, 3, 4, 7, 2, 3, 1),
]


def make_conv(seed0):
    fx = Fixture("conv.bin")
    for i, (name, n, h, w, cin, cout, k, s, p, bias) in enumerate(CONV_CASES):
        g = torch.Generator().manual_seed(seed0 + i)
        x = leaf(randn(g, n, cin, h, w))
        wt = leaf(randn(g, cout, cin, k, k, scale=1.0 / np.sqrt(cin * k * k)))
        b = leaf(randn(g, cout, scale=0.5)) if bias else None
        out = F.conv2d(x, wt, b, stride=s, padding=p)
        dout = randn(g, *out.shape)
        out.backward(dout)
        fx.add(name + "/cfg", [n, h, w, cin, cout, k, k, s, p, bias])
        fx.add(name + "/x", nhwc(x))
        fx.add(name + "/w", wt.permute(2, 3, 1, 0))
        if bias:
            fx.add(name + "/b", b)
        fx.add(name + "/dout", nhwc(dout))
        fx.add(name + "/out", nhwc(out))
        fx.add(name + "/dx", nhwc(x.grad))
        fx.add(name + "/dw", wt.grad.permute(2, 3, 1, 0))
        if bias:
            fx.add(name + "/db", b.grad)
    fx.write()


# ---------------------------------------------------------------- batchnorm
# train cfg: m (=N*H*W), c, momentum, eps ; eval cfg: m, c, eps
BN_TRAIN_CASES = [("train_a", 2, 5, 6, 3), ("train_b", 4, 3, 3, 5)]
BN_EVAL_CASES = [("eval_a", 2, 5, 6, 3)]


def make_batchnorm(seed0):
    fx = Fixture("batchnorm.bin")
    mom, eps = 0.1, 1e-5
    for i, (name, n, h, w, c) in enumerate(BN_TRAIN_CASES):
        g = torch.Generator().manual_seed(seed0 + i)
        # per-channel offset and scale so the statistics matter
        x = leaf(f32(torch.randn(n, c, h, w, generator=g) * (0.5 + torch.rand(1, c, 1, 1, generator=g) * 2)
                     + torch.randn(1, c, 1, 1, generator=g)))
        gamma = leaf(randn(g, c, scale=0.3, shift=1.0))
        beta = leaf(randn(g, c, scale=0.5))
        rm = torch.zeros(c)
        rv = torch.ones(c)
        out = F.batch_norm(x, rm, rv, gamma, beta, training=True, momentum=mom, eps=eps)
        dout = randn(g, *out.shape)
        out.backward(dout)
        mean = x.detach().mean(dim=(0, 2, 3))
        var_b = x.detach().var(dim=(0, 2, 3), unbiased=False)
        fx.add(name + "/cfg", [n * h * w, c, mom, eps])
        fx.add(name + "/x", nhwc(x))
        fx.add(name + "/gamma", gamma)
        fx.add(name + "/beta", beta)
        fx.add(name + "/dout", nhwc(dout))
        fx.add(name + "/out", nhwc(out))
        fx.add(name + "/mean", mean)
        fx.add(name + "/rstd", 1.0 / torch.sqrt(var_b + eps))
        fx.add(name + "/running_mean", rm)   # after one step from (0, 1)
        fx.add(name + "/running_var", rv)
        fx.add(name + "/dx", nhwc(x.grad))
        fx.add(name + "/dgamma", gamma.grad)
        fx.add(name + "/dbeta", beta.grad)
    for i, (name, n, h, w, c) in enumerate(BN_EVAL_CASES):
        g = torch.Generator().manual_seed(seed0 + 100 + i)
        x = randn(g, n, c, h, w, scale=1.5, shift=0.3)
        gamma = randn(g, c, scale=0.3, shift=1.0)
        beta = randn(g, c, scale=0.5)
        rm = randn(g, c, scale=0.5)
        rv = f32(torch.rand(c, generator=g) * 2 + 0.2)
        out = F.batch_norm(x, rm, rv, gamma, beta, training=False, eps=eps)
        fx.add(name + "/cfg", [n * h * w, c, eps])
        fx.add(name + "/x", nhwc(x))
        fx.add(name + "/gamma", gamma)
        fx.add(name + "/beta", beta)
        fx.add(name + "/running_mean", rm)
        fx.add(name + "/running_var", rv)
        fx.add(name + "/out", nhwc(out))
    fx.write()


# ---------------------------------------------------------------- activations
# cfg: n (element count) [, slope]
def make_act(seed0):
    fx = Fixture("act.bin")
    shape = (2, 3, 5, 6)  # elementwise: layout is irrelevant, stored flat in NHWC order
    cases = [
        ("relu", lambda t: F.relu(t), True),
        ("leaky", lambda t: F.leaky_relu(t, 0.1), True),
        ("gelu", lambda t: F.gelu(t, approximate="none"), False),
        ("silu", lambda t: F.silu(t), False),
    ]
    for i, (name, fn, kink) in enumerate(cases):
        g = torch.Generator().manual_seed(seed0 + i)
        x0 = away_from_zero(g, shape, 1e-2) * 1.5 if kink else randn(g, *shape, scale=2.0)
        x0 = f32(x0)
        x = leaf(x0)
        out = fn(x)
        dout = randn(g, *shape)
        out.backward(dout)
        n = x.numel()
        fx.add(name + "/cfg", [n, 0.1] if name == "leaky" else [n])
        fx.add(name + "/x", nhwc(x))
        fx.add(name + "/dout", nhwc(dout))
        fx.add(name + "/out", nhwc(out))
        fx.add(name + "/dx", nhwc(x.grad))
    fx.write()


# ---------------------------------------------------------------- pooling
# cfg: n, h, w, c, size, stride, pad   (global: n, h, w, c)
MAX_CASES = [("max_2_2_0", 2, 7, 5, 3, 2, 2, 0), ("max_3_2_1", 2, 7, 6, 2, 3, 2, 1),
             ("max_3_1_1", 2, 5, 6, 3, 3, 1, 1)]
AVG_CASES = [("avg_2_2_0", 2, 7, 6, 3, 2, 2, 0), ("avg_3_2_1", 2, 7, 5, 2, 3, 2, 1)]
GAP_CASES = [("gap", 3, 5, 6, 4)]


def make_pool(seed0):
    fx = Fixture("pool.bin")
    i = 0
    for kind, cases in (("max", MAX_CASES), ("avg", AVG_CASES)):
        for name, n, h, w, c, k, s, p in cases:
            g = torch.Generator().manual_seed(seed0 + i)
            i += 1
            x = leaf(distinct(g, (n, c, h, w)) if kind == "max" else randn(g, n, c, h, w))
            if kind == "max":
                out = F.max_pool2d(x, k, s, p)
            else:
                out = F.avg_pool2d(x, k, s, p, ceil_mode=False, count_include_pad=True)
            dout = randn(g, *out.shape)
            out.backward(dout)
            fx.add(name + "/cfg", [n, h, w, c, k, s, p])
            fx.add(name + "/x", nhwc(x))
            fx.add(name + "/dout", nhwc(dout))
            fx.add(name + "/out", nhwc(out))
            fx.add(name + "/dx", nhwc(x.grad))
    for name, n, h, w, c in GAP_CASES:
        g = torch.Generator().manual_seed(seed0 + 50)
        x = leaf(randn(g, n, c, h, w))
        out = x.mean(dim=(2, 3))
        dout = randn(g, *out.shape)
        out.backward(dout)
        fx.add(name + "/cfg", [n, h, w, c])
        fx.add(name + "/x", nhwc(x))
        fx.add(name + "/dout", dout)
        fx.add(name + "/out", out)
        fx.add(name + "/dx", nhwc(x.grad))
    fx.write()


# ---------------------------------------------------------------- linear
# cfg: n, in, out, has_bias
LIN_CASES = [("bias", 4, 7, 5, 1), ("nobias", 3, 6, 4, 0)]


def make_linear(seed0):
    fx = Fixture("linear.bin")
    for i, (name, n, fin, fout, bias) in enumerate(LIN_CASES):
        g = torch.Generator().manual_seed(seed0 + i)
        x = leaf(randn(g, n, fin))
        wt = leaf(randn(g, fout, fin, scale=1.0 / np.sqrt(fin)))
        b = leaf(randn(g, fout, scale=0.5)) if bias else None
        out = F.linear(x, wt, b)
        dout = randn(g, *out.shape)
        out.backward(dout)
        fx.add(name + "/cfg", [n, fin, fout, bias])
        fx.add(name + "/x", x)
        fx.add(name + "/w", wt.t())
        if bias:
            fx.add(name + "/b", b)
        fx.add(name + "/dout", dout)
        fx.add(name + "/out", out)
        fx.add(name + "/dx", x.grad)
        fx.add(name + "/dw", wt.grad.t())
        if bias:
            fx.add(name + "/db", b.grad)
    fx.write()


# ---------------------------------------------------------------- add / concat
# add cfg: n (floats per input), k ; concat cfg: m (=N*H*W), k, c0, c1, ...
def make_join(seed0):
    fx = Fixture("join.bin")
    for i, k in enumerate((2, 3)):
        name = "add%d" % k
        g = torch.Generator().manual_seed(seed0 + i)
        shape = (2, 3, 4, 5)
        xs = [leaf(randn(g, *shape)) for _ in range(k)]
        out = sum(xs[1:], xs[0])
        dout = randn(g, *shape)
        out.backward(dout)
        fx.add(name + "/cfg", [xs[0].numel(), k])
        for j, x in enumerate(xs):
            fx.add("%s/x%d" % (name, j), nhwc(x))
            fx.add("%s/dx%d" % (name, j), nhwc(x.grad))
        fx.add(name + "/dout", nhwc(dout))
        fx.add(name + "/out", nhwc(out))
    name = "concat3"
    g = torch.Generator().manual_seed(seed0 + 10)
    n, h, w, cs = 2, 4, 3, (2, 3, 1)
    xs = [leaf(randn(g, n, c, h, w)) for c in cs]
    out = torch.cat(xs, dim=1)
    dout = randn(g, *out.shape)
    out.backward(dout)
    fx.add(name + "/cfg", [n * h * w, len(cs)] + list(cs))
    for j, x in enumerate(xs):
        fx.add("%s/x%d" % (name, j), nhwc(x))
        fx.add("%s/dx%d" % (name, j), nhwc(x.grad))
    fx.add(name + "/dout", nhwc(dout))
    fx.add(name + "/out", nhwc(out))
    fx.write()


# ---------------------------------------------------------------- softmax xent
# cfg: n, classes ; labels stored as float32 ; loss_sum = what softmax_xent
# returns, loss_mean = F.cross_entropy(reduction='mean'), dlogits = d loss_mean
# (scale 1/N), correct = top-1 count.
XENT_CASES = [("small", 4, 10, 1.0, 0.0), ("wide", 3, 7, 3.0, -1.0),
              ("large_logits", 4, 10, 30.0, 80.0)]  # exp overflows float32 unless max-shifted


def make_xent(seed0):
    fx = Fixture("xent.bin")
    for i, (name, n, k, scale, shift) in enumerate(XENT_CASES):
        g = torch.Generator().manual_seed(seed0 + i)
        logits = leaf(randn(g, n, k, scale=scale, shift=shift))
        labels = torch.randint(0, k, (n,), generator=g)
        labels[0] = int(logits[0].argmax())  # at least one correct prediction
        loss = F.cross_entropy(logits, labels, reduction="mean")
        loss.backward()
        correct = int((logits.detach().argmax(dim=1) == labels).sum())
        fx.add(name + "/cfg", [n, k])
        fx.add(name + "/logits", logits)
        fx.add(name + "/labels", labels.to(torch.float64))
        fx.add(name + "/loss_sum", loss.detach() * n)
        fx.add(name + "/loss_mean", loss.detach())
        fx.add(name + "/dlogits", logits.grad)
        fx.add(name + "/correct", [correct])
    fx.write()


# ---------------------------------------------------------------- blocks
# Whole networks through the model API (tests/test_blocks.c): one pytorch-cifar
# block on the 32x32x3 input -> global average pool -> Linear(C, 10).
# Shared input:  data/x (2,32,32,3) NHWC, data/labels (2)
# Per case:      cfg = n, classes, n_params, n_state
#                params, grads   flat, cnnrun node order and layouts (Model.params)
#                state           BN running mean[c] then var[c] per BN node, in
#                                node order, after the step from (0, 1) (Model.state)
#                logits (n,10), loss (mean cross-entropy)
# Parameters are PyTorch's default init (torch.manual_seed), rounded to float32.
class BasicBlock(nn.Module):
    """pytorch-cifar models/resnet.py BasicBlock."""

    def __init__(self, in_planes, planes, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = out + self.shortcut(x)
        return F.relu(out)

    def cnnrun_order(self):
        """conv1, conv1.bn, conv2, conv2.bn, shortcut, shortcut.bn (src/model/build.c)."""
        return [self.conv1, self.bn1, self.conv2, self.bn2] + list(self.shortcut)


class Inception(nn.Module):
    """pytorch-cifar models/googlenet.py Inception."""

    def __init__(self, in_planes, n1x1, n3x3red, n3x3, n5x5red, n5x5, pool_planes):
        super().__init__()
        cbr = lambda i, o, k: [nn.Conv2d(i, o, k, padding=k // 2), nn.BatchNorm2d(o), nn.ReLU(True)]
        self.b1 = nn.Sequential(*cbr(in_planes, n1x1, 1))
        self.b2 = nn.Sequential(*cbr(in_planes, n3x3red, 1), *cbr(n3x3red, n3x3, 3))
        self.b3 = nn.Sequential(*cbr(in_planes, n5x5red, 1), *cbr(n5x5red, n5x5, 3),
                                *cbr(n5x5, n5x5, 3))
        self.b4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                *cbr(in_planes, pool_planes, 1))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], 1)

    def cnnrun_order(self):
        """b1, b2a, b2b, b3a, b3b, b3c, b4pool, b4 (src/model/build.c); each conv then its bn."""
        return [m for b in (self.b1, self.b2, self.b3, self.b4) for m in b
                if isinstance(m, (nn.Conv2d, nn.BatchNorm2d))]


class BlockNet(nn.Module):
    def __init__(self, block, channels):
        super().__init__()
        self.block = block
        self.fc = nn.Linear(channels, 10)

    def forward(self, x):
        return self.fc(self.block(x).mean(dim=(2, 3)))

    def cnnrun_order(self):
        return self.block.cnnrun_order() + [self.fc]


def cnnrun_params(modules, grad=False):
    """Flat parameters (or their gradients) in cnnrun's node order and layouts."""
    parts = []
    for m in modules:
        w = m.weight.grad if grad else m.weight
        if isinstance(m, nn.Conv2d):
            w = w.permute(2, 3, 1, 0)          # (KH,KW,Cin,Cout)
        elif isinstance(m, nn.Linear):
            w = w.t()                          # (in,out)
        parts.append(w.reshape(-1))
        if m.bias is not None:
            parts.append((m.bias.grad if grad else m.bias).reshape(-1))
    return torch.cat(parts)


def cnnrun_state(modules):
    return torch.cat([torch.cat([m.running_mean, m.running_var]) for m in modules
                      if isinstance(m, nn.BatchNorm2d)])


BLOCK_CASES = [
    ("residual", lambda: BasicBlock(3, 8, stride=2), 8),
    ("inception", lambda: Inception(3, 4, 3, 5, 2, 3, 2), 4 + 5 + 3 + 2),
]


def make_blocks(seed0):
    fx = Fixture("blocks.bin")
    n = 2
    g = torch.Generator().manual_seed(seed0)
    x = randn(g, n, 3, 32, 32)
    labels = torch.tensor([3, 7])
    fx.add("data/x", nhwc(x))
    fx.add("data/labels", labels.to(torch.float64))
    for i, (name, make, channels) in enumerate(BLOCK_CASES):
        torch.manual_seed(seed0 + 1 + i)
        net = BlockNet(make(), channels)
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(f32(p))
        order = net.cnnrun_order()
        # every parameter appears exactly once in the cnnrun order
        assert sum(p.numel() for p in net.parameters()) == cnnrun_params(order).numel()
        params = cnnrun_params(order).detach().clone()
        net.train()
        logits = net(x)
        loss = F.cross_entropy(logits, labels, reduction="mean")
        loss.backward()
        state = cnnrun_state(order)
        fx.add(name + "/cfg", [n, 10, params.numel(), state.numel()])
        fx.add(name + "/params", params)
        fx.add(name + "/logits", logits)
        fx.add(name + "/loss", loss)
        fx.add(name + "/grads", cnnrun_params(order, grad=True))
        fx.add(name + "/state", state)
    fx.write()

# ---------------------------------------------------------------- muon
# The Muon update of airbench94_muon.py (KellerJordan/cifar10-airbench @ 096d14d9,
# /work/notes/airbench-spec.md section 4), written out in float64 from its formulas:
#   buf = mu*buf + g;  u = g + mu*buf (nesterov) or buf
#   p *= sqrt(len(p)) / |p|_F                                 (before the update)
#   X = u.reshape(out, -1) / (|u|_F + 1e-7); X = X^T if out > in*kh*kw
#   ns times: A = X X^T; B = b A + c A A; X = a X + B X;  transposed back
#   p -= lr * X
# cfg: rows, cols (cnnrun's (K, out) matrix), steps, momentum, nesterov, ns_steps, lr
MUON_CASES = [
    # name,        PyTorch weight shape, steps, momentum, nesterov, ns, lr
    ("conv3x3",    (8, 4, 3, 3),  3, 0.6, 1, 3, 0.24),   # out < K: no transpose
    ("conv1x1_tall", (12, 5, 1, 1), 3, 0.9, 0, 3, 0.1),  # out > K: PyTorch transposes
    ("linear",     (10, 16),      2, 0.6, 1, 5, 0.2),
    ("linear_tall", (16, 6),      2, 0.85, 1, 3, 0.05),
    ("square",     (6, 6),        2, 0.0, 0, 3, 0.3),    # out == K: no transpose
]


def newton_schulz(G, steps, eps=1e-7):
    a, b, c = (3.4445, -4.7750, 2.0315)
    X = G / (G.norm() + eps)
    tall = G.size(0) > G.size(1)
    if tall:
        X = X.T
    for _ in range(steps):
        A = X @ X.T
        B = b * A + c * A @ A
        X = a * X + B @ X
    return X.T if tall else X


def to_cnnrun(t):
    """PyTorch conv (out,in,kh,kw) -> (kh,kw,in,out); linear (out,in) -> (in,out)."""
    return t.permute(2, 3, 1, 0) if t.dim() == 4 else t.t()


def make_muon(seed0):
    fx = Fixture("muon.bin")
    for i, (name, shape, steps, mu, nesterov, ns, lr) in enumerate(MUON_CASES):
        g = torch.Generator().manual_seed(seed0 + i)
        p = randn(g, *shape, scale=0.3)
        out = shape[0]
        k = int(np.prod(shape[1:]))
        fx.add(name + "/cfg", torch.tensor([k, out, steps, mu, nesterov, ns, lr]))
        fx.add(name + "/w0", to_cnnrun(p))
        buf = torch.zeros_like(p)
        for s in range(steps):
            grad = randn(g, *shape)
            fx.add("%s/g%d" % (name, s), to_cnnrun(grad))
            buf = mu * buf + grad
            u = grad + mu * buf if nesterov else buf
            p = p * (len(p) ** 0.5 / p.norm())
            p = p - lr * newton_schulz(u.reshape(out, -1), ns).view(shape)
            fx.add("%s/w%d" % (name, s + 1), to_cnnrun(p))
        fx.add(name + "/buf", to_cnnrun(buf))
    fx.write()


# ---------------------------------------------------------------- test-time augmentation
# cfg: n. pixels: the images as CIFAR stores them (R, G, B planes of uint8
# values); w: a linear layer (3072 -> 10, no bias) over the flattened NHWC
# image; views: the 6 views of the normalised images (NHWC); loss_*: the
# cross-entropy of the weighted view logits (airbench's TTA).
def make_tta(seed0):
    fx = Fixture("tta.bin")
    g = torch.Generator().manual_seed(seed0)
    n = 3
    pix = torch.randint(0, 256, (n, 3, 32, 32), generator=g).to(torch.float64)
    labels = torch.tensor([3, 0, 7])
    mean = torch.tensor([0.4914, 0.4822, 0.4465], dtype=torch.float32).to(torch.float64)
    std = torch.tensor([0.2470, 0.2435, 0.2616], dtype=torch.float32).to(torch.float64)
    x = f32((pix / 255.0 - mean.view(1, 3, 1, 1)) / std.view(1, 3, 1, 1))
    w = randn(g, 32 * 32 * 3, 10, scale=0.02)
    pad = F.pad(x, (1, 1, 1, 1), mode="reflect")
    a, c = pad[:, :, 0:32, 0:32], pad[:, :, 2:34, 2:34]
    views = [x, x.flip(3), a, a.flip(3), c, c.flip(3)]

    def logits(v):
        return nhwc(v).reshape(n, -1) @ w

    mirror = 0.5 * logits(views[0]) + 0.5 * logits(views[1])
    both = 0.5 * mirror + 0.5 * (0.5 * (0.5 * logits(a) + 0.5 * logits(a.flip(3))) +
                                 0.5 * (0.5 * logits(c) + 0.5 * logits(c.flip(3))))
    fx.add("tta/cfg", [n])
    fx.add("tta/pixels", pix)
    fx.add("tta/labels", labels.to(torch.float64))
    fx.add("tta/w", w)
    for k, v in enumerate(views):
        fx.add("tta/view%d" % k, nhwc(v))
    fx.add("tta/loss_none", F.cross_entropy(logits(x), labels))
    fx.add("tta/loss_mirror", F.cross_entropy(mirror, labels))
    fx.add("tta/loss_mirror_translate", F.cross_entropy(both, labels))


# ---------------------------------------------------------------- whitening init
# conv `init = whiten` (src/model/whiten.c) on the embedded sample's first
# training images (data/sample/data_batch_1.bin, CIFAR-10's own first records),
# normalised exactly as cnnrun's cifar_make_batch does it in float32. The
# reference is airbench94's get_whitening_parameters in float64: the patches
# unfolded at stride 1 without padding, S = X^T X / n (uncentred), eigh
# ascending (the airbench94_muon order), filter k = v_k / sqrt(lambda_k + eps),
# then the negatives. Stored in cnnrun's weight layout (KH, KW, C_in, 2D).
# cfg: images, pool (max-pool window before the conv, 0 = none), k, c, eps
WHITEN_CASES = [
    # name,       images, pool, k, eps
    ("stem",      500,    0,    2, 5e-4),
    ("after_pool", 200,   2,    3, 1e-3),
]
SAMPLE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "data", "sample")


def sample_images(n):
    """The first n training images of the sample as cnnrun normalises them (NCHW float64)."""
    raw = np.fromfile(os.path.join(SAMPLE_DIR, "data_batch_1.bin"), dtype=np.uint8)
    rec = raw.reshape(-1, 3073)[:n, 1:].reshape(n, 3, 32, 32)
    mean = np.array([0.4914, 0.4822, 0.4465], dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.array([0.2470, 0.2435, 0.2616], dtype=np.float32).reshape(1, 3, 1, 1)
    x = (rec.astype(np.float32) / np.float32(255.0) - mean) / std  # float32 throughout
    return torch.from_numpy(x.astype(np.float64))


def whiten_weights(x, k, eps):
    c = x.shape[1]
    patches = x.unfold(2, k, 1).unfold(3, k, 1).transpose(1, 3).reshape(-1, c, k, k)
    flat = patches.reshape(patches.shape[0], -1)
    cov = flat.t() @ flat / flat.shape[0]
    lam, vec = torch.linalg.eigh(cov, UPLO="U")          # ascending
    filt = vec.t().reshape(-1, c, k, k) / torch.sqrt(lam + eps).view(-1, 1, 1, 1)
    w = torch.cat([filt, -filt])                           # (2D, c, k, k)
    return w.permute(2, 3, 1, 0).reshape(c * k * k, -1), lam, cov


def make_whiten(seed0):
    del seed0  # no random draws: real images
    fx = Fixture("whiten.bin")
    for name, n, pool, k, eps in WHITEN_CASES:
        x = sample_images(n)
        if pool:
            x = F.max_pool2d(x, pool)
        w, lam, cov = whiten_weights(x, k, eps)
        # the same in float32, as airbench94 computes it (for the README's numbers only)
        w32, _, _ = whiten_weights(x.float(), k, eps)
        d = w.shape[0]
        diff = max(min((w32[:, j].double() - w[:, j]).abs().max().item(),
                       (w32[:, j].double() + w[:, j]).abs().max().item()) /
                   w[:, j].abs().max().item() for j in range(d))
        print("  whiten/%s: D=%d lambda %.3g .. %.3g, min gap %.3g, float32 vs float64 %.2g" % (
            name, d, lam[0].item(), lam[-1].item(), (lam[1:] - lam[:-1]).min().item(), diff))
        fx.add(name + "/cfg", [n, pool, k, x.shape[1], eps])
        fx.add(name + "/weight", w)
        fx.add(name + "/lambda", lam)
        fx.add(name + "/cov", cov)
    fx.write()


MAKERS = [("conv", make_conv, 1000), ("batchnorm", make_batchnorm, 2000), ("act", make_act, 3000),
          ("pool", make_pool, 4000), ("linear", make_linear, 5000), ("join", make_join, 6000),
          ("xent", make_xent, 7000), ("blocks", make_blocks, 8000), ("tta", make_tta, 9000),
          ("whiten", make_whiten, 10000),
          ("muon", make_muon, 11000)]


def main(names):
    known = [n for n, _, _ in MAKERS]
    for n in names:
        if n not in known:
            sys.exit("unknown fixture %r (known: %s)" % (n, ", ".join(known)))
    os.makedirs(OUT_DIR, exist_ok=True)
    for name, make, seed in MAKERS:
        if not names or name in names:
            make(seed)
    total = sum(os.path.getsize(os.path.join(OUT_DIR, f)) for f in os.listdir(OUT_DIR)
                if f.endswith(".bin"))
    print("total %d bytes in %s" % (total, os.path.normpath(OUT_DIR)))


if __name__ == "__main__":
    main(sys.argv[1:])
