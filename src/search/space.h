/* The plan-search space: the `search:` block of a study, read and checked
 * against the study, and the plans it spans, enumerated in one fixed order so
 * that a plan's id is the same in every process (threads, MPI ranks, Slurm
 * array tasks, a resumed run). Each plan is a list of --set-style overrides
 * applied to the study's own YAML tree, so every plan is a config that
 * `servesim run` accepts. */
#ifndef SV_SEARCH_SPACE_H
#define SV_SEARCH_SPACE_H

#include "config/config.h"
#include "config/ynode.h"

G_BEGIN_DECLS

typedef enum {
    SV_OBJ_GOODPUT_PER_DEVICE, /* goodput (requests/s meeting the SLO) per device: higher */
    SV_OBJ_USD_PER_MTOK,       /* dollars per million output tokens: lower */
    SV_OBJ_JOULES_PER_TOKEN,   /* energy per output token: lower */
    SV_OBJ_MAX_RATE,           /* highest arrival rate that meets the SLO: higher */
    SV_OBJ_COUNT
} SvObjective;
extern const char *const sv_objective_names[]; /* NULL-terminated, index = SvObjective */

/* What the search is for: `plan` (every plan at the target load) or
 * `capacity` (each one-replica plan's highest rate, then the fleet). */
typedef enum { SV_SEARCH_PLAN, SV_SEARCH_CAPACITY } SvSearchMode;

/* One knob column of plans.csv: a config path and the values it takes. */
typedef struct {
    char *name;        /* column name: "hardware", "tensor_parallel_size", or a sweep path */
    char *path;        /* override path, e.g. "cluster.pools.0.tensor_parallel_size" */
    GPtrArray *values; /* char*, the values as written (scalar text) */
    gboolean listed;   /* given in search: (else values[0] is the study's own value) */
} SvKnob;

/* One plan: a value index per knob (and a pool split when disaggregated). */
typedef struct {
    int id;       /* position in enumeration order, from 0 */
    int *value;   /* per knob: index into its values */
    int tp, pp;   /* parsed from the knobs, for device counts and bounds */
    int replicas; /* total replicas (prefill + decode when disaggregated) */
    int prefill;  /* disaggregated: prefill replicas (0 = one mixed pool) */
    int devices;  /* tp x pp x data_parallel_size x replicas */
    char *key;    /* "hardware=h100-sxm tensor_parallel_size=4 ...": identity on resume */
} SvPlanSpec;

typedef struct SvSearchSpace SvSearchSpace;
struct SvSearchSpace {
    SvSearchMode mode;
    char *config_path; /* the study file, as given */
    char *text;        /* its contents: every plan's tree is parsed from this */
    GPtrArray *knobs;  /* SvKnob*, owned, in column order */
    int knob_replicas, knob_tp, knob_pp, knob_hw; /* indices of the fixed knobs */
    gboolean disaggregation;                      /* also try xPyD prefill/decode splits */
    gboolean mixed; /* also try one mixed pool (disaggregation list has false) */
    SvObjective objective;
    int max_devices;          /* plans with more devices are not plans of this search */
    double target_rate_per_s; /* the load: search.target_rate_per_s, else the workload's rate */
    gboolean target_given;    /* search.target_rate_per_s was given */
    int64_t num_requests;     /* per simulation; 0 = the workload's own */
    gboolean prune;           /* prune by bound and dominance (memory is always checked) */
    int round_size;           /* plans evaluated between pruning decisions */
    double rate_tolerance;    /* capacity bisection: stop when (hi - lo) / hi is below */
    double headroom;          /* capacity: fleet rate must exceed the target by this fraction */
    gboolean open_loop;       /* the workload has an arrival rate the search may set */
    GHashTable *per_hardware; /* hardware name -> GPtrArray of "path=value" overrides */
    GPtrArray *plans;         /* SvPlanSpec*, owned, by id */
    GPtrArray *notes;         /* char*, things the CLI should tell the user */
};

/* Read @config_path's search: block for @mode and enumerate its plans.
 * Errors (bad input, "FILE:LINE:COL: message"): no search: block, a key
 * that is not known, a value of the wrong type or range, an unknown
 * hardware profile or scheduler, a study with more than one pool, an
 * objective that needs what this build does not model, no plan within
 * max_devices. (transfer full) */
SvSearchSpace *sv_search_space_load(const char *config_path, SvSearchMode mode, GError **error);
void sv_search_space_free(SvSearchSpace *space);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvSearchSpace, sv_search_space_free)

/* The YAML tree of plan @id: the study with the plan's overrides applied,
 * the search: block kept (run ignores it). @rate_per_s > 0 also sets the
 * arrival rate, @replicas > 0 the replica count (capacity's fleet), and
 * @num_requests > 0 the request count. Errors: a --set that does not apply.
 * (transfer full) */
SvYDoc *sv_search_plan_doc(const SvSearchSpace *space, int id, double rate_per_s, int replicas,
                           int64_t num_requests, GError **error);

/* The value of knob @k for plan @id, as text. (transfer none) */
const char *sv_search_plan_value(const SvSearchSpace *space, int id, int k);

/* Is @objective higher-is-better? */
gboolean sv_objective_maximize(SvObjective objective);

G_END_DECLS

#endif /* SV_SEARCH_SPACE_H */
