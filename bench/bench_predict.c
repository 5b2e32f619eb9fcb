/* Predictor-speed benchmark: the cost of one iteration-time lookup, cold
 * (a batch shape never seen: the op list is built and every op looked up
 * in the calibrated tables or timed by the roofline) and memoised (a shape
 * seen before: one hash probe for a decode-only batch, while a batch with
 * a prefill chunk is put together from the memo's per-part caches every
 * time, predictor.c, which costs more than a probe; "misses" counts both).
 * The serving engine asks once per simulated iteration, so these numbers
 * bound the simulator's speed.
 * Usage: bench_predict [MODEL [HW [TP]]] (default llama-3-8b h100-sxm 1). */
#include "hw/hw.h"
#include "model/model.h"
#include "perf/predictor.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <string.h>

#define NUM_SHAPES 20000

/* Serving-like batches: 1-256 decodes at contexts 1-8192 spread over a few
 * length classes, and every fourth batch a prefill chunk. */
static void make_shape(GRand *r, SvBatchShape *s)
{
    memset(s, 0, sizeof *s);
    int decodes = g_rand_int_range(r, 1, 257);
    for (int i = 0; i < decodes; i++)
        sv_batch_add_decode(s, 1, g_rand_int_range(r, 1, 8193));
    if (g_rand_int_range(r, 0, 4) == 0)
        sv_batch_add_prefill(s, g_rand_int_range(r, 16, 2049), g_rand_int_range(r, 0, 2048));
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    const char *model_name = argc > 1 ? argv[1] : "llama-3-8b";
    const char *hw_name = argc > 2 ? argv[2] : "h100-sxm";
    int tp = argc > 3 ? atoi(argv[3]) : 1;
    g_autoptr(GError) error = NULL;
    g_autoptr(SvModel) model = sv_model_load(model_name, &error);
    g_autoptr(SvHw) hw = model ? sv_hw_load(hw_name, &error) : NULL;
    if (hw == NULL) {
        fprintf(stderr, "bench_predict: %s\n", error->message);
        return 2;
    }
    SvPlan plan = {.tp = tp,
                   .pp = 1,
                   .ep = 1,
                   .act_dtype = SV_DTYPE_BF16,
                   .weight_dtype = SV_DTYPE_BF16,
                   .kv_dtype = SV_DTYPE_BF16};
    g_autoptr(SvPredictor) p = sv_predictor_new(model, hw, &plan, &error);
    if (p == NULL) {
        fprintf(stderr, "bench_predict: %s\n", error->message);
        return 2;
    }
    SvBatchShape *shapes = g_new(SvBatchShape, NUM_SHAPES);
    GRand *r = g_rand_new_with_seed(1);
    for (int i = 0; i < NUM_SHAPES; i++)
        make_shape(r, &shapes[i]);
    g_rand_free(r);

    /* Cold: distinct shapes into a fresh memo (nearly all misses). */
    double flops;
    SvTimeNs sum = 0;
    gint64 t0 = g_get_monotonic_time();
    for (int i = 0; i < NUM_SHAPES; i++)
        sum += sv_predictor_iteration_ns(p, &shapes[i], &flops);
    double cold_s = (double)(g_get_monotonic_time() - t0) * 1e-6;
    uint64_t hits, misses;
    sv_predictor_memo_stats(p, &hits, &misses);

    /* Memoised: shapes seen before (all hits). A run's consecutive
     * iterations revisit a few hundred shapes, which stay in cache; all
     * 20,000 at random mostly miss the cache, so that case is shown too. */
    int rounds = 50, few = 500;
    t0 = g_get_monotonic_time();
    for (int k = 0; k < rounds * (NUM_SHAPES / few); k++)
        for (int i = 0; i < few; i++)
            sum += sv_predictor_iteration_ns(p, &shapes[i], &flops);
    double warm_s = (double)(g_get_monotonic_time() - t0) * 1e-6;
    t0 = g_get_monotonic_time();
    for (int k = 0; k < rounds; k++)
        for (int i = 0; i < NUM_SHAPES; i++)
            sum += sv_predictor_iteration_ns(p, &shapes[i], &flops);
    double all_s = (double)(g_get_monotonic_time() - t0) * 1e-6;

    /* What the memo's bucketing costs in accuracy: memoised against the
     * exact computation of each shape. */
    double worst = 0, mean = 0;
    for (int i = 0; i < NUM_SHAPES; i++) {
        double exact = sv_predictor_stage_times(p, &shapes[i], NULL, NULL);
        double memo = sv_ns_to_s(sv_predictor_iteration_ns(p, &shapes[i], NULL));
        double e = fabs(memo / exact - 1.0);
        worst = MAX(worst, e);
        mean += e / NUM_SHAPES;
    }

    printf("predictor:   %s on %s tp=%d (%s)\n", model_name, hw_name, tp,
           hw->calib != NULL ? "calibrated tables" : "roofline only");
    printf("cold:        %.2f us per lookup (%d shapes, %" G_GUINT64_FORMAT " misses)\n",
           cold_s / NUM_SHAPES * 1e6, NUM_SHAPES, misses);
    printf("memoised:    %.0f ns per lookup (%d shapes in turn), %.0f ns (all %d in turn)\n",
           warm_s / ((double)rounds * NUM_SHAPES) * 1e9, few,
           all_s / ((double)rounds * NUM_SHAPES) * 1e9, NUM_SHAPES);
    printf("memo error:  mean %.3f %%, max %.2f %% (memoised vs exact, same shapes)\n", 100 * mean,
           100 * worst);
    printf("checksum:    %" G_GINT64_FORMAT "\n", sum);
    g_free(shapes);
    return 0;
}
