/* servesim plot: render a run's or a sweep's outputs as PNG and SVG with the
 * gnuplot scripts in plots/. This file reads and checks the run files
 * (requests.csv, timeseries.csv, summary.json), reduces them to small tables
 * (501 quantiles per latency CDF, one row per run of a sweep, every n-th
 * time-series row) so a million-request run still gives small SVGs, and
 * drives gnuplot once per figure and format. Bad or missing input is exit 2
 * before anything is written; so is a missing gnuplot. */
#include "cli/commands.h"
#include "metrics/metrics.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

static const char plot_help[] =
    "Render a run (or a sweep of runs) as PNG and SVG figures with gnuplot.\n"
    "\n"
    "Examples:\n"
    "  servesim run configs/quickstart.yaml -o out/qs && servesim plot out/qs\n"
    "  servesim plot out/sweep -o out/sweep-plots   # out/sweep/*/ are runs\n"
    "  servesim plot out/r5 out/r10 out/r20 -o out/sweep-plots\n"
    "\n"
    "A run directory (from run -o) gives latency-cdf (TTFT, TPOT and E2E CDFs),\n"
    "timeseries (queue, batch size and KV use over time) and power (power over\n"
    "time). Several run directories, or one directory whose subdirectories are\n"
    "runs, give throughput-latency (throughput and TTFT/TPOT/E2E percentiles\n"
    "against the offered request rate) and sweep.csv (its numbers). A plan\n"
    "search's directory (plan or capacity -o) gives pareto (each simulated\n"
    "plan's objective against its devices, and the Pareto front). Each\n"
    "figure is written as NAME.png and NAME.svg into OUT_DIR (default: the\n"
    "run's or sweep's directory + /plots). Needs gnuplot (scripts/deps.sh\n"
    "installs it); the scripts are in plots/.";

#define CDF_POINTS    501  /* quantiles per latency CDF */
#define SERIES_POINTS 4000 /* at most this many time-series rows per line */

/* ---- CSV reading, with FILE:LINE:COL errors ---- */

typedef struct {
    char *path; /* for messages */
    FILE *f;
    char *line;
    size_t cap;
    int line_no;
    GPtrArray *header; /* column names (owned) */
    char **fields;     /* the current row's fields, pointing into line */
    int n_fields;
} Csv;

static void csv_close(Csv *c)
{
    if (c->f != NULL)
        fclose(c->f);
    free(c->line);
    g_free(c->fields);
    g_free(c->path);
    if (c->header != NULL)
        g_ptr_array_unref(c->header);
    memset(c, 0, sizeof(*c));
}

static void bad_file(GError **error, const char *path, int line, int col, const char *fmt, ...)
    G_GNUC_PRINTF(5, 6);
static void bad_file(GError **error, const char *path, int line, int col, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s:%d:%d: %s", path, line, col, msg);
}

/* Split c->line in place at commas; strips the line end. */
static int split_line(Csv *c, ssize_t len)
{
    while (len > 0 && (c->line[len - 1] == '\n' || c->line[len - 1] == '\r'))
        c->line[--len] = '\0';
    int n = 1;
    for (ssize_t i = 0; i < len; i++)
        n += c->line[i] == ',';
    c->fields = g_renew(char *, c->fields, n);
    c->fields[0] = c->line;
    int k = 1;
    for (ssize_t i = 0; i < len; i++) {
        if (c->line[i] == ',') {
            c->line[i] = '\0';
            c->fields[k++] = &c->line[i + 1];
        }
    }
    c->n_fields = n;
    return n;
}

static gboolean csv_open(Csv *c, const char *path, GError **error)
{
    memset(c, 0, sizeof(*c));
    c->path = g_strdup(path);
    c->f = fopen(path, "r");
    if (c->f == NULL) {
        int errsv = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv), "%s: %s", path,
                    g_strerror(errsv));
        return FALSE;
    }
    ssize_t len = getline(&c->line, &c->cap, c->f);
    c->line_no = 1;
    if (len <= 0) {
        bad_file(error, path, 1, 1, "empty file, expected a header row");
        return FALSE;
    }
    split_line(c, len);
    c->header = g_ptr_array_new_with_free_func(g_free);
    for (int i = 0; i < c->n_fields; i++)
        g_ptr_array_add(c->header, g_strdup(c->fields[i]));
    return TRUE;
}

/* 0-based index of column @name, or -1. */
static int csv_find(const Csv *c, const char *name)
{
    for (guint i = 0; i < c->header->len; i++)
        if (strcmp(g_ptr_array_index(c->header, i), name) == 0)
            return (int)i;
    return -1;
}

static gboolean csv_require(const Csv *c, const char *name, int *col, GError **error)
{
    *col = csv_find(c, name);
    if (*col < 0) {
        bad_file(error, c->path, 1, 1, "no column '%s' (is this a servesim output?)", name);
        return FALSE;
    }
    return TRUE;
}

/* Next row: 1, 0 at the end, -1 on error (a row whose width is not the header's). */
static int csv_next(Csv *c, GError **error)
{
    for (;;) {
        ssize_t len = getline(&c->line, &c->cap, c->f);
        if (len < 0)
            return 0;
        c->line_no++;
        if (len == 1 && c->line[0] == '\n')
            continue; /* a blank line, e.g. at the end */
        int n = split_line(c, len);
        if (n != (int)c->header->len) {
            bad_file(error, c->path, c->line_no, 1, "%d fields, the header has %u", n,
                     c->header->len);
            return -1;
        }
        return 1;
    }
}

/* Field @col of the current row as a number; an empty field gives NAN when
 * @allow_empty. */
static gboolean csv_double(const Csv *c, int col, gboolean allow_empty, double *out, GError **error)
{
    const char *s = c->fields[col];
    int where = 1;
    for (int i = 0; i < col; i++)
        where += (int)strlen(c->fields[i]) + 1;
    if (*s == '\0') {
        if (allow_empty) {
            *out = NAN;
            return TRUE;
        }
        bad_file(error, c->path, c->line_no, where, "empty value in column '%s'",
                 (const char *)g_ptr_array_index(c->header, col));
        return FALSE;
    }
    char *end = NULL;
    double v = g_ascii_strtod(s, &end);
    if (end == s || *end != '\0' || !isfinite(v)) {
        bad_file(error, c->path, c->line_no, where, "'%s' is not a number (column '%s')", s,
                 (const char *)g_ptr_array_index(c->header, col));
        return FALSE;
    }
    *out = v;
    return TRUE;
}

/* ---- run directories ---- */

static gboolean has_file(const char *dir, const char *name)
{
    g_autofree char *p = g_build_filename(dir, name, NULL);
    return g_file_test(p, G_FILE_TEST_IS_REGULAR);
}

static gboolean is_run_dir(const char *dir)
{
    return has_file(dir, "requests.csv") || has_file(dir, "timeseries.csv") ||
           has_file(dir, "summary.json");
}

/* The latencies of a run's completed requests, and the arrival span. */
typedef struct {
    GArray *ttft, *tpot, *e2e; /* double, s */
    int64_t rows;
    double first_arrival_s, last_arrival_s;
} Latencies;

static void latencies_clear(Latencies *l)
{
    if (l->ttft != NULL) {
        g_array_unref(l->ttft);
        g_array_unref(l->tpot);
        g_array_unref(l->e2e);
    }
    memset(l, 0, sizeof(*l));
}

static gboolean read_requests(const char *dir, Latencies *l, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "requests.csv", NULL);
    Csv c;
    memset(l, 0, sizeof(*l));
    l->ttft = g_array_new(FALSE, FALSE, sizeof(double));
    l->tpot = g_array_new(FALSE, FALSE, sizeof(double));
    l->e2e = g_array_new(FALSE, FALSE, sizeof(double));
    gboolean ok = csv_open(&c, path, error);
    int c_out = -1, c_arr = -1, c_ttft = -1, c_tpot = -1, c_e2e = -1;
    ok = ok && csv_require(&c, "outcome", &c_out, error) &&
         csv_require(&c, "arrival_s", &c_arr, error) && csv_require(&c, "ttft_s", &c_ttft, error) &&
         csv_require(&c, "tpot_s", &c_tpot, error) && csv_require(&c, "e2e_s", &c_e2e, error);
    int r = 0;
    while (ok && (r = csv_next(&c, error)) > 0) {
        double arrival, ttft, tpot, e2e;
        const char *outcome = c.fields[c_out];
        gboolean done = strcmp(outcome, "completed") == 0;
        if (!done && strcmp(outcome, "rejected") != 0) {
            bad_file(error, path, c.line_no, 1,
                     "outcome '%s' is neither 'completed' nor 'rejected'", outcome);
            ok = FALSE;
            break;
        }
        ok = csv_double(&c, c_arr, FALSE, &arrival, error) &&
             csv_double(&c, c_ttft, !done, &ttft, error) &&
             csv_double(&c, c_tpot, TRUE, &tpot, error) &&
             csv_double(&c, c_e2e, !done, &e2e, error);
        if (!ok)
            break;
        if (l->rows == 0 || arrival < l->first_arrival_s)
            l->first_arrival_s = arrival;
        if (l->rows == 0 || arrival > l->last_arrival_s)
            l->last_arrival_s = arrival;
        l->rows++;
        if (!done)
            continue;
        g_array_append_val(l->ttft, ttft);
        g_array_append_val(l->e2e, e2e);
        if (!isnan(tpot)) /* one-token requests have no TPOT */
            g_array_append_val(l->tpot, tpot);
    }
    ok = ok && r == 0;
    csv_close(&c);
    return ok;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void sort_values(GArray *a)
{
    qsort(a->data, a->len, sizeof(double), cmp_double);
}

static double quantile(GArray *sorted, double fraction)
{
    return sv_percentile_sorted((const double *)sorted->data, sorted->len, 100.0 * fraction);
}

/* Columns of timeseries.csv the figures use (0-based; -1 when absent). */
typedef struct {
    int time, running, waiting, kv, bseqs, btok;
    GArray *power_cols;     /* int */
    GPtrArray *power_names; /* char* (owned) */
    int64_t rows;
    double last_t_s;
    double power_max_w;
} Series;

static void series_clear(Series *s)
{
    if (s->power_cols != NULL)
        g_array_unref(s->power_cols);
    if (s->power_names != NULL)
        g_ptr_array_unref(s->power_names);
    memset(s, 0, sizeof(*s));
}

static gboolean read_timeseries(const char *dir, Series *s, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "timeseries.csv", NULL);
    memset(s, 0, sizeof(*s));
    s->power_cols = g_array_new(FALSE, FALSE, sizeof(int));
    s->power_names = g_ptr_array_new_with_free_func(g_free);
    Csv c;
    gboolean ok = csv_open(&c, path, error) && csv_require(&c, "t_s", &s->time, error) &&
                  csv_require(&c, "running", &s->running, error) &&
                  csv_require(&c, "waiting", &s->waiting, error) &&
                  csv_require(&c, "kv_utilization", &s->kv, error);
    if (!ok) {
        csv_close(&c);
        return FALSE;
    }
    /* Runs written before the batch columns existed plot without that panel. */
    s->bseqs = csv_find(&c, "batch_seqs");
    s->btok = csv_find(&c, "batch_tokens");
    if (s->btok < 0)
        s->bseqs = -1;
    for (guint i = 0; i < c.header->len; i++) {
        const char *name = g_ptr_array_index(c.header, i);
        if (!g_str_has_prefix(name, "power_w"))
            continue;
        int col = (int)i;
        g_array_append_val(s->power_cols, col);
        /* power_w is the cluster; power_w_<pool> a pool. */
        g_ptr_array_add(s->power_names,
                        g_strdup(name[7] == '_' && name[8] != '\0' ? name + 8 : "cluster"));
    }
    int r = 0;
    while ((r = csv_next(&c, error)) > 0) {
        for (int i = 0; i < c.n_fields; i++) {
            double v;
            if (!csv_double(&c, i, FALSE, &v, error)) {
                r = -1;
                break;
            }
            if (i == s->time)
                s->last_t_s = v;
            for (guint k = 0; k < s->power_cols->len; k++)
                if (i == g_array_index(s->power_cols, int, k) && v > s->power_max_w)
                    s->power_max_w = v;
        }
        if (r < 0)
            break;
        s->rows++;
    }
    csv_close(&c);
    if (r == 0 && s->rows == 0) {
        bad_file(error, path, 2, 1, "no rows after the header");
        return FALSE;
    }
    return r == 0;
}

/* summary.json, parsed. (transfer full) NULL with @error when unreadable. */
static JsonParser *read_summary(const char *dir, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "summary.json", NULL);
    g_autoptr(JsonParser) parser = json_parser_new();
    g_autoptr(GError) local = NULL;
    if (!json_parser_load_from_file(parser, path, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s: no such file", path);
        else if (g_str_has_prefix(local->message, path)) /* json-glib's "PATH:L:C: ..." */
            g_set_error_literal(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, local->message);
        else
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: %s", path, local->message);
        return NULL;
    }
    if (!JSON_NODE_HOLDS_OBJECT(json_parser_get_root(parser))) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s:1:1: not a JSON object", path);
        return NULL;
    }
    return g_steal_pointer(&parser);
}

/* A number at a dotted path of @root ("ttft_s.p50"), or FALSE. */
static gboolean json_number(JsonObject *root, const char *dotted, double *out)
{
    g_auto(GStrv) parts = g_strsplit(dotted, ".", -1);
    JsonObject *o = root;
    for (int i = 0; parts[i] != NULL; i++) {
        if (o == NULL || !json_object_has_member(o, parts[i]))
            return FALSE;
        JsonNode *n = json_object_get_member(o, parts[i]);
        if (parts[i + 1] == NULL) {
            if (!JSON_NODE_HOLDS_VALUE(n) || (json_node_get_value_type(n) != G_TYPE_DOUBLE &&
                                              json_node_get_value_type(n) != G_TYPE_INT64))
                return FALSE;
            *out = json_node_get_double(n);
            return TRUE;
        }
        o = JSON_NODE_HOLDS_OBJECT(n) ? json_node_get_object(n) : NULL;
    }
    return FALSE;
}

static const char *json_string(JsonObject *o, const char *member)
{
    if (o == NULL || !json_object_has_member(o, member))
        return NULL;
    JsonNode *n = json_object_get_member(o, member);
    return JSON_NODE_HOLDS_VALUE(n) && json_node_get_value_type(n) == G_TYPE_STRING
               ? json_node_get_string(n)
               : NULL;
}

/* "llama-3-8b on 2 x h100-sxm TP1, vllm-v1" from the study echo, or NULL. */
static char *study_title(JsonObject *root)
{
    if (root == NULL || !json_object_has_member(root, "study") ||
        !JSON_NODE_HOLDS_OBJECT(json_object_get_member(root, "study")))
        return NULL;
    JsonObject *study = json_object_get_object_member(root, "study");
    const char *model = json_string(study, "model");
    if (model == NULL)
        return NULL;
    GString *t = g_string_new(model);
    JsonNode *pools = json_object_get_member(study, "pools");
    if (pools != NULL && JSON_NODE_HOLDS_ARRAY(pools)) {
        JsonArray *a = json_node_get_array(pools);
        for (guint i = 0; i < json_array_get_length(a); i++) {
            JsonNode *pn = json_array_get_element(a, i);
            if (!JSON_NODE_HOLDS_OBJECT(pn))
                continue;
            JsonObject *p = json_node_get_object(pn);
            double replicas = 0, tp = 0;
            json_number(p, "replicas", &replicas);
            json_number(p, "tp", &tp);
            const char *hw = json_string(p, "hardware");
            g_string_append_printf(t, "%s %.0f x %s TP%.0f", i == 0 ? " on" : " +", replicas,
                                   hw ? hw : "?", tp);
        }
    }
    const char *sched = json_string(study, "scheduler");
    if (sched != NULL)
        g_string_append_printf(t, ", %s", sched);
    return g_string_free(t, FALSE);
}

/* ---- gnuplot ---- */

/* A gnuplot single-quoted string: a quote inside is doubled. */
static void put_gp_string(GString *out, const char *name, const char *value)
{
    g_string_append_printf(out, "%s = '", name);
    for (const char *p = value; *p; p++) {
        if (*p == '\'')
            g_string_append_c(out, '\'');
        if (*p != '\n')
            g_string_append_c(out, *p);
    }
    g_string_append(out, "'\n");
}

static void put_gp_number(GString *out, const char *name, double value)
{
    char buf[G_ASCII_DTOSTR_BUF_SIZE];
    g_string_append_printf(out, "%s = %s\n", name,
                           g_ascii_formatd(buf, sizeof(buf), "%.10g", value));
}

/* One figure to draw: plots/@name.gp with its input variables. */
typedef struct {
    char *name;        /* figure and script name (owned) */
    GString *vars;     /* gnuplot assignments (owned) */
    int width, height; /* pixels */
} Job;

static void job_clear(gpointer data)
{
    Job *j = data;
    g_free(j->name);
    g_string_free(j->vars, TRUE);
}

typedef struct {
    char *tmp_dir;      /* scratch for derived tables (owned, removed at the end) */
    GArray *jobs;       /* Job */
    GString *sweep_csv; /* sweep.csv's text, or NULL */
} Plan;

static Job *add_job(Plan *plan, const char *name, int width, int height)
{
    Job j = {g_strdup(name), g_string_new(NULL), width, height};
    g_array_append_val(plan->jobs, j);
    return &g_array_index(plan->jobs, Job, plan->jobs->len - 1);
}

static void plan_clear(Plan *plan)
{
    if (plan->tmp_dir != NULL) {
        g_autoptr(GDir) d = g_dir_open(plan->tmp_dir, 0, NULL);
        const char *name;
        while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
            g_autofree char *f = g_build_filename(plan->tmp_dir, name, NULL);
            g_unlink(f);
        }
        g_rmdir(plan->tmp_dir);
        g_free(plan->tmp_dir);
    }
    if (plan->jobs != NULL)
        g_array_unref(plan->jobs);
    if (plan->sweep_csv != NULL)
        g_string_free(plan->sweep_csv, TRUE);
}

/* Render @job in both formats into @out_dir with @gnuplot and the scripts
 * in @plots_dir. FALSE (with a message printed) when gnuplot fails: an
 * internal error, exit 1. */
static gboolean render(const char *gnuplot, const char *plots_dir, const char *tmp_dir,
                       const char *out_dir, const Job *job)
{
    const char *formats[] = {"png", "svg"};
    for (int i = 0; i < 2; i++) {
        g_autofree char *file = g_strdup_printf("%s.%s", job->name, formats[i]);
        g_autofree char *out = g_build_filename(out_dir, file, NULL);
        /* gnuplot writes a temporary name, renamed once complete, so an
         * interrupted or failed plot never leaves a truncated image. */
        g_autofree char *out_tmp = g_strconcat(out, ".tmp", NULL);
        g_autofree char *common = g_build_filename(plots_dir, "common.gp", NULL);
        g_autofree char *script_name = g_strdup_printf("%s.gp", job->name);
        g_autofree char *script = g_build_filename(plots_dir, script_name, NULL);
        g_autoptr(GString) driver = g_string_new("# written by servesim plot\n");
        put_gp_string(driver, "fmt", formats[i]);
        put_gp_string(driver, "out", out_tmp);
        put_gp_number(driver, "width", job->width);
        put_gp_number(driver, "height", job->height);
        g_string_append(driver, job->vars->str);
        put_gp_string(driver, "common_script", common);
        put_gp_string(driver, "plot_script", script);
        g_string_append(driver, "load common_script\nload plot_script\nset output\n");
        g_autofree char *driver_path = g_build_filename(tmp_dir, "driver.gp", NULL);
        g_autoptr(GError) error = NULL;
        if (!g_file_set_contents(driver_path, driver->str, -1, &error)) {
            fprintf(stderr, "servesim: %s\n", error->message);
            return FALSE;
        }
        char *argv[] = {(char *)gnuplot, driver_path, NULL};
        g_autofree char *err_text = NULL;
        int status = 0;
        if (!g_spawn_sync(NULL, argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err_text,
                          &status, &error)) {
            fprintf(stderr, "servesim: cannot run %s: %s\n", gnuplot, error->message);
            return FALSE;
        }
        if (!g_spawn_check_wait_status(status, &error)) {
            g_unlink(out_tmp);
            /* gnuplot's own message, on one line. */
            g_strdelimit(err_text, "\n", ' ');
            fprintf(stderr, "servesim: gnuplot failed on %s: %s\n", script, g_strstrip(err_text));
            return FALSE;
        }
        if (g_rename(out_tmp, out) != 0) {
            int errsv = errno;
            g_unlink(out_tmp);
            fprintf(stderr, "servesim: %s: %s\n", out, g_strerror(errsv));
            return FALSE;
        }
    }
    return TRUE;
}

/* Percentile note for a CDF's key: "TTFT  p50 0.029 s  p99 0.099 s". */
static char *cdf_note(const char *metric, GArray *sorted)
{
    if (sorted->len == 0)
        return g_strdup_printf("%s: no values", metric);
    return g_strdup_printf("%s  p50 %.3g s  p90 %.3g s  p99 %.3g s", metric, quantile(sorted, 0.5),
                           quantile(sorted, 0.9), quantile(sorted, 0.99));
}

static double slo_target(JsonObject *summary, const char *key)
{
    double v = 0;
    g_autofree char *path = g_strdup_printf("slo.%s", key);
    return summary != NULL && json_number(summary, path, &v) && v > 0 ? v : 0;
}

/* The latency-cdf job: 501 quantiles of each metric into one table. */
static gboolean plan_cdf(Plan *plan, const char *dir, const char *title, JsonObject *summary,
                         Latencies *lat, GError **error)
{
    if (lat->ttft->len == 0) {
        /* Not an error: the other figures still say something. */
        fprintf(stderr, "servesim: note: %s has no completed request, so no latency-cdf\n", dir);
        return TRUE;
    }
    sort_values(lat->ttft);
    sort_values(lat->tpot);
    sort_values(lat->e2e);
    GArray *cols[3] = {lat->ttft, lat->tpot, lat->e2e};
    g_autoptr(GString) table = g_string_new("# fraction ttft_s tpot_s e2e_s\n");
    for (int i = 0; i < CDF_POINTS; i++) {
        double q = (double)i / (CDF_POINTS - 1);
        g_string_append_printf(table, "%.6f", q);
        for (int k = 0; k < 3; k++) {
            if (cols[k]->len == 0)
                g_string_append(table, " ?");
            else
                g_string_append_printf(table, " %.9g", quantile(cols[k], q));
        }
        g_string_append_c(table, '\n');
    }
    g_autofree char *data = g_build_filename(plan->tmp_dir, "cdf.dat", NULL);
    if (!g_file_set_contents(data, table->str, -1, error))
        return FALSE;
    g_autofree char *n_ttft = cdf_note("TTFT", lat->ttft);
    g_autofree char *n_tpot = cdf_note("TPOT", lat->tpot);
    g_autofree char *n_e2e = cdf_note("E2E", lat->e2e);
    g_autofree char *full_title =
        g_strdup_printf("%s: %u completed requests", title, lat->ttft->len);
    GString *vars = add_job(plan, "latency-cdf", 1350, 430)->vars;
    put_gp_string(vars, "data", data);
    put_gp_string(vars, "title", full_title);
    put_gp_string(vars, "note_ttft", n_ttft);
    put_gp_string(vars, "note_tpot", n_tpot);
    put_gp_string(vars, "note_e2e", n_e2e);
    put_gp_number(vars, "slo_ttft", slo_target(summary, "ttft_s"));
    put_gp_number(vars, "slo_tpot", slo_target(summary, "tpot_s"));
    put_gp_number(vars, "slo_e2e", slo_target(summary, "e2e_s"));
    return TRUE;
}

/* The timeseries and power jobs: gnuplot reads timeseries.csv itself. */
static void plan_series(Plan *plan, const char *dir, const char *title, const Series *ser)
{
    g_autofree char *ts = g_build_filename(dir, "timeseries.csv", NULL);
    gboolean hours = ser->last_t_s > 7200; /* hours once the run is longer than two */
    g_autoptr(GString) common = g_string_new(NULL);
    put_gp_string(common, "ts", ts);
    put_gp_number(common, "stride", MAX(1, (ser->rows + SERIES_POINTS - 1) / SERIES_POINTS));
    put_gp_number(common, "tscale", hours ? 1.0 / 3600 : 1.0);
    put_gp_string(common, "tunit", hours ? "h" : "s");
    put_gp_string(common, "title", title);
    put_gp_number(common, "c_time", ser->time + 1);

    GString *vars = add_job(plan, "timeseries", 1200, 820)->vars;
    g_string_append(vars, common->str);
    put_gp_number(vars, "c_running", ser->running + 1);
    put_gp_number(vars, "c_waiting", ser->waiting + 1);
    put_gp_number(vars, "c_kv", ser->kv + 1);
    put_gp_number(vars, "c_bseqs", ser->bseqs + 1);
    put_gp_number(vars, "c_btok", ser->btok + 1);

    if (ser->power_cols->len == 0)
        return;
    g_autoptr(GString) cols = g_string_new(NULL), names = g_string_new(NULL);
    for (guint k = 0; k < ser->power_cols->len; k++) {
        g_string_append_printf(cols, "%s%d", k ? " " : "",
                               g_array_index(ser->power_cols, int, k) + 1);
        g_string_append_printf(names, "%s%s", k ? " " : "",
                               (const char *)g_ptr_array_index(ser->power_names, k));
    }
    vars = add_job(plan, "power", 1200, 420)->vars;
    g_string_append(vars, common->str);
    put_gp_string(vars, "power_cols", cols->str);
    put_gp_string(vars, "power_names", names->str);
    put_gp_number(vars, "power_max", ser->power_max_w);
}

/* One run: latency-cdf, timeseries, power. */
static gboolean plan_run(Plan *plan, const char *dir, GError **error)
{
    g_autoptr(JsonParser) summary_parser = NULL;
    if (has_file(dir, "summary.json") && (summary_parser = read_summary(dir, error)) == NULL)
        return FALSE;
    JsonObject *summary =
        summary_parser ? json_node_get_object(json_parser_get_root(summary_parser)) : NULL;
    g_autofree char *title = study_title(summary);
    if (title == NULL)
        title = g_path_get_basename(dir);
    gboolean ok = TRUE;
    if (has_file(dir, "requests.csv")) {
        Latencies lat;
        ok = read_requests(dir, &lat, error) && plan_cdf(plan, dir, title, summary, &lat, error);
        latencies_clear(&lat);
    }
    if (ok && has_file(dir, "timeseries.csv")) {
        Series ser;
        ok = read_timeseries(dir, &ser, error);
        if (ok)
            plan_series(plan, dir, title, &ser);
        series_clear(&ser);
    }
    return ok;
}

/* A plan search (plans.csv from servesim plan or capacity): the objective
 * of every simulated plan against its devices (a capacity fleet's), SLO
 * met or missed, and the Pareto front of pareto.csv joined by a line. */
static gboolean plan_search(Plan *plan, const char *dir, GError **error)
{
    g_autofree char *path = g_build_filename(dir, "plans.csv", NULL);
    g_autofree char *front_path = g_build_filename(dir, "pareto.csv", NULL);
    g_autoptr(GHashTable) front = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    Csv c;
    int col = 0;
    if (g_file_test(front_path, G_FILE_TEST_EXISTS)) {
        if (!csv_open(&c, front_path, error))
            return FALSE;
        int r = 0;
        gboolean ok = csv_require(&c, "plan", &col, error);
        while (ok && (r = csv_next(&c, error)) > 0)
            g_hash_table_add(front, g_strdup(c.fields[col]));
        csv_close(&c);
        if (!ok || r < 0)
            return FALSE;
    }
    if (!csv_open(&c, path, error))
        return FALSE;
    int c_dev, c_status, c_meets, c_obj, c_fleet;
    gboolean ok = csv_require(&c, "plan", &col, error) &&
                  csv_require(&c, "devices", &c_dev, error) &&
                  csv_require(&c, "status", &c_status, error) &&
                  csv_require(&c, "meets_slo", &c_meets, error) &&
                  csv_require(&c, "objective", &c_obj, error) &&
                  csv_require(&c, "fleet_replicas", &c_fleet, error);
    g_autoptr(GString) all = g_string_new("# x objective meets\n");
    g_autoptr(GArray) fx = g_array_new(FALSE, FALSE, sizeof(double) * 2);
    gboolean capacity = FALSE;
    int r = 0, rows = 0;
    while (ok && (r = csv_next(&c, error)) > 0) {
        if (strcmp(c.fields[c_status], "simulated") != 0)
            continue;
        double dev, obj, fleet;
        ok = csv_double(&c, c_dev, FALSE, &dev, error) &&
             csv_double(&c, c_obj, FALSE, &obj, error) &&
             csv_double(&c, c_fleet, FALSE, &fleet, error);
        if (!ok)
            break;
        /* capacity: the fleet's devices (replicas x the plan's) */
        if (fleet > 0) {
            capacity = TRUE;
            dev *= fleet;
        }
        gboolean meets = strcmp(c.fields[c_meets], "yes") == 0;
        char b1[G_ASCII_DTOSTR_BUF_SIZE], b2[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append_printf(all, "%s %s %d\n", g_ascii_formatd(b1, sizeof b1, "%.10g", dev),
                               g_ascii_formatd(b2, sizeof b2, "%.10g", obj), meets ? 1 : 0);
        if (meets && g_hash_table_contains(front, c.fields[col])) {
            double xy[2] = {dev, obj};
            g_array_append_vals(fx, xy, 1);
        }
        rows++;
    }
    csv_close(&c);
    if (!ok || r < 0)
        return FALSE;
    if (rows == 0) {
        bad_file(error, path, 1, 1, "no simulated plan to plot");
        return FALSE;
    }
    g_autoptr(GString) fr = g_string_new("# x objective (the Pareto front, by devices)\n");
    for (guint i = 0; i < fx->len; i++)
        for (guint j = i + 1; j < fx->len; j++) {
            double *a = (double *)(void *)(fx->data + i * 2 * sizeof(double));
            double *b = (double *)(void *)(fx->data + j * 2 * sizeof(double));
            if (b[0] < a[0]) {
                double t[2] = {a[0], a[1]};
                a[0] = b[0], a[1] = b[1], b[0] = t[0], b[1] = t[1];
            }
        }
    for (guint i = 0; i < fx->len; i++) {
        const double *a = (const double *)(void *)(fx->data + i * 2 * sizeof(double));
        char b1[G_ASCII_DTOSTR_BUF_SIZE], b2[G_ASCII_DTOSTR_BUF_SIZE];
        g_string_append_printf(fr, "%s %s\n", g_ascii_formatd(b1, sizeof b1, "%.10g", a[0]),
                               g_ascii_formatd(b2, sizeof b2, "%.10g", a[1]));
    }
    if (fx->len == 0)
        g_string_append(fr, "? ?\n"); /* gnuplot wants a point; "?" is missing */
    g_autofree char *data = g_build_filename(plan->tmp_dir, "plans.dat", NULL);
    g_autofree char *fdata = g_build_filename(plan->tmp_dir, "front.dat", NULL);
    if (!g_file_set_contents(data, all->str, -1, error) ||
        !g_file_set_contents(fdata, fr->str, -1, error))
        return FALSE;
    g_autofree char *base = g_path_get_basename(dir);
    g_autofree char *title = g_strdup_printf("%s: %d simulated plans", base, rows);
    GString *vars = add_job(plan, "pareto", 1000, 620)->vars;
    put_gp_string(vars, "data", data);
    put_gp_string(vars, "front", fdata);
    put_gp_string(vars, "title", title);
    put_gp_string(vars, "xlabel", capacity ? "fleet devices" : "devices");
    put_gp_string(vars, "ylabel",
                  capacity ? "fleet cost ($/h, or devices when cost is not modelled)"
                           : "objective (plans.csv column 'objective')");
    return TRUE;
}

/* One sweep point. */
typedef struct {
    char *dir;
    double offered_rps;
    double v[12]; /* achieved rps, output tok/s, ttft/tpot/e2e p50 p90 p99, slo_attainment */
} SweepRow;

static const char *const sweep_keys[12] = {
    "throughput.requests_per_s",
    "throughput.output_tokens_per_s",
    "ttft_s.p50",
    "ttft_s.p90",
    "ttft_s.p99",
    "tpot_s.p50",
    "tpot_s.p90",
    "tpot_s.p99",
    "e2e_s.p50",
    "e2e_s.p90",
    "e2e_s.p99",
    "slo_attainment",
};

static int cmp_sweep(const void *a, const void *b)
{
    const SweepRow *x = a, *y = b;
    if (x->offered_rps != y->offered_rps)
        return (x->offered_rps > y->offered_rps) - (x->offered_rps < y->offered_rps);
    return strcmp(x->dir, y->dir);
}

static void sweep_row_clear(gpointer data)
{
    g_free(((SweepRow *)data)->dir);
}

static gboolean read_sweep_row(const char *dir, SweepRow *r, double slo[3], char **title,
                               GError **error)
{
    g_autoptr(JsonParser) parser = read_summary(dir, error);
    if (parser == NULL)
        return FALSE;
    JsonObject *summary = json_node_get_object(json_parser_get_root(parser));
    for (int k = 0; k < 12; k++) {
        if (!json_number(summary, sweep_keys[k], &r->v[k])) {
            g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s/summary.json: no number at '%s' (is this a servesim summary?)", dir,
                        sweep_keys[k]);
            return FALSE;
        }
    }
    slo[0] = slo_target(summary, "ttft_s");
    slo[1] = slo_target(summary, "tpot_s");
    slo[2] = slo_target(summary, "e2e_s");
    *title = study_title(summary);
    /* The offered rate is not in summary.json: it is the arrival rate seen in
     * requests.csv (requests after the first over the arrival span). */
    Latencies lat;
    gboolean ok = read_requests(dir, &lat, error);
    double span = lat.last_arrival_s - lat.first_arrival_s;
    r->offered_rps = ok && lat.rows > 1 && span > 0 ? (double)(lat.rows - 1) / span : 0;
    latencies_clear(&lat);
    return ok;
}

/* Several runs: throughput-latency and sweep.csv. */
static gboolean plan_sweep(Plan *plan, GPtrArray *dirs, GError **error)
{
    g_autoptr(GArray) rows = g_array_new(FALSE, TRUE, sizeof(SweepRow));
    g_array_set_clear_func(rows, sweep_row_clear);
    double slo[3] = {0, 0, 0}, first_slo[3] = {0, 0, 0};
    g_autofree char *study = NULL;
    for (guint i = 0; i < dirs->len; i++) {
        SweepRow row = {.dir = g_strdup(g_ptr_array_index(dirs, i))};
        g_array_append_val(rows, row);
        g_autofree char *t = NULL;
        if (!read_sweep_row(row.dir, &g_array_index(rows, SweepRow, i), slo, &t, error))
            return FALSE;
        if (i == 0) {
            memcpy(first_slo, slo, sizeof(slo));
            study = g_steal_pointer(&t);
        }
    }
    g_array_sort(rows, cmp_sweep);

    g_autoptr(GString) table = g_string_new("# offered_rps achieved_rps output_tok_s "
                                            "ttft_p50 ttft_p90 ttft_p99 tpot_p50 tpot_p90 "
                                            "tpot_p99 e2e_p50 e2e_p90 e2e_p99 slo_attainment\n");
    plan->sweep_csv = g_string_new(
        "run,offered_requests_per_s,requests_per_s,output_tokens_per_s,ttft_p50_s,ttft_p90_s,"
        "ttft_p99_s,tpot_p50_s,tpot_p90_s,tpot_p99_s,e2e_p50_s,e2e_p90_s,e2e_p99_s,"
        "slo_attainment\n");
    for (guint i = 0; i < rows->len; i++) {
        SweepRow *r = &g_array_index(rows, SweepRow, i);
        g_autofree char *base = g_path_get_basename(r->dir);
        g_string_append_printf(table, "%.9g", r->offered_rps);
        g_string_append_printf(plan->sweep_csv, "%s,%.9g", base, r->offered_rps);
        for (int k = 0; k < 12; k++) {
            /* A latency of 0 (e.g. no TPOT without multi-token requests)
             * has no place on a log axis. */
            if (r->v[k] > 0 || k < 2 || k == 11)
                g_string_append_printf(table, " %.9g", r->v[k]);
            else
                g_string_append(table, " ?");
            g_string_append_printf(plan->sweep_csv, ",%.9g", r->v[k]);
        }
        g_string_append_c(table, '\n');
        g_string_append_c(plan->sweep_csv, '\n');
    }
    g_autofree char *data = g_build_filename(plan->tmp_dir, "sweep.dat", NULL);
    if (!g_file_set_contents(data, table->str, -1, error))
        return FALSE;
    g_autofree char *title = study != NULL ? g_strdup_printf("%s: %u runs", study, rows->len)
                                           : g_strdup_printf("%u runs", rows->len);
    GString *vars = add_job(plan, "throughput-latency", 1200, 860)->vars;
    put_gp_string(vars, "data", data);
    put_gp_string(vars, "title", title);
    put_gp_number(vars, "slo_ttft", first_slo[0]);
    put_gp_number(vars, "slo_tpot", first_slo[1]);
    put_gp_number(vars, "slo_e2e", first_slo[2]);
    return TRUE;
}

/* Subdirectories of @dir that hold a run's summary.json, sorted. (transfer full) */
static GPtrArray *sweep_members(const char *dir)
{
    GPtrArray *out = g_ptr_array_new_with_free_func(g_free);
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    const char *name;
    while (d != NULL && (name = g_dir_read_name(d)) != NULL) {
        g_autofree char *sub = g_build_filename(dir, name, NULL);
        if (g_file_test(sub, G_FILE_TEST_IS_DIR) && has_file(sub, "summary.json"))
            g_ptr_array_add(out, g_steal_pointer(&sub));
    }
    return out; /* the caller sorts */
}

static int cmp_str_ptr(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int input_error(const char *fmt, const char *arg)
{
    g_autoptr(GError) error = NULL;
    g_set_error(&error, G_FILE_ERROR, G_FILE_ERROR_INVAL, fmt, arg);
    return sv_cli_fail(error);
}

int sv_cmd_plot(int argc, char **argv)
{
    g_autofree char *out_dir = NULL;
    gboolean quiet = FALSE;
    GOptionEntry entries[] = {
        {"output", 'o', 0, G_OPTION_ARG_FILENAME, &out_dir,
         "Write the figures into DIR (default: RUN_DIR/plots)", "DIR"},
        {"quiet", 'q', 0, G_OPTION_ARG_NONE, &quiet, "Print nothing on success", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    g_autoptr(GOptionContext) ctx = g_option_context_new("RUN_DIR [RUN_DIR...] | SWEEP_DIR");
    g_option_context_set_summary(ctx, plot_help);
    g_option_context_add_main_entries(ctx, entries, NULL);
    if (!sv_cli_parse(ctx, &argc, &argv))
        return 2;
    if (argc < 2) {
        fprintf(stderr, "servesim: plot needs a run directory (see servesim plot --help)\n");
        return 2;
    }

    /* What to draw: one run, or a sweep (several runs, or a directory of runs). */
    g_autoptr(GPtrArray) runs = g_ptr_array_new_with_free_func(g_free);
    gboolean sweep = argc > 2;
    const char *search_dir = NULL; /* a plan search's output directory */
    for (int i = 1; i < argc; i++) {
        const char *dir = argv[i];
        if (!g_file_test(dir, G_FILE_TEST_IS_DIR))
            return input_error(g_file_test(dir, G_FILE_TEST_EXISTS) ? "%s: not a directory"
                                                                    : "%s: no such directory",
                               dir);
        if (has_file(dir, "plans.csv") && !is_run_dir(dir)) {
            if (argc > 2)
                return input_error("%s: a plan search is plotted on its own", dir);
            search_dir = dir;
            g_ptr_array_add(runs, g_strdup(dir));
            continue;
        }
        if (is_run_dir(dir)) {
            if (sweep && !has_file(dir, "summary.json"))
                return input_error("%s: no summary.json, so it cannot be a point of a sweep", dir);
            g_ptr_array_add(runs, g_strdup(dir));
            continue;
        }
        g_autoptr(GPtrArray) members = sweep_members(dir);
        if (argc > 2 || members->len == 0)
            return input_error("%s: not a run directory (no requests.csv, timeseries.csv or "
                               "summary.json) nor a sweep (no subdirectory with a summary.json)",
                               dir);
        sweep = TRUE;
        for (guint k = 0; k < members->len; k++)
            g_ptr_array_add(runs, g_strdup(g_ptr_array_index(members, k)));
    }
    g_ptr_array_sort(runs, cmp_str_ptr);
    if (sweep && runs->len < 2)
        return input_error("%s: a sweep needs at least two runs; this one has one", argv[1]);
    if (out_dir == NULL) {
        if (argc > 2) {
            fprintf(stderr, "servesim: plotting several runs needs -o OUT_DIR\n");
            return 2;
        }
        out_dir = g_build_filename(argv[1], "plots", NULL);
    }

    /* Read and reduce every input before anything is written. */
    g_autoptr(GError) error = NULL;
    Plan plan = {0};
    plan.jobs = g_array_new(FALSE, TRUE, sizeof(Job));
    g_array_set_clear_func(plan.jobs, job_clear);
    plan.tmp_dir = g_dir_make_tmp("servesim-plot-XXXXXX", &error);
    gboolean ok =
        plan.tmp_dir != NULL && (search_dir != NULL ? plan_search(&plan, search_dir, &error)
                                 : sweep            ? plan_sweep(&plan, runs, &error)
                                         : plan_run(&plan, g_ptr_array_index(runs, 0), &error));
    if (!ok) {
        plan_clear(&plan);
        return sv_cli_fail(error);
    }

    const char *env = g_getenv("SERVESIM_GNUPLOT");
    g_autofree char *gnuplot = g_find_program_in_path(env != NULL && *env ? env : "gnuplot");
    g_autofree char *common = sv_data_find("plots", "common", ".gp", NULL);
    int rc = 0;
    if (gnuplot == NULL) {
        fprintf(stderr, "servesim: gnuplot not found: install it (bash scripts/deps.sh installs "
                        "gnuplot-nox) or name it in SERVESIM_GNUPLOT\n");
        rc = 2;
    } else if (common == NULL) {
        fprintf(stderr, "servesim: internal error: the gnuplot scripts (plots/*.gp) are not "
                        "found; set SERVESIM_DATA_DIR to the source tree\n");
        rc = 1;
    } else if (g_mkdir_with_parents(out_dir, 0755) != 0) {
        int errsv = errno;
        g_set_error(&error, G_FILE_ERROR, g_file_error_from_errno(errsv), "%s: %s", out_dir,
                    g_strerror(errsv));
        rc = sv_cli_fail(error);
    }
    g_autoptr(GString) wrote = g_string_new(NULL);
    if (rc == 0 && plan.sweep_csv != NULL) {
        g_autofree char *csv_path = g_build_filename(out_dir, "sweep.csv", NULL);
        if (!g_file_set_contents(csv_path, plan.sweep_csv->str, -1, &error))
            rc = sv_cli_fail(error);
        else
            g_string_append(wrote, "sweep.csv");
    }
    g_autofree char *plots_dir = common != NULL ? g_path_get_dirname(common) : NULL;
    for (guint i = 0; rc == 0 && i < plan.jobs->len; i++) {
        const Job *job = &g_array_index(plan.jobs, Job, i);
        if (!render(gnuplot, plots_dir, plan.tmp_dir, out_dir, job))
            rc = 1;
        else
            g_string_append_printf(wrote, "%s%s.png, %s.svg", wrote->len ? ", " : "", job->name,
                                   job->name);
    }
    if (rc == 0 && !quiet)
        printf("wrote %s/%s\n", out_dir, wrote->str);
    plan_clear(&plan);
    return rc;
}
