#!/usr/bin/env python3
"""onnx_check.py — an exported model checked outside cnnrun (issue 17).

For each experiment file (none given: a tiny network written here that has
every op the exporter emits — conv with and without bias, batch norm, ReLU,
leaky ReLU, GELU, SiLU, max and average pooling, a residual block, add of
three, concat, flatten of a 4x4 map, dropout, linear with a logit scale):

  1. trains it one step from its initial weights (`cnnrun run` on one batch
     of the embedded sample), which also moves the batch-norm running
     statistics away from their initial 0 and 1;
  2. `cnnrun export` -> model.onnx; onnx.checker.check_model(full_check=True);
  3. `cnnrun eval --logits` on the first 256 test images;
  4. (not with --checker-only) evaluates the ONNX graph as `onnx` loads it,
     node by node, with PyTorch's functional ops in float64 — an interpreter
     of the ops the exporter emits, knowing nothing of cnnrun — on the same
     images (RGB / 255, NCHW), and compares the logits with cnnrun's: the
     error of an image is max_j |onnx_j - cnnrun_j| / max_j |cnnrun_j|; the
     largest over the images must be below --tol (1e-4).

Exit status 0 when every file passes, 1 when one fails, 77 (meson's "skipped")
when python3-onnx, or for the comparison python3-torch, is not installed.

  tests/onnx_check.py --cnnrun build/cnnrun                      # the tiny net (CI)
  tests/onnx_check.py --cnnrun build/cnnrun experiments/resnet18.ini ...
"""
import argparse
import glob
import os
import subprocess
import sys
import tempfile

TINY = """
[experiment]
name = onnx_tiny
epochs = 1
[data]
batch_size = 50
[schedule]
type = constant
lr = 0.05
[layer.c1]
type = conv
filters = 8
batchnorm = true
activation = gelu
[layer.c2]
type = conv
filters = 8
stride = 2
batchnorm = true
activation = silu
[layer.pool]
type = maxpool
size = 2
[layer.res]
type = residual
filters = 8
[layer.leak]
type = leaky
[layer.side]
type = conv
filters = 4
size = 1
batchnorm = false
activation = relu
input = res
[layer.cat]
type = concat
inputs = leak, side
[layer.sum3]
type = add
inputs = leak, res, pool
[layer.cat2]
type = concat
inputs = cat, sum3
[layer.pool2]
type = avgpool
size = 3
stride = 2
pad = 1
[layer.flat]
type = flatten
[layer.drop]
type = dropout
probability = 0.5
[layer.fc]
type = linear
outputs = 10
scale = 0.5
"""

# one training batch; the 256 test images of the comparison
CHEAP = ["experiment.epochs=1", "experiment.eval_every=1", "experiment.tta=none",
         "data.batch_size=50", "data.train_subset=50", "data.test_subset=256"]


def run(cmd, **kw):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if p.returncode != 0:
        sys.stdout.write(p.stdout)
        raise RuntimeError("%s: exit status %d" % (" ".join(cmd), p.returncode))
    return p.stdout


def test_images(data_dir, n):
    """The first n test images as RGB / 255 in NCHW float32 (as cnnrun: (float)v / 255.0f)."""
    import numpy as np
    raw = np.fromfile(os.path.join(data_dir, "test_batch.bin"), dtype=np.uint8)
    rec = raw.reshape(-1, 3073)[:n]
    return rec[:, 0].astype(np.int64), (rec[:, 1:].reshape(-1, 3, 32, 32).astype(np.float32)
                                        / np.float32(255))


def evaluate_onnx(model, x):
    """The graph over input x, node by node, in float64 with torch.nn.functional."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from onnx import helper, numpy_helper

    env = {t.name: torch.from_numpy(numpy_helper.to_array(t).astype(
        np.float64 if t.data_type == 1 else np.int64)) for t in model.graph.initializer}
    env[model.graph.input[0].name] = torch.from_numpy(x.astype(np.float64))

    def pads2d(a, pads):  # ONNX (top, left, bottom, right) -> a padded copy or (ph, pw)
        if pads[0] == pads[2] and pads[1] == pads[3]:
            return a, (pads[0], pads[1])
        return F.pad(a, (pads[1], pads[3], pads[0], pads[2])), (0, 0)

    for node in model.graph.node:
        at = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        i = [env[name] for name in node.input]
        op = node.op_type
        if op in ("Add", "Sub", "Mul", "Div"):
            y = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div}[op](*i)
        elif op == "Sum":
            y = i[0]
            for t in i[1:]:
                y = y + t
        elif op == "Erf":
            y = torch.erf(i[0])
        elif op == "Sigmoid":
            y = torch.sigmoid(i[0])
        elif op == "Relu":
            y = F.relu(i[0])
        elif op == "LeakyRelu":
            y = F.leaky_relu(i[0], at.get("alpha", 0.01))
        elif op == "Identity":
            y = i[0]
        elif op == "Conv":
            assert at.get("group", 1) == 1 and list(at.get("dilations", [1, 1])) == [1, 1]
            a, pad = pads2d(i[0], list(at.get("pads", [0, 0, 0, 0])))
            y = F.conv2d(a, i[1], i[2] if len(i) > 2 else None, stride=tuple(at["strides"]),
                         padding=pad)
        elif op == "BatchNormalization":
            y = F.batch_norm(i[0], i[3], i[4], i[1], i[2], training=False,
                             eps=at.get("epsilon", 1e-5))
        elif op in ("MaxPool", "AveragePool"):
            assert at.get("ceil_mode", 0) == 0
            pads = list(at.get("pads", [0, 0, 0, 0]))
            assert pads[0] == pads[2] and pads[1] == pads[3]
            k, s, p = tuple(at["kernel_shape"]), tuple(at["strides"]), (pads[0], pads[1])
            if op == "MaxPool":
                y = F.max_pool2d(i[0], k, s, p)
            else:
                y = F.avg_pool2d(i[0], k, s, p, count_include_pad=bool(at.get("count_include_pad", 0)))
        elif op == "GlobalAveragePool":
            y = i[0].mean(dim=(2, 3), keepdim=True)
        elif op == "Transpose":
            y = i[0].permute(*at["perm"])
        elif op == "Flatten":
            y = torch.flatten(i[0], at.get("axis", 1))
        elif op == "Reshape":
            shape = [d if d != 0 else i[0].shape[j] for j, d in enumerate(i[1].tolist())]
            y = i[0].reshape(shape)
        elif op == "Concat":
            y = torch.cat(i, dim=at["axis"])
        elif op == "Gemm":
            a = i[0].t() if at.get("transA", 0) else i[0]
            b = i[1].t() if at.get("transB", 0) else i[1]
            y = at.get("alpha", 1.0) * (a @ b)
            if len(i) > 2:
                y = y + at.get("beta", 1.0) * i[2]
        else:
            raise RuntimeError("op %s is not in this interpreter" % op)
        env[node.output[0]] = y
    return env[model.graph.output[0].name].numpy()


def check_one(args, ini, work):
    import numpy as np
    import onnx
    name = os.path.splitext(os.path.basename(ini))[0]
    sets = []
    for s in CHEAP + args.set:
        sets += ["--set", s]
    threads = ["--threads", str(args.threads)] if args.threads else []
    common = ["--data", args.data] + threads  # export loads no data: it takes no --data
    env = dict(os.environ)
    env.setdefault("CNNRUN_CONV", "rule")
    db = os.path.join(work, "r.db")
    run([args.cnnrun, "run", ini, "--db", db] + common + sets, env=env)
    ckpt = sorted(glob.glob(os.path.join(work, "r-checkpoints", "*-last.ckpt")))[-1]
    path = os.path.join(work, name + ".onnx")
    run([args.cnnrun, "export", ini, "--weights", ckpt, "-o", path] + threads + sets, env=env)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    ops = sorted({n.op_type for n in model.graph.node})
    line = "%s: checker ok (opset %d, %d nodes, %d initialisers: %s)" % (
        name, model.opset_import[0].version, len(model.graph.node),
        len(model.graph.initializer), " ".join(ops))
    if args.checker_only:
        print(line)
        return True
    logits_file = os.path.join(work, "logits.txt")
    run([args.cnnrun, "eval", ini, "--weights", ckpt, "--logits", logits_file] + common + sets,
        env=env)
    want = np.loadtxt(logits_file, ndmin=2)
    labels, x = test_images(args.data, want.shape[0])
    assert (want[:, 0].astype(np.int64) == labels).all(), "eval's labels are not the file's"
    want = want[:, 1:]
    got = evaluate_onnx(model, x)
    assert got.shape == want.shape, (got.shape, want.shape)
    rel = np.abs(got - want).max(axis=1) / np.maximum(np.abs(want).max(axis=1), 1e-30)
    agree = (got.argmax(axis=1) == want.argmax(axis=1)).mean()
    ok = rel.max() < args.tol
    print("%s; %d images: max relative error %.3g (median %.3g), top-1 agreement %.4f, "
          "logits up to %.3g: %s" % (line, want.shape[0], rel.max(), np.median(rel), agree,
                                     np.abs(want).max(), "ok" if ok else "FAIL (tol %g)" % args.tol))
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cnnrun", required=True)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                   "..", "data", "sample"))
    ap.add_argument("--checker-only", action="store_true",
                    help="export and onnx.checker only (needs no torch)")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--set", action="append", default=[], help="more --set overrides")
    ap.add_argument("ini", nargs="*")
    args = ap.parse_args()
    try:
        import numpy  # noqa: F401
        import onnx  # noqa: F401
    except ImportError as e:
        print("skipped: %s (Debian: python3-onnx)" % e)
        return 77
    if not args.checker_only:
        try:
            import torch  # noqa: F401
        except ImportError as e:
            print("skipped: %s (Debian: python3-torch)" % e)
            return 77
    ok = True
    with tempfile.TemporaryDirectory(prefix="onnx_check.") as tmp:
        files = args.ini
        if not files:
            files = [os.path.join(tmp, "onnx_tiny.ini")]
            with open(files[0], "w") as f:
                f.write(TINY)
        for k, ini in enumerate(files):
            work = os.path.join(tmp, "w%d" % k)
            os.mkdir(work)
            try:
                ok = check_one(args, ini, work) and ok
            except Exception as e:  # one file's failure is reported, the others go on
                print("%s: FAIL: %s" % (ini, e))
                ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
