/* Fuzz harness: the model YAML loader (sv_model_load on a path). */
#include "fuzz-util.h"
#include "model/model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sv_fuzz_setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = sv_fuzz_write("model/model.yaml", data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvModel) model = sv_model_load(path, &error);
    if ((model == NULL) == (error == NULL))
        abort();
    if (model != NULL && sv_model_param_count(model) <= 0)
        abort();
    return 0;
}
