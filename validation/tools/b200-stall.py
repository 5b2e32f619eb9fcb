#!/usr/bin/env python3
"""The per-step stall of some ML.ENERGY v3 B200 runs: evidence from the data.

ML.ENERGY v3 publishes, per run, the steady-state output throughput, the mean
running batch, the mean GPU power and client ITL percentiles (no timelines,
no per-GPU power traces, no timestamps or node names). From those alone this
tool derives what the B200 runs that servesim finds 2-5x too fast differ in,
and prints the evidence validation/README.md quotes:

  1. the rule that marks a stalled sweep, from measurements only: a GPQA
     sweep whose step at batch 8 (mean batch / throughput) is more than
     STALL_RATIO times the step of the same model family's chat sweep on the
     same GPUs (GPQA contexts are longer, which costs <= 1.2x on H100);
  2. per marked run, the measured step, servesim's step (validation/results.csv)
     and the gap, and a least-squares fit gap = a + b x batch: a per-step cost
     has b ~ 0, a per-token one a ~ 0;
  3. the power the GPU draws while it waits: over the single-GPU B200 runs,
     mean power per GPU regressed on servesim's busy share (servesim step /
     measured step); the intercept is the power at zero busy share;
  4. single runs inside otherwise normal sweeps whose throughput falls or
     whose power drops by more than 10 % from the next smaller batch;
  5. the median / p90 |error| per suite and metric with and without the
     marked rows, from validation/results.csv, and the held-out power errors
     (validation/power/results.csv) with and without them;
  6. a what-if that no study applies: a constant stall per step, its size
     fitted on the marked training rows (the power work's split), checked on
     the marked held-out rows.

  python3 validation/tools/b200-stall.py [--data DIR]

DIR is ../shared/data (the default). Maintainer tool: reads the committed
results, runs nothing; make-cases.py applies the same rule (stalled_sweeps)
to put the marked rows in suites of their own.
"""
import argparse
import csv
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VAL = os.path.dirname(HERE)
STALL_RATIO = 1.5
SUITES = ["mlenergy-v3-h100", "mlenergy-v3-b200", "mlenergy-v3-moe",
          "mlenergy-v3-b200-stall", "mlenergy-v3-moe-b200-stall"]


def family(model_id):
    """Qwen3-30B-A3B-Thinking-2507 and -Instruct-2507 share one architecture."""
    return re.sub(r"-(Thinking|Instruct)-2507", "", model_id)


def step_ms(r):
    """Mean time per engine step: running sequences / output tokens per s."""
    return float(r["avg_batch_size"]) / float(r["output_throughput_tokens_per_sec"]) * 1e3


def stalled_sweeps(rows):
    """(task, model_id, gpu, gpus) of the sweeps the rule marks, and the ratios.

    rows: the v3 config rows (mlenergy_v3_llm_configs.csv as dicts)."""
    b8 = {}
    for r in rows:
        if r["max_num_seqs"] == "8" and r["task"] in ("gpqa", "lm-arena-chat"):
            b8[(r["task"], family(r["model_id"]), r["gpu_model"], r["num_gpus"])] = r
    marked, ratios = set(), []
    for (task, fam, gpu, n), r in sorted(b8.items()):
        chat = b8.get(("lm-arena-chat", fam, gpu, n))
        if task != "gpqa" or chat is None:
            continue
        ratio = step_ms(r) / step_ms(chat)
        ratios.append((fam, gpu, n, step_ms(r), step_ms(chat), ratio))
        if ratio > STALL_RATIO:
            marked.add((task, r["model_id"], gpu, n))
    return marked, ratios


def read_cases():
    """case id -> (suite, config row number) over the v3 case files."""
    out = {}
    for suite in SUITES:
        path = os.path.join(VAL, "cases", suite + ".csv")
        if not os.path.exists(path):
            continue
        with open(path) as f:
            lines = [l for l in f if not l.startswith("#")]
        for c in csv.DictReader(lines):
            m = re.search(r"configs\.csv:(\d+)", c["source"])
            out[c["id"]] = (suite, int(m.group(1)))
    return out


def pct(xs, q):
    """Linear interpolation between closest ranks, as aggregate.awk does."""
    xs = sorted(xs)
    if not xs:
        return float("nan")
    h = (len(xs) - 1) * q
    lo = int(h)
    return xs[lo] + (xs[min(lo + 1, len(xs) - 1)] - xs[lo]) * (h - lo)


def linfit(pts):
    n = len(pts)
    mx = sum(p[0] for p in pts) / n
    my = sum(p[1] for p in pts) / n
    sxx = sum((x - mx) ** 2 for x, _ in pts)
    b = sum((x - mx) * (y - my) for x, y in pts) / sxx
    a = my - b * mx
    res = [y - (a + b * x) for x, y in pts]
    return a, b, (sum(e * e for e in res) / n) ** 0.5


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=os.path.join(VAL, "..", "..", "shared", "data"))
    args = ap.parse_args()
    with open(os.path.join(args.data, "mlenergy_v3", "mlenergy_v3_llm_configs.csv")) as f:
        cfg = list(csv.DictReader(f))
    marked, ratios = stalled_sweeps(cfg)

    print(f"1. GPQA step / chat step at batch 8, same model family and GPUs (marked > {STALL_RATIO}):")
    for fam, gpu, n, s, c, ratio in ratios:
        print(f"   {fam:34s} {gpu} x{n}  {s:6.2f} / {c:6.2f} ms = {ratio:4.2f}"
              + ("  marked" if ratio > STALL_RATIO else ""))

    cases = read_cases()
    res = {}
    with open(os.path.join(VAL, "results.csv")) as f:
        for r in csv.DictReader(f):
            res[(r["case"], r["metric"])] = r
    runs = []
    for cid, (suite, row) in cases.items():
        d = cfg[row - 2]
        t = res.get((cid, "ss_tput_v3_tok_s"))
        if t is None or not t["servesim"]:
            continue
        n = int(d["num_gpus"])
        ab = float(d["avg_batch_size"])
        runs.append({
            "id": cid, "suite": suite, "gpu": d["gpu_model"], "n": n, "task": d["task"],
            "B": int(d["max_num_seqs"]), "meas": step_ms(d),
            "sim": ab / float(t["servesim"]) * 1e3, "P": float(d["avg_power_watts"]) / n,
            "marked": (d["task"], d["model_id"], d["gpu_model"], d["num_gpus"]) in marked,
            "sweep": (d["task"], d["model_id"], d["gpu_model"], n, d["weight_precision"])})

    print("\n2. Marked runs: measured step, servesim step, gap (ms), power per GPU (W):")
    gap_pts = []
    for r in sorted((r for r in runs if r["marked"]), key=lambda r: (r["sweep"], r["B"])):
        gap = r["meas"] - r["sim"]
        gap_pts.append((r["B"], gap))
        print(f"   {r['id']:46s} {r['meas']:6.2f} {r['sim']:6.2f} {gap:6.2f}  {r['P']:4.0f}")
    if gap_pts:
        a, b, rms = linfit(gap_pts)
        gaps = [g for _, g in gap_pts]
        print(f"   gap = {a:.1f} ms + {b * 1e3:.1f} us x batch (rms {rms:.1f} ms, {len(gap_pts)} runs);"
              f" median gap {statistics.median(gaps):.1f} ms, range {min(gaps):.1f}-{max(gaps):.1f}")
        small = [g for B, g in gap_pts if B <= 64]
        print(f"   batch 8-64 only: median gap {statistics.median(small):.1f} ms"
              f" (a per-token cost would grow 8x from batch 8 to 64)")

    print("\n3. Power per GPU against servesim's busy share x = servesim step / measured step,")
    print("   single-GPU B200 runs up to batch 256 (intercept = power while the GPU waits):")
    for label, sel in (("all", lambda r: True), ("marked", lambda r: r["marked"]),
                       ("unmarked", lambda r: not r["marked"])):
        pts = [(r["sim"] / r["meas"], r["P"]) for r in runs
               if r["gpu"] == "B200" and r["n"] == 1 and r["B"] <= 256 and sel(r)]
        if len(pts) > 2:
            a, b, rms = linfit(pts)
            print(f"   {label:8s} {len(pts):3d} runs: P = {a:4.0f} W + {b:4.0f} W x share (rms {rms:.0f} W)")

    print("\n4. Single runs in unmarked B200 sweeps whose throughput falls, or whose power per")
    print("   GPU drops by more than 10 %, from the next smaller batch:")
    by = {}
    for r in runs:
        by.setdefault(r["sweep"], []).append(r)
    for sw, rs in sorted(by.items()):
        if sw[2] != "B200" or rs[0]["marked"]:
            continue
        rs.sort(key=lambda r: r["B"])
        for prev, r in zip(rs, rs[1:]):
            tput_prev, tput = prev["B"] / prev["meas"], r["B"] / r["meas"]
            if tput < tput_prev or r["P"] < 0.9 * prev["P"]:
                print(f"   {r['id']:46s} step {r['meas']:6.2f} ms (servesim {r['sim']:6.2f}),"
                      f" {r['P']:4.0f} W after {prev['P']:4.0f} W at b{prev['B']}")

    print("\n5. Median / p90 |error| per suite and metric, with and without the marked runs:")
    marked_ids = {r["id"] for r in runs if r["marked"]}
    for suite in SUITES:
        for metric in ("ss_tput_v3_tok_s", "itl_p50_ms", "itl_p90_ms", "itl_p99_ms"):
            allv, keep = [], []
            for (cid, m), r in res.items():
                if m != metric or r["suite"] != suite or not r["error_pct"]:
                    continue
                e = abs(float(r["error_pct"]))
                allv.append(e)
                if cid not in marked_ids:
                    keep.append(e)
            if allv:
                line = f"   {suite:26s} {metric:17s} all {len(allv):3d}: {pct(allv, .5):5.1f} / {pct(allv, .9):6.1f} %"
                if keep:
                    line += f"   without marked {len(keep):3d}: {pct(keep, .5):5.1f} / {pct(keep, .9):6.1f} %"
                print(line)
    ppath = os.path.join(VAL, "power", "results.csv")
    if os.path.exists(ppath):
        print("   held-out power validation (validation/power/results.csv), B200:")
        with open(ppath) as f:
            prow = [r for r in csv.DictReader(f) if r["device"] == "b200"]
        for ds in sorted({r["dataset"] for r in prow}):
            for metric in sorted({r["metric"] for r in prow}):
                allv, keep = [], []
                for r in prow:
                    if r["dataset"] != ds or r["metric"] != metric or not r["error_pct"]:
                        continue
                    e = abs(float(r["error_pct"]))
                    allv.append(e)
                    if r["case"].split("/", 1)[1] not in marked_ids:
                        keep.append(e)
                if allv:
                    print(f"   {ds:26s} {metric:17s} all {len(allv):3d}: {pct(allv, .5):5.1f} %"
                          f"   without marked {len(keep):3d}: {pct(keep, .5):5.1f} %")

    print("\n6. What-if, not applied to any study: a constant stall added to every step of the")
    print("   marked runs (closed loop, so throughput = batch / step), its size the median gap")
    print("   of the marked training rows (validation/power/cases.csv split); held-out rows:")
    split = {}
    with open(os.path.join(VAL, "power", "cases.csv")) as f:
        for r in csv.DictReader(l for l in f if not l.startswith("#")):
            split[r["id"].split("/", 1)[1]] = r["split"]
    mk = [r for r in runs if r["marked"]]
    train = [r["meas"] - r["sim"] for r in mk if split.get(r["id"]) == "train"]
    held = [r for r in mk if split.get(r["id"]) == "heldout"]
    if train and held:
        c = statistics.median(train)
        before = [abs(r["meas"] / r["sim"] - 1) * 100 for r in held]
        after = [abs(r["meas"] / (r["sim"] + c) - 1) * 100 for r in held]
        print(f"   stall {c:.1f} ms from {len(train)} training rows; {len(held)} held-out rows,"
              f" throughput median |error| {pct(before, .5):.1f} % -> {pct(after, .5):.1f} %"
              f" (max {max(before):.1f} % -> {max(after):.1f} %)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
