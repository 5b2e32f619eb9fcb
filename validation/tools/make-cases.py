#!/usr/bin/env python3
"""Regenerate validation/cases/*.csv and validation/data/* from ../shared/data.

A maintainer tool, not part of the build or of CI: the case files it writes
are committed, so `bash validation/run.sh` needs neither Python nor
../shared/data. Rerun it (python3 validation/tools/make-cases.py [DATA_DIR])
when a measurement source or the mapping below changes; the output is
deterministic (sorted, fixed formatting), so an unchanged source gives no diff.

Every case row names the file and row (1-based, header = row 1) its measured
values come from. What each source measured, and the workload assumptions
made where a source does not publish something, are in validation/README.md.
"""

import csv
import json
import math
import os
import statistics
import sys
from collections import defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
VAL = os.path.dirname(HERE)
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(VAL, "..", "..", "shared", "data")
DATA = os.path.normpath(DATA)
CASES = os.path.join(VAL, "cases")
OUTDATA = os.path.join(VAL, "data")


def g(x):
    """A measured value as written in the case files: 6 significant digits."""
    return f"{float(x):.6g}"


def read_csv(rel):
    with open(os.path.join(DATA, rel), newline="") as f:
        rows = list(csv.DictReader(f))
    for i, r in enumerate(rows):
        r["_row"] = i + 2  # header is row 1
    return rows


def write_cases(name, header, rows, preamble):
    path = os.path.join(CASES, name + ".csv")
    with open(path, "w", newline="") as f:
        for line in preamble.strip("\n").split("\n"):
            f.write("# " + line if line else "#")
            f.write("\n")
        # run.sh splits rows on commas with awk: no field may hold a comma
        # or a quote, so nothing is ever quoted.
        f.write(",".join(header) + "\n")
        seen = defaultdict(int)
        for r in rows:
            # A configuration the source measured twice keeps both rows.
            seen[r["id"]] += 1
            if seen[r["id"]] > 1:
                r["id"] += f"/run{seen[r['id']]}"
            cells = [str(r.get(h, "")) for h in header]
            bad = [c for c in cells if "," in c or '"' in c]
            if bad:
                sys.exit(f"{name}: {r['id']}: a field holds a comma or quote: {bad[0]}")
            f.write(",".join(cells) + "\n")
    print(f"wrote {path}: {len(rows)} cases")


def pick_fast(rows, key, ids):
    """Mark the rows whose id is in @ids as members of the fast CI subset."""
    found = set()
    for r in rows:
        r["fast"] = "1" if r["id"] in ids else "0"
        if r["id"] in ids:
            found.add(r["id"])
    missing = set(ids) - found
    if missing:
        sys.exit(f"{key}: fast ids not found: {sorted(missing)}")


# ---------------------------------------------------------------------------
# ML.ENERGY v3 (vLLM 0.11.1, closed batch sweep)

V3_DENSE = {
    "meta-llama/Llama-3.1-8B-Instruct": "llama-3.1-8b",
    "meta-llama/Llama-3.1-70B-Instruct": "llama-3.1-70b",
    "meta-llama/Llama-3.3-70B-Instruct": "llama-3.1-70b",  # same shapes
    "meta-llama/Llama-3.1-405B-Instruct": "llama-3.1-405b",
    "meta-llama/Llama-3.1-405B-Instruct-FP8": "llama-3.1-405b",
    "Qwen/Qwen3-8B": "qwen3-8b",
    "Qwen/Qwen3-14B": "qwen3-14b",
    "Qwen/Qwen3-32B": "qwen3-32b",
}
V3_MOE = {
    "Qwen/Qwen3-30B-A3B-Instruct-2507": "qwen3-30b-a3b",
    "Qwen/Qwen3-30B-A3B-Thinking-2507": "qwen3-30b-a3b",
    "Qwen/Qwen3-235B-A22B-Instruct-2507": "qwen3-235b-a22b",
    "Qwen/Qwen3-235B-A22B-Instruct-2507-FP8": "qwen3-235b-a22b",
    "Qwen/Qwen3-235B-A22B-Thinking-2507": "qwen3-235b-a22b",
    "Qwen/Qwen3-235B-A22B-Thinking-2507-FP8": "qwen3-235b-a22b",
    "openai/gpt-oss-20b": "gpt-oss-20b",
    "openai/gpt-oss-120b": "gpt-oss-120b",
    "deepseek-ai/DeepSeek-V3.1": "deepseek-v3",
    "deepseek-ai/DeepSeek-R1-0528": "deepseek-v3",
}
V3_HW = {"H100": "h100-sxm", "B200": "b200"}
# vLLM's fused MoE kernels (engine.moe_backend) where ML.ENERGY's run settings
# choose them: configs/vllm/<task>/<model>/B200/monolithic.env.yaml sets
# VLLM_USE_FLASHINFER_MOE_FP8=1 for DeepSeek V3.1 (lm-arena-chat, gpqa) and
# R1 (gpqa), VLLM_USE_FLASHINFER_MOE_MXFP4_MXFP8=1 for gpt-oss-20b and 120b
# (gpqa). The other MoE runs set none: vLLM's default (auto).
V3_MOE_BACKEND = {
    ("deepseek-ai/DeepSeek-V3.1", "B200"): "flashinfer",
    ("deepseek-ai/DeepSeek-R1-0528", "B200"): "flashinfer",
    ("openai/gpt-oss-20b", "B200"): "flashinfer",
    ("openai/gpt-oss-120b", "B200"): "flashinfer",
}
V3_QUANT = {"bfloat16": "", "fp8": "fp8", "mxfp4": "fp4"}
# Prompt lengths are not published with the runs (PROVENANCE.md): assumed
# distributions, see validation/README.md. ML.ENERGY turns every turn of an
# LMArena conversation into a request carrying all earlier prompts and
# answers, so chat prompts mix short first turns with long histories: the
# spread (sigma 1.6, mean kept at 220) is fitted on the ITL of the H100
# training rows (tools/itl-tail.py; the split of power/cases.csv).
V3_INPUT = {
    "lm-arena-chat": "workload.lengths.input.mean=220 workload.lengths.input.sigma=1.6",
    "gpqa": "workload.lengths.input.mean=250 workload.lengths.input.sigma=0.4",
}
# max-model-len of ML.ENERGY's configs/vllm/<task>/<model>/<gpu>/monolithic.config.yaml
V3_MAX_LEN = {
    "lm-arena-chat": "engine.max_model_len=20480",
    "gpqa": "engine.max_model_len=40960",
}
V3_TASK_TAG = {"lm-arena-chat": "chat", "gpqa": "gpqa"}
# A GPQA sweep whose batch-8 step (mean batch / throughput) is more than this
# many times the chat step of the same model family on the same GPUs waited
# on something outside the GPU (validation/README.md, "B200 runs with a
# per-step stall"; the evidence: tools/b200-stall.py). Longer GPQA contexts
# cost at most 1.2x; the marked sweeps are 2.9x to 6x.
V3_STALL_RATIO = 1.5


def v3_stalled(rows):
    """(task, model_id, gpu, num_gpus) of the sweeps V3_STALL_RATIO marks."""
    def family(mid):
        return mid.replace("-Thinking-2507", "").replace("-Instruct-2507", "")

    def step(r):
        return float(r["avg_batch_size"]) / float(r["output_throughput_tokens_per_sec"])

    b8 = {(r["task"], family(r["model_id"]), r["gpu_model"], r["num_gpus"]): r
          for r in rows if r["max_num_seqs"] == "8"}
    return {(t, r["model_id"], gpu, n) for (t, fam, gpu, n), r in b8.items()
            if t == "gpqa" and ("lm-arena-chat", fam, gpu, n) in b8
            and step(r) > V3_STALL_RATIO * step(b8[("lm-arena-chat", fam, gpu, n)])}


def v3_histograms():
    """(model_id, task, gpu, num_gpus, max_num_seqs) -> (file, histogram)."""
    out = {}
    d = os.path.join(DATA, "mlenergy_v3", "raw", "models")
    for fn in sorted(os.listdir(d)):
        with open(os.path.join(d, fn)) as f:
            m = json.load(f)
        org, model, task = fn[: -len(".json")].split("__")
        for c in m["configurations"]:
            key = (f"{org}/{model}", task, c["gpu_model"], int(c["num_gpus"]), int(c["max_num_seqs"]))
            out[key] = (fn, c["output_length_distribution"])
    return out


def v3_cases():
    rows = read_csv("mlenergy_v3/mlenergy_v3_llm_configs.csv")
    hists = v3_histograms()
    stalled = v3_stalled(rows)
    dense, moe, dense_stall, moe_stall = [], [], [], []
    for r in rows:
        task = r["task"]
        if task not in V3_INPUT:
            continue
        mid = r["model_id"]
        model = V3_DENSE.get(mid) or V3_MOE.get(mid)
        if model is None or r["gpu_model"] not in V3_HW:
            continue
        gpus, b = int(r["num_gpus"]), int(r["max_num_seqs"])
        fn, h = hists[(mid, task, r["gpu_model"], gpus, b)]
        bins, counts = h["bins"], h["counts"]
        n = sum(counts)
        # vLLM's expert parallelism shards experts over the same devices that
        # split attention by tensor parallelism (EP = TP x DP, DP 1 here).
        ep = gpus if int(r["expert_parallel"]) > 1 else 1
        quant = V3_QUANT[r["weight_precision"]]
        hw = V3_HW[r["gpu_model"]]
        prec = "" if not quant else "-" + quant
        sets = [
            f"model={model}",
            f"cluster.pools.0.hardware={hw}",
            f"cluster.pools.0.tensor_parallel_size={gpus}",
        ]
        if ep > 1:
            sets.append(f"cluster.pools.0.expert_parallel_size={ep}")
        if quant:
            sets.append(f"engine.quantization={quant}")
        backend = V3_MOE_BACKEND.get((mid, r["gpu_model"]))
        if backend:
            sets.append(f"engine.moe_backend={backend}")
        sets += [
            f"engine.max_num_seqs={b}",
            f"workload.arrival.concurrency={b}",
            f"workload.num_requests={n}",
            V3_MAX_LEN[task],
            V3_INPUT[task],
        ]
        short = mid.split("/")[1]
        case = {
            "id": f"{V3_TASK_TAG[task]}/{short}/{r['gpu_model'].lower()}x{gpus}{prec}/b{b}",
            "study": "mlenergy-v3.yaml",
            "sets": " ".join(sets),
            # output lengths: the run's own histogram (51 equal-width bins)
            "outhist": f"{g(bins[0])}:{g(bins[-1])}:" + " ".join(str(c) for c in counts),
            "ss_tput_v3_tok_s": g(r["output_throughput_tokens_per_sec"]),
            "itl_p50_ms": g(r["median_itl_ms"]),
            "itl_p90_ms": g(r["p90_itl_ms"]),
            "itl_p99_ms": g(r["p99_itl_ms"]),
            "source": f"mlenergy_v3/mlenergy_v3_llm_configs.csv:{r['_row']}; raw/models/{fn}",
        }
        if (task, mid, r["gpu_model"], r["num_gpus"]) in stalled:
            (dense_stall if mid in V3_DENSE else moe_stall).append(case)
        else:
            (dense if mid in V3_DENSE else moe).append(case)
    hdr = ["id", "fast", "study", "sets", "outhist", "ss_tput_v3_tok_s", "itl_p50_ms",
           "itl_p90_ms", "itl_p99_ms", "source"]
    h100 = [c for c in dense if "/h100x" in c["id"]]
    b200 = [c for c in dense if "/b200x" in c["id"]]
    pick_fast(h100, "mlenergy-v3-h100", {
        "chat/Llama-3.1-8B-Instruct/h100x1/b8",
        "chat/Llama-3.1-8B-Instruct/h100x1/b64",
        "chat/Llama-3.1-8B-Instruct/h100x1/b256",
        "chat/Qwen3-8B/h100x1/b16",
        "chat/Qwen3-14B/h100x1/b32",
        "chat/Llama-3.1-70B-Instruct/h100x4/b128",
    })
    pick_fast(b200, "mlenergy-v3-b200", {
        "chat/Llama-3.1-8B-Instruct/b200x1/b8",
        "chat/Llama-3.1-8B-Instruct/b200x1/b64",
        "chat/Qwen3-14B/b200x1/b16",
    })
    pick_fast(moe, "mlenergy-v3-moe", {
        "chat/Qwen3-30B-A3B-Instruct-2507/h100x1/b32",
        "gpqa/gpt-oss-20b/h100x1-fp4/b64",
    })
    pre = """ML.ENERGY Leaderboard v3 (vLLM 0.11.1): steady-state output throughput and
client inter-token latency percentiles at each max_num_seqs, all requests
submitted at once (= closed loop at concurrency max_num_seqs).
Generated by validation/tools/make-cases.py; do not edit by hand."""
    write_cases("mlenergy-v3-h100", hdr, h100, pre + "\nDense models on H100 (servesim: calibrated tables from Vidur's H100 profiles).")
    write_cases("mlenergy-v3-b200", hdr, b200, pre + "\nDense models on B200 (servesim: roofline only, no B200 calibration data).")
    write_cases("mlenergy-v3-moe", hdr, moe, pre + "\nMixture-of-experts models, H100 and B200.")
    # Not in the CI subset: servesim models no stall, so only a full run
    # checks them (bounds.csv, against a change of the B200 roofline).
    pick_fast(dense_stall, "mlenergy-v3-b200-stall", set())
    pick_fast(moe_stall, "mlenergy-v3-moe-b200-stall", set())
    stall = """
Runs that waited on something outside the GPU for about 22 ms every step
(GPQA sweeps whose batch-8 step is more than 1.5x the same model's chat step
on the same GPUs; validation/README.md, "B200 runs with a per-step stall").
servesim does not model the stall: these rows are reported apart, not fitted."""
    write_cases("mlenergy-v3-b200-stall", hdr, dense_stall, pre + "\nDense models on B200." + stall)
    write_cases("mlenergy-v3-moe-b200-stall", hdr, moe_stall, pre + "\nMixture-of-experts models on B200." + stall)


# ---------------------------------------------------------------------------
# ML.ENERGY v2 (vLLM 0.5.4, chunked prefill off, 2000 requests at once)

V2_MODELS = {
    "meta-llama/Meta-Llama-3.1-8B-Instruct": "llama-3.1-8b",
    "meta-llama/Meta-Llama-3.1-70B-Instruct": "llama-3.1-70b",
    "meta-llama/Meta-Llama-3.1-405B-Instruct": "llama-3.1-405b",
    "mistralai/Mistral-7B-Instruct-v0.3": "mistral-7b",
    "mistralai/Mixtral-8x7B-Instruct-v0.1": "mixtral-8x7b",
}
V2_HW = {"A100-SXM4-40GB": "a100-sxm-40g", "H100 80GB HBM3": "h100-sxm"}


def v2_cases():
    rows = read_csv("mlenergy_v2/mlenergy_v2_configs.csv")
    out = []
    for r in rows:
        if r["suite"] != "llm_text_generation" or r["task"] != "chat":
            continue
        model = V2_MODELS.get(r["model"])
        if model is None:
            continue
        tp, pp, b = int(r["tp"]), int(r["pp"]), int(r["max_bs_reqs"])
        hw = V2_HW[r["gpu_dir"]]
        sets = [
            f"model={model}",
            f"cluster.pools.0.hardware={hw}",
            f"cluster.pools.0.tensor_parallel_size={tp}",
        ]
        if pp > 1:
            sets.append(f"cluster.pools.0.pipeline_parallel_size={pp}")
        sets += [
            f"engine.max_num_seqs={b}",
            f"workload.lengths.output.mean={float(r['avg_output_tokens']):.0f}",
        ]
        short = r["model"].split("/")[1]
        gpu = "a100" if hw.startswith("a100") else "h100"
        out.append({
            "id": f"chat/{short}/{gpu}x{tp * pp}/b{b}",
            "study": "mlenergy-v2.yaml",
            "sets": " ".join(sets),
            "ss_tput_v2_tok_s": g(r["token_tput_tok_per_s"]),
            "avg_tpot_v2_ms": g(float(r["avg_tpot_s"]) * 1000),
            "source": f"mlenergy_v2/mlenergy_v2_configs.csv:{r['_row']}",
        })
    out.sort(key=lambda c: c["source"])
    dense = [c for c in out if "Mixtral" not in c["id"]]
    moe = [c for c in out if "Mixtral" in c["id"]]
    hdr = ["id", "fast", "study", "sets", "ss_tput_v2_tok_s", "avg_tpot_v2_ms", "source"]
    pick_fast(dense, "mlenergy-v2", {
        "chat/Meta-Llama-3.1-8B-Instruct/h100x1/b128",
        "chat/Meta-Llama-3.1-8B-Instruct/a100x1/b64",
        "chat/Mistral-7B-Instruct-v0.3/h100x1/b256",
    })
    pick_fast(moe, "mlenergy-v2-moe", {"chat/Mixtral-8x7B-Instruct-v0.1/h100x4/b64"})
    pre = """ML.ENERGY Leaderboard v2 (vLLM 0.5.4, chunked prefill off, 2,000 ShareGPT
first-turn prompts sent at once): steady-state output throughput (until the
waiting queue first empties) and the average of per-iteration mean TPOT.
Generated by validation/tools/make-cases.py; do not edit by hand."""
    write_cases("mlenergy-v2", hdr, dense, pre)
    write_cases("mlenergy-v2-moe", hdr, moe, pre + "\nMixture-of-experts models.")


def v2_prompt_lengths():
    """First-turn ShareGPT prompt proxy for v2: the sarathi-serve ShareGPT
    length table filtered as ML.ENERGY filtered its prompts (4..800 prompt
    and 4..800 completion tokens, Llama tokenizer), plus the system prompt
    and chat template ML.ENERGY's client adds."""
    rows = read_csv("sharegpt_lengths/sharegpt_8k_filtered_stats_llama2_tokenizer.csv")
    extra = 50  # system prompt (22 tokens) + Llama 3.1 chat template (~28)
    path = os.path.join(OUTDATA, "sharegpt-v2-prompts.csv")
    n = 0
    with open(path, "w") as f:
        f.write("arrival_s,input_tokens,output_tokens\n")
        for r in rows:
            p, d = int(r["num_prefill_tokens"]), int(r["num_decode_tokens"])
            if 4 <= p <= 800 and 4 <= d <= 800:
                f.write(f"0,{p + extra},1\n")
                n += 1
    print(f"wrote {path}: {n} prompts")


# ---------------------------------------------------------------------------
# Splitwise characterization (DGX-A100 / DGX-H100)

SW_MODEL = {"llama2-70b": "llama-2-70b", "bloom-176b": "bloom-176b"}
# max_position_embeddings of models/llama-2-70b.yaml and models/bloom-176b.yaml
# (BLOOM's training length): Splitwise ran prompts and outputs past them,
# which servesim, like vLLM, refuses; those rows are left out.
SW_MAX_LEN = {"llama2-70b": 4096, "bloom-176b": 2048}
SW_HW = {"a100-80gb": "a100-sxm-80g", "h100-80gb": "h100-sxm"}
# Splitwise's 2023 engine, like DistServe's vLLM baseline below, predates
# vLLM's custom all-reduce (vllm-project/vllm PR #2192, merged January 2024,
# v0.3.0): every all-reduce went through NCCL.
NO_CUSTOM_AR = "--disable-custom-all-reduce"


def splitwise_cases():
    rows = read_csv("splitwise_sim/perf_model.csv")
    groups = defaultdict(list)
    for r in rows:
        if r["hardware"] not in SW_HW:
            continue  # h100-80gb-pcap: power-capped, issue 6's to model
        key = (r["model"], r["hardware"], int(r["tensor_parallel"]), int(r["prompt_size"]),
               int(r["batch_size"]), int(r["token_size"]))
        groups[key].append(r)
    out = []
    skipped = 0
    for key in sorted(groups):
        model, hw, tp, p, b, t = key
        rs = groups[key]
        if p + t > SW_MAX_LEN[model]:
            skipped += 1
            continue
        prompt = statistics.median(float(r["prompt_time"]) for r in rs)
        token = statistics.median(float(r["token_time"]) for r in rs)
        lines = sorted(r["_row"] for r in rs)
        span = f"{lines[0]}-{lines[-1]}" if lines[-1] - lines[0] == len(lines) - 1 else \
            " ".join(str(x) for x in lines)
        # One iteration each, as Splitwise timed them: the prompt phase is one
        # batch of B prompts of P tokens; token_time is the mean decode step
        # while contexts grow from P to P + T, i.e. (decode time being linear
        # in context) the step at context P + T/2.
        out.append({
            "id": f"{model}/{hw.split('-')[0]}x{tp}/p{p}-b{b}-t{t}",
            "study": "predict",
            "sets": f"--model={SW_MODEL[model]} --hw={SW_HW[hw]} --tp={tp} {NO_CUSTOM_AR}",
            "prefill_batch": f"prefill={p}x{b}",
            "decode_batch": f"decode={b}@{p + t // 2}",
            "prefill_ms": g(prompt),
            "decode_ms": g(token),
            "source": f"splitwise_sim/perf_model.csv rows {span} (median of {len(rs)})",
        })
    hdr = ["id", "fast", "study", "sets", "prefill_batch", "decode_batch", "prefill_ms",
           "decode_ms", "source"]
    pick_fast(out, "splitwise", {
        "llama2-70b/h100x4/p512-b16-t128",
        "llama2-70b/a100x4/p2048-b1-t128",
        "llama2-70b/a100x2/p512-b1-t128",
        "llama2-70b/h100x8/p1024-b1-t128",
        "bloom-176b/h100x8/p512-b4-t128",
    })
    pre = f"""Splitwise characterization (Patel et al., ISCA'24; DGX-A100 and DGX-H100):
prompt_time (one batch of B prompts of P tokens) and token_time (mean decode
iteration while the batch generates T tokens), median of the repeated runs,
against servesim's prediction of those iterations (servesim predict).
{skipped} settings with P + T beyond the model's context (Llama 2: 4096, BLOOM: 2048) are left out.
Generated by validation/tools/make-cases.py; do not edit by hand."""
    write_cases("splitwise", hdr, out, pre)


# ---------------------------------------------------------------------------
# DistServe profiles (fitted to vLLM iteration times on A100-80GB)

DS_MODEL = {"facebook/opt-13b": "opt-13b", "facebook/opt-66b": "opt-66b"}
DS_PREFILL = [(1, 128), (1, 512), (1, 1024), (1, 2000), (4, 512), (16, 256)]
DS_DECODE = [(1, 512), (8, 512), (32, 512), (64, 512), (128, 512), (128, 1024), (256, 512)]


def distserve_cases():
    rel = "distserve_profile/profiler-a100-80g.vllm.json"
    with open(os.path.join(DATA, rel)) as f:
        prof = json.load(f)
    # Tokens of KV cache each (model, TP) holds (DistServe's max_num_tokens.csv,
    # PP 1): a decode batch whose contexts exceed it cannot have been timed,
    # so the fit says nothing there (OPT-66B at TP 2 holds 11,600 tokens).
    kv_cap = {(r["model"], r["tp"]): int(r["max_num_tokens"])
              for r in read_csv("distserve_profile/max_num_tokens.csv") if r["pp"] == "1"}
    out = []
    for mid in sorted(prof):
        for tp in sorted(prof[mid], key=int):
            c = prof[mid][tp]
            a, b_, c2 = c["prefill"]
            base = f"--model={DS_MODEL[mid]} --hw=a100-sxm-80g --tp={tp} {NO_CUSTOM_AR}"
            short = mid.split("/")[1]
            for bs, p in DS_PREFILL:
                out.append({
                    "id": f"{short}/tp{tp}/prefill-b{bs}-p{p}",
                    "study": "predict",
                    "sets": base,
                    "prefill_batch": f"prefill={p}x{bs}",
                    "prefill_ms": g(a + b_ * bs * p + c2 * bs * p * p),
                    "source": f"{rel}: {mid} tp {tp} prefill = a + b*sum(len) + c*sum(len^2)",
                })
            for bs, ctx in DS_DECODE:
                if bs * (ctx + 1) > kv_cap[(mid, tp)]:
                    continue
                key = "decoding_smallbs" if bs < c["decoding_large_small_bs_threshold"] \
                    else "decoding_largebs"
                da, db, dc = c[key]
                out.append({
                    "id": f"{short}/tp{tp}/decode-b{bs}-ctx{ctx}",
                    "study": "predict",
                    "sets": base,
                    "decode_batch": f"decode={bs}@{ctx}",
                    "decode_ms": g(da + db * bs * ctx + dc * bs),
                    "source": f"{rel}: {mid} tp {tp} {key} = a + b*sum(context) + c*batch",
                })
    hdr = ["id", "fast", "study", "sets", "prefill_batch", "decode_batch", "prefill_ms",
           "decode_ms", "source"]
    pick_fast(out, "distserve", {
        "opt-13b/tp1/prefill-b1-p512", "opt-13b/tp1/decode-b32-ctx512",
        "opt-13b/tp2/prefill-b4-p512", "opt-66b/tp4/decode-b64-ctx512",
        "opt-66b/tp8/prefill-b1-p1024",
    })
    pre = """DistServe (Zhong et al., OSDI'24) simulator profiles for vLLM on A100-80GB:
regression fits to measured iteration times, evaluated here at a grid of
batch shapes inside the range such profiles cover (fits, not raw samples),
against servesim's prediction of those iterations (servesim predict).
Generated by validation/tools/make-cases.py; do not edit by hand."""
    write_cases("distserve", hdr, out, pre)


# ---------------------------------------------------------------------------
# TensorRT-LLM perf-overview tables (ratios within a model/GPU/precision/TP)

TRT_REQS = {(128, 128): 30000, (128, 2048): 3000, (128, 4096): 1500, (500, 2000): 3000,
            (1000, 1000): 3000, (1000, 2000): 1500, (2048, 128): 3000, (2048, 2048): 1500,
            (5000, 500): 1500, (20000, 2000): 1000}
TRT14_MODEL = {"LLaMA v3.1 8B": "llama-3.1-8b", "LLaMA v3.1 70B": "llama-3.1-70b",
               "Mistral 7B": "mistral-7b", "Mixtral 8x7B": "mixtral-8x7b"}
TRT14_HW = {"H100 80GB HBM3": "h100-sxm", "H200 141GB HBM3": "h200-sxm",
            "A100-SXM4-80GB": "a100-sxm-80g", "L40S": "l40s"}
TRT10_MODEL = {"Llama 3.1 8B": "llama-3.1-8b", "Llama 3.3 70B": "llama-3.1-70b",
               "Llama 3.1 405B": "llama-3.1-405b"}
TRT10_HW = {"H100": "h100-sxm", "H200": "h200-sxm", "B200": "b200"}


def yaml_scalar(path, key):
    """A top-level scalar of a servesim model or hwprofile YAML (no parser needed)."""
    with open(path) as f:
        for line in f:
            if line.startswith(key + ":"):
                return float(line.split(":", 1)[1].split("#")[0])
    raise KeyError(f"{path}: no {key}")


def trtllm_bench_settings(model, hw, tp, prec, isl, osl):
    """max_batch_size and max_num_tokens as trtllm-bench picks them when the
    command line gives neither, as the perf-overview runs did:
    calc_engine_setting and finetune_setting in tensorrt_llm/bench/build/
    tuning.py. The KV cache is sized as 0.95 of the device memory left after
    the weights (param count x bytes per weight, in GB, against the device's
    memory in GiB: TRT-LLM's own mix of units), the number of ISL + OSL
    requests it holds is rounded up (a "slightly optimistic" batch), capped at
    4096, and the token budget follows as batch x (1 + ISL / OSL) in
    [2048, 32768]. The device memory is the hwprofile's memory_runtime_gib
    (torch's total_memory, what trtllm-bench reads)."""
    root = os.path.dirname(VAL)
    mpath = os.path.join(root, "models", model + ".yaml")
    layers = yaml_scalar(mpath, "num_layers")
    kv_heads = max(tp, yaml_scalar(mpath, "num_kv_heads"))
    head_dim = yaml_scalar(mpath, "head_dim")
    params_b = yaml_scalar(mpath, "published_params") / 1e9
    gib = yaml_scalar(os.path.join(root, "hwprofiles", hw + ".yaml"), "memory_runtime_gib")
    byte_per_elem = {"FP8": 1.0, "FP4": 0.5}.get(prec, 2.0)
    byte_per_kv = 1.0 if prec in ("FP8", "FP4") else 2.0
    gb_per_token = 2 * layers * kv_heads * head_dim * byte_per_kv / 1024 ** 3
    available = gib * tp - params_b * byte_per_elem
    requests = available * 0.95 / gb_per_token / (isl + osl)
    raw_bs = min(requests, 4096)
    raw_tokens = min(raw_bs * (1 + isl / osl), 32768)
    if raw_bs < 256:
        bs = max(64, 32 * math.ceil(raw_bs / 32))
    elif raw_bs < 1024:
        bs = 128 * math.ceil(raw_bs / 128)
    else:
        bs = 256 * math.ceil(raw_bs / 256)
    if raw_tokens < 4096:
        tokens = max(2048, 256 * math.ceil(raw_tokens / 256))
    elif raw_tokens < 8192:
        tokens = 512 * math.ceil(raw_tokens / 512)
    else:
        tokens = 1024 * math.ceil(raw_tokens / 1024)
    # servesim refuses a token budget below the batch (every running
    # sequence needs a token per step); TRT-LLM would cap the batch by it.
    return bs, max(tokens, bs)


def trt_sets(model, hw, tp, prec, isl, osl):
    sets = [f"model={model}", f"cluster.pools.0.hardware={hw}",
            f"cluster.pools.0.tensor_parallel_size={tp}"]
    if prec == "FP8":
        sets += ["engine.quantization=fp8", "engine.kv_cache_dtype=fp8"]
    elif prec == "FP4":
        sets += ["engine.quantization=fp4", "engine.kv_cache_dtype=fp8"]
    elif prec == "FP16":
        sets += ["engine.dtype=float16"]
    n = TRT_REQS[(isl, osl)]
    bs, tokens = trtllm_bench_settings(model, hw, tp, prec, isl, osl)
    sets += [f"engine.max_num_seqs={bs}", f"engine.max_num_batched_tokens={tokens}"]
    sets += [f"engine.max_model_len={isl + osl}",
             f"workload.lengths.input.value={isl}", f"workload.lengths.output.value={osl}",
             f"workload.arrival.concurrency={n}", f"workload.num_requests={n}"]
    return " ".join(sets)


def trt_cases():
    for ver, rel, mmap, hmap, tput_col in (
            ("v0.14", "trtllm_perf_overview/trtllm_v0.14_perf_overview_throughput.csv",
             TRT14_MODEL, TRT14_HW, "token_throughput_tok_per_s"),
            ("v1.0", "trtllm_perf_overview/trtllm_v1.0_perf_overview_throughput.csv",
             TRT10_MODEL, TRT10_HW, "total_output_throughput_tok_per_s")):
        rows = read_csv(rel)
        out = []
        for r in rows:
            model, hw = mmap.get(r["model"]), hmap.get(r["gpu"])
            if model is None or hw is None or int(r.get("pp", 1) or 1) != 1:
                continue
            tp, prec = int(r["tp"]), r["precision"]
            isl, osl = int(r["isl"]), int(r["osl"])
            short = r["model"].replace("LLaMA v", "Llama-").replace(" ", "-")
            grp = f"{short}/{hw}x{tp}-{prec.lower()}"
            out.append({
                "id": f"{grp}/{isl}-{osl}",
                "group": grp,
                "ref": "1" if (isl, osl) == (1000, 1000) else "0",
                "study": "trtllm.yaml",
                "sets": trt_sets(model, hw, tp, prec, isl, osl),
                "tput_tok_s": g(r[tput_col]),
                "source": f"{rel}:{r['_row']}",
            })
        moe = [c for c in out if "Mixtral" in c["id"]]
        dense = [c for c in out if "Mixtral" not in c["id"]]
        hdr = ["id", "fast", "group", "ref", "study", "sets", "tput_tok_s", "source"]
        pre = f"""TensorRT-LLM {ver} perf-overview throughput (trtllm-bench, fixed ISL/OSL, all
requests at once). TensorRT-LLM is faster than vLLM in absolute terms, so
the comparison is of ratios: each row's throughput over its group's
ISL/OSL 1000/1000 row (same model, GPU, precision, TP), simulated vs measured.
Generated by validation/tools/make-cases.py; do not edit by hand."""
        fast = {"v0.14": {"Llama-3.1-8B/h100-sxmx1-fp16/1000-1000",
                          "Llama-3.1-8B/h100-sxmx1-fp16/128-2048",
                          "Llama-3.1-8B/h100-sxmx1-fp16/2048-128",
                          "Llama-3.1-8B/h100-sxmx1-fp16/500-2000"},
                "v1.0": {"Llama-3.1-8B/h100-sxmx1-fp8/1000-1000",
                         "Llama-3.1-8B/h100-sxmx1-fp8/2048-2048",
                         "Llama-3.1-8B/h100-sxmx1-fp8/5000-500"}}[ver]
        pick_fast(dense, "trtllm-" + ver, fast)
        write_cases("trtllm-" + ver, hdr, dense, pre)
        if moe:
            pick_fast(moe, "trtllm-" + ver + "-moe", {"Mixtral-8x7B/h100-sxmx2-fp8/1000-1000",
                                                      "Mixtral-8x7B/h100-sxmx2-fp8/2048-128"})
            write_cases("trtllm-" + ver + "-moe", hdr, moe, pre + "\nMixture-of-experts models.")


# ---------------------------------------------------------------------------
# Azure AI benchmarking guide end-to-end offline throughput

AZ_MODEL = {"LLAMA 3.1 (8B)": "llama-3.1-8b", "LLAMA 3.1 (70B)": "llama-3.1-70b",
            "LLAMA 3 (70B)": "llama-3-70b", "LLAMA 3 (405B)": "llama-3.1-405b"}
AZ_HW = {"ND_H100_v5": "h100-sxm", "ND_H200_v5": "h200-sxm", "ND_MI300X_v5": "mi300x"}


def azure_cases():
    rel = "azure_ai_benchmarking_guide/e2e_offline_throughput.csv"
    rows = read_csv(rel)
    vllm, trt = [], []
    for r in rows:
        model, hw = AZ_MODEL[r["model"]], AZ_HW[r["system_id"]]
        tp, isl, osl, n = int(r["tp"]), int(r["isl"]), int(r["osl"]), int(r["num_requests"])
        sets = [f"model={model}", f"cluster.pools.0.hardware={hw}",
                f"cluster.pools.0.tensor_parallel_size={tp}", "engine.quantization=fp8"]
        if r["engine"] == "vLLM":
            # vLLM's offline (LLM class) defaults on >= 70 GiB devices other
            # than A100: vllm/engine/arg_utils.py, "For GPUs like H100 and MI300x".
            sets += ["engine.max_num_seqs=1024", "engine.max_num_batched_tokens=16384"]
        else:
            # TensorRT-LLM quantize.py --kv_cache_dtype fp8 (the guide's build);
            # its C++ runtime keeps host work off the GPU's critical path
            # (studies/trtllm.yaml says why).
            sets += ["engine.kv_cache_dtype=fp8", "engine.max_num_seqs=1024",
                     "engine.max_num_batched_tokens=8192", "engine.host_overheads=none"]
        sets += [f"engine.max_model_len={isl + osl}",
                 f"workload.lengths.input.value={isl}", f"workload.lengths.output.value={osl}",
                 f"workload.arrival.concurrency={n}", f"workload.num_requests={n}"]
        short = r["model"].replace(" ", "").replace("(", "-").replace(")", "")
        case = {
            "id": f"{short}/{hw}x{tp}/{isl}-{osl}",
            "study": "azure-e2e.yaml",
            "sets": " ".join(sets),
            "tput_tok_s": g(r["throughput_tok_per_s"]),
            "source": f"{rel}:{r['_row']}",
        }
        (vllm if r["engine"] == "vLLM" else trt).append(case)
    hdr = ["id", "fast", "study", "sets", "tput_tok_s", "source"]
    pre = """Azure AI benchmarking guide, end-to-end offline throughput (1,000 requests
of fixed ISL/OSL at once, FP8; output tokens/s of the TP group).
Generated by validation/tools/make-cases.py; do not edit by hand."""
    pick_fast(vllm, "azure-e2e-vllm", {"LLAMA3.1-8B/mi300xx1/1024-1024",
                                       "LLAMA3.1-8B/mi300xx1/128-2048"})
    pick_fast(trt, "azure-e2e-trtllm", {"LLAMA3.1-8B/h100-sxmx1/1024-1024"})
    write_cases("azure-e2e-vllm", hdr, vllm, pre + "\nvLLM on MI300X: the same engine family servesim models.")
    write_cases("azure-e2e-trtllm", hdr, trt, pre + "\nTensorRT-LLM on H100/H200 (host time off the critical "
                "path, engine.host_overheads=none):\nthe kernels' gap to vLLM's remains.")


if __name__ == "__main__":
    os.makedirs(CASES, exist_ok=True)
    os.makedirs(OUTDATA, exist_ok=True)
    v3_cases()
    v2_cases()
    v2_prompt_lengths()
    splitwise_cases()
    distserve_cases()
    trt_cases()
    azure_cases()
