#!/usr/bin/env python3
"""gpt-oss on B200 (ML.ENERGY v3 GPQA): running batch, KV, step and eager term.

Issue 6 asks why GPQA gpt-oss-120b at batch 1024 runs 50-70 % slow in median
ITL on one and two B200 while gpt-oss-20b at batch 128-512 runs 33-38 % fast.
For every gpt-oss B200 row of validation/cases/mlenergy-v3-moe.csv (training
and held out, every batch) this prints, side by side:

  * the measured mean running batch (avg_batch_size) and servesim's over the
    steady window of its kept run (moe-batch.py's `steady`), servesim's KV
    blocks (`servesim predict`'s memory at the study's 0.9 utilisation), its
    mean KV use and its preemptions;
  * the measured mean step (batch / steady throughput) and servesim's;
  * `servesim predict` at the measured batch and servesim's mean context,
    with the eager term (vLLM 0.11's default capture size, 512) and without
    (--max-cudagraph-capture-size 100000), and the eager share;
  * measured and simulated median ITL over the mean step, and the measured
    mean power per GPU.

  bash validation/run.sh --suite mlenergy-v3-moe --keep DIR --bin SERVESIM
  python3 validation/tools/gptoss-b200.py --keep DIR --bin SERVESIM [--data D]

Maintainer tool for validation/power/README.md; changes nothing.
"""
import argparse
import csv
import importlib.util
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SUITE = "mlenergy-v3-moe"

# moe-batch.py has a dash in its name: load it by path for its readers.
_spec = importlib.util.spec_from_file_location("moe_batch", os.path.join(HERE, "moe-batch.py"))
mb = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mb)


def predict(binary, sets, batch, ctx, capture):
    """(step s, eager s, KV blocks) of `servesim predict` for one case's plan."""
    kv = dict(s.split("=", 1) for s in sets.split())
    args = [binary, "predict", "--model", kv["model"], "--hw", kv["cluster.pools.0.hardware"],
            "--tp", kv.get("cluster.pools.0.tensor_parallel_size", "1"),
            "--quantization", kv.get("engine.quantization", "fp4"),
            "--moe-backend", kv.get("engine.moe_backend", "auto"),
            "--max-cudagraph-capture-size", str(capture),
            "--batch", "decode=%d@%d" % (batch, ctx), "--json"]
    out = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    eager = sum(o["time_s"] * o["count"] for o in out["ops"] if o["name"] == "eager_overhead")
    return out["iteration_s"], eager, out["memory"]["kv_blocks"]


def splits():
    """case id (without the "v3/" prefix) -> train | heldout, from power cases.csv."""
    out = {}
    with open(os.path.join(ROOT, "validation", "power", "cases.csv")) as f:
        rows = [line for line in f if not line.startswith("#")]
    for r in csv.DictReader(rows):
        out[r["id"].split("/", 1)[1]] = r["split"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep", required=True, help="run.sh --keep DIR of the suite")
    ap.add_argument("--bin", required=True, help="servesim binary")
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    opt = ap.parse_args()
    split = splits()
    print("| case | split | batch meas / sim | KV blocks | KV use | preempt | step meas / sim ms "
          "| predict eager / graphed ms (vs meas) | ITL/step meas / sim | power W | ITL err |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for line, row in mb.case_rows(os.path.join(ROOT, "validation", "cases", SUITE + ".csv")):
        if "hardware=b200" not in row["sets"] or "gpt-oss" not in row["id"]:
            continue
        src = mb.source_row(opt.data, row["source"])
        m_batch = float(src["avg_batch_size"])
        m_step = m_batch / float(src["output_throughput_tokens_per_sec"]) * 1000
        m_itl = float(src["median_itl_ms"])
        m_pow = float(src["avg_power_watts"]) / float(src["num_gpus"])
        b = int(dict(s.split("=", 1) for s in row["sets"].split())["engine.max_num_seqs"])
        run_dir = os.path.join(opt.keep, SUITE, str(line))
        st = mb.steady(run_dir, b) if os.path.isdir(run_dir) else None
        if st is None:
            continue
        s_run, _, s_kv, s_step, _ = st
        with open(os.path.join(run_dir, "summary.json")) as f:
            summ = json.load(f)
        s_itl = summ["itl_s"]["p50"] * 1000
        _, _, blocks = predict(opt.bin, row["sets"], 1, 1, 512)
        ctx = max(1, int(s_kv * blocks * 16 / s_run - 8)) if s_run > 0 and s_kv > 0 else 1
        pe, eager, _ = predict(opt.bin, row["sets"], max(1, round(m_batch)), ctx, 512)
        pg, _, _ = predict(opt.bin, row["sets"], max(1, round(m_batch)), ctx, 100000)
        print("| %s | %s | %.0f / %.0f | %d | %.0f %% | %d | %.1f / %.1f | %.1f / %.1f "
              "(%+.0f / %+.0f %%) | %.2f / %.2f | %.0f | %+.0f %% |"
              % (row["id"], split.get(row["id"], "?"), m_batch, s_run, blocks, s_kv * 100,
                 summ["preemptions"], m_step, s_step * 1000, pe * 1000, pg * 1000,
                 (pe * 1000 / m_step - 1) * 100, (pg * 1000 / m_step - 1) * 100,
                 m_itl / m_step, s_itl / (s_step * 1000), m_pow, (s_itl / m_itl - 1) * 100))
    return 0


if __name__ == "__main__":
    sys.exit(main())
