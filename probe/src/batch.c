/* Whole-layer batch specs (see batch.h). */
#include "batch.h"

#include <string.h>

gboolean probe_batch_parse(const char *spec, ProbeBatch *b, GError **error)
{
    memset(b, 0, sizeof *b);
    /* servesim's parser is the authority on the syntax and the limits. */
    if (!sv_batch_parse(spec, &b->shape, error))
        return FALSE;
    g_auto(GStrv) terms = g_strsplit(spec, ",", -1);
    for (int i = 0; terms[i] != NULL; i++) {
        const char *t = g_strstrip(terms[i]);
        if (*t == '\0')
            continue;
        if (b->nterms == PROBE_BATCH_MAX_TERMS) {
            g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT, "--batch '%s': more than %d terms",
                        spec, PROBE_BATCH_MAX_TERMS);
            return FALSE;
        }
        ProbeBatchTerm *term = &b->terms[b->nterms++];
        const char *val = strchr(t, '=') + 1; /* present: validated above */
        const char *at = strchr(val, '@');
        if (g_str_has_prefix(t, "prefill")) {
            term->prefill = TRUE;
            term->tokens = g_ascii_strtoll(val, NULL, 10);
            term->count = g_ascii_strtoll(strchr(val, 'x') + 1, NULL, 10);
            term->context = at ? g_ascii_strtoll(at + 1, NULL, 10) : 0;
            b->tokens += term->tokens * term->count;
            b->prefill_chunks += term->count;
        } else {
            term->tokens = 1;
            term->count = g_ascii_strtoll(val, NULL, 10);
            term->context = g_ascii_strtoll(at + 1, NULL, 10);
            b->tokens += term->count;
            b->decode_seqs += term->count;
        }
    }
    return TRUE;
}

char *probe_batch_label(const char *spec)
{
    char *s = g_strdup(spec);
    g_strdelimit(s, ",", ';');
    return s;
}
