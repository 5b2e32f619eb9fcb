/* probe-shapes: write probe/shapes/<model>.csv, the per-device GEMM shapes of
 * every shipped model at tensor-parallel degrees 1, 2, 4 and 8, from the same
 * model loader servesim uses. `--check DIR` regenerates in memory and fails
 * when a committed file is stale, so a model change cannot silently leave
 * the probe timing old shapes. */
#include "shapes.h"

#include "core/common.h"

#include <stdio.h>
#include <string.h>

static const int tps[] = {1, 2, 4, 8};

/* The shape file text of @name. (transfer full) NULL on error. */
static char *render(const char *name, GError **error)
{
    g_autoptr(SvModel) m = sv_model_load(name, error);
    if (m == NULL)
        return NULL;
    g_autoptr(GArray) shapes = g_array_new(FALSE, TRUE, sizeof(ProbeShape));
    for (size_t i = 0; i < G_N_ELEMENTS(tps); i++)
        if (probe_shapes_tp_ok(m, tps[i]))
            probe_shapes_for_model(m, tps[i], shapes);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (f == NULL)
        return NULL;
    g_autofree char *source = g_strdup_printf("models/%s.yaml", name);
    probe_shapes_write(f, m->name, source, shapes);
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    const char *dir = "probe/shapes";
    gboolean check = FALSE;
    GPtrArray *names = g_ptr_array_new();
    for (int i = 1; i < argc; i++) {
        if ((strcmp(argv[i], "-o") == 0 || strcmp(argv[i], "--check") == 0) && i + 1 < argc) {
            check = strcmp(argv[i], "--check") == 0;
            dir = argv[++i];
        } else if (argv[i][0] == '-') {
            fprintf(stderr, "usage: probe-shapes [-o DIR | --check DIR] [MODEL...]\n");
            return 2;
        } else {
            g_ptr_array_add(names, argv[i]);
        }
    }
    g_auto(GStrv) all = NULL;
    if (names->len == 0) {
        all = sv_data_list("models", ".yaml");
        for (int i = 0; all != NULL && all[i] != NULL; i++)
            g_ptr_array_add(names, all[i]);
    }
    int stale = 0, rc = 0;
    for (guint i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);
        g_autoptr(GError) error = NULL;
        g_autofree char *text = render(name, &error);
        if (text == NULL) {
            fprintf(stderr, "probe-shapes: %s\n", error ? error->message : "out of memory");
            rc = 2;
            continue;
        }
        g_autofree char *path = g_strdup_printf("%s/%s.csv", dir, name);
        if (check) {
            g_autofree char *old = NULL;
            if (!g_file_get_contents(path, &old, NULL, NULL) || strcmp(old, text) != 0) {
                fprintf(stderr, "probe-shapes: %s is missing or stale (run probe-shapes -o %s)\n",
                        path, dir);
                stale++;
            }
        } else if (!g_file_set_contents(path, text, -1, &error)) {
            fprintf(stderr, "probe-shapes: %s\n", error->message);
            rc = 2;
        }
    }
    g_ptr_array_free(names, TRUE);
    if (check && stale == 0 && rc == 0)
        printf("probe-shapes: every shape file in %s is up to date\n", dir);
    return rc ? rc : (stale ? 1 : 0);
}
