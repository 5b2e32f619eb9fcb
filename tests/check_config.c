/* Tests of the study loader: defaults filled as vLLM does, every error kind
 * reported at its file:line:col, --set overrides, and resolution of model,
 * hardware and trace paths relative to the study. */
#include "config/config.h"
#include "perf/plan.h"
#include "perf/topology.h"

#include <glib/gstdio.h>
#include <string.h>

#include "testutil.h"

/* A scratch directory per test, removed (with the files we put there) at the end. */
typedef struct {
    char *dir;
    GPtrArray *files;
} Scratch;

static Scratch *scratch_new(void)
{
    Scratch *s = g_new0(Scratch, 1);
    GError *error = NULL;
    s->dir = g_dir_make_tmp("sv-config-XXXXXX", &error);
    ck_assert_msg(s->dir != NULL, "%s", error ? error->message : "");
    s->files = g_ptr_array_new_with_free_func(g_free);
    return s;
}

static char *scratch_write(Scratch *s, const char *name, const char *text)
{
    char *path = g_build_filename(s->dir, name, NULL);
    ck_assert(g_file_set_contents(path, text, -1, NULL));
    g_ptr_array_add(s->files, g_strdup(path));
    return path;
}

static void scratch_free(Scratch *s)
{
    for (guint i = s->files->len; i-- > 0;)
        g_remove(g_ptr_array_index(s->files, i));
    g_rmdir(s->dir);
    g_ptr_array_free(s->files, TRUE);
    g_free(s->dir);
    g_free(s);
}

static const char *const minimal = "model: llama-3-8b\n"
                                   "cluster:\n"
                                   "  pools:\n"
                                   "    - hardware: h100-sxm\n"
                                   "workload:\n"
                                   "  lengths: {input: {dist: fixed, value: 1024}, output: "
                                   "{dist: fixed, value: 256}}\n"
                                   "  arrival: {process: poisson, rate_per_s: 4}\n"
                                   "  num_requests: 100\n";

static SvConfig *load_text(Scratch *s, const char *text, const char *const *overrides,
                           GError **error)
{
    g_autofree char *path = scratch_write(s, "study.yaml", text);
    return sv_config_load(path, overrides, error);
}

START_TEST(test_defaults)
{
    Scratch *s = scratch_new();
    GError *error = NULL;
    g_autoptr(SvConfig) c = load_text(s, minimal, NULL, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(c->seed, 1);
    ck_assert_str_eq(c->model_name, "llama-3-8b");
    ck_assert_int_eq(c->model->num_layers, 32);
    ck_assert_int_eq(c->router, SV_ROUTER_ROUND_ROBIN);
    ck_assert_uint_eq(c->pools->len, 1);
    SvPoolConfig *p = g_ptr_array_index(c->pools, 0);
    ck_assert_str_eq(p->name, "main");
    ck_assert_str_eq(p->hardware_name, "h100-sxm");
    ck_assert_ptr_nonnull(p->hw);
    ck_assert_int_eq(p->replicas, 1);
    ck_assert_int_eq(p->tensor_parallel_size, 1);
    ck_assert_int_eq(p->pipeline_parallel_size, 1);
    ck_assert_int_eq(p->expert_parallel_size, 1);
    ck_assert_int_eq(p->role, SV_ROLE_MIXED);
    const SvEngineConfig *e = &c->engine;
    ck_assert_int_eq(e->scheduler, SV_SCHED_VLLM_V1);
    ck_assert_int_eq(e->max_num_seqs, 256);
    ck_assert_int_eq(e->max_num_batched_tokens, 8192);
    ck_assert(e->enable_chunked_prefill);
    ck_assert(!e->enable_prefix_caching);
    ck_assert_int_eq(e->block_size, 16);
    ck_assert(e->gpu_memory_utilization == 0.9);
    ck_assert_int_eq(e->max_model_len, 8192); /* llama-3-8b max_position_embeddings */
    ck_assert_int_eq(e->dtype, SV_DTYPE_BF16);
    ck_assert_int_eq(e->weight_dtype, SV_DTYPE_BF16);
    ck_assert_int_eq(e->kv_cache_dtype, SV_DTYPE_BF16);
    ck_assert_int_eq(e->preemption_mode, SV_PREEMPT_RECOMPUTE);
    const SvWorkloadConfig *w = &c->workload;
    ck_assert_ptr_null(w->trace_path);
    ck_assert(w->has_lengths);
    ck_assert_int_eq(w->input.dist, SV_LEN_FIXED);
    ck_assert_int_eq(w->input.value, 1024);
    ck_assert_int_eq(w->output.value, 256);
    ck_assert_int_eq(w->process, SV_ARRIVAL_POISSON);
    ck_assert(w->rate_per_s == 4.0);
    ck_assert_int_eq(w->num_requests, 100);
    ck_assert(w->duration_s == 0.0);
    ck_assert(c->slo.percentile == 90.0);
    ck_assert(c->slo.ttft_s == 0.0);
    ck_assert(c->output.sample_interval_s == 1.0);
    ck_assert(g_str_has_suffix(c->path, "study.yaml"));
    scratch_free(s);
}
END_TEST

START_TEST(test_v0_defaults)
{
    Scratch *s = scratch_new();
    GError *error = NULL;
    /* Without chunked prefill vLLM V0 batches max(max_model_len, 2048) tokens. */
    const char *const o1[] = {"engine.scheduler=vllm-v0", NULL};
    g_autoptr(SvConfig) c = load_text(s, minimal, o1, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert(!c->engine.enable_chunked_prefill);
    ck_assert_int_eq(c->engine.max_num_batched_tokens, 8192);
    const char *const o2[] = {"engine.scheduler=vllm-v0", "engine.max_model_len=1500", NULL};
    g_autoptr(SvConfig) c2 = load_text(s, minimal, o2, &error);
    ck_assert_msg(c2 != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(c2->engine.max_model_len, 1500);
    ck_assert_int_eq(c2->engine.max_num_batched_tokens, 2048);
    /* With chunked prefill V0 uses a 2048-token budget. */
    const char *const o3[] = {"engine.scheduler=vllm-v0", "engine.enable_chunked_prefill=true",
                              NULL};
    g_autoptr(SvConfig) c3 = load_text(s, minimal, o3, &error);
    ck_assert_msg(c3 != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(c3->engine.max_num_batched_tokens, 2048);
    scratch_free(s);
}
END_TEST

/* engine.moe_load left out takes the model's routing_skew (given FALSE);
 * stated, even as uniform, it overrides it. */
START_TEST(test_moe_load_given)
{
    Scratch *s = scratch_new();
    GError *error = NULL;
    g_autofree char *moe = g_strconcat("model: qwen3-30b-a3b\n", strchr(minimal, '\n') + 1, NULL);
    g_autoptr(SvConfig) c = load_text(s, moe, NULL, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert(!c->engine.moe_load.given);
    const char *const o[] = {"engine.moe_load.dist=uniform", NULL};
    g_autoptr(SvConfig) cu = load_text(s, moe, o, &error);
    ck_assert_msg(cu != NULL, "%s", error ? error->message : "");
    ck_assert(cu->engine.moe_load.given);
    ck_assert_int_eq(cu->engine.moe_load.dist, SV_MOE_UNIFORM);
    scratch_free(s);
}
END_TEST

/* vLLM's CUDA graph switch: the capture size vLLM 0.11 derives,
 * min(2 x max_num_seqs, 512); v0's 256; none for trtllm; and the plan it
 * gives the predictor. */
START_TEST(test_cudagraph_defaults)
{
    Scratch *s = scratch_new();
    GError *error = NULL;
    const struct {
        const char *sched, *seqs, *extra;
        int want;            /* max_cudagraph_capture_size */
        gboolean eager;      /* enforce_eager */
        gboolean limit;      /* plan.cudagraph_limit */
        int64_t plan_tokens; /* plan.cudagraph_max_tokens */
    } cases[] = {
        {"vllm-v1", "256", NULL, 512, FALSE, TRUE, 512},
        {"vllm-v1", "1024", NULL, 512, FALSE, TRUE, 512},
        {"vllm-v1", "128", NULL, 256, FALSE, TRUE, 256},
        {"vllm-v1", "8", NULL, 16, FALSE, TRUE, 16},
        {"sarathi", "64", NULL, 128, FALSE, TRUE, 128},
        {"vllm-v0", "512", NULL, 256, FALSE, TRUE, 256},
        {"vllm-v1", "256", "engine.max_cudagraph_capture_size=1024", 1024, FALSE, TRUE, 1024},
        {"vllm-v1", "256", "engine.max_cudagraph_capture_size=0", 0, FALSE, TRUE, 0},
        {"vllm-v1", "256", "engine.enforce_eager=true", 512, TRUE, TRUE, 0},
        {"trtllm", "256", NULL, -1, FALSE, FALSE, 0},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autofree char *sched = g_strdup_printf("engine.scheduler=%s", cases[i].sched);
        g_autofree char *seqs = g_strdup_printf("engine.max_num_seqs=%s", cases[i].seqs);
        const char *const o[] = {sched, seqs, cases[i].extra, NULL};
        g_autoptr(SvConfig) c = load_text(s, minimal, o, &error);
        ck_assert_msg(c != NULL, "case %zu: %s", i, error ? error->message : "");
        ck_assert_int_eq(c->engine.max_cudagraph_capture_size, cases[i].want);
        ck_assert_int_eq(c->engine.enforce_eager, cases[i].eager);
        SvPlan plan;
        sv_pool_plan(c, g_ptr_array_index(c->pools, 0), &plan);
        ck_assert_int_eq(plan.cudagraph_limit, cases[i].limit);
        ck_assert_int_eq(plan.cudagraph_max_tokens, cases[i].plan_tokens);
    }
    scratch_free(s);
}
END_TEST

/* engine.moe_backend: auto by default, vLLM's names otherwise, carried into
 * the plan; an MoE-only setting on a dense model is refused. */
START_TEST(test_moe_backend)
{
    Scratch *s = scratch_new();
    GError *error = NULL;
    const struct {
        const char *set;
        SvMoeBackend want;
    } cases[] = {
        {NULL, SV_MOE_BACKEND_AUTO},
        {"engine.moe_backend=auto", SV_MOE_BACKEND_AUTO},
        {"engine.moe_backend=triton", SV_MOE_BACKEND_TRITON},
        {"engine.moe_backend=flashinfer", SV_MOE_BACKEND_FLASHINFER},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        const char *const o[] = {"model=qwen3-30b-a3b", cases[i].set, NULL};
        g_autoptr(SvConfig) c = load_text(s, minimal, o, &error);
        ck_assert_msg(c != NULL, "case %zu: %s", i, error ? error->message : "");
        ck_assert_int_eq(c->engine.moe_backend, cases[i].want);
        SvPlan plan;
        sv_pool_plan(c, g_ptr_array_index(c->pools, 0), &plan);
        ck_assert_int_eq(plan.moe_backend, cases[i].want);
    }
    /* auto is fine on a dense model (nothing to choose); a family is not. */
    const char *const dense_auto[] = {"engine.moe_backend=auto", NULL};
    g_autoptr(SvConfig) c = load_text(s, minimal, dense_auto, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    const char *const dense_fi[] = {"engine.moe_backend=flashinfer", NULL};
    ck_assert_ptr_null(load_text(s, minimal, dense_fi, &error));
    ck_assert_ptr_nonnull(strstr(error->message, "needs a mixture-of-experts model"));
    g_clear_error(&error);
    scratch_free(s);
}
END_TEST

START_TEST(test_full)
{
    Scratch *s = scratch_new();
    GError *error = NULL;
    g_autofree char *trace =
        scratch_write(s, "tiny.csv", "arrival_s,input_tokens,output_tokens\n0,10,5\n");
    const char *text = "seed: 42\n"
                       "model: mixtral-8x7b\n"
                       "cluster:\n"
                       "  router: least-outstanding\n"
                       "  pools:\n"
                       "    - name: pre\n"
                       "      hardware: h100-sxm\n"
                       "      replicas: 2\n"
                       "      tensor_parallel_size: 2\n"
                       "      expert_parallel_size: 8\n"
                       "      data_parallel_size: 4\n"
                       "      placement: stage-per-node\n"
                       "      role: mixed\n"
                       "    - name: dec\n"
                       "      hardware: a100-sxm-80g\n"
                       "      replicas: 3\n"
                       "      tensor_parallel_size: 4\n"
                       "      pipeline_parallel_size: 2\n"
                       "      role: mixed\n"
                       "engine:\n"
                       "  scheduler: vllm-v1\n"
                       "  max_num_seqs: 128\n"
                       "  max_num_batched_tokens: 4096\n"
                       "  enable_chunked_prefill: yes\n"
                       "  enable_prefix_caching: off\n"
                       "  block_size: 32\n"
                       "  gpu_memory_utilization: 0.85\n"
                       "  max_model_len: 4096\n"
                       "  dtype: float16\n"
                       "  quantization: fp8\n"
                       "  kv_cache_dtype: fp8_e5m2\n"
                       "  preemption_mode: recompute\n"
                       "workload:\n"
                       "  trace: tiny.csv\n"
                       "  lengths:\n"
                       "    input: {dist: lognormal, mean: 800, sigma: 0.5, max: 3000}\n"
                       "    output: {dist: uniform, min: 10, max: 500}\n"
                       "  arrival: {process: gamma, rate_per_s: 2.5, cv: 3}\n"
                       "  duration_s: 600\n"
                       "slo: {ttft_s: 2, tpot_s: 0.1, e2e_s: 30, percentile: 99}\n"
                       "output: {sample_interval_s: 0.5}\n";
    g_autoptr(SvConfig) c = load_text(s, text, NULL, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert_uint_eq(c->seed, 42);
    ck_assert_int_eq(c->router, SV_ROUTER_LEAST_OUTSTANDING);
    ck_assert_uint_eq(c->pools->len, 2);
    SvPoolConfig *p0 = g_ptr_array_index(c->pools, 0), *p1 = g_ptr_array_index(c->pools, 1);
    ck_assert_str_eq(p0->name, "pre");
    ck_assert_int_eq(p0->expert_parallel_size, 8);
    ck_assert_int_eq(p0->data_parallel_size, 4);
    ck_assert_int_eq(p0->placement, SV_PLACEMENT_STAGE_PER_NODE);
    ck_assert_int_eq(p1->data_parallel_size, 1);
    ck_assert_int_eq(p1->placement, SV_PLACEMENT_PACKED);
    ck_assert_int_eq(p0->role, SV_ROLE_MIXED);
    ck_assert_str_eq(p1->hardware_name, "a100-sxm-80g");
    ck_assert_int_eq(p1->replicas, 3);
    ck_assert_int_eq(p1->pipeline_parallel_size, 2);
    ck_assert_int_eq(p1->role, SV_ROLE_MIXED);
    const SvEngineConfig *e = &c->engine;
    ck_assert_int_eq(e->max_num_seqs, 128);
    ck_assert_int_eq(e->max_num_batched_tokens, 4096);
    ck_assert(!e->enable_prefix_caching);
    ck_assert_int_eq(e->block_size, 32);
    ck_assert(e->gpu_memory_utilization == 0.85);
    ck_assert_int_eq(e->dtype, SV_DTYPE_FP16);
    ck_assert_int_eq(e->weight_dtype, SV_DTYPE_FP8);
    ck_assert_int_eq(e->kv_cache_dtype, SV_DTYPE_FP8);
    ck_assert_int_eq(e->preemption_mode, SV_PREEMPT_RECOMPUTE);
    const SvWorkloadConfig *w = &c->workload;
    ck_assert_str_eq(w->trace_path, trace);
    ck_assert_int_eq(w->input.dist, SV_LEN_LOGNORMAL);
    ck_assert(w->input.mean == 800 && w->input.sigma == 0.5);
    ck_assert_int_eq(w->input.min, 1);
    ck_assert_int_eq(w->input.max, 3000);
    ck_assert_int_eq(w->output.dist, SV_LEN_UNIFORM);
    ck_assert_int_eq(w->output.min, 10);
    ck_assert_int_eq(w->output.max, 500);
    ck_assert_int_eq(w->process, SV_ARRIVAL_GAMMA);
    ck_assert(w->rate_per_s == 2.5 && w->cv == 3.0);
    ck_assert(w->duration_s == 600.0);
    ck_assert_int_eq(w->num_requests, 0);
    ck_assert(c->slo.ttft_s == 2.0 && c->slo.tpot_s == 0.1 && c->slo.e2e_s == 30.0);
    ck_assert(c->slo.percentile == 99.0);
    ck_assert(c->output.sample_interval_s == 0.5);
    scratch_free(s);
}
END_TEST

START_TEST(test_trace_only)
{
    /* A trace alone gives lengths, arrivals and the end of the workload. */
    Scratch *s = scratch_new();
    GError *error = NULL;
    g_autofree char *trace = scratch_write(s, "t.csv", "arrival_s,input_tokens,output_tokens\n");
    g_autoptr(SvConfig) c = load_text(s,
                                      "model: llama-3-8b\ncluster: {pools: [{hardware: "
                                      "h100-sxm}]}\nworkload: {trace: t.csv}\n",
                                      NULL, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert_str_eq(c->workload.trace_path, trace);
    ck_assert(!c->workload.has_lengths);
    ck_assert_int_eq(c->workload.process, SV_ARRIVAL_TRACE);
    ck_assert_int_eq(c->workload.input.dist, SV_LEN_TRACE);
    /* closed-loop */
    const char *const o[] = {"workload.arrival={process: closed-loop, concurrency: 8}",
                             "workload.num_requests=50", NULL};
    g_autoptr(SvConfig) c2 = load_text(s,
                                       "model: llama-3-8b\ncluster: {pools: [{hardware: "
                                       "h100-sxm}]}\nworkload: {trace: t.csv}\n",
                                       o, &error);
    ck_assert_msg(c2 != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(c2->workload.process, SV_ARRIVAL_CLOSED_LOOP);
    ck_assert_int_eq(c2->workload.concurrency, 8);
    scratch_free(s);
}
END_TEST

START_TEST(test_hf_json_model)
{
    /* A Hugging Face config.json next to the study, named by a relative path. */
    Scratch *s = scratch_new();
    GError *error = NULL;
    g_autofree char *json =
        scratch_write(s, "tiny.json",
                      "{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\",\n"
                      " \"hidden_size\": 2048, \"intermediate_size\": 8192,\n"
                      " \"num_attention_heads\": 32, \"num_key_value_heads\": 8,\n"
                      " \"num_hidden_layers\": 16, \"vocab_size\": 128256,\n"
                      " \"max_position_embeddings\": 131072, \"rms_norm_eps\": 1e-05,\n"
                      " \"tie_word_embeddings\": true, \"torch_dtype\": \"bfloat16\"}\n");
    const char *const o[] = {"model=tiny.json", NULL};
    g_autoptr(SvConfig) c = load_text(s, minimal, o, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(c->model->num_layers, 16);
    ck_assert_int_eq(c->engine.max_model_len, 131072);
    scratch_free(s);
}
END_TEST

/* One bad study (or override) and the message it must produce. "@" in @want
 * stands for the study's path. */
typedef struct {
    const char *text;
    const char *set; /* one override or NULL */
    const char *want;
} Bad;

static const Bad bad_cases[] = {
    /* syntax and shape */
    {"model: [\n", NULL, "@:2:1: "},
    {"", NULL, "@: the study is empty"},
    {"# nothing\n", NULL, "@: the study is empty"},
    {"- a\n- b\n", NULL, "@:1:1: the study must be a map, got a sequence"},
    /* unknown keys at every level */
    {"modle: x\n", NULL, "@:1:1: unknown key 'modle' in the study (did you mean 'model'?)"},
    {"cluster: {rooter: random}\n", NULL,
     "@:1:11: unknown key 'rooter' in cluster (did you mean 'router'?)"},
    {"cluster:\n  pools:\n    - hardware: h100-sxm\n      replica: 2\n", NULL,
     "@:4:7: unknown key 'replica' in cluster.pools[0] (did you mean 'replicas'?)"},
    {"engine:\n  maxnum_seqs: 4\n", NULL,
     "@:2:3: unknown key 'maxnum_seqs' in engine (did you mean 'max_num_seqs'?)"},
    {"workload: {lenghts: 1}\n", NULL,
     "@:1:12: unknown key 'lenghts' in workload (did you mean 'lengths'?)"},
    {"workload: {lengths: {inptu: 1}}\n", NULL,
     "unknown key 'inptu' in workload.lengths (did you mean 'input'?)"},
    {"workload: {lengths: {input: {dist: fixed, vlaue: 3}}}\n", NULL,
     "unknown key 'vlaue' in workload.lengths.input (did you mean 'value'?)"},
    {"workload: {arrival: {process: poisson, rate: 3}}\n", NULL,
     "unknown key 'rate' in workload.arrival"},
    {"slo: {ttft: 1}\n", NULL, "@:1:7: unknown key 'ttft' in slo (did you mean 'ttft_s'?)"},
    {"output: {sample_interval: 1}\n", NULL,
     "unknown key 'sample_interval' in output (did you mean 'sample_interval_s'?)"},
    {"seed: 1\nseed: 2\n", NULL, "@:2:1: duplicate key 'seed'"},
    /* types and ranges */
    {"engine:\n  max_num_seqs: lots\n", NULL,
     "@:2:17: engine.max_num_seqs must be an integer, got 'lots'"},
    {"engine:\n  max_num_seqs: 0\n", NULL,
     "@:2:17: engine.max_num_seqs must be between 1 and 1048576, got 0"},
    {"engine:\n  max_num_seqs: 2.5\n", NULL, "engine.max_num_seqs must be an integer, got 2.5"},
    {"engine:\n  gpu_memory_utilization: .nan\n", NULL,
     "@:2:27: engine.gpu_memory_utilization must be a finite number, got .nan"},
    {"engine:\n  gpu_memory_utilization: 0\n", NULL,
     "engine.gpu_memory_utilization must be greater than 0, got 0"},
    {"engine:\n  gpu_memory_utilization: 1.2\n", NULL,
     "engine.gpu_memory_utilization must be at most 1, got 1.2"},
    {"engine:\n  enable_chunked_prefill: maybe\n", NULL,
     "engine.enable_chunked_prefill must be true or false, got 'maybe'"},
    {"engine:\n  block_size: 24\n", NULL, "@:2:15: engine.block_size must be a power of 2"},
    {"engine:\n  dtype: fp64\n", NULL, "@:2:10: unknown engine.dtype 'fp64'"},
    {"engine:\n  quantization: fp3\n", NULL, "unknown engine.quantization 'fp3' (did you mean"},
    {"engine:\n  scheduler: vllm-v2\n", NULL,
     "@:2:14: unknown engine.scheduler 'vllm-v2' (did you mean 'vllm-v0'?)"},
    {"engine:\n  scheduler: orca\n  enable_chunked_prefill: true\n", NULL,
     "@:3:27: scheduler 'orca' runs whole prompts, never chunks"},
    {"engine:\n  scheduler: sarathi\n  enable_chunked_prefill: false\n", NULL,
     "@:3:27: scheduler 'sarathi' always chunks prefills"},
    {"cluster:\n  router: round-robbin\n", NULL,
     "@:2:11: unknown cluster.router 'round-robbin' (did you mean 'round-robin'?)"},
    {"cluster:\n  router: prefix-affinity\n  pools: [{hardware: h100-sxm}]\n", NULL,
     "@:2:11: router prefix-affinity routes by the prefix cache: set "
     "engine.enable_prefix_caching: true"},
    {"cluster:\n  prefix_affinity_load_factor: 2\n  pools: [{hardware: h100-sxm}]\n", NULL,
     "@:2:32: cluster.prefix_affinity_load_factor applies only to router prefix-affinity"},
    {"cluster:\n  router: prefix-affinity\n  prefix_affinity_load_factor: 0.5\n  pools: "
     "[{hardware: h100-sxm}]\nengine: {enable_prefix_caching: true}\n",
     NULL, "@:3:32: cluster.prefix_affinity_load_factor must be at least 1"},
    {"cluster:\n  pools:\n    - hardware: h100-sxm\n      replicas: 1e12\n", NULL,
     "@:4:17: cluster.pools[0].replicas must be between 1 and 100000, got 1e12"},
    {"cluster:\n  pools:\n    - hardware: h100-sxm\n      role: both\n", NULL,
     "unknown cluster.pools[0].role 'both'"},
    {"cluster:\n  pools:\n    - {hardware: h100-sxm, role: prefill}\n", NULL,
     "@:3:34: a prefill pool needs a decode pool to hand requests to"},
    {"cluster:\n  pools:\n    - {hardware: h100-sxm, role: prefill}\n    - {hardware: "
     "a100-sxm-80g, role: decode, node_group: n}\n    - {hardware: h100-sxm, role: decode, "
     "node_group: n}\n",
     NULL,
     "@:5:54: pools 'pool1' (a100-sxm-80g) and 'pool2' (h100-sxm) share node_group 'n', but one "
     "node holds one kind of accelerator"},
    {"cluster:\n  kv_transfer: {layerwise: true}\n  pools: [{hardware: h100-sxm}]\n", NULL,
     "@:2:16: cluster.kv_transfer applies only to a cluster with prefill and decode pools"},
    {"cluster:\n  pools:\n    - {hardware: h100-sxm, role: prefill}\n    - {hardware: "
     "h100-sxm, role: decode, site: b}\n",
     NULL,
     "@:4:48: pool 'pool1' is in site 'b' and pool 'main' in 'default': give the link between "
     "them as cluster.kv_transfer.inter_site_bandwidth_gb_s"},
    {"engine: {preemption_mode: swap, swap_space: 0}\n", NULL,
     "@:1:45: engine.preemption_mode swap needs engine.swap_space > 0"},
    {"engine: {swap_space: 8}\n", NULL,
     "@:1:22: engine.swap_space applies only to preemption_mode: swap"},
    {"engine: {block_size: 32}\nworkload:\n  hash_block_tokens: 48\n  lengths: {input: "
     "{dist: fixed, value: 100}, output: {dist: fixed, value: 10}}\n  arrival: {process: "
     "poisson, rate_per_s: 1}\n  num_requests: 10\n",
     NULL, "@:3:22: workload.hash_block_tokens (48) and engine.block_size (32) must divide"},
    {"workload:\n  prefix: {prompts: 4}\n  lengths: {input: {dist: fixed, value: 100}, output: "
     "{dist: fixed, value: 10}}\n  arrival: {process: poisson, rate_per_s: 1}\n  num_requests: "
     "10\n",
     NULL, "@:2:11: workload.prefix needs 'prompts' (how many shared system prompts) and 'tokens'"},
    {"workload:\n  prefix: {prompts: 4, tokens: 100, probability: 1.5}\n  lengths: {input: "
     "{dist: fixed, value: 100}, output: {dist: fixed, value: 10}}\n  arrival: {process: "
     "poisson, rate_per_s: 1}\n  num_requests: 10\n",
     NULL, "@:2:50: workload.prefix.probability must be at most 1, got 1.5"},
    {"workload:\n  sessions: {turns: 3}\n  lengths: {input: {dist: fixed, value: 100}, output: "
     "{dist: fixed, value: 10}}\n  arrival: {process: poisson, rate_per_s: 1}\n  num_requests: "
     "10\n",
     NULL, "@:2:13: workload.sessions needs 'turns' (requests per session) and 'think_time_s'"},
    {"workload:\n  sessions: {turns: 3, think_time_s: 5}\n  lengths: {input: {dist: fixed, "
     "value: 100}, output: {dist: fixed, value: 10}}\n  arrival: {process: closed-loop, "
     "concurrency: 4}\n  num_requests: 10\n",
     NULL,
     "@:2:3: workload.sessions needs an arrival process that starts sessions (poisson, "
     "gamma or constant), not 'closed-loop'"},
    {"workload:\n  sessions: {turns: 3, think_time_s: 5, gap: 1}\n", NULL,
     "@:2:41: unknown key 'gap' in workload.sessions"},
    {"cluster:\n  pools:\n    - {name: a, hardware: h100-sxm}\n    - {name: a, hardware: "
     "h100-sxm}\n",
     NULL, "@:4:14: pool name 'a' is used twice"},
    {"cluster:\n  pools: []\n", NULL, "@:2:10: cluster.pools must list at least one pool"},
    {"cluster:\n  pools: {hardware: h100-sxm}\n", NULL,
     "@:2:10: cluster.pools must be a sequence, got a map"},
    {"cluster:\n  pools:\n    - replicas: 2\n", NULL, "@:3:7: cluster.pools[0] needs 'hardware'"},
    {"seed: -1\n", NULL, "@:1:7: seed must be at least 0, got -1"},
    /* workload */
    {"workload:\n  arrival: {process: poisson, rate_per_s: 0}\n", NULL,
     "@:2:43: workload.arrival.rate_per_s must be greater than 0, got 0"},
    {"workload:\n  arrival: {process: poisson, rate_per_s: -3}\n", NULL,
     "workload.arrival.rate_per_s must be greater than 0, got -3"},
    {"workload:\n  arrival: {process: poisson}\n", NULL, "process poisson needs 'rate_per_s'"},
    {"workload:\n  arrival: {process: gamma, rate_per_s: 1}\n", NULL, "process gamma needs 'cv'"},
    {"workload:\n  arrival: {process: closed-loop}\n", NULL,
     "process closed-loop needs 'concurrency'"},
    {"workload:\n  arrival: {process: closed-loop, concurrency: 0}\n", NULL,
     "workload.arrival.concurrency must be between 1 and"},
    {"workload:\n  arrival: {process: closed-loop, concurrency: 4, rate_per_s: 1}\n", NULL,
     "rate_per_s does not apply to process closed-loop"},
    {"workload:\n  arrival: {process: poisson, rate_per_s: 1, cv: 2}\n", NULL,
     "cv applies only to process gamma"},
    {"workload:\n  arrival: {process: trace}\n", NULL,
     "@:2:22: process: trace needs workload.trace"},
    {"workload:\n  arrival: {process: possion, rate_per_s: 1}\n", NULL,
     "unknown workload.arrival.process 'possion' (did you mean 'poisson'?)"},
    {"workload:\n  lengths: {input: {dist: lognormal, mean: 0, sigma: 1}}\n", NULL,
     "workload.lengths.input.mean must be greater than 0, got 0"},
    {"workload:\n  lengths: {input: {dist: lognormal, mean: 10, sigma: -1}}\n", NULL,
     "workload.lengths.input.sigma must be at least 0, got -1"},
    {"workload:\n  lengths: {input: {dist: uniform, min: 10, max: 5}}\n", NULL,
     "@:2:41: workload.lengths.input.min (10) is larger than max (5)"},
    {"workload:\n  lengths: {input: {dist: fixed, value: 0}}\n", NULL,
     "workload.lengths.input.value must be between 1 and"},
    {"workload:\n  lengths: {input: {dist: fixed, value: 5, sigma: 1}}\n", NULL,
     "workload.lengths.input.sigma does not apply to dist: fixed"},
    {"workload:\n  lengths: {input: {dist: trace}}\n", NULL,
     "@:2:27: workload.lengths.input.dist: trace needs workload.trace"},
    {"workload:\n  lengths: {input: {dist: fixed, value: 5}}\n", NULL,
     "@:2:12: workload.lengths needs 'output'"},
    {"workload:\n  trace: missing.csv\n", NULL, "@:2:10: trace 'missing.csv' not found"},
    {"workload:\n  num_requests: 100\n", NULL, "workload needs request lengths"},
    {"workload:\n  lengths: {input: {value: 5}, output: {value: 5}}\n", NULL,
     "workload needs 'arrival'"},
    {"workload:\n  lengths: {input: {value: 5}, output: {value: 5}}\n  arrival: {process: "
     "constant, rate_per_s: 1}\n",
     NULL, "workload needs an end"},
    {"workload:\n  num_requests: 0\n", NULL, "workload.num_requests must be between 1 and"},
    {"workload:\n  duration_s: inf\n", NULL, "workload.duration_s must be a finite number"},
    /* slo */
    {"slo: {percentile: 0}\n", NULL, "slo.percentile must be greater than 0, got 0"},
    {"slo: {percentile: 101}\n", NULL, "slo.percentile must be at most 100, got 101"},
    {"slo: {ttft_s: -1}\n", NULL, "slo.ttft_s must be greater than 0, got -1"},
    {"output: {sample_interval_s: 0}\n", NULL, "output.sample_interval_s must be greater than 0"},
};

/* A valid study that each bad case edits: the bad text is merged over it by
 * writing the bad keys first (so their marks are predictable) and the valid
 * remainder after, minus any top-level key the bad text defines. */
static char *merge_study(const char *bad)
{
    static const char *const parts[][2] = {
        {"model", "model: llama-3-8b\n"},
        {"cluster", "cluster:\n  pools:\n    - hardware: h100-sxm\n"},
        {"workload", "workload:\n  lengths: {input: {dist: fixed, value: 100}, output: {dist: "
                     "fixed, value: 10}}\n  arrival: {process: poisson, rate_per_s: 1}\n"
                     "  num_requests: 10\n"},
    };
    GString *out = g_string_new(bad);
    if (*bad == '\0' || *bad == '#' || *bad == '-' || strstr(bad, "[\n") != NULL)
        return g_string_free(out, FALSE); /* not a map: keep it as it is */
    for (size_t i = 0; i < G_N_ELEMENTS(parts); i++) {
        g_autofree char *key = g_strdup_printf("%s:", parts[i][0]);
        gboolean has = g_str_has_prefix(bad, key);
        g_autofree char *nl_key = g_strdup_printf("\n%s", key);
        has = has || strstr(bad, nl_key) != NULL;
        if (!has)
            g_string_append(out, parts[i][1]);
    }
    return g_string_free(out, FALSE);
}

static void check_bad(Scratch *s, const char *text, const char *set, const char *want)
{
    g_autofree char *path = scratch_write(s, "bad.yaml", text);
    const char *const overrides[] = {set, NULL};
    GError *error = NULL;
    SvConfig *c = sv_config_load(path, set ? overrides : NULL, &error);
    ck_assert_msg(c == NULL, "accepted:\n%s", text);
    sv_config_free(c);
    ck_assert(sv_error_is_input(error));
    g_autoptr(GString) expect = g_string_new(want);
    g_string_replace(expect, "@", path, 0);
    ck_assert_msg(strstr(error->message, expect->str) != NULL, "'%s' lacks '%s' for:\n%s",
                  error->message, expect->str, text);
    ck_assert_msg(strchr(error->message, '\n') == NULL, "multi-line: %s", error->message);
    g_error_free(error);
}

START_TEST(test_bad)
{
    Scratch *s = scratch_new();
    const Bad *b = &bad_cases[_i];
    g_autofree char *text = merge_study(b->text);
    check_bad(s, text, b->set, b->want);
    scratch_free(s);
}
END_TEST

START_TEST(test_names)
{
    Scratch *s = scratch_new();
    /* Model and hardware errors point at the study's line, keeping the loader's text. */
    g_autofree char *m = merge_study("model: llama-3-8\n");
    check_bad(s, m, NULL, "@:1:8: unknown model 'llama-3-8' (did you mean 'llama-3-8b'?)");
    g_autofree char *text = merge_study("cluster:\n  pools:\n    - hardware: h100-smx\n");
    check_bad(s, text, NULL, "@:3:17: unknown hardware 'h100-smx' (did you mean 'h100-sxm'?)");
    check_bad(s, minimal, "model=nothere/x.yaml", "--set model=nothere/x.yaml: ");
    scratch_free(s);
}
END_TEST

START_TEST(test_plan)
{
    Scratch *s = scratch_new();
    GError *error = NULL;
    /* llama-3-8b has 32 query heads: TP 3 does not divide them. */
    check_bad(s, minimal, "cluster.pools.0.tensor_parallel_size=3",
              "--set cluster.pools.0.tensor_parallel_size=3: tensor_parallel_size 3 does not "
              "divide the 32 attention heads of llama-3-8b");
    /* TP 16 > 8 KV heads is fine (replication), 32 | 32 heads. */
    const char *const tp16[] = {"cluster.pools.0.tensor_parallel_size=16", NULL};
    g_autoptr(SvConfig) c = load_text(s, minimal, tp16, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    check_bad(s, minimal, "cluster.pools.0.pipeline_parallel_size=33",
              "pipeline_parallel_size 33 exceeds the 32 layers of llama-3-8b");
    check_bad(s, minimal, "cluster.pools.0.expert_parallel_size=2",
              "expert_parallel_size 2 needs a mixture-of-experts model; llama-3-8b is dense");

    /* llama-3-70b in bf16 on one H100: about 141 GB of weights vs 80 GB x 0.9. */
    const char *study70 = "model: llama-3-70b\n"
                          "cluster:\n"
                          "  pools:\n"
                          "    - hardware: h100-sxm\n"
                          "workload:\n"
                          "  lengths: {input: {value: 100}, output: {value: 10}}\n"
                          "  arrival: {process: poisson, rate_per_s: 1}\n"
                          "  num_requests: 10\n";
    g_autofree char *p70 = scratch_write(s, "s70.yaml", study70);
    SvConfig *bad = sv_config_load(p70, NULL, &error);
    ck_assert_ptr_null(bad);
    ck_assert(g_error_matches(error, SV_PLAN_ERROR, SV_ERROR_INFEASIBLE));
    g_autofree char *want = g_strdup_printf("%s:4:7: weights need 14", p70);
    ck_assert_msg(g_str_has_prefix(error->message, want), "%s", error->message);
    ck_assert_msg(strstr(error->message, "GB per device but h100-sxm offers 76.5 GB at "
                                         "gpu_memory_utilization 0.9 (short by 64.6 GB)") != NULL,
                  "%s", error->message);
    ck_assert(strstr(error->message, "raise tensor_parallel_size") != NULL);
    g_clear_error(&error);
    /* TP 4 fits (about 35 GB per device). */
    const char *const tp4[] = {"cluster.pools.0.tensor_parallel_size=4", NULL};
    g_autoptr(SvConfig) c70 = sv_config_load(p70, tp4, &error);
    ck_assert_msg(c70 != NULL, "%s", error ? error->message : "");

    /* mixtral-8x7b has 8 experts: EP 3 does not divide them, EP 4 does. */
    const char *const ep3[] = {"model=mixtral-8x7b", "cluster.pools.0.tensor_parallel_size=4",
                               "cluster.pools.0.expert_parallel_size=3", NULL};
    bad = sv_config_load(p70, ep3, &error);
    ck_assert_ptr_null(bad);
    ck_assert_msg(strstr(error->message, "expert_parallel_size 3 does not divide the 8 experts") !=
                      NULL,
                  "%s", error->message);
    g_clear_error(&error);
    const char *const ep4[] = {"model=mixtral-8x7b", "cluster.pools.0.tensor_parallel_size=4",
                               "cluster.pools.0.expert_parallel_size=4", NULL};
    g_autoptr(SvConfig) cm = sv_config_load(p70, ep4, &error);
    ck_assert_msg(cm != NULL, "%s", error ? error->message : "");

    /* Engine settings checked against the model. */
    check_bad(s, minimal, "engine.max_model_len=9000",
              "--set engine.max_model_len=9000: engine.max_model_len 9000 exceeds the 8192 "
              "tokens llama-3-8b supports");
    const char *v0 = "model: llama-3-8b\ncluster: {pools: [{hardware: h100-sxm}]}\n"
                     "engine: {scheduler: vllm-v0, max_num_batched_tokens: 4096}\n"
                     "workload: {lengths: {input: {value: 10}, output: {value: 10}}, arrival: "
                     "{process: poisson, rate_per_s: 1}, num_requests: 1}\n";
    check_bad(s, v0, NULL,
              "@:3:54: engine.max_num_batched_tokens (4096) is smaller than max_model_len (8192)");
    check_bad(s, minimal, "engine.max_num_batched_tokens=100",
              "engine.max_num_batched_tokens (100) must be at least max_num_seqs (256)");
    check_bad(s, minimal, "workload.lengths.input.value=8000",
              "input (8000) plus output (256) tokens exceed max_model_len 8192");
    scratch_free(s);
}
END_TEST

START_TEST(test_overrides)
{
    Scratch *s = scratch_new();
    GError *error = NULL;
    const char *const o[] = {"engine.max_num_seqs=64", "seed=7", "cluster.pools.0.replicas=3",
                             "cluster.router=random", NULL};
    g_autoptr(SvConfig) c = load_text(s, minimal, o, &error);
    ck_assert_msg(c != NULL, "%s", error ? error->message : "");
    ck_assert_int_eq(c->engine.max_num_seqs, 64);
    ck_assert_uint_eq(c->seed, 7);
    ck_assert_int_eq(((SvPoolConfig *)g_ptr_array_index(c->pools, 0))->replicas, 3);
    ck_assert_int_eq(c->router, SV_ROUTER_RANDOM);
    /* Later overrides win. */
    const char *const o2[] = {"seed=7", "seed=8", NULL};
    g_autoptr(SvConfig) c2 = load_text(s, minimal, o2, &error);
    ck_assert_uint_eq(c2->seed, 8);

    check_bad(s, minimal, "engine.max_num_seqs=0",
              "--set engine.max_num_seqs=0: engine.max_num_seqs must be between 1 and 1048576, "
              "got 0");
    check_bad(s, minimal, "engine.maxnum_seqs=4",
              "--set engine.maxnum_seqs=4: unknown key 'maxnum_seqs' in engine (did you mean "
              "'max_num_seqs'?)");
    check_bad(s, minimal, "engine.max_num_seqs", "--set engine.max_num_seqs: expected KEY=VALUE");
    check_bad(s, minimal, "model.name=x", "--set model.name=x: cannot set 'model.name'");
    check_bad(s, minimal, "workload.trace=gone.csv",
              "--set workload.trace=gone.csv: trace 'gone.csv' not found");

    /* A whole study from overrides on an empty file. */
    const char *const all[] = {"model=llama-3-8b",
                               "cluster.pools=[{hardware: h100-sxm}]",
                               "workload.lengths={input: {value: 5}, output: {value: 5}}",
                               "workload.arrival={process: constant, rate_per_s: 2}",
                               "workload.duration_s=10",
                               NULL};
    g_autoptr(SvConfig) c3 = load_text(s, "", all, &error);
    ck_assert_msg(c3 != NULL, "%s", error ? error->message : "");
    ck_assert(c3->workload.duration_s == 10.0);
    scratch_free(s);
}
END_TEST

START_TEST(test_missing_file)
{
    GError *error = NULL;
    SvConfig *c = sv_config_load("/nonexistent/study.yaml", NULL, &error);
    ck_assert_ptr_null(c);
    ck_assert(g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT));
    ck_assert(sv_error_is_input(error));
    ck_assert_str_eq(error->message, "/nonexistent/study.yaml: No such file or directory");
    g_clear_error(&error);

    /* Binary garbage is a parse error, not a crash. */
    Scratch *s = scratch_new();
    g_autofree char *path = g_build_filename(s->dir, "bin.yaml", NULL);
    static const char bin[] = {'\x7f', 'E', 'L', 'F', '\x02', '\x01', '\x00', '\xff', '\xfe'};
    ck_assert(g_file_set_contents(path, bin, sizeof bin, NULL));
    g_ptr_array_add(s->files, g_strdup(path));
    c = sv_config_load(path, NULL, &error);
    ck_assert_ptr_null(c);
    ck_assert_msg(g_error_matches(error, SV_CONFIG_ERROR, SV_ERROR_PARSE), "%s", error->message);
    ck_assert(g_str_has_prefix(error->message, path));
    g_error_free(error);
    scratch_free(s);
}
END_TEST

START_TEST(test_key_paths)
{
    const char *const *keys = sv_config_key_paths();
    gboolean seen = FALSE;
    int n = 0;
    for (; keys[n] != NULL; n++)
        seen = seen || strcmp(keys[n], "engine.max_num_seqs") == 0;
    ck_assert(seen);
    ck_assert_int_ge(n, 40);
    ck_assert_str_eq(sv_scheduler_names[SV_SCHED_EDF], "edf");
    ck_assert_ptr_null(sv_scheduler_names[SV_SCHED_COUNT]);
    ck_assert_str_eq(sv_router_names[SV_ROUTER_PREFIX_AFFINITY], "prefix-affinity");
    ck_assert_ptr_null(sv_router_names[SV_ROUTER_COUNT]);
    ck_assert_str_eq(sv_role_names[SV_ROLE_DECODE], "decode");
}
END_TEST

Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_v0_defaults);
    tcase_add_test(tc, test_moe_load_given);
    tcase_add_test(tc, test_cudagraph_defaults);
    tcase_add_test(tc, test_moe_backend);
    tcase_add_test(tc, test_full);
    tcase_add_test(tc, test_trace_only);
    tcase_add_test(tc, test_hf_json_model);
    tcase_add_loop_test(tc, test_bad, 0, (int)G_N_ELEMENTS(bad_cases));
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_plan);
    tcase_add_test(tc, test_overrides);
    tcase_add_test(tc, test_missing_file);
    tcase_add_test(tc, test_key_paths);
    suite_add_tcase(s, tc);
    return s;
}
