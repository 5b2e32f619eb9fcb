/* Fuzz harness: the --batch SPEC parser of `servesim predict`
 * (sv_batch_parse), and the predictor on every batch it accepts, as
 * `predict` runs it: a dense model, a mixture of experts and a pipeline. */
#include "fuzz-util.h"
#include "perf/predictor.h"

#include <math.h>

typedef struct {
    const char *model, *hw;
    int tp, pp, ep;
} Target;

static const Target targets[] = {
    {"llama-3-8b", "h100-sxm", 1, 1, 1},
    {"mixtral-8x7b", "a100-sxm-80g", 2, 2, 2},
};
#define N_TARGETS G_N_ELEMENTS(targets)

/* Loaded once: the harness under test is the parser and the predictor. */
static SvModel *models[N_TARGETS];
static SvHw *hws[N_TARGETS];
static SvPredictor *predictors[N_TARGETS];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sv_fuzz_setup();
    for (size_t i = 0; i < N_TARGETS; i++) {
        g_autoptr(GError) error = NULL;
        models[i] = sv_model_load(targets[i].model, &error);
        hws[i] = models[i] != NULL ? sv_hw_load(targets[i].hw, &error) : NULL;
        SvPlan plan = {.tp = targets[i].tp,
                       .pp = targets[i].pp,
                       .ep = targets[i].ep,
                       .act_dtype = SV_DTYPE_BF16,
                       .weight_dtype = SV_DTYPE_BF16,
                       .kv_dtype = SV_DTYPE_BF16};
        predictors[i] = hws[i] != NULL ? sv_predictor_new(models[i], hws[i], &plan, &error) : NULL;
        if (predictors[i] == NULL) {
            fprintf(stderr, "fuzz_batch: %s\n", error ? error->message : "?");
            abort();
        }
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    g_autofree char *spec = g_strndup((const char *)data, size);
    SvBatchShape shape;
    g_autoptr(GError) error = NULL;
    if (!sv_batch_parse(spec, &shape, &error)) {
        if (error == NULL)
            abort();
        return 0;
    }
    for (size_t i = 0; i < N_TARGETS; i++) {
        SvPredictor *p = predictors[i];
        int stages = sv_predictor_num_stages(p);
        g_autofree double *stage_s = g_new0(double, stages);
        double flops = 0, iteration_s = 0;
        sv_predictor_stage_times(p, &shape, stage_s, &flops);
        g_autoptr(GArray) ops = sv_predictor_ops(p, &shape, &iteration_s);
        /* A time the CLI would print must be a number. */
        if (!isfinite(iteration_s) || iteration_s < 0)
            abort();
        for (guint k = 0; k < ops->len; k++) {
            const SvOpTime *op = &g_array_index(ops, SvOpTime, k);
            if (!isfinite(op->time_s) || op->time_s < 0)
                abort();
        }
        sv_predictor_iteration_ns(p, &shape, &flops);
    }
    return 0;
}
