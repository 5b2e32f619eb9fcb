/* Replica schedulers (sarathi, orca, static, lightllm, edf; vllm-v0/v1 are in
 * check_serve.c): hand-computed per-request timelines under a constant-cost
 * iteration model, compared to the nanosecond; white-box steps of one
 * replica for the choices a timeline cannot isolate (EDF order and victim,
 * LightLLM's conditional forecast); invariants, determinism and overload
 * stability for every scheduler. */
#include "serve/serve-private.h"
#include "serve/sim.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <string.h>

#define MS(x) ((SvTimeNs)((x)*1000000.0 + 0.5))

/* ---- sarathi ----------------------------------------------------------- */

/* Chunk 64, 1000 blocks. R0 (100 in, 3 out) at 0, R1 (50 in, 2 out) at 1 ms:
 *  0     [R0 chunk 64]                 1.64 ms -> 1.64
 *  1.64  [R0 chunk 36, R1 chunk 28]    1.64 ms -> 3.28  R0 token 1
 *  3.28  [R0 decode, R1 chunk 22]      1.23 ms -> 4.51  R0 t2, R1 t1
 *  4.51  [R0 decode, R1 decode]        1.02 ms -> 5.53  R0 t3 done, R1 t2 done
 * The prefill of R1 fills what the decodes leave of the chunk, never more. */
START_TEST(test_sarathi_timeline)
{
    SvTestStudy *st = sv_test_study_new(
        "arrival_s,input_tokens,output_tokens\n0,100,3\n0.001,50,2\n", SV_SCHED_SARATHI, 1);
    st->cfg.engine.max_num_batched_tokens = 64;
    g_autoptr(SvSim) sim = sv_test_study_run(st, 1000);
    const SvTestExpect want[] = {{0, MS(3.28), MS(5.53), 0}, {MS(1.64), MS(4.51), MS(5.53), 0}};
    sv_test_check_timeline(sim, want, 2);
    ck_assert_int_eq(sv_sim_totals(sim)->iterations, 4);
    sv_test_study_free(st);
}
END_TEST

/* Sarathi reserves blocks for a whole prompt before its first chunk; vLLM v1
 * allocates chunk by chunk. 10 blocks of 16 tokens, chunk 64; R0 (96 in, 40
 * out) at 0, R1 (96 in, 2 out) at 1 ms.
 *  0      [R0 chunk 64] 1.64 -> 1.64; R0 holds its 6 prompt blocks
 *  1.64   [R0 chunk 32] 1.32 -> 2.96 R0 t1. R1 needs 6 blocks, 4 free: waits
 *  2.96.. 39 decodes of R0, 1.01 ms each -> 42.35 R0 done (it grows to 9
 *         blocks, so R1's 6 never fit before)
 *  42.35  [R1 chunk 64] -> 43.99; [R1 chunk 32] -> 45.31 t1; decode -> 46.32
 * No preemption. Under vllm-v1 R1 starts a chunk beside R0 and is preempted
 * when R0 grows. */
START_TEST(test_sarathi_reserves_prompt)
{
    const char *csv = "arrival_s,input_tokens,output_tokens\n0,96,40\n0.001,96,2\n";
    SvTestStudy *st = sv_test_study_new(csv, SV_SCHED_SARATHI, 1);
    st->cfg.engine.max_num_batched_tokens = 64;
    g_autoptr(SvSim) sim = sv_test_study_run(st, 10);
    const SvTestExpect want[] = {{0, MS(2.96), MS(42.35), 0}, {MS(42.35), MS(45.31), MS(46.32), 0}};
    sv_test_check_timeline(sim, want, 2);
    ck_assert_int_eq(sv_sim_totals(sim)->preemptions, 0);
    sv_test_study_free(st);

    SvTestStudy *v1 = sv_test_study_new(csv, SV_SCHED_VLLM_V1, 1);
    v1->cfg.engine.max_num_batched_tokens = 64;
    g_autoptr(SvSim) sim1 = sv_test_study_run(v1, 10);
    ck_assert_int_ge(sv_test_record_of(sim1, 1)->preemptions, 1);
    ck_assert_int_eq(sv_test_record_of(sim1, 0)->preemptions, 0);
    sv_test_study_free(v1);
}
END_TEST

/* Sarathi chunks even when the engine struct says not to (it always does). */
START_TEST(test_sarathi_always_chunks)
{
    SvTestStudy *st =
        sv_test_study_new("arrival_s,input_tokens,output_tokens\n0,100,2\n", SV_SCHED_SARATHI, 1);
    st->cfg.engine.max_num_batched_tokens = 64;
    st->cfg.engine.enable_chunked_prefill = FALSE;
    g_autoptr(SvSim) sim = sv_test_study_run(st, 1000);
    /* [64] 1.64, [36] 1.36 -> 3.00 t1, [decode] 1.01 -> 4.01. */
    const SvTestExpect want[] = {{0, MS(3.00), MS(4.01), 0}};
    sv_test_check_timeline(sim, want, 1);
    sv_test_study_free(st);
}
END_TEST

/* ---- orca -------------------------------------------------------------- */

/* Orca reserves max_model_len (4096 tokens = 256 blocks) per request: 600
 * blocks hold two. R0 (100, 3), R1 (50, 2), R2 (20, 2) all at 0; R0's
 * arrival starts a step before the others arrive.
 *  0     [R0 prefill 100]               2.00 -> 2.00 R0 t1
 *  2.00  [R0 decode, R1 prefill 50]     1.51 -> 3.51 R0 t2, R1 t1 (mixed)
 *        R2: 88 blocks free < 256, waits
 *  3.51  [R0 decode, R1 decode]         1.02 -> 4.53 both done
 *  4.53  [R2 prefill 20]                1.20 -> 5.73 t1; decode -> 6.74 */
START_TEST(test_orca_timeline)
{
    const char *csv = "arrival_s,input_tokens,output_tokens\n0,100,3\n0,50,2\n0,20,2\n";
    SvTestStudy *st = sv_test_study_new(csv, SV_SCHED_ORCA, 1);
    g_autoptr(SvSim) sim = sv_test_study_run(st, 600);
    const SvTestExpect want[] = {{0, MS(2.00), MS(4.53), 0},
                                 {MS(2.00), MS(3.51), MS(4.53), 0},
                                 {MS(4.53), MS(5.73), MS(6.74), 0}};
    sv_test_check_timeline(sim, want, 3);
    ck_assert_int_eq(sv_sim_totals(sim)->iterations, 5);
    sv_test_study_free(st);

    /* vllm-v1 on the same pool takes R2 at 2.00 already. */
    SvTestStudy *v1 = sv_test_study_new(csv, SV_SCHED_VLLM_V1, 1);
    g_autoptr(SvSim) sim1 = sv_test_study_run(v1, 600);
    ck_assert_int_eq(sv_test_record_of(sim1, 2)->first_scheduled_ns, MS(2.00));
    sv_test_study_free(v1);
}
END_TEST

/* Whole prompts, never chunks: with a 64-token budget R0's 100-token prompt
 * runs in one step (alone: longer than the whole budget), and R1's 70 do not
 * fit beside R0's decode (63 left), so R1 waits instead of being chunked.
 *  0     [R0 prefill 100]                2.00 -> 2.00 t1
 *  2.00  [R0 decode]                     1.01 -> 3.01 R0 done
 *  3.01  [R1 prefill 70] (alone)         1.70 -> 4.71 t1
 *  4.71  [R1 decode]                     1.01 -> 5.72 done */
START_TEST(test_orca_whole_prompts)
{
    SvTestStudy *st = sv_test_study_new(
        "arrival_s,input_tokens,output_tokens\n0,100,2\n0.001,70,2\n", SV_SCHED_ORCA, 1);
    st->cfg.engine.max_num_batched_tokens = 64;
    g_autoptr(SvSim) sim = sv_test_study_run(st, 1000);
    const SvTestExpect want[] = {{0, MS(2.00), MS(3.01), 0}, {MS(3.01), MS(4.71), MS(5.72), 0}};
    sv_test_check_timeline(sim, want, 2);
    sv_test_study_free(st);
}
END_TEST

/* ---- static ------------------------------------------------------------ */

/* Batches of at most 2 (max_num_seqs), nothing joins in flight.
 * R0 (100, 3) at 0; R1 (50, 1) at 0.5 ms; R2 (20, 4) at 0.6; R3 (10, 1) at 0.7.
 *  0     batch {R0}: [prefill 100]  2.00 -> 2.00 t1
 *  2.00  [R0 decode] -> 3.01; [R0 decode] -> 4.02 done  (R1..R3 wait)
 *  4.02  batch {R1, R2}: [prefill 70] 1.70 -> 5.72 R1 done, R2 t1
 *  5.72  [R2 decode] x3, 1.01 each -> 8.75 done (R1's slot idles; R3 waits)
 *  8.75  batch {R3}: [prefill 10] 1.10 -> 9.85 done */
START_TEST(test_static_timeline)
{
    SvTestStudy *st =
        sv_test_study_new("arrival_s,input_tokens,output_tokens\n0,100,3\n0.0005,50,1\n"
                          "0.0006,20,4\n0.0007,10,1\n",
                          SV_SCHED_STATIC, 1);
    st->cfg.engine.max_num_seqs = 2;
    g_autoptr(SvSim) sim = sv_test_study_run(st, 1000);
    const SvTestExpect want[] = {{0, MS(2.00), MS(4.02), 0},
                                 {MS(4.02), MS(5.72), MS(5.72), 0},
                                 {MS(4.02), MS(5.72), MS(8.75), 0},
                                 {MS(8.75), MS(9.85), MS(9.85), 0}};
    sv_test_check_timeline(sim, want, 4);
    ck_assert_int_eq(sv_sim_totals(sim)->iterations, 8);
    sv_test_study_free(st);
}
END_TEST

/* The batch is also bounded by KV: 600 blocks hold two reservations of 256
 * (max_model_len 4096), so three waiting requests make a batch of two.
 * R0 (10, 1) at 0; R1 (10, 2), R2 (10, 1), R3 (10, 1) at 0.1 ms.
 *  0     {R0}: [prefill 10] 1.10 -> 1.10 done
 *  1.10  {R1, R2}: [prefill 20] 1.20 -> 2.30 R1 t1, R2 done
 *  2.30  [R1 decode] 1.01 -> 3.31 done
 *  3.31  {R3}: [prefill 10] 1.10 -> 4.41 done */
START_TEST(test_static_kv_bound)
{
    SvTestStudy *st =
        sv_test_study_new("arrival_s,input_tokens,output_tokens\n0,10,1\n0.0001,10,2\n"
                          "0.0001,10,1\n0.0001,10,1\n",
                          SV_SCHED_STATIC, 1);
    g_autoptr(SvSim) sim = sv_test_study_run(st, 600);
    const SvTestExpect want[] = {{0, MS(1.10), MS(1.10), 0},
                                 {MS(1.10), MS(2.30), MS(3.31), 0},
                                 {MS(1.10), MS(2.30), MS(2.30), 0},
                                 {MS(3.31), MS(4.41), MS(4.41), 0}};
    sv_test_check_timeline(sim, want, 4);
    sv_test_study_free(st);
}
END_TEST

/* ---- lightllm ---------------------------------------------------------- */

/* 14 blocks = 224 tokens of KV; max_model_len 4096.
 * Phase 1, no history: R0 (100, 2) at 0 runs alone; R1 (100, 2) at 0.5 ms is
 * refused at 2.00 because, with no finished request yet, each output is
 * forecast at max_model_len - input (peak far above 224), although the true
 * lengths would fit:
 *  0     [R0 prefill 100] 2.00 -> 2.00 t1;  [R0 decode] -> 3.01 done (history {2})
 *  3.01  [R1 prefill] -> 5.01 t1; [R1 decode] -> 6.02 done (history {2, 2})
 * Phase 2: R2 (97, 2) at 6.5 ms, R3 (96 + @extra, 5) at 6.6 ms.
 *  6.50  [R2 prefill 97] 1.97 -> 8.47 t1
 *  8.47  forecast: R2 holds a = 98, produced 1; finished lengths > 1 are
 *        {2, 2}, their 90th percentile 2, so b = 2 - 1 - 1 = 0; R3 a = 96 +
 *        extra, b = 2 - 0 - 1 = 1 (its true 5 is never used). Sorted by b:
 *        peak = max(a3 + 1 x (1 + 15), a3 + 98 + 2 x (0 + 15)) = 224 + extra
 *        (15 = block rounding per request). extra 0: 224 <= 224, admitted:
 *        [R2 decode, R3 prefill 96] 1.97 -> 10.44 R2 done, R3 t1;
 *        4 decodes -> 14.48 R3 done.
 *        extra 1: 225 > 224, R3 waits: [R2 decode] -> 9.48 R2 done;
 *        [R3 prefill 97] 1.97 -> 11.45 t1; 4 decodes -> 15.49 done. */
static void lightllm_case(int extra, const SvTestExpect *r3)
{
    g_autofree char *csv = g_strdup_printf("arrival_s,input_tokens,output_tokens\n0,100,2\n"
                                           "0.0005,100,2\n0.0065,97,2\n0.0066,%d,5\n",
                                           96 + extra);
    SvTestStudy *st = sv_test_study_new(csv, SV_SCHED_LIGHTLLM, 1);
    g_autoptr(SvSim) sim = sv_test_study_run(st, 14);
    SvTestExpect want[] = {{0, MS(2.00), MS(3.01), 0},
                           {MS(3.01), MS(5.01), MS(6.02), 0},
                           {MS(6.50), MS(8.47), extra == 0 ? MS(10.44) : MS(9.48), 0},
                           *r3};
    sv_test_check_timeline(sim, want, 4);
    ck_assert_int_eq(sv_sim_totals(sim)->preemptions, 0);
    sv_test_study_free(st);
}

START_TEST(test_lightllm_timeline)
{
    const SvTestExpect fits = {MS(8.47), MS(10.44), MS(14.48), 0};
    lightllm_case(0, &fits);
    const SvTestExpect waits = {MS(9.48), MS(11.45), MS(15.49), 0};
    lightllm_case(1, &waits);
}
END_TEST

/* ---- one replica, step by step (white box) ------------------------------ */

typedef struct {
    SvEngineConfig eng;
    SvReplica rep;
    SvRequest reqs[16];
} Bench;

static void bench_init(Bench *b, const SvSchedulerVtable *sched, int64_t blocks)
{
    memset(b, 0, sizeof(*b));
    b->eng.max_num_seqs = 256;
    b->eng.max_num_batched_tokens = 8192;
    b->eng.enable_chunked_prefill = TRUE;
    b->eng.block_size = 16;
    b->rep.engine = &b->eng;
    b->rep.sched = sched;
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

static SvRequest *bench_req(Bench *b, int id, int32_t input, int32_t generated, int32_t priority,
                            SvTimeNs deadline_ns)
{
    SvRequest *r = &b->reqs[id];
    r->id = id;
    r->arrival_ns = id;
    r->first_scheduled_ns = -1;
    r->first_token_ns = -1;
    r->input_tokens = input;
    r->output_tokens = 1000;
    r->generated = generated;
    r->priority = priority;
    r->deadline_ns = deadline_ns;
    return r;
}

/* A running request in decode: every known token but the last is cached. */
static SvRequest *bench_running(Bench *b, int id, int32_t input, int32_t generated,
                                int32_t priority, SvTimeNs deadline_ns)
{
    SvRequest *r = bench_req(b, id, input, generated, priority, deadline_ns);
    r->num_computed = input + generated - 1;
    r->blocks = sv_kv_blocks_for(&b->rep.kv, r->num_computed);
    r->first_scheduled_ns = 0;
    sv_kv_pool_alloc(&b->rep.kv, r->blocks, 0);
    r->state = SV_RS_RUNNING;
    sv_req_list_push_tail(&b->rep.running, r);
    return r;
}

static SvRequest *bench_waiting(Bench *b, int id, int32_t input, int32_t priority,
                                SvTimeNs deadline_ns)
{
    SvRequest *r = bench_req(b, id, input, 0, priority, deadline_ns);
    r->state = SV_RS_WAITING;
    if (b->rep.sched->enqueue != NULL)
        b->rep.sched->enqueue(&b->rep, r);
    else
        sv_req_list_push_tail(&b->rep.waiting, r);
    return r;
}

static int bench_step(Bench *b)
{
    b->rep.batch_len = 0;
    return b->rep.sched->schedule(&b->rep, 1000);
}

/* Ids of a list, as a string ("2 1 3 0"), to compare orders. */
static char *list_ids(const SvReqList *l)
{
    GString *s = g_string_new(NULL);
    for (const SvRequest *r = l->head; r != NULL; r = r->next)
        g_string_append_printf(s, "%s%" G_GINT64_FORMAT, s->len ? " " : "", r->id);
    return g_string_free(s, FALSE);
}

static char *batch_ids(const SvReplica *rep)
{
    GString *s = g_string_new(NULL);
    for (int i = 0; i < rep->batch_len; i++)
        g_string_append_printf(s, "%s%" G_GINT64_FORMAT ":%d", s->len ? " " : "", rep->batch[i]->id,
                               rep->batch[i]->scheduled);
    return g_string_free(s, FALSE);
}

/* EDF queue order: priority (higher first), then deadline, then arrival. */
START_TEST(test_edf_order)
{
    Bench b;
    bench_init(&b, &sv__sched_edf, 1000);
    b.eng.max_num_seqs = 2;
    bench_waiting(&b, 0, 10, 0, 50);
    bench_waiting(&b, 1, 20, 0, 20);
    bench_waiting(&b, 2, 30, 1, 90);
    bench_waiting(&b, 3, 40, 0, 20);
    bench_waiting(&b, 4, 50, -1, 1);
    g_autofree char *order = list_ids(&b.rep.waiting);
    ck_assert_str_eq(order, "2 1 3 0 4");
    /* Two sequences at most: the first two of that order, whole prompts. */
    ck_assert_int_eq(bench_step(&b), 2);
    g_autofree char *batch = batch_ids(&b.rep);
    ck_assert_str_eq(batch, "2:30 1:20");
    g_autofree char *rest = list_ids(&b.rep.waiting);
    ck_assert_str_eq(rest, "3 0 4");
    bench_clear(&b);
}
END_TEST

/* EDF victim: the least important running request, not the latest admitted,
 * and it goes back to its ordered place in the queue. Three decodes of 32 +
 * 1 tokens hold 2 blocks each and need a third; the pool (6) is full.
 * Running order [A (prio 0, deadline 10), C (prio 0, deadline 5),
 * B (prio 1, deadline 100)]; queued W (prio 0, deadline 8).
 * edf: A needs a block; the worst running request is A itself (lowest
 * priority, later deadline than C): preempted, C and B decode. A re-queues
 * after W (deadline 8 < 10). vllm-v1 would preempt the tail, B. */
START_TEST(test_edf_victim)
{
    Bench b;
    bench_init(&b, &sv__sched_edf, 6);
    SvRequest *a = bench_running(&b, 0, 32, 1, 0, 10);
    bench_running(&b, 1, 32, 1, 0, 5);
    SvRequest *bb = bench_running(&b, 2, 32, 1, 1, 100);
    bench_waiting(&b, 3, 16, 0, 8);
    ck_assert_int_eq(b.rep.kv.free_blocks, 0);
    ck_assert_int_eq(bench_step(&b), 2);
    g_autofree char *batch = batch_ids(&b.rep);
    ck_assert_str_eq(batch, "1:1 2:1");
    ck_assert_int_eq(a->state, SV_RS_WAITING);
    ck_assert_int_eq(a->preemptions, 1);
    ck_assert_int_eq(bb->preemptions, 0);
    g_autofree char *queue = list_ids(&b.rep.waiting);
    ck_assert_str_eq(queue, "3 0");
    bench_clear(&b);

    /* The same state under vllm-v1: the tail B goes. */
    Bench v;
    bench_init(&v, &sv__sched_vllm_v1, 6);
    bench_running(&v, 0, 32, 1, 0, 10);
    bench_running(&v, 1, 32, 1, 0, 5);
    SvRequest *vb = bench_running(&v, 2, 32, 1, 1, 100);
    ck_assert_int_eq(bench_step(&v), 2);
    g_autofree char *vbatch = batch_ids(&v.rep);
    ck_assert_str_eq(vbatch, "0:1 1:1");
    ck_assert_int_eq(vb->preemptions, 1);
    bench_clear(&v);
}
END_TEST

/* EDF on a study: the deadline is arrival + slo.ttft_s for everyone, so the
 * order is FCFS and the timeline is vLLM v1's (check_serve.c): R0 (100, 3)
 * at 0, R1 (200, 2) at 1 ms -> R0 t1 2.00, done 6.03; R1 t1 5.01, done 6.03. */
START_TEST(test_edf_study_fcfs)
{
    SvTestStudy *st = sv_test_study_new(
        "arrival_s,input_tokens,output_tokens\n0,100,3\n0.001,200,2\n", SV_SCHED_EDF, 1);
    st->cfg.slo.ttft_s = 1.0;
    g_autoptr(SvSim) sim = sv_test_study_run(st, 1000);
    const SvTestExpect want[] = {{0, MS(2.00), MS(6.03), 0}, {MS(2.00), MS(5.01), MS(6.03), 0}};
    sv_test_check_timeline(sim, want, 2);
    sv_test_study_free(st);
}
END_TEST

/* EDF with SLO classes (trace column slo_class): one sequence at a time
 * (max_num_seqs 1) so the queue order is the timeline. Classes: default
 * (slo.ttft_s 1 s, priority 0), urgent (ttft 10 ms, priority 0), vip (ttft
 * 5 s, priority 1). R0 default (100, 2) at 0 runs first; while it runs R1
 * default, R2 urgent, R3 vip arrive (0.1, 0.2, 0.3 ms), each (100, 1).
 * Order: R3 (priority 1), R2 (deadline 10.2 ms), R1 (deadline 1.0001 s).
 *  0     [R0 prefill 100] 2.00 -> 2.00; [R0 decode] 1.01 -> 3.01 done
 *  3.01  [R3 prefill 100] 2.00 -> 5.01 done
 *  5.01  [R2] -> 7.01 done;  7.01 [R1] -> 9.01 done
 * vllm-v1 serves them FCFS: R1 at 3.01, R2 at 5.01, R3 at 7.01. */
START_TEST(test_edf_slo_classes)
{
    static const char csv[] = "arrival_s,input_tokens,output_tokens,slo_class\n"
                              "0,100,2,default\n0.0001,100,1,default\n"
                              "0.0002,100,1,urgent\n0.0003,100,1,vip\n";
    SvSloClass urgent = {.name = "urgent", .ttft_s = 0.010, .priority = 0};
    SvSloClass vip = {.name = "vip", .ttft_s = 5.0, .priority = 1};
    for (int edf = 1; edf >= 0; edf--) {
        SvTestStudy *st = sv_test_study_new(csv, edf ? SV_SCHED_EDF : SV_SCHED_VLLM_V1, 1);
        st->cfg.engine.max_num_seqs = 1;
        st->cfg.slo.ttft_s = 1.0;
        st->cfg.slo_classes = g_ptr_array_new();
        g_ptr_array_add(st->cfg.slo_classes, &urgent);
        g_ptr_array_add(st->cfg.slo_classes, &vip);
        g_autoptr(SvSim) sim = sv_test_study_run(st, 1000);
        SvTimeNs s1 = edf ? MS(7.01) : MS(3.01), s2 = MS(5.01), s3 = edf ? MS(3.01) : MS(7.01);
        const SvTestExpect want[] = {{0, MS(2.00), MS(3.01), 0},
                                     {s1, s1 + MS(2.00), s1 + MS(2.00), 0},
                                     {s2, s2 + MS(2.00), s2 + MS(2.00), 0},
                                     {s3, s3 + MS(2.00), s3 + MS(2.00), 0}};
        sv_test_check_timeline(sim, want, 4);
        g_ptr_array_unref(st->cfg.slo_classes);
        sv_test_study_free(st);
    }
}
END_TEST

/* Feed a LightLLM replica's history with finished output lengths. */
static void lightllm_history(Bench *b, const int32_t *lengths, int n)
{
    for (int i = 0; i < n; i++) {
        SvRequest done = {.generated = lengths[i], .output_tokens = lengths[i]};
        b->rep.sched->finished(&b->rep, &done);
    }
}

/* LightLLM conditions its forecast on what a request has produced. History:
 * nine outputs of 2 tokens and one of 400; 100 blocks (1600 tokens). Five
 * running requests of 100 input tokens and a queued one (100 input).
 *  produced 1 each: lengths > 1 are all ten, 90th percentile (9th of 10) = 2;
 *   running a = 101, b = 0; queued a = 100, b = 1. Peak = max(100 + 16,
 *   605 + 6 x 15) = 695 <= 1600: admitted.
 *  produced 3 each: lengths > 3 are {400}: b = 400 - 3 - 1 = 396, a = 103.
 *   Peak >= 5 x 103 + 5 x (396 + 15) = 2570 > 1600: refused (an
 *   unconditional 90th percentile, 2, would have admitted it).
 *  no history: the forecast is max_model_len - input: refused. */
static int lightllm_admits(int produced, gboolean history)
{
    static const int32_t past[] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 400};
    Bench b;
    bench_init(&b, &sv__sched_lightllm, 100);
    if (history)
        lightllm_history(&b, past, G_N_ELEMENTS(past));
    for (int i = 0; i < 5; i++)
        bench_running(&b, i, 100, produced, 0, INT64_MAX);
    SvRequest *w = bench_waiting(&b, 5, 100, 0, INT64_MAX);
    int n = bench_step(&b);
    ck_assert_int_eq(n, w->state == SV_RS_RUNNING ? 6 : 5);
    if (w->state == SV_RS_RUNNING)
        ck_assert_int_eq(w->scheduled, 100);
    gboolean admitted = w->state == SV_RS_RUNNING;
    bench_clear(&b);
    return admitted;
}

START_TEST(test_lightllm_conditional_forecast)
{
    ck_assert(lightllm_admits(1, TRUE));
    ck_assert(!lightllm_admits(3, TRUE));
    ck_assert(!lightllm_admits(1, FALSE));
}
END_TEST

/* ---- every scheduler ------------------------------------------------------ */

static const SvSchedulerKind all_scheds[] = {SV_SCHED_VLLM_V0, SV_SCHED_VLLM_V1, SV_SCHED_SARATHI,
                                             SV_SCHED_ORCA,    SV_SCHED_STATIC,  SV_SCHED_LIGHTLLM,
                                             SV_SCHED_EDF};

static GString *overload_csv(void)
{
    GString *csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 2000; i++) {
        /* Every 97th request is longer than max_model_len (4096): rejected. */
        int input = i % 97 == 96 ? 4000 : 50 + (i * 37) % 900;
        g_string_append_printf(csv, "%.6f,%d,%d\n", i * 0.0001, input, 1 + (i * 53) % 300);
    }
    return csv;
}

/* 2,000 requests far beyond capacity (one every 0.1 ms, up to 1,200 tokens,
 * 200 blocks per replica): every scheduler finishes or rejects each one,
 * keeps every balance (run_study), and the schedulers that reserve at
 * admission never preempt. */
START_TEST(test_overload_every_scheduler)
{
    g_autoptr(GString) csv = overload_csv();
    for (guint s = 0; s < G_N_ELEMENTS(all_scheds); s++) {
        SvTestStudy *st = sv_test_study_new(csv->str, all_scheds[s], 2);
        st->cfg.router = SV_ROUTER_LEAST_OUTSTANDING;
        st->cfg.slo.ttft_s = 0.5;
        g_autoptr(SvSim) sim = sv_test_study_run(st, 200);
        SvSimBalance b;
        sv_sim_balance(sim, &b);
        ck_assert_int_eq(b.arrived, 2000);
        ck_assert_int_eq(b.rejected, 2000 / 97);
        ck_assert_int_eq(b.completed, 2000 - 2000 / 97);
        int64_t preempt = sv_sim_totals(sim)->preemptions;
        if (all_scheds[s] == SV_SCHED_ORCA || all_scheds[s] == SV_SCHED_STATIC)
            ck_assert_msg(preempt == 0, "%s preempted %" G_GINT64_FORMAT " times",
                          sv_scheduler_names[all_scheds[s]], preempt);
        sv_test_study_free(st);
    }
}
END_TEST

/* Same inputs, same records, for every scheduler (byte for byte). */
START_TEST(test_deterministic_every_scheduler)
{
    g_autoptr(GString) csv = g_string_new("arrival_s,input_tokens,output_tokens\n");
    for (int i = 0; i < 300; i++)
        g_string_append_printf(csv, "%.6f,%d,%d\n", i * 0.002, 20 + (i * 71) % 700,
                               1 + (i * 29) % 120);
    for (guint s = 0; s < G_N_ELEMENTS(all_scheds); s++) {
        SvTestStudy *st = sv_test_study_new(csv->str, all_scheds[s], 2);
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

/* Every scheduler has a name and a one-line description for `list`. */
START_TEST(test_descriptions)
{
    for (int k = 0; k < SV_SCHED_COUNT; k++) {
        const char *d = sv_scheduler_description((SvSchedulerKind)k);
        ck_assert_msg(d != NULL && *d != '\0', "%s has no description", sv_scheduler_names[k]);
        ck_assert_ptr_null(strchr(d, '\n'));
        ck_assert(sv_scheduler_implemented((SvSchedulerKind)k));
    }
}
END_TEST

Suite *sched_suite(void)
{
    Suite *s = suite_create("sched");
    TCase *tc = tcase_create("timelines");
    tcase_add_test(tc, test_sarathi_timeline);
    tcase_add_test(tc, test_sarathi_reserves_prompt);
    tcase_add_test(tc, test_sarathi_always_chunks);
    tcase_add_test(tc, test_orca_timeline);
    tcase_add_test(tc, test_orca_whole_prompts);
    tcase_add_test(tc, test_static_timeline);
    tcase_add_test(tc, test_static_kv_bound);
    tcase_add_test(tc, test_lightllm_timeline);
    tcase_add_test(tc, test_edf_study_fcfs);
    tcase_add_test(tc, test_edf_slo_classes);
    suite_add_tcase(s, tc);
    TCase *wb = tcase_create("steps");
    tcase_add_test(wb, test_edf_order);
    tcase_add_test(wb, test_edf_victim);
    tcase_add_test(wb, test_lightllm_conditional_forecast);
    suite_add_tcase(s, wb);
    TCase *all = tcase_create("all");
    tcase_add_test(all, test_overload_every_scheduler);
    tcase_add_test(all, test_deterministic_every_scheduler);
    tcase_add_test(all, test_descriptions);
    suite_add_tcase(s, all);
    return s;
}
