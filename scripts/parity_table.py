#!/usr/bin/env python3
"""parity_table.py — a run's epochs next to a PyTorch reference curve, as markdown.

  python3 scripts/parity_table.py RUN_ID ../shared/reference/pytorch_vgg16_seed_recipe.csv \
      [--db results/results.db]

Prints one row per epoch the run has: lr, train loss/acc, test loss/acc for
cnnrun and the reference, the test-accuracy difference, and cnnrun's seconds
and img/s. Standard library only.
"""
import argparse
import csv
import sqlite3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run_id", type=int)
    ap.add_argument("reference")
    ap.add_argument("--db", default="results/results.db")
    a = ap.parse_args()
    ref = {int(r["epoch"]): r for r in csv.DictReader(open(a.reference))}
    db = sqlite3.connect(a.db)
    rows = db.execute("select epoch, lr, train_loss, train_acc, test_loss, test_acc, seconds, "
                      "images_per_sec from epochs where run_id = ? order by epoch",
                      (a.run_id,)).fetchall()
    print("| epoch | lr | train loss (cnnrun / PyTorch) | train acc | test loss | test acc | "
          "Δ test acc | seconds | img/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for ep, lr, tl, ta, vl, va, sec, ips in rows:
        r = ref.get(ep)
        if not r:
            continue
        print(f"| {ep} | {lr:.5f} / {float(r['lr']):.5f} | {tl:.4f} / {float(r['train_loss']):.4f} "
              f"| {100 * ta:.2f} % / {100 * float(r['train_acc']):.2f} % "
              f"| {vl:.4f} / {float(r['test_loss']):.4f} "
              f"| {100 * va:.2f} % / {100 * float(r['test_acc']):.2f} % "
              f"| {100 * (va - float(r['test_acc'])):+.2f} | {sec:.0f} | {ips:.0f} |")


if __name__ == "__main__":
    main()
