/* Fuzz harness: the trace readers (servesim CSV, Azure 2023 CSV, Mooncake
 * JSON Lines, Vidur processed-trace CSV; the format is detected from the
 * content). An accepted trace must hold what the reader promises: at least
 * one row, arrivals never going backwards, lengths >= 1. The streamed
 * reading (sv_trace_open and a cursor) must agree with the loaded one row
 * for row, and fail with the same message on the same input. */
#include "fuzz-util.h"
#include "workload/workload.h"

#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    sv_fuzz_setup();
    return 0;
}

static gboolean same_row(const SvRequestSpec *a, const SvRequestSpec *b)
{
    return a->arrival_ns == b->arrival_ns && a->input_tokens == b->input_tokens &&
           a->output_tokens == b->output_tokens && a->session == b->session &&
           a->tenant == b->tenant && a->slo_class == b->slo_class && a->trace_row == b->trace_row;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = sv_fuzz_write("trace.csv", data, size);
    g_autoptr(GError) error = NULL;
    g_autoptr(SvTrace) trace = sv_trace_load(path, &error);
    if ((trace == NULL) == (error == NULL))
        abort();
    g_autoptr(GError) stream_error = NULL;
    g_autoptr(SvTrace) streamed = sv_trace_open(path, &stream_error);
    if ((streamed == NULL) != (trace == NULL))
        abort();
    if (trace == NULL) {
        if (strcmp(error->message, stream_error->message) != 0)
            abort();
        return 0;
    }
    size_t n = sv_trace_len(trace);
    if (n == 0 || sv_trace_len(streamed) != n ||
        sv_trace_first_arrival_ns(streamed) != sv_trace_first_arrival_ns(trace) ||
        sv_trace_has_arrivals(streamed) != sv_trace_has_arrivals(trace) ||
        sv_trace_num_tenants(streamed) != sv_trace_num_tenants(trace) ||
        sv_trace_num_slo_classes(streamed) != sv_trace_num_slo_classes(trace))
        abort();
    g_autoptr(SvTraceCursor) cursor = sv_trace_cursor_new(streamed, &error);
    if (cursor == NULL)
        abort();
    SvTimeNs prev = 0;
    for (size_t i = 0; i < n; i++) {
        const SvRequestSpec *r = sv_trace_row(trace, i);
        if (r->input_tokens < 1 || r->output_tokens < 1 || r->arrival_ns < prev)
            abort();
        prev = r->arrival_ns;
        size_t k = 0;
        const int64_t *ids = sv_trace_hash_ids(trace, i, &k);
        if ((ids == NULL) != (k == 0))
            abort();
        SvRequestSpec s;
        if (!sv_trace_cursor_next(cursor, &s, NULL, NULL, &error) || !same_row(r, &s))
            abort();
    }
    SvRequestSpec s;
    if (sv_trace_cursor_next(cursor, &s, NULL, NULL, &error) || error != NULL)
        abort();
    /* A second pass reads the same first row. */
    if (!sv_trace_cursor_rewind(cursor, &error) ||
        !sv_trace_cursor_next(cursor, &s, NULL, NULL, &error) ||
        !same_row(sv_trace_row(trace, 0), &s))
        abort();
    for (int32_t i = 0; i < sv_trace_num_tenants(trace); i++)
        if (strcmp(sv_trace_tenant_name(trace, i), sv_trace_tenant_name(streamed, i)) != 0)
            abort();
    return 0;
}
