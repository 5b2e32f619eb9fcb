/* The decode cohort of a replica (serve-private.h): its purely decoding
 * requests, kept lazily so that a step costs what its prefills and the few
 * members needing attention cost, not a pass over every running request.
 * Exactness rests on one fact: a member is in every step of its replica
 * (pp = 1), so its token fields after d steps are its fields at its last
 * attention plus d tokens, and its largest gap the larger of its own and
 * the largest gap of those d steps (a max, so it may be taken in any
 * order: see gaps). Its energy is the one sum kept every step, in a dense
 * per-cohort array (member_j), so that the additions are the plain path's,
 * in its order: replayed at attention it was a chain of dependent
 * additions, one per token, out of cache. Its context at step i is
 * (offset + i), so the batch shape's per-bucket sums and the blocks a step
 * needs (members whose context is a multiple of block_size) come from
 * counts by offset, without touching it.
 * With prefix caching a member's token fills a cache unit every block_size
 * steps or so; the plain path caches it at the end of that step, and so
 * does the cohort, for the member it attends then, in running order with
 * the members finishing there (emit_cohort in sim.c). Content only the
 * request itself names (a trace without hash ids) is only counted when
 * cached, so those members count their units at their next attention
 * instead (maybe_count).
 * Measured on bench/cluster-1024.yaml (4.3 M requests, 128 replicas): 24.5 s
 * of user CPU without the cohort, 13.0 s with it. */
#include "serve/serve-private.h"

#include <stdlib.h>
#include <string.h>

static inline SvCohort *cohort_of(SvReplica *rep)
{
    return &rep->cohort;
}

void sv__cohort_init(SvReplica *rep, gboolean enabled)
{
    SvCohort *c = cohort_of(rep);
    memset(c, 0, sizeof *c);
    c->enabled = enabled;
    if (!enabled)
        return;
    /* A member needs attention when its context changes bucket, at its last
     * token, and at least every max_ahead steps, so that the rings still
     * hold every step since its last attention. */
    int32_t len = 512;
    c->ring_mask = len - 1;
    c->max_ahead = len / 2;
    c->block_mask = (int32_t)rep->kv.block_size - 1;
    c->residue = g_new0(int32_t, rep->kv.block_size);
    c->counted = g_new0(int32_t, rep->kv.block_size);
    c->gaps = g_new0(SvCohortGap, len);
}

void sv__cohort_clear(SvReplica *rep)
{
    SvCohort *c = cohort_of(rep);
    g_free(c->due);
    g_free(c->residue);
    g_free(c->counted);
    g_free(c->gaps);
    g_free(c->member_j);
    g_free(c->free_slots);
    g_free(c->ending);
    memset(c, 0, sizeof *c);
}

/* ---- the others list (running non-members, running order) ------------- */

static void others_push(SvCohort *c, SvRequest *r)
{
    r->cnext = NULL;
    r->cprev = c->others.tail;
    if (c->others.tail != NULL)
        c->others.tail->cnext = r;
    else
        c->others.head = r;
    c->others.tail = r;
    c->others.len++;
    r->cohort_role = SV_COHORT_OTHER;
}

static void others_remove(SvCohort *c, SvRequest *r)
{
    if (r->cprev != NULL)
        r->cprev->cnext = r->cnext;
    else
        c->others.head = r->cnext;
    if (r->cnext != NULL)
        r->cnext->cprev = r->cprev;
    else
        c->others.tail = r->cprev;
    r->cprev = r->cnext = NULL;
    c->others.len--;
    r->cohort_role = SV_COHORT_NONE;
}

void sv__cohort_admitted(SvReplica *rep, SvRequest *r)
{
    SvCohort *c = cohort_of(rep);
    r->admit_seq = c->admit_seq++;
    if (c->enabled && !c->rebuild)
        others_push(c, r);
}

void sv__cohort_forget(SvReplica *rep, SvRequest *r)
{
    if (r->cohort_role == SV_COHORT_OTHER)
        others_remove(cohort_of(rep), r);
    SV_ASSERT(r->cohort_role == SV_COHORT_NONE,
              "request %" G_GINT64_FORMAT " leaves its replica as a cohort member", r->id);
}

/* ---- members ----------------------------------------------------------- */

/* ---- gaps -------------------------------------------------------------
 * A member's largest inter-token gap needs the largest gap of the steps
 * since its last attention. The steps that are longer than every later
 * step form a decreasing sequence (a monotonic queue, a handful of entries
 * for any realistic run of step times), and the first of them at or after
 * a step s has the largest gap since s. Replaying a ring of every step's
 * gap instead cost a pass over up to max_ahead entries per attention, out
 * of cache (9 % of bench/cluster-1024.yaml). */

/* Note the gap of step @iter, the latest. */
static void gaps_push(SvCohort *c, int64_t iter, SvTimeNs gap)
{
    int32_t mask = c->ring_mask;
    while (c->gaps_len > 0 && c->gaps[(c->gaps_head + c->gaps_len - 1) & mask].gap_ns <= gap)
        c->gaps_len--;
    /* No member is more than ring_mask steps behind (file_due), so older
     * steps are never asked for, and the ring never overflows. */
    while (c->gaps_len > 0 && c->gaps[c->gaps_head].step < iter - mask) {
        c->gaps_head = (c->gaps_head + 1) & mask;
        c->gaps_len--;
    }
    c->gaps[(c->gaps_head + c->gaps_len) & mask] = (SvCohortGap){iter, gap};
    c->gaps_len++;
    c->last_gap_ns = gap;
}

/* The largest gap of the noted steps at or after step @from; INT64_MIN
 * when there are none. */
static SvTimeNs gaps_max_since(const SvCohort *c, int64_t from)
{
    for (int32_t i = 0; i < c->gaps_len; i++) {
        const SvCohortGap *g = &c->gaps[(c->gaps_head + i) & c->ring_mask];
        if (g->step >= from)
            return g->gap_ns;
    }
    return INT64_MIN;
}

/* Replay the steps [r->cohort_sync, @iter) on member @r: one token each,
 * and the largest of their gaps (with step @iter's too when it has ended
 * already, in sv__cohort_leave, which takes that gap anyway). Its last
 * token is then the end of step iter - 1, and it holds the blocks of its
 * context (a member's blocks are counted by residue, never one by one).
 * Its energy is kept in member_j. */
static void catch_up(SvReplica *rep, SvRequest *r, int64_t iter)
{
    SvCohort *c = cohort_of(rep);
    int64_t d = iter - r->cohort_sync;
    if (d == 0)
        return;
    SV_ASSERT(d > 0 && d <= c->ring_mask,
              "cohort member %" G_GINT64_FORMAT " %" G_GINT64_FORMAT " steps behind", r->id, d);
    SvTimeNs gap = gaps_max_since(c, r->cohort_sync);
    if (gap > r->max_itl_ns)
        r->max_itl_ns = gap;
    r->num_computed += (int32_t)d;
    r->generated += (int32_t)d;
    r->blocks = (int32_t)sv_kv_blocks_for(&rep->kv, r->num_computed);
    r->last_token_ns = c->last_end_ns;
    r->cohort_sync = iter;
    if (r->cohort_counted) {
        /* The units the steps filled, as the plain path cached them at
         * their ends (counts only: the break points were kept then). */
        sv_kv_pool_own_count(&rep->kv, &r->kv, r->num_computed);
        r->kv_cache_at = sv_kv_seq_cache_at(&r->kv);
    }
}

static void due_push(SvCohort *c, int64_t at, SvRequest *r)
{
    if (c->due_len == c->due_cap) {
        c->due_cap = c->due_cap ? 2 * c->due_cap : 64;
        c->due = g_renew(SvCohortDue, c->due, c->due_cap);
    }
    int32_t i = c->due_len++;
    while (i > 0) {
        int32_t parent = (i - 1) / 2;
        if (c->due[parent].at <= at)
            break;
        c->due[i] = c->due[parent];
        i = parent;
    }
    c->due[i] = (SvCohortDue){at, r};
}

/* Take the heap's top (the earliest due member). */
static SvRequest *due_pop(SvCohort *c)
{
    SvRequest *top = c->due[0].r;
    SvCohortDue last = c->due[--c->due_len];
    int32_t i = 0, n = c->due_len;
    for (;;) {
        int32_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && c->due[child + 1].at < c->due[child].at)
            child++;
        if (last.at <= c->due[child].at)
            break;
        c->due[i] = c->due[child];
        i = child;
    }
    if (n > 0)
        c->due[i] = last;
    return top;
}

/* The first context (tokens) past @ctx in another bucket, or INT64_MAX. */
static int64_t next_bucket_edge(int64_t ctx)
{
    if (ctx < 64)
        return 64;
    if (sv_batch_ctx_bucket(ctx) == SV_BATCH_CTX_BUCKETS - 1)
        return INT64_MAX;
    int e = 63 - __builtin_clzll((unsigned long long)ctx);
    return INT64_C(1) << (e + 1);
}

/* File member @r, current at step @iter and in it, under the first later
 * step that needs it: its context enters a new bucket, it emits its last
 * token, its token fills a prefix-cache unit, or the rings would forget its
 * last attention (max_ahead). */
static void file_due(SvCohort *c, SvRequest *r, int64_t iter)
{
    int64_t ctx = r->num_computed;
    int64_t at = iter + c->max_ahead;
    /* Its last token comes out of step iter + (output - generated - 1). */
    at = MIN(at, iter + (r->output_tokens - r->generated - 1));
    /* Step i computes token ctx + (i - iter): the unit fills at the step
     * that computes token kv_cache_at - 1. */
    if (r->kv_cache_at != INT32_MAX && !r->cohort_counted)
        at = MIN(at, iter + ((int64_t)r->kv_cache_at - 1 - ctx));
    int64_t edge = next_bucket_edge(ctx);
    if (edge != INT64_MAX)
        at = MIN(at, iter + (edge - ctx));
    SV_ASSERT(at > iter, "cohort member %" G_GINT64_FORMAT " due again at once", r->id);
    due_push(c, at, r);
}

/* Note @r among the members with work at the end of this step. */
static void ending_push(SvCohort *c, SvRequest *r)
{
    if (c->num_ending == c->ending_cap) {
        c->ending_cap = c->ending_cap ? 2 * c->ending_cap : 16;
        c->ending = g_renew(SvRequest *, c->ending, c->ending_cap);
    }
    c->ending[c->num_ending++] = r;
}

/* Member @r needs attention at step @iter (being formed): bring it up to
 * date, move it to its context's bucket, and note it as ending in this
 * step (its last token, or a cache unit its token fills: it is filed again
 * once that unit is cached) or file it under its next attention. */
static void attend(SvReplica *rep, SvRequest *r, int64_t iter)
{
    SvCohort *c = cohort_of(rep);
    catch_up(rep, r, iter);
    int b = sv_batch_ctx_bucket(r->num_computed);
    if (b != r->cohort_bucket) {
        int64_t off = (int64_t)r->num_computed - iter;
        c->count[r->cohort_bucket]--;
        c->offset_sum[r->cohort_bucket] -= off;
        c->count[b]++;
        c->offset_sum[b] += off;
        r->cohort_bucket = (int8_t)b;
    }
    /* The plain path caches at the end of a step whatever units the step
     * filled: all of them at once for a request that joins with a backlog
     * (its first step on a decode replica after a hand-over). */
    if (sv__cohort_ending_finishes(r) ||
        (!r->cohort_counted && r->num_computed + 1 >= r->kv_cache_at))
        ending_push(c, r);
    else
        file_due(c, r, iter);
}

/* Member @r, current at step @iter, with its units cached through its
 * context: count its later units lazily if caching them can only count
 * them (its own content, with no run of it left in the cache to take
 * back). Most requests' content is their own (a trace without hash ids),
 * and attention every block_size steps to count a unit was most of what
 * prefix caching added to a step. */
static void maybe_count(SvReplica *rep, SvRequest *r, int64_t iter)
{
    SvCohort *c = cohort_of(rep);
    if (rep->kv.cache == NULL || r->cohort_counted || r->num_computed + 1 >= r->kv_cache_at ||
        !sv_kv_seq_own_settled(&rep->kv, &r->kv))
        return;
    r->cohort_counted = TRUE;
    c->counted[((int64_t)r->num_computed - iter) & c->block_mask]++;
}

/* Give new member @r an entry in member_j, holding its energy so far. */
static void slot_take(SvCohort *c, SvRequest *r)
{
    int32_t slot;
    if (c->num_free > 0) {
        slot = c->free_slots[--c->num_free];
    } else {
        if (c->slots_used == c->slots_cap) {
            c->slots_cap = c->slots_cap ? 2 * c->slots_cap : 64;
            c->member_j = g_renew(double, c->member_j, c->slots_cap);
            c->free_slots = g_renew(int32_t, c->free_slots, c->slots_cap);
        }
        slot = c->slots_used++;
    }
    c->member_j[slot] = r->energy_j;
    r->cohort_slot = slot;
}

/* Member @r leaves: its energy goes back to the request. */
static void slot_give(SvCohort *c, SvRequest *r)
{
    r->energy_j = c->member_j[r->cohort_slot];
    c->free_slots[c->num_free++] = r->cohort_slot;
}

/* Make running decode @r a member from step @iter on. Its context at step
 * i is (num_computed - iter) + i: the offset fixes its bucket sums and,
 * modulo block_size, the steps at which it needs a new block. */
static void join(SvReplica *rep, SvRequest *r, int64_t iter)
{
    SvCohort *c = cohort_of(rep);
    others_remove(c, r);
    r->cohort_role = SV_COHORT_MEMBER;
    r->cohort_sync = iter;
    slot_take(c, r);
    int64_t off = (int64_t)r->num_computed - iter;
    int b = sv_batch_ctx_bucket(r->num_computed);
    r->cohort_bucket = (int8_t)b;
    c->count[b]++;
    c->offset_sum[b] += off;
    c->residue[off & c->block_mask]++;
    c->size++;
    r->cohort_counted = FALSE;
    maybe_count(rep, r, iter);
    attend(rep, r, iter);
}

/* A running request the plain first pass would schedule as a decode. */
static inline gboolean is_decode(const SvRequest *r)
{
    return r->state == SV_RS_RUNNING && r->scheduled == 0 && r->generated > 0 &&
           sv_request_known_tokens(r) - r->num_computed == 1;
}

int32_t sv__cohort_schedule(SvReplica *rep, SvTimeNs now_ns)
{
    SvCohort *c = cohort_of(rep);
    int64_t iter = c->iter;
    if (c->rebuild) {
        for (SvRequest *r = rep->running.head; r != NULL; r = r->next)
            others_push(c, r);
        c->rebuild = FALSE;
    }
    /* Decodes that are not members yet: requests whose prompt (or swap-in)
     * step has just ended. One that did not take part in the last step (a
     * shared gap), or holds more blocks than its context needs (the
     * residue count), cannot join: the plain path takes the step. */
    for (SvRequest *r = c->others.head, *next; r != NULL; r = next) {
        next = r->cnext;
        if (!is_decode(r))
            continue;
        if (r->kv_flags != 0 || r->last_token_ns != c->last_end_ns ||
            r->blocks != sv_kv_blocks_for(&rep->kv, r->num_computed)) {
            sv__cohort_dissolve(rep);
            return -1;
        }
        join(rep, r, iter);
    }
    if (c->size == 0)
        return 0;
    /* The plain pass stops when the token budget runs out. */
    if (c->size > rep->budget) {
        sv__cohort_dissolve(rep);
        return -1;
    }
    /* A member whose context is a multiple of block_size needs a block in
     * this step: all of them get theirs or the plain pass takes the step
     * (it would preempt at the first that does not fit). */
    int64_t need = c->residue[(-iter) & c->block_mask];
    if (need > rep->kv.free_blocks) {
        sv__cohort_dissolve(rep);
        return -1;
    }
    if (need > 0)
        sv_kv_pool_alloc(&rep->kv, need, now_ns);
    /* The members due at this step; their lines are cold, so fetch those
     * near the heap's top (where they are) before attending them. */
    for (int32_t i = 0; i < MIN(c->due_len, 16); i++) {
        if (c->due[i].at == iter) {
            __builtin_prefetch(c->due[i].r, 1);
            __builtin_prefetch(&c->due[i].r->energy_j, 1);
        }
    }
    while (c->due_len > 0 && c->due[0].at == iter)
        attend(rep, due_pop(c), iter);
    /* The step's decode part, as sv_batch_add_decode would sum it. */
    SvBatchShape *s = &rep->shape;
    s->num_decode += c->size;
    for (int b = 0; b < SV_BATCH_CTX_BUCKETS; b++) {
        if (c->count[b] == 0)
            continue;
        int64_t sum = c->offset_sum[b] + (int64_t)c->count[b] * iter;
        s->decode_ctx_count[b] += c->count[b];
        s->decode_ctx_sum[b] += sum;
        s->decode_kv_tokens += sum;
    }
    c->scheduled = c->size;
    c->phase = SV_COHORT_FORMING;
    return c->size;
}

void sv__cohort_dissolve(SvReplica *rep)
{
    SvCohort *c = cohort_of(rep);
    if (!c->enabled || c->rebuild)
        return;
    int64_t iter = c->iter;
    gboolean in_step = c->phase != SV_COHORT_IDLE;
    if (in_step && c->scheduled > 0) {
        /* The members go first in the batch, as the plain first pass puts
         * them. */
        int32_t n = c->scheduled;
        if (rep->batch_len + n > rep->batch_cap) {
            rep->batch_cap = MAX(rep->batch_cap * 2, rep->batch_len + n);
            rep->batch = g_renew(SvRequest *, rep->batch, rep->batch_cap);
        }
        memmove(&rep->batch[n], &rep->batch[0], (size_t)rep->batch_len * sizeof(SvRequest *));
        rep->batch_len += n;
    }
    int32_t i = 0;
    for (SvRequest *r = rep->running.head; r != NULL; r = r->next) {
        if (r->cohort_role == SV_COHORT_MEMBER) {
            catch_up(rep, r, iter);
            r->cohort_counted = FALSE;
            /* A running step's energy is in member_j already (started). */
            slot_give(c, r);
            if (in_step) {
                /* With this step's block, allocated with the others'. */
                r->blocks = (int32_t)sv_kv_blocks_for(&rep->kv, (int64_t)r->num_computed + 1);
                r->scheduled = 1;
                rep->batch[i++] = r;
            }
        }
        r->cohort_role = SV_COHORT_NONE;
        r->cprev = r->cnext = NULL;
    }
    SV_ASSERT(!in_step || i == c->scheduled, "cohort of %d dissolved with %d members in the step",
              c->scheduled, i);
    c->due_len = 0;
    memset(c->count, 0, sizeof c->count);
    memset(c->offset_sum, 0, sizeof c->offset_sum);
    memset(c->residue, 0, (size_t)(c->block_mask + 1) * sizeof(int32_t));
    memset(c->counted, 0, (size_t)(c->block_mask + 1) * sizeof(int32_t));
    memset(&c->others, 0, sizeof c->others);
    c->slots_used = c->num_free = 0;
    c->size = 0;
    c->scheduled = 0;
    c->num_ending = 0;
    c->rebuild = TRUE;
}

void sv__cohort_started(SvReplica *rep, double token_j)
{
    SvCohort *c = cohort_of(rep);
    /* Every member is in the step: each gets its token's energy, as
     * attribute_energy adds it on the plain path (per token x 1). Slots
     * that members left get it too, unread: cheaper than skipping them.
     * Adding 0 (an unattributed step) would change nothing. */
    if (token_j != 0) {
        double *e = c->member_j;
        for (int32_t i = 0; i < c->slots_used; i++)
            e[i] += token_j;
    }
    c->phase = SV_COHORT_RUNNING;
}

static int by_admission(const void *a, const void *b)
{
    int64_t x = (*(SvRequest *const *)a)->admit_seq, y = (*(SvRequest *const *)b)->admit_seq;
    return (x > y) - (x < y);
}

SvTimeNs sv__cohort_ended(SvReplica *rep, SvTimeNs now_ns)
{
    SvCohort *c = cohort_of(rep);
    SvTimeNs gap = now_ns - c->last_end_ns;
    gaps_push(c, c->iter, gap);
    /* A counted member whose token fills a unit in this step: the plain
     * path's caching advances the KV-use integral here. */
    if (c->counted[(-c->iter - 1) & c->block_mask] > 0)
        sv_kv_pool_advance(&rep->kv, now_ns);
    if (c->num_ending > 1)
        qsort(c->ending, (size_t)c->num_ending, sizeof(SvRequest *), by_admission);
    return gap;
}

void sv__cohort_leave(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    SvCohort *c = cohort_of(rep);
    int64_t iter = c->iter;
    catch_up(rep, r, iter);
    int64_t off = (int64_t)r->num_computed - iter;
    c->count[r->cohort_bucket]--;
    c->offset_sum[r->cohort_bucket] -= off;
    c->residue[off & c->block_mask]--;
    if (r->cohort_counted) {
        c->counted[off & c->block_mask]--;
        r->cohort_counted = FALSE;
    }
    c->size--;
    /* The step that just ended: its energy (member_j has it), its gap, its
     * token. */
    slot_give(c, r);
    SvTimeNs gap = c->last_gap_ns;
    if (gap > r->max_itl_ns)
        r->max_itl_ns = gap;
    r->num_computed++;
    r->generated++;
    r->blocks = (int32_t)sv_kv_blocks_for(&rep->kv, r->num_computed);
    r->last_token_ns = now_ns;
    r->cohort_role = SV_COHORT_NONE;
    sv__replica_kv_computed(rep, r, now_ns);
}

void sv__cohort_cache_unit(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    SvCohort *c = cohort_of(rep);
    /* @r is current at step iter, whose token is not counted in it yet. */
    SV_ASSERT(r->cohort_sync == c->iter && r->num_computed + 1 >= r->kv_cache_at,
              "cohort member %" G_GINT64_FORMAT " caches a unit it has not filled", r->id);
    sv_kv_pool_cache_computed(&rep->kv, &r->kv, (int64_t)r->num_computed + 1, now_ns);
    r->kv_cache_at = sv_kv_seq_cache_at(&r->kv);
    maybe_count(rep, r, c->iter);
    file_due(c, r, c->iter);
}

void sv__cohort_next(SvReplica *rep, SvTimeNs now_ns)
{
    SvCohort *c = cohort_of(rep);
    c->last_end_ns = now_ns;
    c->iter++;
    c->phase = SV_COHORT_IDLE;
    c->scheduled = 0;
    c->num_ending = 0;
}
