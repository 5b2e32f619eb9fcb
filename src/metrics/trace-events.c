/* Chrome / Perfetto trace-event JSON, streamed while the simulation runs.
 * Layout: process 0 "cluster" holds the counters (requests running and
 * waiting, KV use, batch size, power) taken from the time-series samples;
 * process r+1 is replica r, whose thread 1 holds one complete event ("X") per
 * iteration with its batch in args, and whose async tracks hold one nestable
 * slice per request ("request N", arrival to last token) with its phases
 * (queued, prefill, decode, preempted) nested inside. A pipelined replica
 * (pp > 1) has one thread per stage instead, "stage s" as thread s+1, each
 * with one slice per micro-batch while that stage runs it: batches overlap
 * in flight, and one track for all of them would draw overlapping slices
 * that viewers cannot nest; args.batch names the same batch on every stage.
 * The hooks fire in simulated-time order, so events come out sorted by ts,
 * except that a pipelined batch's later stages are written when it is
 * launched, ahead of their time (viewers sort). Times are µs printed
 * exactly from integer nanoseconds. */
#include "metrics/trace-events.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>

struct SvTraceEvents {
    FILE *f;                 /* the temporary file (owned) */
    char *path;              /* final path */
    char *tmp_path;          /* path + ".tmp" */
    const SvConfig *config;  /* (not owned) */
    int64_t limit_requests;  /* 0 = every request */
    int64_t ended;           /* traced requests that finished or were rejected */
    int64_t requests_traced; /* traced requests that arrived */
    int64_t events;          /* events written */
    gboolean closed;         /* the limit's window has ended */
    gboolean truncated;      /* a request beyond the limit arrived */
    gboolean first;          /* nothing written to traceEvents yet */
    SvTimeNs end_ns;         /* time of the latest event written */
    int64_t *batches;        /* per replica: pipelined batches launched (owned) */
    SvSimObserver observer;  /* hooks pointing at this writer */
};

/* ---- printing ---- */

static void put_us(FILE *f, SvTimeNs t_ns)
{
    /* µs with three decimals: exact for any ns value. */
    uint64_t mag = t_ns < 0 ? (uint64_t)0 - (uint64_t)t_ns : (uint64_t)t_ns;
    fprintf(f, "%s%" G_GUINT64_FORMAT ".%03u", t_ns < 0 ? "-" : "", mag / 1000,
            (unsigned)(mag % 1000));
}

static void put_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static double finite_or_zero(double x)
{
    return isfinite(x) ? x : 0.0;
}

/* Open one event object: separator, common fields. The caller adds the rest
 * and the closing brace. */
static void begin(SvTraceEvents *t, const char *name, const char *ph, int pid, SvTimeNs t_ns)
{
    fputs(t->first ? "\n" : ",\n", t->f);
    t->first = FALSE;
    t->events++;
    fputs("{\"name\":", t->f);
    put_string(t->f, name);
    fprintf(t->f, ",\"ph\":\"%s\",\"pid\":%d,\"ts\":", ph, pid);
    put_us(t->f, t_ns);
    if (t_ns > t->end_ns)
        t->end_ns = t_ns;
}

static void metadata(SvTraceEvents *t, const char *what, int pid, int tid, const char *name,
                     int sort_index)
{
    fputs(t->first ? "\n" : ",\n", t->f);
    t->first = FALSE;
    t->events++;
    fprintf(t->f, "{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{", what, pid, tid);
    if (name != NULL) {
        fputs("\"name\":", t->f);
        put_string(t->f, name);
    } else {
        fprintf(t->f, "\"sort_index\":%d", sort_index);
    }
    fputs("}}", t->f);
}

/* ---- hooks ---- */

static gboolean phase_is_slice(uint8_t phase)
{
    return phase == SV_PHASE_QUEUED || phase == SV_PHASE_PREFILL || phase == SV_PHASE_DECODE ||
           phase == SV_PHASE_PREEMPTED || phase == SV_PHASE_TRANSFER;
}

static const char *phase_name(uint8_t phase)
{
    switch (phase) {
    case SV_PHASE_QUEUED:
        return "queued";
    case SV_PHASE_PREFILL:
        return "prefill";
    case SV_PHASE_DECODE:
        return "decode";
    case SV_PHASE_PREEMPTED:
        return "preempted";
    case SV_PHASE_TRANSFER:
        return "kv transfer";
    default:
        return "?";
    }
}

/* A nestable async begin or end on replica @rep's request track @id. */
static void async_event(SvTraceEvents *t, const char *name, const char *ph, int32_t rep, int64_t id,
                        SvTimeNs t_ns)
{
    begin(t, name, ph, rep + 1, t_ns);
    fprintf(t->f, ",\"cat\":\"request\",\"id\":%" G_GINT64_FORMAT, id);
}

static void on_request(void *user_data, const SvRequestEvent *ev)
{
    SvTraceEvents *t = user_data;
    if (t->limit_requests > 0 && ev->id >= t->limit_requests) {
        t->truncated = TRUE;
        return;
    }
    if (t->closed)
        return;
    char envelope[48];
    g_snprintf(envelope, sizeof(envelope), "request %" G_GINT64_FORMAT, ev->id);
    if (ev->prev_phase == SV_PHASE_NONE) {
        t->requests_traced++;
        async_event(t, envelope, "b", ev->replica, ev->id, ev->t_ns);
        fprintf(t->f, ",\"args\":{\"input_tokens\":%d,\"output_tokens\":%d}}",
                (int)ev->input_tokens, (int)ev->output_tokens);
    }
    /* A request handed from a prefill to a decode replica closes each slice
     * on the track that opened it, and its envelope on its first replica. */
    int32_t prev_rep = ev->handed_over ? ev->prev_replica : ev->replica;
    int32_t home_rep = ev->handed_over ? ev->home_replica : ev->replica;
    if (phase_is_slice(ev->prev_phase)) {
        async_event(t, phase_name(ev->prev_phase), "e", prev_rep, ev->id, ev->t_ns);
        fputc('}', t->f);
    }
    if (phase_is_slice(ev->phase)) {
        async_event(t, phase_name(ev->phase), "b", ev->replica, ev->id, ev->t_ns);
        fprintf(t->f, ",\"args\":{\"generated\":%d}}", (int)ev->generated);
    }
    if (ev->phase == SV_PHASE_FINISHED || ev->phase == SV_PHASE_REJECTED) {
        async_event(t, envelope, "e", home_rep, ev->id, ev->t_ns);
        if (ev->phase == SV_PHASE_REJECTED) {
            fputs(",\"args\":{\"rejected\":", t->f);
            put_string(t->f, sv_reject_reason_name((SvRejectReason)ev->reject_reason));
            fputs("}}", t->f);
        } else {
            fprintf(t->f, ",\"args\":{\"generated\":%d}}", (int)ev->generated);
        }
        t->ended++;
        if (t->limit_requests > 0 && t->ended >= t->limit_requests)
            t->closed = TRUE;
    }
}

/* One complete event of an iteration (or of one stage of it, @stage >= 0,
 * micro-batch @batch) on thread @tid of @ev's replica. */
static void iteration_slice(SvTraceEvents *t, const SvIterationEvent *ev, const char *name, int tid,
                            SvTimeNs start_ns, SvTimeNs dur_ns, int stage, int64_t batch)
{
    const SvBatchShape *s = &ev->shape;
    begin(t, name, "X", ev->replica + 1, start_ns);
    fprintf(t->f, ",\"tid\":%d,\"dur\":", tid);
    put_us(t->f, dur_ns);
    fputs(",\"args\":{", t->f);
    if (stage >= 0)
        fprintf(t->f, "\"stage\":%d,\"batch\":%" G_GINT64_FORMAT ",", stage, batch);
    fprintf(t->f,
            "\"seqs\":%d,\"prefill_seqs\":%d,\"prefill_tokens\":%" G_GINT64_FORMAT
            ",\"decode_seqs\":%d,\"decode_context_tokens\":%" G_GINT64_FORMAT
            ",\"running\":%d,\"waiting\":%d,\"kv_used_blocks\":%" G_GINT64_FORMAT
            ",\"kv_total_blocks\":%" G_GINT64_FORMAT ",\"swap_blocks\":%" G_GINT64_FORMAT "}}",
            s->num_prefill + s->num_decode, s->num_prefill, s->prefill_tokens, s->num_decode,
            s->decode_kv_tokens, (int)ev->running, (int)ev->waiting, ev->kv_used_blocks,
            ev->kv_total_blocks, ev->swap_blocks);
    if (start_ns + dur_ns > t->end_ns)
        t->end_ns = start_ns + dur_ns;
}

static void on_iteration(void *user_data, const SvIterationEvent *ev)
{
    SvTraceEvents *t = user_data;
    if (t->closed)
        return;
    const SvBatchShape *s = &ev->shape;
    /* A step with no batch only copied KV blocks over the host link (swap). */
    const char *name = s->num_prefill + s->num_decode == 0 ? "swap"
                       : s->num_decode == 0                ? "prefill"
                       : s->num_prefill == 0               ? "decode"
                                                           : "mixed";
    if (ev->num_stages <= 1) {
        iteration_slice(t, ev, name, 1, ev->start_ns, ev->duration_ns, -1, 0);
        return;
    }
    int64_t batch = t->batches[ev->replica]++;
    for (int st = 0; st < ev->num_stages; st++)
        iteration_slice(t, ev, name, st + 1, ev->stage_start_ns[st],
                        ev->stage_end_ns[st] - ev->stage_start_ns[st], st, batch);
}

static void on_sample(void *user_data, const SvSample *s)
{
    SvTraceEvents *t = user_data;
    if (t->closed)
        return;
    begin(t, "requests", "C", 0, s->t_ns);
    fprintf(t->f, ",\"args\":{\"running\":%d,\"waiting\":%d}}", (int)s->running, (int)s->waiting);
    begin(t, "kv_utilization_percent", "C", 0, s->t_ns);
    fprintf(t->f, ",\"args\":{\"kv\":%.3f}}", 100.0 * finite_or_zero(s->kv_utilization));
    begin(t, "power_w", "C", 0, s->t_ns);
    fprintf(t->f, ",\"args\":{\"cluster\":%.3f}}", finite_or_zero(s->power_w));
}

/* ---- life cycle ---- */

static void set_file_error(GError **error, const char *path, int errsv)
{
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv), "%s: %s", path,
                g_strerror(errsv));
}

SvTraceEvents *sv_trace_events_new(const char *path, const SvConfig *config, int64_t limit_requests,
                                   GError **error)
{
    g_return_val_if_fail(path != NULL && config != NULL && limit_requests >= 0, NULL);
    g_autoptr(SvTraceEvents) t = g_new0(SvTraceEvents, 1);
    t->path = g_strdup(path);
    t->tmp_path = g_strconcat(path, ".tmp", NULL);
    t->config = config;
    t->limit_requests = limit_requests;
    t->first = TRUE;
    t->f = fopen(t->tmp_path, "w");
    if (t->f == NULL) {
        set_file_error(error, path, errno);
        return NULL;
    }
    t->observer = (SvSimObserver){on_iteration, on_request, on_sample, t};

    fputs("{\"displayTimeUnit\":\"ms\",\"traceEvents\":[", t->f);
    metadata(t, "process_name", 0, 0, "cluster", 0);
    metadata(t, "process_sort_index", 0, 0, NULL, 0);
    int rep = 0;
    for (guint p = 0; p < config->pools->len; p++)
        rep += MAX(((const SvPoolConfig *)g_ptr_array_index(config->pools, p))->replicas, 0);
    t->batches = g_new0(int64_t, MAX(rep, 1));
    rep = 0;
    for (guint p = 0; p < config->pools->len; p++) {
        const SvPoolConfig *pool = g_ptr_array_index(config->pools, p);
        int dp = pool->data_parallel_size, stages = pool->pipeline_parallel_size;
        g_autofree char *dp_text = dp > 1 ? g_strdup_printf(" DP%d", dp) : g_strdup("");
        for (int i = 0; i < pool->replicas; i++, rep++) {
            g_autofree char *name = g_strdup_printf("replica %d (%s: %s TP%d PP%d%s)", rep,
                                                    pool->name ? pool->name : "pool",
                                                    pool->hardware_name ? pool->hardware_name : "?",
                                                    pool->tensor_parallel_size, stages, dp_text);
            metadata(t, "process_name", rep + 1, 0, name, 0);
            metadata(t, "process_sort_index", rep + 1, 0, NULL, rep + 1);
            if (stages <= 1) {
                metadata(t, "thread_name", rep + 1, 1, "iterations", 0);
                continue;
            }
            for (int st = 0; st < stages; st++) {
                g_autofree char *thread = g_strdup_printf("stage %d", st);
                metadata(t, "thread_name", rep + 1, st + 1, thread, 0);
                metadata(t, "thread_sort_index", rep + 1, st + 1, NULL, st);
            }
        }
    }
    return g_steal_pointer(&t);
}

void sv_trace_events_free(SvTraceEvents *t)
{
    if (t == NULL)
        return;
    if (t->f != NULL) {
        fclose(t->f);
        g_unlink(t->tmp_path);
    }
    g_free(t->path);
    g_free(t->tmp_path);
    g_free(t->batches);
    g_free(t);
}

const SvSimObserver *sv_trace_events_observer(SvTraceEvents *t)
{
    return &t->observer;
}

gboolean sv_trace_events_finish(SvTraceEvents *t, GError **error)
{
    g_return_val_if_fail(t != NULL && t->f != NULL, FALSE);
    fputs("\n],\"otherData\":{\"generator\":\"servesim " SV_VERSION "\",\"config\":", t->f);
    put_string(t->f, t->config->path);
    fprintf(t->f,
            ",\"seed\":%" G_GUINT64_FORMAT ",\"limit_requests\":%" G_GINT64_FORMAT
            ",\"requests_traced\":%" G_GINT64_FORMAT ",\"truncated\":%s}}\n",
            t->config->seed, t->limit_requests, t->requests_traced,
            t->truncated ? "true" : "false");
    int errsv = 0;
    if (fflush(t->f) != 0 || ferror(t->f))
        errsv = errno != 0 ? errno : EIO;
    if (fclose(t->f) != 0 && errsv == 0)
        errsv = errno != 0 ? errno : EIO;
    t->f = NULL;
    if (errsv == 0 && g_rename(t->tmp_path, t->path) != 0)
        errsv = errno;
    if (errsv != 0) {
        g_unlink(t->tmp_path);
        set_file_error(error, t->path, errsv);
        return FALSE;
    }
    return TRUE;
}

void sv_trace_events_stats(const SvTraceEvents *t, SvTraceEventsStats *out)
{
    out->events = t->events;
    out->requests_traced = t->requests_traced;
    out->truncated = t->truncated;
    out->end_ns = t->end_ns;
}
