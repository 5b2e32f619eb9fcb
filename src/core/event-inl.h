/* Hot-path value types of the event core, exposed so the heap can be inlined
 * (libuv heap-inl.h style). A heap entry is a 16-byte key: the event time and
 * a word holding the per-engine sequence number (upper 40 bits) and the slot
 * of the event record in the engine's pool (lower 24 bits). Comparing
 * (t_ns, seq_slot) therefore orders by time, then by scheduling order. */
#ifndef SV_EVENT_INL_H
#define SV_EVENT_INL_H

#include "core/common.h"

#define SV_EVENT_SLOT_BITS 24
#define SV_EVENT_SLOT_MASK ((1u << SV_EVENT_SLOT_BITS) - 1u)
#define SV_EVENT_MAX_SLOTS (1u << SV_EVENT_SLOT_BITS)

typedef struct {
    SvTimeNs t_ns;     /* when the event fires */
    uint64_t seq_slot; /* (seq << 24) | slot */
} SvEventKey;
_Static_assert(sizeof(SvEventKey) == 16, "event key must stay 16 bytes");

/* The record of a scheduled event, in the engine's pool. */
typedef struct {
    uint32_t generation; /* bumped when the slot is freed; handles carry it */
    uint16_t component;  /* index of the component that handles it */
    uint16_t kind;       /* component-defined event kind */
    int32_t arg;         /* component-defined small argument (e.g. replica index) */
    uint8_t cancelled;   /* lazily cancelled: skipped at pop */
    uint8_t live;        /* slot in use */
    uint16_t pad_;
    void *data; /* component-defined pointer (not owned) */
} SvEvent;
_Static_assert(sizeof(SvEvent) == 24, "event record must stay 24 bytes");

static inline int sv_event_key_less(const SvEventKey *a, const SvEventKey *b)
{
    return a->t_ns < b->t_ns || (a->t_ns == b->t_ns && a->seq_slot < b->seq_slot);
}

#endif /* SV_EVENT_INL_H */
