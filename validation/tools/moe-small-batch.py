#!/usr/bin/env python3
"""The mixture-of-experts rows at small batch: what the fused expert kernel does.

For every ML.ENERGY v3 MoE row of validation/power/cases.csv (all splits) with
max_num_seqs at most --max-batch (512: every step a captured CUDA graph in
vLLM 0.11) on the chosen devices, this prints one line: model, weight format,
GPUs (TP = EP), experts on a rank, batch, task, split; the measured and
simulated median ITL, energy per output token and mean power per device
(validation/power/case.sh); and what the expert kernel must have cost in the
measured step:

  * the measured mean step is the published mean running batch over the
    steady output throughput;
  * `servesim predict` at that batch (decode, context E[I] + E[O^2]/2E[O]
    from the run's output histogram) gives servesim's step, its moe_experts
    time and the weight bytes that op streams (the touched experts of the
    busiest rank);
  * the measured step less servesim's non-expert time is the time left for
    the experts; the weight bytes over it, as a share of the HBM peak, is the
    streaming efficiency the measurement implies (`eff meas`), to compare
    with the profile's (`eff sim`). It is only as good as servesim's
    non-expert time, so read it across batches of one configuration;
  * the same time set against the weights of every expert of the rank,
    touched or not: flat over the batches where the kernel's cost does not
    follow the touched experts (block-fp8 Qwen3 235B), above 1 where it
    cannot be read that way.

A second table gives these per configuration and batch.

Then, per configuration, the slope of the measured step over the expert
weight bytes between batch 8 and 64: the bandwidth a marginal touched
expert costs (an expert streamed at the peak or faster is not what the
kernel's time grows with).

  python3 validation/tools/moe-small-batch.py --bin build/servesim
      [--device b200] [--device h100-sxm] [--max-batch 512] [--jobs 2]
      [--data ../shared/data]          # about 15 s on 2 cores

Maintainer tool: prints tables for validation/power/README.md ("The
small-batch B200 misses"); changes nothing.
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CASES = os.path.join(ROOT, "validation", "power", "cases.csv")
PEAK_GB_S = {"b200": 8000.0, "h100-sxm": 3350.0}  # hwprofiles/*.yaml memory_bandwidth_gb_s


def case_rows():
    """(file line number, row dict) of every data row of cases.csv."""
    rows, header = [], None
    with open(CASES) as f:
        for n, line in enumerate(f, 1):
            if line.startswith("#"):
                continue
            cells = line.rstrip("\n").split(",")
            if header is None:
                header = cells
                continue
            rows.append((n, dict(zip(header, cells))))
    return rows


def source_row(data, ref):
    """The published configs.csv row a case's source names ("FILE:LINE")."""
    name, line = ref.split(";")[0].strip().rsplit(":", 1)
    with open(os.path.join(data, name)) as f:
        lines = f.readlines()
    header = next(csv.reader([lines[0]]))
    return dict(zip(header, next(csv.reader([lines[int(line) - 1]]))))


def out_moments(spec):
    """E[O], E[O^2] of the histogram "LO:HI:c1 c2 ..." as case.sh draws it."""
    lo, hi, counts = spec.split(":")
    counts = [int(c) for c in counts.split()]
    w = (float(hi) - float(lo)) / len(counts)
    s1 = s2 = n = 0.0
    for b, c in enumerate(counts):
        for j in range(c):
            v = max(1, int(float(lo) + b * w + (j + 0.5) / c * w + 0.5))
            s1, s2, n = s1 + v, s2 + v * v, n + 1
    return s1 / n, s2 / n


def model_moe(name):
    """(hidden, moe intermediate, experts) of models/NAME.yaml."""
    got = {}
    with open(os.path.join(ROOT, "models", name + ".yaml")) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("hidden_size", "moe_intermediate_size", "num_experts"):
                got[k] = int(v.split("#")[0])
    return got["hidden_size"], got["moe_intermediate_size"], got["num_experts"]


def touched_experts(kv, bytes_per_layer):
    """(experts touched on the busiest rank, experts on a rank): the weight
    bytes moe_experts streams in one layer over one expert's (gate, up and
    down projections; its slice when ep < tp). The activations it also
    counts are under 2 % of them up to batch 64."""
    hidden, inter, experts = model_moe(kv["model"])
    tp = int(kv.get("cluster.pools.0.tensor_parallel_size", "1"))
    ep = int(kv.get("cluster.pools.0.expert_parallel_size", "1"))
    wb = {"fp8": 1.0, "int8": 1.0, "fp4": 0.5, "mxfp4": 0.5, "int4": 0.5}.get(
        kv.get("engine.quantization", ""), 2.0)
    etp = tp / ep if ep < tp else 1.0
    one = 3.0 * hidden * inter / etp * wb
    return bytes_per_layer / one, experts // ep


def predict(binary, kv, batch, ctx):
    """(step s, moe_experts s per step, expert bytes per step, expert bytes
    per layer) from `servesim predict`."""
    args = [binary, "predict", "--model", kv["model"], "--hw", kv["cluster.pools.0.hardware"],
            "--tp", kv.get("cluster.pools.0.tensor_parallel_size", "1"),
            "--ep", kv.get("cluster.pools.0.expert_parallel_size", "1"),
            "--batch", "decode=%d@%d" % (batch, ctx), "--json"]
    if "engine.quantization" in kv:
        args += ["--quantization", kv["engine.quantization"]]
    if "engine.moe_backend" in kv:  # the case's kernel family (FlashInfer for DeepSeek, gpt-oss)
        args += ["--moe-backend", kv["engine.moe_backend"]]
    out = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    ex = [op for op in out["ops"] if op["name"] == "moe_experts"][0]
    return out["iteration_s"], ex["time_s"] * ex["count"], ex["bytes"] * ex["count"], ex["bytes"]


def simulate(binary, line, work):
    """case.sh's "id|...|power|e/tok|itl|..." fields for one cases.csv line."""
    r = subprocess.run(["bash", os.path.join(ROOT, "validation", "power", "case.sh"), binary,
                        str(line), work], capture_output=True, text=True)
    s = r.stdout.strip().split("|")
    return (float(s[5]), float(s[6]), float(s[7])) if len(s) > 10 and s[10] == "ok" else None


def fit_line(xs, ys):
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    if sxx <= 0:
        return None, None
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
    return slope, my - slope * mx


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", required=True, help="servesim binary")
    ap.add_argument("--device", action="append", help="b200, h100-sxm (default both)")
    ap.add_argument("--max-batch", type=int, default=512)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data"))
    opt = ap.parse_args()
    binary = os.path.abspath(opt.bin)
    devices = opt.device or ["b200", "h100-sxm"]

    todo = []
    for line, row in case_rows():
        if row["dataset"] != "mlenergy-v3-moe" or row["device"] not in devices:
            continue
        kv = dict(s.split("=", 1) for s in row["sets"].split())
        if int(kv["engine.max_num_seqs"]) <= opt.max_batch:
            todo.append((line, row, kv))
    with tempfile.TemporaryDirectory() as work, ThreadPoolExecutor(opt.jobs) as pool:
        sims = list(pool.map(lambda t: simulate(binary, t[0], work), todo))

    table = []
    for (line, row, kv), sim in zip(todo, sims):
        if sim is None:
            continue
        src = source_row(opt.data, row["source"])
        m_batch = float(src["avg_batch_size"])
        m_step = m_batch / float(src["output_throughput_tokens_per_sec"])
        e1, e2 = out_moments(row["outhist"])
        ctx = int(float(kv["workload.lengths.input.mean"]) + e2 / (2 * e1))
        b = max(1, round(m_batch))
        p_step, p_ex, ex_bytes, layer_bytes = predict(binary, kv, b, ctx)
        touched, local = touched_experts(kv, layer_bytes)
        peak = PEAK_GB_S[row["device"]] * 1e9
        left = m_step - (p_step - p_ex)
        eff_meas = ex_bytes / left / peak if left > 0 else float("inf")
        eff_sim = ex_bytes / p_ex / peak
        ep = int(kv.get("cluster.pools.0.expert_parallel_size", "1"))
        q = kv.get("engine.quantization", "bf16")
        table.append(dict(dev=row["device"], model=kv["model"], q=q, gpus=row["gpus"], ep=ep,
                          b=int(kv["engine.max_num_seqs"]), task=row["id"].split("/")[1],
                          split=row["split"], itl_m=float(row["itl_p50_ms"]), itl_s=sim[2],
                          e_m=float(row["energy_per_token_j"]), e_s=sim[1],
                          p_m=float(row["power_w"]), p_s=sim[0], m_step=m_step, p_step=p_step,
                          p_ex=p_ex, ex_bytes=ex_bytes, eff_m=eff_meas, eff_s=eff_sim,
                          touched=touched, local=local))
    table.sort(key=lambda r: (r["dev"], r["model"], r["q"], int(r["gpus"]), r["b"], r["task"]))

    print("| device | model | weights | GPUs | batch | task | split | ITL meas / sim ms (err) "
          "| E/tok err | power meas / sim W (err) | step meas / predict ms | experts share "
          "| expert GB/step | eff meas / sim |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in table:
        print("| %s | %s | %s | %s | %d | %s | %s | %.1f / %.1f (%+.0f %%) | %+.0f %% "
              "| %.0f / %.0f (%+.0f %%) | %.1f / %.1f | %.0f %% | %.1f | %.2f / %.2f |"
              % (r["dev"], r["model"], r["q"], r["gpus"], r["b"], r["task"], r["split"],
                 r["itl_m"], r["itl_s"], (r["itl_s"] / r["itl_m"] - 1) * 100,
                 (r["e_s"] / r["e_m"] - 1) * 100, r["p_m"], r["p_s"],
                 (r["p_s"] / r["p_m"] - 1) * 100, r["m_step"] * 1e3, r["p_step"] * 1e3,
                 r["p_ex"] / r["p_step"] * 100, r["ex_bytes"] / 1e9, r["eff_m"], r["eff_s"]))

    # Per configuration, batch by batch (rows of one batch averaged over the
    # tasks): ITL error, power error, implied expert efficiency.
    print()
    print("| device | model | weights | GPUs | experts / rank | per batch: ITL err, power err, "
          "eff meas (sim), touched experts / rank, eff meas if every expert of the rank "
          "were streamed |")
    print("|---|---|---|---|---|---|")
    confs = {}
    for r in table:
        confs.setdefault((r["dev"], r["model"], r["q"], r["gpus"], r["ep"]), {}) \
             .setdefault(r["b"], []).append(r)
    for key, by_b in sorted(confs.items()):
        cells = []
        for b, rs in sorted(by_b.items()):
            n = len(rs)
            ie = sum(r["itl_s"] / r["itl_m"] - 1 for r in rs) / n * 100
            pe = sum(r["p_s"] / r["p_m"] - 1 for r in rs) / n * 100
            em = sum(r["eff_m"] for r in rs) / n
            es = sum(r["eff_s"] for r in rs) / n
            t = sum(r["touched"] for r in rs) / n
            cells.append("b%d %+.0f %%, %+.0f %%, %.2f (%.2f), %.1f, %.2f"
                         % (b, ie, pe, em, es, t, em * rs[0]["local"] / t))
        print("| %s | %s | %s | %s | %d | %s |"
              % (key[:4] + (rs[0]["local"], "; ".join(cells))))

    # Per configuration: measured step against expert bytes, batch 8-64.
    print()
    print("| device | model | weights | GPUs | batches | marginal expert GB/s (x peak) "
          "| intercept ms | servesim: marginal (x peak), intercept ms |")
    print("|---|---|---|---|---|---|---|---|")
    groups = {}
    for r in table:
        if 8 <= r["b"] <= 64:
            groups.setdefault((r["dev"], r["model"], r["q"], r["gpus"]), []).append(r)
    for key, rs in sorted(groups.items()):
        if len({r["b"] for r in rs}) < 3:
            continue
        xs = [r["ex_bytes"] for r in rs]
        sm, im = fit_line(xs, [r["m_step"] for r in rs])
        ss, isim = fit_line(xs, [r["p_step"] for r in rs])
        if sm is None or ss is None:
            continue
        peak = PEAK_GB_S[key[0]] * 1e9
        print("| %s | %s | %s | %s | %s | %s | %.1f | %.2f x, %.1f |"
              % (key + (" ".join(str(b) for b in sorted({r["b"] for r in rs})),
                        ("%.0f (%.2f x)" % (1 / sm / 1e9, 1 / sm / peak)) if sm > 0 else "none",
                        im * 1e3, 1 / ss / peak, isim * 1e3)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
