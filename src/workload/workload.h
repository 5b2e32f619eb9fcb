/* Workloads: request traces read from files (servesim CSV, and the native
 * Azure 2023, Mooncake and Vidur formats converted on load; loaded whole or
 * streamed row by row) and the generators that turn a
 * workload config into a stream of requests: arrival processes (trace,
 * poisson, gamma, constant, closed-loop) and length distributions (fixed,
 * uniform, lognormal, sampled from a trace). Requests are generated one at a
 * time, so memory does not grow with the number of requests. */
#ifndef SV_WORKLOAD_H
#define SV_WORKLOAD_H

#include "config/config.h"
#include "core/common.h"

G_BEGIN_DECLS

/* What a request's prompt is made of, for the prefix cache. servesim has no
 * token ids, so two requests share KV blocks exactly when their contents are
 * named alike here. Two sources, both optional:
 *  - a trace's hash ids (Mooncake's hash_ids): content id k names tokens
 *    [k x hash_block_tokens, (k+1) x hash_block_tokens) of the prompt;
 *  - the synthetic generator (prefix-gen.c): the first prefix_tokens tokens
 *    are shared system prompt prefix_key, and every later token belongs to
 *    context_key (a session, whose next turn extends the same context, or a
 *    single request).
 * All zero: no information, the request shares nothing. */
typedef struct {
    const int64_t *hash_ids;   /* (transfer none) the trace's, or NULL */
    int32_t num_hash_ids;      /* entries of hash_ids */
    int32_t hash_block_tokens; /* tokens per hash id */
    uint64_t prefix_key;       /* shared system prompt, 0 = none */
    uint64_t context_key;      /* owner of the tokens after it, 0 = none */
    int32_t prefix_tokens;     /* tokens of the system prompt */
} SvPrefixSource;

/* One request as the workload produces it. */
typedef struct {
    SvTimeNs arrival_ns;   /* simulated arrival time (closed-loop: 0, the engine sets it) */
    int32_t input_tokens;  /* prompt length, >= 1 */
    int32_t output_tokens; /* tokens to generate, >= 1 */
    int32_t session;       /* trace session id, -1 when none */
    int32_t tenant;        /* tenant index, 0 when none */
    int32_t slo_class;     /* SLO class index, 0 when none */
    int32_t trace_row;     /* 0-based trace row it came from (hash_ids, names), -1 when none */
    SvPrefixSource prefix; /* prompt content for the prefix cache (zero: none) */
} SvRequestSpec;

/* A request trace, rows sorted by arrival as in the file. It is held one of
 * two ways:
 *  - loaded (sv_trace_load): every row in memory (72 bytes a row, plus 8 per
 *    hash id), with random access (sv_trace_row, sv_trace_hash_ids);
 *  - streamed (sv_trace_open): a first pass reads the whole file in constant
 *    memory and validates every row, keeping only the row count, the first
 *    arrival and the tenant and SLO class names; cursors
 *    (sv_trace_cursor_new) then read the rows again one at a time. A
 *    streamed trace keeps no hash ids and has no random access.
 * Either way every error is found before a simulation starts. */
typedef struct SvTrace SvTrace;

/* Load a trace whole. Formats, detected from the first non-blank line:
 *  - servesim: arrival_s,input_tokens,output_tokens[,hash_ids][,session][,tenant][,slo_class]
 *    (columns in any order; extra unknown columns are errors). Arrival times
 *    are kept as written (seconds); tenant and slo_class are names, each
 *    distinct name numbered from 0 in first-seen order.
 *  - Azure LLM inference 2023: TIMESTAMP,ContextTokens,GeneratedTokens (times
 *    relative to the first row).
 *  - Mooncake JSON Lines: {"timestamp": ms, "input_length", "output_length",
 *    "hash_ids": [...]}, one object per line.
 *  - Vidur processed traces: [arrived_at,]num_prefill_tokens,
 *    num_decode_tokens[,num_total_tokens][,pd_ratio]; without arrived_at
 *    the trace gives lengths only (sv_trace_has_arrivals is FALSE).
 * Errors in SV_TRACE_ERROR as "FILE:LINE:COL: message": missing/unknown
 * columns, ragged rows, non-numbers, negative or non-finite values, lengths
 * < 1 (input) or < 1 (output), arrivals out of order, an empty trace, binary
 * data, lines over SV_TRACE_MAX_LINE_BYTES. traces/README.md is the format doc.
 * (transfer full) */
#define SV_TRACE_MAX_LINE_BYTES 65536
SvTrace *sv_trace_load(const char *path, GError **error);
/* Open a trace for streaming: the same checks and errors as sv_trace_load,
 * in constant memory. (transfer full) */
SvTrace *sv_trace_open(const char *path, GError **error);
/* Open @path the way a workload of @config will read it: streamed, unless
 * its lengths are drawn from the trace's rows at random (`dist: trace`), or
 * @need_hash_ids (prefix caching is on) and the trace has hash ids, which
 * in-flight requests point into; then loaded. (transfer full) */
SvTrace *sv_trace_load_for(const char *path, const SvWorkloadConfig *config, gboolean need_hash_ids,
                           GError **error);
void sv_trace_free(SvTrace *trace);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvTrace, sv_trace_free)
size_t sv_trace_len(const SvTrace *trace);
/* Whether @trace is streamed (sv_trace_open) rather than loaded. */
gboolean sv_trace_streamed(const SvTrace *trace);
/* Whether its rows carry arrival times (all formats but an untimed Vidur trace). */
gboolean sv_trace_has_arrivals(const SvTrace *trace);
/* Whether it has hash ids (a hash_ids column, or Mooncake JSON Lines). */
gboolean sv_trace_has_hash_ids(const SvTrace *trace);
/* Row 0's arrival as read (Azure: 0, times being relative to it). */
SvTimeNs sv_trace_first_arrival_ns(const SvTrace *trace);
/* The line of the header row (of the first object for JSON Lines), for messages. */
int sv_trace_header_line(const SvTrace *trace);
/* Row @i (0-based) of a loaded trace. (transfer none) */
const SvRequestSpec *sv_trace_row(const SvTrace *trace, size_t i);
/* Prefix block hashes of row @i (Mooncake hash_ids), *@n_out of them; NULL
 * with *@n_out = 0 when the row has none or the trace is streamed.
 * (transfer none) */
const int64_t *sv_trace_hash_ids(const SvTrace *trace, size_t i, size_t *n_out);
/* Name of tenant / SLO class @index as written in the trace, or NULL when the
 * trace has no such column or index. (transfer none) */
const char *sv_trace_tenant_name(const SvTrace *trace, int32_t index);
const char *sv_trace_slo_class_name(const SvTrace *trace, int32_t index);
/* Number of distinct tenants / SLO classes (0 when the column is absent). */
int32_t sv_trace_num_tenants(const SvTrace *trace);
int32_t sv_trace_num_slo_classes(const SvTrace *trace);
/* The path the trace was loaded from. (transfer none) */
const char *sv_trace_path(const SvTrace *trace);

/* Reads a trace's rows in order, from memory or (streamed) from its file,
 * which must be the file the first pass checked (same size and time). A
 * cursor on a streamed trace of up to 16 MiB of rows (116 k) keeps the rows
 * of its first full pass and replays them after a rewind, without reading
 * the file again. */
typedef struct SvTraceCursor SvTraceCursor;
/* Keeps a reference to @trace. Errors: the file changed or cannot be
 * opened. (transfer full) */
SvTraceCursor *sv_trace_cursor_new(const SvTrace *trace, GError **error);
void sv_trace_cursor_free(SvTraceCursor *cursor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvTraceCursor, sv_trace_cursor_free)
/* The next row into @row (trace_row set) and its hash ids into *@ids,
 * *@n_ids (either may be NULL; NULL, 0 when none or streamed; valid while
 * the trace lives). FALSE at the end (@error unset) or when the file no
 * longer reads as it did (@error set). */
gboolean sv_trace_cursor_next(SvTraceCursor *cursor, SvRequestSpec *row, const int64_t **ids,
                              size_t *n_ids, GError **error);
/* Back to the first row. */
gboolean sv_trace_cursor_rewind(SvTraceCursor *cursor, GError **error);

/* The generator of one run. */
typedef struct SvWorkload SvWorkload;

/* Build the generator for @config (validated by sv_config_load). @trace may be
 * NULL unless the config names one (then it must be the loaded trace). RNG
 * streams come from @seed (SV_STREAM_ARRIVALS, _INPUT_LENGTHS, _OUTPUT_LENGTHS,
 * _TRACE_SAMPLE). Keeps a reference to @trace. (transfer full) */
SvWorkload *sv_workload_new(const SvWorkloadConfig *config, const SvTrace *trace, uint64_t seed,
                            GError **error);
void sv_workload_free(SvWorkload *workload);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvWorkload, sv_workload_free)

/* Synthetic shared prompts and sessions name their content by keys counted
 * from 1 in each stream; streams that run side by side (tenants) give each a
 * distinct @key_space (0 by default) so that their contents never match by
 * accident. */
void sv_workload_set_key_space(SvWorkload *workload, uint32_t key_space);

/* Closed loop: the number of requests to keep in flight; 0 for open loop. */
int sv_workload_concurrency(const SvWorkload *workload);

/* Produce the next request. Open loop: arrivals are non-decreasing and the
 * first request always arrives at t = 0, for every process: a trace replay
 * shifts the trace's first time to 0; poisson and gamma then add one random
 * gap per request, constant adds 1/rate. duration_s keeps arrivals in the
 * half-open window [0, duration_s), so constant rate r over D seconds gives
 * r*D requests. Closed loop:
 * arrival_ns is 0 and the caller stamps it. Returns FALSE when the workload is
 * exhausted: num_requests reached, the arrival would come after duration_s, or
 * the trace ended. A trace that gives the arrivals (process: trace) is
 * replayed once; with another arrival process the trace's rows give the
 * lengths in file order and wrap around; `dist: trace` lengths are drawn
 * from the trace with replacement. */
gboolean sv_workload_next(SvWorkload *workload, SvRequestSpec *out);

/* Like sv_workload_next, for a closed loop at simulated time @now_ns (a
 * request finished, or the start): stamps arrival_ns = @now_ns and returns
 * FALSE once @now_ns >= duration_s, so duration_s also ends a closed loop.
 * For an open loop it is sv_workload_next (and @now_ns is ignored). */
gboolean sv_workload_next_at(SvWorkload *workload, SvTimeNs now_ns, SvRequestSpec *out);

/* Why the workload ended early, or NULL: a streamed trace that no longer
 * reads as it did when it was checked (changed during the run). The
 * workload then reports itself exhausted. (transfer none) */
const GError *sv_workload_error(const SvWorkload *workload);

G_END_DECLS

#endif /* SV_WORKLOAD_H */
