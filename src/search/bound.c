/* The analytic throughput bound of bound.h: the work a workload's requests
 * need (FLOPs and bytes, from the model's shapes) against what the plan's
 * devices can do at their peaks. */
#include "search/bound.h"

#include <math.h>

#include "serve/sim.h"
#include "workload/tenants.h"

gboolean sv_workload_work(const SvConfig *config, const SvTrace *trace, SvWorkloadWork *out,
                          GError **error)
{
    memset(out, 0, sizeof *out);
    out->requests = g_array_new(FALSE, FALSE, sizeof(SvRequestSize));
    g_autoptr(SvTenantMix) mix = sv_tenant_mix_new(config, trace, error);
    if (mix == NULL)
        return FALSE;
    for (int s = 0; s < sv_tenant_mix_num_streams(mix); s++)
        if (sv_tenant_mix_concurrency(mix, s) > 0)
            return TRUE; /* closed loop: arrivals depend on the plan */
    out->open_loop = TRUE;
    SvRequestSpec spec;
    gboolean first = TRUE;
    while (sv_tenant_mix_next_open(mix, &spec)) {
        SvRequestSize size = {spec.input_tokens, spec.output_tokens};
        g_array_append_val(out->requests, size);
        double t = sv_ns_to_s(spec.arrival_ns);
        if (first)
            out->first_arrival_s = t;
        first = FALSE;
        out->last_arrival_s = t;
    }
    return TRUE;
}

void sv_workload_work_clear(SvWorkloadWork *work)
{
    if (work->requests != NULL)
        g_array_unref(work->requests);
    work->requests = NULL;
}

/* Full-attention layers: sliding-window ones read at most their window, which
 * the bound does not count. */
static int full_attention_layers(const SvModel *m)
{
    int n = 0;
    for (int l = 0; l < m->num_layers; l++)
        n += sv_model_layer_is_windowed(m, l) ? 0 : 1;
    return n;
}

gboolean sv_plan_bound(const SvConfig *config, const SvWorkloadWork *work, SvPlanBound *out,
                       GError **error)
{
    memset(out, 0, sizeof *out);
    const SvModel *m = config->model;
    const SvEngineConfig *e = &config->engine;
    /* Peaks of all devices together, the largest and smallest KV cache of
     * a replica, and the most sequences a replica batches (per attention
     * data-parallel rank, as vLLM applies max_num_seqs: sim.h). */
    double flops_rate = 0, bytes_rate = 0, cap_max = 0, cap_min = INFINITY;
    int K = 1;
    for (guint i = 0; i < config->pools->len; i++) {
        const SvPoolConfig *pool = g_ptr_array_index(config->pools, i);
        int64_t blocks = 0;
        if (!sv_sim_kv_blocks(m, pool, e, &blocks, error))
            return FALSE;
        /* tp x pp x dp devices a replica (perf/predictor.h). */
        double devices = (double)pool->replicas * pool->tensor_parallel_size *
                         pool->pipeline_parallel_size * MAX(pool->data_parallel_size, 1);
        SvEngineConfig limits;
        sv_sim_pool_engine(e, pool, &limits);
        K = MAX(K, limits.max_num_seqs);
        const SvHw *hw = pool->hw;
        double peak = MAX(sv_hw_matmul_peak(hw, e->weight_dtype, e->dtype),
                          sv_hw_matmul_peak(hw, e->dtype, e->dtype));
        flops_rate += devices * peak;
        bytes_rate += devices * hw->mem_bw_bytes_per_s;
        double cap = (double)blocks * e->block_size;
        cap_max = MAX(cap_max, cap);
        cap_min = MIN(cap_min, cap);
    }
    if (!work->open_loop || work->requests == NULL || work->requests->len == 0 || flops_rate <= 0 ||
        bytes_rate <= 0)
        return TRUE; /* no bound */

    /* Per token through the layers (LM head apart: it runs once per
     * sequence in a batch, not per token) and per emitted token. */
    double lm = (double)m->vocab_size * m->hidden_size;
    double active = (double)sv_model_active_param_count(m);
    double phi = 2.0 * MAX(active - lm, 0);
    double phi_lm = 2.0 * lm;
    double weights = MAX(active - lm, 0) * sv_dtype_bytes(e->weight_dtype);
    /* KV bytes per context token read in one decode step, all devices of a
     * replica (each TP rank reads its share, or the whole when replicated).
     * With several pools the smallest tp is the least read. */
    double kvb = INFINITY;
    for (guint i = 0; i < config->pools->len; i++) {
        const SvPoolConfig *pool = g_ptr_array_index(config->pools, i);
        int tp = pool->tensor_parallel_size;
        kvb = MIN(kvb, sv_model_kv_bytes_per_token_layer(m, tp, e->kv_cache_dtype) * tp *
                           full_attention_layers(m));
    }
    int64_t max_len = e->max_model_len > 0 ? e->max_model_len : m->max_position_embeddings;

    double prompt = 0, decode = 0, emitted = 0, context = 0;
    int64_t n = 0;
    for (guint i = 0; i < work->requests->len; i++) {
        const SvRequestSize *r = &g_array_index(work->requests, SvRequestSize, i);
        double total = (double)r->input_tokens + r->output_tokens;
        /* Rejected by the engine (too long, or larger than a replica's
         * cache, with a block to spare): no work. */
        if ((max_len > 0 && total > (double)max_len) || total + e->block_size > cap_min)
            continue;
        n++;
        double d = r->output_tokens - 1;
        prompt += e->enable_prefix_caching ? 1.0 : r->input_tokens;
        decode += d;
        emitted += r->output_tokens;
        /* Step j (1..d) reads the input and the j - 1 tokens before it. */
        context += d * r->input_tokens + d * (d - 1) / 2;
    }
    out->requests = n;
    if (n == 0)
        return TRUE;
    double flops = phi * (prompt + decode) + phi_lm * emitted;
    double iterations = MAX(decode / K, cap_max > 0 ? context / cap_max : 0);
    double bytes = iterations * weights + context * kvb;
    out->compute_s = flops / flops_rate;
    out->memory_s = bytes / bytes_rate;
    out->compute_bound = out->compute_s >= out->memory_s;
    out->run_min_s = MAX(out->compute_s, out->memory_s);
    out->rate_per_s = out->run_min_s > 0 ? (double)n / out->run_min_s : INFINITY;
    return TRUE;
}
