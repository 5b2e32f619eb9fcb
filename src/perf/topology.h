/* Where a replica's devices sit and what its collectives cost there. A plan's
 * devices are laid out on scale-up domains (a node, or a larger NVLink/ICI
 * domain) stage by stage; each communication group (a TP group, the devices
 * of one stage that MoE layers exchange tokens over, two neighbouring stages)
 * is described by how many devices it has and how they spread over domains.
 * Collectives over such a group are timed by an alpha-beta model per
 * algorithm (ring, tree, NVLS, direct) and protocol, after NCCL's own tuning
 * model, over the link classes the group spans. perf/table.h answers instead
 * where the hwprofile has measured curves. */
#ifndef SV_TOPOLOGY_H
#define SV_TOPOLOGY_H

#include "core/common.h"
#include "hw/calib.h"
#include "hw/hw.h"

G_BEGIN_DECLS

/* How a replica's devices fill the nodes. Devices are numbered stage-major:
 * (stage, data-parallel rank, tensor-parallel rank), TP innermost, so a TP
 * group is contiguous and inside one node whenever it fits, and the devices
 * of a stage (the expert-parallel group) come next to each other. */
typedef enum {
    SV_PLACEMENT_PACKED,         /* fill each node before the next (the default) */
    SV_PLACEMENT_STAGE_PER_NODE, /* every pipeline stage starts on a new node */
    SV_PLACEMENT_COUNT
} SvPlacementKind;
extern const char *const sv_placement_names[]; /* NULL-terminated, index = SvPlacementKind */

/* A group of devices that run a collective together, as placed. */
typedef struct {
    int ranks;    /* devices taking part */
    int domains;  /* scale-up domains (nodes) they span */
    int per_node; /* most of them in one domain: those share its NICs */
} SvCommGroup;

/* The devices of one scale-up domain: the hwprofile's scaleup.domain_devices
 * (a node unless the fabric is larger, as a TPU pod), 1 when there is no
 * scale-up fabric (peers then talk over the scale-out network), and
 * effectively unlimited when devices_per_node is 0 (profiles built in code). */
int sv_topo_domain_devices(const SvHw *hw);

/* The worst-placed tensor-parallel group of a tp x pp x dp plan (the one
 * spread over the most domains). */
void sv_topo_tp_group(const SvHw *hw, int tp, int pp, int dp, SvPlacementKind placement,
                      SvCommGroup *out);
/* The tp x dp devices of one stage (the worst placed): the group MoE layers
 * dispatch tokens over under attention data parallelism. */
void sv_topo_stage_group(const SvHw *hw, int tp, int pp, int dp, SvPlacementKind placement,
                         SvCommGroup *out);
/* The link from stage @boundary to stage @boundary + 1: ranks 2, domains 1
 * when every sender's peer is in its own domain, else 2, and per_node the
 * most senders of one domain whose peer is in another (they share its NICs). */
void sv_topo_pp_link(const SvHw *hw, int tp, int pp, int dp, SvPlacementKind placement,
                     int boundary, SvCommGroup *out);
/* Nodes (hosts of devices_per_node devices) one replica occupies. */
int sv_topo_nodes(const SvHw *hw, int tp, int pp, int dp, SvPlacementKind placement);

/* The link class of @group: scale-up when it is inside one domain. */
SvLinkClass sv_topo_link_class(const SvCommGroup *group);

/* Peak bandwidths, bytes/s per direction, before efficiency factors. Inside
 * a domain, per device for a group of @per_node devices there: the fabric's
 * bandwidth through a switch, or (per_node - 1) peer links on a mesh. Across
 * domains, the NIC bandwidth the @per_node devices of a group in one domain
 * share: its NICs near those devices (all of them once per_node reaches the
 * domain's size, at least one). */
double sv_topo_intra_bw(const SvHw *hw, int per_node);
double sv_topo_nic_bw(const SvHw *hw, int per_node);

typedef enum {
    SV_ALGO_RING,   /* ring (NCCL Ring) */
    SV_ALGO_TREE,   /* double binary tree (NCCL Tree) */
    SV_ALGO_NVLS,   /* in-switch reduction (NVLink SHARP) */
    SV_ALGO_DIRECT, /* point to point: send/recv, all-to-all */
    SV_ALGO_TABLE,  /* a measured curve of the hwprofile answered */
    SV_ALGO_CUSTOM, /* vLLM's custom all-reduce (peer reads over NVLink/XGMI) */
    SV_ALGO_COUNT
} SvCollAlgo;
typedef enum { SV_PROTO_LL, SV_PROTO_LL128, SV_PROTO_SIMPLE, SV_PROTO_COUNT } SvCollProto;
const char *sv_coll_algo_name(SvCollAlgo algo);
const char *sv_coll_proto_name(SvCollProto proto);

/* How a collective was costed. */
typedef struct {
    double time_s;     /* one occurrence */
    SvCollAlgo algo;   /* the fastest algorithm */
    SvCollProto proto; /* and protocol (Simple for direct) */
    SvLinkClass link;  /* scale-up (inside one domain) or scale-out */
    double latency_s;  /* its latency term */
} SvCollCost;

/* Alpha-beta time of collective @op over @group on @hw, @bytes per rank
 * (sv_calib_coll_traffic's convention: all-reduce the buffer, all-gather the
 * gathered output, reduce-scatter the input, all-to-all all a rank sends
 * including its own share, send/recv the message). The fastest of the
 * algorithms and protocols NCCL would consider; see topology.c for the
 * model and its sources. A group of one rank costs 0. Returns the time,
 * also in @cost (may be NULL). */
double sv_topo_coll_time(const SvHw *hw, SvCollOp op, const SvCommGroup *group, double bytes,
                         SvCollCost *cost);

/* vLLM's custom all-reduce (vllm/distributed/device_communicators/
 * custom_all_reduce.py and csrc/custom_all_reduce.cuh): below
 * SV_CUSTOM_AR_MAX_BYTES, for 2, 4, 6 or 8 ranks inside one node whose
 * devices are all directly linked (NVLink or XGMI), vLLM reduces through
 * buffers the ranks read from one another instead of calling NCCL. Below the
 * one-shot limit each rank reads every peer's buffer at once and sums
 * (one-shot); above it, each reduces its 1/n share and then gathers the
 * others' (two-shot). Time of one such all-reduce of @bytes over @group on
 * @hw, also in @cost (may be NULL), or -1 when vLLM would use NCCL (too
 * large, a group size or fabric it does not support, a group across
 * nodes). See topology.c for the fit and its sources. */
#define SV_CUSTOM_AR_MAX_BYTES (8.0 * 1024 * 1024)
double sv_topo_custom_ar_time(const SvHw *hw, const SvCommGroup *group, double bytes,
                              SvCollCost *cost);

G_END_DECLS

#endif /* SV_TOPOLOGY_H */
