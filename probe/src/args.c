/* Command-line parsing of the probe (see args.h). Hand-written rather than
 * GOptionContext so that every error is one line in the probe's own words
 * and the tests can drive it directly. */
#include "args.h"

#include "core/common.h"

#include <math.h>
#include <string.h>

static const char usage_text[] =
    "usage: probe [options]\n"
    "Time the operations servesim models on one CUDA device and write CSV files\n"
    "for `servesim calibrate` (schema: docs/probe-csv.md).\n"
    "\n"
    "  -o, --out DIR          output folder (default probe-out)\n"
    "      --only LIST        benchmarks to run, comma separated:\n"
    "                         gemm,attention,elementwise,memory,collectives,layer,power\n"
    "      --skip LIST        benchmarks to leave out\n"
    "      --quick            a reduced grid that finishes in about 5 minutes on an H100\n"
    "      --dry-run          print the planned points and an estimated duration; no GPU\n"
    "      --check-device     describe the device and exit (exit 2 when there is none)\n"
    "      --device N         CUDA device index (default 0)\n"
    "      --shapes DIR       model shape files (default <source>/probe/shapes)\n"
    "      --models LIST      model shape files to time (default: all; --quick: two)\n"
    "      --layer M:TP:BATCH whole-layer point, e.g. llama-3-8b:1:decode=64@2048\n"
    "                         (repeatable; BATCH as servesim predict --batch)\n"
    "      --block-sizes LIST KV-cache block sizes for paged decode (default 16; others\n"
    "                         go to attn_decode_block<N>.csv)\n"
    "      --min-time S       seconds of timed repetitions per point\n"
    "                         (default 0.1, --quick 0.03)\n"
    "      --power-hold S     seconds each power workload is held (default 1, >= 1)\n"
    "      --idle S           seconds of idle power sampling (default 3)\n"
    "      --sample-hz HZ     NVML power/clock samples per second (default 20, >= 10)\n"
    "      --lock-clocks X    max (default), none, or an SM clock in MHz; needs root\n"
    "      --no-verify        skip the kernel correctness checks\n"
    "      --no-graphs        launch repetitions one by one instead of in a CUDA graph\n"
    "      --assume-sm N      dry run: compute capability x 10 (default 90)\n"
    "      --assume-gpus N    dry run: visible GPUs (default 1)\n"
    "      --assume-mem-gb X  dry run: device memory in GB (default 80)\n"
    "  -h, --help             this text\n"
    "      --version          print the version\n";

const char *probe_usage(void)
{
    return usage_text;
}

void probe_options_init(ProbeOptions *o)
{
    memset(o, 0, sizeof *o);
    o->benches = (1u << PROBE_BENCH_COUNT) - 1;
    o->verify = TRUE;
    o->graphs = TRUE;
    o->out_dir = g_strdup("probe-out");
    o->layers = g_ptr_array_new_with_free_func(g_free);
    o->block_sizes[0] = 16; /* vLLM's default */
    o->n_block_sizes = 1;
    o->min_time_s = -1;
    o->power_hold_s = 1.0;
    o->idle_s = 3.0;
    o->sample_hz = 20.0;
    o->lock_clocks_mhz = PROBE_LOCK_MAX;
    o->assume_sm = 90;
    o->assume_gpus = 1;
    o->assume_mem_gb = 80;
}

void probe_options_clear(ProbeOptions *o)
{
    g_free(o->out_dir);
    g_free(o->shapes_dir);
    g_strfreev(o->models);
    if (o->layers != NULL)
        g_ptr_array_unref(o->layers);
    g_free(o->command_line);
    memset(o, 0, sizeof *o);
}

double probe_options_min_time_s(const ProbeOptions *o)
{
    if (o->min_time_s >= 0)
        return o->min_time_s;
    return o->quick ? 0.03 : 0.1;
}

gboolean probe_options_wants(const ProbeOptions *o, ProbeBench bench)
{
    return (o->benches & (1u << bench)) != 0;
}

static gboolean fail(GError **error, const char *opt, const char *fmt, const char *value)
{
    g_autofree char *what = g_strdup_printf(fmt, value);
    g_set_error(error, PROBE_ERROR, PROBE_ERROR_ARGS, "%s: %s", opt, what);
    return FALSE;
}

static gboolean parse_int(const char *opt, const char *s, int lo, int hi, int *out, GError **error)
{
    gint64 v;
    if (!g_ascii_string_to_signed(s, 10, lo, hi, &v, NULL)) {
        g_autofree char *fmt = g_strdup_printf("'%%s' is not an integer in [%d, %d]", lo, hi);
        return fail(error, opt, fmt, s);
    }
    *out = (int)v;
    return TRUE;
}

static gboolean parse_double(const char *opt, const char *s, double lo, double hi, double *out,
                             GError **error)
{
    char *end = NULL;
    double v = g_ascii_strtod(s, &end);
    if (*s == '\0' || end == NULL || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
        g_autofree char *fmt = g_strdup_printf("'%%s' is not a number in [%g, %g]", lo, hi);
        return fail(error, opt, fmt, s);
    }
    *out = v;
    return TRUE;
}

/* Comma list of benchmark names to a bit mask. */
static gboolean parse_benches(const char *opt, const char *s, guint *mask, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(s, ",", -1);
    guint m = 0;
    for (int i = 0; parts[i] != NULL; i++) {
        const char *name = g_strstrip(parts[i]);
        if (*name == '\0')
            return fail(error, opt, "empty name in '%s'", s);
        int found = -1;
        for (int b = 0; b < PROBE_BENCH_COUNT; b++)
            if (strcmp(name, probe_bench_name(b)) == 0)
                found = b;
        if (found < 0) {
            const char *near = sv_nearest(name, probe_bench_names());
            g_autofree char *names = g_strjoinv(",", (char **)probe_bench_names());
            if (near != NULL)
                g_set_error(error, PROBE_ERROR, PROBE_ERROR_ARGS,
                            "%s: unknown benchmark '%s' (did you mean '%s'?)", opt, name, near);
            else
                g_set_error(error, PROBE_ERROR, PROBE_ERROR_ARGS,
                            "%s: unknown benchmark '%s' (known: %s)", opt, name, names);
            return FALSE;
        }
        m |= 1u << found;
    }
    *mask = m;
    return TRUE;
}

/* MODEL:TP:BATCH; the batch itself is checked when the layer is planned. */
static gboolean check_layer(const char *s, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(s, ":", 3);
    int tp;
    if (g_strv_length(parts) != 3 || *parts[0] == '\0' || *parts[2] == '\0')
        return fail(error, "--layer", "'%s' is not MODEL:TP:BATCH", s);
    if (!parse_int("--layer", parts[1], 1, 64, &tp, error))
        return FALSE;
    return TRUE;
}

typedef enum { ARG_NONE, ARG_VALUE } ArgKind;
typedef struct {
    const char *name; /* long name */
    char short_name;  /* or 0 */
    ArgKind kind;
} OptSpec;

static const OptSpec specs[] = {
    {"--out", 'o', ARG_VALUE},         {"--only", 0, ARG_VALUE},
    {"--skip", 0, ARG_VALUE},          {"--quick", 0, ARG_NONE},
    {"--dry-run", 0, ARG_NONE},        {"--check-device", 0, ARG_NONE},
    {"--device", 0, ARG_VALUE},        {"--shapes", 0, ARG_VALUE},
    {"--models", 0, ARG_VALUE},        {"--layer", 0, ARG_VALUE},
    {"--block-sizes", 0, ARG_VALUE},   {"--min-time", 0, ARG_VALUE},
    {"--power-hold", 0, ARG_VALUE},    {"--idle", 0, ARG_VALUE},
    {"--sample-hz", 0, ARG_VALUE},     {"--lock-clocks", 0, ARG_VALUE},
    {"--no-verify", 0, ARG_NONE},      {"--no-graphs", 0, ARG_NONE},
    {"--assume-sm", 0, ARG_VALUE},     {"--assume-gpus", 0, ARG_VALUE},
    {"--assume-mem-gb", 0, ARG_VALUE}, {"--help", 'h', ARG_NONE},
    {"--version", 0, ARG_NONE},
};

static const OptSpec *find_spec(const char *arg, size_t len)
{
    for (size_t i = 0; i < G_N_ELEMENTS(specs); i++) {
        if (arg[1] != '-' && len == 2 && specs[i].short_name == arg[1])
            return &specs[i];
        if (strlen(specs[i].name) == len && strncmp(specs[i].name, arg, len) == 0)
            return &specs[i];
    }
    return NULL;
}

static gboolean apply(ProbeOptions *o, const char *name, const char *v, GError **error)
{
    if (strcmp(name, "--out") == 0) {
        if (*v == '\0')
            return fail(error, name, "empty folder name%s", "");
        g_free(o->out_dir);
        o->out_dir = g_strdup(v);
    } else if (strcmp(name, "--only") == 0) {
        return parse_benches(name, v, &o->benches, error);
    } else if (strcmp(name, "--skip") == 0) {
        guint skip;
        if (!parse_benches(name, v, &skip, error))
            return FALSE;
        o->benches &= ~skip;
    } else if (strcmp(name, "--quick") == 0) {
        o->quick = TRUE;
    } else if (strcmp(name, "--dry-run") == 0) {
        o->dry_run = TRUE;
    } else if (strcmp(name, "--check-device") == 0) {
        o->check_device = TRUE;
    } else if (strcmp(name, "--device") == 0) {
        return parse_int(name, v, 0, 1023, &o->device, error);
    } else if (strcmp(name, "--shapes") == 0) {
        g_free(o->shapes_dir);
        o->shapes_dir = g_strdup(v);
    } else if (strcmp(name, "--models") == 0) {
        g_auto(GStrv) parts = g_strsplit(v, ",", -1);
        GPtrArray *names = g_ptr_array_new_with_free_func(g_free);
        for (int i = 0; parts[i] != NULL; i++) {
            const char *m = g_strstrip(parts[i]);
            if (*m == '\0') {
                g_ptr_array_free(names, TRUE);
                return fail(error, name, "empty model name in '%s'", v);
            }
            g_ptr_array_add(names, g_strdup(m));
        }
        g_ptr_array_add(names, NULL);
        g_strfreev(o->models);
        /* Keeps the strings: they now belong to o->models. */
        o->models = (char **)g_ptr_array_free(names, FALSE);
    } else if (strcmp(name, "--layer") == 0) {
        if (!check_layer(v, error))
            return FALSE;
        g_ptr_array_add(o->layers, g_strdup(v));
    } else if (strcmp(name, "--block-sizes") == 0) {
        g_auto(GStrv) parts = g_strsplit(v, ",", -1);
        int n = 0;
        for (int i = 0; parts[i] != NULL; i++) {
            int bs;
            if (n == (int)G_N_ELEMENTS(o->block_sizes))
                return fail(error, name, "more than 8 sizes in '%s'", v);
            if (!parse_int(name, g_strstrip(parts[i]), 1, 1024, &bs, error))
                return FALSE;
            for (int j = 0; j < n; j++)
                if (o->block_sizes[j] == bs)
                    return fail(error, name, "a size appears twice in '%s'", v);
            o->block_sizes[n++] = bs;
        }
        o->n_block_sizes = n;
    } else if (strcmp(name, "--min-time") == 0) {
        return parse_double(name, v, 0, 3600, &o->min_time_s, error);
    } else if (strcmp(name, "--power-hold") == 0) {
        /* Board power sensors average over up to a second: shorter holds
         * would report the ramp, not the level. */
        return parse_double(name, v, 1, 3600, &o->power_hold_s, error);
    } else if (strcmp(name, "--idle") == 0) {
        return parse_double(name, v, 0, 3600, &o->idle_s, error);
    } else if (strcmp(name, "--sample-hz") == 0) {
        return parse_double(name, v, 10, 1000, &o->sample_hz, error);
    } else if (strcmp(name, "--lock-clocks") == 0) {
        if (strcmp(v, "max") == 0)
            o->lock_clocks_mhz = PROBE_LOCK_MAX;
        else if (strcmp(v, "none") == 0)
            o->lock_clocks_mhz = PROBE_LOCK_NONE;
        else
            return parse_int(name, v, 100, 10000, &o->lock_clocks_mhz, error);
    } else if (strcmp(name, "--no-verify") == 0) {
        o->verify = FALSE;
    } else if (strcmp(name, "--no-graphs") == 0) {
        o->graphs = FALSE;
    } else if (strcmp(name, "--assume-sm") == 0) {
        return parse_int(name, v, 50, 200, &o->assume_sm, error);
    } else if (strcmp(name, "--assume-gpus") == 0) {
        return parse_int(name, v, 1, 1024, &o->assume_gpus, error);
    } else if (strcmp(name, "--assume-mem-gb") == 0) {
        return parse_double(name, v, 1, 100000, &o->assume_mem_gb, error);
    } else if (strcmp(name, "--help") == 0) {
        o->help = TRUE;
    } else if (strcmp(name, "--version") == 0) {
        o->version = TRUE;
    }
    return TRUE;
}

gboolean probe_options_parse(ProbeOptions *o, int argc, char **argv, GError **error)
{
    GString *cmd = g_string_new("probe");
    for (int i = 1; i < argc; i++) {
        g_autofree char *q = g_shell_quote(argv[i]);
        g_string_append_c(cmd, ' ');
        /* Keep plain words readable: quote only what needs it. */
        gboolean plain = argv[i][0] != '\0' &&
                         strspn(argv[i], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOP"
                                         "QRSTUVWXYZ0123456789-_=.,/:@+") == strlen(argv[i]);
        g_string_append(cmd, plain ? argv[i] : q);
    }
    g_free(o->command_line);
    o->command_line = g_string_free(cmd, FALSE);

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (arg[0] != '-' || arg[1] == '\0') {
            g_set_error(error, PROBE_ERROR, PROBE_ERROR_ARGS,
                        "unexpected argument '%s' (see probe --help)", arg);
            return FALSE;
        }
        const char *eq = arg[1] == '-' ? strchr(arg, '=') : NULL;
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const OptSpec *spec = find_spec(arg, len);
        if (spec == NULL) {
            g_set_error(error, PROBE_ERROR, PROBE_ERROR_ARGS,
                        "unknown option '%.*s' (see probe --help)", (int)len, arg);
            return FALSE;
        }
        const char *value = NULL;
        if (spec->kind == ARG_VALUE) {
            if (eq != NULL)
                value = eq + 1;
            else if (i + 1 < argc)
                value = argv[++i];
            else {
                g_set_error(error, PROBE_ERROR, PROBE_ERROR_ARGS, "%s: needs a value", spec->name);
                return FALSE;
            }
        } else if (eq != NULL) {
            g_set_error(error, PROBE_ERROR, PROBE_ERROR_ARGS, "%s: takes no value", spec->name);
            return FALSE;
        }
        if (!apply(o, spec->name, value, error))
            return FALSE;
    }
    if (o->benches == 0) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_ARGS, "--only/--skip: no benchmark left");
        return FALSE;
    }
    return TRUE;
}
