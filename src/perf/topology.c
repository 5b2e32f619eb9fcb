/* Placement of a plan's devices on scale-up domains and the alpha-beta model
 * of the collectives its groups run (topology.h).
 *
 * The collective model follows NCCL's tuning model (NCCL 2.2x,
 * src/graph/tuning.cc), which NCCL itself uses to pick an algorithm and a
 * protocol per call: a latency of a base cost plus a per-step cost for each
 * hop of the algorithm on its link class (NVLink, PCIe, network), and a
 * bandwidth term at the bus bandwidth, scaled per protocol. The latencies are
 * NCCL's constants; the bus bandwidth is the hwprofile's link peak times its
 * measured ring efficiency (efficiency.link), and NVLS has its own measured
 * algorithm bandwidth (efficiency.link_nvls). The fastest algorithm and
 * protocol wins, as in NCCL. This keeps small messages cheap: a ring
 * all-reduce over 8 NVLink GPUs with the LL protocol has a latency of
 * 6.6 + 14 x 0.6 = 15 us, not 14 times the 5 us of one send/recv message
 * that a plain alpha-beta ring would charge. RCCL inherits NCCL's tuning
 * code; for other vendors' libraries the same model is an assumption. */
#include "perf/topology.h"

#include <math.h>
#include <string.h>

const char *const sv_placement_names[] = {"packed", "stage-per-node", NULL};

/* ------------------------------------------------------------ placement -- */

int sv_topo_domain_devices(const SvHw *hw)
{
    if (hw->scaleup_bw_bytes_per_s <= 0)
        return 1;
    if (hw->devices_per_node <= 0)
        return G_MAXINT / 4;
    return MAX(hw->devices_per_node, hw->scaleup_domain_devices);
}

/* Index of device (@s, @d, @t): stage-major, TP innermost (topology.h). */
static int64_t device_index(const SvHw *hw, int tp, int dp, SvPlacementKind placement, int s, int d,
                            int t)
{
    int64_t stage = (int64_t)tp * dp, base = (int64_t)s * stage;
    if (placement == SV_PLACEMENT_STAGE_PER_NODE) {
        int64_t dom = sv_topo_domain_devices(hw);
        base = (int64_t)s * ((stage + dom - 1) / dom) * dom;
    }
    return base + (int64_t)d * tp + t;
}

/* Domains spanned by @n contiguous devices from @first, and the most of them
 * in one domain. */
static void range_group(int64_t first, int n, int64_t dom, SvCommGroup *g)
{
    g->ranks = n;
    int64_t a = first / dom, b = (first + n - 1) / dom;
    g->domains = (int)(b - a + 1);
    int64_t most = 0;
    for (int64_t k = a; k <= b; k++) {
        int64_t lo = MAX(first, k * dom), hi = MIN(first + n, (k + 1) * dom);
        most = MAX(most, hi - lo);
    }
    g->per_node = (int)most;
}

/* Worse placed: more domains, then fewer devices per domain (fewer NICs). */
static gboolean worse_group(const SvCommGroup *a, const SvCommGroup *b)
{
    return a->domains > b->domains || (a->domains == b->domains && a->per_node < b->per_node);
}

void sv_topo_tp_group(const SvHw *hw, int tp, int pp, int dp, SvPlacementKind placement,
                      SvCommGroup *out)
{
    int64_t dom = sv_topo_domain_devices(hw);
    memset(out, 0, sizeof *out);
    for (int s = 0; s < pp; s++)
        for (int d = 0; d < dp; d++) {
            SvCommGroup g;
            range_group(device_index(hw, tp, dp, placement, s, d, 0), tp, dom, &g);
            if (out->ranks == 0 || worse_group(&g, out))
                *out = g;
        }
}

void sv_topo_stage_group(const SvHw *hw, int tp, int pp, int dp, SvPlacementKind placement,
                         SvCommGroup *out)
{
    int64_t dom = sv_topo_domain_devices(hw);
    memset(out, 0, sizeof *out);
    for (int s = 0; s < pp; s++) {
        SvCommGroup g;
        range_group(device_index(hw, tp, dp, placement, s, 0, 0), tp * dp, dom, &g);
        if (out->ranks == 0 || worse_group(&g, out))
            *out = g;
    }
}

void sv_topo_pp_link(const SvHw *hw, int tp, int pp, int dp, SvPlacementKind placement,
                     int boundary, SvCommGroup *out)
{
    g_return_if_fail(boundary >= 0 && boundary + 1 < pp);
    int64_t dom = sv_topo_domain_devices(hw);
    /* Senders of one stage are contiguous: count the crossing ones per
     * domain in one pass. */
    int64_t cur = -1, count = 0, most = 0;
    for (int d = 0; d < dp; d++)
        for (int t = 0; t < tp; t++) {
            int64_t from = device_index(hw, tp, dp, placement, boundary, d, t);
            int64_t to = device_index(hw, tp, dp, placement, boundary + 1, d, t);
            if (from / dom == to / dom)
                continue;
            if (from / dom != cur) {
                cur = from / dom;
                count = 0;
            }
            count++;
            most = MAX(most, count);
        }
    out->ranks = 2;
    out->domains = most > 0 ? 2 : 1;
    out->per_node = most > 0 ? (int)most : 1;
}

int sv_topo_nodes(const SvHw *hw, int tp, int pp, int dp, SvPlacementKind placement)
{
    int64_t dpn = hw->devices_per_node > 0 ? hw->devices_per_node : G_MAXINT / 4;
    int64_t last = -1;
    int nodes = 0;
    for (int s = 0; s < pp; s++)
        for (int d = 0; d < dp; d++)
            for (int t = 0; t < tp; t++) {
                int64_t node = device_index(hw, tp, dp, placement, s, d, t) / dpn;
                if (node != last)
                    nodes++;
                last = node;
            }
    return nodes;
}

SvLinkClass sv_topo_link_class(const SvCommGroup *group)
{
    return group->domains <= 1 ? SV_LINK_SCALEUP : SV_LINK_SCALEOUT;
}

/* ---------------------------------------------------------- bandwidths -- */

double sv_topo_intra_bw(const SvHw *hw, int per_node)
{
    double bw = hw->scaleup_bw_bytes_per_s;
    if (hw->scaleup_topology == SV_FABRIC_MESH && hw->scaleup_peer_bw_bytes_per_s > 0)
        bw = MIN(bw, hw->scaleup_peer_bw_bytes_per_s * MAX(per_node - 1, 1));
    return bw;
}

double sv_topo_nic_bw(const SvHw *hw, int per_node)
{
    if (hw->scaleout_bw_bytes_per_s <= 0)
        /* No network: staged through host memory over PCIe, twice. */
        return hw->host_bw_bytes_per_s / 2.0 * MAX(per_node, 1);
    int dpn = hw->devices_per_node > 0 ? hw->devices_per_node : 1;
    int nics = hw->scaleout_nics_per_node > 0 ? hw->scaleout_nics_per_node : dpn;
    double nic = hw->scaleout_nic_bw_bytes_per_s > 0 ? hw->scaleout_nic_bw_bytes_per_s
                                                     : hw->scaleout_bw_bytes_per_s * dpn / nics;
    /* A domain larger than a node (NVL72, a TPU pod) has the NICs of all
     * its hosts. GPUDirect RDMA uses the NICs next to the sending devices:
     * with 1 NIC per GPU a group of p devices of the domain has p NICs, with
     * 1 NIC per 2 GPUs ceil(p / 2). */
    int64_t dom = sv_topo_domain_devices(hw);
    if (dom > dpn && dom < G_MAXINT / 4)
        nics = (int)MIN((int64_t)nics * (dom / dpn), G_MAXINT / 4);
    int64_t span = MIN(dom, (int64_t)dpn * 1024);
    int64_t usable = ((int64_t)MAX(per_node, 1) * nics + span - 1) / span;
    usable = CLAMP(usable, 1, nics);
    return (double)usable * nic;
}

/* ------------------------------------------------------ the NCCL model -- */

const char *sv_coll_algo_name(SvCollAlgo algo)
{
    static const char *const names[SV_ALGO_COUNT] = {"ring",   "tree",  "nvls",
                                                     "direct", "table", "custom"};
    return algo >= 0 && algo < SV_ALGO_COUNT ? names[algo] : "unknown";
}

const char *sv_coll_proto_name(SvCollProto proto)
{
    static const char *const names[SV_PROTO_COUNT] = {"LL", "LL128", "Simple"};
    return proto >= 0 && proto < SV_PROTO_COUNT ? names[proto] : "unknown";
}

/* NCCL's latency constants, microseconds (src/graph/tuning.cc, NCCL
 * 2.19-2.27): baseLat per algorithm and protocol, and hwLat, the cost of
 * one step on a link class. */
enum { HW_NVLINK, HW_PCI, HW_NET, HW_COUNT };
static const double base_lat_us[2][SV_PROTO_COUNT] = {
    {6.6, 14.0, 8.4}, /* ring */
    {6.8, 14.0, 8.4}, /* tree */
};
static const double hw_lat_us[HW_COUNT][2][SV_PROTO_COUNT] = {
    {{0.6, 1.9, 3.4}, {0.6, 1.25, 4.0}},  /* NVLink: ring, tree */
    {{1.0, 2.5, 5.7}, {1.0, 1.9, 4.0}},   /* PCIe */
    {{2.7, 4.0, 14.0}, {5.0, 8.5, 14.0}}, /* network */
};
#define NVLS_LAT_US 25.0 /* hwLat[NVLINK][NVLS][Simple]: one domain */
/* With more than one node every intra-node step also waits for a network
 * post, 1 us on x86 (NCCL's getNetOverhead), three times for Simple. */
#define NET_OVERHEAD_US 1.0

/* Protocol efficiencies on the bus bandwidth (tuning.cc): LL moves 8-byte
 * lines carrying 4 bytes of data, LL128 120 of every 128 bytes. */
static const double ring_proto_bw[SV_PROTO_COUNT] = {0.5, 0.92, 1.0};

/* The NCCL hardware class of the scale-up fabric. */
static int intra_hw(const SvHw *hw)
{
    const char *k = hw->scaleup_kind;
    if (k == NULL || hw->scaleup_bw_bytes_per_s <= 0)
        return k == NULL ? HW_NVLINK : HW_NET;
    if (strcmp(k, "pcie") == 0)
        return HW_PCI;
    if (strcmp(k, "roce") == 0 || strcmp(k, "none") == 0)
        return HW_NET;
    return HW_NVLINK; /* nvlink, xgmi, hccs, ici: point-to-point device links */
}

/* LL128 runs only where NCCL enables it by default: over NVLink. */
static gboolean proto_ok(const SvHw *hw, SvCollProto p)
{
    return p != SV_PROTO_LL128 || intra_hw(hw) == HW_NVLINK;
}

static int log2i(int n)
{
    int l = 0;
    while (n > 1) {
        n >>= 1;
        l++;
    }
    return l;
}

static void consider(SvCollCost *best, double t, SvCollAlgo algo, SvCollProto proto, double lat)
{
    if (best->time_s < 0 || t < best->time_s) {
        best->time_s = t;
        best->algo = algo;
        best->proto = proto;
        best->latency_s = lat;
    }
}

/* The bus bandwidth of a ring or tree over @g: its devices' fabric inside a
 * domain, and across domains no more than the NICs of the devices in one. */
static double bus_bw(const SvHw *hw, const SvCommGroup *g)
{
    double bw =
        g->domains <= 1 ? sv_topo_intra_bw(hw, g->per_node) : sv_topo_nic_bw(hw, g->per_node);
    if (g->domains > 1 && g->per_node > 1)
        bw = MIN(bw, sv_topo_intra_bw(hw, g->per_node));
    return bw * hw->eff_link;
}

static void ring_tree(const SvHw *hw, SvCollOp op, const SvCommGroup *g, double bytes,
                      SvCollCost *best)
{
    int n = g->ranks, nodes = g->domains, ih = intra_hw(hw);
    gboolean ar = op == SV_COLL_ALL_REDUCE;
    double bus = bus_bw(hw, g);
    if (bus <= 0)
        return;
    double traffic = sv_calib_coll_traffic(op, n, bytes);
    int steps = ar ? 2 * (n - 1) : n - 1;
    int inter = nodes <= 1 ? 0 : ar ? 2 * (nodes - 1) : nodes - 1;
    for (int p = 0; p < SV_PROTO_COUNT; p++) {
        if (!proto_ok(hw, (SvCollProto)p))
            continue;
        double intra_lat = hw_lat_us[ih][0][p];
        if (nodes > 1)
            intra_lat = MAX(intra_lat, NET_OVERHEAD_US * (p == SV_PROTO_SIMPLE ? 3.0 : 1.0));
        double lat =
            base_lat_us[0][p] + (steps - inter) * intra_lat + inter * hw_lat_us[HW_NET][0][p];
        lat *= 1e-6;
        consider(best, lat + traffic / (bus * ring_proto_bw[p]), SV_ALGO_RING, (SvCollProto)p, lat);
        if (!ar)
            continue;
        /* Tree: up and down a chain inside each node and a binary tree over
         * the nodes; half the bus bandwidth as algorithm bandwidth. */
        int ppn = MAX(n / MAX(nodes, 1), 1);
        double inter_lat = hw_lat_us[HW_NET][1][p];
        double tlat =
            base_lat_us[1][p] + 2.0 * ((ppn - 1) * hw_lat_us[ih][1][p] + log2i(nodes) * inter_lat);
        tlat *= 1e-6;
        double tbus = bus * 0.92;
        if (p == SV_PROTO_LL)
            tbus /= 3.8;
        else if (p == SV_PROTO_LL128)
            tbus *= nodes <= 1 ? 7.0 / 9.0 : 120.0 / 128.0;
        consider(best, tlat + bytes / (0.5 * tbus), SV_ALGO_TREE, (SvCollProto)p, tlat);
    }
    /* NVLS: every device sends its buffer into the switch once and reads
     * the sum once; inside one NVLink domain only. */
    if (ar && nodes <= 1 && hw->scaleup_nvls && hw->eff_link_nvls > 0) {
        double lat = NVLS_LAT_US * 1e-6;
        consider(best, lat + bytes / (hw->eff_link_nvls * hw->scaleup_bw_bytes_per_s), SV_ALGO_NVLS,
                 SV_PROTO_SIMPLE, lat);
    }
}

/* Send/recv and all-to-all: every device sends to its peers at once. The
 * part for peers in its own domain goes over the fabric, the part for
 * other domains over the NICs the group's devices in the domain share. The
 * latency is one message on the slowest link the op uses (the hwprofile's
 * measured send/recv latency) plus an issue cost per peer, NCCL's LL step
 * on the fabric (an assumption: the sends of an all-to-all overlap). */
static void direct(const SvHw *hw, SvCollOp op, const SvCommGroup *g, double bytes,
                   SvCollCost *best)
{
    int n = g->ranks, p = MIN(g->per_node, n);
    double lat = g->domains > 1 ? hw->scaleout_latency_s : hw->scaleup_latency_s;
    double t_intra = 0, t_inter = 0;
    if (op == SV_COLL_SEND_RECV) {
        if (g->domains > 1)
            t_inter = bytes / (sv_topo_nic_bw(hw, p) * hw->eff_link / p);
        else
            t_intra = bytes / (sv_topo_intra_bw(hw, 2) * hw->eff_link);
    } else {
        lat += (n - 1) * hw_lat_us[intra_hw(hw)][0][SV_PROTO_LL] * 1e-6;
        if (p > 1)
            t_intra = bytes * (p - 1) / n / (sv_topo_intra_bw(hw, p) * hw->eff_link);
        if (n > p)
            t_inter = bytes * (n - p) / n / (sv_topo_nic_bw(hw, p) * hw->eff_link / p);
    }
    consider(best, lat + MAX(t_intra, t_inter), SV_ALGO_DIRECT, SV_PROTO_SIMPLE, lat);
}

double sv_topo_coll_time(const SvHw *hw, SvCollOp op, const SvCommGroup *group, double bytes,
                         SvCollCost *cost)
{
    SvCollCost best = {.time_s = -1, .algo = SV_ALGO_RING, .proto = SV_PROTO_SIMPLE};
    g_return_val_if_fail(hw != NULL && group != NULL, 0);
    best.link = sv_topo_link_class(group);
    if (group->ranks <= 1 || bytes <= 0) {
        best.time_s = 0;
    } else if (op == SV_COLL_SEND_RECV || op == SV_COLL_ALL_TO_ALL) {
        direct(hw, op, group, bytes, &best);
    } else {
        ring_tree(hw, op, group, bytes, &best);
    }
    if (best.time_s < 0)
        best.time_s = 0; /* no link at all: sv_predictor_new refuses such plans */
    else if (best.time_s > 0)
        best.time_s += hw->kernel_launch_s; /* one kernel, as every roofline op */
    if (cost != NULL)
        *cost = best;
    return best.time_s;
}

/* ------------------------------------------------- vLLM custom all-reduce -- */

/* One-shot limits of csrc/custom_all_reduce.cuh: two ranks always, up to
 * four below 512 KiB, up to eight below 256 KiB. */
#define CUSTOM_AR_ONE_SHOT_4_BYTES (512.0 * 1024)
#define CUSTOM_AR_ONE_SHOT_8_BYTES (256.0 * 1024)
/* Two-shot's rate, a fraction of the scale-up link's peak: fitted to vLLM's
 * own benchmark on 4 H100 SXM (vllm-project/vllm PR #24532,
 * benchmark_device_communicators.py, bf16, "ca_2stage": 18, 26 and 42 us for
 * 1, 2 and 4 MiB), whose 1.5 x bytes (2 (n-1)/n) move at 197 GB/s = 0.44 of
 * 450 GB/s after two fabric latencies. */
#define CUSTOM_AR_TWO_SHOT_EFF 0.44

double sv_topo_custom_ar_time(const SvHw *hw, const SvCommGroup *group, double bytes,
                              SvCollCost *cost)
{
    g_return_val_if_fail(hw != NULL && group != NULL, -1);
    int n = group->ranks;
    const char *k = hw->scaleup_kind;
    /* vLLM checks that every pair of ranks is linked (NVML on NVIDIA, XGMI
     * on AMD); PCIe-only groups of more than two fall back to NCCL, and
     * two-rank PCIe groups are left to NCCL here as well, since peer access
     * over PCIe is often off in the clouds such cards run in. */
    gboolean linked = k != NULL && (strcmp(k, "nvlink") == 0 || strcmp(k, "xgmi") == 0) &&
                      hw->scaleup_bw_bytes_per_s > 0;
    gboolean one_host =
        group->domains <= 1 && (hw->devices_per_node <= 0 || n <= hw->devices_per_node);
    if (!linked || !one_host || (n != 2 && n != 4 && n != 6 && n != 8) || bytes <= 0 ||
        bytes >= SV_CUSTOM_AR_MAX_BYTES)
        return -1;
    /* The one-shot kernel is one round of peer reads behind one flag
     * barrier: one fabric message (scaleup.latency_us) plus n - 1 peers'
     * buffers through this device's links at the collective efficiency.
     * Against vLLM PR #24532's "ca_1stage" on 4 H100 SXM (10, 14, 23 and 38
     * us for 0.5, 1, 2 and 4 MiB) this gives 9.3, 13.6, 22 and 39.5 us with
     * h100-sxm.yaml's 5 us and 0.81. */
    double lat = hw->scaleup_latency_s, t;
    gboolean one_shot =
        n == 2 || bytes < (n <= 4 ? CUSTOM_AR_ONE_SHOT_4_BYTES : CUSTOM_AR_ONE_SHOT_8_BYTES);
    if (one_shot)
        t = lat + bytes * (n - 1) / (sv_topo_intra_bw(hw, n) * hw->eff_link);
    else
        t = 2.0 * lat +
            2.0 * (n - 1) / n * bytes / (CUSTOM_AR_TWO_SHOT_EFF * hw->scaleup_bw_bytes_per_s);
    if (cost != NULL)
        *cost = (SvCollCost){.time_s = t,
                             .algo = SV_ALGO_CUSTOM,
                             .proto = SV_PROTO_SIMPLE,
                             .link = SV_LINK_SCALEUP,
                             .latency_s = one_shot ? lat : 2.0 * lat};
    return t;
}
