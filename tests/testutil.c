/* Helpers shared by the Check suites. */
#include "testutil.h"

#include <glib/gstdio.h>
#include <stdio.h>

char *sv_test_path(const char *relative)
{
    return g_build_filename(SV_TEST_DIR, relative, NULL);
}

char *sv_test_src_path(const char *relative)
{
    return g_build_filename(SV_SOURCE_DIR, relative, NULL);
}

char *sv_test_write_tmp(const char *text, const char *suffix)
{
    g_autofree char *tmpl = g_strdup_printf("sv-test-XXXXXX%s", suffix ? suffix : "");
    char *path = NULL;
    GError *error = NULL;
    int fd = g_file_open_tmp(tmpl, &path, &error);
    ck_assert_msg(fd >= 0, "tmp file: %s", error ? error->message : "?");
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

SvTimeNs sv_test_toy_time(void *ctx, const SvBatchShape *shape)
{
    (void)ctx;
    return 1000000 + 10000 * (shape->prefill_tokens + shape->num_decode);
}

void sv_test_check_balance(SvSim *sim)
{
    SvSimBalance b;
    sv_sim_balance(sim, &b);
    ck_assert_uint_eq(b.blocks_allocated, b.blocks_freed);
    ck_assert_uint_eq(b.events_scheduled, b.events_processed + b.events_cancelled);
    ck_assert_uint_eq(b.events_pending, 0);
    ck_assert_int_eq(b.arrived, b.completed + b.rejected);
    ck_assert_int_eq(b.in_flight, 0);
}

SvTestStudy *sv_test_study_new(const char *trace_csv, SvSchedulerKind sched, int replicas)
{
    SvTestStudy *st = g_new0(SvTestStudy, 1);
    st->model.name = "toy";
    st->model.max_position_embeddings = 4096;
    st->hw.name = "toy-hw";
    st->hw.peak_flops[SV_DTYPE_BF16] = 1e15;
    st->pool.name = "main";
    st->pool.hw = &st->hw;
    st->pool.replicas = replicas;
    st->pool.tensor_parallel_size = 1;
    st->pool.pipeline_parallel_size = 1;
    st->pool.expert_parallel_size = 1;
    st->cfg.path = "toy.yaml";
    st->cfg.seed = 1;
    st->cfg.model = &st->model;
    st->cfg.router = SV_ROUTER_ROUND_ROBIN;
    st->cfg.pools = g_ptr_array_new();
    g_ptr_array_add(st->cfg.pools, &st->pool);
    st->cfg.engine.scheduler = sched;
    st->cfg.engine.max_num_seqs = 256;
    st->cfg.engine.max_num_batched_tokens = 8192;
    /* As the config loader defaults it: whole prompts for orca and static. */
    st->cfg.engine.enable_chunked_prefill = sched != SV_SCHED_ORCA && sched != SV_SCHED_STATIC;
    st->cfg.engine.block_size = 16;
    st->cfg.engine.gpu_memory_utilization = 0.9;
    st->cfg.engine.dtype = SV_DTYPE_BF16;
    st->cfg.engine.weight_dtype = SV_DTYPE_BF16;
    st->cfg.engine.kv_cache_dtype = SV_DTYPE_BF16;
    st->cfg.slo.percentile = 90;
    st->cfg.output.sample_interval_s = 0.001;
    st->trace_path = sv_test_write_tmp(trace_csv, ".csv");
    st->cfg.workload.trace_path = st->trace_path;
    st->cfg.workload.process = SV_ARRIVAL_TRACE;
    GError *error = NULL;
    st->trace = sv_trace_load(st->trace_path, &error);
    ck_assert_msg(st->trace != NULL, "%s", error ? error->message : "");
    return st;
}

void sv_test_study_free(SvTestStudy *st)
{
    sv_trace_free(st->trace);
    g_unlink(st->trace_path);
    g_free(st->trace_path);
    g_ptr_array_unref(st->cfg.pools);
    g_free(st);
}

SvSim *sv_test_study_run(SvTestStudy *st, int64_t kv_blocks)
{
    SvSimOptions opt = {.iter_time_fn = sv_test_toy_time, .kv_blocks = kv_blocks};
    GError *error = NULL;
    SvSim *sim = sv_sim_new(&st->cfg, st->trace, &opt, &error);
    ck_assert_msg(sim != NULL, "%s", error ? error->message : "");
    sv_sim_run(sim);
    sv_test_check_balance(sim);
    return sim;
}

const SvRequestRecord *sv_test_record_of(SvSim *sim, int64_t id)
{
    SvMetrics *m = sv_sim_metrics(sim);
    for (size_t i = 0; i < sv_metrics_num_requests(m); i++)
        if (sv_metrics_request(m, i)->id == id)
            return sv_metrics_request(m, i);
    ck_abort_msg("no record for request %" G_GINT64_FORMAT, id);
    return NULL;
}

void sv_test_check_timeline(SvSim *sim, const SvTestExpect *want, int n)
{
    ck_assert_uint_eq(sv_metrics_num_requests(sv_sim_metrics(sim)), (size_t)n);
    for (int i = 0; i < n; i++) {
        const SvRequestRecord *r = sv_test_record_of(sim, i);
        ck_assert_msg(r->outcome == SV_REQ_COMPLETED, "request %d not completed", i);
        ck_assert_msg(r->first_scheduled_ns == want[i].scheduled_ns,
                      "request %d first scheduled at %" G_GINT64_FORMAT ", want %" G_GINT64_FORMAT,
                      i, r->first_scheduled_ns, want[i].scheduled_ns);
        ck_assert_msg(r->first_token_ns == want[i].first_ns,
                      "request %d first token at %" G_GINT64_FORMAT ", want %" G_GINT64_FORMAT, i,
                      r->first_token_ns, want[i].first_ns);
        ck_assert_msg(r->finish_ns == want[i].finish_ns,
                      "request %d finished at %" G_GINT64_FORMAT ", want %" G_GINT64_FORMAT, i,
                      r->finish_ns, want[i].finish_ns);
        ck_assert_msg(r->preemptions == want[i].preemptions,
                      "request %d preempted %d times, want %d", i, r->preemptions,
                      want[i].preemptions);
    }
}

SvModel sv_test_tiny_model(int num_layers)
{
    SvModel m = {0};
    m.name = (char *)"tiny";
    m.num_layers = num_layers;
    m.hidden_size = 1024;
    m.num_heads = 16;
    m.num_kv_heads = 4;
    m.head_dim = 64;
    m.intermediate_size = 4096;
    m.gated_mlp = TRUE;
    m.vocab_size = 1000;
    m.max_position_embeddings = 32768;
    m.attn = SV_ATTN_GQA;
    m.dtype = SV_DTYPE_BF16;
    return m;
}

SvHw sv_test_tiny_hw(void)
{
    SvHw hw = {0};
    hw.name = (char *)"tiny-hw";
    hw.peak_flops[SV_DTYPE_BF16] = 100e12;
    hw.peak_flops[SV_DTYPE_FP16] = 100e12;
    hw.peak_flops[SV_DTYPE_FP8] = 200e12;
    hw.mem_bw_bytes_per_s = 1e12;
    hw.mem_capacity_bytes = 80e9;
    hw.devices_per_node = 8;
    hw.scaleup_bw_bytes_per_s = 100e9;
    hw.scaleup_latency_s = 5e-6;
    hw.scaleout_bw_bytes_per_s = 10e9;
    hw.scaleout_latency_s = 20e-6;
    hw.eff_matmul = 0.5;
    hw.eff_mem = 1.0;
    hw.eff_link = 0.5;
    return hw;
}
