/* servesim predict: the predicted time of one engine iteration (a batch of
 * prefill chunks and decode tokens) for a model on a hardware profile under a
 * TP/PP/EP plan, op by op, as a table or as JSON for tools and plots. It is
 * the quickest way to see what the simulator believes one step costs. */
#include "cli/commands.h"
#include "hw/hw.h"
#include "model/model.h"
#include "perf/predictor.h"

#include <json-glib/json-glib.h>
#include <stdarg.h>
#include <string.h>

static const char predict_help[] =
    "Predict one iteration's time on one replica, op by op.\n"
    "\n"
    "Example:\n"
    "  servesim predict --model llama-3-8b --hw h100-sxm --tp 2 \\\n"
    "      --batch prefill=512x2,decode=64@2048\n"
    "\n"
    "--batch is a comma list of prefill=TOKENSxCOUNT[@CONTEXT] (COUNT chunks of\n"
    "TOKENS new tokens after CONTEXT cached ones) and decode=COUNT@CONTEXT (COUNT\n"
    "sequences with CONTEXT tokens each) terms. --json prints\n"
    "{\"iteration_s\", \"stages\", \"ops\": [{\"name\", \"count\", \"time_s\", \"coverage\"...}]}\n"
    "where time_s is one occurrence of the op on one device. Exit status: 0\n"
    "success, 2 bad input, 1 internal error.";

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

/* Map @value (NULL = the first name, "auto"/"none") through @names/@values. */
static gboolean pick_dtype(const char *option, const char *value, const char *const *names,
                           const SvDtype *values, SvDtype *out, GError **error)
{
    if (value == NULL) {
        *out = values[0];
        return TRUE;
    }
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(value, names[i]) == 0) {
            *out = values[i];
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

static void print_json(const SvModel *model, const SvHw *hw, const SvPlan *plan,
                       const SvBatchShape *shape, GArray *ops, const double *stages, int num_stages,
                       double iteration_s, double flops)
{
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "iteration_s");
    json_builder_add_double_value(b, iteration_s);
    json_builder_set_member_name(b, "stages");
    json_builder_begin_array(b);
    for (int i = 0; i < num_stages; i++)
        json_builder_add_double_value(b, stages[i]);
    json_builder_end_array(b);
    json_builder_set_member_name(b, "ops");
    json_builder_begin_array(b);
    for (guint i = 0; i < ops->len; i++) {
        const SvOpTime *o = &g_array_index(ops, SvOpTime, i);
        json_builder_begin_object(b);
        json_builder_set_member_name(b, "name");
        json_builder_add_string_value(b, o->name);
        json_builder_set_member_name(b, "count");
        json_builder_add_int_value(b, o->count);
        json_builder_set_member_name(b, "time_s");
        json_builder_add_double_value(b, o->time_s);
        json_builder_set_member_name(b, "coverage");
        json_builder_add_string_value(b, sv_coverage_name(o->coverage));
        json_builder_set_member_name(b, "flops");
        json_builder_add_double_value(b, o->flops);
        json_builder_set_member_name(b, "bytes");
        json_builder_add_double_value(b, o->bytes);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    /* Context, so a saved result says what it was computed for. */
    json_builder_set_member_name(b, "model_flops");
    json_builder_add_double_value(b, flops);
    json_builder_set_member_name(b, "model");
    json_builder_add_string_value(b, model->name ? model->name : "");
    json_builder_set_member_name(b, "hw");
    json_builder_add_string_value(b, hw->name ? hw->name : "");
    json_builder_set_member_name(b, "plan");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "tp");
    json_builder_add_int_value(b, plan->tp);
    json_builder_set_member_name(b, "pp");
    json_builder_add_int_value(b, plan->pp);
    json_builder_set_member_name(b, "ep");
    json_builder_add_int_value(b, plan->ep);
    json_builder_set_member_name(b, "dtype");
    json_builder_add_string_value(b, sv_dtype_name(plan->act_dtype));
    json_builder_set_member_name(b, "weight_dtype");
    json_builder_add_string_value(b, sv_dtype_name(plan->weight_dtype));
    json_builder_set_member_name(b, "kv_cache_dtype");
    json_builder_add_string_value(b, sv_dtype_name(plan->kv_dtype));
    json_builder_end_object(b);
    json_builder_set_member_name(b, "batch");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "num_prefill");
    json_builder_add_int_value(b, shape->num_prefill);
    json_builder_set_member_name(b, "prefill_tokens");
    json_builder_add_int_value(b, shape->prefill_tokens);
    json_builder_set_member_name(b, "num_decode");
    json_builder_add_int_value(b, shape->num_decode);
    json_builder_set_member_name(b, "decode_kv_tokens");
    json_builder_add_int_value(b, shape->decode_kv_tokens);
    json_builder_end_object(b);
    json_builder_end_object(b);

    g_autoptr(JsonGenerator) gen = json_generator_new();
    g_autoptr(JsonNode) root = json_builder_get_root(b);
    json_generator_set_root(gen, root);
    json_generator_set_pretty(gen, TRUE);
    g_autofree char *text = json_generator_to_data(gen, NULL);
    printf("%s\n", text);
}

static void print_table(const SvModel *model, const SvHw *hw, const SvPlan *plan, const char *batch,
                        GArray *ops, const double *stages, int num_stages, double iteration_s,
                        double flops)
{
    printf("%s on %s, tp=%d pp=%d ep=%d, %s activations, %s weights, %s KV; batch %s\n\n",
           model->name, hw->name, plan->tp, plan->pp, plan->ep, sv_dtype_name(plan->act_dtype),
           sv_dtype_name(plan->weight_dtype), sv_dtype_name(plan->kv_dtype), batch);
    printf("%-14s %6s %14s %14s %7s  %s\n", "op", "count", "time/op (us)", "total (us)", "share",
           "coverage");
    for (guint i = 0; i < ops->len; i++) {
        const SvOpTime *o = &g_array_index(ops, SvOpTime, i);
        double total = o->count * o->time_s;
        printf("%-14s %6d %14.3f %14.3f %6.1f%%  %s\n", o->name, o->count, o->time_s * 1e6,
               total * 1e6, iteration_s > 0 ? 100.0 * total / iteration_s : 0.0,
               sv_coverage_name(o->coverage));
    }
    printf("\niteration: %.3f ms", iteration_s * 1e3);
    if (num_stages > 1) {
        printf(" (sum of %d stages:", num_stages);
        for (int i = 0; i < num_stages; i++)
            printf(" %.3f", stages[i] * 1e3);
        printf(" ms)");
    }
    printf("\n");
    int devices = plan->tp * plan->pp;
    double peak = sv_hw_matmul_peak(hw, plan->weight_dtype, plan->act_dtype);
    if (iteration_s > 0 && peak > 0)
        printf("model FLOPs: %.4g (MFU %.1f%% of %d devices' matmul peak)\n", flops,
               100.0 * flops / (iteration_s * peak * devices), devices);
}

int sv_cmd_predict(int argc, char **argv)
{
    g_autofree char *model_name = NULL, *hw_name = NULL, *batch = NULL;
    g_autofree char *dtype = NULL, *quant = NULL, *kv_dtype = NULL;
    int tp = 1, pp = 1, ep = 1;
    gboolean json = FALSE;
    GOptionEntry entries[] = {
        {"model", 0, 0, G_OPTION_ARG_STRING, &model_name,
         "Model: a name under models/, a YAML path or a config.json (required)", "M"},
        {"hw", 0, 0, G_OPTION_ARG_STRING, &hw_name,
         "Hardware profile: a name under hwprofiles/ or a path (required)", "H"},
        {"tp", 0, 0, G_OPTION_ARG_INT, &tp, "Tensor-parallel size (default 1)", "N"},
        {"pp", 0, 0, G_OPTION_ARG_INT, &pp, "Pipeline-parallel size (default 1)", "N"},
        {"ep", 0, 0, G_OPTION_ARG_INT, &ep, "Expert-parallel size (default 1)", "N"},
        {"dtype", 0, 0, G_OPTION_ARG_STRING, &dtype,
         "Activations: auto, bfloat16, float16, float32 (default auto)", "D"},
        {"quantization", 0, 0, G_OPTION_ARG_STRING, &quant,
         "Weights: none, fp8, fp4, nvfp4, mxfp4, int8, int4 (default none)", "Q"},
        {"kv-cache-dtype", 0, 0, G_OPTION_ARG_STRING, &kv_dtype,
         "KV cache: auto, fp8, fp8_e4m3, fp8_e5m2, bfloat16, float16 (default auto)", "D"},
        {"batch", 0, 0, G_OPTION_ARG_STRING, &batch,
         "The batch, e.g. prefill=512x2,decode=64@2048 (required)", "SPEC"},
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

    /* Cheap checks first, so a typo in --batch is reported without loading. */
    g_autoptr(GError) error = NULL;
    SvBatchShape shape;
    SvDtype act, weights, kv;
    if (!sv_batch_parse(batch, &shape, &error) ||
        !pick_dtype("--dtype", dtype, dtype_names, dtype_values, &act, &error) ||
        !pick_dtype("--quantization", quant, quant_names, quant_values, &weights, &error) ||
        !pick_dtype("--kv-cache-dtype", kv_dtype, kv_names, kv_values, &kv, &error))
        return sv_cli_fail(error);

    g_autoptr(SvModel) model = sv_model_load(model_name, &error);
    if (model == NULL)
        return sv_cli_fail(error);
    g_autoptr(SvHw) hw = sv_hw_load(hw_name, &error);
    if (hw == NULL)
        return sv_cli_fail(error);

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
    };
    g_autoptr(SvPredictor) predictor = sv_predictor_new(model, hw, &plan, &error);
    if (predictor == NULL)
        return sv_cli_fail(error);

    int num_stages = sv_predictor_num_stages(predictor);
    g_autofree double *stages = g_new0(double, num_stages);
    double flops = 0, iteration_s = 0;
    sv_predictor_stage_times(predictor, &shape, stages, &flops);
    g_autoptr(GArray) ops = sv_predictor_ops(predictor, &shape, &iteration_s);
    if (json)
        print_json(model, hw, &plan, &shape, ops, stages, num_stages, iteration_s, flops);
    else
        print_table(model, hw, &plan, batch, ops, stages, num_stages, iteration_s, flops);
    return 0;
}
