/* Device power, energy, clocks and caps, the cluster power budget and cost.
 * Each device's power while an iteration runs follows the energy roofline
 * (Choi et al., "A roofline model of energy", IPDPS 2013): a static part, a
 * part for the SMs being busy, and parts proportional to the achieved FLOP
 * rate and memory bandwidth (sv_device_power_w has the formula); between
 * iterations a device draws its idle power. The serving engine reports each
 * iteration when it is timed (sv_power_iteration) and when it ends; this
 * module integrates energy per replica at those boundaries (never per
 * token), throttles iterations that a power cap or a locked clock slows,
 * and runs the cluster budget's capping controller as an engine component. */
#ifndef SV_POWER_H
#define SV_POWER_H

#include "config/config.h"
#include "config/ynode.h"
#include "core/engine.h"
#include "metrics/metrics.h"
#include "perf/predictor.h"

G_BEGIN_DECLS

/* The lowest SM clock, as a fraction of the maximum, that a power cap may
 * push a device to. Assumption: NVIDIA's power management rarely throttles
 * a busy data-centre GPU below about a quarter of its boost clock (A100
 * 1410 -> ~350 MHz); a cap that needs less is reported as unmet. */
#define SV_POWER_MIN_CLOCK 0.25

/* One device kind's power model, resolved from its hwprofile. */
typedef struct {
    double idle_w;             /* W with nothing running */
    double max_w;              /* W, the board limit (TDP); demand above it is clamped */
    double active_w;           /* W above idle while an iteration runs, at the maximum clock */
    double compute_w;          /* W at 100 % of peak_flops, at the maximum clock */
    double memory_w;           /* W at 100 % of peak_bytes_per_s */
    double host_w;             /* W above active through the iteration's host time */
    double peak_flops;         /* FLOP/s, the plan's matrix peak */
    double peak_bytes_per_s;   /* B/s, memory peak */
    double clock_exp;          /* SM power scales as f^clock_exp */
    double memory_sensitivity; /* memory-bound time grows by this x (1/f - 1) */
} SvDevicePower;

/* Fill @out from @hw for GEMMs of @wdtype weights and @adtype activations. */
void sv_device_power_init(SvDevicePower *out, const SvHw *hw, SvDtype wdtype, SvDtype adtype);

/* Power of one device while it runs @profile's iteration at SM clock @f
 * (fraction of the maximum), the iteration lasting @extra_s seconds beyond
 * the profile's modelled time (copies, test hooks). With D(f) the duration
 * at f less the profile's eager time (an eager step draws through it what
 * it draws through the rest), u_c = FLOPs / (peak_flops D(f)), u_m = bytes
 * / (peak_bytes D(f)) and s_h = the profile's host time (total - compute -
 * memory - comm - eager) / D(f):
 *   P(f) = idle + active f^g + compute u_c f^(g-1) + memory u_m + host s_h
 * (g = clock_exp: the SM domain's switching power per operation scales as
 * f^(g-1), so at a fixed workload its power goes as f^g; HBM power follows
 * the bytes moved; the host term is the GPU work hidden in the fitted host
 * overheads, see power.c). Not clamped. */
double sv_device_power_w(const SvDevicePower *dev, const SvIterProfile *profile, double extra_s,
                         double f);

/* The clock an iteration runs at under a per-device power limit @cap_w (0 =
 * none): the highest f in [SV_POWER_MIN_CLOCK, @f_max] at which its power,
 * scaled so that the maximum clock draws at most max_w, stays within the
 * cap. *@power_w receives that power (clamped to max_w) and *@unmet whether
 * even the lowest clock exceeds the cap. */
double sv_device_power_clock(const SvDevicePower *dev, const SvIterProfile *profile, double extra_s,
                             double f_max, double cap_w, double *power_w, gboolean *unmet);

typedef struct SvPower SvPower;

/* The run's power state for @config, whose power: section it checks
 * against the pools' hardware (errors name the study). Replicas are added
 * with sv_power_add_replica in index order. (transfer full) */
SvPower *sv_power_new(const SvConfig *config, GError **error);
void sv_power_free(SvPower *power);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvPower, sv_power_free)

/* Register replica number (index) sv_power_num_replicas() of pool @pool
 * (index into config->pools) with @devices devices. */
void sv_power_add_replica(SvPower *power, int pool, int devices);
/* The replica just added runs as a pipeline of @stages stages, its devices
 * split evenly among them: each stage's devices then draw power on their
 * own timeline (sv_power_pipeline_stages). Before sv_power_attach. */
void sv_power_replica_stages(SvPower *power, int replica, int stages);
int sv_power_num_replicas(const SvPower *power);

/* The clock factor the predictor of pool @pool runs at (locked clock), 1
 * when not locked. */
double sv_power_pool_clock(const SvPower *power, int pool);

/* Run the budget controller on @engine (a no-op without a budget). */
void sv_power_attach(SvPower *power, SvEngine *engine);

/* Replica @replica starts an iteration at @start_ns that the predictor
 * timed at @dt_ns (at the pool's locked clock), whose model part is
 * @profile (NULL: no model work, as with test time functions). Returns the
 * iteration's duration after any power cap, and its energy over all the
 * replica's devices in *@energy_j. */
SvTimeNs sv_power_iteration(SvPower *power, int replica, SvTimeNs start_ns, SvTimeNs dt_ns,
                            const SvIterProfile *profile, double *energy_j);
/* Replica @replica's iteration ended at @now_ns. */
void sv_power_iteration_end(SvPower *power, int replica, SvTimeNs now_ns);

/* A batch is launched into pipeline replica @replica: stage s will run it
 * for @stage_ns[s] (the predictor's time at the pool's locked clock) plus
 * @copy_ns (swap copies, not stretched by the clock); @profile is the
 * whole batch's (NULL: no model work). Prices each stage's part as an
 * iteration of its own devices: a power cap (the pool's, or the budget's
 * on that stage) slows its compute-bound share, and stage_ns[s] receives
 * the stretched time (copy excluded). Returns the batch's energy over all
 * stages. Then call sv_power_pipeline_launch with the stages' end times. */
double sv_power_pipeline_stages(SvPower *power, int replica, SvTimeNs *stage_ns, SvTimeNs copy_ns,
                                const SvIterProfile *profile);
/* The batch priced by sv_power_pipeline_stages leaves stage s at
 * @stage_end_ns[s] (having run its stretched time up to then): each
 * stage's devices draw the stage's power over that interval and idle
 * outside it (bubbles included). Draw changes in the future are engine
 * events of the power component. */
void sv_power_pipeline_launch(SvPower *power, int replica, SvTimeNs now_ns,
                              const SvTimeNs *stage_end_ns);

/* Iteration energy given to requests (by their tokens) and left over (a
 * step that only swapped): the sim reports each iteration's split. */
void sv_power_attributed(SvPower *power, double attributed_j);

/* Mean cluster power since the previous call (or time 0) up to @now_ns,
 * W; per-pool means go to @pool_w (config->pools->len values) when not
 * NULL. For timeseries rows. */
double sv_power_sample(SvPower *power, SvTimeNs now_ns, double *pool_w);

/* Close the run at @end_ns: idle energy up to it, then the totals, cost and
 * carbon into @totals (energy_j, power_mean_w, power_peak_w, cost_usd and
 * the power section; pointers stay valid while @power lives). */
void sv_power_finish(SvPower *power, SvTimeNs end_ns, SvRunTotals *totals);

/* Read the study's power: section (absent: defaults) into config->power.
 * Runs after the pools' hardware is loaded, so that it can refuse a cap
 * below a device's idle power or a budget below the cluster's idle draw,
 * with the numbers. Errors: SV_CONFIG_ERROR at the value's mark. */
gboolean sv__power_config_read(const SvYDoc *doc, const SvYNode *root, SvConfig *config,
                               GError **error);

G_END_DECLS

#endif /* SV_POWER_H */
