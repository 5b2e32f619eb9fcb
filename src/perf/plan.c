/* Memory sizing and feasibility of a plan (plan.h): one formula for the
 * study loader, the serving engine and predict. */
#include "perf/plan.h"

#include <math.h>

/* The layers of a stage whose KV grows with the context: all of them, except
 * that a model mixing sliding-window and full-attention layers (gpt-oss: 18
 * windowed of 36) counts its full-attention ones only. vLLM's hybrid KV
 * cache manager (V1, on by default since 0.10; docs.vllm.ai, "Hybrid KV
 * Cache Manager") pages every layer group at one group's page size and
 * gives windowed layers the blocks of their last window only, so the pool
 * holds as many tokens as the full-attention layers alone allow. The
 * window's own blocks (window / block_size + 1 per running request: 9
 * blocks of 16 tokens for gpt-oss) are not reserved here, which overstates
 * the capacity by that much per running request. Models whose every layer
 * is windowed keep the plain count. The stage with the most such layers
 * bounds it. (Swap and disaggregated KV transfer still size a block over
 * all layers: serve/sim.c, serve/disagg.c.) */
static int kv_layers_per_stage(const SvModel *model, int pp)
{
    int per_stage = sv_model_layers_per_stage(model, pp);
    if (model->sliding_window <= 0 || model->sliding_window_every <= 0)
        return per_stage;
    int most = 0;
    for (int first = 0; first < model->num_layers; first += per_stage) {
        int full = 0;
        for (int l = first; l < MIN(first + per_stage, model->num_layers); l++)
            full += !sv_model_layer_is_windowed(model, l);
        most = MAX(most, full);
    }
    return most > 0 ? most : per_stage;
}

void sv_plan_memory(const SvModel *model, const SvHw *hw, const SvPlan *plan,
                    double gpu_memory_utilization, int block_size, SvPlanMemory *out)
{
    g_return_if_fail(model != NULL && hw != NULL && plan != NULL && out != NULL);
    g_return_if_fail(plan->tp >= 1 && plan->pp >= 1 && plan->ep >= 1 && block_size >= 1);
    int dp = MAX(plan->dp, 1);
    out->capacity_bytes = hw->mem_capacity_bytes;
    out->usable_bytes = hw->mem_capacity_bytes * gpu_memory_utilization;
    out->weight_bytes = sv_model_weight_bytes_per_device_dp(model, plan->tp, plan->pp, plan->ep, dp,
                                                            plan->weight_dtype, plan->act_dtype);
    out->activation_bytes = hw->activation_workspace_bytes;
    out->runtime_bytes = hw->runtime_reserve_bytes;
    out->kv_bytes =
        out->usable_bytes - out->weight_bytes - out->activation_bytes - out->runtime_bytes;
    out->layers_per_stage = sv_model_layers_per_stage(model, plan->pp);
    out->kv_bytes_per_token = kv_layers_per_stage(model, plan->pp) *
                              sv_model_kv_bytes_per_token_layer(model, plan->tp, plan->kv_dtype);
    out->block_bytes = out->kv_bytes_per_token * block_size;
    out->blocks_per_rank = out->kv_bytes > 0 && out->block_bytes > 0
                               ? (int64_t)floor(out->kv_bytes / out->block_bytes)
                               : 0;
    out->blocks = out->blocks_per_rank * dp;
    out->devices = plan->tp * plan->pp * dp;
}

/* What a user can change, for the messages. */
static const char *remedy(const SvModel *model)
{
    return model->num_experts > 0
               ? "raise tensor_parallel_size, pipeline_parallel_size or data_parallel_size "
                 "(with expert_parallel_size), or quantize"
               : "raise tensor_parallel_size or pipeline_parallel_size, or quantize";
}

SvPlanFit sv_plan_check_fit(const SvModel *model, const SvHw *hw, const SvPlan *plan,
                            double gpu_memory_utilization, int block_size, int max_model_len,
                            SvPlanMemory *out, GError **error)
{
    SvPlanMemory local;
    if (out == NULL)
        out = &local;
    sv_plan_memory(model, hw, plan, gpu_memory_utilization, block_size, out);
    const char *hw_name = hw->name != NULL ? hw->name : "the device";
    double reserves = out->activation_bytes + out->runtime_bytes;
    if (out->weight_bytes > out->usable_bytes) {
        g_set_error(error, SV_PLAN_ERROR, SV_ERROR_INFEASIBLE,
                    "weights need %.1f GB per device but %s offers %.1f GB at "
                    "gpu_memory_utilization %g (short by %.1f GB); %s",
                    out->weight_bytes / 1e9, hw_name, out->usable_bytes / 1e9,
                    gpu_memory_utilization, (out->weight_bytes - out->usable_bytes) / 1e9,
                    remedy(model));
        return SV_FIT_WEIGHTS;
    }
    if (out->blocks_per_rank < 1) {
        double need = out->weight_bytes + reserves + out->block_bytes;
        g_set_error(error, SV_PLAN_ERROR, SV_ERROR_INFEASIBLE,
                    "weights (%.1f GB per device) and the activation and runtime reserves "
                    "(%.1f GB) leave no room for one KV block: they need %.1f GB per device but "
                    "%s offers %.1f GB at gpu_memory_utilization %g (short by %.2f GB); %s",
                    out->weight_bytes / 1e9, reserves / 1e9, need / 1e9, hw_name,
                    out->usable_bytes / 1e9, gpu_memory_utilization,
                    (need - out->usable_bytes) / 1e9, remedy(model));
        return SV_FIT_WEIGHTS;
    }
    /* vLLM refuses to start when one max_model_len sequence cannot fit the
     * KV cache of a worker. Sliding-window layers keep less, so only
     * full-attention models are checked exactly. */
    int64_t seq_blocks = ((int64_t)max_model_len + block_size - 1) / block_size;
    if (max_model_len > 0 && model->sliding_window == 0 && seq_blocks > out->blocks_per_rank) {
        g_set_error(error, SV_PLAN_ERROR, SV_ERROR_INFEASIBLE,
                    "max_model_len %d needs %.2f GB of KV cache per device (%.0f bytes per "
                    "token over the %d layers of a stage) but %s has %.2f GB left per device "
                    "after %.1f GB of weights and %.1f GB of reserves at gpu_memory_utilization "
                    "%g; lower engine.max_model_len, raise gpu_memory_utilization or %s",
                    max_model_len, seq_blocks * out->block_bytes / 1e9, out->kv_bytes_per_token,
                    out->layers_per_stage, hw_name, out->kv_bytes / 1e9, out->weight_bytes / 1e9,
                    reserves / 1e9, gpu_memory_utilization,
                    model->num_experts > 0 ? "the parallel sizes"
                                           : "tensor_parallel_size or pipeline_parallel_size");
        return SV_FIT_MAX_LEN;
    }
    return SV_FIT_OK;
}

void sv_pool_plan(const SvConfig *config, const SvPoolConfig *pool, SvPlan *out)
{
    g_return_if_fail(config != NULL && pool != NULL && out != NULL);
    const SvEngineConfig *e = &config->engine;
    *out = (SvPlan){
        .tp = pool->tensor_parallel_size,
        .pp = pool->pipeline_parallel_size,
        .ep = pool->expert_parallel_size,
        .act_dtype = e->dtype,
        .weight_dtype = e->weight_dtype,
        .kv_dtype = e->kv_cache_dtype,
        .dp = MAX(pool->data_parallel_size, 1),
        .placement = (SvPlacementKind)pool->placement,
        .moe_load = &e->moe_load,
        .disable_custom_all_reduce = e->disable_custom_all_reduce,
        .host_overheads = e->host_overheads,
        /* Steps above the capture size (every step under enforce_eager) run
         * without CUDA graphs; trtllm (-1) has no such switch. */
        .cudagraph_limit = e->max_cudagraph_capture_size >= 0,
        .cudagraph_max_tokens = e->enforce_eager ? 0 : MAX(e->max_cudagraph_capture_size, 0),
        .moe_backend = e->moe_backend,
    };
}
