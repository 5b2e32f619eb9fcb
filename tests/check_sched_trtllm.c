/* The trtllm scheduler (TensorRT-LLM's capacity scheduler policies):
 * hand-computed per-request timelines under the constant-cost iteration
 * model of testutil.c (1 ms + 10 us per token), compared to the nanosecond,
 * each one chosen so that vllm-v1 would give another timeline; white-box
 * steps of one replica for what a timeline cannot isolate (the promise
 * accounting, whole-prompt allocation); invariants, determinism and
 * overload for both policies. */
#include "serve/serve-private.h"
#include "serve/sim.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>

#define MS(x) ((SvTimeNs)((x)*1000000.0 + 0.5))

/* The toy study (testutil.h) under trtllm with @policy and @max_tokens. */
static SvTestStudy *study_new(const char *trace_csv, SvCapacityPolicy policy,
                              SvMaxTokens max_tokens)
{
    SvTestStudy *st = sv_test_study_new(trace_csv, SV_SCHED_TRTLLM, 1);
    st->cfg.engine.capacity_scheduler_policy = policy;
    st->cfg.engine.max_tokens = max_tokens;
    return st;
}

static const char *const three_small = "arrival_s,input_tokens,output_tokens\n"
                                       "0,20,3\n0.0005,20,2\n0.0006,20,2\n";

/* guaranteed_no_evict, no max_tokens sent: every request promises
 * max_model_len = 64 tokens = 4 blocks; the pool has 10, so two run at once
 * although the three would fit in 6 blocks (vllm-v1 runs all three from
 * 1.20 ms). R0 (20, 3) at 0; R1 (20, 2) at 0.5 ms; R2 (20, 2) at 0.6 ms.
 *  0     [R0 prefill 20]              1.20 -> 1.20 R0 t1
 *  1.20  R1 promised 4 + 4 = 8 <= 10; R2: 12 > 10, waits
 *        [R0 decode, R1 prefill 20]   1.21 -> 2.41 R0 t2, R1 t1
 *  2.41  [R0 decode, R1 decode]       1.02 -> 3.43 both done, promises freed
 *  3.43  [R2 prefill 20] 1.20 -> 4.63 t1; [R2 decode] 1.01 -> 5.64 done */
START_TEST(test_no_evict_max_model_len)
{
    SvTestStudy *st =
        study_new(three_small, SV_CAPACITY_GUARANTEED_NO_EVICT, SV_MAX_TOKENS_MAX_MODEL_LEN);
    st->cfg.engine.max_model_len = 64;
    g_autoptr(SvSim) sim = sv_test_study_run(st, 10);
    const SvTestExpect want[] = {{0, MS(1.20), MS(3.43), 0},
                                 {MS(1.20), MS(2.41), MS(3.43), 0},
                                 {MS(3.43), MS(4.63), MS(5.64), 0}};
    sv_test_check_timeline(sim, want, 3);
    ck_assert_int_eq(sv_sim_totals(sim)->preemptions, 0);
    sv_test_study_free(st);
}
END_TEST

/* The same requests with max_tokens = each request's output length (as
 * trtllm-bench sends): promises are ceil((20 + 3) / 16) = 2 blocks and 2,
 * 2; all three run from 1.20 ms.
 *  0     [R0 prefill 20]                         1.20 -> 1.20 R0 t1
 *  1.20  [R0 decode, R1 prefill 20, R2 prefill 20] 1.41 -> 2.61 R0 t2, R1 t1, R2 t1
 *  2.61  [3 decodes]                             1.03 -> 3.64 all done */
START_TEST(test_no_evict_output)
{
    SvTestStudy *st = study_new(three_small, SV_CAPACITY_GUARANTEED_NO_EVICT, SV_MAX_TOKENS_OUTPUT);
    st->cfg.engine.max_model_len = 64;
    g_autoptr(SvSim) sim = sv_test_study_run(st, 10);
    const SvTestExpect want[] = {{0, MS(1.20), MS(3.64), 0},
                                 {MS(1.20), MS(2.61), MS(3.64), 0},
                                 {MS(1.20), MS(2.61), MS(3.64), 0}};
    sv_test_check_timeline(sim, want, 3);
    sv_test_study_free(st);
}
END_TEST

/* guaranteed_no_evict stops at the first waiting request that does not fit
 * (head-of-line, as GuaranteedNoEvictScheduler breaks): a small request
 * behind it waits too. 10 blocks, max_tokens = output.
 * R0 (100, 2) at 0 promises ceil(102 / 16) = 7; R1 (100, 2) at 0.5 ms 7;
 * R2 (10, 2) at 0.6 ms 1 (7 + 1 would fit, but R1 is ahead of it).
 *  0     [R0 prefill 100]                 2.00 -> 2.00 R0 t1
 *  2.00  R1: 14 > 10, stop; [R0 decode]   1.01 -> 3.01 R0 done
 *  3.01  R1 (7), R2 (8 <= 10): [prefill 100 + 10] 2.10 -> 5.11 both t1
 *  5.11  [2 decodes]                      1.02 -> 6.13 both done */
START_TEST(test_no_evict_head_of_line)
{
    SvTestStudy *st = study_new("arrival_s,input_tokens,output_tokens\n0,100,2\n0.0005,100,2\n"
                                "0.0006,10,2\n",
                                SV_CAPACITY_GUARANTEED_NO_EVICT, SV_MAX_TOKENS_OUTPUT);
    g_autoptr(SvSim) sim = sv_test_study_run(st, 10);
    const SvTestExpect want[] = {{0, MS(2.00), MS(3.01), 0},
                                 {MS(3.01), MS(5.11), MS(6.13), 0},
                                 {MS(3.01), MS(5.11), MS(6.13), 0}};
    sv_test_check_timeline(sim, want, 3);
    sv_test_study_free(st);
}
END_TEST

/* max_utilization pauses the newest generating request when blocks run out,
 * and starts it again only when its whole KV fits. 6 blocks of 16 tokens.
 * R0 (32, 20) at 0; R1 (32, 20) at 0.5 ms.
 *  0      R0 takes blocks(32) = 2; [R0 prefill 32]    1.32 -> 1.32 R0 t1
 *  1.32   R0's decode takes a 3rd block; R1 takes 2 (free 1)
 *         [R0 decode, R1 prefill 32]                  1.33 -> 2.65 R0 t2, R1 t1
 *  2.65   R1's decode takes the last block; then both decode, 1.02 ms a
 *         step: step k starts at 2.65 + 1.02 k, R0 computes token 34 + k,
 *         R1 token 33 + k.
 *  17.95  (k = 15) R0 needs a 4th block for token 49, none free: R1 (the
 *         newest generating) is paused, its 3 blocks freed (R1 has 16
 *         tokens out). [R0 decode] 1.01 -> 18.96 (R0 18 out)
 *  18.96, 19.97  R1 needs blocks(48) = 3, 2 free: waits. [R0 decode] x2,
 *         R0 done at 20.98, 4 blocks freed.
 *  20.98  R1 takes 3 blocks, [recompute 48] 1.48 -> 22.46 (token 17)
 *  22.46  [R1 decode] x3, 1.01 each -> 25.49 done */
START_TEST(test_max_util_pause)
{
    SvTestStudy *st = study_new("arrival_s,input_tokens,output_tokens\n0,32,20\n0.0005,32,20\n",
                                SV_CAPACITY_MAX_UTILIZATION, SV_MAX_TOKENS_MAX_MODEL_LEN);
    g_autoptr(SvSim) sim = sv_test_study_run(st, 6);
    const SvTestExpect want[] = {{0, MS(1.32), MS(20.98), 0}, {MS(1.32), MS(2.65), MS(25.49), 1}};
    sv_test_check_timeline(sim, want, 2);
    ck_assert_int_eq(sv_sim_totals(sim)->preemptions, 1);
    sv_test_study_free(st);
}
END_TEST

/* ---- one replica, step by step (white box) ------------------------------ */

typedef struct {
    SvEngineConfig eng;
    SvReplica rep;
    SvRequest reqs[8];
} Bench;

static void bench_init(Bench *b, const SvSchedulerVtable *sched, SvCapacityPolicy policy,
                       int64_t blocks)
{
    memset(b, 0, sizeof(*b));
    b->eng.scheduler = SV_SCHED_TRTLLM;
    b->eng.capacity_scheduler_policy = policy;
    b->eng.max_tokens = SV_MAX_TOKENS_OUTPUT;
    b->eng.max_num_seqs = 256;
    b->eng.max_num_batched_tokens = 8192;
    b->eng.enable_chunked_prefill = TRUE;
    b->eng.block_size = 16;
    b->rep.engine = &b->eng;
    b->rep.sched = sched;
    b->rep.role = SV_ROLE_MIXED;
    b->rep.max_model_len = 4096;
    sv_kv_pool_init(&b->rep.kv, blocks, 16);
    if (sched->init != NULL)
        sched->init(&b->rep);
}

static void bench_clear(Bench *b)
{
    if (b->rep.sched->free != NULL)
        b->rep.sched->free(&b->rep);
    g_free(b->rep.batch);
}

static SvRequest *bench_req(Bench *b, int id, int32_t input, int32_t output)
{
    SvRequest *r = &b->reqs[id];
    r->id = id;
    r->first_scheduled_ns = -1;
    r->first_token_ns = -1;
    r->input_tokens = input;
    r->output_tokens = output;
    r->kv_cache_at = INT32_MAX;
    r->deadline_ns = INT64_MAX;
    return r;
}

/* A request decoding its @generated-th token, holding the blocks of its
 * computed KV. */
static SvRequest *bench_running(Bench *b, int id, int32_t input, int32_t output, int32_t generated)
{
    SvRequest *r = bench_req(b, id, input, output);
    r->generated = generated;
    r->num_computed = input + generated - 1;
    r->blocks = sv_kv_blocks_for(&b->rep.kv, r->num_computed);
    r->first_scheduled_ns = 0;
    sv_kv_pool_alloc(&b->rep.kv, r->blocks, 0);
    r->state = SV_RS_RUNNING;
    sv_req_list_push_tail(&b->rep.running, r);
    return r;
}

static SvRequest *bench_waiting(Bench *b, int id, int32_t input, int32_t output)
{
    SvRequest *r = bench_req(b, id, input, output);
    r->state = SV_RS_WAITING;
    sv_req_list_push_tail(&b->rep.waiting, r);
    return r;
}

static int bench_step(Bench *b)
{
    b->rep.batch_len = 0;
    return b->rep.sched->schedule(&b->rep, 1000);
}

/* max_utilization allocates a starting request's whole prompt (TRT-LLM's
 * addSequence), so with a small token budget a long prompt waits for room
 * for all of it, where vllm-v1 starts its first chunk. A (32 in, 10 out so
 * far) holds blocks(41) = 3 and decodes within them; W (48 in) needs 3;
 * budget 17 = A's decode + a 16-token chunk.
 * 5 blocks (2 free): trtllm {A}, W waits with no blocks; vllm-v1 {A, W:16}
 *   with 1 block for the chunk.
 * 6 blocks (3 free): trtllm {A, W:16} holding all 3 of W's blocks; vllm-v1
 *   the same batch with 1. */
START_TEST(test_max_util_whole_prompt)
{
    for (int blocks = 5; blocks <= 6; blocks++) {
        for (int v1 = 0; v1 < 2; v1++) {
            Bench b;
            bench_init(&b, v1 ? &sv__sched_vllm_v1 : &sv__sched_trtllm, SV_CAPACITY_MAX_UTILIZATION,
                       blocks);
            b.eng.max_num_batched_tokens = 17;
            bench_running(&b, 0, 32, 20, 10);
            SvRequest *w = bench_waiting(&b, 1, 48, 5);
            gboolean starts = v1 || blocks == 6;
            int64_t taken = !starts ? 0 : v1 ? 1 : 3;
            ck_assert_int_eq(bench_step(&b), (starts ? 2 : 1));
            ck_assert_int_eq(w->state, (starts ? SV_RS_RUNNING : SV_RS_WAITING));
            ck_assert_int_eq(w->scheduled, (starts ? 16 : 0));
            ck_assert_int_eq(w->blocks, taken);
            ck_assert_int_eq(b.rep.kv.free_blocks, (blocks - 3 - taken));
            bench_clear(&b);
        }
    }
}
END_TEST

/* guaranteed_no_evict keeps the running requests' promises and gives them
 * back when they finish. 20 blocks; A running (50 in, 30 out) was admitted
 * by the scheduler, so it promises ceil(80 / 16) = 5; W1 (100, 60) needs 10
 * (15 <= 20, admitted), W2 (40, 41) needs 6 (21 > 20, waits). */
START_TEST(test_no_evict_promises)
{
    Bench b;
    bench_init(&b, &sv__sched_trtllm, SV_CAPACITY_GUARANTEED_NO_EVICT, 20);
    SvRequest *a = bench_waiting(&b, 0, 50, 30);
    ck_assert_int_eq(bench_step(&b), 1);
    ck_assert_int_eq(sv__sched_trtllm_promised(&b.rep), 5);
    /* The blocks really taken are the prompt's, not the promise. */
    ck_assert_int_eq(a->blocks, 4);
    a->num_computed = 50;
    a->generated = 1;
    a->scheduled = 0;
    SvRequest *w1 = bench_waiting(&b, 1, 100, 60);
    SvRequest *w2 = bench_waiting(&b, 2, 40, 41);
    ck_assert_int_eq(bench_step(&b), 2);
    ck_assert_int_eq(sv__sched_trtllm_promised(&b.rep), 15);
    ck_assert_int_eq(w1->state, SV_RS_RUNNING);
    ck_assert_int_eq(w2->state, SV_RS_WAITING);
    /* A finishes: its 5 come back, and W2 (6) fits beside W1 (10). */
    b.rep.sched->finished(&b.rep, a);
    ck_assert_int_eq(sv__sched_trtllm_promised(&b.rep), 10);
    b.rep.sched->finished(&b.rep, w1);
    ck_assert_int_eq(sv__sched_trtllm_promised(&b.rep), 0);
    bench_clear(&b);
}
END_TEST

/* ---- both policies ------------------------------------------------------ */

/* 2,000 requests far beyond capacity (one every 0.1 ms, up to 1,200 tokens,
 * 200 blocks per replica, 2 replicas): every request finishes or is
 * rejected, every balance holds (run_study), guaranteed_no_evict never
 * evicts, under either max_tokens. */
START_TEST(test_overload)
{
    g_autoptr(GString) csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 2000; i++) {
        /* Every 97th request is longer than max_model_len (4096): rejected. */
        int input = i % 97 == 96 ? 4000 : 50 + (i * 37) % 900;
        g_string_append_printf(csv, "%.6f,%d,%d\n", i * 0.0001, input, 1 + (i * 53) % 300);
    }
    for (int variant = 0; variant < 3; variant++) {
        SvTestStudy *st = study_new(
            csv->str, variant == 2 ? SV_CAPACITY_MAX_UTILIZATION : SV_CAPACITY_GUARANTEED_NO_EVICT,
            variant == 1 ? SV_MAX_TOKENS_OUTPUT : SV_MAX_TOKENS_MAX_MODEL_LEN);
        st->pool.replicas = 2;
        st->cfg.router = SV_ROUTER_LEAST_OUTSTANDING;
        g_autoptr(SvSim) sim = sv_test_study_run(st, 200);
        SvSimBalance b;
        sv_sim_balance(sim, &b);
        ck_assert_int_eq(b.arrived, 2000);
        ck_assert_int_eq(b.rejected, 2000 / 97);
        ck_assert_int_eq(b.completed, 2000 - 2000 / 97);
        int64_t preempt = sv_sim_totals(sim)->preemptions;
        if (variant < 2)
            ck_assert_int_eq(preempt, 0);
        else
            ck_assert_int_gt(preempt, 0);
        sv_test_study_free(st);
    }
}
END_TEST

/* Same inputs, same records, byte for byte, under both policies. */
START_TEST(test_deterministic)
{
    g_autoptr(GString) csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 300; i++)
        g_string_append_printf(csv, "%.6f,%d,%d\n", i * 0.002, 20 + (i * 71) % 700,
                               1 + (i * 29) % 120);
    for (int p = 0; p < 2; p++) {
        SvTestStudy *st = study_new(csv->str, (SvCapacityPolicy)p, SV_MAX_TOKENS_OUTPUT);
        st->pool.replicas = 2;
        g_autoptr(SvSim) a = sv_test_study_run(st, 300);
        g_autoptr(SvSim) b = sv_test_study_run(st, 300);
        SvMetrics *ma = sv_sim_metrics(a), *mb = sv_sim_metrics(b);
        ck_assert_uint_eq(sv_metrics_num_requests(ma), sv_metrics_num_requests(mb));
        for (size_t i = 0; i < sv_metrics_num_requests(ma); i++)
            ck_assert(memcmp(sv_metrics_request(ma, i), sv_metrics_request(mb, i),
                             sizeof(SvRequestRecord)) == 0);
        sv_test_study_free(st);
    }
}
END_TEST

Suite *sched_trtllm_suite(void)
{
    Suite *s = suite_create("sched_trtllm");
    TCase *tc = tcase_create("timelines");
    tcase_add_test(tc, test_no_evict_max_model_len);
    tcase_add_test(tc, test_no_evict_output);
    tcase_add_test(tc, test_no_evict_head_of_line);
    tcase_add_test(tc, test_max_util_pause);
    suite_add_tcase(s, tc);
    TCase *wb = tcase_create("steps");
    tcase_add_test(wb, test_max_util_whole_prompt);
    tcase_add_test(wb, test_no_evict_promises);
    suite_add_tcase(s, wb);
    TCase *all = tcase_create("policies");
    tcase_add_test(all, test_overload);
    tcase_add_test(all, test_deterministic);
    suite_add_tcase(s, all);
    return s;
}
