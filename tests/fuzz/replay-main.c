/* A main() for the fuzz harnesses when libFuzzer is not linked: each
 * argument is a file (or a folder of files, not recursive) whose bytes are
 * passed to LLVMFuzzerTestOneInput once, as libFuzzer replays a crash. The
 * normal build uses it to run the seed corpus and the crash regressions
 * (tests/fuzz/run-replay.sh), under whatever sanitizers that build has. */
#include "fuzz-util.h"

#include <string.h>

static int cmp_path(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int replay_file(const char *path)
{
    g_autofree char *data = NULL;
    gsize size = 0;
    g_autoptr(GError) error = NULL;
    if (!g_file_get_contents(path, &data, &size, &error)) {
        fprintf(stderr, "replay: %s\n", error->message);
        return 1;
    }
    /* A private copy of exactly @size bytes, as libFuzzer passes it, so
     * that a read past the end is caught by the sanitizers. */
    g_autofree uint8_t *copy = g_malloc(size > 0 ? size : 1);
    memcpy(copy, data, size);
    LLVMFuzzerTestOneInput(copy, size);
    return 0;
}

int main(int argc, char **argv)
{
    LLVMFuzzerInitialize(&argc, &argv);
    int failed = 0, runs = 0;
    for (int i = 1; i < argc; i++) {
        if (g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
            g_autoptr(GDir) dir = g_dir_open(argv[i], 0, NULL);
            const char *name;
            g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
            while (dir != NULL && (name = g_dir_read_name(dir)) != NULL)
                g_ptr_array_add(names, g_build_filename(argv[i], name, NULL));
            g_ptr_array_sort(names, cmp_path);
            for (guint k = 0; k < names->len; k++) {
                const char *path = names->pdata[k];
                if (g_file_test(path, G_FILE_TEST_IS_REGULAR)) {
                    failed += replay_file(path);
                    runs++;
                }
            }
        } else {
            failed += replay_file(argv[i]);
            runs++;
        }
    }
    printf("replayed %d inputs\n", runs);
    return failed > 0 ? 1 : 0;
}
