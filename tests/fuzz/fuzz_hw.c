/* Fuzz harness: hardware profile loading (sv_hw_load on a path), with its
 * calibrated tables; a profile that loads then times one iteration of
 * Llama 3 8B, which looks up every kind of table it may hold. */
#include "fuzz-util.h"
#include "hw/hw.h"
#include "perf/predictor.h"

#include <math.h>

static SvModel *model;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sv_fuzz_setup();
    model = sv_model_load("llama-3-8b", NULL);
    if (model == NULL)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = sv_fuzz_write("hw/profile.yaml", data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvHw) hw = sv_hw_load(path, &error);
    if ((hw == NULL) == (error == NULL))
        abort();
    if (hw == NULL)
        return 0;
    sv_hw_free(sv_hw_copy(hw));
    SvPlan plan = {.tp = 1,
                   .pp = 1,
                   .ep = 1,
                   .act_dtype = SV_DTYPE_BF16,
                   .weight_dtype = SV_DTYPE_BF16,
                   .kv_dtype = SV_DTYPE_BF16};
    g_autoptr(SvPredictor) p = sv_predictor_new(model, hw, &plan, &error);
    if (p == NULL)
        return 0;
    SvBatchShape shape;
    if (!sv_batch_parse("prefill=512x2@1024,decode=64@2048", &shape, NULL))
        abort();
    double iteration_s = 0;
    GArray *ops = sv_predictor_ops(p, &shape, &iteration_s);
    if (!isfinite(iteration_s) || iteration_s < 0 || ops->len == 0)
        abort();
    g_array_unref(ops);
    return 0;
}
