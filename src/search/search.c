/* The search driver (search.h): checks, pruning, rounds of evaluation, the
 * results log, and the output files. Only this file decides which plans
 * are evaluated, always from the study and the results of whole rounds, so
 * every back end (and a resumed or collected run) reaches the same
 * decisions. */
#include "search/search.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MAGIC "# servesim search log v1"

struct SvSearch {
    SvSearchSpace *space;   /* (owned) */
    SvEvalContext *ctx;     /* (owned) */
    char *fingerprint;      /* of the study text, mode and version */
    SvPlanResult **results; /* per id, (owned) */
    SvPlanResult **logged;  /* per id, from earlier runs' logs (owned) */
    int log_fd;             /* -1: no log */
    SvSearchStats stats;
    SvSearchProgressFn progress;
    void *progress_data;
    int best;                 /* plan id of the winner, -1 */
    gboolean cost_modelled;   /* some simulated plan reported a cost */
    gboolean energy_modelled; /* some simulated plan reported energy */
};

static char *fingerprint_of(const SvSearchSpace *space)
{
    g_autofree char *text = g_strdup_printf("servesim search v1 %s %d fields %d\n%s", SV_VERSION,
                                            (int)space->mode, (int)SV_RF_COUNT, space->text);
    return g_compute_checksum_for_string(G_CHECKSUM_SHA256, text, -1);
}

SvSearch *sv_search_new(SvSearchSpace *space, GError **error)
{
    g_autoptr(SvSearch) s = g_new0(SvSearch, 1);
    s->space = space;
    s->log_fd = -1;
    s->best = -1;
    s->ctx = sv_eval_context_new(space, error);
    if (s->ctx == NULL)
        return NULL;
    s->fingerprint = fingerprint_of(space);
    guint n = space->plans->len;
    s->results = g_new0(SvPlanResult *, n);
    s->logged = g_new0(SvPlanResult *, n);
    s->stats.plans = n;
    return g_steal_pointer(&s);
}

void sv_search_free(SvSearch *s)
{
    if (s == NULL)
        return;
    if (s->space != NULL) {
        for (guint i = 0; i < s->space->plans->len; i++) {
            if (s->results != NULL)
                sv_plan_result_free(s->results[i]);
            if (s->logged != NULL)
                sv_plan_result_free(s->logged[i]);
        }
    }
    g_free(s->results);
    g_free(s->logged);
    if (s->log_fd >= 0)
        close(s->log_fd);
    sv_eval_context_free(s->ctx);
    sv_search_space_free(s->space);
    g_free(s->fingerprint);
    g_free(s);
}

SvEvalContext *sv_search_context(SvSearch *s)
{
    return s->ctx;
}

const SvSearchSpace *sv_search_space(const SvSearch *s)
{
    return s->space;
}

const SvSearchStats *sv_search_stats(const SvSearch *s)
{
    return &s->stats;
}

const SvPlanResult *sv_search_best(const SvSearch *s)
{
    return s->best >= 0 ? s->results[s->best] : NULL;
}

const SvPlanResult *sv_search_result(const SvSearch *s, int id)
{
    return id >= 0 && (guint)id < s->space->plans->len ? s->results[id] : NULL;
}

void sv_search_set_progress(SvSearch *s, SvSearchProgressFn fn, void *user_data)
{
    s->progress = fn;
    s->progress_data = user_data;
}

static void report(SvSearch *s)
{
    if (s->progress != NULL)
        s->progress(s->progress_data, &s->stats);
}

/* ---- results log ---- */

static char *log_header(const SvSearch *s)
{
    return g_strdup_printf("%s fingerprint=%s mode=%s plans=%u\n", LOG_MAGIC, s->fingerprint,
                           s->space->mode == SV_SEARCH_PLAN ? "plan" : "capacity",
                           s->space->plans->len);
}

/* Read one log into s->logged. A missing file is no error. */
static gboolean read_log(SvSearch *s, const char *path, GError **error)
{
    g_autofree char *text = NULL;
    gsize len = 0;
    if (!g_file_test(path, G_FILE_TEST_EXISTS))
        return TRUE;
    GError *inner = NULL;
    if (!g_file_get_contents(path, &text, &len, &inner)) {
        g_set_error(error, G_FILE_ERROR, inner->code, "%s: %s", path, inner->message);
        g_error_free(inner);
        return FALSE;
    }
    if (len == 0)
        return TRUE;
    g_autofree char *header = log_header(s);
    const char *nl = memchr(text, '\n', len);
    if (!g_str_has_prefix(text, LOG_MAGIC) || nl == NULL ||
        strncmp(text, header, (size_t)(nl - text) + 1) != 0) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "%s: holds results of another study, search mode or servesim version (its "
                    "fingerprint differs); use another -o DIR or remove it",
                    path);
        return FALSE;
    }
    /* Only complete lines count: a crash can leave the last one cut short. */
    const char *p = nl + 1, *end = text + len;
    while (p < end) {
        const char *e = memchr(p, '\n', (size_t)(end - p));
        if (e == NULL)
            break;
        g_autofree char *line = g_strndup(p, (gsize)(e - p));
        p = e + 1;
        SvPlanResult *r = sv_plan_result_from_line(line);
        if (r == NULL || r->id < 0 || (guint)r->id >= s->space->plans->len ||
            r->status != SV_PLAN_SIMULATED) {
            sv_plan_result_free(r);
            continue;
        }
        sv_plan_result_free(s->logged[r->id]);
        s->logged[r->id] = r;
    }
    return TRUE;
}

gboolean sv_search_resume(SvSearch *s, const char *dir, GError **error)
{
    g_autofree char *main_log = g_build_filename(dir, "plans.log", NULL);
    if (!read_log(s, main_log, error))
        return FALSE;
    g_autofree char *shards = g_build_filename(dir, "shards", NULL);
    g_autoptr(GDir) d = g_dir_open(shards, 0, NULL);
    if (d == NULL)
        return TRUE;
    /* Sorted, so that a plan logged twice resolves the same way each time. */
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL)
        if (g_str_has_prefix(name, "results-") && g_str_has_suffix(name, ".log"))
            g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_sort(names, (GCompareFunc)g_strcmp0);
    for (guint i = 0; i < names->len; i++) {
        const char *const *pn = (const char *const *)&names->pdata[i];
        g_autofree char *path = g_build_filename(shards, *pn, NULL);
        if (!read_log(s, path, error))
            return FALSE;
    }
    return TRUE;
}

static gboolean write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return FALSE;
        buf += w;
        len -= (size_t)w;
    }
    return TRUE;
}

gboolean sv_search_open_log(SvSearch *s, const char *path, GError **error)
{
    g_autofree char *dir = g_path_get_dirname(path);
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", dir,
                    g_strerror(err));
        return FALSE;
    }
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", path,
                    g_strerror(err));
        return FALSE;
    }
    /* Cut a partial last line (a crash mid-write) so that the next line
     * starts clean. */
    off_t size = lseek(fd, 0, SEEK_END);
    off_t keep = size;
    if (size > 0) {
        char c = 0;
        while (keep > 0) {
            if (pread(fd, &c, 1, keep - 1) != 1 || c == '\n')
                break;
            keep--;
        }
        if (keep != size && ftruncate(fd, keep) != 0) {
            int err = errno;
            close(fd);
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", path,
                        g_strerror(err));
            return FALSE;
        }
    }
    lseek(fd, 0, SEEK_END);
    if (keep == 0) {
        g_autofree char *header = log_header(s);
        if (!write_all(fd, header, strlen(header))) {
            int err = errno;
            close(fd);
            g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", path,
                        g_strerror(err));
            return FALSE;
        }
    }
    if (s->log_fd >= 0)
        close(s->log_fd);
    s->log_fd = fd;
    return TRUE;
}

static void log_result(SvSearch *s, const SvPlanResult *r)
{
    if (s->log_fd < 0)
        return;
    g_autofree char *line = sv_plan_result_to_line(r);
    g_autofree char *text = g_strconcat(line, "\n", NULL);
    /* One write per line: a crash leaves a whole line or a partial one,
     * which the checksum and the cut on reopening take care of. */
    if (!write_all(s->log_fd, text, strlen(text)))
        g_warning("results log: %s", g_strerror(errno));
}

/* ---- objectives and pruning ---- */

static gboolean maximize(const SvSearch *s)
{
    return s->space->mode == SV_SEARCH_PLAN && sv_objective_maximize(s->space->objective);
}

static int plan_devices(const SvSearch *s, int id)
{
    return ((const SvPlanSpec *)g_ptr_array_index(s->space->plans, id))->devices;
}

/* Devices a plan's result is judged by: the fleet's for capacity. */
static double result_devices(const SvSearch *s, const SvPlanResult *r)
{
    return s->space->mode == SV_SEARCH_CAPACITY ? r->v[SV_RF_FLEET_DEVICES]
                                                : plan_devices(s, r->id);
}

/* The fewest devices a capacity fleet of plan @id can have. */
static double capacity_min_devices(const SvSearch *s, const SvPlanResult *r)
{
    double bound = r->v[SV_RF_BOUND_RATE];
    int d = plan_devices(s, r->id);
    if (!isfinite(bound) || bound <= 0)
        return d;
    return d *
           MAX(1.0, ceil(s->space->target_rate_per_s * (1.0 + s->space->headroom) / bound - 1e-9));
}

/* The best objective plan @r could reach (plan mode), from its bound. */
static double objective_bound(const SvSearch *s, const SvPlanResult *r)
{
    double bound = r->v[SV_RF_BOUND_RATE];
    switch (s->space->objective) {
    case SV_OBJ_GOODPUT_PER_DEVICE:
        /* goodput <= completed / duration <= min(bound, offered rate): the
         * run lasts at least as long as its arrivals. */
        return MIN(bound, r->v[SV_RF_OFFERED_RATE]) / plan_devices(s, r->id);
    case SV_OBJ_MAX_RATE:
        return bound;
    default:
        return NAN; /* cost and energy: no bound */
    }
}

/* Is @a strictly better than @b on the objective (with a margin for
 * rounding)? */
static gboolean better(const SvSearch *s, double a, double b)
{
    double margin = 1e-9 * MAX(fabs(a), fabs(b));
    return maximize(s) ? a > b + margin : a < b - margin;
}

/* A plan that met the SLO and beats @id on every objective for sure, or
 * -1. */
static int dominator(const SvSearch *s, const GArray *met, const SvPlanResult *r)
{
    if (!s->space->prune)
        return -1;
    if (s->space->mode == SV_SEARCH_CAPACITY) {
        if (s->cost_modelled)
            return -1;
        double dmin = capacity_min_devices(s, r);
        double per_device_kw = r->v[SV_RF_KW_TDP] / MAX(plan_devices(s, r->id), 1);
        for (guint i = 0; i < met->len; i++) {
            const SvPlanResult *q = s->results[g_array_index(met, int, i)];
            if (q->v[SV_RF_FLEET_DEVICES] < dmin &&
                q->v[SV_RF_KW_TDP] <= dmin * per_device_kw * (1 + 1e-9))
                return q->id;
        }
        return -1;
    }
    double ub = objective_bound(s, r);
    if (isnan(ub))
        return -1;
    for (guint i = 0; i < met->len; i++) {
        const SvPlanResult *q = s->results[g_array_index(met, int, i)];
        if (plan_devices(s, q->id) <= plan_devices(s, r->id) &&
            better(s, q->v[SV_RF_OBJECTIVE], ub))
            return q->id;
    }
    return -1;
}

/* Order of evaluation: most promising first, so that the plans that prune
 * the others come early. */
static double priority(const SvSearch *s, const SvPlanResult *r)
{
    if (s->space->mode == SV_SEARCH_CAPACITY)
        return -capacity_min_devices(s, r);
    double ub = objective_bound(s, r);
    return isnan(ub) ? 0 : (maximize(s) ? ub : -ub);
}

typedef struct {
    const SvSearch *s;
    double *prio;
} OrderCtx;

static gint order_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
    const OrderCtx *o = data;
    int x = *(const int *)a, y = *(const int *)b;
    double px = o->prio[x], py = o->prio[y];
    if (px != py)
        return px > py ? -1 : 1;
    return x < y ? -1 : x > y;
}

/* Is result @a a better winner than @b? Objective, then fewer devices, then
 * lower id: a total order, so the winner is unique. */
static gboolean wins(const SvSearch *s, const SvPlanResult *a, const SvPlanResult *b)
{
    double oa = a->v[SV_RF_OBJECTIVE], ob = b->v[SV_RF_OBJECTIVE];
    gboolean max = maximize(s);
    if (oa != ob)
        return max ? oa > ob : oa < ob;
    double da = result_devices(s, a), db = result_devices(s, b);
    if (da != db)
        return da < db;
    return a->id < b->id;
}

/* ---- rounds ---- */

typedef struct {
    SvSearch *s;
} DoneCtx;

static void on_check(void *user_data, SvPlanResult *r)
{
    SvSearch *s = user_data;
    sv_plan_result_free(s->results[r->id]);
    s->results[r->id] = r;
}

static void account(SvSearch *s, const SvPlanResult *r)
{
    s->stats.decided++;
    switch (r->status) {
    case SV_PLAN_SIMULATED:
        s->stats.simulated++;
        s->stats.meets += r->meets ? 1 : 0;
        break;
    case SV_PLAN_INFEASIBLE:
        s->stats.infeasible++;
        break;
    case SV_PLAN_BOUND:
        s->stats.bound++;
        break;
    case SV_PLAN_DOMINATED:
        s->stats.dominated++;
        break;
    case SV_PLAN_PENDING:
        s->stats.decided--;
        break;
    }
}

static void on_evaluated(void *user_data, SvPlanResult *r)
{
    SvSearch *s = user_data;
    log_result(s, r);
    s->stats.simulations += (int64_t)r->v[SV_RF_SIMULATIONS];
    sv_plan_result_free(s->results[r->id]);
    s->results[r->id] = r;
    account(s, r);
    report(s);
}

static void set_status(SvSearch *s, int id, SvPlanStatus status, char *why)
{
    SvPlanResult *r = s->results[id];
    r->status = status;
    g_free(r->why);
    r->why = why;
    account(s, r);
}

/* Run all ids through @kind's evaluation; checks are run in batches too, so
 * that the progress bar moves. */
static gboolean run_checks(SvSearch *s, SvRunner *runner, GError **error)
{
    guint n = s->space->plans->len;
    g_autofree int *ids = g_new(int, n);
    for (guint i = 0; i < n; i++)
        ids[i] = (int)i;
    if (runner != NULL)
        return sv_runner_run(runner, SV_TASK_CHECK, ids, (int)n, on_check, s, error);
    /* collect: checks are cheap and local. */
    for (guint i = 0; i < n; i++) {
        SvPlanResult *r = sv_plan_check(s->ctx, (int)i, error);
        if (r == NULL)
            return FALSE;
        on_check(s, r);
    }
    return TRUE;
}

/* The static pruning after the checks: infeasible plans are counted, plans
 * that cannot carry the load are marked. */
static void prune_static(SvSearch *s)
{
    const SvSearchSpace *sp = s->space;
    for (guint id = 0; id < sp->plans->len; id++) {
        SvPlanResult *r = s->results[id];
        if (r->status == SV_PLAN_INFEASIBLE) {
            account(s, r);
            continue;
        }
        double bound = r->v[SV_RF_BOUND_RATE];
        if (!sp->prune || !isfinite(bound))
            continue;
        if (sp->mode == SV_SEARCH_PLAN && sp->objective != SV_OBJ_MAX_RATE && sp->open_loop &&
            sp->target_rate_per_s > 0 && bound < sp->target_rate_per_s)
            set_status(s, (int)id, SV_PLAN_BOUND,
                       g_strdup_printf("bound %.4g req/s (%s) below the load %.4g req/s", bound,
                                       "peak FLOP/s and bandwidth", sp->target_rate_per_s));
        else if (sp->mode == SV_SEARCH_CAPACITY && sp->max_devices > 0 &&
                 capacity_min_devices(s, r) > sp->max_devices)
            set_status(s, (int)id, SV_PLAN_BOUND,
                       g_strdup_printf("a fleet for %.4g req/s needs at least %.0f devices "
                                       "(bound %.4g req/s per replica) > max_devices %d",
                                       sp->target_rate_per_s, capacity_min_devices(s, r), bound,
                                       sp->max_devices));
    }
}

static gboolean check_objective(SvSearch *s, GError **error)
{
    const SvSearchSpace *sp = s->space;
    if (sp->mode != SV_SEARCH_PLAN || s->stats.simulated == 0)
        return TRUE;
    const char *need = NULL;
    if (sp->objective == SV_OBJ_USD_PER_MTOK && !s->cost_modelled)
        need = "cost";
    if (sp->objective == SV_OBJ_JOULES_PER_TOKEN && !s->energy_modelled)
        need = "energy";
    if (need == NULL)
        return TRUE;
    g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                "%s: search.objective %s needs the %s model, which this servesim does not "
                "have: not implemented yet (its runs report no %s)",
                sp->config_path, sv_objective_names[sp->objective], need, need);
    return FALSE;
}

static void update_modelled(SvSearch *s, const SvPlanResult *r)
{
    if (r->status != SV_PLAN_SIMULATED)
        return;
    s->cost_modelled |= r->v[SV_RF_COST_USD] > 0;
    s->energy_modelled |= r->v[SV_RF_ENERGY_J] > 0;
}

gboolean sv_search_run(SvSearch *s, SvRunner *runner, GError **error)
{
    const SvSearchSpace *sp = s->space;
    guint n = sp->plans->len;
    if (!run_checks(s, runner, error))
        return FALSE;
    prune_static(s);
    report(s);

    g_autofree double *prio = g_new0(double, n);
    g_autoptr(GArray) order = g_array_new(FALSE, FALSE, sizeof(int));
    for (guint id = 0; id < n; id++) {
        if (s->results[id]->status != SV_PLAN_PENDING)
            continue;
        prio[id] = priority(s, s->results[id]);
        g_array_append_val(order, id);
    }
    OrderCtx oc = {s, prio};
    g_array_sort_with_data(order, order_cmp, &oc);

    g_autoptr(GArray) met = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GArray) batch = g_array_new(FALSE, FALSE, sizeof(int));
    g_autoptr(GArray) todo = g_array_new(FALSE, FALSE, sizeof(int));
    guint next = 0;
    int64_t missing = 0;
    while (next < order->len) {
        g_array_set_size(batch, 0);
        while (next < order->len && (int)batch->len < sp->round_size) {
            int id = g_array_index(order, int, next++);
            int by = dominator(s, met, s->results[id]);
            if (by >= 0) {
                const SvPlanResult *q = s->results[by];
                set_status(s, id, SV_PLAN_DOMINATED,
                           g_strdup_printf(
                               "dominated by plan %d (%.0f devices, %s %.4g beats "
                               "this plan's best possible)",
                               by, result_devices(s, q),
                               sp->mode == SV_SEARCH_CAPACITY ? "fleet"
                                                              : sv_objective_names[sp->objective],
                               sp->mode == SV_SEARCH_CAPACITY ? q->v[SV_RF_FLEET_DEVICES]
                                                              : q->v[SV_RF_OBJECTIVE]));
                continue;
            }
            g_array_append_val(batch, id);
        }
        /* Results from earlier runs stand in for evaluations. */
        g_array_set_size(todo, 0);
        for (guint i = 0; i < batch->len; i++) {
            int id = g_array_index(batch, int, i);
            if (s->logged[id] != NULL) {
                SvPlanResult *r = s->logged[id];
                s->logged[id] = NULL;
                sv_plan_result_free(s->results[id]);
                s->results[id] = r;
                s->stats.resumed++;
                account(s, r);
            } else if (runner == NULL) {
                missing++;
            } else {
                g_array_append_val(todo, id);
            }
        }
        report(s);
        if (todo->len > 0 && !sv_runner_run(runner, SV_TASK_EVALUATE, (const int *)todo->data,
                                            (int)todo->len, on_evaluated, s, error))
            return FALSE;
        for (guint i = 0; i < batch->len; i++) {
            const SvPlanResult *r = s->results[g_array_index(batch, int, i)];
            update_modelled(s, r);
            if (r->status == SV_PLAN_SIMULATED && r->meets)
                g_array_append_val(met, r->id);
        }
        if (!check_objective(s, error))
            return FALSE;
    }
    if (missing > 0) {
        g_set_error(error, SV_PLAN_ERROR, SV_ERROR_NOT_FOUND,
                    "%" G_GINT64_FORMAT " plans have no result in the logs (a shard that "
                    "failed or has not run?); run the missing array tasks again, or `servesim "
                    "%s %s -o DIR` to finish them here",
                    missing, sp->mode == SV_SEARCH_PLAN ? "plan" : "capacity", sp->config_path);
        return FALSE;
    }
    for (guint i = 0; i < met->len; i++) {
        int id = g_array_index(met, int, i);
        if (s->best < 0 || wins(s, s->results[id], s->results[s->best]))
            s->best = id;
    }
    report(s);
    return TRUE;
}

/* ---- Slurm ---- */

static gboolean read_ids(const char *path, GArray *ids, guint limit, GError **error)
{
    g_autofree char *text = NULL;
    GError *inner = NULL;
    if (!g_file_get_contents(path, &text, NULL, &inner)) {
        g_set_error(error, G_FILE_ERROR, inner->code, "%s: %s", path, inner->message);
        g_error_free(inner);
        return FALSE;
    }
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i] != NULL; i++) {
        char *l = g_strstrip(lines[i]);
        if (*l == '\0' || *l == '#')
            continue;
        char *end = NULL;
        long v = strtol(l, &end, 10);
        /* "ID KEY": the key is for people. */
        if (end == l || (*end != '\0' && *end != ' ' && *end != '\t') || v < 0 ||
            (guint)v >= limit) {
            g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                        "%s:%d:1: expected a plan id below %u, got '%s'", path, i + 1, limit, l);
            return FALSE;
        }
        int id = (int)v;
        g_array_append_val(ids, id);
    }
    return TRUE;
}

gboolean sv_search_run_shard(SvSearch *s, SvRunner *runner, const char *shard_file, GError **error)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int));
    if (!read_ids(shard_file, ids, s->space->plans->len, error))
        return FALSE;
    g_autoptr(GArray) todo = g_array_new(FALSE, FALSE, sizeof(int));
    for (guint i = 0; i < ids->len; i++) {
        int id = g_array_index(ids, int, i);
        if (s->logged[id] != NULL)
            s->stats.resumed++;
        else
            g_array_append_val(todo, id);
    }
    s->stats.plans = ids->len;
    s->stats.decided = s->stats.resumed;
    report(s);
    return sv_runner_run(runner, SV_TASK_EVALUATE, (const int *)todo->data, (int)todo->len,
                         on_evaluated, s, error);
}

static gboolean write_file(const char *path, const char *text, GError **error)
{
    g_autofree char *tmp = g_strconcat(path, ".tmp", NULL);
    GError *inner = NULL;
    if (!g_file_set_contents(tmp, text, -1, &inner) || rename(tmp, path) != 0) {
        g_set_error(error, G_FILE_ERROR, inner != NULL ? inner->code : G_FILE_ERROR_FAILED,
                    "%s: %s", path, inner != NULL ? inner->message : g_strerror(errno));
        g_clear_error(&inner);
        return FALSE;
    }
    return TRUE;
}

gboolean sv_search_emit_slurm(SvSearch *s, SvRunner *runner, const char *dir, int shards,
                              const char *servesim, GError **error)
{
    const SvSearchSpace *sp = s->space;
    if (!run_checks(s, runner, error))
        return FALSE;
    prune_static(s);
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(int));
    for (guint id = 0; id < sp->plans->len; id++)
        if (s->results[id]->status == SV_PLAN_PENDING)
            g_array_append_val(ids, id);
    if (shards <= 0)
        shards = (int)MIN(64u, MAX(1u, (ids->len + 31) / 32));
    shards = (int)MIN((guint)shards, MAX(ids->len, 1u));
    g_autofree char *shard_dir = g_build_filename(dir, "shards", NULL);
    if (g_mkdir_with_parents(shard_dir, 0755) != 0) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", shard_dir,
                    g_strerror(err));
        return FALSE;
    }
    /* Round-robin over the priority order would balance better, but plain
     * id order keeps each shard readable; plans differ little in cost. */
    for (int k = 0; k < shards; k++) {
        g_autoptr(GString) text = g_string_new(NULL);
        g_string_append_printf(text, "# shard %d of %d of %s: plan ids (and keys)\n", k, shards,
                               sp->config_path);
        for (guint i = (guint)k; i < ids->len; i += (guint)shards) {
            int id = g_array_index(ids, int, i);
            const SvPlanSpec *p = g_ptr_array_index(sp->plans, id);
            g_string_append_printf(text, "%d %s\n", id, p->key);
        }
        g_autofree char *name = g_strdup_printf("shard-%04d.txt", k);
        g_autofree char *path = g_build_filename(shard_dir, name, NULL);
        if (!write_file(path, text->str, error))
            return FALSE;
    }
    g_autofree char *abs_dir = g_canonicalize_filename(dir, NULL);
    g_autofree char *abs_config = g_canonicalize_filename(sp->config_path, NULL);
    g_autofree char *abs_bin = g_canonicalize_filename(servesim, NULL);
    const char *verb = sp->mode == SV_SEARCH_PLAN ? "plan" : "capacity";
    g_autofree char *meta = g_strdup_printf("config=%s\nmode=%s\nfingerprint=%s\nshards=%d\n",
                                            abs_config, verb, s->fingerprint, shards);
    g_autofree char *meta_path = g_build_filename(dir, "search.txt", NULL);
    if (!write_file(meta_path, meta, error))
        return FALSE;
    g_autofree char *script = g_strdup_printf(
        "#!/bin/bash\n"
        "# servesim %s of %s: %u plans to simulate in %d shards, one array task each.\n"
        "# Submit: sbatch %s/servesim.sbatch   then merge: servesim collect %s\n"
        "# Add #SBATCH lines for your site (partition, account, time). Each task runs\n"
        "# its shard with one thread per CPU it is given and appends to its own\n"
        "# results log, so a task that is re-run resumes where it stopped.\n"
        "#SBATCH --job-name=servesim-%s\n"
        "#SBATCH --array=0-%d\n"
        "#SBATCH --cpus-per-task=1\n"
        "#SBATCH --output=%s/shards/slurm-%%A_%%a.out\n"
        "set -euo pipefail\n"
        "shard=$(printf '%s/shards/shard-%%04d.txt' \"$SLURM_ARRAY_TASK_ID\")\n"
        "exec '%s' %s '%s' -o '%s' --shard \"$shard\" --jobs \"${SLURM_CPUS_PER_TASK:-1}\" "
        "--quiet\n",
        verb, abs_config, ids->len, shards, abs_dir, abs_dir, verb, shards - 1, abs_dir, abs_dir,
        abs_bin, verb, abs_config, abs_dir);
    g_autofree char *script_path = g_build_filename(dir, "servesim.sbatch", NULL);
    if (!write_file(script_path, script, error))
        return FALSE;
    chmod(script_path, 0755);
    return TRUE;
}

gboolean sv_search_read_emit(const char *dir, char **config_path, SvSearchMode *mode,
                             GError **error)
{
    g_autofree char *path = g_build_filename(dir, "search.txt", NULL);
    g_autofree char *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL)) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_NOT_FOUND,
                    "%s: not found; collect merges a directory written by `servesim plan "
                    "--emit slurm DIR`",
                    path);
        return FALSE;
    }
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    *config_path = NULL;
    *mode = SV_SEARCH_PLAN;
    for (int i = 0; lines[i] != NULL; i++) {
        if (g_str_has_prefix(lines[i], "config="))
            *config_path = g_strdup(lines[i] + 7);
        else if (strcmp(lines[i], "mode=capacity") == 0)
            *mode = SV_SEARCH_CAPACITY;
    }
    if (*config_path == NULL) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID, "%s:1:1: no config= line", path);
        return FALSE;
    }
    return TRUE;
}

/* ---- outputs ---- */

static gboolean int_field(int f)
{
    return f == SV_RF_COMPLETED || f == SV_RF_REJECTED || f == SV_RF_PREEMPTIONS ||
           f == SV_RF_OUTPUT_TOKENS || f == SV_RF_SIMULATIONS || f == SV_RF_FLEET_REPLICAS ||
           f == SV_RF_FLEET_DEVICES;
}

/* Text cells are never quoted: commas become ';' and quotes and newlines
 * are replaced, so that a plain split on ',' (awk -F, or a simple reader
 * like servesim plot's) finds the columns. */
static void csv_text(GString *out, const char *s)
{
    for (const char *p = s; *p; p++)
        g_string_append_c(out, *p == ','                    ? ';'
                               : *p == '"'                  ? '\''
                               : (*p == '\n' || *p == '\r') ? ' '
                                                            : *p);
}

static void csv_number(GString *out, double v, gboolean integer)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    if (isinf(v))
        g_string_append(out, v > 0 ? "inf" : "-inf");
    else if (isnan(v))
        g_string_append(out, "nan");
    else
        g_string_append(out, g_ascii_formatd(buf, sizeof buf, integer ? "%.0f" : "%.6g", v));
}

static void csv_header(const SvSearch *s, GString *out)
{
    const SvSearchSpace *sp = s->space;
    g_string_append(out, "plan");
    for (guint k = 0; k < sp->knobs->len; k++) {
        g_string_append_c(out, ',');
        csv_text(out, ((const SvKnob *)g_ptr_array_index(sp->knobs, k))->name);
    }
    if (sp->disaggregation)
        g_string_append(out, ",prefill_replicas,decode_replicas");
    g_string_append(out, ",devices,status,meets_slo,why");
    for (int f = 0; f < SV_RF_COUNT; f++)
        g_string_append_printf(out, ",%s", sv_result_field_names[f]);
    g_string_append_c(out, '\n');
}

static void csv_row(const SvSearch *s, const SvPlanResult *r, GString *out)
{
    const SvSearchSpace *sp = s->space;
    const SvPlanSpec *p = g_ptr_array_index(sp->plans, r->id);
    g_string_append_printf(out, "%d", r->id);
    for (guint k = 0; k < sp->knobs->len; k++) {
        g_string_append_c(out, ',');
        csv_text(out, sv_search_plan_value(sp, r->id, (int)k));
    }
    if (sp->disaggregation)
        g_string_append_printf(out, ",%d,%d", p->prefill,
                               p->prefill > 0 ? p->replicas - p->prefill : 0);
    g_string_append_printf(out, ",%d,%s,%s,", p->devices, sv_plan_status_names[r->status],
                           r->status == SV_PLAN_SIMULATED ? (r->meets ? "yes" : "no") : "-");
    csv_text(out, r->why != NULL ? r->why : "");
    for (int f = 0; f < SV_RF_COUNT; f++) {
        g_string_append_c(out, ',');
        /* Nothing was measured for a plan that was not simulated. */
        if (r->status != SV_PLAN_SIMULATED && f != SV_RF_BOUND_RATE && f != SV_RF_OFFERED_RATE &&
            f != SV_RF_KW_TDP)
            continue;
        csv_number(out, r->v[f], int_field(f));
    }
    g_string_append_c(out, '\n');
}

/* The Pareto front of the plans that meet the SLO: devices (fewer) and the
 * objective (plan); fleet devices, kW and dollars per hour (capacity). */
static gboolean dominates(const SvSearch *s, const SvPlanResult *a, const SvPlanResult *b)
{
    double da = result_devices(s, a), db = result_devices(s, b);
    if (s->space->mode == SV_SEARCH_CAPACITY) {
        double ka = a->v[SV_RF_KW_TDP], kb = b->v[SV_RF_KW_TDP];
        double ua = a->v[SV_RF_USD_PER_HOUR], ub = b->v[SV_RF_USD_PER_HOUR];
        return da <= db && ka <= kb && ua <= ub && (da < db || ka < kb || ua < ub);
    }
    double oa = a->v[SV_RF_OBJECTIVE], ob = b->v[SV_RF_OBJECTIVE];
    gboolean obj_ge = maximize(s) ? oa >= ob : oa <= ob;
    return da <= db && obj_ge && (da < db || oa != ob);
}

gboolean sv_search_write(SvSearch *s, const char *dir, GError **error)
{
    const SvSearchSpace *sp = s->space;
    if (g_mkdir_with_parents(dir, 0755) != 0) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", dir,
                    g_strerror(err));
        return FALSE;
    }
    g_autoptr(GString) plans = g_string_new(NULL);
    g_autoptr(GString) pareto = g_string_new(NULL);
    csv_header(s, plans);
    csv_header(s, pareto);
    for (guint id = 0; id < sp->plans->len; id++) {
        const SvPlanResult *r = s->results[id];
        csv_row(s, r, plans);
        if (r->status != SV_PLAN_SIMULATED || !r->meets)
            continue;
        gboolean front = TRUE;
        for (guint j = 0; j < sp->plans->len && front; j++) {
            const SvPlanResult *q = s->results[j];
            if (j != id && q->status == SV_PLAN_SIMULATED && q->meets && dominates(s, q, r))
                front = FALSE;
        }
        if (front)
            csv_row(s, r, pareto);
    }
    g_autofree char *plans_path = g_build_filename(dir, "plans.csv", NULL);
    g_autofree char *pareto_path = g_build_filename(dir, "pareto.csv", NULL);
    g_autofree char *best_path = g_build_filename(dir, "best.yaml", NULL);
    if (!write_file(plans_path, plans->str, error) || !write_file(pareto_path, pareto->str, error))
        return FALSE;
    const SvPlanResult *best = sv_search_best(s);
    if (best == NULL) {
        unlink(best_path); /* an earlier run's winner is no longer one */
        return TRUE;
    }
    g_autofree char *yaml = sv_plan_yaml(s->ctx, best, error);
    if (yaml == NULL)
        return FALSE;
    const SvPlanSpec *p = g_ptr_array_index(sp->plans, best->id);
    /* The study's file name only: the same search run from another folder
     * (or collected) writes the same file. */
    g_autofree char *study = g_path_get_basename(sp->config_path);
    g_autoptr(GString) text = g_string_new(NULL);
    if (sp->mode == SV_SEARCH_PLAN)
        g_string_append_printf(text,
                               "# servesim plan: the best of %u plans of %s by %s (%.6g)\n"
                               "# plan %d: %s\n",
                               sp->plans->len, study, sv_objective_names[sp->objective],
                               best->v[SV_RF_OBJECTIVE], best->id, p->key);
    else
        g_string_append_printf(text,
                               "# servesim capacity: the cheapest fleet for %.6g req/s of %s\n"
                               "# plan %d: %s; %.0f replicas, %.0f devices, headroom %.1f %%\n",
                               sp->target_rate_per_s, study, best->id, p->key,
                               best->v[SV_RF_FLEET_REPLICAS], best->v[SV_RF_FLEET_DEVICES],
                               100 * best->v[SV_RF_HEADROOM]);
    g_string_append_printf(text, "# Run it: servesim run best.yaml\n%s", yaml);
    return write_file(best_path, text->str, error);
}

/* ---- stdout table ---- */

static gint rank_cmp(gconstpointer a, gconstpointer b, gpointer data)
{
    const SvSearch *s = data;
    const SvPlanResult *x = s->results[*(const int *)a], *y = s->results[*(const int *)b];
    return wins(s, x, y) ? -1 : wins(s, y, x) ? 1 : 0;
}

char *sv_search_format_table(SvSearch *s, int rows)
{
    const SvSearchSpace *sp = s->space;
    const SvSearchStats *st = &s->stats;
    GString *out = g_string_new(NULL);
    gboolean cap = sp->mode == SV_SEARCH_CAPACITY;
    g_string_append_printf(out, "servesim %s: %s  (objective %s", cap ? "capacity" : "plan",
                           sp->config_path,
                           cap ? "cheapest fleet" : sv_objective_names[sp->objective]);
    if (sp->target_rate_per_s > 0)
        g_string_append_printf(out, ", target %.4g req/s", sp->target_rate_per_s);
    g_string_append(out, ")\n");
    g_string_append_printf(out,
                           "plans        %" G_GINT64_FORMAT " in the space: %" G_GINT64_FORMAT
                           " do not fit, %" G_GINT64_FORMAT " below the bound, %" G_GINT64_FORMAT
                           " dominated, %" G_GINT64_FORMAT " simulated (%" G_GINT64_FORMAT
                           " from earlier runs), %" G_GINT64_FORMAT " meet the SLO\n",
                           st->plans, st->infeasible, st->bound, st->dominated, st->simulated,
                           st->resumed, st->meets);

    g_autoptr(GArray) met = g_array_new(FALSE, FALSE, sizeof(int));
    for (guint id = 0; id < sp->plans->len; id++)
        if (s->results[id] != NULL && s->results[id]->status == SV_PLAN_SIMULATED &&
            s->results[id]->meets)
            g_array_append_val(met, id);
    g_array_sort_with_data(met, rank_cmp, s);
    if (met->len == 0) {
        g_string_append(out, "best         none of the plans meets the SLO at the target load\n");
        return g_string_free(out, FALSE);
    }
    /* Columns: rank, plan, the knobs that vary, then the figures. */
    g_autoptr(GPtrArray) head = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func(g_free);
    const char *figs_plan[] = {"devices", "goodput", "ttft p90", "tpot p90", "objective"};
    const char *figs_cap[] = {"max rate/replica", "replicas", "devices",
                              "kW (TDP)",         "$/h",      "headroom"};
    g_ptr_array_add(head, g_strdup("rank"));
    g_ptr_array_add(head, g_strdup("plan"));
    for (guint k = 0; k < sp->knobs->len; k++) {
        const SvKnob *kn = g_ptr_array_index(sp->knobs, k);
        if (kn->values->len > 1 || k == (guint)sp->knob_hw)
            g_ptr_array_add(head, g_strdup(kn->name));
    }
    if (sp->disaggregation)
        g_ptr_array_add(head, g_strdup("pools"));
    const char **figs = cap ? figs_cap : figs_plan;
    int nfigs = cap ? (int)G_N_ELEMENTS(figs_cap) : (int)G_N_ELEMENTS(figs_plan);
    for (int f = 0; f < nfigs; f++)
        g_ptr_array_add(head, g_strdup(figs[f]));
    guint ncol = head->len;
    guint shown = MIN(met->len, (guint)MAX(rows, 1));
    for (guint i = 0; i < shown; i++) {
        const SvPlanResult *r = s->results[g_array_index(met, int, i)];
        const SvPlanSpec *p = g_ptr_array_index(sp->plans, r->id);
        g_ptr_array_add(cells, g_strdup_printf("%u", i + 1));
        g_ptr_array_add(cells, g_strdup_printf("%d", r->id));
        for (guint k = 0; k < sp->knobs->len; k++) {
            const SvKnob *kn = g_ptr_array_index(sp->knobs, k);
            if (kn->values->len > 1 || k == (guint)sp->knob_hw)
                g_ptr_array_add(cells, g_strdup(sv_search_plan_value(sp, r->id, (int)k)));
        }
        if (sp->disaggregation)
            g_ptr_array_add(cells, p->prefill > 0 ? g_strdup_printf("%dP%dD", p->prefill,
                                                                    p->replicas - p->prefill)
                                                  : g_strdup("mixed"));
        if (cap) {
            g_ptr_array_add(cells, g_strdup_printf("%.3g", r->v[SV_RF_MAX_RATE]));
            g_ptr_array_add(cells, g_strdup_printf("%.0f", r->v[SV_RF_FLEET_REPLICAS]));
            g_ptr_array_add(cells, g_strdup_printf("%.0f", r->v[SV_RF_FLEET_DEVICES]));
            g_ptr_array_add(cells, g_strdup_printf("%.1f", r->v[SV_RF_KW_TDP]));
            g_ptr_array_add(cells, r->v[SV_RF_USD_PER_HOUR] > 0
                                       ? g_strdup_printf("%.2f", r->v[SV_RF_USD_PER_HOUR])
                                       : g_strdup("-"));
            g_ptr_array_add(cells, g_strdup_printf("%.0f %%", 100 * r->v[SV_RF_HEADROOM]));
        } else {
            g_ptr_array_add(cells, g_strdup_printf("%d", p->devices));
            g_ptr_array_add(cells, g_strdup_printf("%.3g", r->v[SV_RF_GOODPUT]));
            g_ptr_array_add(cells, g_strdup_printf("%.3f", r->v[SV_RF_TTFT_P90]));
            g_ptr_array_add(cells, g_strdup_printf("%.4f", r->v[SV_RF_TPOT_P90]));
            g_ptr_array_add(cells, g_strdup_printf("%.4g", r->v[SV_RF_OBJECTIVE]));
        }
    }
    g_autofree int *width = g_new0(int, ncol);
    for (guint c = 0; c < ncol; c++) {
        width[c] = (int)strlen(g_ptr_array_index(head, c));
        for (guint i = 0; i < shown; i++)
            width[c] = MAX(width[c], (int)strlen(g_ptr_array_index(cells, i * ncol + c)));
    }
    for (guint c = 0; c < ncol; c++)
        g_string_append_printf(out, "%s%*s", c ? "  " : "", width[c],
                               (const char *)g_ptr_array_index(head, c));
    g_string_append_c(out, '\n');
    for (guint i = 0; i < shown; i++) {
        for (guint c = 0; c < ncol; c++)
            g_string_append_printf(out, "%s%*s", c ? "  " : "", width[c],
                                   (const char *)g_ptr_array_index(cells, i * ncol + c));
        g_string_append_c(out, '\n');
    }
    const SvPlanResult *b = sv_search_best(s);
    if (b != NULL) {
        const SvPlanSpec *p = g_ptr_array_index(sp->plans, b->id);
        if (cap)
            g_string_append_printf(
                out,
                "best         plan %d (%s): %.0f replicas, %.0f devices, "
                "%.1f kW (TDP)%s, carries %.4g req/s with %.0f %% headroom "
                "(one replica: %.3g req/s)\n",
                b->id, p->key, b->v[SV_RF_FLEET_REPLICAS], b->v[SV_RF_FLEET_DEVICES],
                b->v[SV_RF_KW_TDP], b->v[SV_RF_USD_PER_HOUR] > 0 ? "" : ", cost not modelled",
                sp->target_rate_per_s, 100 * b->v[SV_RF_HEADROOM], b->v[SV_RF_MAX_RATE]);
        else
            g_string_append_printf(out,
                                   "best         plan %d (%s): %d devices, %s %.4g, goodput "
                                   "%.3g req/s, ttft p90 %.3f s, tpot p90 %.4f s\n",
                                   b->id, p->key, p->devices, sv_objective_names[sp->objective],
                                   b->v[SV_RF_OBJECTIVE], b->v[SV_RF_GOODPUT], b->v[SV_RF_TTFT_P90],
                                   b->v[SV_RF_TPOT_P90]);
    }
    return g_string_free(out, FALSE);
}
