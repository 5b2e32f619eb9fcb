/* Tests of placement and collectives (perf/topology.c) and of plan memory
 * and feasibility (perf/plan.c): where a plan's groups land on nodes (TP8 in
 * one NVLink node, TP16 across two, L40S TP2 over PCIe, stages per node,
 * TPU pods), the bandwidths a group gets (switch, mesh, shared NICs), every
 * collective's time hand-computed from NCCL's latency constants and the
 * profile's bandwidths, and KV blocks and refusals with their numbers. */
#include "perf/plan.h"
#include "perf/topology.h"

#include <check.h>
#include <math.h>
#include <string.h>

#include "testutil.h"

#define ck_assert_rel(got, want, tol)                                                              \
    ck_assert_msg(fabs((got) - (want)) <= (tol)*fabs(want), "%s = %.9g, want %.9g (+-%g%%)", #got, \
                  (double)(got), (double)(want), (tol)*100.0)

/* An 8-GPU NVLink node of round numbers: 100 GB/s per device at 50 %
 * efficiency, 5 us messages; one 10 GB/s NIC per device, 20 us; no kernel
 * launch cost, so a collective is its alpha-beta time alone. */
static SvHw node_hw(void)
{
    SvHw hw = sv_test_tiny_hw();
    hw.name = (char *)"node";
    hw.scaleup_kind = (char *)"nvlink";
    return hw;
}

static void expect_group(const SvCommGroup *g, int ranks, int domains, int per_node)
{
    ck_assert_msg(g->ranks == ranks && g->domains == domains && g->per_node == per_node,
                  "group {%d, %d, %d}, want {%d, %d, %d}", g->ranks, g->domains, g->per_node, ranks,
                  domains, per_node);
}

START_TEST(test_placement)
{
    SvHw hw = node_hw();
    SvCommGroup g;
    /* TP8 fills one node: NVLink. TP16 spans two: the network. */
    sv_topo_tp_group(&hw, 8, 1, 1, SV_PLACEMENT_PACKED, &g);
    expect_group(&g, 8, 1, 8);
    ck_assert_int_eq(sv_topo_link_class(&g), SV_LINK_SCALEUP);
    sv_topo_tp_group(&hw, 16, 1, 1, SV_PLACEMENT_PACKED, &g);
    expect_group(&g, 16, 2, 8);
    ck_assert_int_eq(sv_topo_link_class(&g), SV_LINK_SCALEOUT);
    /* TP4 PP2 packs into one node: the stage boundary stays on NVLink... */
    sv_topo_tp_group(&hw, 4, 2, 1, SV_PLACEMENT_PACKED, &g);
    expect_group(&g, 4, 1, 4);
    sv_topo_pp_link(&hw, 4, 2, 1, SV_PLACEMENT_PACKED, 0, &g);
    expect_group(&g, 2, 1, 1);
    ck_assert_int_eq(sv_topo_nodes(&hw, 4, 2, 1, SV_PLACEMENT_PACKED), 1);
    /* ... unless every stage gets its own node: 4 senders share its NICs. */
    sv_topo_pp_link(&hw, 4, 2, 1, SV_PLACEMENT_STAGE_PER_NODE, 0, &g);
    expect_group(&g, 2, 2, 4);
    ck_assert_int_eq(sv_topo_nodes(&hw, 4, 2, 1, SV_PLACEMENT_STAGE_PER_NODE), 2);
    /* TP8 PP2: a node per stage either way, 8 senders per node. */
    sv_topo_pp_link(&hw, 8, 2, 1, SV_PLACEMENT_PACKED, 0, &g);
    expect_group(&g, 2, 2, 8);
    ck_assert_int_eq(sv_topo_nodes(&hw, 8, 2, 1, SV_PLACEMENT_PACKED), 2);
    /* 405B-style TP8 PP4: 4 nodes, every boundary crosses. */
    for (int b = 0; b < 3; b++) {
        sv_topo_pp_link(&hw, 8, 4, 1, SV_PLACEMENT_PACKED, b, &g);
        expect_group(&g, 2, 2, 8);
    }
    ck_assert_int_eq(sv_topo_nodes(&hw, 8, 4, 1, SV_PLACEMENT_PACKED), 4);
    /* Attention DP: the stage's tp x dp devices are the expert group. */
    sv_topo_stage_group(&hw, 2, 1, 4, SV_PLACEMENT_PACKED, &g);
    expect_group(&g, 8, 1, 8);
    sv_topo_stage_group(&hw, 1, 1, 32, SV_PLACEMENT_PACKED, &g);
    expect_group(&g, 32, 4, 8);
    /* TP3 on 8-GPU nodes: the third group straddles (devices 6, 7 | 8). */
    sv_topo_tp_group(&hw, 3, 3, 1, SV_PLACEMENT_PACKED, &g);
    expect_group(&g, 3, 2, 2);
    /* A TPU pod is one ICI domain of 256 chips over hosts of 8. */
    SvHw tpu = node_hw();
    tpu.scaleup_kind = (char *)"ici";
    tpu.scaleup_domain_devices = 256;
    sv_topo_tp_group(&tpu, 16, 1, 1, SV_PLACEMENT_PACKED, &g);
    expect_group(&g, 16, 1, 16);
    ck_assert_int_eq(sv_topo_nodes(&tpu, 16, 1, 1, SV_PLACEMENT_PACKED), 2);
    /* No scale-up fabric: every device is its own domain. */
    SvHw bare = node_hw();
    bare.scaleup_bw_bytes_per_s = 0;
    sv_topo_tp_group(&bare, 2, 1, 1, SV_PLACEMENT_PACKED, &g);
    expect_group(&g, 2, 2, 1);
    /* Profiles without devices_per_node: one domain. */
    SvHw flat = node_hw();
    flat.devices_per_node = 0;
    sv_topo_tp_group(&flat, 64, 1, 1, SV_PLACEMENT_PACKED, &g);
    expect_group(&g, 64, 1, 64);
}
END_TEST

START_TEST(test_bandwidths)
{
    SvHw hw = node_hw();
    ck_assert_rel(sv_topo_intra_bw(&hw, 2), 100e9, 1e-12);
    ck_assert_rel(sv_topo_intra_bw(&hw, 8), 100e9, 1e-12);
    /* MI300X: 7 XGMI links of 64 GB/s, one per peer. */
    SvHw mesh = node_hw();
    mesh.scaleup_topology = SV_FABRIC_MESH;
    mesh.scaleup_bw_bytes_per_s = 448e9;
    mesh.scaleup_peer_bw_bytes_per_s = 64e9;
    ck_assert_rel(sv_topo_intra_bw(&mesh, 2), 64e9, 1e-12);
    ck_assert_rel(sv_topo_intra_bw(&mesh, 4), 192e9, 1e-12);
    ck_assert_rel(sv_topo_intra_bw(&mesh, 8), 448e9, 1e-12);
    /* One NIC per GPU: a group of p devices of a node has p NICs. */
    ck_assert_rel(sv_topo_nic_bw(&hw, 8), 80e9, 1e-12);
    ck_assert_rel(sv_topo_nic_bw(&hw, 1), 10e9, 1e-12);
    /* An L40S server: 4 NICs of 25 GB/s for 8 GPUs, one per pair. */
    SvHw pcie = node_hw();
    pcie.scaleout_nics_per_node = 4;
    pcie.scaleout_nic_bw_bytes_per_s = 25e9;
    pcie.scaleout_bw_bytes_per_s = 12.5e9;
    ck_assert_rel(sv_topo_nic_bw(&pcie, 8), 100e9, 1e-12);
    ck_assert_rel(sv_topo_nic_bw(&pcie, 3), 50e9, 1e-12);
    ck_assert_rel(sv_topo_nic_bw(&pcie, 2), 25e9, 1e-12);
    ck_assert_rel(sv_topo_nic_bw(&pcie, 1), 25e9, 1e-12);
    /* A TPU v5e pod: 2 NICs per 8-chip host, 64 in a 256-chip pod. */
    SvHw tpu = node_hw();
    tpu.scaleup_domain_devices = 256;
    tpu.scaleout_nics_per_node = 2;
    tpu.scaleout_nic_bw_bytes_per_s = 12.5e9;
    ck_assert_rel(sv_topo_nic_bw(&tpu, 256), 800e9, 1e-12);
    ck_assert_rel(sv_topo_nic_bw(&tpu, 16), 50e9, 1e-12);
}
END_TEST

static double coll(const SvHw *hw, SvCollOp op, int ranks, int domains, int per_node, double bytes,
                   SvCollCost *cost)
{
    SvCommGroup g = {ranks, domains, per_node};
    return sv_topo_coll_time(hw, op, &g, bytes, cost);
}

START_TEST(test_all_reduce_nvlink)
{
    SvHw hw = node_hw();
    SvCollCost c;
    /* 1 KiB over TP8 on NVLink: ring with LL, NCCL's 6.6 us base and 14
     * steps of 0.6 us (15 us), then 2 x 7/8 KiB at half the bus bandwidth
     * (LL carries 4 data bytes in 8). A plain alpha-beta ring of 14 x 5 us
     * messages would say 70 us. */
    double t = coll(&hw, SV_COLL_ALL_REDUCE, 8, 1, 8, 1024, &c);
    ck_assert_rel(t, 15.0e-6 + 1792.0 / 25e9, 1e-9);
    ck_assert_int_eq(c.algo, SV_ALGO_RING);
    ck_assert_int_eq(c.proto, SV_PROTO_LL);
    ck_assert_rel(c.latency_s, 15.0e-6, 1e-9);
    ck_assert_int_eq(c.link, SV_LINK_SCALEUP);
    /* 64 MB: Simple, 8.4 + 14 x 3.4 us and 2 x 7/8 x 64 MB at 50 GB/s. */
    t = coll(&hw, SV_COLL_ALL_REDUCE, 8, 1, 8, 64e6, &c);
    ck_assert_rel(t, 56e-6 + 1.75 * 64e6 / 50e9, 1e-9);
    ck_assert_int_eq(c.proto, SV_PROTO_SIMPLE);
    /* With NVLink SHARP, NVLS: 25 us and the buffer once at 60 GB/s. */
    hw.scaleup_nvls = TRUE;
    hw.eff_link_nvls = 0.6;
    t = coll(&hw, SV_COLL_ALL_REDUCE, 8, 1, 8, 64e6, &c);
    ck_assert_rel(t, 25e-6 + 64e6 / 60e9, 1e-9);
    ck_assert_int_eq(c.algo, SV_ALGO_NVLS);
    /* ... but not for small messages, where LL's 15 us wins. */
    coll(&hw, SV_COLL_ALL_REDUCE, 8, 1, 8, 1024, &c);
    ck_assert_int_eq(c.algo, SV_ALGO_RING);
    /* A kernel launch is added to the model time. */
    hw.kernel_launch_s = 4e-6;
    t = coll(&hw, SV_COLL_ALL_REDUCE, 8, 1, 8, 1024, NULL);
    ck_assert_rel(t, 19.0e-6 + 1792.0 / 25e9, 1e-9);
    /* One rank, or nothing to send: free. */
    ck_assert(coll(&hw, SV_COLL_ALL_REDUCE, 1, 1, 1, 1e6, NULL) == 0);
    ck_assert(coll(&hw, SV_COLL_ALL_REDUCE, 8, 1, 8, 0, NULL) == 0);
}
END_TEST

START_TEST(test_all_reduce_h100_small)
{
    /* The shipped H100 profile's numbers without its tables: a TP8
     * all-reduce of a decode step's 64 tokens x 8192 x 2 bytes (1 MiB) and
     * of one token, in NCCL's measured range for small messages (about
     * 20-30 us on DGX H100, nccl-tests). */
    g_autoptr(GError) error = NULL;
    g_autoptr(SvHw) hw = sv_hw_load("h100-sxm", &error);
    ck_assert_msg(hw != NULL, "%s", error ? error->message : "");
    double one = coll(hw, SV_COLL_ALL_REDUCE, 8, 1, 8, 8192 * 2, NULL);
    double step = coll(hw, SV_COLL_ALL_REDUCE, 8, 1, 8, 64 * 8192 * 2, NULL);
    ck_assert_msg(one > 15e-6 && one < 30e-6, "one token: %g s", one);
    ck_assert_msg(step > 15e-6 && step < 40e-6, "64 tokens: %g s", step);
}
END_TEST

START_TEST(test_all_reduce_two_nodes)
{
    SvHw hw = node_hw();
    SvCollCost c;
    /* TP16 over two nodes of 8: the bus bandwidth is the 8 NICs of a node,
     * 80 GB/s (below NVLink's 100), x 0.5. Small: the tree with LL,
     * 6.8 + 2 x (7 x 0.6 + log2(2) x 5.0) us, at 40 x 0.92 / 3.8 x 0.5. */
    double t = coll(&hw, SV_COLL_ALL_REDUCE, 16, 2, 8, 1024, &c);
    ck_assert_rel(t, 25.2e-6 + 1024.0 / (0.5 * 40e9 * 0.92 / 3.8), 1e-9);
    ck_assert_int_eq(c.algo, SV_ALGO_TREE);
    ck_assert_int_eq(c.proto, SV_PROTO_LL);
    ck_assert_int_eq(c.link, SV_LINK_SCALEOUT);
    /* Large: the ring with Simple, 8.4 + 28 intra steps x 3.4 + 2 network
     * steps x 14 us, then 2 x 15/16 of 64 MB at 40 GB/s. */
    t = coll(&hw, SV_COLL_ALL_REDUCE, 16, 2, 8, 64e6, &c);
    ck_assert_rel(t, 131.6e-6 + 2.0 * 15 / 16 * 64e6 / 40e9, 1e-9);
    ck_assert_int_eq(c.algo, SV_ALGO_RING);
    ck_assert_int_eq(c.proto, SV_PROTO_SIMPLE);
}
END_TEST

START_TEST(test_pcie)
{
    /* L40S: PCIe Gen4, 32 GB/s at 0.7; NCCL's PCIe latencies, no LL128. */
    SvHw hw = node_hw();
    hw.scaleup_kind = (char *)"pcie";
    hw.scaleup_bw_bytes_per_s = 32e9;
    hw.eff_link = 0.7;
    SvCommGroup g;
    sv_topo_tp_group(&hw, 2, 1, 1, SV_PLACEMENT_PACKED, &g);
    ck_assert_int_eq(sv_topo_link_class(&g), SV_LINK_SCALEUP);
    SvCollCost c;
    double t = sv_topo_coll_time(&hw, SV_COLL_ALL_REDUCE, &g, 1024, &c);
    /* Ring LL: 6.6 + 2 x 1.0 us, 1 KiB at 32 x 0.7 x 0.5 GB/s. */
    ck_assert_rel(t, 8.6e-6 + 1024.0 / 11.2e9, 1e-9);
    ck_assert_int_eq(c.proto, SV_PROTO_LL);
    /* Large: Simple (8.4 + 2 x 5.7 us), never LL128 over PCIe. */
    t = sv_topo_coll_time(&hw, SV_COLL_ALL_REDUCE, &g, 16e6, &c);
    ck_assert_rel(t, 19.8e-6 + 16e6 / 22.4e9, 1e-9);
    ck_assert_int_eq(c.proto, SV_PROTO_SIMPLE);
    for (int bytes = 1024; bytes < (1 << 30); bytes *= 4) {
        sv_topo_coll_time(&hw, SV_COLL_ALL_REDUCE, &g, bytes, &c);
        ck_assert_int_ne(c.proto, SV_PROTO_LL128);
    }
}
END_TEST

/* vLLM's custom all-reduce on the round-number node (100 GB/s, 0.5, 5 us):
 * one-shot is one message plus n - 1 peers' buffers at 50 GB/s, two-shot
 * two messages plus 2 (n - 1)/n of the buffer at 0.44 x 100 GB/s; vLLM's
 * own limits decide which applies and when NCCL takes over. */
START_TEST(test_custom_all_reduce)
{
    SvHw hw = node_hw();
    hw.scaleup_kind = (char *)"nvlink";
    SvCommGroup tp4 = {4, 1, 4}, tp8 = {8, 1, 8}, tp2 = {2, 1, 2};
    SvCollCost c;
    /* TP4, 128 KiB (below 512 KiB): one-shot. */
    double t = sv_topo_custom_ar_time(&hw, &tp4, 131072, &c);
    ck_assert_rel(t, 5e-6 + 3.0 * 131072 / 50e9, 1e-12);
    ck_assert_int_eq(c.algo, SV_ALGO_CUSTOM);
    ck_assert_int_eq(c.link, SV_LINK_SCALEUP);
    ck_assert_rel(c.latency_s, 5e-6, 1e-12);
    /* TP4, 1 MiB: two-shot. */
    t = sv_topo_custom_ar_time(&hw, &tp4, 1048576, &c);
    ck_assert_rel(t, 10e-6 + 1.5 * 1048576 / 44e9, 1e-12);
    /* TP8 switches at 256 KiB: just below one-shot, at it two-shot. */
    t = sv_topo_custom_ar_time(&hw, &tp8, 262143, NULL);
    ck_assert_rel(t, 5e-6 + 7.0 * 262143 / 50e9, 1e-12);
    t = sv_topo_custom_ar_time(&hw, &tp8, 262144, NULL);
    ck_assert_rel(t, 10e-6 + 1.75 * 262144 / 44e9, 1e-12);
    /* TP2 is always one-shot, up to (not including) 8 MiB. */
    t = sv_topo_custom_ar_time(&hw, &tp2, 4194304, NULL);
    ck_assert_rel(t, 5e-6 + 4194304 / 50e9, 1e-12);
    ck_assert(sv_topo_custom_ar_time(&hw, &tp2, 8388608, NULL) < 0);
    /* NCCL instead: 3 ranks, a group across two nodes, PCIe, no bytes. */
    SvCommGroup tp3 = {3, 1, 3}, tp16 = {16, 2, 8};
    ck_assert(sv_topo_custom_ar_time(&hw, &tp3, 1024, NULL) < 0);
    ck_assert(sv_topo_custom_ar_time(&hw, &tp16, 1024, NULL) < 0);
    ck_assert(sv_topo_custom_ar_time(&hw, &tp4, 0, NULL) < 0);
    hw.scaleup_kind = (char *)"pcie";
    ck_assert(sv_topo_custom_ar_time(&hw, &tp2, 1024, NULL) < 0);
    /* An XGMI mesh of 8 (peer links of 100 / 7 GB/s each): one-shot reads
     * each peer over its own link, n - 1 of them, so 1 x bytes per peer. */
    hw.scaleup_kind = (char *)"xgmi";
    hw.scaleup_topology = SV_FABRIC_MESH;
    hw.scaleup_peer_bw_bytes_per_s = 100e9 / 7;
    t = sv_topo_custom_ar_time(&hw, &tp8, 65536, NULL);
    ck_assert_rel(t, 5e-6 + 7.0 * 65536 / 50e9, 1e-9);
}
END_TEST

START_TEST(test_gather_scatter)
{
    SvHw hw = node_hw();
    SvCollCost c;
    /* Ring only: 8.4 + 7 x 3.4 us and 7/8 of 8 MB at 50 GB/s. */
    double t = coll(&hw, SV_COLL_ALL_GATHER, 8, 1, 8, 8e6, &c);
    ck_assert_rel(t, 32.2e-6 + 7.0 / 8 * 8e6 / 50e9, 1e-9);
    ck_assert_int_eq(c.algo, SV_ALGO_RING);
    ck_assert_rel(coll(&hw, SV_COLL_REDUCE_SCATTER, 8, 1, 8, 8e6, NULL), t, 1e-12);
    /* NVLS does not apply to them here. */
    hw.scaleup_nvls = TRUE;
    hw.eff_link_nvls = 0.9;
    coll(&hw, SV_COLL_ALL_GATHER, 8, 1, 8, 8e6, &c);
    ck_assert_int_eq(c.algo, SV_ALGO_RING);
}
END_TEST

START_TEST(test_all_to_all_and_send_recv)
{
    SvHw hw = node_hw();
    SvCollCost c;
    /* EP8 in a node: one 5 us message plus 7 peers x 0.6 us to issue, and
     * the 7/8 of 1 MB for peers at 50 GB/s. */
    double t = coll(&hw, SV_COLL_ALL_TO_ALL, 8, 1, 8, 1e6, &c);
    ck_assert_rel(t, 9.2e-6 + 7.0 / 8 * 1e6 / 50e9, 1e-9);
    ck_assert_int_eq(c.algo, SV_ALGO_DIRECT);
    /* EP16 over two nodes: 20 us + 15 x 0.6 us; half the bytes leave the
     * node, the 8 devices sharing its 80 GB/s x 0.5, while 7/16 go over
     * NVLink: the network is the slower. */
    t = coll(&hw, SV_COLL_ALL_TO_ALL, 16, 2, 8, 1e6, &c);
    ck_assert_rel(t, 29e-6 + 0.5 * 1e6 / (80e9 * 0.5 / 8), 1e-9);
    ck_assert_int_eq(c.link, SV_LINK_SCALEOUT);
    /* Send/recv inside a node; across nodes with 8 senders per node. */
    ck_assert_rel(coll(&hw, SV_COLL_SEND_RECV, 2, 1, 1, 1e6, NULL), 5e-6 + 1e6 / 50e9, 1e-9);
    ck_assert_rel(coll(&hw, SV_COLL_SEND_RECV, 2, 2, 8, 1e6, NULL), 20e-6 + 1e6 / (80e9 * 0.5 / 8),
                  1e-9);
    /* On a mesh a pair has one peer link. */
    SvHw mesh = node_hw();
    mesh.scaleup_topology = SV_FABRIC_MESH;
    mesh.scaleup_bw_bytes_per_s = 448e9;
    mesh.scaleup_peer_bw_bytes_per_s = 64e9;
    ck_assert_rel(coll(&mesh, SV_COLL_SEND_RECV, 2, 1, 1, 1e6, NULL), 5e-6 + 1e6 / 32e9, 1e-9);
}
END_TEST

START_TEST(test_names)
{
    ck_assert_str_eq(sv_coll_algo_name(SV_ALGO_NVLS), "nvls");
    ck_assert_str_eq(sv_coll_proto_name(SV_PROTO_LL128), "LL128");
    ck_assert_str_eq(sv_placement_names[SV_PLACEMENT_STAGE_PER_NODE], "stage-per-node");
}
END_TEST

/* ---------------------------------------------------------------- plan -- */

static SvPlan bf16_plan(int tp, int pp, int ep, int dp)
{
    SvPlan p = {.tp = tp,
                .pp = pp,
                .ep = ep,
                .act_dtype = SV_DTYPE_BF16,
                .weight_dtype = SV_DTYPE_BF16,
                .kv_dtype = SV_DTYPE_BF16,
                .dp = dp};
    return p;
}

START_TEST(test_plan_memory)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = node_hw();
    SvPlan plan = bf16_plan(1, 1, 1, 1);
    SvPlanMemory mem;
    sv_plan_memory(&m, &hw, &plan, 0.9, 16, &mem);
    ck_assert_rel(mem.weight_bytes, 64923648.0, 1e-12);
    /* 2 layers x 2 x 4 heads x 64 x 2 bytes = 2048 bytes per token. */
    ck_assert_rel(mem.kv_bytes_per_token, 2048.0, 1e-12);
    ck_assert_int_eq(mem.blocks, 2195284); /* (72e9 - 64923648) / 32768 */
    ck_assert_int_eq(mem.devices, 1);
    /* Layer 0 windowed, layer 1 full: vLLM's hybrid KV cache manager pages
     * the pool at the full layer's size, so a block holds one layer's 16
     * tokens (1024 bytes a token) and the pool twice the blocks. */
    SvModel sw = sv_test_tiny_model(2);
    sw.sliding_window = 128;
    sw.sliding_window_every = 2;
    sv_plan_memory(&sw, &hw, &plan, 0.9, 16, &mem);
    ck_assert_rel(mem.kv_bytes_per_token, 1024.0, 1e-12);
    ck_assert_int_eq(mem.blocks, 4390568); /* (72e9 - 64923648) / 16384 */
    ck_assert_int_eq(mem.layers_per_stage, 2);
    /* Every layer windowed (no full-attention group): the plain count. */
    sw.sliding_window_every = 0;
    sv_plan_memory(&sw, &hw, &plan, 0.9, 16, &mem);
    ck_assert_rel(mem.kv_bytes_per_token, 2048.0, 1e-12);
    /* gpt-oss-120b: 18 full-attention layers of 36, 8 KV heads of 64 in
     * bf16: 18 x 2 x 8 x 64 x 2 = 36864 bytes a token (36 layers before). */
    g_autoptr(GError) error = NULL;
    g_autoptr(SvModel) oss = sv_model_load("gpt-oss-120b", &error);
    ck_assert_msg(oss != NULL, "%s", error ? error->message : "?");
    sv_plan_memory(oss, &hw, &plan, 0.9, 16, &mem);
    ck_assert_rel(mem.kv_bytes_per_token, 36864.0, 1e-12);
    /* Attention data parallelism: each rank its own cache. */
    SvModel moe = sv_test_tiny_model(2);
    moe.intermediate_size = 0;
    moe.num_experts = 8;
    moe.experts_per_token = 2;
    moe.moe_intermediate_size = 512;
    SvPlan dp = bf16_plan(1, 1, 2, 2);
    sv_plan_memory(&moe, &hw, &dp, 0.9, 16, &mem);
    ck_assert_int_eq(mem.blocks, 2 * mem.blocks_per_rank);
    ck_assert_int_eq(mem.devices, 2);
    /* Each device: attention, embedding and head whole, half the experts. */
    double experts = 2.0 * 8 * 3 * 1024 * 512 * 2;
    SvPlan one = bf16_plan(1, 1, 1, 1);
    SvPlanMemory mem1;
    sv_plan_memory(&moe, &hw, &one, 0.9, 16, &mem1);
    ck_assert_rel(mem1.weight_bytes - mem.weight_bytes, experts / 2, 1e-9);
}
END_TEST

static void expect_fit(const SvModel *m, const SvHw *hw, double util, int max_len, SvPlanFit want,
                       const char *const *texts)
{
    SvPlan plan = bf16_plan(1, 1, 1, 1);
    g_autoptr(GError) error = NULL;
    SvPlanFit got = sv_plan_check_fit(m, hw, &plan, util, 16, max_len, NULL, &error);
    ck_assert_int_eq(got, want);
    if (want == SV_FIT_OK) {
        ck_assert_ptr_null(error);
        return;
    }
    ck_assert(g_error_matches(error, SV_PLAN_ERROR, SV_ERROR_INFEASIBLE));
    for (const char *const *t = texts; *t != NULL; t++)
        ck_assert_msg(strstr(error->message, *t) != NULL, "'%s' lacks '%s'", error->message, *t);
}

START_TEST(test_plan_fit)
{
    SvModel m = sv_test_tiny_model(2);
    SvHw hw = node_hw();
    expect_fit(&m, &hw, 0.9, 32768, SV_FIT_OK, NULL);
    /* Weights alone do not fit 50 MB. */
    hw.mem_capacity_bytes = 50e6;
    const char *const w[] = {"weights need 0.1 GB per device but node offers 0.0 GB", NULL};
    expect_fit(&m, &hw, 0.9, 32768, SV_FIT_WEIGHTS, w);
    /* Weights fit 66 MB but the reserves leave 16,352 bytes, less than one
     * 32 KiB block. */
    hw.mem_capacity_bytes = 66e6;
    hw.activation_workspace_bytes = 1.06e6;
    const char *const r2[] = {"leave no room for one KV block", "short by 0.00 GB", NULL};
    expect_fit(&m, &hw, 1.0, 32768, SV_FIT_WEIGHTS, r2);
    /* 100 MB: 35,076,352 bytes of KV, 1070 blocks = 17,120 tokens; a
     * 32,768-token sequence needs 2048 blocks, 0.07 GB. */
    hw.mem_capacity_bytes = 100e6;
    hw.activation_workspace_bytes = 0;
    const char *const l[] = {"max_model_len 32768 needs 0.07 GB of KV cache per device",
                             "2048 bytes per token over the 2 layers", "node has 0.04 GB left",
                             NULL};
    expect_fit(&m, &hw, 1.0, 32768, SV_FIT_MAX_LEN, l);
    expect_fit(&m, &hw, 1.0, 17120, SV_FIT_OK, NULL);
    expect_fit(&m, &hw, 1.0, 17121, SV_FIT_MAX_LEN, l + 2);
    /* Sliding-window models are not held to one full sequence. */
    m.sliding_window = 128;
    expect_fit(&m, &hw, 1.0, 32768, SV_FIT_OK, NULL);
}
END_TEST

Suite *topology_suite(void)
{
    Suite *s = suite_create("topology");
    TCase *tp = tcase_create("placement");
    tcase_add_test(tp, test_placement);
    tcase_add_test(tp, test_bandwidths);
    suite_add_tcase(s, tp);
    TCase *tc = tcase_create("collectives");
    tcase_add_test(tc, test_all_reduce_nvlink);
    tcase_add_test(tc, test_all_reduce_h100_small);
    tcase_add_test(tc, test_all_reduce_two_nodes);
    tcase_add_test(tc, test_pcie);
    tcase_add_test(tc, test_custom_all_reduce);
    tcase_add_test(tc, test_gather_scatter);
    tcase_add_test(tc, test_all_to_all_and_send_recv);
    tcase_add_test(tc, test_names);
    suite_add_tcase(s, tc);
    TCase *tm = tcase_create("plan");
    tcase_add_test(tm, test_plan_memory);
    tcase_add_test(tm, test_plan_fit);
    suite_add_tcase(s, tm);
    return s;
}
