#!/usr/bin/env python3
"""seed_study_projection.py — projected wall time of the seed's study (VGG-16, ResNet-18,
GoogLeNet; 50 epochs each) on 2 cores, one 16-core machine and 8 of them, from measured
training rates (docs/seed-study.md). Prints a Markdown table.

Usage: seed_study_projection.py FACTOR VGG2 RES2 GOOG2 VGG1 RES1 GOOG1
  FACTOR   epoch seconds x training img/s / 50,000 (evaluation and the epoch's other work),
           measured from real epochs
  *2, *1   `cnnrun bench` img/s of each network at 2 threads and at 1 thread, on this machine
The 16-core figures are issue 24/25's measurement on a lent 16-vCPU Xeon (ResNet-18: 91.0 img/s
at 2 threads, 334.7 at 16, eight 2-thread processes 549.9 in all); the other networks are taken
at the same ratio to ResNet-18 as on this machine."""
import sys

EPOCHS, TRAIN = 50, 50000
NETS = ("vgg16", "resnet18", "googlenet")
X_RES2, X_RES16, X_AGG8x2 = 91.0, 334.7, 549.9


def main(argv):
    if len(argv) != 8:
        sys.exit(__doc__)
    factor = float(argv[1])
    r2 = dict(zip(NETS, map(float, argv[2:5])))
    r1 = dict(zip(NETS, map(float, argv[5:8])))

    def hours(rate):
        return EPOCHS * factor * TRAIN / rate / 3600

    def each(rates):
        return ", ".join("%s %.1f h" % (n, hours(rates[n])) for n in NETS)

    rows = []
    seq2 = sum(hours(r2[n]) for n in NETS)
    rows.append(("2 cores (here)", "`run experiments/seed-study --threads 2`, one at a time",
                 "%.1f h" % seq2, each(r2)))
    goog1 = hours(r1["googlenet"])
    rest1 = hours(r1["vgg16"]) + hours(r1["resnet18"])
    rows.append(("2 cores (here)", "`--jobs 2 --threads 1`", "%.1f h" % max(goog1, rest1),
                 "GoogLeNet on one core %.1f h; VGG-16 then ResNet-18 on the other %.1f h"
                 % (goog1, rest1)))
    ratio = {n: r2[n] / r2["resnet18"] for n in NETS}
    x16 = {n: X_RES16 * ratio[n] for n in NETS}
    x2 = {n: X_RES2 * ratio[n] for n in NETS}
    seq16 = sum(hours(x16[n]) for n in NETS)
    rows.append(("one 16-core machine", "`--threads 16`, one at a time", "%.1f h" % seq16,
                 each(x16)))
    bound = sum(hours(x2[n]) for n in NETS) * X_RES2 / X_AGG8x2
    rows.append(("one 16-core machine", "`--jobs 3 --threads 5`",
                 "≥ %.1f h" % max(bound, hours(x16["googlenet"])),
                 "not measured: all the work at eight 2-thread processes' rate would be %.1f h, "
                 "but GoogLeNet alone takes %.1f h even on all 16 threads" %
                 (bound, hours(x16["googlenet"]))))
    rows.append(("8 × 16 cores", "`mpirun -np 8 ... --ranks-per-run 1 --threads 16`",
                 "%.1f h" % hours(x16["googlenet"]),
                 "3 machines busy, 5 idle: the GoogLeNet run on one machine"))
    rows.append(("8 × 16 cores", "`mpirun -np 8 ... --threads 16` (each run over all 8)",
                 "%.1f–%.1f h" % (seq16 / 8, seq16 / 4),
                 "at 100 % and 50 % data-parallel efficiency over the network (not measured: "
                 "16 images per rank per step)"))
    print("| machine | command | study wall time | of which |")
    print("|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %s | %s |" % r)


if __name__ == "__main__":
    main(sys.argv)
