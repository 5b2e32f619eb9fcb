/* Reading the search: block and enumerating its plans. Knobs are nested in
 * a fixed order (hardware, TP, PP, EP, replicas, scheduler, max_num_seqs,
 * max_num_batched_tokens, then sweep: paths in file order), the last varying
 * fastest; plans with more devices than max_devices are skipped before
 * numbering. The order and the ids depend on the study alone, which is what
 * lets any back end (threads, MPI, Slurm) hand out plans by id. */
#include "search/space.h"

#include <string.h>

const char *const sv_objective_names[] = {"goodput_per_device", "usd_per_million_tokens",
                                          "joules_per_token", "max_rate", NULL};

static const char *const search_keys[] = {"hardware",
                                          "max_devices",
                                          "replicas",
                                          "tensor_parallel_size",
                                          "pipeline_parallel_size",
                                          "expert_parallel_size",
                                          "scheduler",
                                          "max_num_seqs",
                                          "max_num_batched_tokens",
                                          "disaggregation",
                                          "objective",
                                          "target_rate_per_s",
                                          "num_requests",
                                          "sweep",
                                          "prune",
                                          "round_size",
                                          "rate_tolerance",
                                          "headroom",
                                          "per_hardware",
                                          NULL};

/* Limits that catch typos, not hardware. */
#define MAX_VALUES  4096    /* values of one knob */
#define MAX_PLANS   2000000 /* plans of one search */
#define MAX_DEVICES 1000000

gboolean sv_objective_maximize(SvObjective objective)
{
    return objective == SV_OBJ_GOODPUT_PER_DEVICE || objective == SV_OBJ_MAX_RATE;
}

static void knob_free(gpointer data)
{
    SvKnob *k = data;
    if (k == NULL)
        return;
    g_free(k->name);
    g_free(k->path);
    g_ptr_array_unref(k->values);
    g_free(k);
}

static void plan_free(gpointer data)
{
    SvPlanSpec *p = data;
    if (p == NULL)
        return;
    g_free(p->value);
    g_free(p->key);
    g_free(p);
}

void sv_search_space_free(SvSearchSpace *space)
{
    if (space == NULL)
        return;
    g_free(space->config_path);
    g_free(space->text);
    if (space->knobs != NULL)
        g_ptr_array_unref(space->knobs);
    if (space->plans != NULL)
        g_ptr_array_unref(space->plans);
    if (space->notes != NULL)
        g_ptr_array_unref(space->notes);
    if (space->per_hardware != NULL)
        g_hash_table_unref(space->per_hardware);
    g_free(space);
}

static SvKnob *knob_add(SvSearchSpace *space, const char *name, const char *path)
{
    SvKnob *k = g_new0(SvKnob, 1);
    k->name = g_strdup(name);
    k->path = g_strdup(path);
    k->values = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(space->knobs, k);
    return k;
}

/* A knob's list: one scalar or a non-empty sequence of scalars, each checked
 * by @check (may be NULL), no value twice. */
typedef gboolean (*CheckFn)(const SvYDoc *doc, const SvYNode *node, const char *key,
                            GError **error);

static gboolean read_list(const SvYDoc *doc, const SvYNode *node, const char *key, SvKnob *knob,
                          CheckFn check, GError **error)
{
    GPtrArray *items = NULL;
    g_autoptr(GPtrArray) one = g_ptr_array_new();
    if (node->kind == SV_YNODE_SEQ) {
        items = node->items;
        if (items->len == 0)
            return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                                 "%s must list at least one "
                                 "value",
                                 key);
        if (items->len > MAX_VALUES)
            return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                                 "%s lists %u values; at most %d", key, items->len, MAX_VALUES);
    } else {
        g_ptr_array_add(one, (gpointer)node);
        items = one;
    }
    for (guint i = 0; i < items->len; i++) {
        const SvYNode *item = g_ptr_array_index(items, i);
        if (item->kind != SV_YNODE_SCALAR || item->is_null)
            return sv_ydoc_error(doc, item, error, SV_ERROR_INVALID,
                                 "%s values must be scalars (a number or a name)", key);
        if (check != NULL && !check(doc, item, key, error))
            return FALSE;
        for (guint j = 0; j < knob->values->len; j++)
            if (strcmp(g_ptr_array_index(knob->values, j), item->value) == 0)
                return sv_ydoc_error(doc, item, error, SV_ERROR_INVALID, "%s lists '%s' twice", key,
                                     item->value);
        g_ptr_array_add(knob->values, g_strdup(item->value));
    }
    knob->listed = TRUE;
    return TRUE;
}

static gboolean check_count(const SvYDoc *doc, const SvYNode *node, const char *key, GError **error)
{
    int v;
    return sv_ynode_int(doc, node, key, 1, 1 << 24, &v, error);
}

static gboolean check_parallel(const SvYDoc *doc, const SvYNode *node, const char *key,
                               GError **error)
{
    int v;
    return sv_ynode_int(doc, node, key, 1, 4096, &v, error);
}

static gboolean check_scheduler(const SvYDoc *doc, const SvYNode *node, const char *key,
                                GError **error)
{
    int v;
    if (!sv_ynode_enum(doc, node, key, sv_scheduler_names, &v, error))
        return FALSE;
    if (!sv_scheduler_implemented((SvSchedulerKind)v))
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                             "scheduler '%s' is not implemented yet", sv_scheduler_names[v]);
    return TRUE;
}

/* The hardware profiles must load: a typo is reported here, at the search
 * list, not as thousands of infeasible plans. */
typedef struct {
    const char *dir;
} HwCheck;

static gboolean check_hardware(const SvYDoc *doc, const SvYNode *node, const char *key,
                               GError **error)
{
    const char *name;
    if (!sv_ynode_string(doc, node, key, &name, error))
        return FALSE;
    g_autofree char *dir = g_path_get_dirname(doc->path);
    GError *inner = NULL;
    SvHw *hw = sv_hw_load_from(name, dir, &inner);
    if (hw == NULL) {
        sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s: %s", key, inner->message);
        g_error_free(inner);
        return FALSE;
    }
    sv_hw_free(hw);
    return TRUE;
}

/* The text of @path in the study's tree (a scalar), or NULL. */
static const char *tree_value(const SvYDoc *doc, const char *const *path)
{
    const SvYNode *n = doc->root;
    for (; *path != NULL && n != NULL; path++) {
        if (n->kind == SV_YNODE_SEQ) {
            guint i = (guint)atoi(*path);
            n = i < n->items->len ? g_ptr_array_index(n->items, i) : NULL;
        } else {
            n = sv_ynode_get(n, *path);
        }
    }
    return n != NULL && n->kind == SV_YNODE_SCALAR && !n->is_null ? n->value : NULL;
}

/* A fixed knob: the search's list when given, else the study's own value
 * (or @fallback when the study leaves it to its default). */
static gboolean fixed_knob(SvSearchSpace *space, const SvYDoc *doc, const SvYNode *search,
                           const char *key, const char *path, const char *fallback, CheckFn check,
                           GError **error)
{
    SvKnob *k = knob_add(space, key, path);
    const SvYNode *node = sv_ynode_get(search, key);
    if (node != NULL) {
        g_autofree char *full = g_strdup_printf("search.%s", key);
        return read_list(doc, node, full, k, check, error);
    }
    g_auto(GStrv) parts = g_strsplit(path, ".", -1);
    const char *v = tree_value(doc, (const char *const *)parts);
    g_ptr_array_add(k->values, g_strdup(v != NULL ? v : fallback));
    return TRUE;
}

static int knob_int(const SvKnob *k, int i)
{
    return atoi(g_ptr_array_index(k->values, i));
}

/* Enumerate: an odometer over the knobs, last knob fastest; then the pool
 * splits. Fills space->plans. */
static gboolean enumerate(SvSearchSpace *space, const SvYDoc *doc, const SvYNode *search,
                          GError **error)
{
    guint nk = space->knobs->len;
    g_autofree int *idx = g_new0(int, nk);
    const SvKnob *ktp = g_ptr_array_index(space->knobs, space->knob_tp);
    const SvKnob *kpp = g_ptr_array_index(space->knobs, space->knob_pp);
    const SvKnob *krep = g_ptr_array_index(space->knobs, space->knob_replicas);
    /* Each attention-DP rank is a device of its own: the study's
     * data_parallel_size, or a sweep over it, multiplies the count. */
    static const char *const dp_path[] = {"cluster", "pools", "0", "data_parallel_size", NULL};
    const char *dp_text = tree_value(doc, dp_path);
    int base_dp = dp_text != NULL ? MAX(atoi(dp_text), 1) : 1, knob_dp = -1;
    for (guint k = 0; k < nk; k++) {
        const SvKnob *kn = g_ptr_array_index(space->knobs, k);
        if (g_strcmp0(kn->path, "cluster.pools.0.data_parallel_size") == 0)
            knob_dp = (int)k;
    }
    for (;;) {
        int tp = knob_int(ktp, idx[space->knob_tp]), pp = knob_int(kpp, idx[space->knob_pp]);
        int reps = knob_int(krep, idx[space->knob_replicas]);
        int dp = knob_dp >= 0
                     ? MAX(knob_int(g_ptr_array_index(space->knobs, knob_dp), idx[knob_dp]), 1)
                     : base_dp;
        int64_t devices = (int64_t)tp * pp * dp * reps;
        if (space->max_devices == 0 || devices <= space->max_devices) {
            /* splits: 0 = one mixed pool; x = x prefill + (reps - x) decode replicas */
            for (int split = space->mixed ? 0 : 1; split <= (space->disaggregation ? reps - 1 : 0);
                 split++) {
                if (space->plans->len >= MAX_PLANS)
                    return sv_ydoc_error(doc, search, error, SV_ERROR_INVALID,
                                         "the search spans more than %d plans; narrow it",
                                         MAX_PLANS);
                SvPlanSpec *p = g_new0(SvPlanSpec, 1);
                p->id = (int)space->plans->len;
                p->value = g_memdup2(idx, sizeof(int) * nk);
                p->tp = tp;
                p->pp = pp;
                p->replicas = reps;
                p->prefill = split;
                p->devices = (int)devices;
                GString *key = g_string_new(NULL);
                for (guint k = 0; k < nk; k++) {
                    const SvKnob *kn = g_ptr_array_index(space->knobs, k);
                    g_string_append_printf(key, "%s%s=%s", k ? " " : "", kn->name,
                                           (const char *)g_ptr_array_index(kn->values, idx[k]));
                }
                if (space->disaggregation) {
                    if (split == 0)
                        g_string_append(key, " pools=mixed");
                    else
                        g_string_append_printf(key, " pools=%dP%dD", split, reps - split);
                }
                p->key = g_string_free(key, FALSE);
                g_ptr_array_add(space->plans, p);
            }
        }
        int k = (int)nk - 1;
        for (; k >= 0; k--) {
            const SvKnob *kn = g_ptr_array_index(space->knobs, k);
            if (++idx[k] < (int)kn->values->len)
                break;
            idx[k] = 0;
        }
        if (k < 0)
            break;
    }
    if (space->plans->len == 0)
        return sv_ydoc_error(doc, search, error, SV_ERROR_INVALID,
                             "no plan of the search fits in max_devices %d", space->max_devices);
    return TRUE;
}

static gboolean read_sweep(SvSearchSpace *space, const SvYDoc *doc, const SvYNode *sweep,
                           GError **error)
{
    if (!sv_ynode_expect_map(doc, sweep, "search.sweep", error))
        return FALSE;
    for (guint i = 0; i < sweep->keys->len; i++) {
        const SvYNode *key = g_ptr_array_index(sweep->keys, i);
        const SvYNode *val = g_ptr_array_index(sweep->items, i);
        for (guint j = 0; j < i; j++)
            if (g_strcmp0(((SvYNode *)g_ptr_array_index(sweep->keys, j))->value, key->value) == 0)
                return sv_ydoc_error(doc, key, error, SV_ERROR_INVALID,
                                     "duplicate key '%s' in search.sweep", key->value);
        /* The fixed knobs have their own keys: two ways to set one thing
         * would make the plan's identity ambiguous. */
        for (guint k = 0; k < space->knobs->len; k++) {
            const SvKnob *kn = g_ptr_array_index(space->knobs, k);
            if (strcmp(kn->path, key->value) == 0)
                return sv_ydoc_error(doc, key, error, SV_ERROR_INVALID,
                                     "search.sweep: '%s' is search.%s; list it there", key->value,
                                     kn->name);
        }
        if (strchr(key->value, '=') != NULL || key->value[0] == '\0' ||
            g_str_has_prefix(key->value, "search"))
            return sv_ydoc_error(doc, key, error, SV_ERROR_INVALID,
                                 "search.sweep: '%s' is not a config key path", key->value);
        SvKnob *k = knob_add(space, key->value, key->value);
        g_autofree char *what = g_strdup_printf("search.sweep.%s", key->value);
        if (!read_list(doc, val, what, k, NULL, error))
            return FALSE;
    }
    return TRUE;
}

/* per_hardware: {NAME: {path: value, ...}}: overrides that go with a
 * hardware choice (its price, say), applied after the knobs. */
static gboolean read_per_hardware(SvSearchSpace *space, const SvYDoc *doc, const SvYNode *map,
                                  GError **error)
{
    if (!sv_ynode_expect_map(doc, map, "search.per_hardware", error))
        return FALSE;
    const SvKnob *hw = g_ptr_array_index(space->knobs, space->knob_hw);
    for (guint i = 0; i < map->keys->len; i++) {
        const SvYNode *key = g_ptr_array_index(map->keys, i);
        const SvYNode *sets = g_ptr_array_index(map->items, i);
        gboolean listed = FALSE;
        for (guint j = 0; j < hw->values->len && !listed; j++)
            listed = strcmp(g_ptr_array_index(hw->values, j), key->value) == 0;
        if (!listed)
            return sv_ydoc_error(doc, key, error, SV_ERROR_INVALID,
                                 "search.per_hardware: '%s' is not one of search.hardware",
                                 key->value);
        if (g_hash_table_contains(space->per_hardware, key->value))
            return sv_ydoc_error(doc, key, error, SV_ERROR_INVALID,
                                 "duplicate key '%s' in search.per_hardware", key->value);
        if (!sv_ynode_expect_map(doc, sets, "search.per_hardware entry", error))
            return FALSE;
        GPtrArray *list = g_ptr_array_new_with_free_func(g_free);
        g_hash_table_insert(space->per_hardware, g_strdup(key->value), list);
        for (guint j = 0; j < sets->keys->len; j++) {
            const SvYNode *k = g_ptr_array_index(sets->keys, j);
            const SvYNode *v = g_ptr_array_index(sets->items, j);
            if (v->kind != SV_YNODE_SCALAR || v->is_null)
                return sv_ydoc_error(doc, v, error, SV_ERROR_INVALID,
                                     "search.per_hardware.%s.%s must be a scalar", key->value,
                                     k->value);
            g_ptr_array_add(list, g_strdup_printf("%s=%s%s%s", k->value, v->quoted ? "\"" : "",
                                                  v->value, v->quoted ? "\"" : ""));
        }
    }
    return TRUE;
}

/* The arrival process of the study's workload, read from the tree (the
 * loader has validated it). */
static void read_load(SvSearchSpace *space, const SvYDoc *doc)
{
    const SvYNode *work = sv_ynode_get(doc->root, "workload");
    const SvYNode *arrival = work != NULL ? sv_ynode_get(work, "arrival") : NULL;
    const SvYNode *proc = arrival != NULL ? sv_ynode_get(arrival, "process") : NULL;
    const SvYNode *rate = arrival != NULL ? sv_ynode_get(arrival, "rate_per_s") : NULL;
    gboolean tenants = work != NULL && sv_ynode_get(work, "tenants") != NULL;
    const char *p = proc != NULL && proc->kind == SV_YNODE_SCALAR ? proc->value : NULL;
    space->open_loop =
        !tenants && p != NULL &&
        (strcmp(p, "poisson") == 0 || strcmp(p, "gamma") == 0 || strcmp(p, "constant") == 0);
    if (!space->target_given && space->open_loop && rate != NULL && rate->kind == SV_YNODE_SCALAR)
        space->target_rate_per_s = g_ascii_strtod(rate->value, NULL);
}

SvSearchSpace *sv_search_space_load(const char *config_path, SvSearchMode mode, GError **error)
{
    g_return_val_if_fail(config_path != NULL, NULL);
    g_autoptr(SvSearchSpace) space = g_new0(SvSearchSpace, 1);
    space->mode = mode;
    space->config_path = g_strdup(config_path);
    space->knobs = g_ptr_array_new_with_free_func(knob_free);
    space->plans = g_ptr_array_new_with_free_func(plan_free);
    space->notes = g_ptr_array_new_with_free_func(g_free);
    space->prune = TRUE;
    space->round_size = 64;
    space->rate_tolerance = 0.02;
    space->mixed = TRUE;
    gsize len = 0;
    GError *inner = NULL;
    if (!g_file_get_contents(config_path, &space->text, &len, &inner)) {
        g_set_error(error, G_FILE_ERROR, inner->code, "%s: %s", config_path,
                    g_file_test(config_path, G_FILE_TEST_EXISTS) ? "cannot be read"
                                                                 : "No such file or directory");
        g_error_free(inner);
        return NULL;
    }
    g_autoptr(SvYDoc) doc =
        sv_ydoc_load_string(space->text, (gssize)len, config_path, SV_CONFIG_ERROR, error);
    if (doc == NULL)
        return NULL;
    if (doc->root == NULL || doc->root->kind != SV_YNODE_MAP) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "%s: the study is empty or not a map (it needs model, cluster, workload "
                    "and a search: block)",
                    config_path);
        return NULL;
    }
    const SvYNode *search = sv_ynode_get(doc->root, "search");
    if (search == NULL) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "%s: no search: block; `%s` needs one that lists the plans to try (e.g. "
                    "search: {tensor_parallel_size: [1, 2, 4], max_devices: 8})",
                    config_path, mode == SV_SEARCH_PLAN ? "plan" : "capacity");
        return NULL;
    }
    if (!sv_ynode_check_keys(doc, search, "search", search_keys, error))
        return NULL;

    /* The study has one pool: the search varies it. */
    const SvYNode *cluster = sv_ynode_get(doc->root, "cluster");
    const SvYNode *pools = cluster != NULL ? sv_ynode_get(cluster, "pools") : NULL;
    if (pools != NULL && pools->kind == SV_YNODE_SEQ && pools->items->len != 1)
        return sv_ydoc_error(doc, pools, error, SV_ERROR_INVALID,
                             "the search varies one pool, but cluster.pools has %u; "
                             "keep one (search.disaggregation tries prefill/decode splits)",
                             pools->items->len),
               NULL;

    const SvYNode *n;
    int v = 0;
    if ((n = sv_ynode_get(search, "max_devices")) != NULL &&
        !sv_ynode_int(doc, n, "search.max_devices", 1, MAX_DEVICES, &space->max_devices, error))
        return NULL;
    if ((n = sv_ynode_get(search, "objective")) != NULL) {
        if (!sv_ynode_enum(doc, n, "search.objective", sv_objective_names, &v, error))
            return NULL;
        space->objective = (SvObjective)v;
    }
    if ((n = sv_ynode_get(search, "target_rate_per_s")) != NULL) {
        if (!sv_ynode_double(doc, n, "search.target_rate_per_s", 1e-6, 1e7,
                             &space->target_rate_per_s, error))
            return NULL;
        space->target_given = TRUE;
    }
    if ((n = sv_ynode_get(search, "num_requests")) != NULL &&
        !sv_ynode_int64(doc, n, "search.num_requests", 1, 100000000, &space->num_requests, error))
        return NULL;
    if ((n = sv_ynode_get(search, "prune")) != NULL &&
        !sv_ynode_bool(doc, n, "search.prune", &space->prune, error))
        return NULL;
    if ((n = sv_ynode_get(search, "round_size")) != NULL &&
        !sv_ynode_int(doc, n, "search.round_size", 1, 100000, &space->round_size, error))
        return NULL;
    if ((n = sv_ynode_get(search, "rate_tolerance")) != NULL &&
        !sv_ynode_double(doc, n, "search.rate_tolerance", 0.001, 0.5, &space->rate_tolerance,
                         error))
        return NULL;
    if ((n = sv_ynode_get(search, "headroom")) != NULL &&
        !sv_ynode_double(doc, n, "search.headroom", 0, 10, &space->headroom, error))
        return NULL;
    if ((n = sv_ynode_get(search, "disaggregation")) != NULL) {
        if (n->kind == SV_YNODE_SEQ && n->items->len == 0)
            return sv_ydoc_error(doc, n, error, SV_ERROR_INVALID,
                                 "search.disaggregation must list at least one value"),
                   NULL;
        space->mixed = FALSE;
        const SvYNode *items = n->kind == SV_YNODE_SEQ ? n : NULL;
        guint count = items != NULL ? items->items->len : 1;
        for (guint i = 0; i < count; i++) {
            const SvYNode *item = items != NULL ? g_ptr_array_index(items->items, i) : n;
            gboolean b;
            if (!sv_ynode_bool(doc, item, "search.disaggregation", &b, error))
                return NULL;
            if (b)
                space->disaggregation = TRUE;
            else
                space->mixed = TRUE;
        }
        if (space->disaggregation && mode == SV_SEARCH_CAPACITY)
            return sv_ydoc_error(doc, n, error, SV_ERROR_INVALID,
                                 "search.disaggregation in `capacity` is not implemented yet "
                                 "(capacity sizes one mixed pool; `plan` tries the splits)"),
                   NULL;
    }

    /* The knobs, in column order. */
    space->knob_hw = (int)space->knobs->len;
    if (!fixed_knob(space, doc, search, "hardware", "cluster.pools.0.hardware", "?", check_hardware,
                    error))
        return NULL;
    space->knob_tp = (int)space->knobs->len;
    if (!fixed_knob(space, doc, search, "tensor_parallel_size",
                    "cluster.pools.0.tensor_parallel_size", "1", check_parallel, error))
        return NULL;
    space->knob_pp = (int)space->knobs->len;
    if (!fixed_knob(space, doc, search, "pipeline_parallel_size",
                    "cluster.pools.0.pipeline_parallel_size", "1", check_parallel, error) ||
        !fixed_knob(space, doc, search, "expert_parallel_size",
                    "cluster.pools.0.expert_parallel_size", "1", check_parallel, error))
        return NULL;
    space->knob_replicas = (int)space->knobs->len;
    const SvYNode *reps = sv_ynode_get(search, "replicas");
    if (mode == SV_SEARCH_CAPACITY) {
        SvKnob *k = knob_add(space, "replicas", "cluster.pools.0.replicas");
        g_ptr_array_add(k->values, g_strdup("1"));
        k->listed = TRUE;
        if (reps != NULL)
            g_ptr_array_add(space->notes,
                            g_strdup("search.replicas is not used by capacity: it measures one "
                                     "replica of each plan and sizes the fleet itself"));
    } else if (reps == NULL && space->max_devices > 0) {
        /* Every replica count up to max_devices; too many devices are
         * skipped per plan. */
        SvKnob *k = knob_add(space, "replicas", "cluster.pools.0.replicas");
        for (int r = 1; r <= space->max_devices; r++)
            g_ptr_array_add(k->values, g_strdup_printf("%d", r));
        k->listed = TRUE;
    } else {
        if (!fixed_knob(space, doc, search, "replicas", "cluster.pools.0.replicas", "1",
                        check_count, error))
            return NULL;
    }
    if (!fixed_knob(space, doc, search, "scheduler", "engine.scheduler", "vllm-v1", check_scheduler,
                    error) ||
        !fixed_knob(space, doc, search, "max_num_seqs", "engine.max_num_seqs", "default",
                    check_count, error) ||
        !fixed_knob(space, doc, search, "max_num_batched_tokens", "engine.max_num_batched_tokens",
                    "default", check_count, error))
        return NULL;
    if ((n = sv_ynode_get(search, "sweep")) != NULL && !read_sweep(space, doc, n, error))
        return NULL;
    space->per_hardware =
        g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_ptr_array_unref);
    if ((n = sv_ynode_get(search, "per_hardware")) != NULL &&
        !read_per_hardware(space, doc, n, error))
        return NULL;

    read_load(space, doc);
    if (mode == SV_SEARCH_CAPACITY && !space->open_loop)
        return sv_ydoc_error(doc, search, error, SV_ERROR_INVALID,
                             "capacity varies the arrival rate, so the workload needs "
                             "workload.arrival with process poisson, gamma or constant (and no "
                             "tenants)"),
               NULL;
    if (mode == SV_SEARCH_CAPACITY && space->target_rate_per_s <= 0)
        return sv_ydoc_error(doc, search, error, SV_ERROR_INVALID,
                             "capacity needs a target load: search.target_rate_per_s or "
                             "workload.arrival.rate_per_s"),
               NULL;
    if (space->objective == SV_OBJ_MAX_RATE && !space->open_loop)
        return sv_ydoc_error(doc, search, error, SV_ERROR_INVALID,
                             "objective max_rate varies the arrival rate, so the workload needs "
                             "workload.arrival with process poisson, gamma or constant"),
               NULL;
    if (!enumerate(space, doc, search, error))
        return NULL;
    return g_steal_pointer(&space);
}

const char *sv_search_plan_value(const SvSearchSpace *space, int id, int k)
{
    const SvPlanSpec *p = g_ptr_array_index(space->plans, id);
    const SvKnob *kn = g_ptr_array_index(space->knobs, k);
    return g_ptr_array_index(kn->values, p->value[k]);
}

static gboolean apply(SvYDoc *doc, GError **error, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static gboolean apply(SvYDoc *doc, GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    return sv_ydoc_set(doc, text, error);
}

SvYDoc *sv_search_plan_doc(const SvSearchSpace *space, int id, double rate_per_s, int replicas,
                           int64_t num_requests, GError **error)
{
    g_return_val_if_fail(id >= 0 && (guint)id < space->plans->len, NULL);
    const SvPlanSpec *p = g_ptr_array_index(space->plans, id);
    g_autoptr(SvYDoc) doc =
        sv_ydoc_load_string(space->text, -1, space->config_path, SV_CONFIG_ERROR, error);
    if (doc == NULL)
        return NULL;
    for (guint k = 0; k < space->knobs->len; k++) {
        const SvKnob *kn = g_ptr_array_index(space->knobs, k);
        if (!kn->listed)
            continue;
        if (!apply(doc, error, "%s=%s", kn->path,
                   (const char *)g_ptr_array_index(kn->values, p->value[k])))
            return NULL;
    }
    const GPtrArray *extra =
        g_hash_table_lookup(space->per_hardware, sv_search_plan_value(space, id, space->knob_hw));
    for (guint i = 0; extra != NULL && i < extra->len; i++)
        if (!sv_ydoc_set(doc, g_ptr_array_index(extra, i), error))
            return NULL;
    if (replicas > 0 && !apply(doc, error, "cluster.pools.0.replicas=%d", replicas))
        return NULL;
    if (p->prefill > 0) {
        /* xPyD: the pool becomes two, alike but for role and size. */
        const char *hw = sv_search_plan_value(space, id, space->knob_hw);
        int ep = atoi(sv_search_plan_value(space, id, space->knob_pp + 1));
        if (!apply(doc, error,
                   "cluster.pools=[{name: prefill, hardware: %s, replicas: %d, "
                   "tensor_parallel_size: %d, pipeline_parallel_size: %d, "
                   "expert_parallel_size: %d, role: prefill}, {name: decode, hardware: %s, "
                   "replicas: %d, tensor_parallel_size: %d, pipeline_parallel_size: %d, "
                   "expert_parallel_size: %d, role: decode}]",
                   hw, p->prefill, p->tp, p->pp, ep, hw, p->replicas - p->prefill, p->tp, p->pp,
                   ep))
            return NULL;
    }
    if (rate_per_s > 0 && !apply(doc, error, "workload.arrival.rate_per_s=%.17g", rate_per_s))
        return NULL;
    else if (rate_per_s <= 0 && space->target_given && space->open_loop &&
             !apply(doc, error, "workload.arrival.rate_per_s=%.17g", space->target_rate_per_s))
        return NULL;
    int64_t n = num_requests > 0 ? num_requests : space->num_requests;
    if (n > 0 && !apply(doc, error, "workload.num_requests=%" G_GINT64_FORMAT, n))
        return NULL;
    return g_steal_pointer(&doc);
}
