/* The power model's part of a hardware profile (power: section): the
 * active, compute and memory power of power/power.h, the maximum SM clock,
 * and how power and memory-bound time follow the clock. Profiles fitted by
 * `servesim calibrate --power` carry measured values; the others get the
 * defaults below, scaled to their own idle and maximum power. */
#include "hw/hw-private.h"

#include <math.h>

/* Defaults as fractions of (max_w - idle_w), from the H100 SXM fit
 * (hwprofiles/h100-sxm.yaml, validation/power/): an assumption for devices
 * with no measured power, that they spend their dynamic range alike. */
#define DEFAULT_ACTIVE_FRACTION  0.109 /* 68.4 / (700 - 75) */
#define DEFAULT_COMPUTE_FRACTION 1.837 /* 1147.9 / 625 */
#define DEFAULT_MEMORY_FRACTION  0.787 /* 491.9 / 625 */
/* SM power ~ f^1.56: H100 SplitwiseSim pcap (splitwise_sim/perf_model.csv,
 * h100-80gb-pcap vs h100-80gb: a 70 % power cap, dgx-h100-pcap.yaml's 7140
 * of dgx-h100.yaml's 10200 W, makes prompt_time 1.30x and leaves
 * token_time unchanged); hwprofiles/README.md derives it. */
#define DEFAULT_CLOCK_EXPONENT 1.56
/* Memory-bound kernels lose 5 % of the clock's slowdown: decode is "largely
 * insensitive to GPU frequency" (Maliakel et al., arXiv 2501.08219, 1-6 %
 * latency for a large clock cut) and SplitwiseSim's capped H100 decodes as
 * fast as the uncapped one. Assumption for the exact figure. */
#define DEFAULT_MEMORY_SENSITIVITY 0.05

#define MAX_W   1e5
#define MAX_MHZ 1e5
#define MAX_EXP 4.0

/* Optional number under power: in (0, max] (or [0, max] when !positive). */
static gboolean opt_number(const SvYDoc *doc, const SvYNode *power, const char *key, double max,
                           gboolean positive, double def, double *out, GError **error)
{
    const SvYNode *n = sv_ynode_get(power, key);
    *out = def;
    if (n == NULL)
        return TRUE;
    g_autofree char *path = g_strdup_printf("power.%s", key);
    return sv_ynode_bounded(doc, n, path, positive, 0, max, out, error);
}

gboolean sv__hw_read_power_model(const SvYDoc *doc, const SvYNode *power, SvHw *hw, GError **error)
{
    double range = hw->max_power_w - hw->idle_power_w;
    if (!opt_number(doc, power, "active_w", MAX_W, TRUE, DEFAULT_ACTIVE_FRACTION * range,
                    &hw->active_power_w, error) ||
        !opt_number(doc, power, "compute_w", MAX_W, TRUE, DEFAULT_COMPUTE_FRACTION * range,
                    &hw->compute_power_w, error) ||
        !opt_number(doc, power, "memory_w", MAX_W, TRUE, DEFAULT_MEMORY_FRACTION * range,
                    &hw->memory_power_w, error) ||
        !opt_number(doc, power, "sm_clock_mhz", MAX_MHZ, TRUE, 0, &hw->max_sm_clock_mhz, error) ||
        !opt_number(doc, power, "clock_power_exponent", MAX_EXP, TRUE, DEFAULT_CLOCK_EXPONENT,
                    &hw->clock_power_exponent, error) ||
        !opt_number(doc, power, "memory_clock_sensitivity", 1.0, FALSE, DEFAULT_MEMORY_SENSITIVITY,
                    &hw->clock_memory_sensitivity, error) ||
        !opt_number(doc, power, "moe_active_w", MAX_W, FALSE, 0, &hw->moe_active_power_w, error) ||
        !opt_number(doc, power, "host_w", MAX_W, FALSE, 0, &hw->host_power_w, error))
        return FALSE;
    /* Below 1 the model would draw less per operation at a higher clock. */
    if (hw->clock_power_exponent < 1)
        return sv_ydoc_error(
            doc, sv_ynode_get(power, "clock_power_exponent"), error, SV_ERROR_INVALID,
            "power.clock_power_exponent must be at least 1, got %g", hw->clock_power_exponent);
    /* Idle plus the busy floor must leave room below the board limit, or
     * every iteration would sit at max_w whatever it does. */
    if (hw->idle_power_w + hw->active_power_w >= hw->max_power_w)
        return sv_ydoc_error(doc, sv_ynode_get(power, "active_w"), error, SV_ERROR_INVALID,
                             "power.idle_w + power.active_w (%g + %g W) must be below "
                             "power.max_w (%g W)",
                             hw->idle_power_w, hw->active_power_w, hw->max_power_w);
    return TRUE;
}
