/* Disaggregated prefill/decode (Splitwise, Patel et al. ISCA 2024; DistServe,
 * Zhong et al. OSDI 2024): prefill replicas run prompts, decode replicas
 * generate, and each request's KV cache moves from one to the other. This
 * file chooses the decode replica and times the move; sim.c runs the
 * hand-over:
 *   1. the iteration that finishes a prompt on a prefill replica emits the
 *      first token there (TTFT ends); the request leaves the prefill
 *      replica's running set but its KV blocks stay held there until copied;
 *   2. a decode replica is chosen (cluster.decode_router) and the request
 *      queues on it, FIFO, until that replica can reserve the blocks of the
 *      prompt and the first token (vLLM's watermark of 1 % kept free while it
 *      runs anything), as DistServe's decode instance pulls a KV cache only
 *      into memory it has; the transfer never starts without them;
 *   3. the KV moves over the link between the two (below); when it has
 *      arrived the prefill side frees its copy and the request joins the
 *      decode replica's waiting queue holding its blocks, to be scheduled
 *      like any waiting request (vLLM's P/D connectors admit a request whose
 *      remote KV has landed the same way).
 *
 * Links. Where two replicas sit is said by their pools' labels: the same
 * node_group means the same nodes (DistServe's intra-node placement), so
 * the KV crosses the scale-up fabric (NVLink, XGMI; a profile without one
 * uses its scale-out network, and one without that its host link); the
 * same site means one scale-out network
 * (InfiniBand/RoCE, Splitwise's setting); different sites cross the
 * configured inter-site link. Every device of a replica sends (receives) its
 * own shard of the KV over its own link, so a side takes
 *   blocks x (bytes of a block on one device) / (link bandwidth x eff_link),
 * and the transfer takes the slower side, plus, between sites, the KV's
 * bytes (each block once) over the inter-site bandwidth; plus the link's
 * latency once. Whole blocks move, as vLLM's KV connectors send blocks.
 * A replica's sending side, its receiving side and each directed site-to-
 * site link carry one transfer at a time, in the order the transfers were
 * booked, at full bandwidth: serialisation rather than fair sharing. The
 * two give every transfer the same throughput over a busy period, but
 * serialisation completes transfers in order (the first is not slowed by
 * the last) and takes one event per transfer, while fair sharing would
 * reschedule every transfer in flight at each arrival. A transfer starts
 * when every resource it crosses is free; a later one never slips into a
 * gap before an earlier one (FIFO).
 *
 * Layer-wise overlap (cluster.kv_transfer.layerwise, as DistServe and
 * Mooncake stream KV layer by layer): when the iteration that finishes a
 * prompt starts and the decode blocks can be reserved at once, the transfer
 * starts with it; it cannot end before the last layer's KV exists, so it
 * ends at max(start + its time, prompt end + latency + its time / layers),
 * while the links count as busy for its time only (from its start), so
 * that the streams of several prompts computed together share them.
 * Otherwise it starts after the prompt as above. */
#include "serve/serve-private.h"

#include <math.h>
#include <string.h>

/* Where a replica sits and how fast its links are. */
typedef struct {
    double block_bytes;      /* one KV block on one device, bytes */
    double unique_bytes;     /* one KV block over all devices, each byte once */
    double up_bw;            /* scale-up B/s per device, after eff_link; 0 = no fabric */
    double out_bw;           /* scale-out B/s per device, after eff_link */
    double up_lat_s;         /* s */
    double out_lat_s;        /* s */
    int node_group;          /* interned label */
    int site;                /* interned label */
    SvTimeNs egress_free_ns; /* its sending side is free from then on */
    SvTimeNs ingress_free_ns;
} Endpoint;

struct SvDisagg {
    SvDecodeRouterKind policy;
    SvReplica **decode; /* (owned array) decode replicas, in replica order */
    int num_decode;
    int rr_next;               /* round-robin cursor */
    int64_t max_decode_blocks; /* the largest decode replica's KV blocks */
    Endpoint *ends;            /* per replica index */
    int num_sites;
    SvTimeNs *site_free_ns; /* num_sites^2, [from * num_sites + to] */
    double site_bw;         /* B/s between two sites */
    double site_lat_s;      /* s */
    int num_layers;         /* model layers, for layer-wise overlap */
    int64_t transfers;
    double bytes;
};

/* Index of @label in @names, added if new. */
static int intern(GPtrArray *names, const char *label)
{
    for (guint i = 0; i < names->len; i++)
        if (strcmp(names->pdata[i], label) == 0)
            return (int)i;
    g_ptr_array_add(names, (gpointer)label);
    return (int)names->len - 1;
}

SvDisagg *sv__disagg_new(const SvConfig *config, SvReplica **replicas, int num_replicas,
                         double kv_block_bytes)
{
    SvDisagg *d = g_new0(SvDisagg, 1);
    d->policy = config->decode_router;
    d->decode = g_new0(SvReplica *, MAX(num_replicas, 1));
    d->ends = g_new0(Endpoint, MAX(num_replicas, 1));
    d->site_bw = config->kv_transfer.inter_site_bw_bytes_per_s;
    d->site_lat_s = config->kv_transfer.inter_site_latency_s;
    d->num_layers = MAX(config->model->num_layers, 1);
    g_autoptr(GPtrArray) groups = g_ptr_array_new();
    g_autoptr(GPtrArray) sites = g_ptr_array_new();
    const SvModel *model = config->model;
    const SvEngineConfig *engine = &config->engine;
    for (int i = 0; i < num_replicas; i++) {
        const SvReplica *rep = replicas[i];
        const SvPoolConfig *pool = rep->pool;
        const SvHw *hw = pool->hw;
        Endpoint *e = &d->ends[i];
        int tp = pool->tensor_parallel_size, pp = pool->pipeline_parallel_size;
        if (kv_block_bytes > 0) {
            e->block_bytes = kv_block_bytes;
            e->unique_bytes = kv_block_bytes * tp * pp;
        } else {
            e->block_bytes = sv_model_layers_per_stage(model, pp) *
                             sv_model_kv_bytes_per_token_layer(model, tp, engine->kv_cache_dtype) *
                             engine->block_size;
            e->unique_bytes = model->num_layers *
                              sv_model_kv_bytes_per_token_layer(model, 1, engine->kv_cache_dtype) *
                              engine->block_size;
        }
        double eff = hw->eff_link > 0 ? hw->eff_link : 1.0;
        e->up_bw = hw->scaleup_bw_bytes_per_s * eff;
        /* A profile with no scale-out network (a PCIe-only card, a TPU
         * slice) reaches other nodes through its host link. */
        e->out_bw = (hw->scaleout_bw_bytes_per_s > 0 ? hw->scaleout_bw_bytes_per_s
                                                     : hw->host_bw_bytes_per_s) *
                    eff;
        SV_ASSERT(e->out_bw > 0, "pool '%s' (%s) has no link to send KV over", pool->name,
                  hw->name);
        e->up_lat_s = hw->scaleup_latency_s;
        e->out_lat_s = hw->scaleout_latency_s;
        /* No label: the pool has nodes of its own, in the one default site. */
        e->node_group = intern(groups, pool->node_group ? pool->node_group : pool->name);
        e->site = intern(sites, pool->site ? pool->site : "default");
        if (rep->role == SV_ROLE_DECODE) {
            d->decode[d->num_decode++] = replicas[i];
            d->max_decode_blocks = MAX(d->max_decode_blocks, rep->kv.total_blocks);
        }
    }
    d->num_sites = (int)sites->len;
    d->site_free_ns = g_new0(SvTimeNs, (gsize)d->num_sites * d->num_sites);
    return d;
}

void sv__disagg_free(SvDisagg *d)
{
    if (d == NULL)
        return;
    g_free(d->decode);
    g_free(d->ends);
    g_free(d->site_free_ns);
    g_free(d);
}

gboolean sv__disagg_fits(const SvDisagg *d, int64_t kv_tokens)
{
    return d->num_decode > 0 &&
           sv_kv_blocks_for(&d->decode[0]->kv, kv_tokens) <= d->max_decode_blocks;
}

/* Blocks in use or promised to hand-overs queued on @rep. */
static int64_t kv_load(const SvReplica *rep)
{
    return rep->kv.total_blocks - rep->kv.free_blocks + rep->kv_wait_blocks;
}

/* least-kv: the lowest share of its blocks in use or promised (a share, not
 * a count, so that a pool of larger devices is not favoured for its size
 * alone); least-outstanding: the fewest requests handed to it and not
 * finished (waiting for blocks, moving, queued, running). Ties: the lower
 * replica index. round-robin: the next one in turn that can hold it. The
 * state is read as it is now: the prefill replica that hands over learns
 * it from the decode replicas at that moment. */
SvReplica *sv__disagg_pick_decode(SvDisagg *d, int64_t kv_tokens)
{
    SvReplica *best = NULL;
    for (int k = 0; k < d->num_decode; k++) {
        int i = d->policy == SV_DECODE_ROUND_ROBIN ? (d->rr_next + k) % d->num_decode : k;
        SvReplica *rep = d->decode[i];
        if (sv_kv_blocks_for(&rep->kv, kv_tokens) > rep->kv.total_blocks)
            continue;
        if (d->policy == SV_DECODE_ROUND_ROBIN) {
            d->rr_next = (i + 1) % d->num_decode;
            return rep;
        }
        if (best == NULL) {
            best = rep;
            continue;
        }
        gboolean better;
        if (d->policy == SV_DECODE_LEAST_OUTSTANDING) {
            better = rep->outstanding < best->outstanding;
        } else {
            /* load / total < best load / best total, exactly. */
            double a = (double)kv_load(rep) * (double)best->kv.total_blocks;
            double b = (double)kv_load(best) * (double)rep->kv.total_blocks;
            better = a < b;
        }
        if (better)
            best = rep;
    }
    return best;
}

static SvTimeNs ns_ceil(double s)
{
    return (SvTimeNs)ceil(s * 1e9);
}

SvTimeNs sv__disagg_book(SvDisagg *d, const SvReplica *src, const SvReplica *dst, int64_t blocks,
                         SvTimeNs now_ns, SvTimeNs ready_ns, SvTimeNs *start_ns)
{
    Endpoint *a = &d->ends[src->index], *b = &d->ends[dst->index];
    double n = (double)blocks;
    double send_s, recv_s, lat_s, wire_s = 0;
    SvTimeNs *site_free = NULL;
    if (a->node_group == b->node_group) {
        /* Same nodes: the scale-up fabric, or scale-out where there is none. */
        double bw_a = a->up_bw > 0 ? a->up_bw : a->out_bw;
        double bw_b = b->up_bw > 0 ? b->up_bw : b->out_bw;
        send_s = n * a->block_bytes / bw_a;
        recv_s = n * b->block_bytes / bw_b;
        lat_s = MAX(a->up_bw > 0 ? a->up_lat_s : a->out_lat_s,
                    b->up_bw > 0 ? b->up_lat_s : b->out_lat_s);
    } else {
        send_s = n * a->block_bytes / a->out_bw;
        recv_s = n * b->block_bytes / b->out_bw;
        lat_s = MAX(a->out_lat_s, b->out_lat_s);
        if (a->site != b->site) {
            wire_s = n * a->unique_bytes / d->site_bw;
            lat_s = d->site_lat_s;
            site_free = &d->site_free_ns[a->site * d->num_sites + b->site];
        }
    }
    double move_s = MAX(MAX(send_s, recv_s), wire_s);
    SvTimeNs start = MAX(now_ns, MAX(a->egress_free_ns, b->ingress_free_ns));
    if (site_free != NULL)
        start = MAX(start, *site_free);
    SvTimeNs busy_until = start + ns_ceil(lat_s) + ns_ceil(move_s);
    /* Layer-wise: the last layer's KV leaves once it exists. The links are
     * taken for the bytes' time only: the streams of a prompt still being
     * computed leave room for the next transfer. */
    SvTimeNs end = busy_until;
    if (ready_ns > now_ns)
        end = MAX(end, ready_ns + ns_ceil(lat_s) + ns_ceil(move_s / d->num_layers));
    a->egress_free_ns = busy_until;
    b->ingress_free_ns = busy_until;
    if (site_free != NULL)
        *site_free = busy_until;
    d->transfers++;
    d->bytes += n * a->unique_bytes;
    *start_ns = start;
    return end;
}

void sv__disagg_totals(const SvDisagg *d, int64_t *transfers, double *bytes)
{
    *transfers = d != NULL ? d->transfers : 0;
    *bytes = d != NULL ? d->bytes : 0;
}
