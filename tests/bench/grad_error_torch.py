#!/usr/bin/python3
"""grad_error_torch.py — PyTorch's bf16 autocast gradients against its fp32
ones, layer by layer: what tests/bench/grad_error.c prints for cnnrun.

The same network (compare.py's torch_net, pytorch-cifar's definitions), one
batch of the first N training images of a CIFAR-10 binary directory
(normalised with the recipe's mean and std, no augmentation), weights from
torch.manual_seed(SEED), training mode. Forward and backward once in fp32,
once with torch.autocast('cpu', dtype=torch.bfloat16) around forward and
loss, and once more in fp32 with channels_last (another algorithm: what
fp32's own rounding moves). Prints each conv / batch norm / linear weight's
||g - g_fp32|| / ||g_fp32||.

  /usr/bin/python3 tests/bench/grad_error_torch.py DATA_DIR [N] [SEED] [--net resnet18]
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import torch_net  # noqa: E402

MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


def batch(data_dir, n):
    raw = np.fromfile(os.path.join(data_dir, "data_batch_1.bin"), dtype=np.uint8)
    raw = raw.reshape(-1, 3073)[:n]
    x = raw[:, 1:].reshape(n, 3, 32, 32).astype(np.float32) / 255.0
    x = (x - np.array(MEAN, np.float32)[None, :, None, None]) / np.array(STD, np.float32)[None, :, None, None]
    return torch.from_numpy(x), torch.from_numpy(raw[:, 0].astype(np.int64))


def grads(net, x, y, bf16=False, channels_last=False):
    net.zero_grad(set_to_none=True)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
        x = x.to(memory_format=torch.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = torch.nn.functional.cross_entropy(net(x), y)
    loss.backward()
    net.to(memory_format=torch.contiguous_format)
    return float(loss), {k: p.grad.detach().double().clone() for k, p in net.named_parameters()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data_dir")
    ap.add_argument("n", nargs="?", type=int, default=128)
    ap.add_argument("seed", nargs="?", type=int, default=1)
    ap.add_argument("--net", default="resnet18")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    net = torch_net(a.net)
    state = {k: v.clone() for k, v in net.state_dict().items()}
    x, y = batch(a.data_dir, a.n)
    runs = []
    for bf16, cl in [(False, False), (True, False), (True, True), (False, True)]:
        net.load_state_dict(state)  # the same weights and running statistics each time
        runs.append(grads(net, x, y, bf16, cl))
    (l0, g0) = runs[0]
    print(f"PyTorch {torch.__version__} {a.net}, batch {a.n} of training images, seed {a.seed}; "
          "weight gradients' relative error ||g - g_fp32|| / ||g_fp32||")
    print(f"{'parameter':28s} {'size':>8s} {'bf16':>10s} {'bf16 cl':>10s} {'fp32 cl':>10s}")
    print(f"{'loss (fp32) ' + format(l0, '.6f'):28s} {'':8s} " +
          " ".join(f"{l - l0:+10.2e}" for l, _ in runs[1:]))
    worst = [0.0] * 3
    for k, ref in g0.items():
        if not k.endswith("weight"):
            continue
        errs = [float((g[k] - ref).norm() / ref.norm()) for _, g in runs[1:]]
        worst = [max(w, e) for w, e in zip(worst, errs)]
        print(f"{k:28s} {ref.numel():8d} " + " ".join(f"{e:10.2e}" for e in errs))
    print(f"{'worst':28s} {'':8s} " + " ".join(f"{e:10.2e}" for e in worst))
    tot = [float(sum(((g[k] - g0[k]) ** 2).sum() for k in g0).sqrt() /
                 sum((g0[k] ** 2).sum() for k in g0).sqrt()) for _, g in runs[1:]]
    print(f"{'all parameters':28s} {'':8s} " + " ".join(f"{e:10.2e}" for e in tot))


if __name__ == "__main__":
    main()
