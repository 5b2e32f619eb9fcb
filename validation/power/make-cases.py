#!/usr/bin/env python3
"""Regenerate validation/power/cases.csv: the measured configurations the
power model is fitted to and validated on, with their measured power.

A maintainer tool, not part of the build or CI: cases.csv is committed, so
fit.sh and run.sh need neither Python nor ../shared/data. Rerun it
(python3 validation/power/make-cases.py [DATA_DIR]) when a source or the
mapping changes; the output is deterministic.

Sources (each row names its file and row under ../shared/data):
* ML.ENERGY v3 (vLLM 0.11.1, H100 and B200): avg_power_watts (all GPUs,
  steady state), energy_per_token_joules, median_itl_ms. The study, the
  servesim settings and the output-length histogram of each configuration
  come from validation/cases/mlenergy-v3-*.csv (dense models; MoE models as
  the dataset mlenergy-v3-moe; made by
  validation/tools/make-cases.py from the same rows), so the power
  validation simulates exactly what the end-to-end validation does.
* ML.ENERGY v2 (vLLM 0.5.4, A100-40GB and H100): the derived mean power
  (J/token x tokens/s), J/token and the mean TPOT, with the settings of
  validation/cases/mlenergy-v2.csv and mlenergy-v2-moe.csv.
* SplitwiseSim's perf_model.csv (DGX-A100): average_power (fraction of the
  400 W TDP, per GPU, over a batch's prompt and 128 decode tokens). Rows
  with prompt 8192 are left out: their average power (0.17-0.18 of TDP, i.e.
  70 W, below what the 4096-token rows draw) is a measurement fault; so are
  prompts that with 128 output tokens exceed the model's context (servesim
  rejects them: bloom's 2048, Llama 2's 4096 tokens).

The held-out part: within each group (dataset, model, GPU, parallelism),
configurations sorted by batch size, every third one from the second on
is held out (`split` = heldout), so the held-out batch sizes sit between
fitted ones; the rest is `train`.
"""

import csv
import os
import statistics
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
VAL = os.path.dirname(HERE)
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(VAL, "..", "..", "shared", "data")
DATA = os.path.normpath(DATA)


def g(x):
    return f"{float(x):.6g}"


def read_rows(rel):
    with open(os.path.join(DATA, rel), newline="") as f:
        return list(csv.DictReader(f))


def read_cases(name):
    path = os.path.join(VAL, "cases", name)
    with open(path, newline="") as f:
        lines = [l for l in f if not l.startswith("#")]
    return list(csv.DictReader(lines))


def sets_of(sets):
    return dict(kv.split("=", 1) for kv in sets.split())


def device_count(s):
    return int(s.get("cluster.pools.0.tensor_parallel_size", 1)) * int(
        s.get("cluster.pools.0.pipeline_parallel_size", 1))


def batch_part(case_id):
    """Index of the "b<max_num_seqs>" component of a case id ("/run2" may follow)."""
    parts = case_id.split("/")
    return max(i for i, p in enumerate(parts) if p[:1] == "b" and p[1:].isdigit())


def batch_of(case_id):
    return int(case_id.split("/")[batch_part(case_id)][1:])


def group_of(case_id):
    parts = case_id.split("/")
    del parts[batch_part(case_id)]
    return "/".join(parts)


out = []
v3 = read_rows("mlenergy_v3/mlenergy_v3_llm_configs.csv")
# Dense and mixture-of-experts models, the latter as a dataset of their own.
v3_files = sorted(f for f in os.listdir(os.path.join(VAL, "cases"))
                  if f.startswith("mlenergy-v3-") and f.endswith(".csv"))
for name in v3_files:
    # The sweeps validation/README.md finds stalled outside the GPU (the
    # -stall case files, chosen by a rule on the measurements alone) are
    # reported as groups of their own, as validation/run.sh does; the fit
    # scripts still take their training rows, as they did when fitted.
    dataset = ("mlenergy-v3-moe" if "moe" in name else "mlenergy-v3") + \
        ("-stall" if "stall" in name else "")
    for c in read_cases(name):
        src = c["source"].split(";")[0].strip()
        row = v3[int(src.rsplit(":", 1)[1]) - 2]
        s = sets_of(c["sets"])
        gpus = int(row["num_gpus"])
        assert gpus == device_count(s), c["id"]
        out.append({
            "id": "v3/" + c["id"], "dataset": dataset,
            "device": s["cluster.pools.0.hardware"], "study": "mlenergy-v3.yaml",
            "sets": c["sets"], "outhist": c["outhist"], "gpus": gpus,
            "power_w": g(float(row["avg_power_watts"]) / gpus),
            "energy_per_token_j": g(row["energy_per_token_joules"]),
            "itl_p50_ms": g(row["median_itl_ms"]), "tpot_mean_ms": "",
            "source": src})

v2 = read_rows("mlenergy_v2/mlenergy_v2_configs.csv")
for name in ("mlenergy-v2.csv", "mlenergy-v2-moe.csv"):
    for c in read_cases(name):
        src = c["source"].strip()
        row = v2[int(src.rsplit(":", 1)[1]) - 2]
        s = sets_of(c["sets"])
        gpus = int(row["tp"]) * int(row["pp"])
        assert gpus == device_count(s), c["id"]
        hw = s["cluster.pools.0.hardware"]
        out.append({
            "id": "v2/" + c["id"], "dataset": "mlenergy-v2", "device": hw,
            "study": "mlenergy-v2.yaml", "sets": c["sets"], "outhist": "", "gpus": gpus,
            "power_w": g(float(row["derived_avg_power_W_all_gpus"]) / gpus),
            "energy_per_token_j": g(row["derived_energy_per_output_token_J"]),
            "itl_p50_ms": "", "tpot_mean_ms": g(float(row["avg_tpot_s"]) * 1000),
            "source": src})

# Splitwise: one case per (model, TP, prompt, batch) with power measured,
# repeated runs merged by their median.
sw = read_rows("splitwise_sim/perf_model.csv")
groups = defaultdict(list)
for i, r in enumerate(sw):
    if r["hardware"] != "a100-80gb" or float(r["average_power"]) <= 0:
        continue
    if int(r["prompt_size"]) >= 8192 or int(r["token_size"]) != 128:
        continue
    groups[(r["model"], int(r["tensor_parallel"]), int(r["prompt_size"]),
            int(r["batch_size"]))].append((i + 2, r))
models = {"llama2-70b": "llama-2-70b", "bloom-176b": "bloom-176b"}
max_len = {"llama2-70b": 4096, "bloom-176b": 2048}  # models/*.yaml max_position_embeddings
for (model, tp, p, b), rows in sorted(groups.items()):
    if p + 128 > max_len[model]:
        continue  # longer than the model's context: servesim would reject it
    first, last = rows[0][0], rows[-1][0]
    power = statistics.median(float(r["average_power"]) for _, r in rows) * 400
    e2e_s = statistics.median(float(r["e2e_time"]) for _, r in rows) / 1000
    sets = (f"model={models[model]} cluster.pools.0.hardware=a100-sxm-80g "
            f"cluster.pools.0.tensor_parallel_size={tp} engine.max_num_seqs={b} "
            f"engine.max_num_batched_tokens={max(p * b, p + 128)} engine.max_model_len={p + 128} "
            f"workload.arrival.concurrency={b} workload.num_requests={b} "
            f"workload.lengths.input.value={p} workload.lengths.output.value=128")
    out.append({
        "id": f"splitwise/{model}/a100x{tp}/p{p}-b{b}", "dataset": "splitwise",
        "device": "a100-sxm-80g", "study": "splitwise.yaml", "sets": sets, "outhist": "",
        "gpus": tp, "power_w": g(power),
        "energy_per_token_j": g(power * tp * e2e_s / (b * 128)),
        "itl_p50_ms": "", "tpot_mean_ms": "",
        "source": f"splitwise_sim/perf_model.csv rows {first}-{last} (median of {len(rows)})"})

# The held-out part.
by_group = defaultdict(list)
for c in out:
    key = group_of(c["id"]) if c["dataset"] != "splitwise" else c["id"].rsplit("-b", 1)[0]
    by_group[key].append(c)
for key, cs in by_group.items():
    if cs[0]["dataset"] == "splitwise":
        cs.sort(key=lambda c: int(c["id"].rsplit("-b", 1)[1]))
    else:
        cs.sort(key=lambda c: (batch_of(c["id"]), c["id"]))
    for i, c in enumerate(cs):
        c["split"] = "heldout" if i % 3 == 1 else "train"

cols = ["id", "dataset", "device", "split", "study", "sets", "outhist", "gpus", "power_w",
        "energy_per_token_j", "itl_p50_ms", "tpot_mean_ms", "source"]
with open(os.path.join(HERE, "cases.csv"), "w", newline="") as f:
    f.write("# Measured configurations for the power model: fitted (split = train) and\n")
    f.write("# held out (split = heldout). power_w is per device. Generated by\n")
    f.write("# validation/power/make-cases.py; do not edit by hand.\n")
    w = csv.DictWriter(f, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for c in sorted(out, key=lambda c: (c["dataset"], c["id"])):
        w.writerow(c)
print(f"wrote {len(out)} cases "
      f"({sum(c['split'] == 'heldout' for c in out)} held out)")
