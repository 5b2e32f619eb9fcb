/* The timeline of a run as Chrome / Perfetto trace-event JSON
 * (`servesim run --trace-events FILE`), written while the simulation runs.
 * It plugs into the engine through the SvSimObserver hooks of serve/sim.h,
 * the one place where metrics/ looks at serve/. Open it in ui.perfetto.dev or
 * chrome://tracing. A traced run writes about 250 bytes per iteration and
 * 800 bytes per request, so the writer can stop after the first N requests. */
#ifndef SV_TRACE_EVENTS_H
#define SV_TRACE_EVENTS_H

#include "config/config.h"
#include "serve/sim.h"

G_BEGIN_DECLS

typedef struct SvTraceEvents SvTraceEvents;

/* Start a trace of a run of @config into @path (written to "@path.tmp" and
 * renamed by sv_trace_events_finish). @limit_requests > 0 keeps the timeline
 * to the first that many requests: their lifetimes in full, and every
 * iteration and counter until the last of them has finished; 0 traces the
 * whole run. Errors: G_FILE_ERROR naming @path. (transfer full) */
SvTraceEvents *sv_trace_events_new(const char *path, const SvConfig *config, int64_t limit_requests,
                                   GError **error);
/* Discard an unfinished trace (its temporary file is removed). */
void sv_trace_events_free(SvTraceEvents *trace);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvTraceEvents, sv_trace_events_free)

/* The hooks to give sv_sim_set_observer. (transfer none) valid while @trace lives. */
const SvSimObserver *sv_trace_events_observer(SvTraceEvents *trace);

/* Close the JSON and move it to its final path. Errors: G_FILE_ERROR. */
gboolean sv_trace_events_finish(SvTraceEvents *trace, GError **error);

/* What the trace holds, for the CLI's note. */
typedef struct {
    int64_t events;          /* trace events written (metadata included) */
    int64_t requests_traced; /* requests whose lifetimes are in the trace */
    gboolean truncated;      /* the limit cut the run short */
    SvTimeNs end_ns;         /* simulated time the timeline stops at */
} SvTraceEventsStats;
void sv_trace_events_stats(const SvTraceEvents *trace, SvTraceEventsStats *out);

G_END_DECLS

#endif /* SV_TRACE_EVENTS_H */
