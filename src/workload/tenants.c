/* The tenant mix: one generator per tenant, merged by arrival time for the
 * open-loop tenants, and the tables that give every request its run-level
 * tenant, SLO class and priority. Merging looks at every open-loop tenant's
 * next arrival (O(tenants) per request): studies list a handful of tenants,
 * and a heap would only pay off past a few dozen. */
#include "workload/tenants.h"

#include <string.h>

/* Above this a trace's tenant column is more a user id than a tenant: the
 * request record keeps the tenant in 16 bits. */
#define MAX_TRACE_TENANTS 65536

typedef struct {
    SvWorkload *gen;      /* (owned) */
    const SvTrace *trace; /* its trace or NULL (owned by the mix or the caller) */
    int32_t *class_map;   /* trace slo_class index -> run class; NULL: not used */
    int concurrency;      /* closed loop: requests in flight; 0 = open loop */
    SvRequestSpec head;   /* open loop: the next arrival, when has_head */
    gboolean has_head;    /* FALSE once exhausted */
    int slo_class;        /* run class of every request, -1 = the trace's or default */
    int priority;         /* when has_priority, overrides the class priority */
    gboolean has_priority;
} Stream;

struct SvTenantMix {
    Stream *streams; /* one per tenant, or the one implicit stream */
    int n_streams;
    /* The implicit stream names its tenants from the trace's tenant column. */
    gboolean tenant_from_trace;
    char **tenant_names; /* n_tenants, owned, NULL-terminated */
    int n_tenants;
    SvSloClass *classes; /* n_classes; names point into the config */
    int n_classes;
    GPtrArray *traces; /* SvTrace* the mix loaded (owned) */
};

static void mix_free_streams(SvTenantMix *mix)
{
    for (int i = 0; i < mix->n_streams; i++) {
        sv_workload_free(mix->streams[i].gen);
        g_free(mix->streams[i].class_map);
    }
    g_free(mix->streams);
}

void sv_tenant_mix_free(SvTenantMix *mix)
{
    if (mix == NULL)
        return;
    /* Generators hold their traces: free them first. */
    mix_free_streams(mix);
    g_strfreev(mix->tenant_names);
    g_free(mix->classes);
    if (mix->traces != NULL)
        g_ptr_array_unref(mix->traces);
    g_free(mix);
}

/* Whether @w's requests carry their trace row's attributes (see
 * sv_workload_next: a replay, lengths from the trace's rows, or both
 * lengths sampled from one row). */
static gboolean takes_row_attrs(const SvWorkloadConfig *w)
{
    return w->process == SV_ARRIVAL_TRACE || !w->has_lengths ||
           (w->input.dist == SV_LEN_TRACE && w->output.dist == SV_LEN_TRACE);
}

/* Map @trace's slo_class names to run classes. */
static gboolean map_trace_classes(SvTenantMix *mix, Stream *st, GError **error)
{
    int32_t n = sv_trace_num_slo_classes(st->trace);
    if (n == 0)
        return TRUE;
    st->class_map = g_new(int32_t, n);
    for (int32_t i = 0; i < n; i++) {
        const char *name = sv_trace_slo_class_name(st->trace, i);
        int found = -1;
        for (int c = 0; c < mix->n_classes && found < 0; c++)
            if (strcmp(mix->classes[c].name, name) == 0)
                found = c;
        if (found < 0) {
            g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                        "%s: slo_class '%s' is not a class of the study (define it under "
                        "slo_classes, or use 'default' for the study's slo:)",
                        sv_trace_path(st->trace), name);
            return FALSE;
        }
        st->class_map[i] = found;
    }
    return TRUE;
}

static gboolean stream_init(SvTenantMix *mix, Stream *st, const SvWorkloadConfig *w,
                            const SvTrace *trace, uint64_t seed, uint32_t key_space, GError **error)
{
    st->trace = trace;
    st->gen = sv_workload_new(w, trace, seed, error);
    if (st->gen == NULL)
        return FALSE;
    /* Each tenant names its synthetic prompts in its own key space, so two
     * tenants' "prompt 1" never hit each other's prefix cache. */
    sv_workload_set_key_space(st->gen, key_space);
    st->concurrency = sv_workload_concurrency(st->gen);
    if (trace != NULL && st->slo_class < 0 && takes_row_attrs(w) &&
        !map_trace_classes(mix, st, error))
        return FALSE;
    if (st->concurrency == 0)
        st->has_head = sv_workload_next(st->gen, &st->head);
    return TRUE;
}

SvTenantMix *sv_tenant_mix_new(const SvConfig *config, const SvTrace *trace, GError **error)
{
    g_return_val_if_fail(config != NULL, NULL);
    g_autoptr(SvTenantMix) mix = g_new0(SvTenantMix, 1);
    mix->traces = g_ptr_array_new_with_free_func((GDestroyNotify)sv_trace_free);

    int named = config->slo_classes != NULL ? (int)config->slo_classes->len : 0;
    mix->n_classes = 1 + named;
    mix->classes = g_new0(SvSloClass, mix->n_classes);
    mix->classes[0] = (SvSloClass){.name = (char *)"default",
                                   .ttft_s = config->slo.ttft_s,
                                   .tpot_s = config->slo.tpot_s,
                                   .e2e_s = config->slo.e2e_s};
    for (int i = 0; i < named; i++)
        mix->classes[i + 1] = *(const SvSloClass *)g_ptr_array_index(config->slo_classes, i);

    if (config->tenants == NULL || config->tenants->len == 0) {
        mix->n_streams = 1;
        mix->streams = g_new0(Stream, 1);
        mix->streams[0].slo_class = -1;
        if (!stream_init(mix, &mix->streams[0], &config->workload, trace, config->seed, 0, error))
            return NULL;
        int32_t n = trace != NULL ? sv_trace_num_tenants(trace) : 0;
        if (n > MAX_TRACE_TENANTS) {
            g_set_error(error, SV_TRACE_ERROR, SV_ERROR_INVALID,
                        "%s: %d distinct tenants; per-tenant metrics stop at %d",
                        sv_trace_path(trace), n, MAX_TRACE_TENANTS);
            return NULL;
        }
        mix->tenant_from_trace = n > 0 && takes_row_attrs(&config->workload);
        if (mix->tenant_from_trace) {
            mix->n_tenants = n;
            mix->tenant_names = g_new0(char *, n + 1);
            for (int32_t i = 0; i < n; i++)
                mix->tenant_names[i] = g_strdup(sv_trace_tenant_name(trace, i));
        } else {
            mix->n_tenants = 1;
            mix->tenant_names = g_new0(char *, 2);
            mix->tenant_names[0] = g_strdup("default");
        }
        return g_steal_pointer(&mix);
    }

    int n = (int)config->tenants->len;
    mix->n_streams = n;
    mix->streams = g_new0(Stream, n);
    mix->n_tenants = n;
    mix->tenant_names = g_new0(char *, n + 1);
    for (int i = 0; i < n; i++) {
        const SvTenantConfig *t = g_ptr_array_index(config->tenants, i);
        Stream *st = &mix->streams[i];
        mix->tenant_names[i] = g_strdup(t->name);
        st->slo_class = t->slo_class;
        st->priority = t->priority;
        st->has_priority = t->has_priority;
        const SvTrace *tt = NULL;
        if (t->workload.trace_path != NULL) {
            SvTrace *loaded = sv_trace_load_for(t->workload.trace_path, &t->workload,
                                                config->engine.enable_prefix_caching, error);
            if (loaded == NULL)
                return NULL;
            g_ptr_array_add(mix->traces, loaded);
            tt = loaded;
        }
        uint64_t seed = config->seed + (uint64_t)i * UINT64_C(0x9E3779B97F4A7C15);
        if (!stream_init(mix, st, &t->workload, tt, seed, (uint32_t)i, error))
            return NULL;
    }
    return g_steal_pointer(&mix);
}

int sv_tenant_mix_num_tenants(const SvTenantMix *mix)
{
    return mix->n_tenants;
}

const char *const *sv_tenant_mix_tenant_names(const SvTenantMix *mix)
{
    return (const char *const *)mix->tenant_names;
}

int sv_tenant_mix_num_streams(const SvTenantMix *mix)
{
    return mix->n_streams;
}

int sv_tenant_mix_stream_of(const SvTenantMix *mix, int t)
{
    g_return_val_if_fail(t >= 0 && t < mix->n_tenants, 0);
    return mix->tenant_from_trace ? 0 : t;
}

int sv_tenant_mix_concurrency(const SvTenantMix *mix, int s)
{
    g_return_val_if_fail(s >= 0 && s < mix->n_streams, 0);
    return mix->streams[s].concurrency;
}

const SvSloClass *sv_tenant_mix_classes(const SvTenantMix *mix, int *n_out)
{
    *n_out = mix->n_classes;
    return mix->classes;
}

int32_t sv_tenant_mix_priority(const SvTenantMix *mix, const SvRequestSpec *spec)
{
    const Stream *st = &mix->streams[mix->tenant_from_trace ? 0 : spec->tenant];
    if (st->has_priority)
        return st->priority;
    return mix->classes[spec->slo_class].priority;
}

/* Turn stream @s's @out into run-level tenant and class indices. */
static void stamp(const SvTenantMix *mix, int s, SvRequestSpec *out)
{
    const Stream *st = &mix->streams[s];
    gboolean from_row = out->trace_row >= 0;
    int cls = 0;
    if (st->slo_class >= 0)
        cls = st->slo_class;
    else if (from_row && st->class_map != NULL)
        cls = st->class_map[out->slo_class];
    out->slo_class = cls;
    if (mix->tenant_from_trace) {
        SV_ASSERT(from_row, "request without a trace row in a trace-tenant stream");
    } else {
        out->tenant = s;
    }
}

gboolean sv_tenant_mix_next_open(SvTenantMix *mix, SvRequestSpec *out)
{
    int best = -1;
    for (int i = 0; i < mix->n_streams; i++) {
        const Stream *st = &mix->streams[i];
        if (st->has_head && (best < 0 || st->head.arrival_ns < mix->streams[best].head.arrival_ns))
            best = i;
    }
    if (best < 0)
        return FALSE;
    Stream *st = &mix->streams[best];
    *out = st->head;
    st->has_head = sv_workload_next(st->gen, &st->head);
    stamp(mix, best, out);
    return TRUE;
}

const GError *sv_tenant_mix_error(const SvTenantMix *mix)
{
    for (int i = 0; i < mix->n_streams; i++) {
        const GError *e = sv_workload_error(mix->streams[i].gen);
        if (e != NULL)
            return e;
    }
    return NULL;
}

gboolean sv_tenant_mix_next_closed(SvTenantMix *mix, int s, SvTimeNs now_ns, SvRequestSpec *out)
{
    g_return_val_if_fail(s >= 0 && s < mix->n_streams && mix->streams[s].concurrency > 0, FALSE);
    if (!sv_workload_next_at(mix->streams[s].gen, now_ns, out))
        return FALSE;
    stamp(mix, s, out);
    return TRUE;
}
