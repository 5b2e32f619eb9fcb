/* Error domains, the assert handler, dtype helpers, data-file lookup and the
 * "did you mean" helper shared by all loaders. */
#include "core/common.h"

#include <stdarg.h>
#include <string.h>

/* clang-format off */
G_DEFINE_QUARK(sv-config-error-quark, sv_config_error)
G_DEFINE_QUARK(sv-model-error-quark, sv_model_error)
G_DEFINE_QUARK(sv-hw-error-quark, sv_hw_error)
G_DEFINE_QUARK(sv-trace-error-quark, sv_trace_error)
G_DEFINE_QUARK(sv-plan-error-quark, sv_plan_error)
/* clang-format on */

gboolean sv_error_is_input(const GError *error)
{
    if (error == NULL)
        return FALSE;
    return error->domain == SV_CONFIG_ERROR || error->domain == SV_MODEL_ERROR ||
           error->domain == SV_HW_ERROR || error->domain == SV_TRACE_ERROR ||
           error->domain == SV_PLAN_ERROR || error->domain == G_FILE_ERROR;
}

void sv__assert_fail(const char *expr, const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "servesim: internal error: %s:%d: assertion '%s' failed: ", file, line, expr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
    abort();
}

static const double dtype_bytes[SV_DTYPE_COUNT] = {4.0, 2.0, 2.0, 1.0, 1.0, 0.5, 0.5};
static const char *const dtype_names[SV_DTYPE_COUNT] = {"float32", "bfloat16", "float16", "fp8",
                                                        "int8",    "fp4",      "int4"};

double sv_dtype_bytes(SvDtype dtype)
{
    g_return_val_if_fail(dtype >= 0 && dtype < SV_DTYPE_COUNT, 2.0);
    return dtype_bytes[dtype];
}

const char *sv_dtype_name(SvDtype dtype)
{
    g_return_val_if_fail(dtype >= 0 && dtype < SV_DTYPE_COUNT, "?");
    return dtype_names[dtype];
}

static char **data_roots(void)
{
    GPtrArray *roots = g_ptr_array_new();
    const char *env = g_getenv("SERVESIM_DATA_DIR");
    if (env != NULL && *env != '\0')
        g_ptr_array_add(roots, g_strdup(env));
    g_ptr_array_add(roots, g_strdup(SV_SOURCE_DIR));
    g_ptr_array_add(roots, g_strdup("."));
    g_ptr_array_add(roots, NULL);
    return (char **)g_ptr_array_free(roots, FALSE);
}

static gboolean looks_like_path(const char *name, const char *ext)
{
    return strchr(name, '/') != NULL || (ext != NULL && g_str_has_suffix(name, ext)) ||
           g_str_has_suffix(name, ".yaml") || g_str_has_suffix(name, ".json") ||
           g_str_has_suffix(name, ".csv") || g_str_has_suffix(name, ".jsonl");
}

char *sv_data_find(const char *subdir, const char *name, const char *ext, const char *rel_dir)
{
    g_return_val_if_fail(name != NULL, NULL);
    if (*name == '\0')
        return NULL;
    if (g_path_is_absolute(name))
        return g_file_test(name, G_FILE_TEST_IS_REGULAR) ? g_strdup(name) : NULL;
    if (looks_like_path(name, ext)) {
        if (g_file_test(name, G_FILE_TEST_IS_REGULAR))
            return g_strdup(name);
        if (rel_dir != NULL) {
            char *p = g_build_filename(rel_dir, name, NULL);
            if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
                return p;
            g_free(p);
        }
    }
    g_auto(GStrv) roots = data_roots();
    for (char **r = roots; *r != NULL; r++) {
        char *p;
        if (looks_like_path(name, ext))
            p = g_build_filename(*r, name, NULL);
        else {
            g_autofree char *file = g_strconcat(name, ext ? ext : "", NULL);
            p = g_build_filename(*r, subdir, file, NULL);
        }
        if (g_file_test(p, G_FILE_TEST_IS_REGULAR))
            return p;
        g_free(p);
    }
    return NULL;
}

static gint compare_strv_items(gconstpointer a, gconstpointer b, gpointer user_data)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

char **sv_data_list(const char *subdir, const char *ext)
{
    g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    g_auto(GStrv) roots = data_roots();
    for (char **r = roots; *r != NULL; r++) {
        g_autofree char *dir = g_build_filename(*r, subdir, NULL);
        GDir *d = g_dir_open(dir, 0, NULL);
        if (d == NULL)
            continue;
        const char *f;
        while ((f = g_dir_read_name(d)) != NULL) {
            if (ext != NULL && !g_str_has_suffix(f, ext))
                continue;
            char *base = g_strndup(f, strlen(f) - (ext ? strlen(ext) : 0));
            g_hash_table_add(seen, base);
        }
        g_dir_close(d);
    }
    guint n = 0;
    char **names = (char **)g_hash_table_get_keys_as_array(seen, &n);
    char **out = g_new0(char *, n + 1);
    for (guint i = 0; i < n; i++)
        out[i] = g_strdup(names[i]);
    g_free(names);
    g_qsort_with_data(out, (gint)n, sizeof(char *), compare_strv_items, NULL);
    return out;
}

int sv_edit_distance(const char *a, const char *b)
{
    /* Optimal string alignment: insertions, deletions, substitutions and
     * adjacent transpositions ("rnu" -> "run") each cost 1; case is ignored. */
    size_t la = strlen(a), lb = strlen(b);
    g_autofree int *d = g_new(int, (la + 1) * (lb + 1));
#define D(i, j) d[(i) * (lb + 1) + (j)]
    for (size_t i = 0; i <= la; i++)
        D(i, 0) = (int)i;
    for (size_t j = 0; j <= lb; j++)
        D(0, j) = (int)j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            char ca = g_ascii_tolower(a[i - 1]), cb = g_ascii_tolower(b[j - 1]);
            int cost = ca == cb ? 0 : 1;
            int best = MIN(D(i - 1, j) + 1, D(i, j - 1) + 1);
            best = MIN(best, D(i - 1, j - 1) + cost);
            if (i > 1 && j > 1 && ca == g_ascii_tolower(b[j - 2]) &&
                g_ascii_tolower(a[i - 2]) == cb)
                best = MIN(best, D(i - 2, j - 2) + 1);
            D(i, j) = best;
        }
    }
    int result = D(la, lb);
#undef D
    return result;
}

const char *sv_nearest(const char *word, const char *const *candidates)
{
    size_t len = strlen(word);
    /* A name typed short ("h100" for "h100-sxm") is the likeliest intent. */
    if (len >= 3)
        for (const char *const *c = candidates; c != NULL && *c != NULL; c++)
            if (g_str_has_prefix(*c, word))
                return *c;
    const char *best = NULL;
    int best_d = G_MAXINT;
    for (const char *const *c = candidates; c != NULL && *c != NULL; c++) {
        int d = sv_edit_distance(word, *c);
        if (d < best_d) {
            best_d = d;
            best = *c;
        }
    }
    /* A plausible typo: a few edits, and fewer than half the word changed. */
    if (best != NULL && best_d <= 3 && (size_t)best_d * 2 <= MAX(len, (size_t)2))
        return best;
    /* Or the word runs past a known name ("llama-3-8bx"). */
    for (const char *const *c = candidates; c != NULL && *c != NULL; c++)
        if (strlen(*c) >= 3 && g_str_has_prefix(word, *c))
            return *c;
    return NULL;
}
