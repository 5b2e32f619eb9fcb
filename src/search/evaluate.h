/* Evaluating one plan: build its config from the study's tree, check that it
 * fits (the config loader's own memory checks), bound it (bound.h) and
 * simulate it in-process: at the target load (`plan`), or over a bisection
 * of the arrival rate (`capacity`, objective max_rate) followed by the
 * fleet that carries the target. Results are flat records of numbers, so
 * that they travel as text (results log, MPI messages) and come back
 * bit-identical. Every function here may run on several threads at once:
 * a plan's config, trace use and simulation share no mutable state. */
#ifndef SV_SEARCH_EVALUATE_H
#define SV_SEARCH_EVALUATE_H

#include "search/bound.h"
#include "search/space.h"
#include "serve/sim.h"

G_BEGIN_DECLS

typedef enum {
    SV_PLAN_PENDING,    /* not decided yet */
    SV_PLAN_SIMULATED,  /* evaluated by full simulation */
    SV_PLAN_INFEASIBLE, /* does not fit the devices (the loader's message says why) */
    SV_PLAN_BOUND,      /* its throughput bound is below the target load */
    SV_PLAN_DOMINATED,  /* another plan beats its best possible objective */
} SvPlanStatus;
extern const char *const sv_plan_status_names[]; /* index = SvPlanStatus */

/* The numbers of a plan, in plans.csv column order. */
typedef enum {
    SV_RF_BOUND_RATE,     /* analytic bound, requests/s (inf: none) */
    SV_RF_OFFERED_RATE,   /* requests / (last - first arrival), requests/s (inf: unknown) */
    SV_RF_COMPLETED,      /* requests */
    SV_RF_REJECTED,       /* requests */
    SV_RF_DURATION_S,     /* simulated, first arrival to last finish */
    SV_RF_THROUGHPUT,     /* completed requests/s */
    SV_RF_OUTPUT_TPS,     /* output tokens/s */
    SV_RF_GOODPUT,        /* requests/s meeting the SLO */
    SV_RF_ATTAINMENT,     /* share of completed requests meeting the SLO */
    SV_RF_TTFT_P50,       /* s */
    SV_RF_TTFT_P90,       /* s */
    SV_RF_TTFT_P99,       /* s */
    SV_RF_TPOT_P50,       /* s */
    SV_RF_TPOT_P90,       /* s */
    SV_RF_TPOT_P99,       /* s */
    SV_RF_E2E_P90,        /* s */
    SV_RF_PREEMPTIONS,    /* count */
    SV_RF_KV_UTIL,        /* mean KV use, 0..1 */
    SV_RF_MFU,            /* 0..1 */
    SV_RF_ENERGY_J,       /* 0 until the power model reports it */
    SV_RF_COST_USD,       /* 0 until the cost model reports it */
    SV_RF_POWER_W,        /* mean cluster power, 0 until modelled */
    SV_RF_OUTPUT_TOKENS,  /* emitted by completed requests */
    SV_RF_USD_PER_MTOK,   /* cost per million output tokens (0: not modelled) */
    SV_RF_J_PER_TOKEN,    /* energy per output token (0: not modelled) */
    SV_RF_MAX_RATE,       /* highest rate meeting the SLO, requests/s (bisection; 0: not run) */
    SV_RF_SIMULATIONS,    /* simulations this plan took */
    SV_RF_FLEET_REPLICAS, /* capacity: replicas of the fleet for the target */
    SV_RF_FLEET_DEVICES,  /* capacity: its devices */
    SV_RF_USD_PER_HOUR,   /* fleet (capacity) or plan cost per hour (0: not modelled) */
    SV_RF_KW_TDP,         /* devices x board power (TDP), kW */
    SV_RF_HEADROOM,       /* capacity: fleet max rate / target - 1 */
    SV_RF_OBJECTIVE,      /* the search objective's value */
    SV_RF_COUNT
} SvResultField;
extern const char *const sv_result_field_names[]; /* CSV column names, index = SvResultField */

typedef struct {
    int id; /* plan id */
    SvPlanStatus status;
    gboolean meets; /* simulated and meets the SLO at the target load */
    double v[SV_RF_COUNT];
    char *why; /* one line: why pruned or why the SLO is missed; "" when met */
} SvPlanResult;

void sv_plan_result_free(SvPlanResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvPlanResult, sv_plan_result_free)

/* What every evaluation shares, read-only once built: the space, the
 * study's trace loaded once, the hardware profiles cached by path (under a
 * lock: profiles load on first use). (transfer full) */
typedef struct SvEvalContext SvEvalContext;
SvEvalContext *sv_eval_context_new(const SvSearchSpace *space, GError **error);
void sv_eval_context_free(SvEvalContext *ctx);
/* Interruption (Ctrl-C): every simulation of an evaluation polls @fn
 * (sv_sim_set_stop), and sv_eval_context_stopped reports it. Set before
 * any evaluation starts: the context is read-only once threads share it. */
void sv_eval_context_set_stop(SvEvalContext *ctx, SvSimStopFn fn, void *user_data);
/* Whether the stop function says stop (FALSE without one). A result
 * computed while it did may come from a simulation cut short. */
gboolean sv_eval_context_stopped(const SvEvalContext *ctx);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvEvalContext, sv_eval_context_free)

/* The static part of a plan: its config loads (else INFEASIBLE with the
 * loader's message), and its bound. status is SV_PLAN_PENDING when it
 * loads. Errors: only what would be wrong for every plan ("not implemented
 * yet" features, a bad study). (transfer full) */
SvPlanResult *sv_plan_check(SvEvalContext *ctx, int id, GError **error);

/* The full evaluation of a plan that passed sv_plan_check: simulate it at
 * the target load (plan), or bisect its rate (capacity, max_rate) and size
 * the fleet (capacity). Deterministic: the same plan gives the same result
 * on any thread or process. Errors: internal only. (transfer full) */
SvPlanResult *sv_plan_evaluate(SvEvalContext *ctx, int id, GError **error);

/* The YAML of plan @id as `run` takes it: for capacity, the fleet of
 * @result at the target rate. (transfer full) */
char *sv_plan_yaml(SvEvalContext *ctx, const SvPlanResult *result, GError **error);

/* One line of text (no newline) holding @result exactly (%.17g numbers),
 * and back. Parsing fails on anything but a complete, well-formed line. */
char *sv_plan_result_to_line(const SvPlanResult *result);
SvPlanResult *sv_plan_result_from_line(const char *line);

G_END_DECLS

#endif /* SV_SEARCH_EVALUATE_H */
