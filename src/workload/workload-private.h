/* Workload internals shared by generator.c and prefix-gen.c: the base
 * generator (arrival process + lengths) and the sharing layer on top of it
 * (shared system prompts, multi-turn sessions). */
#ifndef SV_WORKLOAD_PRIVATE_H
#define SV_WORKLOAD_PRIVATE_H

#include "workload/workload.h"

G_BEGIN_DECLS

/* The next request of the arrival process with its lengths, ignoring the
 * sharing layer (what sv_workload_next is without one). */
gboolean sv__workload_next_base(SvWorkload *workload, SvRequestSpec *out);
/* Lengths (and a trace row's attributes and hash ids) for a request that
 * the arrival process did not produce: a later turn of a session. FALSE
 * when a streamed trace stopped reading (sv_workload_error). */
gboolean sv__workload_draw_lengths(SvWorkload *workload, SvRequestSpec *out);
/* Arrivals stop at this time (SV_TIME_NEVER: unbounded). */
SvTimeNs sv__workload_duration_ns(const SvWorkload *workload);
/* workload.num_requests (0: unbounded). */
int64_t sv__workload_num_requests(const SvWorkload *workload);

/* The sharing layer (prefix-gen.c); NULL when @config asks for neither
 * shared prompts nor sessions. (transfer full) */
typedef struct SvSharing SvSharing;
SvSharing *sv__sharing_new(const SvWorkloadConfig *config, uint64_t seed);
void sv__sharing_free(SvSharing *sharing);
/* sv_workload_next through the layer. */
gboolean sv__sharing_next(SvSharing *sharing, SvWorkload *workload, SvRequestSpec *out);
/* Keep this stream's synthetic content apart from other streams'. */
void sv__sharing_set_key_space(SvSharing *sharing, uint32_t key_space);

G_END_DECLS

#endif
