/* Event core: a binary min-heap of 16-byte keys over an engine-owned pool of
 * event records with a free list. Scheduling and popping allocate nothing once
 * the pool and heap have grown to the run's high-water mark. */
#include "core/engine.h"

#include <string.h>

typedef struct {
    const SvComponentVtable *vtable;
    void *self;
} SvComponent;

struct SvEngine {
    SvTimeNs now_ns;      /* time of the event being processed */
    uint64_t seed;        /* run seed */
    uint64_t next_seq;    /* sequence counter (40 bits used) */
    SvEventKey *heap;     /* min-heap by (t_ns, seq_slot) */
    uint32_t heap_len;    /* entries in use */
    uint32_t heap_cap;    /* entries allocated */
    SvEvent *pool;        /* event records, indexed by slot */
    uint32_t *free_slots; /* stack of free slots */
    uint32_t free_len;
    uint32_t pool_cap;
    GArray *components;         /* SvComponent */
    gboolean stop;              /* set by sv_engine_stop */
    uint64_t cancelled_in_heap; /* cancelled entries not yet popped */
    SvEngineStats stats;
};

SvEngine *sv_engine_new(uint64_t seed)
{
    SvEngine *e = g_new0(SvEngine, 1);
    e->seed = seed;
    e->components = g_array_new(FALSE, TRUE, sizeof(SvComponent));
    return e;
}

void sv_engine_free(SvEngine *engine)
{
    if (engine == NULL)
        return;
    g_free(engine->heap);
    g_free(engine->pool);
    g_free(engine->free_slots);
    g_array_unref(engine->components);
    g_free(engine);
}

uint16_t sv_engine_add_component(SvEngine *engine, const SvComponentVtable *vtable, void *self)
{
    g_return_val_if_fail(engine != NULL && vtable != NULL, 0);
    SV_ASSERT(engine->components->len < 65535, "too many components (%u)", engine->components->len);
    SvComponent c = {vtable, self};
    g_array_append_val(engine->components, c);
    return (uint16_t)(engine->components->len - 1);
}

static uint32_t slot_alloc(SvEngine *e)
{
    if (e->free_len == 0) {
        uint32_t old = e->pool_cap;
        uint32_t cap = old ? old * 2 : 64;
        SV_ASSERT(cap <= SV_EVENT_MAX_SLOTS, "more than %u events pending", SV_EVENT_MAX_SLOTS);
        e->pool = g_renew(SvEvent, e->pool, cap);
        memset(e->pool + old, 0, (cap - old) * sizeof(SvEvent));
        e->free_slots = g_renew(uint32_t, e->free_slots, cap);
        /* Push new slots so the lowest is handed out first. */
        for (uint32_t s = cap; s > old; s--)
            e->free_slots[e->free_len++] = s - 1;
        e->pool_cap = cap;
    }
    return e->free_slots[--e->free_len];
}

static void slot_free(SvEngine *e, uint32_t slot)
{
    SvEvent *ev = &e->pool[slot];
    ev->live = 0;
    ev->generation++;
    e->free_slots[e->free_len++] = slot;
}

static void heap_push(SvEngine *e, SvEventKey key)
{
    if (e->heap_len == e->heap_cap) {
        e->heap_cap = e->heap_cap ? e->heap_cap * 2 : 64;
        e->heap = g_renew(SvEventKey, e->heap, e->heap_cap);
    }
    uint32_t i = e->heap_len++;
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!sv_event_key_less(&key, &e->heap[parent]))
            break;
        e->heap[i] = e->heap[parent];
        i = parent;
    }
    e->heap[i] = key;
    if (e->heap_len > e->stats.max_heap)
        e->stats.max_heap = e->heap_len;
}

static SvEventKey heap_pop(SvEngine *e)
{
    SvEventKey top = e->heap[0];
    SvEventKey last = e->heap[--e->heap_len];
    uint32_t n = e->heap_len, i = 0;
    for (;;) {
        uint32_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && sv_event_key_less(&e->heap[child + 1], &e->heap[child]))
            child++;
        if (!sv_event_key_less(&e->heap[child], &last))
            break;
        e->heap[i] = e->heap[child];
        i = child;
    }
    if (n > 0)
        e->heap[i] = last;
    return top;
}

SvEventHandle sv_engine_schedule(SvEngine *engine, SvTimeNs t_ns, uint16_t component, uint16_t kind,
                                 int32_t arg, void *data)
{
    SV_ASSERT(t_ns >= engine->now_ns,
              "event scheduled in the past: t=%" G_GINT64_FORMAT " ns < now=%" G_GINT64_FORMAT
              " ns",
              t_ns, engine->now_ns);
    SV_ASSERT(component < engine->components->len, "unknown component %u", component);
    uint32_t slot = slot_alloc(engine);
    SvEvent *ev = &engine->pool[slot];
    ev->component = component;
    ev->kind = kind;
    ev->arg = arg;
    ev->data = data;
    ev->cancelled = 0;
    ev->live = 1;
    SV_ASSERT(engine->next_seq < (1ULL << 40), "sequence counter overflow");
    SvEventKey key = {t_ns, (engine->next_seq++ << SV_EVENT_SLOT_BITS) | slot};
    heap_push(engine, key);
    engine->stats.scheduled++;
    return (SvEventHandle){slot, ev->generation};
}

gboolean sv_engine_cancel(SvEngine *engine, SvEventHandle handle)
{
    if (handle.slot >= engine->pool_cap)
        return FALSE;
    SvEvent *ev = &engine->pool[handle.slot];
    if (!ev->live || ev->cancelled || ev->generation != handle.generation)
        return FALSE;
    ev->cancelled = 1;
    engine->stats.cancelled++;
    engine->cancelled_in_heap++;
    return TRUE;
}

void sv_engine_stop(SvEngine *engine)
{
    engine->stop = TRUE;
}

SvTimeNs sv_engine_now(const SvEngine *engine)
{
    return engine->now_ns;
}

uint64_t sv_engine_seed(const SvEngine *engine)
{
    return engine->seed;
}

void sv_engine_run(SvEngine *engine, SvTimeNs until_ns)
{
    SvComponent *comps = (SvComponent *)engine->components->data;
    guint ncomp = engine->components->len;
    for (guint i = 0; i < ncomp; i++)
        if (comps[i].vtable->init)
            comps[i].vtable->init(engine, comps[i].self);
    engine->stop = FALSE;
    while (engine->heap_len > 0 && !engine->stop) {
        if (engine->heap[0].t_ns > until_ns)
            break;
        SvEventKey key = heap_pop(engine);
        uint32_t slot = (uint32_t)(key.seq_slot & SV_EVENT_SLOT_MASK);
        SvEvent ev = engine->pool[slot];
        slot_free(engine, slot);
        if (ev.cancelled) {
            engine->cancelled_in_heap--;
            continue;
        }
        SV_ASSERT(key.t_ns >= engine->now_ns,
                  "time went backwards: %" G_GINT64_FORMAT " < %" G_GINT64_FORMAT, key.t_ns,
                  engine->now_ns);
        engine->now_ns = key.t_ns;
        engine->stats.processed++;
        /* Components may be added while running (rare); re-read the array. */
        comps = (SvComponent *)engine->components->data;
        comps[ev.component].vtable->handle(engine, comps[ev.component].self, &ev);
    }
    comps = (SvComponent *)engine->components->data;
    ncomp = engine->components->len;
    for (guint i = 0; i < ncomp; i++)
        if (comps[i].vtable->finish)
            comps[i].vtable->finish(engine, comps[i].self);
}

void sv_engine_stats(const SvEngine *engine, SvEngineStats *out)
{
    *out = engine->stats;
    out->pending = engine->heap_len - engine->cancelled_in_heap;
}
