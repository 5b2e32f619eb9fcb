/* Routers: which replica a new request goes to. round-robin cycles; random
 * draws from the router's own RNG stream; least-outstanding picks the replica
 * with the fewest requests routed and not finished (ties: lowest index), the
 * usual "least requests" policy of serving load balancers. */
#include "core/rng.h"
#include "serve/serve-private.h"

struct SvRouter {
    SvRouterKind kind;
    int next;     /* round-robin cursor */
    gsl_rng *rng; /* random */
};

SvRouter *sv__router_new(SvRouterKind kind, uint64_t seed)
{
    SvRouter *r = g_new0(SvRouter, 1);
    r->kind = kind;
    r->rng = sv_rng_new(seed, SV_STREAM_ROUTER);
    return r;
}

void sv__router_free(SvRouter *router)
{
    if (router == NULL)
        return;
    gsl_rng_free(router->rng);
    g_free(router);
}

int sv__router_pick(SvRouter *router, SvReplica **replicas, int n)
{
    SV_ASSERT(n > 0, "no replica to route to");
    switch (router->kind) {
    case SV_ROUTER_RANDOM:
        return (int)gsl_rng_uniform_int(router->rng, (unsigned long)n);
    case SV_ROUTER_LEAST_OUTSTANDING: {
        int best = 0;
        for (int i = 1; i < n; i++)
            if (replicas[i]->outstanding < replicas[best]->outstanding)
                best = i;
        return best;
    }
    case SV_ROUTER_ROUND_ROBIN:
    default: {
        int pick = router->next;
        router->next = (router->next + 1) % n;
        return pick;
    }
    }
}
