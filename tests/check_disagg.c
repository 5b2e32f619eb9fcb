/* Disaggregated prefill/decode and heterogeneous pools: an exact timeline
 * with a transfer that queues behind another on the link and one that waits
 * for decode-side blocks; layer-wise overlap; the links by placement (same
 * node group, same site, other site); decode placement policies; arrivals
 * routed to prefill replicas only; invariants (KV blocks allocated = freed
 * on both sides, events, requests) with preemption, swap, prefix caching
 * and pipelining; requests.csv and summary.json columns; studies through
 * the config loader with real hardware. */
#include "serve/serve-private.h"
#include "serve/sim.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define US 1000LL
#define MS 1000000LL

/* Iteration time: 1 ms + 10 us per scheduled token (check_serve.c's toy). */
static SvTimeNs toy_time(void *ctx, const SvBatchShape *s)
{
    (void)ctx;
    return 1000000 + 10000 * (s->prefill_tokens + s->num_decode);
}

#define MAX_POOLS 4

typedef struct {
    SvConfig cfg;
    SvModel model;
    SvHw hw;
    SvPoolConfig pools[MAX_POOLS];
    int64_t pool_blocks[MAX_POOLS];
    SvTrace *trace;
    char *trace_path;
} Study;

/* A prefill pool of one replica ("P", 64 blocks) and @decode_replicas decode
 * replicas in one pool ("D", 7 blocks each), toy hardware whose scale-out
 * link moves 1 GB/s with 10 us latency (scale-up: 10 GB/s, 1 us). */
static Study *study_new(const char *trace_csv, int decode_replicas)
{
    Study *st = g_new0(Study, 1);
    st->model.name = "toy";
    st->model.num_layers = 4;
    st->model.max_position_embeddings = 4096;
    st->hw.name = "toy-hw";
    st->hw.peak_flops[SV_DTYPE_BF16] = 1e15;
    st->hw.host_bw_bytes_per_s = 1e9;
    st->hw.scaleout_bw_bytes_per_s = 1e9;
    st->hw.scaleout_latency_s = 10e-6;
    st->hw.scaleup_bw_bytes_per_s = 10e9;
    st->hw.scaleup_latency_s = 1e-6;
    st->hw.eff_link = 1.0;
    st->cfg.path = "toy.yaml";
    st->cfg.seed = 1;
    st->cfg.model = &st->model;
    st->cfg.router = SV_ROUTER_ROUND_ROBIN;
    st->cfg.decode_router = SV_DECODE_LEAST_KV;
    st->cfg.pools = g_ptr_array_new();
    const char *names[2] = {"P", "D"};
    for (int p = 0; p < 2; p++) {
        SvPoolConfig *pool = &st->pools[p];
        pool->name = (char *)names[p];
        pool->hw = &st->hw;
        pool->replicas = p == 0 ? 1 : decode_replicas;
        pool->tensor_parallel_size = 1;
        pool->pipeline_parallel_size = 1;
        pool->expert_parallel_size = 1;
        pool->role = p == 0 ? SV_ROLE_PREFILL : SV_ROLE_DECODE;
        g_ptr_array_add(st->cfg.pools, pool);
    }
    st->pool_blocks[0] = 64;
    st->pool_blocks[1] = 7;
    st->cfg.engine.scheduler = SV_SCHED_VLLM_V1;
    st->cfg.engine.max_num_seqs = 256;
    st->cfg.engine.max_num_batched_tokens = 8192;
    st->cfg.engine.enable_chunked_prefill = TRUE;
    st->cfg.engine.block_size = 16;
    st->cfg.engine.gpu_memory_utilization = 0.9;
    st->cfg.engine.dtype = SV_DTYPE_BF16;
    st->cfg.engine.weight_dtype = SV_DTYPE_BF16;
    st->cfg.engine.kv_cache_dtype = SV_DTYPE_BF16;
    st->cfg.engine.swap_space_gib = 1;
    st->cfg.slo.percentile = 90;
    st->cfg.output.sample_interval_s = 0.01;
    st->trace_path = sv_test_write_tmp(trace_csv, ".csv");
    st->cfg.workload.trace_path = st->trace_path;
    st->cfg.workload.process = SV_ARRIVAL_TRACE;
    GError *error = NULL;
    st->trace = sv_trace_load(st->trace_path, &error);
    ck_assert_msg(st->trace != NULL, "%s", error ? error->message : "");
    return st;
}

static void study_free(Study *st)
{
    sv_trace_free(st->trace);
    g_unlink(st->trace_path);
    g_free(st->trace_path);
    g_ptr_array_unref(st->cfg.pools);
    g_free(st);
}

static void check_balance(SvSim *sim)
{
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_uint_eq(b.blocks_allocated, b.blocks_freed);
    ck_assert_uint_eq(b.events_scheduled, b.events_processed + b.events_cancelled);
    ck_assert_uint_eq(b.events_pending, 0);
    ck_assert_int_eq(b.arrived, b.completed + b.rejected);
    ck_assert_int_eq(b.in_flight, 0);
}

static SvSim *run_study(Study *st)
{
    SvSimOptions opt = {
        .iter_time_fn = toy_time,
        .kv_block_bytes = 1e6, /* one block on one device: 1 ms on the 1 GB/s link */
        .pool_kv_blocks = st->pool_blocks,
        .num_pool_kv_blocks = (int)st->cfg.pools->len,
        .cpu_kv_blocks = 64,
    };
    GError *error = NULL;
    SvSim *sim = sv_sim_new(&st->cfg, st->trace, &opt, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    check_balance(sim);
    return sim;
}

static const SvRequestRecord *record_of(SvSim *sim, int64_t id)
{
    SvMetrics *m = sv_sim_metrics(sim);
    for (size_t i = 0; i < sv_metrics_num_requests(m); i++)
        if (sv_metrics_request(m, i)->id == id)
            return sv_metrics_request(m, i);
    ck_abort_msg("no record for request %" G_GINT64_FORMAT, id);
    return NULL;
}

static SvRequestTransfer transfer_of(SvSim *sim, int64_t id)
{
    SvRequestTransfer t;
    ck_assert_msg(sv_metrics_request_transfer(sv_sim_metrics(sim), id, &t),
                  "request %" G_GINT64_FORMAT " was not handed over", id);
    return t;
}

static const char three_reqs[] = "arrival_s,input_tokens,output_tokens\n"
                                 "0,32,3\n"
                                 "0,32,3\n"
                                 "0,32,3\n";

/* The exact timeline (iteration = 1 ms + 10 us x tokens; a prompt of 32
 * tokens is 2 blocks, moved in 2 x 1e6 B / 1 GB/s + 10 us = 2.01 ms; the
 * decode replica (replica 1) has 7 blocks and each hand-over reserves
 * blocks(32 + 1) = 3 of them):
 *  0     A arrives at prefill replica 0: [A prefill 32] -> 1.32; B and C
 *        arrive behind it
 *  1.32  A's first token; A reserves 3 (4 left) and moves 1.32 -> 3.33;
 *        [B, C prefill 64] -> 2.96
 *  2.96  B's and C's first tokens. B reserves 3 (1 left) but the links
 *        still carry A: it moves 3.33 -> 5.34 (link wait 0.37 ms); C needs
 *        3 blocks and 1 is free: it waits for blocks
 *  3.33  A lands; the prefill copy is freed; [A decode] 1.01 ms -> 4.34
 *  4.34  A token 2; C still waits; [A decode] -> 5.35
 *  5.34  B lands (replica 1 busy)
 *  5.35  A's last token: its 3 blocks free (4 free); [B decode] -> 6.36;
 *        then C reserves 3 (block wait 5.35 - 2.96 = 2.39 ms) and moves
 *        5.35 -> 7.36
 *  6.36  B token 2; [B decode] -> 7.37
 *  7.36  C lands; 7.37 B done; [C decode] -> 8.38 -> 9.39 C done. */
START_TEST(test_exact_timeline)
{
    Study *st = study_new(three_reqs, 1);
    g_autoptr(SvSim) sim = run_study(st);
    const SvTimeNs xfer = 2010 * US;
    const SvTimeNs ttft[3] = {1320 * US, 2960 * US, 2960 * US};
    const SvTimeNs e2e[3] = {5350 * US, 7370 * US, 9390 * US};
    const SvTimeNs block_wait[3] = {0, 0, 2390 * US};
    const SvTimeNs link_wait[3] = {0, 370 * US, 0};
    for (int i = 0; i < 3; i++) {
        const SvRequestRecord *r = record_of(sim, i);
        ck_assert_int_eq(r->replica, 0);
        ck_assert_int_eq(r->first_token_ns, ttft[i]);
        ck_assert_int_eq(r->finish_ns, e2e[i]);
        SvRequestTransfer t = transfer_of(sim, i);
        ck_assert_int_eq(t.decode_replica, 1);
        ck_assert_int_eq(t.block_wait_ns, block_wait[i]);
        ck_assert_int_eq(t.link_wait_ns, link_wait[i]);
        ck_assert_int_eq(t.transfer_ns, xfer);
    }
    /* The largest gap of each: first token to second (the move). */
    ck_assert_int_eq(record_of(sim, 0)->max_itl_ns, (4340 - 1320) * US);
    ck_assert_int_eq(record_of(sim, 2)->max_itl_ns, (8380 - 2960) * US);
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_eq(t->kv_transfers, 3);
    ck_assert_msg(fabs(t->kv_transfer_bytes - 6e6) < 1e-6, "%g", t->kv_transfer_bytes);
    /* 2 prefill iterations + 6 decode iterations. */
    ck_assert_int_eq(t->iterations, 8);
    SvTransferSummary x;
    sv_metrics_transfer_summary(sv_sim_metrics(sim), &x);
    ck_assert_int_eq(x.requests, 3);
    ck_assert(fabs(x.transfer_s.mean - 0.00201) < 1e-12);
    ck_assert(fabs(x.block_wait_s.max - 0.00239) < 1e-12);
    ck_assert(fabs(x.queue_s.mean - (0.00037 + 0.00239) / 3) < 1e-12);
    study_free(st);
}
END_TEST

/* Layer-wise overlap. (1) The same three requests: a transfer starts with
 * the iteration that finishes its prompt, when the blocks can be reserved
 * then; it ends at max(start + 2.01, prompt end + 0.01 + 2 / 4 layers).
 *  0     [A prefill] -> 1.32; A reserves and moves 0 -> max(2.01, 1.83) = 2.01
 *  1.32  A token 1; [B, C prefill] -> 2.96; B reserves (1 left) and moves
 *        after A: 2.01 -> max(4.02, 3.47) = 4.02 (link wait 0.69 ms); C gets
 *        no blocks: it hands over at its prompt's end and waits
 *  2.01  A lands: [A decode] -> 3.02 -> 4.03 done
 *  4.02  B lands; 4.03 [B decode] -> 5.04 -> 6.05 done; C reserves at 4.03
 *        (block wait from 1.32: 2.71 ms), moves 4.03 -> 6.04
 *  6.05  [C decode] -> 7.06 -> 8.07 done.
 * (2) A prompt longer to compute than to move: 320 tokens (20 blocks) in the
 * same node group (10 GB/s, 1 us): prefill 4.2 ms, move 2.001 ms. Overlapped
 * it ends at 4.2 + 0.001 + 2/4 = 4.701 ms instead of 6.201, and the one
 * decode step ends at 5.711 ms. */
START_TEST(test_layerwise_overlap)
{
    Study *st = study_new(three_reqs, 1);
    st->cfg.kv_transfer.layerwise = TRUE;
    g_autoptr(SvSim) sim = run_study(st);
    const SvTimeNs e2e[3] = {4030 * US, 6050 * US, 8070 * US};
    const SvTimeNs block_wait[3] = {0, 0, 2710 * US};
    const SvTimeNs link_wait[3] = {0, 690 * US, 0};
    for (int i = 0; i < 3; i++) {
        const SvRequestRecord *r = record_of(sim, i);
        ck_assert_int_eq(r->finish_ns, e2e[i]);
        SvRequestTransfer t = transfer_of(sim, i);
        ck_assert_int_eq(t.block_wait_ns, block_wait[i]);
        ck_assert_int_eq(t.link_wait_ns, link_wait[i]);
        ck_assert_int_eq(t.transfer_ns, 2010 * US);
    }
    study_free(st);

    for (int layerwise = 0; layerwise < 2; layerwise++) {
        st = study_new("arrival_s,input_tokens,output_tokens\n0,320,2\n", 1);
        st->pool_blocks[1] = 64;
        st->pools[0].node_group = "n";
        st->pools[1].node_group = "n";
        st->cfg.kv_transfer.layerwise = layerwise;
        g_autoptr(SvSim) one = run_study(st);
        SvRequestTransfer t = transfer_of(one, 0);
        ck_assert_int_eq(record_of(one, 0)->first_token_ns, 4200 * US);
        ck_assert_int_eq(t.transfer_ns, layerwise ? 4701 * US : 2001 * US);
        ck_assert_int_eq(record_of(one, 0)->finish_ns, (layerwise ? 4701 : 6201) * US + 1010 * US);
        study_free(st);
    }
}
END_TEST

/* A request of one output token finishes on the prefill replica: no
 * transfer, no decode replica. */
START_TEST(test_single_token_stays)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,32,1\n", 1);
    g_autoptr(SvSim) sim = run_study(st);
    const SvRequestRecord *r = record_of(sim, 0);
    ck_assert_int_eq(r->finish_ns, (1000 + 320) * US);
    SvRequestTransfer t;
    ck_assert(!sv_metrics_request_transfer(sv_sim_metrics(sim), 0, &t));
    ck_assert_int_eq(t.decode_replica, -1);
    ck_assert_int_eq(sv_sim_totals(sim)->kv_transfers, 0);
    study_free(st);
}
END_TEST

/* Links by placement: one request of 32 tokens (2 blocks).
 * Other node group, same site: 2 MB at 1 GB/s + 10 us = 2.010 ms.
 * Same node group: 2 MB at 10 GB/s + 1 us = 0.201 ms.
 * Other site, 0.5 GB/s and 100 us between sites: the KV's bytes (each
 * block once: 1e6 B x tp 1 x pp 1 per block) at 0.5 GB/s, slower than the
 * endpoints: 4 ms + 100 us = 4.100 ms. */
START_TEST(test_link_by_placement)
{
    for (int k = 0; k < 3; k++) {
        Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,32,2\n", 1);
        if (k == 1) {
            st->pools[0].node_group = "n";
            st->pools[1].node_group = "n";
        } else if (k == 2) {
            st->pools[1].site = "far";
            st->cfg.kv_transfer.inter_site_bw_bytes_per_s = 0.5e9;
            st->cfg.kv_transfer.inter_site_latency_s = 100e-6;
        }
        g_autoptr(SvSim) sim = run_study(st);
        const SvTimeNs want[3] = {2010 * US, 201 * US, 4100 * US};
        SvRequestTransfer t = transfer_of(sim, 0);
        ck_assert_int_eq(t.transfer_ns, want[k]);
        /* TTFT 1.32 ms, then the move, then one decode step of 1.01 ms. */
        ck_assert_int_eq(record_of(sim, 0)->finish_ns, 1320 * US + want[k] + 1010 * US);
        study_free(st);
    }
}
END_TEST

/* Decode placement over two decode replicas (1 and 2), 64 blocks each, and
 * four requests handed over at the same instant (prompts 32, 64, 16, 16:
 * 3, 5, 2 and 2 blocks to reserve; A alone in the first prefill step, the
 * others together in the second, but each placement sees the blocks the
 * earlier ones reserved):
 *  least-kv: A -> 1 (a tie, lower index); B -> 2 (0 vs 3 blocks); C -> 1
 *    (3 vs 5); D -> 1 (5 vs 5, a tie);
 *  least-outstanding: 1, 2, 1 (1 vs 1), 2 (2 vs 1);
 *  round-robin: 1, 2, 1, 2. */
START_TEST(test_decode_router_policies)
{
    static const char csv[] = "arrival_s,input_tokens,output_tokens\n"
                              "0,32,4\n"
                              "0,64,4\n"
                              "0,16,4\n"
                              "0,16,4\n";
    const int want[3][4] = {{1, 2, 1, 1}, {1, 2, 1, 2}, {1, 2, 1, 2}};
    for (int policy = 0; policy < SV_DECODE_COUNT; policy++) {
        Study *st = study_new(csv, 2);
        st->pool_blocks[1] = 64;
        st->cfg.decode_router = (SvDecodeRouterKind)policy;
        g_autoptr(SvSim) sim = run_study(st);
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(record_of(sim, i)->replica, 0);
            ck_assert_msg(transfer_of(sim, i).decode_replica == want[policy][i],
                          "%s: request %d went to %d", sv_decode_router_names[policy], i,
                          transfer_of(sim, i).decode_replica);
        }
        study_free(st);
    }
}
END_TEST

/* Arrivals never go to decode replicas: with mixed, prefill and decode
 * pools and a round-robin router, the routed replica cycles over the mixed
 * and prefill replicas only. */
START_TEST(test_entry_routing)
{
    GString *csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 12; i++)
        g_string_append_printf(csv, "%.3f,32,3\n", i * 0.01);
    Study *st = study_new(csv->str, 1);
    /* Pools: P (prefill, replica 0), D (decode, replica 1), M (mixed, 2). */
    SvPoolConfig *m = &st->pools[2];
    *m = st->pools[0];
    m->name = "M";
    m->role = SV_ROLE_MIXED;
    g_ptr_array_add(st->cfg.pools, m);
    st->pool_blocks[2] = 64;
    g_autoptr(SvSim) sim = run_study(st);
    for (int i = 0; i < 12; i++) {
        const SvRequestRecord *r = record_of(sim, i);
        ck_assert_int_eq(r->replica, i % 2 == 0 ? 0 : 2);
        SvRequestTransfer t;
        gboolean moved = sv_metrics_request_transfer(sv_sim_metrics(sim), i, &t);
        ck_assert_int_eq(moved, i % 2 == 0);
        if (moved)
            ck_assert_int_eq(t.decode_replica, 1);
    }
    study_free(st);
    g_string_free(csv, TRUE);
}
END_TEST

/* A request whose KV cannot fit any decode replica is rejected at arrival
 * (kv_capacity), even though its prompt fits the prefill replica. */
START_TEST(test_reject_too_big_for_decode)
{
    Study *st = study_new("arrival_s,input_tokens,output_tokens\n0,100,20\n0,32,3\n", 1);
    g_autoptr(SvSim) sim = run_study(st);
    const SvRequestRecord *r = record_of(sim, 0);
    ck_assert_int_eq(r->outcome, SV_REQ_REJECTED);
    ck_assert_int_eq(r->reject_reason, SV_REJECT_KV_CAPACITY);
    ck_assert_int_eq(record_of(sim, 1)->outcome, SV_REQ_COMPLETED);
    study_free(st);
}
END_TEST

/* Invariants under load: preemption on both sides (small KV), recompute and
 * swap, prefix caching (shared system prompts), pipelining on the decode
 * side, every scheduler: every request completes and KV blocks allocated =
 * freed on every replica. */
static SvTimeNs stage_half(void *ctx, const SvBatchShape *s, int stage)
{
    (void)stage;
    return toy_time(ctx, s) / 2;
}

START_TEST(test_invariants_under_load)
{
    GString *csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 150; i++)
        g_string_append_printf(csv, "%.4f,%d,%d\n", i * 0.0009, 16 + (i * 37) % 180,
                               1 + (i * 11) % 50);
    for (int sched = 0; sched < SV_SCHED_COUNT; sched++) {
        for (int variant = 0; variant < 4; variant++) {
            Study *st = study_new(csv->str, 2);
            st->cfg.engine.scheduler = (SvSchedulerKind)sched;
            st->cfg.engine.max_model_len = 240;
            st->cfg.engine.max_num_batched_tokens = 256;
            st->cfg.engine.enable_chunked_prefill =
                sched != SV_SCHED_ORCA && sched != SV_SCHED_STATIC && sched != SV_SCHED_VLLM_V0;
            st->cfg.engine.preemption_mode = variant & 1 ? SV_PREEMPT_SWAP : SV_PREEMPT_RECOMPUTE;
            st->pool_blocks[0] = 24;
            st->pool_blocks[1] = 20;
            st->cfg.kv_transfer.layerwise = variant == 3;
            SvSimOptions opt = {
                .iter_time_fn = toy_time,
                .kv_block_bytes = 1e5,
                .pool_kv_blocks = st->pool_blocks,
                .num_pool_kv_blocks = 2,
                .cpu_kv_blocks = 16,
            };
            if (variant >= 2) {
                /* Decode pool pipelined over 2 stages. */
                st->pools[1].pipeline_parallel_size = 2;
                opt.iter_time_fn = NULL;
                opt.stage_time_fn = stage_half;
            }
            GError *error = NULL;
            g_autoptr(SvSim) sim = sv_sim_new(&st->cfg, st->trace, &opt, &error);
            ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
            sv_sim_run(sim);
            check_balance(sim);
            SvSimBalance b;
            sv_sim_balance(sim, &b);
            ck_assert_msg(b.completed + b.rejected == 150, "%s variant %d",
                          sv_scheduler_names[sched], variant);
            ck_assert_int_gt(b.completed, 100);
            if (sched == SV_SCHED_VLLM_V1)
                ck_assert_int_gt(sv_sim_totals(sim)->preemptions, 0);
            study_free(st);
        }
    }
    g_string_free(csv, TRUE);
}
END_TEST

/* Prefix caching on both sides: requests sharing a system prompt hit the
 * prefill replica's cache; the decode side caches what it receives; the
 * blocks balance on both. */
START_TEST(test_prefix_caching_both_sides)
{
    static const char yaml[] =
        "model: llama-3-8b\n"
        "cluster:\n"
        "  pools:\n"
        "    - {name: p, hardware: h100-sxm, replicas: 1, role: prefill}\n"
        "    - {name: d, hardware: h100-sxm, replicas: 2, role: decode}\n"
        "engine: {enable_prefix_caching: true, max_model_len: 8192}\n"
        "workload:\n"
        "  lengths: {input: {dist: uniform, min: 100, max: 600}, output: {dist: uniform, min: 1, "
        "max: 80}}\n"
        "  prefix: {prompts: 3, tokens: 512, probability: 0.8}\n"
        "  arrival: {process: poisson, rate_per_s: 30}\n"
        "  num_requests: 300\n";
    g_autofree char *path = sv_test_write_tmp(yaml, ".yaml");
    GError *error = NULL;
    g_autoptr(SvConfig) cfg = sv_config_load(path, NULL, &error);
    ck_assert_msg(cfg != NULL, "%s", error ? error->message : "");
    g_autoptr(SvSim) sim = sv_sim_new(cfg, NULL, NULL, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    check_balance(sim);
    const SvRunTotals *t = sv_sim_totals(sim);
    ck_assert_int_gt(t->prefix_hits_tokens, 0);
    ck_assert_int_gt(t->kv_transfers, 200);
    g_unlink(path);
}
END_TEST

/* Heterogeneous pools through the loader: H100 prefill (TP 2), A100 80G and
 * MI300X decode (TP 1/TP 1), least-kv placement, same seed twice gives the
 * same records, outputs carry the transfer columns and summary section. */
static const char hetero_yaml[] =
    "seed: 7\n"
    "model: llama-3-8b\n"
    "cluster:\n"
    "  router: least-outstanding\n"
    "  decode_router: least-kv\n"
    "  kv_transfer: {layerwise: true}\n"
    "  pools:\n"
    "    - {name: prefill, hardware: h100-sxm, replicas: 2, tensor_parallel_size: 2, role: "
    "prefill}\n"
    "    - {name: dec-a100, hardware: a100-sxm-80g, replicas: 2, role: decode}\n"
    "    - {name: dec-mi300x, hardware: mi300x, replicas: 1, role: decode}\n"
    "engine: {max_model_len: 8192}\n"
    "workload:\n"
    "  trace: TRACE\n"
    "  arrival: {process: poisson, rate_per_s: 20}\n"
    "  num_requests: 400\n";

START_TEST(test_heterogeneous_study)
{
    g_autofree char *trace = sv_test_src_path("traces/azure_conv_2023.csv");
    g_autofree char *text = NULL;
    {
        g_auto(GStrv) parts = g_strsplit(hetero_yaml, "TRACE", -1);
        text = g_strjoinv(trace, parts);
    }
    g_autofree char *path = sv_test_write_tmp(text, ".yaml");
    SvTimeNs finish_sum[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        GError *error = NULL;
        g_autoptr(SvConfig) cfg = sv_config_load(path, NULL, &error);
        ck_assert_msg(cfg != NULL, "%s", error ? error->message : "");
        g_autoptr(SvTrace) tr = sv_trace_load(cfg->workload.trace_path, &error);
        ck_assert_msg(tr != NULL, "%s", error ? error->message : "");
        g_autoptr(SvSim) sim = sv_sim_new(cfg, tr, NULL, &error);
        ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
        sv_sim_run(sim);
        check_balance(sim);
        SvMetrics *m = sv_sim_metrics(sim);
        int used[5] = {0};
        for (size_t i = 0; i < sv_metrics_num_requests(m); i++) {
            const SvRequestRecord *r = sv_metrics_request(m, i);
            if (r->outcome != SV_REQ_COMPLETED)
                continue;
            finish_sum[k] += r->finish_ns;
            ck_assert_int_lt(r->replica, 2); /* prefill replicas 0 and 1 */
            SvRequestTransfer t;
            if (sv_metrics_request_transfer(m, r->id, &t)) {
                ck_assert(t.decode_replica >= 2 && t.decode_replica <= 4);
                used[t.decode_replica]++;
                ck_assert_int_ge(t.transfer_ns, 0);
            } else {
                ck_assert_int_eq(r->output_tokens, 1);
            }
        }
        for (int d = 2; d < 5; d++)
            ck_assert_msg(used[d] > 0, "decode replica %d got nothing", d);
        if (k == 0) {
            g_autofree char *dir = g_dir_make_tmp("sv-disagg-XXXXXX", NULL);
            ck_assert(sv_metrics_write(m, cfg, sv_sim_totals(sim), dir, &error));
            g_autofree char *csv = g_build_filename(dir, "requests.csv", NULL);
            g_autofree char *body = NULL;
            ck_assert(g_file_get_contents(csv, &body, NULL, NULL));
            ck_assert(g_str_has_suffix(strtok(body, "\n"),
                                       ",decode_replica,kv_block_wait_s,kv_link_wait_s,"
                                       "kv_transfer_s"));
            g_autofree char *sum = g_build_filename(dir, "summary.json", NULL);
            g_autoptr(JsonParser) parser = json_parser_new();
            ck_assert(json_parser_load_from_file(parser, sum, &error));
            JsonObject *root = json_node_get_object(json_parser_get_root(parser));
            JsonObject *kx = json_object_get_object_member(root, "kv_transfer");
            ck_assert_int_eq(json_object_get_int_member(kx, "transfers"),
                             sv_sim_totals(sim)->kv_transfers);
            ck_assert(json_object_has_member(kx, "transfer_s"));
            ck_assert(json_object_has_member(root, "pipeline"));
            const char *files[] = {"requests.csv", "summary.json", "timeseries.csv"};
            for (int f = 0; f < 3; f++) {
                g_autofree char *fp = g_build_filename(dir, files[f], NULL);
                g_unlink(fp);
            }
            g_rmdir(dir);
        }
    }
    ck_assert_int_eq(finish_sum[0], finish_sum[1]);
    g_unlink(path);
}
END_TEST

/* A cluster built without the config loader that has a prefill pool and no
 * decode pool is refused by sv_sim_new. */
START_TEST(test_prefill_without_decode)
{
    Study *st = study_new(three_reqs, 1);
    g_ptr_array_set_size(st->cfg.pools, 1);
    SvSimOptions opt = {.iter_time_fn = toy_time, .kv_blocks = 64};
    GError *error = NULL;
    SvSim *sim = sv_sim_new(&st->cfg, st->trace, &opt, &error);
    ck_assert(sim == NULL);
    ck_assert(error != NULL && strstr(error->message, "needs decode pools") != NULL);
    g_error_free(error);
    study_free(st);
}
END_TEST

Suite *disagg_suite(void)
{
    Suite *s = suite_create("disagg");
    TCase *tc = tcase_create("disaggregation");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_exact_timeline);
    tcase_add_test(tc, test_layerwise_overlap);
    tcase_add_test(tc, test_single_token_stays);
    tcase_add_test(tc, test_link_by_placement);
    tcase_add_test(tc, test_decode_router_policies);
    tcase_add_test(tc, test_entry_routing);
    tcase_add_test(tc, test_reject_too_big_for_decode);
    tcase_add_test(tc, test_invariants_under_load);
    tcase_add_test(tc, test_prefix_caching_both_sides);
    tcase_add_test(tc, test_heterogeneous_study);
    tcase_add_test(tc, test_prefill_without_decode);
    suite_add_tcase(s, tc);
    return s;
}
