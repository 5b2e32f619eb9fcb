/* LightLLM's past-future admission (the router's req_queue; Gong et al.,
 * "Past-Future Scheduler for LLM Serving under SLA Guarantees", 2025).
 * Scheduling is token-level like vLLM v1 (decodes first, then prefill
 * chunks, one token budget); what differs is admission. A waiting request
 * joins only if the forecast peak KV of the running batch plus it fits the
 * pool. Each request i holds a_i = input + generated tokens now and will add
 * b_i more before it ends; sorted by b descending, the batch's KV peaks when
 * one of them finishes, so the peak is max_k (sum_{i<=k} a_i + k * b_k), the
 * formula LightLLM evaluates with numpy. The future b_i is never the true
 * length: it comes from the past, the output lengths of requests this replica
 * has finished, conditioned on what the request has already produced: the
 * 90th percentile of finished lengths greater than its generated count g
 * (ESTIMATE_QUANTILE). With no such history the estimate is max_model_len -
 * input, LightLLM's max_new_tokens default. Blocks round each request up by
 * at most block_size - 1 tokens, added per request to keep the bound safe.
 * Simplified: LightLLM's current code uses an EMA of finished lengths and
 * 1.1 x the tokens produced so far; servesim takes the conditional quantile
 * the paper describes. A forecast that still proves short falls back on
 * vLLM v1's preemption (recompute, most recent first), counted as usual. An
 * empty replica admits its head request whatever the forecast, so the queue
 * always moves. */
#include "serve/serve-private.h"

#include <stdlib.h>
#include <string.h>

#define ESTIMATE_QUANTILE_PERCENT 90

typedef struct {
    int64_t now_tokens;  /* a: tokens whose KV is (or will this step be) held */
    int64_t more_tokens; /* b: KV tokens still to come, forecast */
} Forecast;

typedef struct {
    int32_t max_len; /* histogram covers output lengths 1..max_len */
    int32_t top_bit; /* largest power of two <= max_len, for the Fenwick descent */
    int64_t *tree;   /* Fenwick tree of finished output lengths (counts) */
    int64_t finished;
    Forecast *items; /* running batch forecast, b descending (scratch) */
    int32_t len, cap;
    gboolean built; /* items reflect the running set of this step */
} LightState;

static void fenwick_add(LightState *st, int32_t len)
{
    for (int32_t i = len; i <= st->max_len; i += i & -i)
        st->tree[i]++;
}

/* Finished requests with output length <= @len. */
static int64_t fenwick_prefix(const LightState *st, int32_t len)
{
    int64_t sum = 0;
    for (int32_t i = MIN(len, st->max_len); i > 0; i -= i & -i)
        sum += st->tree[i];
    return sum;
}

/* Smallest length L with prefix(L) >= @rank (1 <= rank <= finished). */
static int32_t fenwick_find(const LightState *st, int64_t rank)
{
    int32_t pos = 0;
    for (int32_t step = st->top_bit; step > 0; step >>= 1) {
        if (pos + step <= st->max_len && st->tree[pos + step] < rank) {
            pos += step;
            rank -= st->tree[pos];
        }
    }
    return pos + 1;
}

/* Forecast output length of @r (tokens in total), from finished history. */
static int64_t estimate_output(const SvReplica *rep, const LightState *st, const SvRequest *r)
{
    int64_t ceiling = MAX((int64_t)rep->max_model_len - r->input_tokens, (int64_t)r->generated + 1);
    int64_t done_le = fenwick_prefix(st, r->generated);
    int64_t above = st->finished - done_le;
    if (above <= 0)
        return ceiling;
    /* Rank of the quantile among the lengths above g, ceil(q x above). */
    int64_t rank = (ESTIMATE_QUANTILE_PERCENT * above + 99) / 100;
    int64_t len = fenwick_find(st, done_le + rank);
    return MIN(MAX(len, (int64_t)r->generated + 1), ceiling);
}

static Forecast forecast_of(const SvReplica *rep, const LightState *st, const SvRequest *r)
{
    int64_t out = estimate_output(rep, st, r);
    /* The last output token's KV is never written: the final KV length is
     * input + out - 1 = a + b. */
    Forecast f = {.now_tokens = sv_request_known_tokens(r), .more_tokens = out - r->generated - 1};
    return f;
}

static int by_more_desc(const void *a, const void *b)
{
    const Forecast *x = a, *y = b;
    return x->more_tokens < y->more_tokens ? 1 : x->more_tokens > y->more_tokens ? -1 : 0;
}

static void reserve_items(LightState *st, int32_t n)
{
    if (n > st->cap) {
        st->cap = MAX(n, st->cap * 2);
        st->items = g_renew(Forecast, st->items, st->cap);
    }
}

/* Peak KV, in tokens with block rounding, of the forecast batch. */
static int64_t forecast_peak(const SvReplica *rep, const LightState *st)
{
    int64_t cum = 0, peak = 0, slack = rep->kv.block_size - 1;
    for (int32_t k = 0; k < st->len; k++) {
        cum += st->items[k].now_tokens;
        int64_t need = cum + (int64_t)(k + 1) * (st->items[k].more_tokens + slack);
        peak = MAX(peak, need);
    }
    return peak;
}

static gboolean lightllm_admit(SvReplica *rep, SvRequest *r, SvTimeNs now_ns)
{
    (void)now_ns;
    LightState *st = rep->sched_state;
    if (rep->running.len == 0)
        return TRUE; /* progress: an empty replica always takes its head */
    if (!st->built) {
        reserve_items(st, rep->running.len + 1);
        st->len = 0;
        for (SvRequest *q = rep->running.head; q != NULL; q = q->next)
            st->items[st->len++] = forecast_of(rep, st, q);
        qsort(st->items, (size_t)st->len, sizeof(Forecast), by_more_desc);
        st->built = TRUE;
    }
    /* Insert the candidate in order, test, and keep it only if it fits (it
     * is then admitted and stays part of this step's batch forecast). */
    reserve_items(st, st->len + 1);
    Forecast f = forecast_of(rep, st, r);
    int32_t at = st->len;
    while (at > 0 && st->items[at - 1].more_tokens < f.more_tokens)
        at--;
    memmove(&st->items[at + 1], &st->items[at], (size_t)(st->len - at) * sizeof(Forecast));
    st->items[at] = f;
    st->len++;
    if (forecast_peak(rep, st) <= rep->kv.total_blocks * rep->kv.block_size)
        return TRUE;
    memmove(&st->items[at], &st->items[at + 1], (size_t)(st->len - at - 1) * sizeof(Forecast));
    st->len--;
    return FALSE;
}

static int schedule_lightllm(SvReplica *rep, SvTimeNs now_ns)
{
    static const SvBudgetPolicy lightllm = {.admit = lightllm_admit};
    LightState *st = rep->sched_state;
    st->built = FALSE;
    return sv__sched_budget_step(rep, now_ns, &lightllm);
}

static void lightllm_finished(SvReplica *rep, const SvRequest *r)
{
    LightState *st = rep->sched_state;
    fenwick_add(st, CLAMP(r->generated, 1, st->max_len));
    st->finished++;
}

static void lightllm_init(SvReplica *rep)
{
    LightState *st = g_new0(LightState, 1);
    st->max_len = MAX(rep->max_model_len, 1);
    st->top_bit = 1;
    while (st->top_bit * 2 <= st->max_len)
        st->top_bit *= 2;
    st->tree = g_new0(int64_t, (gsize)st->max_len + 1);
    rep->sched_state = st;
}

static void lightllm_free(SvReplica *rep)
{
    LightState *st = rep->sched_state;
    if (st == NULL)
        return;
    g_free(st->tree);
    g_free(st->items);
    g_free(st);
    rep->sched_state = NULL;
}

const SvSchedulerVtable sv__sched_lightllm = {
    .name = "lightllm",
    .description = "LightLLM: admits a request only if the batch's forecast peak KV fits, "
                   "forecasting outputs from finished requests' lengths",
    .schedule = schedule_lightllm,
    .init = lightllm_init,
    .free = lightllm_free,
    .finished = lightllm_finished,
};
