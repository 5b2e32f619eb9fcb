/* Synthetic sources of prefix sharing, layered over the base generator:
 *  - prefix: K system prompts of L tokens; each request (each session, with
 *    sessions) starts with one of them, chosen uniformly, with probability
 *    p. The prompt is put before the drawn input length, so a request's
 *    input is L + the drawn length.
 *  - sessions: the arrival process starts sessions; each session has `turns`
 *    requests, the next arriving an exponential gap of mean think_time_s
 *    after the previous one arrived, its prompt the previous prompt, the
 *    previous answer and new user tokens (the drawn input length); every
 *    turn draws its own output length. Open loop: a turn does not wait for
 *    the previous answer, so at overload a turn can arrive before the answer
 *    it extends is in the cache (it then misses that part).
 * Content is named for the prefix cache by keys (SvPrefixSource): the prompt
 * index for the system prompt, the session (or the single request) for
 * everything after it. Draws come from two streams of their own
 * (SV_STREAM_PREFIX_CHOICE, SV_STREAM_SESSIONS), so turning sharing on never
 * changes the arrival times or lengths the base generator draws. */
#include "core/rng.h"
#include "workload/workload-private.h"

#include <gsl/gsl_randist.h>

/* A session's next turn, waiting for its arrival time. */
typedef struct {
    SvTimeNs t_ns;          /* arrival */
    uint64_t seq;           /* tie-break: sessions in the order they were queued */
    uint64_t prefix_key;    /* system prompt, 0 = none */
    uint64_t context_key;   /* the session */
    int32_t prefix_tokens;  /* of the system prompt */
    int32_t context_tokens; /* previous prompt + previous answer */
    int32_t turns_left;     /* this turn included */
} Turn;

struct SvSharing {
    SvPrefixConfig prefix;
    SvSessionConfig sessions;
    gsl_rng *prefix_rng;   /* SV_STREAM_PREFIX_CHOICE */
    gsl_rng *session_rng;  /* SV_STREAM_SESSIONS */
    uint64_t key_space;    /* high bits of every key */
    uint64_t next_context; /* sessions (or single requests) so far */
    int64_t emitted;       /* requests handed out */
    GArray *turns;         /* Turn, binary min-heap on (t_ns, seq) */
    uint64_t seq;
    SvRequestSpec start; /* the next session start, when has_start */
    gboolean has_start;
    gboolean starts_done; /* the arrival process is exhausted */
};

#define KEY_BITS 48 /* keys within a stream; the key space sits above */

SvSharing *sv__sharing_new(const SvWorkloadConfig *config, uint64_t seed)
{
    if (config->prefix.num_prompts <= 0 && config->sessions.turns <= 0)
        return NULL;
    SvSharing *s = g_new0(SvSharing, 1);
    s->prefix = config->prefix;
    s->sessions = config->sessions;
    s->prefix_rng = sv_rng_new(seed, SV_STREAM_PREFIX_CHOICE);
    s->session_rng = sv_rng_new(seed, SV_STREAM_SESSIONS);
    s->turns = g_array_new(FALSE, FALSE, sizeof(Turn));
    return s;
}

void sv__sharing_free(SvSharing *s)
{
    if (s == NULL)
        return;
    gsl_rng_free(s->prefix_rng);
    gsl_rng_free(s->session_rng);
    g_array_unref(s->turns);
    g_free(s);
}

void sv__sharing_set_key_space(SvSharing *s, uint32_t key_space)
{
    s->key_space = (uint64_t)key_space << KEY_BITS;
}

static gboolean turn_before(const Turn *a, const Turn *b)
{
    return a->t_ns < b->t_ns || (a->t_ns == b->t_ns && a->seq < b->seq);
}

static void heap_push(GArray *h, const Turn *t)
{
    g_array_append_val(h, *t);
    Turn *a = (Turn *)(void *)h->data;
    for (guint i = h->len - 1; i > 0;) {
        guint parent = (i - 1) / 2;
        if (!turn_before(&a[i], &a[parent]))
            break;
        Turn tmp = a[i];
        a[i] = a[parent];
        a[parent] = tmp;
        i = parent;
    }
}

static Turn heap_pop(GArray *h)
{
    Turn *a = (Turn *)(void *)h->data;
    Turn top = a[0];
    a[0] = a[h->len - 1];
    g_array_set_size(h, h->len - 1);
    for (guint i = 0;;) {
        guint l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->len && turn_before(&a[l], &a[m]))
            m = l;
        if (r < h->len && turn_before(&a[r], &a[m]))
            m = r;
        if (m == i)
            break;
        Turn tmp = a[i];
        a[i] = a[m];
        a[m] = tmp;
        i = m;
    }
    return top;
}

/* Queue the turn after @spec (just emitted) if its session has one left. */
static void queue_next_turn(SvSharing *s, const SvRequestSpec *spec, int32_t turns_left)
{
    if (turns_left <= 1)
        return;
    int64_t context = (int64_t)spec->input_tokens + spec->output_tokens;
    if (context >= INT32_MAX / 2)
        return; /* no model reads contexts of a billion tokens; stop the session */
    double gap_s = gsl_ran_exponential(s->session_rng, s->sessions.think_time_s);
    Turn t = {
        .t_ns = spec->arrival_ns + sv_s_to_ns(gap_s),
        .seq = s->seq++,
        .prefix_key = spec->prefix.prefix_key,
        .context_key = spec->prefix.context_key,
        .prefix_tokens = spec->prefix.prefix_tokens,
        .context_tokens = (int32_t)context,
        .turns_left = turns_left - 1,
    };
    heap_push(s->turns, &t);
}

/* A new session (or single request) from the arrival process's @spec: pick
 * its system prompt and name its content. */
static void start_session(SvSharing *s, SvRequestSpec *spec)
{
    SvPrefixSource src = {.context_key = s->key_space | (++s->next_context)};
    if (s->prefix.num_prompts > 0) {
        /* Always draw both numbers, so p does not change which prompt the
         * next request would get. */
        double u = gsl_rng_uniform(s->prefix_rng);
        unsigned long k = gsl_rng_uniform_int(s->prefix_rng, (unsigned long)s->prefix.num_prompts);
        if (u < s->prefix.probability &&
            (int64_t)spec->input_tokens + s->prefix.tokens < INT32_MAX) {
            src.prefix_key = s->key_space | (k + 1);
            src.prefix_tokens = s->prefix.tokens;
            spec->input_tokens += s->prefix.tokens;
        }
    }
    /* The synthetic names replace a trace's hash ids: the prompt no longer
     * starts where the trace's ids start. */
    spec->prefix = src;
}

gboolean sv__sharing_next(SvSharing *s, SvWorkload *w, SvRequestSpec *out)
{
    int64_t limit = sv__workload_num_requests(w);
    if (limit > 0 && s->emitted >= limit)
        return FALSE;
    if (!s->has_start && !s->starts_done) {
        s->has_start = sv__workload_next_base(w, &s->start);
        s->starts_done = !s->has_start;
    }
    const Turn *next = s->turns->len > 0 ? &g_array_index(s->turns, Turn, 0) : NULL;
    if (next != NULL && (!s->has_start || next->t_ns <= s->start.arrival_ns)) {
        if (next->t_ns >= sv__workload_duration_ns(w))
            return FALSE; /* every turn and start left comes later still */
        Turn t = heap_pop(s->turns);
        *out = (SvRequestSpec){.session = -1, .trace_row = -1};
        if (!sv__workload_draw_lengths(w, out))
            return FALSE; /* the trace stopped reading: sv_workload_error says why */
        out->arrival_ns = t.t_ns;
        out->input_tokens =
            (int32_t)MIN((int64_t)t.context_tokens + out->input_tokens, (int64_t)INT32_MAX);
        out->prefix = (SvPrefixSource){.prefix_key = t.prefix_key,
                                       .context_key = t.context_key,
                                       .prefix_tokens = t.prefix_tokens};
        queue_next_turn(s, out, t.turns_left);
    } else if (s->has_start) {
        *out = s->start;
        s->has_start = FALSE;
        start_session(s, out);
        if (s->sessions.turns > 0)
            queue_next_turn(s, out, s->sessions.turns);
    } else {
        return FALSE;
    }
    s->emitted++;
    return TRUE;
}
