/* The simulation engine: one SvEngine owns all state of one simulation (clock,
 * event heap, event pool, components, RNG seed), so a search can run many
 * simulations in one process and threads never share state. Components
 * implement a small vtable and receive the events they scheduled. */
#ifndef SV_ENGINE_H
#define SV_ENGINE_H

#include "core/common.h"
#include "core/event-inl.h"

G_BEGIN_DECLS

typedef struct SvEngine SvEngine;

/* A handle to cancel a scheduled event: slot and generation. */
typedef struct {
    uint32_t slot;
    uint32_t generation;
} SvEventHandle;

/* A simulation component. @self is the pointer given at registration. */
typedef struct {
    const char *name;
    void (*init)(SvEngine *engine, void *self);                         /* may schedule */
    void (*handle)(SvEngine *engine, void *self, const SvEvent *event); /* one event */
    void (*finish)(SvEngine *engine, void *self);                       /* after the run */
} SvComponentVtable;

/* (transfer full) @seed seeds every component's RNG stream. */
SvEngine *sv_engine_new(uint64_t seed);
void sv_engine_free(SvEngine *engine);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvEngine, sv_engine_free)

/* Register a component; returns its id (for sv_engine_schedule). @vtable and
 * @self must outlive the engine. At most 65535 components. */
uint16_t sv_engine_add_component(SvEngine *engine, const SvComponentVtable *vtable, void *self);

/* Schedule an event for @component at absolute time @t_ns (>= now). */
SvEventHandle sv_engine_schedule(SvEngine *engine, SvTimeNs t_ns, uint16_t component, uint16_t kind,
                                 int32_t arg, void *data);
/* Cancel a scheduled event that has not fired; a stale handle is a no-op
 * (returns FALSE). Cancellation is lazy: the entry is skipped at pop. */
gboolean sv_engine_cancel(SvEngine *engine, SvEventHandle handle);

/* Call every component's init, then process events in (time, seq) order
 * until none is left or the next is after @until_ns; then call finish.
 * Asserts that time never goes backwards. */
void sv_engine_run(SvEngine *engine, SvTimeNs until_ns);
/* Ask the running loop to stop after the current event. */
void sv_engine_stop(SvEngine *engine);

SvTimeNs sv_engine_now(const SvEngine *engine);
uint64_t sv_engine_seed(const SvEngine *engine);

/* Counters: every scheduled event ends processed or cancelled. */
typedef struct {
    uint64_t scheduled;
    uint64_t processed;
    uint64_t cancelled;
    uint64_t pending;  /* still in the heap (not yet popped) */
    uint64_t max_heap; /* high-water mark of the heap */
} SvEngineStats;
void sv_engine_stats(const SvEngine *engine, SvEngineStats *out);

G_END_DECLS

#endif /* SV_ENGINE_H */
