/* Tests of the hardware-profile loader: every shipped profile loads and holds
 * the spec-sheet numbers of hwspecs.md in SI units, every validation branch
 * reports its file:line:col, and sv_hw_matmul_peak follows its dtype rules. */
#include "hw/hw.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

static const char *const shipped[] = {
    "a100-sxm-40g", "a100-sxm-80g", "h100-sxm",    "h200-sxm", "b200",    "l40s", "mi300x",
    "gaudi2",       "gaudi3",       "ascend-910b", "tpu-v5e",  "tpu-v5p", "a40"};

#define ck_assert_rel(a, b)                                                                        \
    ck_assert_msg(fabs((double)(a) - (double)(b)) <= 1e-9 * fabs((double)(b)),                     \
                  "%s = %.17g, want %.17g", #a, (double)(a), (double)(b))

static SvHw *load_ok(const char *name)
{
    GError *error = NULL;
    SvHw *hw = sv_hw_load(name, &error);
    ck_assert_msg(hw != NULL, "%s: %s", name, error ? error->message : "?");
    return hw;
}

/* A minimal valid profile; @extra lines are appended at top level, and
 * @replace_key, when set, drops the line starting with it. */
static const char *const minimal_lines[] = {
    "peak_tflops: {bfloat16: 100, fp8: 200}\n",
    "memory_gb: 40\n",
    "memory_bandwidth_gb_s: 1000\n",
    "power: {idle_w: 50, max_w: 300}\n",
};

static char *write_profile(const char *drop, const char *extra)
{
    GString *s = g_string_new("# test profile\n");
    for (size_t i = 0; i < G_N_ELEMENTS(minimal_lines); i++)
        if (drop == NULL || !g_str_has_prefix(minimal_lines[i], drop))
            g_string_append(s, minimal_lines[i]);
    if (extra != NULL)
        g_string_append(s, extra);
    char *path = sv_test_write_tmp(s->str, ".yaml");
    g_string_free(s, TRUE);
    return path;
}

/* Load a profile expected to fail; returns the message (transfer full) after
 * checking the domain and that it starts with "PATH:LINE:COL: ". */
static char *load_fail_at(const char *path, int line, int col)
{
    GError *error = NULL;
    SvHw *hw = sv_hw_load(path, &error);
    ck_assert_msg(hw == NULL, "%s loaded but should fail", path);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(error->domain == SV_HW_ERROR, "domain %s", g_quark_to_string(error->domain));
    g_autofree char *prefix = g_strdup_printf("%s:%d:%d: ", path, line, col);
    ck_assert_msg(g_str_has_prefix(error->message, prefix), "message '%s' lacks prefix '%s'",
                  error->message, prefix);
    char *msg = g_strdup(error->message);
    g_error_free(error);
    return msg;
}

static void assert_contains(const char *msg, const char *part)
{
    ck_assert_msg(strstr(msg, part) != NULL, "'%s' lacks '%s'", msg, part);
}

START_TEST(test_all_shipped_load)
{
    for (size_t i = 0; i < G_N_ELEMENTS(shipped); i++) {
        g_autoptr(SvHw) hw = load_ok(shipped[i]);
        ck_assert_str_eq(hw->name, shipped[i]);
        ck_assert(hw->peak_flops[SV_DTYPE_BF16] > 0 || hw->peak_flops[SV_DTYPE_FP16] > 0);
        ck_assert(hw->mem_capacity_bytes > 1e9 && hw->mem_bw_bytes_per_s > 1e11);
        ck_assert(hw->idle_power_w > 0 && hw->idle_power_w < hw->max_power_w);
        ck_assert(hw->eff_matmul > 0 && hw->eff_matmul <= 1);
        ck_assert(hw->eff_mem > 0 && hw->eff_mem <= 1);
        ck_assert(hw->eff_link > 0 && hw->eff_link <= 1);
        ck_assert(hw->devices_per_node >= 1);
        ck_assert_int_ge(hw->scaleup_domain_devices, hw->devices_per_node);
        ck_assert(hw->scaleout_bw_bytes_per_s > 0 && hw->host_bw_bytes_per_s > 0);
        ck_assert(hw->vector_flops > 0);
        /* Overheads are in seconds: a mistaken unit would make them >= 1 s. */
        ck_assert(hw->host_overhead_iter_s > 0 && hw->host_overhead_iter_s < 0.1);
        ck_assert(hw->kernel_launch_s > 0 && hw->kernel_launch_s < 1e-3);
        ck_assert(hw->activation_workspace_bytes + hw->runtime_reserve_bytes <
                  0.2 * hw->mem_capacity_bytes);
        ck_assert_ptr_nonnull(hw->description);
        ck_assert_ptr_nonnull(hw->scaleup_kind);
        ck_assert(g_str_has_suffix(hw->source, ".yaml"));
    }
}
END_TEST

/* The repo's list of profiles is exactly the shipped set (a new profile must
 * be added to the checks above). */
START_TEST(test_list_matches)
{
    g_auto(GStrv) names = sv_data_list("hwprofiles", ".yaml");
    ck_assert_uint_eq(g_strv_length(names), G_N_ELEMENTS(shipped));
    for (size_t i = 0; i < G_N_ELEMENTS(shipped); i++)
        ck_assert_msg(g_strv_contains((const char *const *)names, shipped[i]), "%s", shipped[i]);
}
END_TEST

START_TEST(test_h100_numbers)
{
    g_autoptr(SvHw) hw = load_ok("h100-sxm");
    ck_assert_rel(hw->peak_flops[SV_DTYPE_BF16], 989e12);
    ck_assert_rel(hw->peak_flops[SV_DTYPE_FP16], 989e12);
    ck_assert_rel(hw->peak_flops[SV_DTYPE_FP8], 1979e12);
    ck_assert(hw->peak_flops[SV_DTYPE_FP4] == 0); /* Hopper has no FP4 */
    ck_assert_rel(hw->mem_bw_bytes_per_s, 3.35e12);
    /* memory_runtime_gib, not the datasheet's 80 GB. */
    ck_assert_rel(hw->mem_capacity_bytes, 79.2 * 1073741824.0);
    ck_assert_rel(hw->scaleup_bw_bytes_per_s, 450e9);
    ck_assert_str_eq(hw->scaleup_kind, "nvlink");
    ck_assert_str_eq(hw->vendor, "nvidia");
    ck_assert_rel(hw->scaleout_bw_bytes_per_s, 50e9);
    ck_assert_rel(hw->scaleup_latency_s, 5e-6);
    ck_assert_rel(hw->max_power_w, 700);
    ck_assert_rel(hw->idle_power_w, 75);
    ck_assert_rel(hw->eff_matmul, 0.80);
    ck_assert_int_eq(hw->devices_per_node, 8);
    ck_assert_rel(hw->host_overhead_iter_s, 1e-3);
    ck_assert_rel(hw->runtime_reserve_bytes, 1.5e9);
}
END_TEST

/* The A40's datasheet numbers and its calibrated GEMM tables (Vidur's
 * profiles of six models). */
START_TEST(test_a40_numbers)
{
    g_autoptr(SvHw) hw = load_ok("a40");
    ck_assert_rel(hw->peak_flops[SV_DTYPE_BF16], 149.7e12);
    ck_assert(hw->peak_flops[SV_DTYPE_FP8] == 0); /* Ampere has no FP8 */
    ck_assert_rel(hw->mem_bw_bytes_per_s, 696e9);
    ck_assert_rel(hw->mem_capacity_bytes, 44.35 * 1073741824.0);
    ck_assert_str_eq(hw->scaleup_kind, "pcie");
    ck_assert_rel(hw->scaleup_bw_bytes_per_s, 32e9);
    ck_assert_rel(hw->max_power_w, 300);
    ck_assert_ptr_nonnull(hw->calib);
    ck_assert_int_eq(hw->calib->num_gemm, 69);
    ck_assert_int_eq(hw->calib->num_coll, 0);
}
END_TEST

START_TEST(test_other_numbers)
{
    g_autoptr(SvHw) mi = load_ok("mi300x");
    ck_assert_rel(mi->mem_capacity_bytes, 191.45 * 1073741824.0);
    ck_assert_rel(mi->mem_bw_bytes_per_s, 5.3e12);
    ck_assert_str_eq(mi->scaleup_kind, "xgmi");
    g_autoptr(SvHw) l40s = load_ok("l40s");
    ck_assert(strcmp(l40s->scaleup_kind, "pcie") == 0 || l40s->scaleup_bw_bytes_per_s == 0);
    ck_assert_rel(l40s->mem_capacity_bytes, 44.39 * 1073741824.0);
    g_autoptr(SvHw) a40 = load_ok("a100-sxm-40g");
    ck_assert_rel(a40->mem_capacity_bytes, 39.5 * 1073741824.0);
    ck_assert_rel(a40->mem_bw_bytes_per_s, 1555e9);
    ck_assert_rel(a40->peak_flops[SV_DTYPE_BF16], 312e12);
    ck_assert(a40->peak_flops[SV_DTYPE_FP8] == 0); /* Ampere: no FP8 */
    g_autoptr(SvHw) a80 = load_ok("a100-sxm-80g");
    ck_assert_rel(a80->mem_bw_bytes_per_s, 2039e9);
    g_autoptr(SvHw) h200 = load_ok("h200-sxm");
    ck_assert_rel(h200->mem_capacity_bytes, 139.81 * 1073741824.0);
    ck_assert_rel(h200->mem_bw_bytes_per_s, 4.8e12);
    g_autoptr(SvHw) b200 = load_ok("b200");
    ck_assert_rel(b200->peak_flops[SV_DTYPE_FP4], 9000e12);
    ck_assert_rel(b200->mem_capacity_bytes, 179.06 * 1073741824.0);
    ck_assert_rel(b200->scaleup_bw_bytes_per_s, 900e9);
    g_autoptr(SvHw) g3 = load_ok("gaudi3");
    ck_assert_rel(g3->peak_flops[SV_DTYPE_BF16], 1677e12);
    ck_assert_rel(g3->peak_flops[SV_DTYPE_FP16], 459e12);
    g_autoptr(SvHw) v5e = load_ok("tpu-v5e");
    ck_assert_int_eq(v5e->scaleup_domain_devices, 256);
    ck_assert_rel(v5e->mem_capacity_bytes, 16e9);
    /* Topology: NVLink SHARP on Hopper and Blackwell, not Ampere; meshes;
     * NICs per node (and the per-device share they give). */
    g_autoptr(SvHw) h100 = load_ok("h100-sxm");
    ck_assert(h100->scaleup_nvls);
    ck_assert_rel(h100->eff_link_nvls, 0.60);
    ck_assert_int_eq(h100->scaleup_topology, SV_FABRIC_SWITCH);
    ck_assert_int_eq(h100->scaleout_nics_per_node, 8);
    ck_assert_rel(h100->scaleout_nic_bw_bytes_per_s, 50e9);
    ck_assert(b200->scaleup_nvls && h200->scaleup_nvls && !a80->scaleup_nvls);
    ck_assert_int_eq(mi->scaleup_topology, SV_FABRIC_MESH);
    ck_assert_rel(mi->scaleup_peer_bw_bytes_per_s, 64e9);
    ck_assert_int_eq(g3->scaleup_topology, SV_FABRIC_MESH);
    ck_assert_rel(g3->scaleup_peer_bw_bytes_per_s, 525e9 / 7);
    ck_assert_int_eq(l40s->scaleup_topology, SV_FABRIC_SWITCH);
    ck_assert_int_eq(l40s->scaleout_nics_per_node, 4);
    ck_assert_rel(l40s->scaleout_nic_bw_bytes_per_s, 25e9);
    ck_assert_rel(l40s->scaleout_bw_bytes_per_s, 12.5e9);
    ck_assert_int_eq(v5e->scaleout_nics_per_node, 2);
    ck_assert_rel(v5e->scaleout_bw_bytes_per_s, 3.125e9);
}
END_TEST

START_TEST(test_copy)
{
    g_autoptr(SvHw) hw = load_ok("h100-sxm");
    g_autoptr(SvHw) c = sv_hw_copy(hw);
    ck_assert_ptr_ne(c->name, hw->name);
    ck_assert_str_eq(c->name, hw->name);
    ck_assert_str_eq(c->scaleup_kind, hw->scaleup_kind);
    ck_assert(memcmp(c->peak_flops, hw->peak_flops, sizeof hw->peak_flops) == 0);
    ck_assert_rel(c->mem_bw_bytes_per_s, hw->mem_bw_bytes_per_s);
    sv_hw_free(NULL);
}
END_TEST

START_TEST(test_unknown_name)
{
    GError *error = NULL;
    ck_assert_ptr_null(sv_hw_load("h100", &error));
    ck_assert_int_eq(error->code, SV_ERROR_NOT_FOUND);
    ck_assert(error->domain == SV_HW_ERROR);
    ck_assert_str_eq(error->message, "unknown hardware 'h100' (did you mean 'h100-sxm'?)");
    g_clear_error(&error);
    ck_assert_ptr_null(sv_hw_load("mi300", &error));
    ck_assert_str_eq(error->message, "unknown hardware 'mi300' (did you mean 'mi300x'?)");
    g_clear_error(&error);
    /* Several profiles extend the name: all are offered. */
    ck_assert_ptr_null(sv_hw_load("a100", &error));
    ck_assert_str_eq(error->message,
                     "unknown hardware 'a100' (did you mean 'a100-sxm-40g' or 'a100-sxm-80g'?)");
    g_clear_error(&error);
    /* A typo: the nearest by edit distance. */
    ck_assert_ptr_null(sv_hw_load("h100-sxn", &error));
    ck_assert_str_eq(error->message, "unknown hardware 'h100-sxn' (did you mean 'h100-sxm'?)");
    g_clear_error(&error);
    /* Nothing close: the message lists what exists. */
    ck_assert_ptr_null(sv_hw_load("quantum-abacus", &error));
    assert_contains(error->message, "unknown hardware 'quantum-abacus' (known: a100-sxm-40g");
    g_clear_error(&error);
    ck_assert_ptr_null(sv_hw_load("no/such/profile.yaml", &error));
    ck_assert_int_eq(error->code, SV_ERROR_NOT_FOUND);
    ck_assert_str_eq(error->message, "no/such/profile.yaml: hardware profile file not found");
    g_clear_error(&error);
}
END_TEST

START_TEST(test_load_by_path_and_defaults)
{
    g_autofree char *path = write_profile(NULL, NULL);
    GError *error = NULL;
    g_autoptr(SvHw) hw = sv_hw_load(path, &error);
    ck_assert_msg(hw != NULL, "%s", error ? error->message : "");
    /* Name from the file name; the defaults of hwprofiles/README.md. */
    g_autofree char *base = g_path_get_basename(path);
    base[strlen(base) - 5] = '\0';
    ck_assert_str_eq(hw->name, base);
    ck_assert_str_eq(hw->vendor, "other");
    ck_assert_rel(hw->peak_flops[SV_DTYPE_FP8], 200e12);
    ck_assert(hw->peak_flops[SV_DTYPE_FP16] == 0);
    ck_assert_rel(hw->vector_flops, 100e12 / 16);
    ck_assert_int_eq(hw->devices_per_node, 8);
    ck_assert_str_eq(hw->scaleup_kind, "pcie");
    ck_assert_rel(hw->scaleup_bw_bytes_per_s, 32e9);
    ck_assert_rel(hw->eff_matmul, 0.7);
    ck_assert_rel(hw->eff_mem, 0.8);
    ck_assert_rel(hw->host_overhead_req_s, 20e-6);
    ck_assert_rel(hw->activation_workspace_bytes, 2e9);
    g_unlink(path);

    /* Idle power defaults to 10 % of max. */
    g_autofree char *p2 = write_profile("power", "power: {max_w: 400}\n");
    g_autoptr(SvHw) hw2 = sv_hw_load(p2, &error);
    ck_assert_msg(hw2 != NULL, "%s", error ? error->message : "");
    ck_assert_rel(hw2->idle_power_w, 40);
    g_unlink(p2);

    /* Scale-out NICs: one per device by default; nics_per_node alone
     * shares the per-device bandwidth over that many NICs. */
    ck_assert_int_eq(hw->scaleout_nics_per_node, 8);
    ck_assert_rel(hw->scaleout_nic_bw_bytes_per_s, 25e9);
    ck_assert_int_eq(hw->scaleup_topology, SV_FABRIC_SWITCH);
    ck_assert(!hw->scaleup_nvls && hw->eff_link_nvls == 0);
    g_autofree char *p4 =
        write_profile(NULL, "scaleout: {bandwidth_gb_s: 12.5, nics_per_node: 2}\n"
                            "scaleup: {kind: xgmi, bandwidth_gb_s: 448, topology: mesh}\n");
    g_autoptr(SvHw) hw4 = sv_hw_load(p4, &error);
    ck_assert_msg(hw4 != NULL, "%s", error ? error->message : "");
    ck_assert_rel(hw4->scaleout_nic_bw_bytes_per_s, 50e9);
    ck_assert_rel(hw4->scaleup_peer_bw_bytes_per_s, 64e9); /* 448 / 7 peers */
    g_unlink(p4);

    /* kind: none means no fabric and zero bandwidth. */
    g_autofree char *p3 = write_profile(NULL, "scaleup: {kind: none}\n");
    g_autoptr(SvHw) hw3 = sv_hw_load(p3, &error);
    ck_assert_msg(hw3 != NULL, "%s", error ? error->message : "");
    ck_assert(hw3->scaleup_bw_bytes_per_s == 0);
    g_unlink(p3);
}
END_TEST

/* Each case: lines dropped/added, the expected line:col and message part.
 * Line 1 is the comment, lines 2-5 the minimal keys, extras from line 6 (5
 * when one line is dropped). */
typedef struct {
    const char *drop;
    const char *extra;
    int line, col;
    const char *part;
} BadCase;

static const BadCase bad_cases[] = {
    {NULL, "memory_bandwith_gb_s: 5\n", 6, 1,
     "unknown key 'memory_bandwith_gb_s' in hardware profile (did you mean "
     "'memory_bandwidth_gb_s'?)"},
    {NULL, "scaleup: {kind: nvlink, bandwith_gb_s: 450}\n", 6, 25,
     "unknown key 'bandwith_gb_s' in scaleup (did you mean 'bandwidth_gb_s'?)"},
    {"peak_tflops", "peak_tflops: {bfloat_16: 100}\n", 5, 15,
     "unknown key 'bfloat_16' in peak_tflops (did you mean 'bfloat16'?)"},
    {"memory_bandwidth", "memory_bandwidth_gb_s: -3350\n", 5, 24,
     "memory_bandwidth_gb_s must be greater than 0, got -3350"},
    {"memory_bandwidth", "memory_bandwidth_gb_s: 0\n", 5, 24,
     "memory_bandwidth_gb_s must be greater than 0"},
    {"memory_gb", NULL, 2, 1, "missing required key 'memory_gb'"},
    {"memory_bandwidth", NULL, 2, 1, "missing required key 'memory_bandwidth_gb_s'"},
    {"peak_tflops", NULL, 2, 1, "missing required key 'peak_tflops'"},
    {"power", NULL, 2, 1, "missing required key 'power'"},
    {"power", "power: {idle_w: 10}\n", 5, 8, "missing required key 'power.max_w'"},
    {"peak_tflops", "peak_tflops: {fp8: 100}\n", 5, 14, "needs a bfloat16 or float16 entry"},
    {"peak_tflops", "peak_tflops: {bfloat16: 0}\n", 5, 25,
     "peak_tflops.bfloat16 must be greater than 0"},
    {"peak_tflops", "peak_tflops: 989\n", 5, 14, "peak_tflops must be a map"},
    {"memory_gb", "memory_gb: lots\n", 5, 12, "memory_gb must be a number, got 'lots'"},
    {"power", "power: {idle_w: 300, max_w: 300}\n", 5, 17,
     "power.idle_w (300 W) must be below power.max_w (300 W)"},
    {NULL, "efficiency: {matmul: 1.2}\n", 6, 22, "efficiency.matmul must be at most 1, got 1.2"},
    {NULL, "efficiency: {link: 0}\n", 6, 20, "efficiency.link must be greater than 0"},
    {NULL, "scaleup: {kind: nvlnk, bandwidth_gb_s: 450}\n", 6, 17,
     "unknown scaleup.kind 'nvlnk' (did you mean 'nvlink'?)"},
    {NULL, "scaleup: {bandwidth_gb_s: 450}\n", 6, 10, "missing required key 'scaleup.kind'"},
    {NULL, "scaleup: {kind: nvlink}\n", 6, 10, "missing required key 'scaleup.bandwidth_gb_s'"},
    {NULL, "scaleup: {kind: none, bandwidth_gb_s: 10}\n", 6, 39,
     "must be 0 when scaleup.kind is none"},
    {NULL, "scaleup: {kind: nvlink, bandwidth_gb_s: 0}\n", 6, 41,
     "must be greater than 0 for kind nvlink"},
    {NULL, "scaleup: {kind: ici, bandwidth_gb_s: 1, domain_devices: 4}\n", 6, 57,
     "scaleup.domain_devices must be"},
    {NULL, "devices_per_node: 0\n", 6, 19, "devices_per_node must be between 1 and 1024"},
    {NULL, "devices_per_node: 2.5\n", 6, 19, "devices_per_node must be an integer"},
    {NULL, "overheads: {iteration_us: -1}\n", 6, 27,
     "overheads.iteration_us must be at least 0, got -1"},
    {NULL, "memory_reserve: {runtime_gb: 39, activation_gb: 2}\n", 6, 17,
     "memory_reserve (41 GB) leaves no memory of the 40 GB device"},
    {NULL, "vendor: nvidya\n", 6, 9, "unknown vendor 'nvidya' (did you mean 'nvidia'?)"},
    {NULL, "name: \"\"\n", 6, 7, "name must not be empty"},
    {NULL, "scaleout: {bandwidth_gb_s: -1}\n", 6, 28,
     "scaleout.bandwidth_gb_s must be greater than 0, got -1"},
    {NULL, "memory_gb: 50\n", 6, 1, "duplicate key 'memory_gb'"},
    /* A unit slip (bytes written where GB belong) is out of range. */
    {"memory_gb", "memory_gb: 8e10\n", 5, 12, "memory_gb must be at most 100000, got 8e10"},
    {"memory_gb", "memory_gb: .nan\n", 5, 12, "memory_gb must be a finite number"},
    /* Topology keys. */
    {NULL, "scaleup: {kind: nvlink, bandwidth_gb_s: 450, peer_bandwidth_gb_s: 10}\n", 6, 67,
     "scaleup.peer_bandwidth_gb_s applies to a mesh only"},
    {NULL, "scaleup: {kind: xgmi, bandwidth_gb_s: 448, peer_bandwidth_gb_s: 500}\n", 6, 65,
     "scaleup.peer_bandwidth_gb_s (500) exceeds the device's scaleup.bandwidth_gb_s (448)"},
    {NULL, "scaleup: {kind: xgmi, bandwidth_gb_s: 448, topology: ring}\n", 6, 54,
     "unknown scaleup.topology 'ring'"},
    {NULL, "scaleup: {kind: pcie, bandwidth_gb_s: 32, nvls: true}\n", 6, 49,
     "scaleup.nvls needs an NVLink switch"},
    {NULL, "scaleup: {kind: nvlink, bandwidth_gb_s: 450, nvls: true}\n", 2, 1,
     "scaleup.nvls needs efficiency.link_nvls"},
    {NULL, "efficiency: {link_nvls: 0.6}\n", 6, 25,
     "efficiency.link_nvls needs scaleup.nvls: true"},
    {NULL,
     "scaleup: {kind: nvlink, bandwidth_gb_s: 450, nvls: true}\nefficiency: {link_nvls: 1.5}\n", 7,
     25, "efficiency.link_nvls must be at most 1, got 1.5"},
    {NULL, "scaleout: {bandwidth_gb_s: 50, nic_gb_s: 50, nics_per_node: 8}\n", 6, 42,
     "give scaleout.bandwidth_gb_s (per device) or scaleout.nic_gb_s (per NIC), not both"},
    {NULL, "scaleout: {nic_gb_s: 50}\n", 6, 22, "scaleout.nic_gb_s needs scaleout.nics_per_node"},
    {NULL, "scaleout: {nics_per_node: 0}\n", 6, 27,
     "scaleout.nics_per_node must be between 1 and 1024"},
};

START_TEST(test_bad_profile)
{
    const BadCase *c = &bad_cases[_i];
    g_autofree char *path = write_profile(c->drop, c->extra);
    g_autofree char *msg = load_fail_at(path, c->line, c->col);
    assert_contains(msg, c->part);
    g_unlink(path);
}
END_TEST

START_TEST(test_bad_document)
{
    GError *error = NULL;
    g_autofree char *empty = sv_test_write_tmp("# nothing\n", ".yaml");
    ck_assert_ptr_null(sv_hw_load(empty, &error));
    ck_assert(error->domain == SV_HW_ERROR);
    g_autofree char *want = g_strdup_printf("%s: empty hardware profile", empty);
    ck_assert_str_eq(error->message, want);
    g_clear_error(&error);
    g_unlink(empty);

    g_autofree char *list = sv_test_write_tmp("- a\n- b\n", ".yaml");
    g_autofree char *msg = load_fail_at(list, 1, 1);
    assert_contains(msg, "hardware profile must be a map");
    g_unlink(list);

    /* A syntax error is reported in the hardware domain too. */
    g_autofree char *bad = sv_test_write_tmp("memory_gb: [1, 2\n", ".yaml");
    ck_assert_ptr_null(sv_hw_load(bad, &error));
    ck_assert(error->domain == SV_HW_ERROR);
    ck_assert_int_eq(error->code, SV_ERROR_PARSE);
    ck_assert(g_str_has_prefix(error->message, bad));
    g_clear_error(&error);
    g_unlink(bad);
}
END_TEST

/* The committed bad profiles that the CLI fixtures use fail as their
 * fixtures expect (so a fixture failure points at the CLI, not at hw.c). */
START_TEST(test_bad_hw_data_files)
{
    g_autofree char *dir = sv_test_path("data/bad-hw");
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    for (const char *f; (f = g_dir_read_name(d)) != NULL;) {
        if (!g_str_has_suffix(f, ".yaml"))
            continue;
        g_autofree char *path = g_build_filename(dir, f, NULL);
        GError *error = NULL;
        SvHw *hw = sv_hw_load(path, &error);
        ck_assert_msg(hw == NULL, "%s loaded", f);
        ck_assert_msg(error->domain == SV_HW_ERROR, "%s: %s", f, error->message);
        ck_assert_msg(g_str_has_prefix(error->message, path), "%s", error->message);
        g_clear_error(&error);
        n++;
    }
    ck_assert_int_ge(n, 10);
}
END_TEST

START_TEST(test_matmul_peak)
{
    g_autoptr(SvHw) h100 = load_ok("h100-sxm");
    /* Same format both sides: that format's rate. */
    ck_assert_rel(sv_hw_matmul_peak(h100, SV_DTYPE_BF16, SV_DTYPE_BF16), 989e12);
    ck_assert_rel(sv_hw_matmul_peak(h100, SV_DTYPE_FP8, SV_DTYPE_FP8), 1979e12);
    ck_assert_rel(sv_hw_matmul_peak(h100, SV_DTYPE_INT8, SV_DTYPE_INT8), 1979e12);
    /* Weight-only fp8 with bf16 activations runs at bf16. */
    ck_assert_rel(sv_hw_matmul_peak(h100, SV_DTYPE_FP8, SV_DTYPE_BF16), 989e12);
    /* W4A16 runs at the activation rate. */
    ck_assert_rel(sv_hw_matmul_peak(h100, SV_DTYPE_INT4, SV_DTYPE_FP16), 989e12);
    /* W4A8 runs at the 8-bit rate. */
    ck_assert_rel(sv_hw_matmul_peak(h100, SV_DTYPE_INT4, SV_DTYPE_FP8), 1979e12);
    /* FP4 x FP4 on Hopper (unsupported) falls back to bf16. */
    ck_assert_rel(sv_hw_matmul_peak(h100, SV_DTYPE_FP4, SV_DTYPE_FP4), 989e12);
    g_autoptr(SvHw) b200 = load_ok("b200");
    ck_assert_rel(sv_hw_matmul_peak(b200, SV_DTYPE_FP4, SV_DTYPE_FP4), 9000e12);
    ck_assert_rel(sv_hw_matmul_peak(b200, SV_DTYPE_FP4, SV_DTYPE_BF16), 2250e12);
    /* FP8 W8A8 on Ampere (no fp8) falls back to bf16. */
    g_autoptr(SvHw) a100 = load_ok("a100-sxm-80g");
    ck_assert_rel(sv_hw_matmul_peak(a100, SV_DTYPE_FP8, SV_DTYPE_FP8), 312e12);
    /* Gaudi 2 publishes no fp16 rate: fp16 falls back to bf16. Gaudi 3's fp16
     * is slower than its bf16 and is used as is. */
    g_autoptr(SvHw) g2 = load_ok("gaudi2");
    ck_assert_rel(sv_hw_matmul_peak(g2, SV_DTYPE_FP16, SV_DTYPE_FP16), 432e12);
    g_autoptr(SvHw) g3 = load_ok("gaudi3");
    ck_assert_rel(sv_hw_matmul_peak(g3, SV_DTYPE_FP16, SV_DTYPE_FP16), 459e12);
    /* A device with only fp16: bf16 falls back to fp16. */
    g_autofree char *path = write_profile("peak_tflops", "peak_tflops: {float16: 300}\n");
    g_autoptr(SvHw) f16 = load_ok(path);
    ck_assert_rel(sv_hw_matmul_peak(f16, SV_DTYPE_BF16, SV_DTYPE_BF16), 300e12);
    ck_assert_rel(sv_hw_matmul_peak(f16, SV_DTYPE_FP8, SV_DTYPE_FP8), 300e12);
    g_unlink(path);
}
END_TEST

/* The eager-step terms (overheads.eager_us_per_layer, _per_moe_layer):
 * 0 unless given, read in microseconds; the shipped fits (B200 500, H100 100). */
START_TEST(test_eager_terms)
{
    g_autofree char *path = write_profile(NULL, NULL);
    g_autoptr(SvHw) plain = load_ok(path);
    ck_assert(plain->eager_layer_s == 0 && plain->eager_moe_layer_s == 0);
    g_unlink(path);
    g_autofree char *p2 =
        write_profile(NULL, "overheads: {eager_us_per_layer: 12.5, eager_us_per_moe_layer: 400}\n");
    g_autoptr(SvHw) set = load_ok(p2);
    ck_assert_rel(set->eager_layer_s, 12.5e-6);
    ck_assert_rel(set->eager_moe_layer_s, 400e-6);
    g_unlink(p2);
    g_autoptr(SvHw) b200 = load_ok("b200");
    ck_assert_rel(b200->eager_moe_layer_s, 500e-6);
    ck_assert(b200->eager_layer_s == 0);
    g_autoptr(SvHw) h100 = load_ok("h100-sxm");
    ck_assert_rel(h100->eager_moe_layer_s, 200e-6);
    ck_assert(h100->eager_layer_s == 0);
}
END_TEST

/* Per-kernel-family MoE efficiencies (efficiency.moe_memory*_<backend>):
 * 0 (the generic key) unless given; the lookup takes them for their family
 * and width only. */
START_TEST(test_moe_backend_efficiency)
{
    g_autofree char *path = write_profile(
        NULL, "efficiency: {memory: 0.8, moe_memory_8bit: 0.4, moe_memory_8bit_flashinfer: 0.35, "
              "moe_memory_triton: 0.7}\n");
    g_autoptr(SvHw) hw = load_ok(path);
    g_unlink(path);
    for (int b = 0; b < SV_MOE_BACKEND_COUNT; b++)
        for (int w = 0; w < 3; w++) {
            double want = b == SV_MOE_BACKEND_FLASHINFER && w == 1 ? 0.35
                          : b == SV_MOE_BACKEND_TRITON && w == 0   ? 0.7
                                                                   : 0;
            ck_assert(hw->eff_moe_mem_backend[b][w] == want);
        }
    ck_assert(sv_hw_moe_mem_efficiency(hw, SV_DTYPE_FP8, SV_MOE_BACKEND_FLASHINFER) == 0.35);
    ck_assert(sv_hw_moe_mem_efficiency(hw, SV_DTYPE_FP8, SV_MOE_BACKEND_AUTO) == 0.4);
    ck_assert(sv_hw_moe_mem_efficiency(hw, SV_DTYPE_BF16, SV_MOE_BACKEND_TRITON) == 0.7);
    /* 16-bit: the generic moe_memory is absent, so the dense memory one. */
    ck_assert(sv_hw_moe_mem_efficiency(hw, SV_DTYPE_BF16, SV_MOE_BACKEND_FLASHINFER) == 0.8);
}
END_TEST

/* Grouped-GEMM tile rows (efficiency.moe_tile_rows[_8bit|_4bit][_<backend>]):
 * the most specific key given wins: the family's width, the family, the
 * width, the generic key, then 16. The shipped B200 pads its default
 * block-fp8 path to 128 rows (DeepGEMM's M alignment) and FlashInfer's fp8
 * path to 32. */
START_TEST(test_moe_tile_rows)
{
    g_autofree char *path = write_profile(
        NULL, "efficiency: {memory: 0.8, moe_tile_rows_8bit: 128, moe_tile_rows_flashinfer: 32, "
              "moe_tile_rows_8bit_triton: 64}\n");
    g_autoptr(SvHw) hw = load_ok(path);
    g_unlink(path);
    ck_assert(sv_hw_moe_tile_rows(hw, SV_DTYPE_FP8, SV_MOE_BACKEND_TRITON) == 64);
    ck_assert(sv_hw_moe_tile_rows(hw, SV_DTYPE_FP8, SV_MOE_BACKEND_FLASHINFER) == 32);
    ck_assert(sv_hw_moe_tile_rows(hw, SV_DTYPE_FP4, SV_MOE_BACKEND_FLASHINFER) == 32);
    ck_assert(sv_hw_moe_tile_rows(hw, SV_DTYPE_FP8, SV_MOE_BACKEND_AUTO) == 128);
    ck_assert(sv_hw_moe_tile_rows(hw, SV_DTYPE_BF16, SV_MOE_BACKEND_TRITON) == 16);
    ck_assert(sv_hw_moe_tile_rows(hw, SV_DTYPE_FP4, SV_MOE_BACKEND_AUTO) == 16);
    g_autofree char *p2 = write_profile(NULL, "efficiency: {memory: 0.8, moe_tile_rows: 64}\n");
    g_autoptr(SvHw) generic = load_ok(p2);
    g_unlink(p2);
    ck_assert(sv_hw_moe_tile_rows(generic, SV_DTYPE_FP4, SV_MOE_BACKEND_FLASHINFER) == 64);
    g_autoptr(SvHw) b200 = load_ok("b200");
    ck_assert(sv_hw_moe_tile_rows(b200, SV_DTYPE_FP8, SV_MOE_BACKEND_AUTO) == 128);
    ck_assert(sv_hw_moe_tile_rows(b200, SV_DTYPE_FP8, SV_MOE_BACKEND_FLASHINFER) == 32);
    ck_assert(sv_hw_moe_tile_rows(b200, SV_DTYPE_BF16, SV_MOE_BACKEND_AUTO) == 16);
}
END_TEST

/* Which rows the grouped GEMMs compute (efficiency.moe_grid[_8bit|_4bit]
 * [_<backend>]): a family's width key, then the family's own generic key;
 * a named family does not take the plain keys, which describe the default
 * path. The shipped B200 runs its default block-fp8 path (DeepGEMM on
 * SM100) over the worst-case workspace, FlashInfer's and the 16- and 4-bit
 * paths over the touched experts. */
START_TEST(test_moe_grid)
{
    g_autofree char *path =
        write_profile(NULL, "efficiency: {memory: 0.8, moe_grid_8bit: workspace, "
                            "moe_grid_flashinfer: workspace, moe_grid_8bit_triton: touched}\n");
    g_autoptr(SvHw) hw = load_ok(path);
    g_unlink(path);
    ck_assert(sv_hw_moe_workspace_grid(hw, SV_DTYPE_FP8, SV_MOE_BACKEND_AUTO));
    ck_assert(!sv_hw_moe_workspace_grid(hw, SV_DTYPE_BF16, SV_MOE_BACKEND_AUTO));
    ck_assert(sv_hw_moe_workspace_grid(hw, SV_DTYPE_BF16, SV_MOE_BACKEND_FLASHINFER));
    ck_assert(sv_hw_moe_workspace_grid(hw, SV_DTYPE_FP8, SV_MOE_BACKEND_FLASHINFER));
    ck_assert(!sv_hw_moe_workspace_grid(hw, SV_DTYPE_FP8, SV_MOE_BACKEND_TRITON));
    ck_assert(!sv_hw_moe_workspace_grid(hw, SV_DTYPE_BF16, SV_MOE_BACKEND_TRITON));
    g_autoptr(SvHw) b200 = load_ok("b200");
    ck_assert(sv_hw_moe_workspace_grid(b200, SV_DTYPE_FP8, SV_MOE_BACKEND_AUTO));
    ck_assert(!sv_hw_moe_workspace_grid(b200, SV_DTYPE_FP8, SV_MOE_BACKEND_FLASHINFER));
    ck_assert(!sv_hw_moe_workspace_grid(b200, SV_DTYPE_BF16, SV_MOE_BACKEND_AUTO));
    ck_assert(!sv_hw_moe_workspace_grid(b200, SV_DTYPE_FP4, SV_MOE_BACKEND_AUTO));
    g_autoptr(SvHw) h100 = load_ok("h100-sxm");
    ck_assert(!sv_hw_moe_workspace_grid(h100, SV_DTYPE_FP8, SV_MOE_BACKEND_AUTO));
    /* The Triton kernels' thread-block law: off unless given; exponent 0.5. */
    ck_assert(hw->moe_triton_full_ctas == 0 && hw->moe_triton_ctas_exponent == 0.5);
    ck_assert(h100->moe_triton_full_ctas == 0);
    ck_assert(b200->moe_triton_full_ctas > 0);
}
END_TEST

Suite *hw_suite(void)
{
    Suite *s = suite_create("hw");
    TCase *tc = tcase_create("profiles");
    tcase_add_test(tc, test_all_shipped_load);
    tcase_add_test(tc, test_list_matches);
    tcase_add_test(tc, test_h100_numbers);
    tcase_add_test(tc, test_a40_numbers);
    tcase_add_test(tc, test_other_numbers);
    tcase_add_test(tc, test_copy);
    tcase_add_test(tc, test_eager_terms);
    tcase_add_test(tc, test_moe_backend_efficiency);
    tcase_add_test(tc, test_moe_tile_rows);
    tcase_add_test(tc, test_moe_grid);
    suite_add_tcase(s, tc);
    tc = tcase_create("errors");
    tcase_add_test(tc, test_unknown_name);
    tcase_add_test(tc, test_load_by_path_and_defaults);
    tcase_add_loop_test(tc, test_bad_profile, 0, (int)G_N_ELEMENTS(bad_cases));
    tcase_add_test(tc, test_bad_document);
    tcase_add_test(tc, test_bad_hw_data_files);
    suite_add_tcase(s, tc);
    tc = tcase_create("matmul");
    tcase_add_test(tc, test_matmul_peak);
    suite_add_tcase(s, tc);
    return s;
}
