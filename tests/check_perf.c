/* Tests of the predictor (perf/): hand-computed rooflines on a made-up
 * model and device, memoisation (hits, call-order independence),
 * monotonicity, parallel plans (TP all-reduce, PP stages, EP all-to-all),
 * plan errors and the --batch parser; with calibrated tables built in the
 * test, hand-computed table times and coverage per op, the mixed-context
 * decode model and the decode context histogram; and the coverage the
 * shipped calibrated profiles give real models. */
#include "perf/predictor.h"

#include "hw/calib.h"
#include "model/model.h"

#include <check.h>
#include <math.h>
#include <string.h>

#include "testutil.h"

/* Llama-3-8B's shapes (meta-llama/Meta-Llama-3-8B config.json). */
static SvModel llama8b(void)
{
    SvModel m = sv_test_tiny_model(2);
    m.name = (char *)"llama-3-8b-like";
    m.num_layers = 32;
    m.hidden_size = 4096;
    m.num_heads = 32;
    m.num_kv_heads = 8;
    m.head_dim = 128;
    m.intermediate_size = 14336;
    m.vocab_size = 128256;
    return m;
}

/* H100 SXM numbers of hwprofiles/h100-sxm.yaml. */
static SvHw h100(void)
{
    SvHw hw = sv_test_tiny_hw();
    hw.name = (char *)"h100-like";
    hw.peak_flops[SV_DTYPE_BF16] = 989e12;
    hw.peak_flops[SV_DTYPE_FP16] = 989e12;
    hw.peak_flops[SV_DTYPE_FP8] = 1979e12;
    hw.mem_bw_bytes_per_s = 3.35e12;
    hw.scaleup_bw_bytes_per_s = 450e9;
    hw.eff_matmul = 0.80;
    hw.eff_mem = 0.89;
    hw.eff_link = 0.81;
    return hw;
}

static SvPlan plan_of(int tp, int pp, int ep)
{
    SvPlan p = {.tp = tp,
                .pp = pp,
                .ep = ep,
                .act_dtype = SV_DTYPE_BF16,
                .weight_dtype = SV_DTYPE_BF16,
                .kv_dtype = SV_DTYPE_BF16};
    return p;
}

static SvPredictor *make(const SvModel *m, const SvHw *hw, int tp, int pp, int ep)
{
    SvPlan plan = plan_of(tp, pp, ep);
    g_autoptr(GError) error = NULL;
    SvPredictor *p = sv_predictor_new(m, hw, &plan, &error);
    ck_assert_msg(p != NULL, "predictor: %s", error ? error->message : "?");
    return p;
}

static const SvOpTime *find_op(GArray *ops, const char *name)
{
    for (guint i = 0; i < ops->len; i++)
        if (strcmp(g_array_index(ops, SvOpTime, i).name, name) == 0)
            return &g_array_index(ops, SvOpTime, i);
    return NULL;
}

static int count_ops(GArray *ops, const char *name)
{
    int n = 0;
    for (guint i = 0; i < ops->len; i++)
        if (strcmp(g_array_index(ops, SvOpTime, i).name, name) == 0)
            n++;
    return n;
}

#define ck_assert_rel(got, want, tol)                                                              \
    ck_assert_msg(fabs((got) - (want)) <= (tol)*fabs(want), "%s = %.9g, want %.9g (+-%g%%)", #got, \
                  (double)(got), (double)(want), (tol)*100.0)

START_TEST(test_gemm_compute_bound)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_prefill(&s, 4096, 0);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    const SvOpTime *up = find_op(ops, "mlp_up");
    ck_assert_ptr_nonnull(up);
    /* M=4096, N=2x4096, K=1024: 68.7 GFLOP at 50 TFLOP/s = 1.374 ms, while its
     * 92 MB take 92 us at 1 TB/s: compute-bound. */
    double flops = 2.0 * 4096 * 8192 * 1024;
    double bytes = 1024.0 * 8192 * 2 + 4096.0 * (1024 + 8192) * 2;
    ck_assert_rel(up->flops, flops, 1e-12);
    ck_assert_rel(up->bytes, bytes, 1e-12);
    ck_assert_rel(up->time_s, flops / 50e12, 1e-9);
    ck_assert_int_eq(up->count, 2);
    ck_assert_str_eq(sv_coverage_name(up->coverage), "roofline");
}
END_TEST

START_TEST(test_gemm_memory_bound)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 1, 100);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    /* One token through the down projection: 8.4 MB of weights at 1 TB/s
     * (8.4 us) against 8.4 MFLOP at 50 TFLOP/s (0.17 us). */
    const SvOpTime *down = find_op(ops, "mlp_down");
    double bytes = 4096.0 * 1024 * 2 + (4096.0 + 1024) * 2;
    ck_assert_rel(down->time_s, bytes / 1e12, 1e-9);
    /* Elementwise: the residual add reads two and writes one hidden state. */
    const SvOpTime *add = find_op(ops, "add");
    ck_assert_rel(add->time_s, 3.0 * 1024 * 2 / 1e12, 1e-9);
    ck_assert_int_eq(add->count, 4);
    /* Decode attention reads 100 tokens x 2 (K,V) x 4 heads x 64 x 2 bytes. */
    const SvOpTime *attn = find_op(ops, "attn_decode");
    ck_assert_rel(attn->bytes, 100.0 * 1024 + 16.0 * 128 * 2, 1e-12);
    ck_assert_rel(attn->flops, 4.0 * 100 * 64 * 16, 1e-12);
    ck_assert_ptr_null(find_op(ops, "attn_prefill"));
    ck_assert_ptr_null(find_op(ops, "all_reduce"));
}
END_TEST

/* Layer weights of the tiny model: qkv (16+8)x64, o, gated MLP. */
static double tiny_layer_params(void)
{
    return 1024.0 * (16 + 8) * 64 + 1024.0 * 1024 + 3.0 * 1024 * 4096;
}

START_TEST(test_decode_weight_bound)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 4, 64);
    double iter_s = 0;
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, &iter_s);
    /* A small decode batch streams every weight but the embedding once. */
    double weights = (2 * tiny_layer_params() + 1024.0 * 1000) * 2;
    ck_assert_rel(iter_s, weights / 1e12, 0.05);
    ck_assert(iter_s >= weights / 1e12);
    /* The memoised value agrees within the bucket error. */
    SvTimeNs t = sv_predictor_iteration_ns(p, &s, NULL);
    ck_assert_rel((double)t, iter_s * 1e9, 0.01);
}
END_TEST

START_TEST(test_prefill_llama8b_compute)
{
    SvModel m = llama8b();
    SvHw hw = h100();
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_prefill(&s, 4096, 0);
    double flops = 0;
    SvTimeNs t = sv_predictor_iteration_ns(p, &s, &flops);
    /* Non-embedding parameters: 32 x (4096 x 6144 qkv + 4096^2 o + 3 x 4096 x 14336). */
    double params = 32.0 * (4096.0 * 6144 + 4096.0 * 4096 + 3.0 * 4096 * 14336);
    double want = 2.0 * params * 4096 / (989e12 * 0.80);
    /* The layer GEMMs are compute-bound: 2 x params x tokens at peak x eff. */
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    double gemm_s = 0;
    const char *gemms[] = {"qkv_proj", "o_proj", "mlp_up", "mlp_down"};
    for (size_t i = 0; i < G_N_ELEMENTS(gemms); i++) {
        const SvOpTime *o = find_op(ops, gemms[i]);
        gemm_s += o->count * o->time_s;
    }
    ck_assert_rel(gemm_s, want, 0.02);
    /* The whole iteration adds causal attention (~8 %) and the unfused
     * norms, RoPE, SiLU and adds (~12 %; Vidur's H100 profile of Llama-2-7B
     * at 4096 tokens has the same share): within 15 % + 15 %. */
    ck_assert(sv_ns_to_s(t) > want);
    ck_assert_rel(sv_ns_to_s(t), want, 0.30);
    /* flops_out: 2 x params x tokens + causal attention + one LM-head row. */
    double attn = 32.0 * 4 * (4096.0 * 4097 / 2) * 128 * 32;
    double lm = 2.0 * 4096 * 128256;
    ck_assert_rel(flops, 2.0 * params * 4096 + attn + lm, 0.01);
}
END_TEST

START_TEST(test_flops_out_exact)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) p = make(&m, &hw, 2, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_prefill(&s, 100, 0); /* exact buckets below 256 */
    sv_batch_add_decode(&s, 3, 50);
    double flops = 0, memo_flops = 0;
    sv_predictor_stage_times(p, &s, NULL, &flops);
    sv_predictor_iteration_ns(p, &s, &memo_flops); /* at the bucket representative */
    ck_assert_rel(memo_flops, flops, 0.01);
    double T = 103;
    double attn = 2 * (4.0 * (100.0 * 101 / 2) * 64 * 16 + 4.0 * 150 * 64 * 16);
    double want = 2.0 * T * 2 * tiny_layer_params() + attn + 2.0 * 4 * 1024 * 1000;
    ck_assert_rel(flops, want, 1e-9);
    /* The same whatever the TP degree: model FLOPs, not device FLOPs. */
    g_autoptr(SvPredictor) p1 = make(&m, &hw, 1, 1, 1);
    double flops1 = 0;
    sv_predictor_stage_times(p1, &s, NULL, &flops1);
    ck_assert_rel(flops1, want, 1e-9);
}
END_TEST

START_TEST(test_overheads)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) p0 = make(&m, &hw, 1, 1, 1);
    SvHw slow = sv_test_tiny_hw();
    slow.kernel_launch_s = 1e-6;
    slow.host_overhead_iter_s = 1e-3;
    slow.host_overhead_req_s = 1e-5;
    g_autoptr(SvPredictor) p1 = make(&m, &slow, 1, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 10, 1000);
    double t0, t1;
    g_autoptr(GArray) ops0 = sv_predictor_ops(p0, &s, &t0);
    g_autoptr(GArray) ops1 = sv_predictor_ops(p1, &s, &t1);
    /* Kernels: embed + per layer (2 norms, qkv, rope, attn, kv_store, o,
     * up, act, down, 2 adds = 12) x 2 + final norm, lm_head, sampler. */
    int kernels = 1 + 12 * 2 + 3;
    ck_assert_rel(t1 - t0, kernels * 1e-6 + 1e-3 + 10 * 1e-5, 1e-6);
    const SvOpTime *host = find_op(ops1, "host_overhead");
    ck_assert_int_eq(host->count, 1);
    ck_assert_rel(host->time_s, 1.1e-3, 1e-9);
}
END_TEST

/* vLLM's CUDA graph switch: a step of more new tokens than the capture
 * size (or any step under enforce_eager) adds eager_layer_s per layer of
 * each stage, reported to the power model as the profile's eager_s (busy
 * time, not host time); at or below the size, nothing. Hand-computed on
 * the two-layer tiny model: the graphed plan's time is the reference. (A
 * dense model pays no eager_moe_layer_s: test_eager_moe.) */
START_TEST(test_eager_overhead)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    hw.eager_layer_s = 50e-6;
    hw.eager_moe_layer_s = 1e-3;
    SvPlan graphed = plan_of(1, 1, 1), limit = graphed, eager = graphed;
    limit.cudagraph_limit = TRUE;
    limit.cudagraph_max_tokens = 8;
    eager.cudagraph_limit = TRUE;
    eager.cudagraph_max_tokens = 0; /* enforce_eager */
    g_autoptr(GError) error = NULL;
    g_autoptr(SvPredictor) p0 = sv_predictor_new(&m, &hw, &graphed, &error);
    g_autoptr(SvPredictor) p1 = sv_predictor_new(&m, &hw, &limit, &error);
    g_autoptr(SvPredictor) pe = sv_predictor_new(&m, &hw, &eager, &error);
    ck_assert_msg(p0 && p1 && pe, "%s", error ? error->message : "?");
    for (int n = 1; n <= 12; n++) {
        /* n decodes, then a prefill chunk of n - 1 tokens with one decode:
         * the same token count T = n either way. */
        for (int mixed = 0; mixed < 2; mixed++) {
            SvBatchShape s = {0};
            if (mixed && n > 1) {
                sv_batch_add_prefill(&s, n - 1, 100);
                sv_batch_add_decode(&s, 1, 300);
            } else {
                sv_batch_add_decode(&s, n, 300);
            }
            double t0, t1, te;
            g_autoptr(GArray) ops0 = sv_predictor_ops(p0, &s, &t0);
            g_autoptr(GArray) ops1 = sv_predictor_ops(p1, &s, &t1);
            g_autoptr(GArray) opse = sv_predictor_ops(pe, &s, &te);
            /* Just below and at the limit, no cost; one token above, two
             * layers' launches: 100 us. */
            double want1 = n <= 8 ? 0 : 2 * 50e-6;
            ck_assert_msg(fabs(t1 - t0 - want1) < 1e-12, "T %d: %.9g s over the graphed %.9g", n,
                          t1 - t0, t0);
            ck_assert_msg(fabs(te - t0 - 2 * 50e-6) < 1e-12, "T %d eager", n);
            const SvOpTime *op = find_op(ops1, "eager_overhead");
            ck_assert_ptr_nonnull(op);
            ck_assert_int_eq(op->count, n <= 8 ? 0 : 1);
            ck_assert(op->time_s == 2 * 50e-6);
            ck_assert_ptr_null(find_op(ops0, "eager_overhead"));
            /* The memoised time and the profile agree: the eager time is
             * the profile's eager_s, and the host time is unchanged. */
            SvIterProfile a, b, e;
            SvTimeNs ns0 = sv_predictor_iteration_profile(p0, &s, &a, NULL);
            SvTimeNs ns1 = sv_predictor_iteration_profile(p1, &s, &b, NULL);
            sv_predictor_iteration_profile(pe, &s, &e, NULL);
            ck_assert_int_eq(ns1 - ns0, n <= 8 ? 0 : 100000);
            ck_assert(a.eager_s == 0 && b.eager_s == want1 && e.eager_s == 2 * 50e-6);
            double host_a = a.total_s - a.compute_s - a.memory_s - a.comm_s - a.eager_s;
            double host_b = b.total_s - b.compute_s - b.memory_s - b.comm_s - b.eager_s;
            ck_assert_msg(fabs(host_b - host_a) < 1e-12, "host share T %d", n);
        }
    }
    /* Two stages of one layer each: each stage's worker launches its own
     * layer, so each stage takes 50 us more, the iteration 100 us. */
    SvPlan pp = limit;
    pp.pp = 2;
    SvPlan pp_graphed = graphed;
    pp_graphed.pp = 2;
    g_autoptr(SvPredictor) q1 = sv_predictor_new(&m, &hw, &pp, &error);
    g_autoptr(SvPredictor) q0 = sv_predictor_new(&m, &hw, &pp_graphed, &error);
    ck_assert_msg(q0 && q1, "%s", error ? error->message : "?");
    SvBatchShape big = {0};
    sv_batch_add_decode(&big, 9, 300);
    ck_assert_int_eq(sv_predictor_iteration_ns(q1, &big, NULL) -
                         sv_predictor_iteration_ns(q0, &big, NULL),
                     100000);
    ck_assert_int_eq(sv_predictor_stage_max_ns(q1, &big) - sv_predictor_stage_max_ns(q0, &big),
                     50000);
    /* A named host profile holds its engine's eager steps already. */
    SvHostProfile prof = {.name = (char *)"fitted", .iteration_s = 1e-3};
    hw.host_profiles = &prof;
    hw.num_host_profiles = 1;
    SvPlan named = eager;
    named.host_overheads = "fitted";
    g_autoptr(SvPredictor) pn = sv_predictor_new(&m, &hw, &named, &error);
    ck_assert_msg(pn != NULL, "%s", error ? error->message : "?");
    double tn;
    g_autoptr(GArray) opsn = sv_predictor_ops(pn, &big, &tn);
    ck_assert_ptr_null(find_op(opsn, "eager_overhead"));
}
END_TEST

START_TEST(test_memo_hits_and_order)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) a = make(&m, &hw, 1, 1, 1);
    g_autoptr(SvPredictor) b = make(&m, &hw, 1, 1, 1);
    /* Two shapes in one bucket (decode context 100000 vs 100001). */
    SvBatchShape s1 = {0}, s2 = {0};
    sv_batch_add_decode(&s1, 1, 100000);
    sv_batch_add_decode(&s2, 1, 100001);
    SvTimeNs a1 = sv_predictor_iteration_ns(a, &s1, NULL);
    SvTimeNs a2 = sv_predictor_iteration_ns(a, &s2, NULL);
    SvTimeNs b2 = sv_predictor_iteration_ns(b, &s2, NULL);
    SvTimeNs b1 = sv_predictor_iteration_ns(b, &s1, NULL);
    ck_assert_int_eq(a1, b1);
    ck_assert_int_eq(a2, b2);
    uint64_t hits, misses;
    sv_predictor_memo_stats(a, &hits, &misses);
    ck_assert_int_eq(hits, 1);
    ck_assert_int_eq(misses, 1);
    ck_assert_int_eq(sv_predictor_iteration_ns(a, &s1, NULL), a1);
    sv_predictor_memo_stats(a, &hits, &misses);
    ck_assert_int_eq(hits, 2);
    /* A different bucket is a miss. */
    SvBatchShape s3 = {0};
    sv_batch_add_decode(&s3, 2, 100000);
    sv_predictor_iteration_ns(a, &s3, NULL);
    sv_predictor_memo_stats(a, &hits, &misses);
    ck_assert_int_eq(misses, 2);
    /* Empty batch: no time, no lookup. */
    SvBatchShape empty = {0};
    double flops = 1;
    ck_assert_int_eq(sv_predictor_iteration_ns(a, &empty, &flops), 0);
    ck_assert(flops == 0);
}
END_TEST

START_TEST(test_memo_accuracy_and_growth)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    hw.kernel_launch_s = 2e-6;
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    /* Many distinct shapes (forcing the table to grow) each within 1 % of
     * the unmemoised breakdown. */
    for (int i = 0; i < 6000; i++) {
        SvBatchShape s = {0};
        sv_batch_add_prefill(&s, 1 + (i * 37) % 9000, (i * 101) % 20000);
        sv_batch_add_decode(&s, 1 + i % 50, 1 + (i * 7919) % 30000);
        double exact;
        g_autoptr(GArray) ops = sv_predictor_ops(p, &s, &exact);
        SvTimeNs t = sv_predictor_iteration_ns(p, &s, NULL);
        ck_assert_rel((double)t, exact * 1e9, 0.01);
    }
    uint64_t hits, misses;
    sv_predictor_memo_stats(p, &hits, &misses);
    ck_assert_int_eq(hits + misses, 6000);
    ck_assert(misses > 4096);
}
END_TEST

START_TEST(test_monotone)
{
    SvModel m = llama8b();
    SvHw hw = h100();
    hw.kernel_launch_s = 4e-6;
    g_autoptr(SvPredictor) p = make(&m, &hw, 2, 1, 1);
    SvTimeNs prev = 0;
    for (int64_t tok = 1; tok <= 40000; tok += 1 + tok / 50) {
        SvBatchShape s = {0};
        sv_batch_add_prefill(&s, tok, 0);
        SvTimeNs t = sv_predictor_iteration_ns(p, &s, NULL);
        ck_assert_msg(t >= prev, "prefill %lld tokens: %lld < %lld", (long long)tok, (long long)t,
                      (long long)prev);
        prev = t;
    }
    prev = 0;
    for (int64_t ctx = 0; ctx <= 200000; ctx += 1 + ctx / 40) {
        SvBatchShape s = {0};
        sv_batch_add_decode(&s, 32, ctx);
        SvTimeNs t = sv_predictor_iteration_ns(p, &s, NULL);
        ck_assert_msg(t >= prev, "decode context %lld: %lld < %lld", (long long)ctx, (long long)t,
                      (long long)prev);
        prev = t;
    }
    prev = 0;
    for (int n = 1; n <= 1024; n++) {
        SvBatchShape s = {0};
        sv_batch_add_decode(&s, n, 3000);
        SvTimeNs t = sv_predictor_iteration_ns(p, &s, NULL);
        ck_assert_msg(t >= prev, "decode count %d", n);
        prev = t;
    }
    /* More cached context before a chunk never makes it faster. */
    prev = 0;
    for (int64_t ctx = 0; ctx <= 100000; ctx += 997) {
        SvBatchShape s = {0};
        sv_batch_add_prefill(&s, 512, ctx);
        SvTimeNs t = sv_predictor_iteration_ns(p, &s, NULL);
        ck_assert(t >= prev);
        prev = t;
    }
}
END_TEST

START_TEST(test_tp_all_reduce)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    SvBatchShape s = {0};
    sv_batch_add_prefill(&s, 1000, 0);
    g_autoptr(SvPredictor) p1 = make(&m, &hw, 1, 1, 1);
    g_autoptr(SvPredictor) p2 = make(&m, &hw, 2, 1, 1);
    g_autoptr(GArray) o1 = sv_predictor_ops(p1, &s, NULL);
    g_autoptr(GArray) o2 = sv_predictor_ops(p2, &s, NULL);
    ck_assert_ptr_null(find_op(o1, "all_reduce"));
    const SvOpTime *ar = find_op(o2, "all_reduce");
    ck_assert_ptr_nonnull(ar);
    ck_assert_int_eq(ar->count, 4);
    /* Ring on 2 NVLink devices with the Simple protocol, NCCL's latency
     * 8.4 us + 2 steps x 3.4 us, then 2 x 1/2 x 2 MB at 100 GB/s x 0.5
     * (LL128 and the tree lose at 2 MB). */
    double bytes = 1000.0 * 1024 * 2;
    ck_assert_rel(ar->time_s, bytes / 50e9 + 15.2e-6, 1e-9);
    ck_assert_str_eq(ar->algo, "ring/Simple");
    ck_assert_str_eq(ar->link, "nvlink");
    ck_assert_int_eq(ar->group, 2);
    /* Wider than a node (2 devices each): 2 nodes, the ring's bandwidth is
     * the 2 NICs of a node's two devices, 2 x 10 GB/s x 0.5, and its
     * latency 8.4 + 4 intra-node steps x 3.4 + 2 network steps x 14 us. */
    SvModel wide = sv_test_tiny_model(2);
    hw.devices_per_node = 2;
    g_autoptr(SvPredictor) p4 = make(&wide, &hw, 4, 1, 1);
    g_autoptr(GArray) o4 = sv_predictor_ops(p4, &s, NULL);
    ar = find_op(o4, "all_reduce");
    ck_assert_rel(ar->time_s, 2.0 * 3 / 4 * bytes / 10e9 + 50e-6, 1e-9);
    ck_assert_str_eq(ar->link, "scaleout");
    ck_assert_int_eq(ar->domains, 2);
    /* The GEMMs are split: qkv per device has 8 q + 2 kv heads at tp 2. */
    const SvOpTime *q2 = find_op(o2, "qkv_proj");
    ck_assert_rel(q2->flops, 2.0 * 1000 * 1024 * (8 + 4) * 64, 1e-12);
}
END_TEST

START_TEST(test_kv_heads_replicated)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    /* tp 8 > 4 KV heads: each device keeps one whole KV head. */
    g_autoptr(SvPredictor) p = make(&m, &hw, 8, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 1, 1000);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    const SvOpTime *attn = find_op(ops, "attn_decode");
    ck_assert_rel(attn->bytes, 1000.0 * 2 * 64 * 2 + 2.0 * 128 * 2, 1e-12);
}
END_TEST

START_TEST(test_pp_stages)
{
    SvModel m = sv_test_tiny_model(2);
    m.num_layers = 5;
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 2, 1);
    ck_assert_int_eq(sv_predictor_num_stages(p), 2);
    SvBatchShape s = {0};
    sv_batch_add_prefill(&s, 300, 0);
    double stages[2], iter_s;
    double sum = sv_predictor_stage_times(p, &s, stages, NULL);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, &iter_s);
    ck_assert_rel(sum, stages[0] + stages[1], 1e-12);
    ck_assert_rel(iter_s, sum, 1e-12);
    /* 5 layers: 3 on the first stage, 2 on the last (vLLM's split gives the
     * remainder to the stages before the last). */
    ck_assert(stages[0] > stages[1]);
    const SvOpTime *sr = find_op(ops, "send_recv");
    ck_assert_ptr_nonnull(sr);
    ck_assert_int_eq(sr->count, 1);
    /* The hidden states and the residual, over the node's fabric. */
    ck_assert_rel(sr->bytes, 2.0 * 300 * 1024 * 2, 1e-12);
    ck_assert_rel(sr->time_s, sr->bytes / 50e9 + 5e-6, 1e-9);
    ck_assert_str_eq(sr->algo, "direct");
    ck_assert_int_eq(find_op(ops, "embed")->count, 1);
    ck_assert_int_eq(find_op(ops, "lm_head")->count, 1);
    /* Layer ops of both stages merge into one row; norms include the final. */
    ck_assert_int_eq(find_op(ops, "qkv_proj")->count, 5);
    ck_assert_int_eq(find_op(ops, "rmsnorm")->count, 11);
    ck_assert_int_eq(count_ops(ops, "qkv_proj"), 1);
    SvTimeNs max_ns = sv_predictor_stage_max_ns(p, &s);
    ck_assert_rel((double)max_ns, stages[0] * 1e9, 0.01);
    double total = 0;
    for (guint i = 0; i < ops->len; i++) {
        const SvOpTime *o = &g_array_index(ops, SvOpTime, i);
        total += o->count * o->time_s;
    }
    ck_assert_rel(total, iter_s, 1e-12);
}
END_TEST

static SvModel tiny_moe(void)
{
    SvModel m = sv_test_tiny_model(2);
    m.name = (char *)"tiny-moe";
    m.intermediate_size = 0;
    m.num_experts = 8;
    m.experts_per_token = 2;
    m.moe_intermediate_size = 512;
    m.num_shared_experts = 1;
    return m;
}

START_TEST(test_moe)
{
    SvModel m = tiny_moe();
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 1, 10);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    const SvOpTime *ex = find_op(ops, "moe_experts");
    ck_assert_ptr_nonnull(ex);
    /* One token, top-2 of 8: 8 x (1 - (7/8)^2) = 1.875 experts expected
     * touched, each 3 x 1024 x 512 weights; 8 groups of 0.25 tokens. */
    double wbytes = 1.875 * 3.0 * 1024 * 512 * 2;
    double act = 8 * 0.25 * ((1024 + 1024) + (512 + 1024)) * 2;
    ck_assert_rel(ex->bytes, wbytes + act, 1e-9);
    ck_assert_rel(ex->time_s, ex->bytes / 1e12, 1e-9);
    ck_assert_ptr_nonnull(find_op(ops, "moe_router"));
    ck_assert_ptr_nonnull(find_op(ops, "mlp_up")); /* the shared expert */
    ck_assert_ptr_null(find_op(ops, "all_to_all"));
    /* Many tokens touch every expert: weights read once each. The fused
     * kernel pads each expert's 1024 rows by half a 16-row tile on average:
     * 8 experts x 1031.5 rows executed. */
    SvBatchShape big = {0};
    sv_batch_add_prefill(&big, 4096, 0);
    g_autoptr(GArray) ops_big = sv_predictor_ops(p, &big, NULL);
    ex = find_op(ops_big, "moe_experts");
    double flops = 2.0 * 8 * 1031.5 * 3 * 1024 * 512;
    ck_assert_rel(ex->flops, flops, 1e-12);

    /* EP 2 inside TP 2 (vLLM's enable_expert_parallel without data
     * parallelism): four local experts per device; every device holds
     * every token, so the output is all-reduced as a dense MLP's and there
     * is no all-to-all. The busiest of the two EP ranks gets the expected
     * maximum of two Binomial(8192, 1/2) counts, taken as normals:
     * 4096 + sqrt(2 x 2048) x phi(0) (Clark, two equal means). */
    g_autoptr(SvPredictor) pe = make(&m, &hw, 2, 1, 2);
    g_autoptr(GArray) ops_ep = sv_predictor_ops(pe, &big, NULL);
    ck_assert_ptr_null(find_op(ops_ep, "all_to_all"));
    ck_assert_int_eq(find_op(ops_ep, "all_reduce")->count, 4);
    double hot = 4096.0 + sqrt(4096.0) / sqrt(2.0 * G_PI);
    /* Its 4 experts all touched, each padded by 7.5 rows. */
    ck_assert_rel(find_op(ops_ep, "moe_experts")->flops, 2.0 * (hot + 4 * 7.5) * 3 * 1024 * 512,
                  1e-9);
}
END_TEST

/* The MoE term of an eager step: per MoE layer of the stage on top of the
 * per-layer one; DeepSeek-style leading dense layers pay only the latter. */
START_TEST(test_eager_moe)
{
    SvModel m = tiny_moe();
    m.num_layers = 3;
    m.first_k_dense_layers = 1;
    m.intermediate_size = 1024;
    SvHw hw = sv_test_tiny_hw();
    hw.eager_layer_s = 10e-6;
    hw.eager_moe_layer_s = 200e-6;
    SvPlan graphed = plan_of(1, 1, 1), limit = graphed;
    limit.cudagraph_limit = TRUE;
    limit.cudagraph_max_tokens = 16;
    g_autoptr(GError) error = NULL;
    g_autoptr(SvPredictor) p0 = sv_predictor_new(&m, &hw, &graphed, &error);
    g_autoptr(SvPredictor) p1 = sv_predictor_new(&m, &hw, &limit, &error);
    ck_assert_msg(p0 && p1, "%s", error ? error->message : "?");
    SvBatchShape at = {0}, above = {0};
    sv_batch_add_decode(&at, 16, 500);
    sv_batch_add_decode(&above, 17, 500);
    ck_assert_int_eq(sv_predictor_iteration_ns(p1, &at, NULL),
                     sv_predictor_iteration_ns(p0, &at, NULL));
    /* 3 layers x 10 us + 2 MoE layers x 200 us = 430 us. */
    ck_assert_int_eq(sv_predictor_iteration_ns(p1, &above, NULL) -
                         sv_predictor_iteration_ns(p0, &above, NULL),
                     430000);
    double t;
    g_autoptr(GArray) ops = sv_predictor_ops(p1, &above, &t);
    const SvOpTime *op = find_op(ops, "eager_overhead");
    ck_assert_ptr_nonnull(op);
    ck_assert_int_eq(op->count, 1);
    ck_assert_rel(op->time_s, 430e-6, 1e-12);
    SvIterProfile prof;
    sv_predictor_iteration_profile(p1, &above, &prof, NULL);
    ck_assert_rel(prof.eager_s, 430e-6, 1e-12);
    /* Under data parallelism the limit applies to one attention rank's
     * tokens: 34 decodes on two ranks are 17 a rank (eager), 32 are 16. */
    SvPlan dp = limit;
    dp.dp = 2;
    dp.ep = 2;
    g_autoptr(SvPredictor) p2 = sv_predictor_new(&m, &hw, &dp, &error);
    ck_assert_msg(p2 != NULL, "%s", error ? error->message : "?");
    SvBatchShape at2 = {0}, above2 = {0};
    sv_batch_add_decode(&at2, 32, 500);
    sv_batch_add_decode(&above2, 34, 500);
    sv_predictor_iteration_profile(p2, &at2, &prof, NULL);
    ck_assert(prof.eager_s == 0);
    sv_predictor_iteration_profile(p2, &above2, &prof, NULL);
    ck_assert_rel(prof.eager_s, 430e-6, 1e-12);
    g_autoptr(GArray) ops2 = sv_predictor_ops(p2, &above2, &t);
    ck_assert_int_eq(find_op(ops2, "eager_overhead")->count, 1);
}
END_TEST

START_TEST(test_mla_and_window)
{
    /* A small DeepSeek-style MLA model. */
    SvModel m = sv_test_tiny_model(2);
    m.attn = SV_ATTN_MLA;
    m.num_kv_heads = 16;
    m.q_lora_rank = 256;
    m.kv_lora_rank = 128;
    m.qk_nope_head_dim = 64;
    m.qk_rope_head_dim = 32;
    m.v_head_dim = 64;
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) p = make(&m, &hw, 2, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 1, 1000);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    const SvOpTime *attn = find_op(ops, "attn_decode");
    /* Latent cache: 1000 x (128 + 32) x 2 bytes on every rank. */
    ck_assert_rel(attn->bytes, 1000.0 * 160 * 2 + 8.0 * (160 + 128) * 2, 1e-12);
    /* Absorbed decode: each of the 8 local heads dots q (latent 128 + rope
     * 32) with every cached latent and sums the latents (128): 2 x (160 +
     * 128) FLOPs per head and cached token. */
    ck_assert_rel(attn->flops, 1000.0 * 2 * (160 + 128) * 8, 1e-12);
    /* Prefill in the naive form: q.k over 64 + 32, v of 64. */
    SvBatchShape pf = {0};
    sv_batch_add_prefill(&pf, 100, 0);
    g_autoptr(GArray) pops = sv_predictor_ops(p, &pf, NULL);
    ck_assert_rel(find_op(pops, "attn_prefill")->flops, 100.0 * 101 / 2 * 2 * (96 + 64) * 8, 1e-12);
    const SvOpTime *qkv = find_op(ops, "qkv_proj");
    double w = 1024.0 * 256 + 256.0 * 8 * 96 + 1024.0 * 160 + 128.0 * 8 * 128;
    ck_assert(qkv->bytes > w * 2 && qkv->bytes < w * 2 * 1.01);

    /* Sliding window every other layer: the windowed layer reads 128 tokens. */
    SvModel wm = sv_test_tiny_model(2);
    wm.sliding_window = 128;
    wm.sliding_window_every = 2;
    g_autoptr(SvPredictor) pw = make(&wm, &hw, 1, 1, 1);
    SvBatchShape d = {0};
    sv_batch_add_decode(&d, 4, 5000);
    g_autoptr(GArray) wops = sv_predictor_ops(pw, &d, NULL);
    ck_assert_int_eq(count_ops(wops, "attn_decode"), 2);
    double smallest = G_MAXDOUBLE;
    for (guint i = 0; i < wops->len; i++) {
        const SvOpTime *o = &g_array_index(wops, SvOpTime, i);
        if (strcmp(o->name, "attn_decode") == 0) {
            ck_assert_int_eq(o->count, 1);
            smallest = MIN(smallest, o->bytes);
        }
    }
    ck_assert_rel(smallest, 4.0 * 128 * 1024 + 4.0 * 16 * 128 * 2, 1e-12);
}
END_TEST

/* Attention data parallelism: 5 decodes over 2 attention ranks, the busiest
 * rank runs 3; the MoE layers see all 10 token slots over EP 2 and every
 * device sends its 3 x 2 slots (all-to-all, dispatch and combine). */
START_TEST(test_dp_attention)
{
    SvModel m = tiny_moe();
    m.num_shared_experts = 0;
    SvHw hw = sv_test_tiny_hw();
    SvPlan plan = plan_of(1, 1, 2);
    plan.dp = 2;
    ck_assert_int_eq(sv_plan_devices(&plan), 2);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvPredictor) p = sv_predictor_new(&m, &hw, &plan, &error);
    ck_assert_msg(p != NULL, "%s", error ? error->message : "");
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 5, 1000);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    /* KV of 3 sequences: 1000 x 2 x 4 heads x 64 x 2 bytes each. */
    const SvOpTime *attn = find_op(ops, "attn_decode");
    ck_assert_rel(attn->bytes, 3.0 * 1000 * 1024 + 3.0 * 16 * 128 * 2, 1e-12);
    ck_assert_rel(find_op(ops, "qkv_proj")->flops, 2.0 * 3 * 1024 * (16 + 8) * 64, 1e-12);
    /* The busiest EP rank of two equal ones: 5 + sqrt(5) phi(0) slots. */
    double hot = 5.0 + sqrt(5.0) / sqrt(2.0 * G_PI);
    double max_slots, touched, share;
    ck_assert(sv_predictor_moe_load(p, 5, &max_slots, &touched, &share));
    ck_assert_rel(max_slots, hot, 1e-9);
    ck_assert_rel(share, 0.5, 1e-12);
    /* Each of a rank's 4 experts is touched with q = 1 - (7/8)^10; the
     * slower of the two ranks: 4q + sqrt(2 x 4q(1 - q)) phi(0) (Clark, two
     * equal means; Python). */
    ck_assert_rel(touched, 3.4445265374, 1e-9);
    const SvOpTime *ex = find_op(ops, "moe_experts");
    /* 1.7 rows per expert: each runs one 16-row tile. */
    ck_assert_rel(ex->flops, 2.0 * touched * 16 * 3 * 1024 * 512, 1e-9);
    /* All-to-all over the stage's 2 devices, one node: 5 us + 0.6 us, half
     * of max(6 sent, 5.89 received) slots x 1024 x 2 bytes at 50 GB/s. */
    const SvOpTime *a2a = find_op(ops, "all_to_all");
    ck_assert_ptr_nonnull(a2a);
    ck_assert_int_eq(a2a->count, 4);
    ck_assert_int_eq(a2a->group, 2);
    ck_assert_rel(a2a->bytes, 6.0 * 1024 * 2, 1e-12);
    ck_assert_rel(a2a->time_s, 5.6e-6 + 0.5 * a2a->bytes / 50e9, 1e-9);
    ck_assert_ptr_nonnull(find_op(ops, "moe_dispatch"));
    ck_assert_ptr_null(find_op(ops, "all_reduce")); /* tp 1 */
    /* FLOPs count every rank: the busiest rank's dense ops x 5/3. */
    double flops = 0;
    sv_predictor_iteration_ns(p, &s, &flops);
    ck_assert(flops > 0);
    /* A dense model has no use for it. */
    SvModel dense = sv_test_tiny_model(2);
    SvPlan dd = plan_of(1, 1, 1);
    dd.dp = 2;
    g_autoptr(GError) e2 = NULL;
    ck_assert_ptr_null(sv_predictor_new(&dense, &hw, &dd, &e2));
    ck_assert(strstr(e2->message, "serve more replicas") != NULL);
}
END_TEST

/* Quantization scope, by hand, on tiny_moe (tp 1) for one decode token.
 * qkv_proj is [1 x 1024] x [1024 x 1536] ((16 + 2 x 4) heads of 64): 3.1
 * MFLOP and 1024 x 1536 weights plus (1024 + 1536) x 2 activation bytes.
 * With the experts-only scope (gpt-oss's MXFP4) under fp4 its weights stay
 * bf16 (3,145,728 bytes + 5,120) and it runs as a bf16 GEMM: 3.150848 us at
 * 1 TB/s. With the linear scope they are fp4 with their e8m0 scales, 17/32
 * byte each: 835,584 + 5,120 bytes. The experts are fp4 under both: 1.875
 * touched experts (test_moe) x 3 x 1024 x 512 weights x 17/32 byte =
 * 1,566,720 bytes, plus 14,336 of activations. */
START_TEST(test_quant_scope_op_bytes)
{
    SvModel m = tiny_moe();
    m.quant_scope = SV_QUANT_SCOPE_EXPERTS;
    SvHw hw = sv_test_tiny_hw();
    SvPlan q = plan_of(1, 1, 1);
    q.weight_dtype = SV_DTYPE_FP4;
    g_autoptr(SvPredictor) p = sv_predictor_new(&m, &hw, &q, NULL);
    ck_assert_ptr_nonnull(p);
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 1, 10);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    const SvOpTime *qkv = find_op(ops, "qkv_proj");
    ck_assert_rel(qkv->bytes, 1024.0 * 1536 * 2 + 2560 * 2, 1e-12);
    ck_assert_rel(qkv->time_s, 3.150848e-6, 1e-9);
    const SvOpTime *o = find_op(ops, "o_proj");
    ck_assert_rel(o->bytes, 1024.0 * 1024 * 2 + 2048 * 2, 1e-12);
    const SvOpTime *ex = find_op(ops, "moe_experts");
    ck_assert_rel(ex->bytes, 1566720.0 + 14336, 1e-12);
    /* The same plan with the linear scope: attention weights fp4 too. */
    m.quant_scope = SV_QUANT_SCOPE_LINEAR;
    g_autoptr(SvPredictor) pl = sv_predictor_new(&m, &hw, &q, NULL);
    g_autoptr(GArray) ops_l = sv_predictor_ops(pl, &s, NULL);
    ck_assert_rel(find_op(ops_l, "qkv_proj")->bytes, 835584.0 + 5120, 1e-12);
    ck_assert_rel(find_op(ops_l, "moe_experts")->bytes, 1566720.0 + 14336, 1e-12);
    /* Unquantized, the scope does not matter: bf16 experts, 2 bytes. */
    m.quant_scope = SV_QUANT_SCOPE_EXPERTS;
    g_autoptr(SvPredictor) pb = make(&m, &hw, 1, 1, 1);
    g_autoptr(GArray) ops_b = sv_predictor_ops(pb, &s, NULL);
    ck_assert_rel(find_op(ops_b, "moe_experts")->bytes, 1.875 * 3 * 1024 * 512 * 2 + 14336, 1e-12);
    ck_assert_rel(find_op(ops_b, "qkv_proj")->bytes, 1024.0 * 1536 * 2 + 2560 * 2, 1e-12);
}
END_TEST

/* The fused expert kernel, by hand: the touched experts' weights streamed
 * at the profile's MoE efficiency for their format, or the padded tiles'
 * FLOPs at its MoE matmul efficiency, plus the per-layer MoE kernels. */
START_TEST(test_moe_fused_kernel)
{
    SvModel m = tiny_moe();
    SvHw hw = sv_test_tiny_hw();
    hw.eff_moe_matmul = 0.25;   /* 25 TFLOP/s of the 100 */
    hw.eff_moe_mem = 0.5;       /* 0.5 TB/s for 16-bit experts */
    hw.eff_moe_mem_8bit = 0.25; /* 0.25 TB/s for 8-bit ones */
    hw.moe_layer_s = 20e-6;
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 1, 10);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    const SvOpTime *ex = find_op(ops, "moe_experts");
    /* One token: 1.875 experts touched (test_moe), each one 16-row tile:
     * 2 x 1.875 x 16 x 3 x 1024 x 512 FLOPs take 7.5 us at 25 TFLOP/s,
     * the 9.4 MB of weights and activations 18.9 us at 0.5 TB/s. */
    double wbytes = 1.875 * 3.0 * 1024 * 512 * 2;
    double act = 8 * 0.25 * ((1024 + 1024) + (512 + 1024)) * 2;
    ck_assert_rel(ex->flops, 2.0 * 1.875 * 16 * 3 * 1024 * 512, 1e-12);
    ck_assert_rel(ex->bytes, wbytes + act, 1e-12);
    ck_assert_rel(ex->time_s, (wbytes + act) / 0.5e12 + 20e-6, 1e-9);
    ck_assert_int_eq(ex->coverage, SV_COVERAGE_ROOFLINE);
    /* fp8 experts: half the weight bytes at their own 0.25 TB/s. */
    SvPlan q = plan_of(1, 1, 1);
    q.weight_dtype = SV_DTYPE_FP8;
    g_autoptr(SvPredictor) p8 = sv_predictor_new(&m, &hw, &q, NULL);
    ck_assert_ptr_nonnull(p8);
    g_autoptr(GArray) ops8 = sv_predictor_ops(p8, &s, NULL);
    const SvOpTime *ex8 = find_op(ops8, "moe_experts");
    ck_assert_rel(ex8->bytes, wbytes / 2 + act, 1e-12);
    ck_assert_rel(ex8->time_s, (wbytes / 2 + act) / 0.25e12 + 20e-6, 1e-9);
    /* FlashInfer's kernels (engine.moe_backend) at their own 0.4 TB/s for
     * 8-bit experts; Triton, with no fit of its own, at the generic 0.25,
     * and FlashInfer's 16-bit experts at the generic 0.5. */
    hw.eff_moe_mem_backend[SV_MOE_BACKEND_FLASHINFER][1] = 0.4;
    q.moe_backend = SV_MOE_BACKEND_FLASHINFER;
    g_autoptr(SvPredictor) pfi = sv_predictor_new(&m, &hw, &q, NULL);
    g_autoptr(GArray) opsfi = sv_predictor_ops(pfi, &s, NULL);
    ck_assert_rel(find_op(opsfi, "moe_experts")->time_s, (wbytes / 2 + act) / 0.4e12 + 20e-6, 1e-9);
    q.moe_backend = SV_MOE_BACKEND_TRITON;
    g_autoptr(SvPredictor) ptr = sv_predictor_new(&m, &hw, &q, NULL);
    g_autoptr(GArray) opstr = sv_predictor_ops(ptr, &s, NULL);
    ck_assert_rel(find_op(opstr, "moe_experts")->time_s, (wbytes / 2 + act) / 0.25e12 + 20e-6,
                  1e-9);
    SvPlan q16 = plan_of(1, 1, 1);
    q16.moe_backend = SV_MOE_BACKEND_FLASHINFER;
    g_autoptr(SvPredictor) p16 = sv_predictor_new(&m, &hw, &q16, NULL);
    g_autoptr(GArray) ops16 = sv_predictor_ops(p16, &s, NULL);
    ck_assert_rel(find_op(ops16, "moe_experts")->time_s, (wbytes + act) / 0.5e12 + 20e-6, 1e-9);
    /* 4096 prompt tokens: 1024 rows per expert, 1031.5 executed, 26.0
     * GFLOP at 25 TFLOP/s (1.04 ms) against 84 MB at 0.5 TB/s (0.17 ms):
     * both projections are bound by their FLOPs. */
    SvBatchShape big = {0};
    sv_batch_add_prefill(&big, 4096, 0);
    g_autoptr(GArray) ops_big = sv_predictor_ops(p, &big, NULL);
    ex = find_op(ops_big, "moe_experts");
    double flops = 2.0 * 8 * 1031.5 * 3 * 1024 * 512;
    ck_assert_rel(ex->flops, flops, 1e-12);
    ck_assert_rel(ex->time_s, flops / 25e12 + 20e-6, 1e-9);
}
END_TEST

/* A profile's grouped-GEMM tile (efficiency.moe_tile_rows): the setting of
 * test_moe_zipf (4 experts, top-1, Zipf 1, EP 2, linear), 1000 prefill
 * tokens, with 64-row tiles: each of the hot rank's two experts is padded by
 * 31.5 rows on average instead of 7.5, the time unchanged while the kernel
 * streams longer than it computes. A decode of 2 tokens touches at most
 * two experts of the rank, each computing one whole 64-row tile. */
START_TEST(test_moe_tile_rows_flops)
{
    SvModel m = tiny_moe();
    m.num_experts = 4;
    m.experts_per_token = 1;
    SvHw hw = sv_test_tiny_hw();
    SvMoeLoad load = {.dist = SV_MOE_ZIPF, .skew = 1.0, .given = TRUE};
    SvPlan plan = plan_of(2, 1, 2);
    plan.moe_load = &load;
    g_autoptr(SvPredictor) p16 = sv_predictor_new(&m, &hw, &plan, NULL);
    hw.moe_tile_rows[SV_MOE_BACKEND_AUTO][0] = 64;
    g_autoptr(SvPredictor) p64 = sv_predictor_new(&m, &hw, &plan, NULL);
    ck_assert_ptr_nonnull(p64);
    SvBatchShape s = {0};
    sv_batch_add_prefill(&s, 1000, 0);
    g_autoptr(GArray) ops16 = sv_predictor_ops(p16, &s, NULL);
    g_autoptr(GArray) ops64 = sv_predictor_ops(p64, &s, NULL);
    double max_slots, touched;
    sv_predictor_moe_load(p64, 1000, &max_slots, NULL, NULL);
    ck_assert_rel(find_op(ops64, "moe_experts")->flops, 2.0 * (max_slots + 63) * 3 * 1024 * 512,
                  1e-9);
    ck_assert_rel(find_op(ops16, "moe_experts")->flops, 2.0 * (max_slots + 15) * 3 * 1024 * 512,
                  1e-9);
    SvBatchShape d = {0};
    sv_batch_add_decode(&d, 2, 100);
    g_autoptr(GArray) dec = sv_predictor_ops(p64, &d, NULL);
    sv_predictor_moe_load(p64, 2, NULL, &touched, NULL);
    ck_assert_rel(find_op(dec, "moe_experts")->flops, 2.0 * 64 * touched * 3 * 1024 * 512, 1e-9);
}
END_TEST

/* A kernel that runs its worst-case workspace (efficiency.moe_grid:
 * workspace, DeepGEMM's contiguous grouped GEMM on SM100): 8 experts, top-2,
 * EP 2 inside TP 2, 16-row tiles. One decoding token: 2 slots + 4 local
 * experts x 15 rows = 62, one tile short of 64 rows, all computed; the
 * touched experts' tiles as before, the rest against one expert's weights
 * in L2, so 64 rows x 3 x 1024 x 512 weights of FLOPs, and the padding adds
 * its compute time (compute-bound on this device: 50 TFLOP/s against 4 KB
 * a row at 1 TB/s) and no launch. 4096 prefill tokens: 8192 slots + 60
 * rounds up to 8256 rows, the other rank's half of the slots included. */
START_TEST(test_moe_workspace_grid)
{
    SvModel m = tiny_moe();
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) touched_p = make(&m, &hw, 2, 1, 2);
    hw.moe_grid[SV_MOE_BACKEND_AUTO][0] = SV_MOE_GRID_WORKSPACE;
    g_autoptr(SvPredictor) p = make(&m, &hw, 2, 1, 2);
    double per_row = 2.0 * 3 * 1024 * 512, touched;
    SvBatchShape d = {0};
    sv_batch_add_decode(&d, 1, 100);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &d, NULL);
    g_autoptr(GArray) ops0 = sv_predictor_ops(touched_p, &d, NULL);
    sv_predictor_moe_load(p, 1, NULL, &touched, NULL);
    const SvOpTime *ex = find_op(ops, "moe_experts"), *ex0 = find_op(ops0, "moe_experts");
    ck_assert_rel(ex->flops, 64 * per_row, 1e-12);
    ck_assert_rel(ex0->flops, 16 * touched * per_row, 1e-12);
    ck_assert_rel(ex->time_s - ex0->time_s, (64 - 16 * touched) * per_row / 50e12, 1e-9);
    SvBatchShape big = {0};
    sv_batch_add_prefill(&big, 4096, 0);
    g_autoptr(GArray) ops_big = sv_predictor_ops(p, &big, NULL);
    ck_assert_rel(find_op(ops_big, "moe_experts")->flops, 8256 * per_row, 1e-12);
}
END_TEST

/* vLLM's Triton fused_moe short of thread blocks (efficiency.
 * moe_triton_full_ctas 100, exponent 0.5). One decoding token, 8 experts,
 * top-2, no EP: 1.875 experts touched with one row-tile each (M = 1 <= 8
 * experts: 16 x 32 tiles), so 1.875 x 1024 / 32 = 60 blocks in each of the
 * two kernels (gate-up 1024 wide, down 1024 wide): they stream at
 * sqrt(60 / 100) of the rate. 4096 prefill tokens run 64 x 64 tiles, 8 x 16
 * row tiles x 16 column tiles = 2048 blocks: full rate. FlashInfer's
 * kernels and 8-bit experts are not vLLM's Triton default tiles: no change. */
START_TEST(test_moe_triton_ctas)
{
    SvModel m = tiny_moe();
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) base = make(&m, &hw, 1, 1, 1);
    hw.moe_triton_full_ctas = 100;
    hw.moe_triton_ctas_exponent = 0.5;
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    SvBatchShape d = {0}, big = {0};
    sv_batch_add_decode(&d, 1, 10);
    sv_batch_add_prefill(&big, 4096, 0);
    g_autoptr(GArray) o0 = sv_predictor_ops(base, &d, NULL);
    g_autoptr(GArray) o1 = sv_predictor_ops(p, &d, NULL);
    double t0 = find_op(o0, "moe_experts")->time_s, t1 = find_op(o1, "moe_experts")->time_s;
    ck_assert_rel(t0, find_op(o0, "moe_experts")->bytes / 1e12, 1e-9);
    ck_assert_rel(t1, t0 / sqrt(0.6), 1e-9);
    g_autoptr(GArray) b0 = sv_predictor_ops(base, &big, NULL);
    g_autoptr(GArray) b1 = sv_predictor_ops(p, &big, NULL);
    ck_assert_rel(find_op(b1, "moe_experts")->time_s, find_op(b0, "moe_experts")->time_s, 1e-12);
    SvPlan fi = plan_of(1, 1, 1), q8 = plan_of(1, 1, 1);
    fi.moe_backend = SV_MOE_BACKEND_FLASHINFER;
    q8.weight_dtype = SV_DTYPE_FP8;
    SvHw plain = sv_test_tiny_hw();
    g_autoptr(SvPredictor) pf = sv_predictor_new(&m, &hw, &fi, NULL);
    g_autoptr(SvPredictor) pf0 = sv_predictor_new(&m, &plain, &fi, NULL);
    g_autoptr(SvPredictor) p8 = sv_predictor_new(&m, &hw, &q8, NULL);
    g_autoptr(SvPredictor) p80 = sv_predictor_new(&m, &plain, &q8, NULL);
    ck_assert(pf && pf0 && p8 && p80);
    g_autoptr(GArray) f1 = sv_predictor_ops(pf, &d, NULL);
    g_autoptr(GArray) f0 = sv_predictor_ops(pf0, &d, NULL);
    g_autoptr(GArray) e1 = sv_predictor_ops(p8, &d, NULL);
    g_autoptr(GArray) e0 = sv_predictor_ops(p80, &d, NULL);
    ck_assert_rel(find_op(f1, "moe_experts")->time_s, find_op(f0, "moe_experts")->time_s, 1e-12);
    ck_assert_rel(find_op(e1, "moe_experts")->time_s, find_op(e0, "moe_experts")->time_s, 1e-12);
}
END_TEST

/* The model's routing_skew, engine.moe_load not given: Zipf weights by
 * popularity rank, rank r on expert 3r mod 4 (the stride is the first
 * integer from 0.618 x 4 coprime to 4: 2 is not, 3 is), so experts 0, 3, 2
 * and 1 get 12/25, 6/25, 4/25 and 3/25. Two tokens, top-1: the experts
 * touched are sum 1 - (1 - p)^2 = 2 - sum p^2 = 2 - 205/625 against
 * uniform's 4 (1 - (3/4)^2) = 1.75. Under linear placement on two EP ranks
 * rank 0 holds experts 0 and 1, 15/25 of the slots, where dist zipf packs
 * 18/25 there (test_moe_zipf). A stated load, uniform included, wins. */
START_TEST(test_moe_routing_skew)
{
    SvModel m = tiny_moe();
    m.num_experts = 4;
    m.experts_per_token = 1;
    m.routing_skew = 1.0;
    SvHw hw = sv_test_tiny_hw();
    const double skewed[] = {12.0 / 25, 3.0 / 25, 4.0 / 25, 6.0 / 25};
    double w[4];
    SvMoeLoad unset = {0}, uniform = {.dist = SV_MOE_UNIFORM, .given = TRUE};
    SvMoeLoad zipf = {.dist = SV_MOE_ZIPF, .skew = 1.0, .given = TRUE};
    sv_moe_load_weights(NULL, &m, w);
    for (int e = 0; e < 4; e++)
        ck_assert_rel(w[e], skewed[e], 1e-12);
    sv_moe_load_weights(&unset, &m, w);
    for (int e = 0; e < 4; e++)
        ck_assert_rel(w[e], skewed[e], 1e-12);
    sv_moe_load_weights(&uniform, &m, w);
    for (int e = 0; e < 4; e++)
        ck_assert_rel(w[e], 0.25, 1e-12);
    sv_moe_load_weights(&zipf, &m, w);
    ck_assert_rel(w[1], 6.0 / 25, 1e-12);
    ck_assert_rel(w[3], 3.0 / 25, 1e-12);
    /* The skew the model adds (predict prints it): only where no load is stated. */
    ck_assert_double_eq(sv_moe_load_model_skew(NULL, &m), 1.0);
    ck_assert_double_eq(sv_moe_load_model_skew(&unset, &m), 1.0);
    ck_assert_double_eq(sv_moe_load_model_skew(&uniform, &m), 0.0);
    ck_assert_double_eq(sv_moe_load_model_skew(&zipf, &m), 0.0);

    SvPlan plan = plan_of(1, 1, 1);
    double touched, share;
    g_autoptr(SvPredictor) p = sv_predictor_new(&m, &hw, &plan, NULL);
    ck_assert_ptr_nonnull(p);
    sv_predictor_moe_load(p, 2, NULL, &touched, NULL);
    ck_assert_rel(touched, 2.0 - 205.0 / 625, 1e-12);
    plan.moe_load = &uniform;
    g_autoptr(SvPredictor) pu = sv_predictor_new(&m, &hw, &plan, NULL);
    sv_predictor_moe_load(pu, 2, NULL, &touched, NULL);
    ck_assert_rel(touched, 1.75, 1e-12);

    SvPlan ep2 = plan_of(2, 1, 2);
    g_autoptr(SvPredictor) pe = sv_predictor_new(&m, &hw, &ep2, NULL);
    ck_assert_ptr_nonnull(pe);
    sv_predictor_moe_load(pe, 4, NULL, NULL, &share);
    ck_assert_rel(share, 15.0 / 25, 1e-12);

    /* A model without a skew is uniform, whatever the engine left unset. */
    m.routing_skew = 0;
    plan.moe_load = NULL;
    g_autoptr(SvPredictor) p0 = sv_predictor_new(&m, &hw, &plan, NULL);
    sv_predictor_moe_load(p0, 2, NULL, &touched, NULL);
    ck_assert_rel(touched, 1.75, 1e-12);
}
END_TEST

/* Zipf expert load on a tiny case: 4 experts, top-1, skew 1, so shares
 * 12/25, 6/25, 4/25, 3/25; EP 2 inside TP 2. Linear placement puts experts
 * 0-1 on rank 0 (18/25), round-robin 0 and 2 (16/25). With 4 tokens the
 * expected maximum of the two ranks' loads (normals of means 4 s and 4 (1 -
 * s), variances 4 s (1 - s)), and the hot rank's experts touched at least
 * once, q = 1 - (1 - p)^4 each, the slower of two ranks like it: sum q +
 * sqrt(2 sum q (1 - q)) phi(0), computed by hand (Python, math.erfc). */
START_TEST(test_moe_zipf)
{
    SvModel m = tiny_moe();
    m.num_experts = 4;
    m.experts_per_token = 1;
    SvHw hw = sv_test_tiny_hw();
    SvMoeLoad load = {.dist = SV_MOE_ZIPF, .skew = 1.0};
    ck_assert_rel(sv_moe_load_share(&load, 4, 0), 12.0 / 25, 1e-12);
    ck_assert_rel(sv_moe_load_share(&load, 4, 3), 3.0 / 25, 1e-12);
    ck_assert_rel(sv_moe_load_share(NULL, 4, 1), 0.25, 1e-12);
    const struct {
        SvExpertPlacement placement;
        double share, max4, touched4;
    } cases[] = {
        {SV_EXPERT_PLACE_LINEAR, 18.0 / 25, 2.9280353746, 1.8971338085},
        {SV_EXPERT_PLACE_ROUND_ROBIN, 16.0 / 25, 2.7161419223, 1.7470501347},
    };
    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        load.placement = cases[i].placement;
        SvPlan plan = plan_of(2, 1, 2);
        plan.moe_load = &load;
        g_autoptr(SvPredictor) p = sv_predictor_new(&m, &hw, &plan, NULL);
        ck_assert_ptr_nonnull(p);
        double max_slots, touched, share;
        sv_predictor_moe_load(p, 4, &max_slots, &touched, &share);
        ck_assert_rel(share, cases[i].share, 1e-12);
        ck_assert_rel(max_slots, cases[i].max4, 1e-9);
        ck_assert_rel(touched, cases[i].touched4, 1e-9);
        /* Many tokens: the hot rank's share, the noise negligible. */
        sv_predictor_moe_load(p, 1e6, &max_slots, NULL, NULL);
        ck_assert_rel(max_slots, 1e6 * cases[i].share, 1e-6);
        /* The expert GEMMs run the hot rank's slots (one expert per rank
         * slice: expert width 512 over tp/ep = 1), both its experts touched
         * and each padded by 7.5 rows. */
        SvBatchShape s = {0};
        sv_batch_add_prefill(&s, 1000, 0);
        g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
        sv_predictor_moe_load(p, 1000, &max_slots, NULL, NULL);
        ck_assert_rel(find_op(ops, "moe_experts")->flops, 2.0 * (max_slots + 15) * 3 * 1024 * 512,
                      1e-9);
    }
    /* Measured frequencies: 3, 1, 1, 3 balance the linear ranks. */
    double freq[] = {3, 1, 1, 3};
    SvMoeLoad measured = {.dist = SV_MOE_MEASURED, .frequencies = freq, .num_frequencies = 4};
    SvPlan plan = plan_of(2, 1, 2);
    plan.moe_load = &measured;
    g_autoptr(SvPredictor) pm = sv_predictor_new(&m, &hw, &plan, NULL);
    double share;
    sv_predictor_moe_load(pm, 4, NULL, NULL, &share);
    ck_assert_rel(share, 0.5, 1e-12);
    /* A list of another length is refused. */
    measured.num_frequencies = 3;
    g_autoptr(GError) error = NULL;
    ck_assert_ptr_null(sv_predictor_new(&m, &hw, &plan, &error));
    ck_assert(strstr(error->message, "lists 3 expert frequencies") != NULL);
    /* Zipf's hot experts sit together on linear placement: slower. */
    SvMoeLoad zl = {.dist = SV_MOE_ZIPF, .skew = 1.2};
    SvMoeLoad zr = {.dist = SV_MOE_ZIPF, .skew = 1.2, .placement = SV_EXPERT_PLACE_ROUND_ROBIN};
    SvPlan pl = plan_of(2, 1, 2), pr = plan_of(2, 1, 2), pu = plan_of(2, 1, 2);
    pl.moe_load = &zl;
    pr.moe_load = &zr;
    g_autoptr(SvPredictor) a = sv_predictor_new(&m, &hw, &pl, NULL);
    g_autoptr(SvPredictor) b = sv_predictor_new(&m, &hw, &pr, NULL);
    g_autoptr(SvPredictor) u = sv_predictor_new(&m, &hw, &pu, NULL);
    SvBatchShape big = {0};
    sv_batch_add_prefill(&big, 8192, 0);
    SvTimeNs ta = sv_predictor_iteration_ns(a, &big, NULL);
    SvTimeNs tb = sv_predictor_iteration_ns(b, &big, NULL);
    SvTimeNs tu = sv_predictor_iteration_ns(u, &big, NULL);
    ck_assert(ta > tb && tb > tu);
}
END_TEST

/* PP with TP: each TP device sends its half of the hidden states and the
 * residual; the next stage all-gathers them. */
START_TEST(test_pp_tp_send_gather)
{
    SvModel m = sv_test_tiny_model(2);
    m.num_layers = 4;
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvPredictor) p = make(&m, &hw, 2, 2, 1);
    SvBatchShape s = {0};
    sv_batch_add_prefill(&s, 500, 0);
    double t0, t1, stages[2];
    g_autoptr(GArray) s0 = sv_predictor_stage_ops(p, &s, 0, &t0);
    g_autoptr(GArray) s1 = sv_predictor_stage_ops(p, &s, 1, &t1);
    sv_predictor_stage_times(p, &s, stages, NULL);
    ck_assert_rel(t0, stages[0], 1e-12);
    ck_assert_rel(t1, stages[1], 1e-12);
    const SvOpTime *sr = find_op(s0, "send_recv");
    ck_assert_rel(sr->bytes, 2.0 * 500 * 1024 * 2 / 2, 1e-12);
    ck_assert_rel(sr->time_s, 5e-6 + sr->bytes / 50e9, 1e-9);
    ck_assert_ptr_null(find_op(s1, "send_recv"));
    ck_assert_ptr_null(find_op(s0, "all_gather"));
    const SvOpTime *ag = find_op(s1, "all_gather");
    ck_assert_ptr_nonnull(ag);
    ck_assert_rel(ag->bytes, 2.0 * 500 * 1024 * 2, 1e-12);
    /* Ring Simple over 2: 8.4 + 3.4 us and 1/2 of it at 50 GB/s. */
    ck_assert_rel(ag->time_s, 11.8e-6 + 0.5 * ag->bytes / 50e9, 1e-9);
    ck_assert_str_eq(ag->algo, "ring/Simple");
    int first, n;
    sv_predictor_stage_layers(p, 1, &first, &n);
    ck_assert_int_eq(first, 2);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(sv_predictor_nodes(p), 1);
    /* Each stage on its own node: the send crosses the network, 2 senders
     * sharing their 2 NICs (10 GB/s each, x 0.5). */
    SvPlan spread = plan_of(2, 2, 1);
    spread.placement = SV_PLACEMENT_STAGE_PER_NODE;
    g_autoptr(SvPredictor) q = sv_predictor_new(&m, &hw, &spread, NULL);
    g_autoptr(GArray) q0 = sv_predictor_stage_ops(q, &s, 0, NULL);
    sr = find_op(q0, "send_recv");
    ck_assert_str_eq(sr->link, "scaleout");
    ck_assert_rel(sr->time_s, 20e-6 + sr->bytes / (20e9 * 0.5 / 2), 1e-9);
    ck_assert_int_eq(sv_predictor_nodes(q), 2);
}
END_TEST

/* Which link each plan's all-reduce uses. */
START_TEST(test_links_by_plan)
{
    SvModel m = sv_test_tiny_model(2);
    m.num_heads = 32;
    m.num_kv_heads = 8;
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 8, 100);
    SvHw hw = sv_test_tiny_hw();
    hw.scaleup_kind = (char *)"nvlink";
    g_autoptr(SvPredictor) p8 = make(&m, &hw, 8, 1, 1);
    g_autoptr(GArray) o8 = sv_predictor_ops(p8, &s, NULL);
    ck_assert_str_eq(find_op(o8, "all_reduce")->link, "nvlink");
    ck_assert_int_eq(find_op(o8, "all_reduce")->domains, 1);
    g_autoptr(SvPredictor) p16 = make(&m, &hw, 16, 1, 1);
    g_autoptr(GArray) o16 = sv_predictor_ops(p16, &s, NULL);
    ck_assert_str_eq(find_op(o16, "all_reduce")->link, "scaleout");
    ck_assert_int_eq(find_op(o16, "all_reduce")->domains, 2);
    ck_assert_int_eq(find_op(o16, "all_reduce")->group, 16);
    ck_assert_int_eq(sv_predictor_nodes(p16), 2);
    SvHw l40s = sv_test_tiny_hw();
    l40s.scaleup_kind = (char *)"pcie";
    l40s.scaleup_bw_bytes_per_s = 32e9;
    g_autoptr(SvPredictor) pl = make(&m, &l40s, 2, 1, 1);
    g_autoptr(GArray) ol = sv_predictor_ops(pl, &s, NULL);
    ck_assert_str_eq(find_op(ol, "all_reduce")->link, "pcie");
    /* 8 x 1024 x 2 bytes, ring LL: 6.6 + 2 x 1.0 us (NCCL's PCIe step). */
    ck_assert_rel(find_op(ol, "all_reduce")->time_s, 8.6e-6 + 8.0 * 1024 * 2 / (16e9 * 0.5), 1e-9);
}
END_TEST

static void expect_plan_error(const SvModel *m, const SvHw *hw, SvPlan plan, const char *text)
{
    g_autoptr(GError) error = NULL;
    SvPredictor *p = sv_predictor_new(m, hw, &plan, &error);
    ck_assert_ptr_null(p);
    ck_assert_ptr_nonnull(error);
    ck_assert(g_error_matches(error, SV_PLAN_ERROR, SV_ERROR_INFEASIBLE));
    ck_assert_msg(strstr(error->message, text) != NULL, "'%s' lacks '%s'", error->message, text);
}

START_TEST(test_plan_errors)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    expect_plan_error(&m, &hw, plan_of(3, 1, 1), "does not divide the 16 attention heads");
    expect_plan_error(&m, &hw, plan_of(1, 3, 1), "exceeds the 2 layers");
    expect_plan_error(&m, &hw, plan_of(1, 1, 2), "is dense");
    expect_plan_error(&m, &hw, plan_of(0, 1, 1), ">= 1");
    SvModel moe = tiny_moe();
    expect_plan_error(&moe, &hw, plan_of(1, 1, 3), "does not divide the 8 experts");
    SvModel odd = sv_test_tiny_model(2);
    odd.num_heads = 12;
    odd.num_kv_heads = 3;
    expect_plan_error(&odd, &hw, plan_of(2, 1, 1), "KV heads");
    SvHw none = sv_test_tiny_hw();
    memset(none.peak_flops, 0, sizeof none.peak_flops);
    expect_plan_error(&m, &none, plan_of(1, 1, 1), "runs no matmul");
    /* EP inside TP must divide it; with attention DP it spans the stage. */
    expect_plan_error(&moe, &hw, plan_of(1, 1, 2), "must divide tensor_parallel_size 1");
    SvPlan dp2 = plan_of(2, 1, 2);
    dp2.dp = 2;
    expect_plan_error(&moe, &hw, dp2, "must be tensor_parallel_size x data_parallel_size = 4");
    SvPlan dense_dp = plan_of(1, 1, 1);
    dense_dp.dp = 4;
    expect_plan_error(&m, &hw, dense_dp, "is dense");
    SvHw lonely = sv_test_tiny_hw();
    lonely.scaleup_bw_bytes_per_s = lonely.scaleout_bw_bytes_per_s = 0;
    expect_plan_error(&m, &lonely, plan_of(2, 1, 1), "no link");
    /* ... but one device needs no link, and fp8 weights are fine. */
    SvPlan fp8 = plan_of(1, 1, 1);
    fp8.weight_dtype = SV_DTYPE_FP8;
    g_autoptr(GError) error = NULL;
    g_autoptr(SvPredictor) ok = sv_predictor_new(&m, &lonely, &fp8, &error);
    ck_assert_ptr_nonnull(ok);
}
END_TEST

START_TEST(test_quantized_decode_faster)
{
    SvModel m = llama8b();
    SvHw hw = h100();
    SvPlan bf = plan_of(1, 1, 1), q = plan_of(1, 1, 1);
    q.weight_dtype = SV_DTYPE_FP8;
    g_autoptr(SvPredictor) pb = sv_predictor_new(&m, &hw, &bf, NULL);
    g_autoptr(SvPredictor) pq = sv_predictor_new(&m, &hw, &q, NULL);
    SvBatchShape s = {0};
    sv_batch_add_decode(&s, 1, 1024);
    double tb = sv_ns_to_s(sv_predictor_iteration_ns(pb, &s, NULL));
    double tq = sv_ns_to_s(sv_predictor_iteration_ns(pq, &s, NULL));
    /* Weight-bound: fp8 weights roughly halve the time (LM head stays bf16). */
    ck_assert(tq < 0.6 * tb && tq > 0.45 * tb);
}
END_TEST

START_TEST(test_batch_parse_ok)
{
    SvBatchShape s;
    g_autoptr(GError) error = NULL;
    ck_assert(sv_batch_parse("prefill=512x2,decode=64@2048", &s, &error));
    ck_assert_int_eq(s.num_prefill, 2);
    ck_assert_int_eq(s.prefill_tokens, 1024);
    ck_assert(s.prefill_attn_pairs == 2.0 * 512 * 513 / 2);
    ck_assert_int_eq(s.prefill_kv_tokens, 1024);
    ck_assert_int_eq(s.num_decode, 64);
    ck_assert_int_eq(s.decode_kv_tokens, 64 * 2048);

    ck_assert(
        sv_batch_parse(" prefill=100x1@1000 , decode=1@5,decode=2@10,prefill=1x1", &s, &error));
    ck_assert_int_eq(s.num_prefill, 2);
    ck_assert_int_eq(s.prefill_tokens, 101);
    ck_assert(s.prefill_attn_pairs == 100.0 * 1000 + 100.0 * 101 / 2 + 1);
    ck_assert_int_eq(s.prefill_kv_tokens, 1101);
    ck_assert_int_eq(s.num_decode, 3);
    ck_assert_int_eq(s.decode_kv_tokens, 25);
    ck_assert(sv_batch_parse("decode=8@0", &s, &error));
    ck_assert_int_eq(s.decode_kv_tokens, 0);
}
END_TEST

START_TEST(test_batch_parse_bad)
{
    const char *bad[] = {
        "prefil=5",
        "prefill=0x2",
        "prefill=512x0",
        "prefill=512",
        "decode=64",
        "decode=-1@5",
        "decode=0@5",
        "decode=4@-1",
        "decode=4@2x",
        "prefill=5x1@",
        "prefill=x1",
        "prefill=99999999999x1",
        "decode=1@99999999999999999999",
        "prefill=512x2,",
        "",
        "prefill=512x2,,decode=1@1",
        "decode=1@1=2",
        "foo",
        "prefill=1.5x2",
        "decode=1e3@4",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        SvBatchShape s = {.num_decode = 7};
        g_autoptr(GError) error = NULL;
        ck_assert_msg(!sv_batch_parse(bad[i], &s, &error), "accepted '%s'", bad[i]);
        ck_assert(g_error_matches(error, SV_CONFIG_ERROR, SV_ERROR_PARSE));
        ck_assert_msg(g_str_has_prefix(error->message, "--batch: "), "%s", error->message);
        ck_assert_int_eq(s.num_decode, 7); /* untouched on error */
    }
    g_autoptr(GError) error = NULL;
    SvBatchShape s = {0};
    ck_assert(!sv_batch_parse("prefill=512x2,prefil=5", &s, &error));
    ck_assert_int_eq(s.num_prefill, 0);
    ck_assert_msg(strstr(error->message, "'prefil=5'") != NULL, "%s", error->message);
    ck_assert(strstr(error->message, "prefill=TOKENSxCOUNT[@CONTEXT]") != NULL);
}
END_TEST

START_TEST(test_coverage_names)
{
    ck_assert_str_eq(sv_coverage_name(SV_COVERAGE_MEASURED), "measured");
    ck_assert_str_eq(sv_coverage_name(SV_COVERAGE_INTERPOLATED), "interpolated");
    ck_assert_str_eq(sv_coverage_name(SV_COVERAGE_EXTRAPOLATED), "extrapolated");
    ck_assert_str_eq(sv_coverage_name(SV_COVERAGE_ROOFLINE), "roofline");
}
END_TEST

/* ------------------------------------------------------ calibrated tables -- */

/* A curve of @n points (x, t in us). */
static void set_curve(SvCurve *c, int n, const double *x, const double *t_us)
{
    c->n = n;
    c->x = g_new(double, n);
    c->t_s = g_new(double, n);
    for (int i = 0; i < n; i++) {
        c->x[i] = x[i];
        c->t_s[i] = t_us[i] * 1e-6;
    }
}

START_TEST(test_batch_histogram)
{
    ck_assert_int_eq(sv_batch_ctx_bucket(0), 0);
    ck_assert_int_eq(sv_batch_ctx_bucket(63), 0);
    ck_assert_int_eq(sv_batch_ctx_bucket(64), 1);
    ck_assert_int_eq(sv_batch_ctx_bucket(127), 1);
    ck_assert_int_eq(sv_batch_ctx_bucket(128), 2);
    ck_assert_int_eq(sv_batch_ctx_bucket(4095), 6);
    ck_assert_int_eq(sv_batch_ctx_bucket(4096), 7);
    ck_assert_int_eq(sv_batch_ctx_bucket((1 << 20) - 1), 14);
    ck_assert_int_eq(sv_batch_ctx_bucket(1 << 20), 15);
    ck_assert_int_eq(sv_batch_ctx_bucket(INT64_C(1) << 40), 15);
    double lo, hi;
    sv_batch_ctx_range(6, &lo, &hi);
    ck_assert(lo == 2048 && hi == 4096);
    sv_batch_ctx_range(0, &lo, &hi);
    ck_assert(lo == 0 && hi == 64);
    SvBatchShape s;
    g_autoptr(GError) error = NULL;
    ck_assert(sv_batch_parse("decode=1@100,decode=3@4000,prefill=16x1@50", &s, &error));
    ck_assert_int_eq(s.num_decode, 4);
    ck_assert_int_eq(s.decode_kv_tokens, 12100);
    ck_assert_int_eq(s.decode_ctx_count[1], 1);
    ck_assert_int_eq(s.decode_ctx_sum[1], 100);
    ck_assert_int_eq(s.decode_ctx_count[6], 3);
    ck_assert_int_eq(s.decode_ctx_sum[6], 12000);
}
END_TEST

/* sv_test_tiny_model(2) on sv_test_tiny_hw() with a GEMM line for its gate+up projection
 * (n = 2 x 4096, k = 1024): 20 us at M = 1, 40 us at M = 16. */
static SvCalib *gemm_calib(const SvHw *hw)
{
    SvCalib *c = sv_calib_new();
    c->num_gemm = 1;
    c->gemm = g_new0(SvGemmLine, 1);
    c->gemm[0].dtype = SV_DTYPE_FP16;
    c->gemm[0].n = 8192;
    c->gemm[0].k = 1024;
    double m[] = {1, 16}, t[] = {20, 40};
    set_curve(&c->gemm[0].m, 2, m, t);
    sv_calib_prepare(c, hw);
    return c;
}

/* Roofline of M x 8192 x 1024 in bf16 on tiny_hw's peaks (100 TFLOP/s, 1 TB/s). */
static double up_roof(double m)
{
    double flops = 2.0 * m * 8192 * 1024, bytes = (8192.0 * 1024 + m * (8192 + 1024)) * 2;
    return MAX(flops / 100e12, bytes / 1e12);
}

START_TEST(test_table_gemm)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    hw.kernel_launch_s = 5e-6; /* added to roofline kernels only */
    g_autoptr(SvCalib) c = gemm_calib(&hw);
    hw.calib = c;
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    /* M = 1 (one decode): the measured point. */
    SvBatchShape s1 = {0};
    sv_batch_add_decode(&s1, 1, 100);
    g_autoptr(GArray) o1 = sv_predictor_ops(p, &s1, NULL);
    const SvOpTime *up = find_op(o1, "mlp_up");
    ck_assert_rel(up->time_s, 20e-6, 1e-12);
    ck_assert_str_eq(sv_coverage_name(up->coverage), "measured");
    /* M = 4: halfway between 1 and 16 on the log axis: the geometric mean
     * of the two measured times (the line is this very shape). */
    SvBatchShape s4 = {0};
    sv_batch_add_decode(&s4, 4, 100);
    g_autoptr(GArray) o4 = sv_predictor_ops(p, &s4, NULL);
    up = find_op(o4, "mlp_up");
    ck_assert_rel(up->time_s, sqrt(20e-6 * 40e-6), 1e-9);
    ck_assert_str_eq(sv_coverage_name(up->coverage), "interpolated");
    /* M = 64: past the data, the line's trend at its top end held: the mean
     * of log u over the last 0.5 of log M (table.c, GEMM_TREND_HALF), which
     * on a line of two points is log u at log 16 - 0.25, the straight line
     * between the two points' log u. */
    SvBatchShape s64 = {0};
    sv_batch_add_decode(&s64, 64, 100);
    g_autoptr(GArray) o64 = sv_predictor_ops(p, &s64, NULL);
    up = find_op(o64, "mlp_up");
    double lu1 = log(up_roof(1) / 20e-6), lu16 = log(up_roof(16) / 40e-6);
    double lu_top = lu16 - 0.25 * (lu16 - lu1) / log(16.0);
    ck_assert_rel(up->time_s, up_roof(64) / exp(lu_top), 1e-9);
    ck_assert_str_eq(sv_coverage_name(up->coverage), "extrapolated");
    /* o_proj (1024 x 1024) has only that line, off to one side in n:
     * extrapolated; no op without a table claims better than roofline, and
     * roofline GEMMs still pay the launch. */
    const SvOpTime *o = find_op(o4, "o_proj");
    ck_assert_str_eq(sv_coverage_name(o->coverage), "extrapolated");
    const SvOpTime *act = find_op(o4, "mlp_act");
    ck_assert_str_eq(sv_coverage_name(act->coverage), "roofline");
    ck_assert_rel(act->time_s, act->bytes / 1e12 + 5e-6, 1e-9);
}
END_TEST

/* A decode table for tiny_model's heads (16 q, 4 kv, dim 64 on one device):
 * batch 1: 10 us at context 100, 30 us at 4000; batch 2: 12, 25, 40 us at
 * 100, 2050, 4000. */
static SvCalib *decode_calib(const SvHw *hw, int q, int kv)
{
    SvCalib *c = sv_calib_new();
    c->num_decode = 1;
    c->decode = g_new0(SvAttnSet, 1);
    SvAttnSet *s = &c->decode[0];
    s->dtype = SV_DTYPE_FP16;
    s->q_heads = q;
    s->kv_heads = kv;
    s->head_dim = 64;
    s->num_lines = 2;
    s->lines = g_new0(SvAttnLine, 2);
    double x1[] = {100, 4000}, t1[] = {10, 30}, x2[] = {100, 2050, 4000}, t2[] = {12, 25, 40};
    s->lines[0].outer = 1;
    set_curve(&s->lines[0].ctx, 2, x1, t1);
    s->lines[1].outer = 2;
    set_curve(&s->lines[1].ctx, 3, x2, t2);
    sv_calib_prepare(c, hw);
    return c;
}

static const SvOpTime *decode_op(SvPredictor *p, const char *spec, GArray **keep)
{
    SvBatchShape s;
    g_autoptr(GError) error = NULL;
    ck_assert(sv_batch_parse(spec, &s, &error));
    *keep = sv_predictor_ops(p, &s, NULL);
    return find_op(*keep, "attn_decode");
}

START_TEST(test_table_decode_mixed)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvCalib) c = decode_calib(&hw, 16, 4);
    hw.calib = c;
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    g_autoptr(GArray) a = NULL, b = NULL, d = NULL;
    /* Two sequences at 2050: a measured point. */
    const SvOpTime *even = decode_op(p, "decode=2@2050", &a);
    ck_assert_rel(even->time_s, 25e-6, 1e-12);
    ck_assert_str_eq(sv_coverage_name(even->coverage), "measured");
    /* [100, 4000], the same mean: each sequence's share of a batch of two,
     * (12 + 40) / 2 = 26 us, is below what the 4000-token sequence takes
     * alone, 30 us, which is the answer; not the 25 us of the mean. */
    const SvOpTime *mixed = decode_op(p, "decode=1@100,decode=1@4000", &b);
    ck_assert_rel(mixed->time_s, 30e-6, 1e-12);
    ck_assert_str_eq(sv_coverage_name(mixed->coverage), "interpolated");
    /* The memo keeps the two apart (its histogram digest). */
    SvBatchShape s1, s2;
    g_autoptr(GError) error = NULL;
    ck_assert(sv_batch_parse("decode=2@2050", &s1, &error));
    ck_assert(sv_batch_parse("decode=1@100,decode=1@4000", &s2, &error));
    double t1 = sv_predictor_stage_times(p, &s1, NULL, NULL);
    double t2 = sv_predictor_stage_times(p, &s2, NULL, NULL);
    ck_assert_rel(t2 - t1, (30e-6 - 25e-6) * m.num_layers, 1e-6);
    ck_assert_rel(sv_ns_to_s(sv_predictor_iteration_ns(p, &s2, NULL)), t2, 0.005);
    ck_assert_rel(sv_ns_to_s(sv_predictor_iteration_ns(p, &s1, NULL)), t1, 0.005);
    /* Context 1000 in a batch of 2: between the points, sqrt axis. */
    const SvOpTime *mid = decode_op(p, "decode=2@1000", &d);
    ck_assert_str_eq(sv_coverage_name(mid->coverage), "interpolated");
    ck_assert(mid->time_s > 12e-6 && mid->time_s < 25e-6);
}
END_TEST

START_TEST(test_table_decode_fold)
{
    /* The table measured 8 q / 2 kv heads; tiny_model has 16 / 4 (same
     * ratio, same dim): a batch of 1 reads as a batch of 2 of the table. */
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    g_autoptr(SvCalib) c = decode_calib(&hw, 8, 2);
    hw.calib = c;
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    g_autoptr(GArray) a = NULL;
    const SvOpTime *op = decode_op(p, "decode=1@2050", &a);
    ck_assert_rel(op->time_s, 25e-6, 1e-9);
    ck_assert_str_eq(sv_coverage_name(op->coverage), "interpolated");
    /* Another ratio cannot fold: utilisation held, extrapolated. */
    g_autoptr(SvCalib) c2 = decode_calib(&hw, 16, 16);
    hw.calib = c2;
    g_autoptr(SvPredictor) p2 = make(&m, &hw, 1, 1, 1);
    g_autoptr(GArray) b = NULL;
    op = decode_op(p2, "decode=2@2050", &b);
    ck_assert_str_eq(sv_coverage_name(op->coverage), "extrapolated");
}
END_TEST

START_TEST(test_attention_efficiency)
{
    /* Without tables, prefill attention runs at eff_attention of the peak. */
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = sv_test_tiny_hw();
    hw.eff_attention = 0.25;
    g_autoptr(SvPredictor) p = make(&m, &hw, 1, 1, 1);
    SvBatchShape s = {0};
    sv_batch_add_prefill(&s, 4096, 0);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    const SvOpTime *a = find_op(ops, "attn_prefill");
    ck_assert_rel(a->time_s, a->flops / 25e12, 1e-9);
}
END_TEST

/* The shipped calibrated profiles answer real models from their tables. */
static const char *cov_of(GArray *ops, const char *name)
{
    const SvOpTime *o = find_op(ops, name);
    ck_assert_msg(o != NULL, "no op %s", name);
    return sv_coverage_name(o->coverage);
}

START_TEST(test_shipped_calibrated)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SvHw) h100 = sv_hw_load("h100-sxm", &error);
    g_autoptr(SvHw) a100 = sv_hw_load("a100-sxm-80g", &error);
    g_autoptr(SvModel) l8 = sv_model_load("llama-3-8b", &error);
    g_autoptr(SvModel) l70 = sv_model_load("llama-3-70b", &error);
    ck_assert_msg(h100 && a100 && l8 && l70, "%s", error ? error->message : "?");
    ck_assert_ptr_nonnull(h100->calib);
    ck_assert_ptr_nonnull(a100->calib);
    SvBatchShape s;
    ck_assert(sv_batch_parse("prefill=512x1,decode=64@2048", &s, &error));
    /* H100: GEMMs, norms and host from tables; no attention was ever
     * measured on it, so attention stays a roofline. */
    g_autoptr(SvPredictor) p = make(l8, h100, 1, 1, 1);
    g_autoptr(GArray) ops = sv_predictor_ops(p, &s, NULL);
    ck_assert_str_ne(cov_of(ops, "qkv_proj"), "roofline");
    ck_assert_str_ne(cov_of(ops, "rmsnorm"), "roofline");
    ck_assert_str_eq(cov_of(ops, "attn_decode"), "roofline");
    ck_assert_str_eq(cov_of(ops, "host_overhead"), "interpolated");
    /* A100, Llama 3 70B at TP2: the very geometry the attention profile
     * measured, and the all-reduce of 2 NVLink ranks. */
    g_autoptr(SvPredictor) q = make(l70, a100, 2, 1, 1);
    g_autoptr(GArray) ops2 = sv_predictor_ops(q, &s, NULL);
    ck_assert_str_ne(cov_of(ops2, "attn_prefill"), "roofline");
    ck_assert_str_ne(cov_of(ops2, "attn_prefill"), "extrapolated");
    ck_assert_str_ne(cov_of(ops2, "attn_decode"), "roofline");
    ck_assert_str_ne(cov_of(ops2, "all_reduce"), "roofline");
    ck_assert_str_ne(cov_of(ops2, "all_reduce"), "extrapolated");
    ck_assert_str_ne(cov_of(ops2, "mlp_up"), "extrapolated");
    /* Every time positive and finite. */
    for (guint i = 0; i < ops2->len; i++) {
        double t = g_array_index(ops2, SvOpTime, i).time_s;
        ck_assert_msg(t > 0 && isfinite(t), "%s", g_array_index(ops2, SvOpTime, i).name);
    }
}
END_TEST

/* vLLM's custom all-reduce replaces the NCCL table where vLLM runs it:
 * Llama 3 70B at TP4 on H100, 8 decode tokens, all-reduces 8 x 8192 x 2 =
 * 128 KiB per layer half, one-shot: h100-sxm.yaml's 5 us plus 3 x 128 KiB
 * at 450 GB/s x 0.81. disable_custom_all_reduce sends it back to NCCL's
 * measured curve (4 ranks on NVLink, which does not say measured for a
 * shape it only brackets). */
START_TEST(test_custom_all_reduce_plan)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SvHw) h100 = sv_hw_load("h100-sxm", &error);
    g_autoptr(SvModel) l70 = sv_model_load("llama-3-70b", &error);
    ck_assert_msg(h100 && l70, "%s", error ? error->message : "?");
    SvBatchShape s;
    ck_assert(sv_batch_parse("decode=8@1024", &s, &error));
    g_autoptr(SvPredictor) on = make(l70, h100, 4, 1, 1);
    g_autoptr(GArray) ops = sv_predictor_ops(on, &s, NULL);
    const SvOpTime *ar = find_op(ops, "all_reduce");
    ck_assert_ptr_nonnull(ar);
    ck_assert_str_eq(ar->algo, "custom");
    ck_assert_str_eq(sv_coverage_name(ar->coverage), "roofline");
    ck_assert_rel(ar->time_s, 5e-6 + 3.0 * 131072 / (450e9 * 0.81), 1e-9);
    SvPlan plan = plan_of(4, 1, 1);
    plan.disable_custom_all_reduce = TRUE;
    g_autoptr(SvPredictor) off = sv_predictor_new(l70, h100, &plan, &error);
    ck_assert_ptr_nonnull(off);
    g_autoptr(GArray) ops2 = sv_predictor_ops(off, &s, NULL);
    const SvOpTime *nccl = find_op(ops2, "all_reduce");
    ck_assert_str_eq(nccl->algo, "table");
    ck_assert_str_ne(sv_coverage_name(nccl->coverage), "roofline");
    /* Vidur's NCCL curve: about 40 us for 128 KiB on 4 H100s. */
    ck_assert_msg(nccl->time_s > 30e-6 && nccl->time_s < 50e-6, "%g", nccl->time_s);
    /* TP1 has no all-reduce; 9 MiB (prefill of 576 tokens) is NCCL's again. */
    SvBatchShape big;
    ck_assert(sv_batch_parse("prefill=576x1", &big, &error));
    g_autoptr(GArray) ops3 = sv_predictor_ops(on, &big, NULL);
    ck_assert_str_eq(find_op(ops3, "all_reduce")->algo, "table");
}
END_TEST

/* The memo puts a miss together from caches of its ops' shares by what they
 * depend on (token count, batch size, prefill and decode attention); that
 * must give what timing every op again gives, to the last bit, for every
 * kind of plan: tables (H100 GEMMs, A100 attention with its decode
 * histogram), sliding windows with MoE, MLA, pipeline stages, a locked
 * clock. Shapes come from a fixed generator over few chunk sizes and batch
 * sizes, so the parts' caches both hit and miss. */
START_TEST(test_memo_split_exact)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(SvHw) h100 = sv_hw_load("h100-sxm", &error);
    g_autoptr(SvHw) a100 = sv_hw_load("a100-sxm-80g", &error);
    g_autoptr(SvModel) l70 = sv_model_load("llama-3-70b", &error);
    g_autoptr(SvModel) l8 = sv_model_load("llama-3-8b", &error);
    g_autoptr(SvModel) oss = sv_model_load("gpt-oss-20b", &error);
    g_autoptr(SvModel) ds = sv_model_load("deepseek-v3", &error);
    g_autoptr(SvModel) q3 = sv_model_load("qwen3-30b-a3b", &error);
    ck_assert_msg(h100 && a100 && l70 && l8 && oss && ds && q3, "%s", error ? error->message : "?");
    /* With an eager-step cost: steps above 300 tokens pay it (plans below). */
    g_autoptr(SvHw) h100e = sv_hw_copy(h100);
    h100e->eager_layer_s = 30e-6;
    h100e->eager_moe_layer_s = 300e-6;
    const struct {
        const SvModel *model;
        const SvHw *hw;
        int tp, pp, ep;
        double clock;
    } cases[] = {
        {l70, h100, 8, 1, 1, 1.0}, {l70, a100, 2, 1, 1, 1.0}, {oss, h100, 2, 1, 1, 1.0},
        {ds, h100, 8, 2, 1, 1.0},  {l8, h100, 1, 4, 1, 0.7},  {q3, h100, 2, 1, 2, 1.0},
        {l70, h100, 4, 4, 1, 1.0}, {q3, h100e, 2, 1, 2, 1.0}, {l70, h100e, 4, 2, 1, 1.0},
    };
    for (size_t c = 0; c < G_N_ELEMENTS(cases); c++) {
        SvPlan plan = plan_of(cases[c].tp, cases[c].pp, cases[c].ep);
        plan.cudagraph_limit = cases[c].hw == h100e;
        plan.cudagraph_max_tokens = 300;
        g_autoptr(SvPredictor) split = sv_predictor_new(cases[c].model, cases[c].hw, &plan, NULL);
        g_autoptr(SvPredictor) whole = sv_predictor_new(cases[c].model, cases[c].hw, &plan, NULL);
        ck_assert(split != NULL && whole != NULL);
        sv_predictor_set_memo_split(whole, FALSE);
        if (cases[c].clock < 1) {
            sv_predictor_set_clock(split, cases[c].clock);
            sv_predictor_set_clock(whole, cases[c].clock);
        }
        uint64_t x = 12345 + c;
        for (int i = 0; i < 3000; i++) {
            SvBatchShape s = {0};
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            static const int64_t chunks[] = {1, 17, 256, 512, 1000, 2048, 8192};
            int prefills = (int)(x >> 60) % 4;
            for (int k = 0; k < prefills; k++)
                sv_batch_add_prefill(&s, chunks[(x >> (8 * k + 20)) % G_N_ELEMENTS(chunks)],
                                     (int64_t)((x >> (5 * k + 3)) % 5000));
            int decodes = (int)((x >> 40) % 6) * 40 + (int)(x >> 56) % 3;
            for (int k = 0; k < decodes; k++)
                sv_batch_add_decode(&s, 1, 1 + (int64_t)((x >> (k % 40)) % 9000));
            if (s.num_prefill == 0 && s.num_decode == 0)
                sv_batch_add_decode(&s, 1, 100);
            SvIterProfile a, b;
            double fa = 0, fb = 0;
            SvTimeNs ta = sv_predictor_iteration_profile(split, &s, &a, &fa);
            SvTimeNs tb = sv_predictor_iteration_profile(whole, &s, &b, &fb);
            ck_assert_msg(ta == tb && fa == fb,
                          "case %zu shape %d: %" G_GINT64_FORMAT
                          " ns %.17g FLOPs, whole %" G_GINT64_FORMAT " ns %.17g",
                          c, i, ta, fa, tb, fb);
            ck_assert_msg(a.compute_s == b.compute_s && a.memory_s == b.memory_s &&
                              a.comm_s == b.comm_s && a.total_s == b.total_s &&
                              a.eager_s == b.eager_s && a.flops == b.flops && a.bytes == b.bytes,
                          "case %zu shape %d: profiles differ", c, i);
            ck_assert_int_eq(sv_predictor_stage_max_ns(split, &s),
                             sv_predictor_stage_max_ns(whole, &s));
        }
    }
}
END_TEST

Suite *perf_suite(void)
{
    Suite *s = suite_create("perf");
    TCase *tc = tcase_create("predictor");
    tcase_add_test(tc, test_gemm_compute_bound);
    tcase_add_test(tc, test_gemm_memory_bound);
    tcase_add_test(tc, test_decode_weight_bound);
    tcase_add_test(tc, test_prefill_llama8b_compute);
    tcase_add_test(tc, test_flops_out_exact);
    tcase_add_test(tc, test_overheads);
    tcase_add_test(tc, test_eager_overhead);
    tcase_add_test(tc, test_eager_moe);
    tcase_add_test(tc, test_memo_hits_and_order);
    tcase_add_test(tc, test_memo_accuracy_and_growth);
    tcase_add_test(tc, test_monotone);
    tcase_add_test(tc, test_tp_all_reduce);
    tcase_add_test(tc, test_kv_heads_replicated);
    tcase_add_test(tc, test_pp_stages);
    tcase_add_test(tc, test_moe);
    tcase_add_test(tc, test_mla_and_window);
    tcase_add_test(tc, test_dp_attention);
    tcase_add_test(tc, test_moe_zipf);
    tcase_add_test(tc, test_moe_routing_skew);
    tcase_add_test(tc, test_moe_tile_rows_flops);
    tcase_add_test(tc, test_moe_workspace_grid);
    tcase_add_test(tc, test_moe_triton_ctas);
    tcase_add_test(tc, test_moe_fused_kernel);
    tcase_add_test(tc, test_quant_scope_op_bytes);
    tcase_add_test(tc, test_pp_tp_send_gather);
    tcase_add_test(tc, test_links_by_plan);
    tcase_add_test(tc, test_plan_errors);
    tcase_add_test(tc, test_quantized_decode_faster);
    tcase_add_test(tc, test_memo_split_exact);
    suite_add_tcase(s, tc);
    TCase *tb = tcase_create("batch");
    tcase_add_test(tb, test_batch_parse_ok);
    tcase_add_test(tb, test_batch_parse_bad);
    tcase_add_test(tb, test_coverage_names);
    suite_add_tcase(s, tb);
    TCase *tt = tcase_create("tables");
    tcase_add_test(tt, test_batch_histogram);
    tcase_add_test(tt, test_table_gemm);
    tcase_add_test(tt, test_table_decode_mixed);
    tcase_add_test(tt, test_table_decode_fold);
    tcase_add_test(tt, test_attention_efficiency);
    tcase_add_test(tt, test_shipped_calibrated);
    tcase_add_test(tt, test_custom_all_reduce_plan);
    suite_add_tcase(s, tt);
    return s;
}
