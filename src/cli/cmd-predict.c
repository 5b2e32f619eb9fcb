/* servesim predict: the predicted time of one engine iteration (a batch of
 * prefill chunks and decode tokens) for a model on a hardware profile under a
 * TP/PP/EP plan, op by op, as a table or as JSON for tools and plots. It is
 * the quickest way to see what the simulator believes one step costs. */
#include "cli/commands.h"
#include "hw/hw.h"
#include "model/model.h"
#include "perf/plan.h"
#include "perf/predictor.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

static const char predict_help[] =
    "Predict one iteration's time on one replica, op by op.\n"
    "\n"
    "Example:\n"
    "  servesim predict --model llama-3-8b --hw h100-sxm --tp 2 \\\n"
    "      --batch prefill=512x2,decode=64@2048\n"
    "  servesim predict --model deepseek-v3 --hw h200-sxm --dp 8 --ep 8 \\\n"
    "      --quantization fp8 --moe-load zipf:1.2 --batch decode=256@4096\n"
    "\n"
    "A replica has tp x pp x dp devices: pp pipeline stages of dp attention ranks\n"
    "of tp devices (dp > 1 only for MoE models, with ep = tp x dp). The table\n"
    "lists every op, then the collectives with their group, nodes, link and\n"
    "algorithm, the time of each pipeline stage, and the memory of a device\n"
    "(at gpu_memory_utilization 0.9, 16-token blocks).\n"
    "\n"
    "--batch is a comma list of prefill=TOKENSxCOUNT[@CONTEXT] (COUNT chunks of\n"
    "TOKENS new tokens after CONTEXT cached ones) and decode=COUNT@CONTEXT (COUNT\n"
    "sequences with CONTEXT tokens each) terms. --json prints\n"
    "{\"iteration_s\", \"stages\", \"ops\": [{\"name\", \"count\", \"time_s\", \"coverage\"...}]}\n"
    "where time_s is one occurrence of the op on one device; stages lists each\n"
    "stage's time in seconds (stage_detail says which layers), collectives add\n"
    "group, domains, link and algorithm. Exit status: 0 success, 2 bad input,\n"
    "1 internal error.";

/* Names as vLLM spells them, as in the config's engine section. */
static const char *const dtype_names[] = {"auto", "bfloat16", "float16", "float32", NULL};
static const SvDtype dtype_values[] = {SV_DTYPE_COUNT, SV_DTYPE_BF16, SV_DTYPE_FP16, SV_DTYPE_FP32};
static const char *const quant_names[] = {"none",  "fp8",  "fp4",  "nvfp4",
                                          "mxfp4", "int8", "int4", NULL};
static const SvDtype quant_values[] = {SV_DTYPE_COUNT, SV_DTYPE_FP8,  SV_DTYPE_FP4, SV_DTYPE_FP4,
                                       SV_DTYPE_FP4,   SV_DTYPE_INT8, SV_DTYPE_INT4};
static const char *const kv_names[] = {"auto",     "fp8",     "fp8_e4m3", "fp8_e5m2",
                                       "bfloat16", "float16", NULL};
static const SvDtype kv_values[] = {SV_DTYPE_COUNT, SV_DTYPE_FP8,  SV_DTYPE_FP8,
                                    SV_DTYPE_FP8,   SV_DTYPE_BF16, SV_DTYPE_FP16};

/* The index of @value in @names (NULL = 0, the default). */
static gboolean pick_name(const char *option, const char *value, const char *const *names, int *out,
                          GError **error)
{
    if (value == NULL) {
        *out = 0;
        return TRUE;
    }
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(value, names[i]) == 0) {
            *out = i;
            return TRUE;
        }
    }
    g_autofree char *list = g_strjoinv(", ", (char **)names);
    const char *near = sv_nearest(value, names);
    g_autofree char *hint = near ? g_strdup_printf("; did you mean '%s'?", near) : g_strdup("");
    g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID, "%s: unknown value '%s' (expected %s)%s",
                option, value, list, hint);
    return FALSE;
}

/* Map @value (NULL = the first name, "auto"/"none") through @names/@values. */
static gboolean pick_dtype(const char *option, const char *value, const char *const *names,
                           const SvDtype *values, SvDtype *out, GError **error)
{
    int i;
    if (!pick_name(option, value, names, &i, error))
        return FALSE;
    *out = values[i];
    return TRUE;
}

/* The longest sequence of a --batch SPEC that sv_batch_parse accepted:
 * context plus new tokens (prefill) or context plus one (decode). */
static int64_t batch_longest(const char *spec)
{
    int64_t longest = 0;
    g_auto(GStrv) terms = g_strsplit(spec, ",", -1);
    for (char **t = terms; *t != NULL; t++) {
        const char *term = g_strstrip(*t);
        const char *eq = strchr(term, '='), *at = strchr(term, '@');
        if (eq == NULL)
            continue;
        int64_t context = at != NULL ? g_ascii_strtoll(at + 1, NULL, 10) : 0;
        int64_t fresh = g_str_has_prefix(term, "prefill") ? g_ascii_strtoll(eq + 1, NULL, 10) : 1;
        longest = MAX(longest, context + fresh);
    }
    return longest;
}

static int fail_usage(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
static int fail_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_autoptr(GError) error = g_error_new_literal(SV_CONFIG_ERROR, SV_ERROR_INVALID, msg);
    return sv_cli_fail(error);
}

/* Everything printed about one prediction. */
typedef struct {
    const SvModel *model;
    const SvHw *hw;
    const SvPlan *plan;
    const char *batch;
    const SvBatchShape *shape;
    SvPredictor *predictor;
    GArray *ops;          /* SvOpTime, stages merged */
    const double *stages; /* num_stages, seconds */
    int num_stages;
    double iteration_s;
    double flops;
    SvPlanMemory mem;
    gboolean fits;
    const char *fit_message; /* why not, or NULL */
} Report;

static void json_double(JsonBuilder *b, const char *name, double v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_double_value(b, v);
}

static void json_int(JsonBuilder *b, const char *name, int64_t v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, v);
}

static void json_string(JsonBuilder *b, const char *name, const char *v)
{
    json_builder_set_member_name(b, name);
    json_builder_add_string_value(b, v);
}

static void print_json(const Report *r)
{
    const SvPlan *plan = r->plan;
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_double(b, "iteration_s", r->iteration_s);
    json_builder_set_member_name(b, "stages");
    json_builder_begin_array(b);
    for (int i = 0; i < r->num_stages; i++)
        json_builder_add_double_value(b, r->stages[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "ops");
    json_builder_begin_array(b);
    for (guint i = 0; i < r->ops->len; i++) {
        const SvOpTime *o = &g_array_index(r->ops, SvOpTime, i);
        json_builder_begin_object(b);
        json_string(b, "name", o->name);
        json_int(b, "count", o->count);
        json_double(b, "time_s", o->time_s);
        json_string(b, "coverage", sv_coverage_name(o->coverage));
        json_double(b, "flops", o->flops);
        json_double(b, "bytes", o->bytes);
        if (o->group > 0) {
            json_int(b, "group", o->group);
            json_int(b, "domains", o->domains);
            json_string(b, "link", o->link);
            json_string(b, "algorithm", o->algo);
        }
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_set_member_name(b, "stage_detail");
    json_builder_begin_array(b);
    for (int i = 0; i < r->num_stages; i++) {
        int first, n;
        sv_predictor_stage_layers(r->predictor, i, &first, &n);
        json_builder_begin_object(b);
        json_int(b, "stage", i);
        json_int(b, "first_layer", first);
        json_int(b, "num_layers", n);
        json_double(b, "time_s", r->stages[i]);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    /* Context, so a saved result says what it was computed for. */
    json_double(b, "model_flops", r->flops);
    json_string(b, "model", r->model->name ? r->model->name : "");
    json_string(b, "hw", r->hw->name ? r->hw->name : "");
    json_builder_set_member_name(b, "plan");
    json_builder_begin_object(b);
    json_int(b, "tp", plan->tp);
    json_int(b, "pp", plan->pp);
    json_int(b, "ep", plan->ep);
    json_int(b, "dp", MAX(plan->dp, 1));
    json_string(b, "placement", sv_placement_names[plan->placement]);
    json_int(b, "devices", sv_plan_devices(plan));
    json_int(b, "nodes", sv_predictor_nodes(r->predictor));
    json_string(b, "dtype", sv_dtype_name(plan->act_dtype));
    json_string(b, "weight_dtype", sv_dtype_name(plan->weight_dtype));
    json_string(b, "kv_cache_dtype", sv_dtype_name(plan->kv_dtype));
    if (r->model->num_experts > 0) /* the Zipf skew the model's router adds, 0 = none */
        json_double(b, "model_routing_skew", sv_moe_load_model_skew(plan->moe_load, r->model));
    json_builder_end_object(b);
    json_builder_set_member_name(b, "memory");
    json_builder_begin_object(b);
    json_double(b, "weight_bytes_per_device", r->mem.weight_bytes);
    json_double(b, "reserve_bytes_per_device", r->mem.activation_bytes + r->mem.runtime_bytes);
    json_double(b, "kv_bytes_per_device", r->mem.kv_bytes);
    json_double(b, "kv_bytes_per_token_per_device", r->mem.kv_bytes_per_token);
    json_int(b, "kv_blocks", r->mem.blocks);
    json_builder_set_member_name(b, "fits");
    json_builder_add_boolean_value(b, r->fits);
    if (r->fit_message != NULL)
        json_string(b, "why", r->fit_message);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "batch");
    json_builder_begin_object(b);
    json_int(b, "num_prefill", r->shape->num_prefill);
    json_int(b, "prefill_tokens", r->shape->prefill_tokens);
    json_int(b, "num_decode", r->shape->num_decode);
    json_int(b, "decode_kv_tokens", r->shape->decode_kv_tokens);
    json_builder_end_object(b);
    json_builder_end_object(b);

    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

static void print_table(const Report *r)
{
    const SvPlan *plan = r->plan;
    int dp = MAX(plan->dp, 1), devices = sv_plan_devices(plan);
    int nodes = sv_predictor_nodes(r->predictor);
    printf("%s on %s, tp=%d pp=%d ep=%d", r->model->name, r->hw->name, plan->tp, plan->pp,
           plan->ep);
    if (dp > 1)
        printf(" dp=%d", dp);
    /* A format that covers the routed experts only (gpt-oss's MXFP4) says so. */
    gboolean experts_only =
        sv_model_quantizes_experts_only(r->model, plan->weight_dtype, plan->act_dtype);
    /* An expert load nobody stated is the model's router skew: say so. */
    double skew = sv_moe_load_model_skew(plan->moe_load, r->model);
    g_autofree char *routing =
        skew > 0 ? g_strdup_printf(", experts routed Zipf %g (the model's routing_skew)", skew)
                 : g_strdup("");
    printf(" (%d device%s on %d node%s, %s), %s activations, %s %sweights, %s KV%s; batch %s\n\n",
           devices, devices == 1 ? "" : "s", nodes, nodes == 1 ? "" : "s",
           sv_placement_names[plan->placement], sv_dtype_name(plan->act_dtype),
           sv_dtype_name(plan->weight_dtype), experts_only ? "expert " : "",
           sv_dtype_name(plan->kv_dtype), routing, r->batch);
    printf("%-14s %6s %14s %14s %7s  %s\n", "op", "count", "time/op (us)", "total (us)", "share",
           "coverage");
    gboolean any_coll = FALSE;
    for (guint i = 0; i < r->ops->len; i++) {
        const SvOpTime *o = &g_array_index(r->ops, SvOpTime, i);
        double total = o->count * o->time_s;
        printf("%-14s %6d %14.3f %14.3f %6.1f%%  %s\n", o->name, o->count, o->time_s * 1e6,
               total * 1e6, r->iteration_s > 0 ? 100.0 * total / r->iteration_s : 0.0,
               sv_coverage_name(o->coverage));
        any_coll = any_coll || o->group > 0;
    }
    if (any_coll) {
        printf("\n%-14s %6s %6s %6s %-9s %-12s %14s %14s\n", "collective", "count", "group",
               "nodes", "link", "algorithm", "bytes/op", "time/op (us)");
        for (guint i = 0; i < r->ops->len; i++) {
            const SvOpTime *o = &g_array_index(r->ops, SvOpTime, i);
            if (o->group > 0)
                printf("%-14s %6d %6d %6d %-9s %-12s %14.0f %14.3f\n", o->name, o->count, o->group,
                       o->domains, o->link, o->algo, o->bytes, o->time_s * 1e6);
        }
    }
    printf("\n%-6s %-12s %12s %7s\n", "stage", "layers", "time (ms)", "share");
    for (int i = 0; i < r->num_stages; i++) {
        int first, n;
        sv_predictor_stage_layers(r->predictor, i, &first, &n);
        g_autofree char *layers = g_strdup_printf("%d-%d", first, first + n - 1);
        printf("%-6d %-12s %12.3f %6.1f%%\n", i, layers, r->stages[i] * 1e3,
               r->iteration_s > 0 ? 100.0 * r->stages[i] / r->iteration_s : 0.0);
    }
    printf("\niteration: %.3f ms", r->iteration_s * 1e3);
    if (r->num_stages > 1) {
        double slowest = 0;
        for (int i = 0; i < r->num_stages; i++)
            slowest = MAX(slowest, r->stages[i]);
        printf(" (one micro-batch through %d stages; a full pipeline issues one every %.3f ms)",
               r->num_stages, slowest * 1e3);
    }
    printf("\n");
    double peak = sv_hw_matmul_peak(r->hw, plan->weight_dtype, plan->act_dtype);
    if (r->iteration_s > 0 && peak > 0)
        printf("model FLOPs: %.4g (MFU %.1f%% of %d devices' matmul peak)\n", r->flops,
               100.0 * r->flops / (r->iteration_s * peak * devices), devices);
    printf("memory per device: %.1f GB weights + %.1f GB reserves of %.1f GB usable; ",
           r->mem.weight_bytes / 1e9, (r->mem.activation_bytes + r->mem.runtime_bytes) / 1e9,
           r->mem.usable_bytes / 1e9);
    if (r->fits)
        printf("KV %.1f GB, %" G_GINT64_FORMAT " blocks of 16 tokens per replica\n",
               r->mem.kv_bytes / 1e9, r->mem.blocks);
    else
        printf("does not fit: %s\n", r->fit_message);
}

/* --moe-load: uniform, zipf:SKEW or measured:F1,F2,... */
static gboolean parse_moe_load(const char *text, SvMoeLoad *out, GError **error)
{
    const char *colon = strchr(text, ':');
    size_t klen = colon != NULL ? (size_t)(colon - text) : strlen(text);
    const char *arg = colon != NULL ? colon + 1 : NULL;
    if (klen == 7 && strncmp(text, "uniform", 7) == 0 && arg == NULL) {
        out->dist = SV_MOE_UNIFORM;
        return TRUE;
    }
    if (klen == 4 && strncmp(text, "zipf", 4) == 0 && arg != NULL) {
        char *end;
        out->skew = g_ascii_strtod(arg, &end);
        if (end != arg && *end == '\0' && out->skew > 0 && out->skew <= 100) {
            out->dist = SV_MOE_ZIPF;
            return TRUE;
        }
    }
    if (klen == 8 && strncmp(text, "measured", 8) == 0 && arg != NULL) {
        g_auto(GStrv) parts = g_strsplit(arg, ",", -1);
        int n = (int)g_strv_length(parts);
        out->frequencies = g_new0(double, MAX(n, 1));
        out->num_frequencies = n;
        double total = 0;
        gboolean ok = n > 0;
        for (int i = 0; ok && i < n; i++) {
            char *end;
            out->frequencies[i] = g_ascii_strtod(parts[i], &end);
            ok = end != parts[i] && *end == '\0' && out->frequencies[i] >= 0 &&
                 isfinite(out->frequencies[i]);
            total += out->frequencies[i];
        }
        if (ok && total > 0) {
            out->dist = SV_MOE_MEASURED;
            return TRUE;
        }
    }
    g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                "--moe-load: bad value '%s' (expected uniform, zipf:SKEW with SKEW > 0, or "
                "measured:F1,F2,... with one non-negative weight per expert)",
                text);
    return FALSE;
}

int sv_cmd_predict(int argc, char **argv)
{
    g_autofree char *model_name = NULL, *hw_name = NULL, *batch = NULL;
    g_autofree char *dtype = NULL, *quant = NULL, *kv_dtype = NULL;
    g_autofree char *placement = NULL, *moe_load = NULL, *expert_placement = NULL;
    g_autofree char *host_overheads = NULL, *moe_backend = NULL;
    int tp = 1, pp = 1, ep = 1, dp = 1;
    /* vLLM 0.11's default at max_num_seqs >= 256 (engine.max_cudagraph_capture_size). */
    int graph_tokens = 512;
    gboolean json = FALSE, no_custom_ar = FALSE, enforce_eager = FALSE;
    GOptionEntry entries[] = {
        {"model", 0, 0, G_OPTION_ARG_STRING, &model_name,
         "Model: a name under models/, a YAML path or a config.json (required)", "M"},
        {"hw", 0, 0, G_OPTION_ARG_STRING, &hw_name,
         "Hardware profile: a name under hwprofiles/ or a path (required)", "H"},
        {"tp", 0, 0, G_OPTION_ARG_INT, &tp, "Tensor-parallel size (default 1)", "N"},
        {"pp", 0, 0, G_OPTION_ARG_INT, &pp, "Pipeline-parallel size (default 1)", "N"},
        {"ep", 0, 0, G_OPTION_ARG_INT, &ep, "Expert-parallel size (default 1)", "N"},
        {"dp", 0, 0, G_OPTION_ARG_INT, &dp,
         "Attention data-parallel ranks per stage, MoE models (default 1)", "N"},
        {"placement", 0, 0, G_OPTION_ARG_STRING, &placement,
         "Devices on nodes: packed or stage-per-node (default packed)", "P"},
        {"dtype", 0, 0, G_OPTION_ARG_STRING, &dtype,
         "Activations: auto, bfloat16, float16, float32 (default auto)", "D"},
        {"quantization", 0, 0, G_OPTION_ARG_STRING, &quant,
         "Weights: none, fp8, fp4, nvfp4, mxfp4, int8, int4 (default none)", "Q"},
        {"kv-cache-dtype", 0, 0, G_OPTION_ARG_STRING, &kv_dtype,
         "KV cache: auto, fp8, fp8_e4m3, fp8_e5m2, bfloat16, float16 (default auto)", "D"},
        {"moe-load", 0, 0, G_OPTION_ARG_STRING, &moe_load,
         "Expert load: uniform, zipf:SKEW or measured:F1,F2,... (default: the model's "
         "routing_skew, uniform when it has none)",
         "L"},
        {"expert-placement", 0, 0, G_OPTION_ARG_STRING, &expert_placement,
         "Experts on EP ranks: linear or round_robin (default linear)", "S"},
        {"batch", 0, 0, G_OPTION_ARG_STRING, &batch,
         "The batch, e.g. prefill=512x2,decode=64@2048 (required)", "SPEC"},
        {"disable-custom-all-reduce", 0, 0, G_OPTION_ARG_NONE, &no_custom_ar,
         "Every all-reduce through NCCL, as vLLM's disable_custom_all_reduce", NULL},
        {"host-overheads", 0, 0, G_OPTION_ARG_STRING, &host_overheads,
         "Host time per step: default, none, or a profile of the hardware's overheads.profiles "
         "(as engine.host_overheads)",
         "NAME"},
        {"max-cudagraph-capture-size", 0, 0, G_OPTION_ARG_INT, &graph_tokens,
         "Largest step (tokens per attention rank) run from a CUDA graph; larger steps launch "
         "eagerly (as engine.max_cudagraph_capture_size; default 512)",
         "N"},
        {"enforce-eager", 0, 0, G_OPTION_ARG_NONE, &enforce_eager,
         "Every step without CUDA graphs (as engine.enforce_eager)", NULL},
        {"moe-backend", 0, 0, G_OPTION_ARG_STRING, &moe_backend,
         "Fused MoE kernels: auto, triton or flashinfer (as engine.moe_backend; default auto)",
         "B"},
        {"json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON instead of a table", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("");
    g_option_context_set_summary(ctx, predict_help);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!sv_cli_parse(ctx, &argc, &argv))
        return 2;
    if (argc > 1)
        return fail_usage("predict: unexpected argument '%s' (see servesim predict --help)",
                          argv[1]);
    if (model_name == NULL)
        return fail_usage("predict: %s is required (see servesim predict --help)", "--model");
    if (hw_name == NULL)
        return fail_usage("predict: %s is required (see servesim predict --help)", "--hw");
    if (batch == NULL)
        return fail_usage("predict: %s is required (see servesim predict --help)", "--batch");
    if (dp < 1)
        return fail_usage("predict: --dp must be at least 1, got %d", dp);
    if (graph_tokens < 0)
        return fail_usage("predict: --max-cudagraph-capture-size must be at least 0, got %d",
                          graph_tokens);

    /* Cheap checks first, so a typo in --batch is reported without loading. */
    g_autoptr(GError) error = NULL;
    SvBatchShape shape;
    SvDtype act, weights, kv;
    /* vLLM's expert_placement_strategy names, index = SvExpertPlacement. */
    static const char *const expert_place_names[] = {"linear", "round_robin", NULL};
    SvMoeLoad load = {0};
    int place_kind = SV_PLACEMENT_PACKED, expert_kind = SV_EXPERT_PLACE_LINEAR;
    int backend = SV_MOE_BACKEND_AUTO;
    gboolean ok =
        sv_batch_parse(batch, &shape, &error) &&
        pick_dtype("--dtype", dtype, dtype_names, dtype_values, &act, &error) &&
        pick_dtype("--quantization", quant, quant_names, quant_values, &weights, &error) &&
        pick_dtype("--kv-cache-dtype", kv_dtype, kv_names, kv_values, &kv, &error) &&
        pick_name("--placement", placement, sv_placement_names, &place_kind, &error) &&
        pick_name("--expert-placement", expert_placement, expert_place_names, &expert_kind,
                  &error) &&
        pick_name("--moe-backend", moe_backend, sv_moe_backend_names, &backend, &error);
    if (ok && moe_load != NULL) {
        ok = parse_moe_load(moe_load, &load, &error);
        load.given = ok; /* uniform then overrides the model's routing_skew */
    }
    load.placement = (SvExpertPlacement)expert_kind;
    if (!ok) {
        sv_moe_load_clear(&load);
        return sv_cli_fail(error);
    }

    g_autoptr(SvModel) model = sv_model_load(model_name, &error);
    g_autoptr(SvHw) hw = model != NULL ? sv_hw_load(hw_name, &error) : NULL;
    if (model != NULL && model->num_experts <= 0 && (moe_load != NULL || expert_placement != NULL))
        g_set_error(&error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "--moe-load and --expert-placement apply to mixture-of-experts models; %s "
                    "is dense",
                    model->name);
    if (model != NULL && error == NULL && model->num_experts <= 0 && backend != SV_MOE_BACKEND_AUTO)
        g_set_error(&error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "--moe-backend %s needs a mixture-of-experts model; %s is dense",
                    sv_moe_backend_names[backend], model->name);
    if (model != NULL && error == NULL && model->max_position_embeddings > 0 &&
        batch_longest(batch) > model->max_position_embeddings)
        g_set_error(&error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "--batch: a sequence of %" G_GINT64_FORMAT " tokens (context plus new "
                    "tokens) exceeds the %d tokens %s supports (max_position_embeddings)",
                    batch_longest(batch), model->max_position_embeddings, model->name);
    if (hw == NULL || error != NULL) {
        sv_moe_load_clear(&load);
        return sv_cli_fail(error);
    }

    /* "auto" resolves as the config does: the model's own 16/32-bit type. */
    if (act == SV_DTYPE_COUNT)
        act = model->dtype == SV_DTYPE_FP16 || model->dtype == SV_DTYPE_FP32 ? model->dtype
                                                                             : SV_DTYPE_BF16;
    SvPlan plan = {
        .tp = tp,
        .pp = pp,
        .ep = ep,
        .act_dtype = act,
        .weight_dtype = weights == SV_DTYPE_COUNT ? act : weights,
        .kv_dtype = kv == SV_DTYPE_COUNT ? act : kv,
        .dp = dp,
        .placement = (SvPlacementKind)place_kind,
        .moe_load = &load,
        .disable_custom_all_reduce = no_custom_ar,
        /* "default" is the profile's own terms, as in a study. */
        .host_overheads = host_overheads != NULL && strcmp(host_overheads, "default") != 0
                              ? host_overheads
                              : NULL,
        .cudagraph_limit = TRUE,
        .cudagraph_max_tokens = enforce_eager ? 0 : graph_tokens,
        .moe_backend = (SvMoeBackend)backend,
    };
    g_autoptr(SvPredictor) predictor = sv_predictor_new(model, hw, &plan, &error);
    if (predictor == NULL) {
        sv_moe_load_clear(&load);
        return sv_cli_fail(error);
    }

    Report r = {.model = model, .hw = hw, .plan = &plan, .batch = batch, .shape = &shape};
    r.predictor = predictor;
    r.num_stages = sv_predictor_num_stages(predictor);
    g_autofree double *stages = g_new0(double, r.num_stages);
    r.stages = stages;
    sv_predictor_stage_times(predictor, &shape, stages, &r.flops);
    g_autoptr(GArray) ops = sv_predictor_ops(predictor, &shape, &r.iteration_s);
    r.ops = ops;
    /* Memory as a study with vLLM's defaults would size it. */
    g_autoptr(GError) fit = NULL;
    r.fits = sv_plan_check_fit(model, hw, &plan, 0.9, 16, 0, &r.mem, &fit) == SV_FIT_OK;
    r.fit_message = fit != NULL ? fit->message : NULL;
    if (json)
        print_json(&r);
    else
        print_table(&r);
    sv_moe_load_clear(&load);
    return 0;
}
