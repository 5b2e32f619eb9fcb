/* Routers: which replica a new request goes to. round-robin cycles; random
 * draws from the router's own RNG stream; least-outstanding picks the replica
 * with the fewest requests routed and not finished (ties: lowest index), the
 * usual "least requests" policy of serving load balancers; least-kv picks the
 * replica with the most free KV blocks (ties: lowest index); power-of-two
 * samples two distinct replicas and keeps the one with fewer outstanding
 * requests (Mitzenmacher's "power of two choices"; ties: the first sampled).
 *
 * Staleness: a real router learns replica load from periodic reports or
 * scrapes, not from the replicas' memory. With cluster.router_staleness_s > 0
 * the load-reading routers see a snapshot of every replica's outstanding
 * count and free KV blocks, refreshed lazily at the first pick at or after
 * last_refresh + staleness (so refreshes happen on the staleness grid
 * anchored at the first pick, without events of their own). Between refreshes
 * the router does not even see its own dispatches, which is what sends a
 * burst to one replica in real deployments. 0 reads live state.
 *
 * Live least-outstanding keeps a tournament tree over the replicas (each
 * node: the child with fewer outstanding requests, the left one on a tie,
 * so the root is the scan's pick), updated as the serving engine reports
 * each change of a replica's count (sv__router_load_changed): two updates
 * of log2(R) nodes per request instead of a scan of R replicas' structs
 * per arrival (3 % of bench/cluster-1024.yaml at 128 replicas). */
#include "core/rng.h"
#include "serve/serve-private.h"

typedef struct {
    int32_t outstanding; /* requests routed and not finished */
    int64_t free_blocks; /* free KV blocks */
} LoadView;

struct SvRouter {
    SvRouterKind kind;
    int next;              /* round-robin cursor */
    gsl_rng *rng;          /* random, power-of-two: SV_STREAM_ROUTER */
    SvTimeNs staleness_ns; /* 0 = live state */
    SvTimeNs refreshed_ns; /* time of the last snapshot; < 0 before the first */
    LoadView *snapshot;    /* one per replica when staleness_ns > 0 */
    int num_replicas;
    double affinity_load_factor; /* prefix-affinity: load cap over the least loaded replica */
    /* Live least-outstanding's tournament tree, built at the first pick. */
    int32_t *load;    /* per leaf (position in the routed array): outstanding requests */
    int32_t *winner;  /* per node (1 = root, leaves from num_leaves): best leaf below */
    int32_t *leaf_of; /* per replica index: its leaf, -1 when not routed to */
    int num_leaves;   /* a power of two >= num_replicas */
    int leaf_of_len;  /* entries of leaf_of */
};

SvRouter *sv__router_new(const SvConfig *config, int num_replicas)
{
    SvRouter *r = g_new0(SvRouter, 1);
    r->kind = config->router;
    r->rng = sv_rng_new(config->seed, SV_STREAM_ROUTER);
    r->num_replicas = num_replicas;
    r->staleness_ns = config->router_staleness_s > 0 ? sv_s_to_ns(config->router_staleness_s) : 0;
    r->refreshed_ns = -1;
    r->affinity_load_factor = config->prefix_affinity_load_factor;
    if (r->staleness_ns > 0)
        r->snapshot = g_new0(LoadView, MAX(num_replicas, 1));
    return r;
}

void sv__router_free(SvRouter *router)
{
    if (router == NULL)
        return;
    gsl_rng_free(router->rng);
    g_free(router->snapshot);
    g_free(router->load);
    g_free(router->winner);
    g_free(router->leaf_of);
    g_free(router);
}

/* The load the router believes replica @i has. */
static inline LoadView view(const SvRouter *router, SvReplica **replicas, int i)
{
    if (router->snapshot != NULL)
        return router->snapshot[i];
    return (LoadView){replicas[i]->outstanding, replicas[i]->kv.free_blocks};
}

static void maybe_refresh(SvRouter *router, SvReplica **replicas, int n, SvTimeNs now_ns)
{
    if (router->snapshot == NULL)
        return;
    if (router->refreshed_ns >= 0 && now_ns < router->refreshed_ns + router->staleness_ns)
        return;
    for (int i = 0; i < n; i++)
        router->snapshot[i] = (LoadView){replicas[i]->outstanding, replicas[i]->kv.free_blocks};
    /* Stay on the grid so the refresh times do not drift with the arrivals. */
    if (router->refreshed_ns < 0)
        router->refreshed_ns = now_ns;
    else
        router->refreshed_ns +=
            (now_ns - router->refreshed_ns) / router->staleness_ns * router->staleness_ns;
}

/* ---- live least-outstanding: the tournament tree ---------------------- */

/* The better of leaves @a and @b (a < b): fewer outstanding, @a on a tie. */
static inline int32_t better(const SvRouter *router, int32_t a, int32_t b)
{
    return router->load[b] < router->load[a] ? b : a;
}

static void tree_build(SvRouter *router, SvReplica **replicas, int n)
{
    int leaves = 1;
    while (leaves < n)
        leaves *= 2;
    router->num_leaves = leaves;
    /* Padding leaves hold the largest count: a replica ties with them only
     * at 2^31 - 1 requests, and wins the tie as the lower leaf. */
    router->load = g_new(int32_t, leaves);
    router->winner = g_new(int32_t, 2 * leaves);
    int max_index = 0;
    for (int i = 0; i < n; i++)
        max_index = MAX(max_index, replicas[i]->index);
    router->leaf_of_len = max_index + 1;
    router->leaf_of = g_new(int32_t, router->leaf_of_len);
    for (int i = 0; i < router->leaf_of_len; i++)
        router->leaf_of[i] = -1;
    for (int i = 0; i < leaves; i++) {
        router->load[i] = i < n ? replicas[i]->outstanding : INT32_MAX;
        router->winner[leaves + i] = i;
        if (i < n)
            router->leaf_of[replicas[i]->index] = i;
    }
    for (int v = leaves - 1; v >= 1; v--)
        router->winner[v] = better(router, router->winner[2 * v], router->winner[2 * v + 1]);
}

void sv__router_load_changed(SvRouter *router, const SvReplica *rep)
{
    if (router == NULL || router->winner == NULL || rep->index >= router->leaf_of_len)
        return;
    int32_t leaf = router->leaf_of[rep->index];
    if (leaf < 0)
        return;
    router->load[leaf] = rep->outstanding;
    for (int v = (router->num_leaves + leaf) / 2; v >= 1; v /= 2) {
        int32_t was = router->winner[v];
        router->winner[v] = better(router, router->winner[2 * v], router->winner[2 * v + 1]);
        /* Above a node that neither had nor has @leaf as its winner, no
         * comparison involves @leaf's count: the rest of the path stands. */
        if (router->winner[v] == was && was != leaf)
            break;
    }
}

/* prefix-affinity (SGLang's cache-aware router and llm-d's prefix scorer do
 * the same in spirit): the replica whose prefix cache holds the longest
 * prefix of the prompt (ties: fewer outstanding, then lowest index), unless
 * its outstanding requests exceed affinity_load_factor x max(1, the least
 * loaded replica's): then, or when no replica holds any of the prompt, the
 * least loaded replica. The cache is read as it is now (a real router keeps
 * its own approximate index of what it sent where); the load goes through
 * the staleness view like the other routers'. */
static int pick_prefix_affinity(SvRouter *router, SvReplica **replicas, int n, const SvRequest *req,
                                SvTimeNs now_ns)
{
    maybe_refresh(router, replicas, n, now_ns);
    int least = 0;
    for (int i = 1; i < n; i++)
        if (view(router, replicas, i).outstanding < view(router, replicas, least).outstanding)
            least = i;
    if (req == NULL || req->kv.unit_tokens == 0)
        return least;
    int best = -1;
    int32_t best_units = 0;
    int64_t max_tokens = (int64_t)sv_request_known_tokens(req) - 1;
    for (int i = 0; i < n; i++) {
        int32_t units = sv_kv_pool_match(&replicas[i]->kv, &req->kv, max_tokens, NULL);
        if (units > best_units ||
            (units > 0 && units == best_units &&
             view(router, replicas, i).outstanding < view(router, replicas, best).outstanding)) {
            best = i;
            best_units = units;
        }
    }
    if (best < 0)
        return least;
    double cap =
        router->affinity_load_factor * (double)MAX(1, view(router, replicas, least).outstanding);
    return (double)view(router, replicas, best).outstanding > cap ? least : best;
}

int sv__router_pick(SvRouter *router, SvReplica **replicas, int n, const SvRequest *req,
                    SvTimeNs now_ns)
{
    SV_ASSERT(n > 0 && n <= router->num_replicas, "routing over %d replicas (router built for %d)",
              n, router->num_replicas);
    switch (router->kind) {
    case SV_ROUTER_RANDOM:
        return (int)gsl_rng_uniform_int(router->rng, (unsigned long)n);
    case SV_ROUTER_LEAST_OUTSTANDING: {
        if (router->snapshot == NULL && n == router->num_replicas) {
            if (router->winner == NULL)
                tree_build(router, replicas, n);
            int32_t w = router->winner[1];
            /* A change of count the engine did not report shows here first. */
            SV_ASSERT(router->load[w] == replicas[w]->outstanding,
                      "least-outstanding tree holds %d for replica %d, which has %d",
                      router->load[w], w, replicas[w]->outstanding);
            return w;
        }
        maybe_refresh(router, replicas, n, now_ns);
        int best = 0;
        int32_t best_load = view(router, replicas, 0).outstanding;
        for (int i = 1; i < n; i++) {
            int32_t load = view(router, replicas, i).outstanding;
            if (load < best_load) {
                best = i;
                best_load = load;
            }
        }
        return best;
    }
    case SV_ROUTER_LEAST_KV: {
        maybe_refresh(router, replicas, n, now_ns);
        int best = 0;
        int64_t best_free = view(router, replicas, 0).free_blocks;
        for (int i = 1; i < n; i++) {
            int64_t free_blocks = view(router, replicas, i).free_blocks;
            if (free_blocks > best_free) {
                best = i;
                best_free = free_blocks;
            }
        }
        return best;
    }
    case SV_ROUTER_POWER_OF_TWO: {
        /* One replica leaves nothing to choose; drawing nothing keeps the
         * stream untouched. */
        if (n == 1)
            return 0;
        maybe_refresh(router, replicas, n, now_ns);
        int a = (int)gsl_rng_uniform_int(router->rng, (unsigned long)n);
        int b = (int)gsl_rng_uniform_int(router->rng, (unsigned long)(n - 1));
        if (b >= a)
            b++; /* two distinct replicas, each pair equally likely */
        return view(router, replicas, b).outstanding < view(router, replicas, a).outstanding ? b
                                                                                             : a;
    }
    case SV_ROUTER_PREFIX_AFFINITY:
        return pick_prefix_affinity(router, replicas, n, req, now_ns);
    case SV_ROUTER_ROUND_ROBIN:
    default: {
        int pick = router->next;
        router->next = (router->next + 1) % n;
        return pick;
    }
    }
}
