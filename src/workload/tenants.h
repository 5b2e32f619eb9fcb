/* Tenants: a run's request streams and who each request belongs to. A study
 * lists tenants (workload.tenants), each a workload of its own (arrival
 * process, lengths, end) with an SLO class and a priority; a study without
 * them is one implicit tenant. The mix merges the open-loop tenants' streams
 * by arrival time, keeps closed-loop tenants apart (their next request comes
 * when one of theirs finishes), and stamps every request with its run-level
 * tenant and SLO class, so the engine and the metrics need not know where a
 * request came from. */
#ifndef SV_TENANTS_H
#define SV_TENANTS_H

#include "config/config.h"
#include "workload/workload.h"

G_BEGIN_DECLS

typedef struct SvTenantMix SvTenantMix;

/* Build the streams of @config. Without config->tenants there is one stream,
 * config->workload, fed by @trace (the loaded workload.trace, or NULL), and
 * its tenants are the trace's tenant column (names in first-seen order) or a
 * single "default". With config->tenants each tenant's trace is opened here
 * (sv_trace_load_for: streamed unless the workload needs its rows).
 * SLO classes: 0 is "default" (the study's slo:), i + 1 is
 * config->slo_classes[i]; a request takes its tenant's slo_class, else its
 * trace row's slo_class (by name), else 0. Tenant i > 0 draws from RNG
 * streams seeded with seed + i x 0x9E3779B97F4A7C15, tenant 0 (and the
 * implicit tenant) from the study's seed itself, so a study's numbers do not
 * change when it becomes a one-tenant list.
 * Errors: a trace that does not load, a trace slo_class no class is called,
 * more than 65,536 tenants in a trace. (transfer full) */
SvTenantMix *sv_tenant_mix_new(const SvConfig *config, const SvTrace *trace, GError **error);
void sv_tenant_mix_free(SvTenantMix *mix);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvTenantMix, sv_tenant_mix_free)

int sv_tenant_mix_num_tenants(const SvTenantMix *mix);
/* (transfer none) */
const char *const *sv_tenant_mix_tenant_names(const SvTenantMix *mix);
/* Streams: one per listed tenant, or the one implicit stream (whose
 * requests may belong to several trace tenants). */
int sv_tenant_mix_num_streams(const SvTenantMix *mix);
/* The stream that tenant @t's requests come from. */
int sv_tenant_mix_stream_of(const SvTenantMix *mix, int t);
/* Closed-loop concurrency of stream @s; 0 when its arrivals are open loop. */
int sv_tenant_mix_concurrency(const SvTenantMix *mix, int s);

/* The SLO class table, *@n_out entries, [0] = "default". (transfer none) */
const SvSloClass *sv_tenant_mix_classes(const SvTenantMix *mix, int *n_out);
/* Scheduling priority of @spec (from sv_tenant_mix_next_*): its tenant's
 * priority when the tenant sets one, else its class's. Higher runs first. */
int32_t sv_tenant_mix_priority(const SvTenantMix *mix, const SvRequestSpec *spec);

/* The next open-loop arrival over every open-loop tenant, in arrival order;
 * equal times go to the lower tenant index first, and a tenant's own
 * requests keep their order, so the merge is deterministic. FALSE once all
 * open-loop tenants are exhausted. spec->tenant and ->slo_class are
 * run-level indices. */
gboolean sv_tenant_mix_next_open(SvTenantMix *mix, SvRequestSpec *out);
/* The next request of closed-loop stream @s at @now_ns (see
 * sv_workload_next_at). FALSE once that stream is exhausted. */
gboolean sv_tenant_mix_next_closed(SvTenantMix *mix, int s, SvTimeNs now_ns, SvRequestSpec *out);

/* Why a stream ended early, or NULL (sv_workload_error of each stream, the
 * first that has one). (transfer none) */
const GError *sv_tenant_mix_error(const SvTenantMix *mix);

G_END_DECLS

#endif
