#!/usr/bin/env python3
"""Where the tail of the inter-token latency comes from, ML.ENERGY v3 cases.

Runs each case of the mlenergy-v3 suites once with --trace-events, keeps every
iteration (duration, decoding sequences, prefill chunks and tokens) and
rebuilds the pooled ITL distribution from them: each decoding sequence of an
iteration waits that iteration's duration for its token, so the iterations,
weighted by their decodes, are the ITL samples servesim's summary pools. On
that record it prices candidate explanations of the measured tail without
rerunning, and prints the median |error| of ITL p50/p90/p99 per suite on the
training and held-out rows (the split of validation/power/cases.csv: within
each dataset/model/GPU/parallelism group sorted by batch size, every third
row from the second on is held out):

  base      the reconstruction itself (checks it against summary.json)
  client    ML.ENERGY's client records one zero ITL for the first chunk of
            every request (benchmark.py: "Append zeros for bundled tokens");
            numpy's linear-interpolation percentile over the pooled list
  mixed=C   C ms more for every iteration that carries a prefill chunk
  admit=C   C ms more per prefill chunk in an iteration
  per layer C us per layer of the model more for every iteration with a
            prefill chunk (piecewise rather than full CUDA graphs)

The costs are added after the fact (later iterations do not move), which
holds to first order: they are small against a run and change no batch.

  python3 validation/tools/itl-tail.py [--bin SERVESIM] [--jobs N]
      [--suite NAME]... [--cache DIR] [--set KEY=VALUE]... [--grid]

--cache keeps the per-case iteration records (reused when present);
--set adds an override to every case, TASK:KEY=VALUE to one task's
(e.g. chat:workload.lengths.input.sigma=1.4);
--grid scans mixed=, admit= (training rows) and the per-layer cost (both
parts) and prints the grids.
Maintainer tool: needs Python 3 and a built servesim; nothing reads its output.
"""
import argparse
import concurrent.futures
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
VAL = os.path.dirname(HERE)
ROOT = os.path.dirname(VAL)
SUITES = ["mlenergy-v3-h100", "mlenergy-v3-b200", "mlenergy-v3-moe"]
METRICS = ["itl_p50_ms", "itl_p90_ms", "itl_p99_ms"]


def read_cases(suite):
    path = os.path.join(VAL, "cases", suite + ".csv")
    with open(path) as f:
        lines = [l for l in f if not l.startswith("#")]
    return list(csv.DictReader(lines))


def read_split():
    """case id -> 'train' | 'heldout', from the power work's fixed split."""
    split = {}
    path = os.path.join(VAL, "power", "cases.csv")
    with open(path) as f:
        lines = [l for l in f if not l.startswith("#")]
    for r in csv.DictReader(lines):
        if r["id"].startswith("v3/"):
            split[r["id"][3:]] = r["split"]
    return split


def outlen_trace(spec, path):
    """The output-length trace lib/case.sh writes for a histogram spec."""
    lo, hi, counts = spec.split(":")
    lo, hi = float(lo), float(hi)
    c = [int(x) for x in counts.split()]
    w = (hi - lo) / len(c)
    out = []
    for b, cb in enumerate(c):
        for j in range(cb):
            out.append(max(1, int(lo + b * w + (j + 0.5) / cb * w + 0.5)))
    n = len(out)
    with open(path, "w") as f:
        f.write("arrival_s,input_tokens,output_tokens\n")
        for i in range(n):
            f.write("0,1,%d\n" % out[(i * 7919) % n])


def run_case(args):
    binpath, suite, row, extra, cache = args
    key = (suite + "__" + row["id"]).replace("/", "_")
    rec = os.path.join(cache, key + ".json")
    if os.path.exists(rec):
        with open(rec) as f:
            return json.load(f)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [binpath, "run", os.path.join(VAL, "studies", row["study"]), "-q", "-o", tmp,
               "--trace-events", os.path.join(tmp, "t.json"), "--trace-events-limit", "0"]
        task = row["id"].split("/")[0]
        for kv in row["sets"].split() + extra:
            if ":" in kv.split("=")[0]:  # TASK:KEY=VALUE applies to one task
                if kv.split(":")[0] != task:
                    continue
                kv = kv.split(":", 1)[1]
            cmd += ["--set", kv]
        if row.get("outhist"):
            outlen_trace(row["outhist"], os.path.join(tmp, "outlen.csv"))
            cmd += ["--set", "workload.trace=" + os.path.join(tmp, "outlen.csv")]
        p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if p.returncode != 0:
            return {"suite": suite, "id": row["id"], "error": p.stderr.strip()[:200]}
        with open(os.path.join(tmp, "summary.json")) as f:
            summ = json.load(f)
        with open(os.path.join(tmp, "t.json")) as f:
            tr = json.load(f)
    ev = tr["traceEvents"] if isinstance(tr, dict) else tr
    iters = []
    for e in ev:
        if e.get("ph") == "X" and "decode_seqs" in e.get("args", {}):
            a = e["args"]
            iters.append([round(e["dur"] / 1000.0, 6), a["decode_seqs"], a["prefill_seqs"],
                          a["prefill_tokens"]])
    out = {"suite": suite, "id": row["id"], "iters": iters,
           "requests": summ["completed"],
           "summary": {m: summ["itl_s"]["p" + m[5:7]] * 1000 for m in METRICS},
           "measured": {m: float(row[m]) for m in METRICS}}
    with open(rec, "w") as f:
        json.dump(out, f)
    return out


def model_layers(row):
    """num_layers of the case's model (models/NAME.yaml)."""
    name = [kv.split("=", 1)[1] for kv in row["sets"].split() if kv.startswith("model=")][0]
    with open(os.path.join(ROOT, "models", name + ".yaml")) as f:
        for line in f:
            if line.startswith("num_layers:"):
                return int(line.split()[1])
    raise ValueError("no num_layers in models/%s.yaml" % name)


def wpct(samples, p, zeros=0):
    """Percentile p of weighted samples [(value, weight)] plus @zeros zero
    samples, numpy's default (linear between closest ranks)."""
    n = sum(w for _, w in samples) + zeros
    if n == 0:
        return 0.0
    pos = p / 100.0 * (n - 1)
    lo = int(pos)
    frac = pos - lo

    def at(k):
        if k < zeros:
            return 0.0
        k -= zeros
        for v, w in samples:
            if k < w:
                return v
            k -= w
        return samples[-1][0]

    a = at(lo)
    b = at(min(lo + 1, n - 1))
    return a + (b - a) * frac


def percentiles(rec, mixed_ms=0.0, admit_ms=0.0, client=False):
    samples = []
    for dur, dec, npf, _ in rec["iters"]:
        if dec <= 0:
            continue
        t = dur + (mixed_ms if npf > 0 else 0.0) + admit_ms * npf
        samples.append((t, dec))
    samples.sort()
    zeros = rec["requests"] if client else 0
    return {m: wpct(samples, float(m[5:7]), zeros) for m in METRICS}


def median_abs(errs):
    return statistics.median([abs(e) for e in errs]) * 100 if errs else float("nan")


def report(recs, split, label, **kw):
    rows = []
    for suite in SUITES:
        for part in ("train", "heldout"):
            sel = [r for r in recs if r["suite"] == suite and split.get(r["id"]) == part]
            if not sel:
                continue
            cols = []
            for m in METRICS:
                errs = [percentiles(r, **kw)[m] / r["measured"][m] - 1 for r in sel]
                bias = statistics.median(errs) * 100
                cols.append("%s %5.1f%% (%+5.1f)" % (m[4:7], median_abs(errs), bias))
            rows.append("%-10s %-17s %-7s n=%-3d %s" % (label, suite, part, len(sel), "  ".join(cols)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build-validation", "servesim"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--suite", action="append")
    ap.add_argument("--cache")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--grid", action="store_true")
    a = ap.parse_args()
    cache = a.cache or tempfile.mkdtemp(prefix="itl-tail-")
    os.makedirs(cache, exist_ok=True)
    split = read_split()
    jobs = []
    for s in a.suite or SUITES:
        for row in read_cases(s):
            jobs.append((os.path.abspath(a.bin), s, row, a.set, cache))
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as ex:
        recs = list(ex.map(run_case, jobs))
    bad = [r for r in recs if "error" in r]
    for r in bad:
        print("error %s %s: %s" % (r["suite"], r["id"], r["error"]), file=sys.stderr)
    recs = [r for r in recs if "error" not in r]
    # The reconstruction against summary.json's own percentiles.
    dev = [abs(percentiles(r)[m] / r["summary"][m] - 1) for r in recs for m in METRICS]
    print("reconstruction vs summary.json: max |dev| %.2f %%, median %.2f %% over %d"
          % (max(dev) * 100, statistics.median(dev) * 100, len(dev)))
    for line in report(recs, split, "base"):
        print(line)
    for line in report(recs, split, "client", client=True):
        print(line)
    if a.grid:
        train = [r for r in recs if split.get(r["id"]) == "train"]
        grid = []
        for mixed in (0, 0.5, 1, 1.5, 2, 3, 4, 6):
            for admit in (0, 0.5, 1, 2, 3, 4):
                errs = [percentiles(r, mixed, admit, True)[m] / r["measured"][m] - 1
                        for r in train for m in METRICS]
                e99 = [percentiles(r, mixed, admit, True)["itl_p99_ms"] / r["measured"]["itl_p99_ms"] - 1
                       for r in train]
                grid.append((median_abs(errs), median_abs(e99), mixed, admit))
        grid.sort()
        print("grid on %d training rows (client semantics): median |err| over p50/p90/p99, p99 alone" % len(train))
        for g in grid[:12]:
            print("  mixed=%-4g admit=%-4g  all %5.1f %%  p99 %5.1f %%" % (g[2], g[3], g[0], g[1]))
        # A cost per layer of every step with a prefill chunk (vLLM runs such
        # steps under piecewise CUDA graphs, attention eager in every layer).
        rows = {r["id"]: r for s in (a.suite or SUITES) for r in read_cases(s)}
        for us in (0, 20, 40, 60, 80):
            out = []
            for part in ("train", "heldout"):
                sel = [r for r in recs if split.get(r["id"]) == part]
                pct = [(r, percentiles(r, mixed_ms=model_layers(rows[r["id"]]) * us / 1000.0))
                       for r in sel]
                cols = ["%s %.1f %%" % (m[4:7], median_abs([q[m] / r["measured"][m] - 1 for r, q in pct]))
                        for m in METRICS]
                out.append("%s all %.1f %% (%s)" % (part, median_abs(
                    [q[m] / r["measured"][m] - 1 for r, q in pct for m in METRICS]), ", ".join(cols)))
            print("  per layer %3d us: %s" % (us, "; ".join(out)))
    print("cache: " + cache)


if __name__ == "__main__":
    main()
