#!/usr/bin/env python3
"""Grouped cross-validation of a device's power.moe_active_w.

fit-moe.sh --power picks the value that fits the MoE training rows best;
validation/power/README.md keeps a value only if it also carries to rows it
was not chosen on. This script checks that, on the TRAINING rows of
validation/power/cases.csv only (datasets mlenergy-v3-moe and
mlenergy-v3-moe-stall, as fit-moe.sh takes them): every row is simulated
(validation/power/case.sh) on a copy of the device's profile for each value
of the grid; then, leaving out one group at a time (the model, its weight
format and its GPU count: the case's model and configuration, e.g.
qwen3-235b-a22b b200x2-fp8), the value with the lowest median
|log(servesim / measured)| of mean power per device on the other groups is
chosen and scored on the left-out group's rows. Printed: per grid value, the
in-sample median; per group, the value chosen without it and its rows'
median |log error| with that value and with 0; and the median over all rows
of the left-out errors against the same with no term.

  python3 validation/tools/moe-power-cv.py --device b200 [--grid "0 50 ..."]
          [--bin SERVESIM] [--jobs N]

Maintainer tool for validation/power/README.md; changes nothing.
"""
import argparse
import csv
import math
import os
import re
import statistics
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CASES = os.path.join(ROOT, "validation", "power", "cases.csv")
CASE_SH = os.path.join(ROOT, "validation", "power", "case.sh")


def variant(device, watts, path):
    """The device's profile with power.moe_active_w set to @watts."""
    out, section = [], ""
    with open(os.path.join(ROOT, "hwprofiles", device + ".yaml")) as f:
        for line in f:
            if re.match(r"^[^ #]", line):
                section = line.split(":")[0]
            if section == "power" and re.match(r"^  moe_active_w:", line):
                continue
            out.append(line)
            if line.startswith("power:"):
                out.append("  moe_active_w: %s\n" % watts)
    with open(path, "w") as f:
        f.writelines(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="b200")
    ap.add_argument("--grid", default="0 25 50 75 100 150 200 250 300 400")
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "servesim"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    a = ap.parse_args()
    grid = [float(x) for x in a.grid.split()]

    rows = []
    with open(CASES) as f:
        lines = f.read().splitlines()
    header = None
    for n, line in enumerate(lines, 1):
        if line.startswith("#"):
            continue
        if header is None:
            header = line.split(",")
            continue
        r = dict(zip(header, line.split(",")))
        if (r["split"] == "train" and r["device"] == a.device and
                r["dataset"] in ("mlenergy-v3-moe", "mlenergy-v3-moe-stall") and r["power_w"]):
            model = re.search(r"(?:^| )model=(\S+)", r["sets"]).group(1)
            group = model + " " + r["id"].split("/")[3]
            rows.append((n, group, float(r["power_w"])))

    work = tempfile.mkdtemp(prefix="moe-power-cv-")
    profiles = {}
    for w in grid:
        profiles[w] = os.path.join(work, "p%g.yaml" % w)
        variant(a.device, "%g" % w, profiles[w])

    def run(job):
        line, w = job
        out = subprocess.run(["bash", CASE_SH, a.bin, str(line), os.path.join(work, "runs"),
                              profiles[w]], capture_output=True, text=True)
        f = out.stdout.strip().split("|")
        ok = out.returncode == 0 and len(f) > 10 and f[10] == "ok"
        return (line, w, float(f[5]) if ok else None)

    sim = {}
    with ThreadPoolExecutor(a.jobs) as ex:
        for line, w, p in ex.map(run, [(r[0], w) for r in rows for w in grid]):
            sim[line, w] = p

    def err(r, w):
        p = sim.get((r[0], w))
        return abs(math.log(p / r[2])) if p else None

    def med(rs, w):
        e = [x for x in (err(r, w) for r in rs) if x is not None]
        return statistics.median(e) if e else float("inf")

    print("# %d MoE training rows of %s; in-sample median |log err| of mean power" %
          (len(rows), a.device))
    for w in grid:
        print("moe_active_w %-5g %.1f %%" % (w, 100 * med(rows, w)))
    groups = sorted({r[1] for r in rows})
    left, left0 = [], []
    print("# leave one group out: value chosen on the rest, left-out median with it / with 0")
    for g in groups:
        rest = [r for r in rows if r[1] != g]
        mine = [r for r in rows if r[1] == g]
        best = min(grid, key=lambda w: (med(rest, w), w))
        left += [x for x in (err(r, best) for r in mine) if x is not None]
        left0 += [x for x in (err(r, 0.0) for r in mine) if x is not None]
        print("%-40s %3d rows  chosen %-5g  %.1f %% / %.1f %%" %
              (g, len(mine), best, 100 * med(mine, best), 100 * med(mine, 0.0)))
    print("left-out median |log err|: %.1f %% with the term, %.1f %% without" %
          (100 * statistics.median(left), 100 * statistics.median(left0)))


if __name__ == "__main__":
    main()
