/* Fuzz harness: --set overrides (sv_ydoc_set) through the study loader. Each
 * line of the input is one KEY.PATH=VALUE override applied to a fixed study
 * (a small quickstart), then the study is validated as `run` would. */
#include "config/config.h"
#include "config/ynode.h"
#include "fuzz-util.h"

#include <string.h>

static const char base_study[] =
    "seed: 1\n"
    "model: llama-3-8b\n"
    "cluster:\n"
    "  router: round-robin\n"
    "  pools:\n"
    "    - name: main\n"
    "      hardware: h100-sxm\n"
    "      replicas: 2\n"
    "      tensor_parallel_size: 1\n"
    "engine: {scheduler: vllm-v1, max_num_seqs: 256, block_size: 16}\n"
    "workload:\n"
    "  lengths: {input: {dist: lognormal, mean: 1000, sigma: 0.8}, output: {dist: fixed, "
    "value: 200}}\n"
    "  arrival: {process: poisson, rate_per_s: 10}\n"
    "  num_requests: 100\n"
    "slo: {ttft_s: 2.0, tpot_s: 0.1, percentile: 90}\n";

#define MAX_OVERRIDES 8

static const char *study_path;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sv_fuzz_setup();
    study_path = sv_fuzz_write("study.yaml", (const uint8_t *)base_study, strlen(base_study));
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* NUL cannot come from a command line: it ends the override. */
    g_autofree char *text = g_strndup((const char *)data, size);
    g_auto(GStrv) lines = g_strsplit(text, "\n", MAX_OVERRIDES + 1);
    if (g_strv_length(lines) > MAX_OVERRIDES)
        g_clear_pointer(&lines[MAX_OVERRIDES], g_free); /* the rest: ignored */

    /* The override parser alone, on a tree of the study. */
    g_autoptr(GError) error = NULL;
    g_autoptr(SvYDoc) doc =
        sv_ydoc_load_string(base_study, -1, "study.yaml", SV_CONFIG_ERROR, &error);
    if (doc == NULL)
        abort();
    for (char **l = lines; *l != NULL; l++) {
        gboolean ok = sv_ydoc_set(doc, *l, &error);
        if (ok != (error == NULL))
            abort();
        g_clear_error(&error);
    }

    /* And through the loader, which validates the result. */
    g_autoptr(SvConfig) config = sv_config_load(study_path, (const char *const *)lines, &error);
    if ((config == NULL) == (error == NULL))
        abort();
    return 0;
}
