/* Fuzz harness: the Hugging Face config.json importer
 * (sv_model_load_hf_json); a model that loads must give a sane size. */
#include "fuzz-util.h"
#include "model/model.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sv_fuzz_setup();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = sv_fuzz_write("hf/config.json", data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvModel) model = sv_model_load_hf_json(path, &error);
    if ((model == NULL) == (error == NULL))
        abort();
    if (model != NULL) {
        if (sv_model_param_count(model) <= 0)
            abort();
        SvModel *copy = sv_model_copy(model);
        if (sv_model_param_count(copy) != sv_model_param_count(model))
            abort();
        sv_model_free(copy);
    }
    return 0;
}
