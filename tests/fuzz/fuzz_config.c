/* Fuzz harness: the study loader (sv_config_load) on a whole study YAML.
 * Model and hardware names resolve under the source tree as in a real run;
 * a study that loads is freed again, so leaks show too. */
#include "config/config.h"
#include "fuzz-util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sv_fuzz_setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = sv_fuzz_write("study.yaml", data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvConfig) config = sv_config_load(path, NULL, &error);
    /* Exactly one of a config and an error, and the error names the input. */
    if ((config == NULL) == (error == NULL))
        abort();
    return 0;
}
