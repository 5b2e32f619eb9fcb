/* Temporary files and process set-up for the fuzz harnesses (fuzz-util.h).
 * The folder is per process, so parallel fuzzing jobs never share files. */
#include "fuzz-util.h"

#include <glib/gstdio.h>
#include <gsl/gsl_errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

/* Test scaffolding, not library state: one folder per fuzzing process. */
static char *fuzz_dir;
static GHashTable *fuzz_paths; /* name -> full path (owned) */

static void remove_tree(const char *dir)
{
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d == NULL)
        return;
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_DIR) && !g_file_test(path, G_FILE_TEST_IS_SYMLINK))
            remove_tree(path);
        else
            g_unlink(path);
    }
    g_dir_close(d);
    g_rmdir(dir);
}

static void cleanup(void)
{
    if (fuzz_dir != NULL)
        remove_tree(fuzz_dir);
}

const char *sv_fuzz_dir(void)
{
    if (fuzz_dir == NULL) {
        g_autoptr(GError) error = NULL;
        fuzz_dir = g_dir_make_tmp("servesim-fuzz-XXXXXX", &error);
        if (fuzz_dir == NULL) {
            fprintf(stderr, "fuzz: cannot make a temporary folder: %s\n", error->message);
            abort();
        }
        fuzz_paths = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
        atexit(cleanup);
    }
    return fuzz_dir;
}

const char *sv_fuzz_write(const char *name, const uint8_t *data, size_t size)
{
    const char *dir = sv_fuzz_dir();
    char *path = g_hash_table_lookup(fuzz_paths, name);
    if (path == NULL) {
        path = g_build_filename(dir, name, NULL);
        g_autofree char *parent = g_path_get_dirname(path);
        g_mkdir_with_parents(parent, 0700);
        g_hash_table_insert(fuzz_paths, g_strdup(name), path);
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        fprintf(stderr, "fuzz: cannot write %s\n", path);
        abort();
    }
    return path;
}

void sv_fuzz_clear(const char *sub)
{
    g_autofree char *dir = g_build_filename(sv_fuzz_dir(), sub, NULL);
    GDir *d = g_dir_open(dir, 0, NULL);
    if (d == NULL)
        return;
    const char *name;
    while ((name = g_dir_read_name(d)) != NULL) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
    }
    g_dir_close(d);
}

static void quiet_log(const gchar *domain, GLogLevelFlags level, const gchar *message,
                      gpointer user_data)
{
    /* Criticals and warnings abort (g_log_set_always_fatal below) after
     * this handler: say what tripped, since that is the bug report. */
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_ERROR))
        fprintf(stderr, "fuzz: %s: %s\n", domain ? domain : "", message);
}

void sv_fuzz_setup(void)
{
    setlocale(LC_ALL, "C");
    gsl_set_error_handler_off();
    g_log_set_default_handler(quiet_log, NULL);
    g_log_set_always_fatal(G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_ERROR);
    sv_fuzz_dir();
}
