#!/usr/bin/env python3
"""Batch or step cost? Where servesim's B200 mixture-of-experts runs go fast.

For each B200 row of validation/cases/mlenergy-v3-moe.csv this splits the
median-ITL miss into its two possible causes, from the published run and
servesim's own kept run:

  * the running batch: ML.ENERGY v3 publishes the run's mean running batch
    (avg_batch_size) and its steady-state output throughput, so its mean step
    is batch / throughput; servesim's mean running batch and mean step come
    from its timeseries over the same steady window (from the time B requests
    have their first token to the time N - B have finished, as window.awk);
  * the step at the measured batch: `servesim predict` at decode=B@C, B the
    measured mean batch and C the mean context of a running request in
    servesim's run of the same requests (its KV in use over its running
    requests, over the window), with the op class that dominates that step.

If servesim's batch is the measured one and its step is short, the miss is
per-step cost; if servesim runs a smaller batch (KV capacity) its step is
short for that reason.

  bash validation/run.sh --suite mlenergy-v3-moe --keep DIR --bin SERVESIM
  python3 validation/tools/moe-batch.py --keep DIR --bin SERVESIM [--data D]

Maintainer tool: prints a table (one row per case, sorted by ITL error) for
validation/power/README.md; changes nothing.
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SUITE = "mlenergy-v3-moe"


def case_rows(path):
    """(file line number, row dict) of every data row of a case file."""
    rows, header = [], None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#"):
                continue
            cells = next(csv.reader([line.rstrip("\n")]))
            if header is None:
                header = cells
                continue
            rows.append((n, dict(zip(header, cells))))
    return rows


def source_row(data, ref):
    """The published configs.csv row a case's source names ("FILE:LINE; ...")."""
    first = ref.split(";")[0].strip()
    name, line = first.rsplit(":", 1)
    with open(os.path.join(data, name)) as f:
        lines = f.readlines()
    header = next(csv.reader([lines[0]]))
    return dict(zip(header, next(csv.reader([lines[int(line) - 1]]))))


def out_moments(spec):
    """E[O] and E[O^2] of the output-length histogram "LO:HI:c1 c2 ...",
    with each bin's requests spread evenly as lib/case.sh draws them."""
    lo, hi, counts = spec.split(":")
    counts = [int(c) for c in counts.split()]
    w = (float(hi) - float(lo)) / len(counts)
    s1 = s2 = n = 0.0
    for b, c in enumerate(counts):
        for j in range(c):
            v = max(1, int(float(lo) + b * w + (j + 0.5) / c * w + 0.5))
            s1 += v
            s2 += v * v
            n += 1
    return s1 / n, s2 / n


def steady(run_dir, b):
    """servesim's steady window: (mean running, mean batch_seqs, mean KV use,
    mean step s, output tok/s), from requests.csv and timeseries.csv."""
    first, done = [], []
    with open(os.path.join(run_dir, "requests.csv")) as f:
        for r in csv.DictReader(f):
            if r["outcome"] != "completed":
                continue
            a = float(r["arrival_s"])
            first.append(a + float(r["ttft_s"]))
            done.append(a + float(r["e2e_s"]))
    first.sort()
    done.sort()
    n = len(done)
    t0 = first[min(b, n) - 1]
    t1 = done[n - b - 1] if n - b - 1 >= 0 else done[-1]
    if t1 <= t0:  # N <= 2B: end when N - B have completed (window.awk)
        t1 = done[max(0, n - b) - 1] if n - b > 0 else done[-1]
    with open(os.path.join(run_dir, "timeseries.csv")) as f:
        ts = [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]
    inside = [r for r in ts if t0 <= r["t_s"] <= t1]
    if len(inside) < 2:
        return None

    def mean(k):
        return sum(r[k] for r in inside) / len(inside)

    span = inside[-1]["t_s"] - inside[0]["t_s"]
    iters = inside[-1]["iterations"] - inside[0]["iterations"]
    toks = inside[-1]["output_tokens"] - inside[0]["output_tokens"]
    step = span / iters if iters > 0 else float("nan")
    return mean("running"), mean("batch_seqs"), mean("kv_utilization"), step, toks / span


CLASSES = {
    "attn_decode": "attention", "attn_prefill": "attention", "kv_store": "attention",
    "moe_experts": "experts", "moe_router": "experts", "moe_dispatch": "experts",
    "all_to_all": "collective", "all_reduce": "collective", "send_recv": "collective",
    "host_overhead": "host",
}


def predict(binary, sets, batch, ctx):
    """(step s, {op class: s per step}, KV blocks per replica) of `servesim predict`."""
    kv = dict(s.split("=", 1) for s in sets.split())
    tp = kv.get("cluster.pools.0.tensor_parallel_size", "1")
    args = [binary, "predict", "--model", kv["model"], "--hw", kv["cluster.pools.0.hardware"],
            "--tp", tp, "--ep", kv.get("cluster.pools.0.expert_parallel_size", "1"),
            "--batch", "decode=%d@%d" % (batch, ctx), "--json"]
    if "engine.quantization" in kv:
        args += ["--quantization", kv["engine.quantization"]]
    if "engine.moe_backend" in kv:  # the case's kernel family (FlashInfer for DeepSeek, gpt-oss)
        args += ["--moe-backend", kv["engine.moe_backend"]]
    if kv.get("model", "").startswith("gpt-oss") and "engine.quantization" not in kv:
        args += ["--quantization", "mxfp4"]
    out = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    by = {}
    for op in out["ops"]:
        c = CLASSES.get(op["name"], "dense")
        by[c] = by.get(c, 0.0) + op["time_s"] * op["count"]
    return out["iteration_s"], by, out["memory"]["kv_blocks"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", required=True, help="run.sh --keep DIR of the suite")
    ap.add_argument("--bin", required=True, help="servesim binary")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--all", action="store_true", help="every B200 row, not the 25 listed")
    opt = ap.parse_args()

    table = []
    for line, row in case_rows(os.path.join(ROOT, "validation", "cases", SUITE + ".csv")):
        if "hardware=b200" not in row["sets"]:
            continue
        src = source_row(opt.data, row["source"])
        m_batch = float(src["avg_batch_size"])
        m_tput = float(src["output_throughput_tokens_per_sec"])
        m_itl = float(src["median_itl_ms"])
        m_step = m_batch / m_tput * 1000
        kv = dict(s.split("=", 1) for s in row["sets"].split())
        b = int(kv["engine.max_num_seqs"])
        run_dir = os.path.join(opt.keep, SUITE, str(line))
        st = steady(run_dir, b) if os.path.isdir(run_dir) else None
        if st is None:
            continue
        s_run, s_bseq, s_kv, s_step, s_tput = st
        with open(os.path.join(run_dir, "summary.json")) as f:
            s_itl = json.load(f)["itl_s"]["p50"] * 1000
        # The mean context of a running request: servesim's own over the
        # window (KV in use / running requests, less half a block of
        # rounding each); the steady-state formula where KV use is unknown.
        _, _, blocks = predict(opt.bin, row["sets"], 1, 1)
        if s_run > 0 and s_kv > 0:
            ctx = max(1, int(s_kv * blocks * 16 / s_run - 8))
        else:
            e1, e2 = out_moments(row["outhist"])
            ctx = int(float(kv["workload.lengths.input.mean"]) + e2 / (2 * e1))
        p_step, by, _ = predict(opt.bin, row["sets"], max(1, round(m_batch)), ctx)
        top = max(by, key=by.get)
        table.append((s_itl / m_itl - 1, row["id"], b, m_batch, s_run, s_kv, m_step,
                      s_step * 1000, p_step * 1000, top, by[top] / p_step, by.get("host", 0) / p_step,
                      by.get("attention", 0) / p_step, ctx, m_itl, s_itl))
    table.sort()
    if not opt.all:
        table = table[:20] + table[-5:]
    print("| case | B | batch meas | batch sim | KV sim | step meas ms | step sim ms | "
          "predict at meas batch ms | predict / meas | top op class | host | attn | ctx | "
          "ITL/step meas | ITL/step sim | ITL err |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for t in table:
        (err, cid, b, mb, sb, skv, ms, ss, ps, top, tshare, hshare, ashare, ctx, mi, si) = t
        print("| %s | %d | %.0f | %.0f | %.0f %% | %.1f | %.1f | %.1f | %+.0f %% | %s %.0f %% | "
              "%.0f %% | %.0f %% | %d | %.2f | %.2f | %+.0f %% |"
              % (cid, b, mb, sb, skv * 100, ms, ss, ps, (ps / ms - 1) * 100, top, tshare * 100,
                 hshare * 100, ashare * 100, ctx, mi / ms, si / ss, err * 100))
    return 0


if __name__ == "__main__":
    sys.exit(main())
