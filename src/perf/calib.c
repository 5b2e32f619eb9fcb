/* The calibrate front half: an observation set, the walk over an input tree
 * that hands each CSV to the loader of its format, and the splice of a
 * fresh `calibration:` section into a base hardware profile (the profile's
 * own lines and comments are kept verbatim, so that `calibrate` run on a
 * calibrated profile reproduces it byte for byte). */
#include "perf/calib-private.h"

#include <stdarg.h>
#include <string.h>

const char *const sv_calib_elt_ops[] = {"embed", "rmsnorm", "rope", "kv_store", "mlp_act",
                                        "add",   "sampler", "copy", NULL};

SvCalibSet *sv_calib_set_new(void)
{
    SvCalibSet *s = g_new0(SvCalibSet, 1);
    s->obs = g_array_new(FALSE, FALSE, sizeof(SvObs));
    s->files = g_ptr_array_new_with_free_func(g_free);
    s->groups = g_ptr_array_new_with_free_func(g_free);
    s->notes = g_ptr_array_new_with_free_func(g_free);
    return s;
}

void sv_calib_set_free(SvCalibSet *set)
{
    if (set == NULL)
        return;
    g_array_free(set->obs, TRUE);
    g_ptr_array_free(set->files, TRUE);
    g_ptr_array_free(set->groups, TRUE);
    g_ptr_array_free(set->notes, TRUE);
    g_free(set->device);
    g_free(set);
}

static int find_or_add(GPtrArray *a, const char *name)
{
    for (guint i = 0; i < a->len; i++)
        if (strcmp(a->pdata[i], name) == 0)
            return (int)i;
    g_ptr_array_add(a, g_strdup(name));
    return (int)a->len - 1;
}

int sv__calib_set_file(SvCalibSet *set, const char *path)
{
    return find_or_add(set->files, path);
}

int sv__calib_set_group(SvCalibSet *set, const char *name)
{
    return find_or_add(set->groups, name);
}

void sv__calib_set_note(SvCalibSet *set, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_ptr_array_add(set->notes, g_strdup_vprintf(fmt, ap));
    va_end(ap);
}

/* ------------------------------------------------------------ the walk -- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static gboolean collect(const char *dir, int depth, GPtrArray *out, GError **error)
{
    if (depth > 32) {
        g_set_error(error, SV_HW_ERROR, SV_ERROR_INVALID,
                    "%s: directories nested too deep (a symlink loop?)", dir);
        return FALSE;
    }
    g_autoptr(GError) local = NULL;
    g_autoptr(GDir) d = g_dir_open(dir, 0, &local);
    if (d == NULL) {
        g_set_error(error, SV_HW_ERROR, SV_ERROR_NOT_FOUND, "%s: cannot read the directory: %s",
                    dir, local->message);
        return FALSE;
    }
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *n;
    while ((n = g_dir_read_name(d)) != NULL)
        if (n[0] != '.')
            g_ptr_array_add(names, g_strdup(n));
    if (names->len > 1)
        qsort(names->pdata, names->len, sizeof(char *), cmp_str);
    for (guint i = 0; i < names->len; i++) {
        g_autofree char *path = g_build_filename(dir, names->pdata[i], NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
            if (!collect(path, depth + 1, out, error))
                return FALSE;
        } else if (g_str_has_suffix(path, ".csv")) {
            g_ptr_array_add(out, g_steal_pointer(&path));
        }
    }
    return TRUE;
}

static char *first_line(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return g_strdup("");
    char buf[512];
    char *l = fgets(buf, sizeof buf, f);
    fclose(f);
    if (l == NULL)
        return g_strdup("");
    return g_strchomp(g_strdup(buf));
}

SvCalibSet *sv_calib_load_dir(const char *dir, GError **error)
{
    g_return_val_if_fail(dir != NULL, NULL);
    if (!g_file_test(dir, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, SV_HW_ERROR, SV_ERROR_NOT_FOUND, "%s: not a directory", dir);
        return NULL;
    }
    g_autoptr(GPtrArray) files = g_ptr_array_new_with_free_func(g_free);
    if (!collect(dir, 0, files, error))
        return NULL;
    if (files->len == 0) {
        g_set_error(error, SV_HW_ERROR, SV_ERROR_NOT_FOUND,
                    "%s: no CSV files (Vidur profiling CSVs or probe CSVs) in this tree", dir);
        return NULL;
    }
    static const SvCalibLoader *const loaders[] = {&sv__calib_loader_probe,
                                                   &sv__calib_loader_vidur};
    g_autoptr(SvCalibSet) set = sv_calib_set_new();
    for (guint i = 0; i < files->len; i++) {
        const char *path = files->pdata[i];
        g_autofree char *head = first_line(path);
        const SvCalibLoader *loader = NULL;
        for (size_t j = 0; j < G_N_ELEMENTS(loaders) && loader == NULL; j++)
            if (loaders[j]->detect(path, head))
                loader = loaders[j];
        if (loader == NULL) {
            g_set_error(error, SV_HW_ERROR, SV_ERROR_INVALID,
                        "%s:1: not a calibration CSV: neither a Vidur profile (mlp.csv, "
                        "attention.csv, all_reduce.csv, send_recv.csv, cpu_overheads.csv) nor a "
                        "probe CSV (first line '# probe-csv: 1', docs/probe-csv.md)",
                        path);
            return NULL;
        }
        guint before = set->obs->len;
        if (!loader->load(path, set, error))
            return NULL;
        sv__calib_set_note(set, "%s: %u measurements (%s)", path, set->obs->len - before,
                           loader->name);
    }
    return g_steal_pointer(&set);
}

/* --------------------------------------------------- profile splicing -- */

#define MARKER "# Calibrated tables: generated by `servesim calibrate`; regenerate, do not edit."

char *sv_calib_profile_text(const char *base_text, const SvYDoc *base_doc, const SvCalib *calib)
{
    g_return_val_if_fail(base_text != NULL && calib != NULL, NULL);
    g_auto(GStrv) lines = g_strsplit(base_text, "\n", -1);
    int num = (int)g_strv_length(lines);
    /* A trailing newline leaves one empty string at the end. */
    if (num > 0 && lines[num - 1][0] == '\0')
        num--;
    int cut_from = num, cut_to = num; /* 0-based [from, to) */
    const SvYNode *root = base_doc != NULL ? base_doc->root : NULL;
    const SvYNode *key = root != NULL ? sv_ynode_key(root, "calibration") : NULL;
    if (key != NULL) {
        cut_from = key->line - 1;
        for (guint i = 0; i < root->keys->len; i++) {
            const SvYNode *k = root->keys->pdata[i];
            if (k->line > key->line && k->line - 1 < cut_to)
                cut_to = k->line - 1;
        }
        while (cut_from > 0 && strcmp(lines[cut_from - 1], MARKER) == 0)
            cut_from--;
    }
    GString *s = g_string_new(NULL);
    for (int i = 0; i < num; i++)
        if (i < cut_from || i >= cut_to)
            g_string_append_printf(s, "%s\n", lines[i]);
    g_autofree char *section = sv_calib_to_yaml(calib);
    g_string_append_printf(s, "%s\n%s", MARKER, section);
    return g_string_free(s, FALSE);
}

char *sv_calib_make_profile(const char *input_dir, const char *hw_name, double tolerance,
                            SvCalibSet **set_out, SvCalib **calib_out, GError **error)
{
    g_return_val_if_fail(input_dir != NULL && hw_name != NULL, NULL);
    g_autoptr(SvHw) hw = sv_hw_load(hw_name, error);
    if (hw == NULL)
        return NULL;
    g_autoptr(SvCalibSet) set = sv_calib_load_dir(input_dir, error);
    if (set == NULL)
        return NULL;
    SvCalibBuildOptions options = {.tolerance = tolerance};
    g_autoptr(SvCalib) calib = sv_calib_build(set, hw, &options, error);
    if (calib == NULL)
        return NULL;
    g_autofree char *dir = g_strdup(input_dir);
    while (strlen(dir) > 1 && g_str_has_suffix(dir, "/"))
        dir[strlen(dir) - 1] = '\0';
    g_autofree char *base = g_path_get_basename(dir);
    calib->source = g_strdup_printf("servesim calibrate from %s/: %u CSV files, %u measurements",
                                    base, set->files->len, set->obs->len);
    /* The profile's own text, so that its comments survive. */
    g_autofree char *path = sv_data_find("hwprofiles", hw_name, ".yaml", NULL);
    g_autofree char *text = NULL;
    if (path == NULL) {
        g_set_error(error, SV_HW_ERROR, SV_ERROR_NOT_FOUND, "%s: hardware profile not found",
                    hw_name);
        return NULL;
    }
    if (!g_file_get_contents(path, &text, NULL, error))
        return NULL;
    g_autoptr(SvYDoc) doc = sv_ydoc_load_file(path, SV_HW_ERROR, error);
    if (doc == NULL)
        return NULL;
    char *out = sv_calib_profile_text(text, doc, calib);
    if (set_out != NULL)
        *set_out = g_steal_pointer(&set);
    if (calib_out != NULL)
        *calib_out = g_steal_pointer(&calib);
    return out;
}
