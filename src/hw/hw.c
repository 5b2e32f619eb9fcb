/* Hardware profile loader: reads hwprofiles/<name>.yaml (human units, each
 * number with its source in a comment) into an SvHw in SI units. The reader is
 * strict on purpose: a typo in a profile silently replaced by a default would
 * skew every simulated latency, so unknown keys, wrong types and values out
 * of range are errors at their file:line:col. hwprofiles/README.md is the
 * schema's documentation; keep the two in step. */
#include "hw/hw.h"

#include "config/ynode.h"
#include "hw/calib.h"
#include "hw/hw-private.h"

#include <string.h>

/* Defaults for optional keys; hwprofiles/README.md documents each one. */
#define DEFAULT_DEVICES_PER_NODE    8
#define DEFAULT_VECTOR_FRACTION     0.0625 /* 1/16 of the bf16/fp16 matrix peak */
#define DEFAULT_HOST_LINK_GB_S      32.0   /* PCIe Gen4 x16, per direction */
#define DEFAULT_SCALEUP_LATENCY_US  10.0
#define DEFAULT_SCALEOUT_GB_S       25.0 /* 200 Gb/s NIC per device */
#define DEFAULT_SCALEOUT_LATENCY_US 25.0
#define DEFAULT_IDLE_FRACTION       0.10 /* of max power */
#define DEFAULT_EFF_MATMUL          0.7
#define DEFAULT_EFF_MEMORY          0.8
#define DEFAULT_EFF_LINK            0.7
#define DEFAULT_ITERATION_US        1000.0
#define DEFAULT_PER_REQUEST_US      20.0
#define DEFAULT_KERNEL_LAUNCH_US    4.0
#define DEFAULT_ACTIVATION_GB       2.0
#define DEFAULT_RUNTIME_GB          1.5

/* Upper bounds that no real device reaches: they catch unit mistakes
 * (TFLOP/s written as FLOP/s, GB written as bytes) rather than bound physics.
 */
#define MAX_TFLOPS 1e6
#define MAX_GB     1e5
#define MAX_GB_S   1e6
#define MAX_US     1e6
#define MAX_W      1e5

static const char *const top_keys[] = {"name",
                                       "description",
                                       "vendor",
                                       "peak_tflops",
                                       "vector_tflops",
                                       "memory_gb",
                                       "memory_runtime_gib",
                                       "memory_bandwidth_gb_s",
                                       "devices_per_node",
                                       "scaleup",
                                       "scaleout",
                                       "host_link_gb_s",
                                       "power",
                                       "efficiency",
                                       "overheads",
                                       "memory_reserve",
                                       "calibration",
                                       NULL};
static const char *const scaleup_keys[] = {
    "kind",     "bandwidth_gb_s",      "latency_us", "domain_devices",
    "topology", "peer_bandwidth_gb_s", "nvls",       NULL};
static const char *const scaleout_keys[] = {"bandwidth_gb_s", "latency_us", "nics_per_node",
                                            "nic_gb_s", NULL};
static const char *const power_keys[] = {"idle_w",
                                         "max_w",
                                         "active_w",
                                         "compute_w",
                                         "memory_w",
                                         "sm_clock_mhz",
                                         "clock_power_exponent",
                                         "memory_clock_sensitivity",
                                         "moe_active_w",
                                         "host_w",
                                         NULL};
static const char *const efficiency_keys[] = {"matmul",
                                              "memory",
                                              "link",
                                              "attention",
                                              "link_nvls",
                                              "moe_matmul",
                                              "moe_memory",
                                              "moe_memory_8bit",
                                              "moe_memory_4bit",
                                              "moe_memory_triton",
                                              "moe_memory_8bit_triton",
                                              "moe_memory_4bit_triton",
                                              "moe_memory_flashinfer",
                                              "moe_memory_8bit_flashinfer",
                                              "moe_memory_4bit_flashinfer",
                                              "moe_tile_rows",
                                              "moe_tile_rows_8bit",
                                              "moe_tile_rows_4bit",
                                              "moe_tile_rows_triton",
                                              "moe_tile_rows_8bit_triton",
                                              "moe_tile_rows_4bit_triton",
                                              "moe_tile_rows_flashinfer",
                                              "moe_tile_rows_8bit_flashinfer",
                                              "moe_tile_rows_4bit_flashinfer",
                                              "moe_grid",
                                              "moe_grid_8bit",
                                              "moe_grid_4bit",
                                              "moe_grid_triton",
                                              "moe_grid_8bit_triton",
                                              "moe_grid_4bit_triton",
                                              "moe_grid_flashinfer",
                                              "moe_grid_8bit_flashinfer",
                                              "moe_grid_4bit_flashinfer",
                                              "moe_triton_full_ctas",
                                              "moe_triton_ctas_exponent",
                                              NULL};
/* Index = SV_MOE_GRID_* - 1. */
static const char *const moe_grids[] = {"touched", "workspace", NULL};

const char *const sv_moe_backend_names[] = {"auto", "triton", "flashinfer", NULL};
static const char *const overhead_keys[] = {
    "iteration_us",       "per_request_us",         "kernel_launch_us", "moe_layer_us",
    "eager_us_per_layer", "eager_us_per_moe_layer", "profiles",         NULL};
static const char *const host_profile_keys[] = {"iteration_us", "per_device_us", "per_request_us",
                                                NULL};
static const char *const reserve_keys[] = {"activation_gb", "runtime_gb", NULL};
static const char *const vendors[] = {"nvidia", "amd", "intel", "huawei", "google", "other", NULL};
static const char *const link_kinds[] = {"nvlink", "xgmi", "hccs", "ici",
                                         "roce",   "pcie", "none", NULL};
/* Index = SvFabricTopology. */
static const char *const topologies[] = {"switch", "mesh", NULL};

void sv_hw_free(SvHw *hw)
{
    if (hw == NULL)
        return;
    g_free(hw->name);
    g_free(hw->description);
    g_free(hw->source);
    g_free(hw->vendor);
    g_free(hw->scaleup_kind);
    for (int i = 0; i < hw->num_host_profiles; i++)
        g_free(hw->host_profiles[i].name);
    g_free(hw->host_profiles);
    sv_calib_unref(hw->calib);
    g_free(hw);
}

SvHw *sv_hw_copy(const SvHw *hw)
{
    g_return_val_if_fail(hw != NULL, NULL);
    SvHw *c = g_new(SvHw, 1);
    *c = *hw;
    c->name = g_strdup(hw->name);
    c->description = g_strdup(hw->description);
    c->source = g_strdup(hw->source);
    c->vendor = g_strdup(hw->vendor);
    c->scaleup_kind = g_strdup(hw->scaleup_kind);
    c->calib = hw->calib != NULL ? sv_calib_ref(hw->calib) : NULL;
    c->host_profiles = g_new0(SvHostProfile, MAX(hw->num_host_profiles, 1));
    for (int i = 0; i < hw->num_host_profiles; i++) {
        c->host_profiles[i] = hw->host_profiles[i];
        c->host_profiles[i].name = g_strdup(hw->host_profiles[i].name);
    }
    return c;
}

const SvHostProfile *sv_hw_host_profile(const SvHw *hw, const char *name)
{
    g_return_val_if_fail(hw != NULL && name != NULL, NULL);
    for (int i = 0; i < hw->num_host_profiles; i++)
        if (strcmp(hw->host_profiles[i].name, name) == 0)
            return &hw->host_profiles[i];
    return NULL;
}

/* An optional number: absent leaves *out at @def. @path names the key in
 * messages ("scaleup.latency_us"). With @positive the value must be > 0 (the
 * range check alone cannot say "greater than"). */
static gboolean opt_double(const SvYDoc *doc, const SvYNode *map, const char *key, const char *path,
                           double min, double max, gboolean positive, double def, double *out,
                           GError **error)
{
    const SvYNode *node = sv_ynode_get(map, key);
    *out = def;
    if (node == NULL)
        return TRUE;
    return sv_ynode_bounded(doc, node, path, positive, min, max, out, error);
}

/* A required number: absent is an error at the enclosing map. */
static gboolean req_double(const SvYDoc *doc, const SvYNode *map, const char *key, const char *path,
                           double min, double max, gboolean positive, double *out, GError **error)
{
    if (sv_ynode_get(map, key) == NULL)
        return sv_ydoc_error(doc, map, error, SV_ERROR_INVALID, "missing required key '%s'", path);
    return opt_double(doc, map, key, path, min, max, positive, 0, out, error);
}

/* An optional sub-map: NULL when absent, else checked for unknown keys. */
static gboolean opt_map(const SvYDoc *doc, const SvYNode *root, const char *key,
                        const char *const *valid, const SvYNode **out, GError **error)
{
    *out = sv_ynode_get(root, key);
    if (*out == NULL)
        return TRUE;
    return sv_ynode_check_keys(doc, *out, key, valid, error);
}

static gboolean read_peaks(const SvYDoc *doc, const SvYNode *root, SvHw *hw, GError **error)
{
    const SvYNode *peaks = sv_ynode_get(root, "peak_tflops");
    if (peaks == NULL)
        return sv_ydoc_error(doc, root, error, SV_ERROR_INVALID,
                             "missing required key 'peak_tflops'");
    const char *names[SV_DTYPE_COUNT + 1];
    for (int d = 0; d < SV_DTYPE_COUNT; d++)
        names[d] = sv_dtype_name((SvDtype)d);
    names[SV_DTYPE_COUNT] = NULL;
    if (!sv_ynode_check_keys(doc, peaks, "peak_tflops", names, error))
        return FALSE;
    for (int d = 0; d < SV_DTYPE_COUNT; d++) {
        g_autofree char *path = g_strdup_printf("peak_tflops.%s", names[d]);
        double tflops;
        /* A listed dtype must have a positive rate; leave it out to say
         * "unsupported", so that a 0 typed by mistake is not taken as such. */
        if (!opt_double(doc, peaks, names[d], path, 0, MAX_TFLOPS, TRUE, 0, &tflops, error))
            return FALSE;
        hw->peak_flops[d] = tflops * 1e12;
    }
    if (hw->peak_flops[SV_DTYPE_BF16] <= 0 && hw->peak_flops[SV_DTYPE_FP16] <= 0)
        return sv_ydoc_error(doc, peaks, error, SV_ERROR_INVALID,
                             "peak_tflops needs a bfloat16 or float16 entry (the fallback rate "
                             "for every GEMM)");
    return TRUE;
}

/* The shape of the scale-up fabric (@up may be NULL: PCIe through the
 * host, a switch). Point-to-point fabrics (XGMI, HCCS, Gaudi's RoCE ports)
 * default to a mesh whose per-peer bandwidth is the device's bandwidth over
 * its devices_per_node - 1 peers, as MI300X's 7 x 64 GB/s links are. */
static gboolean read_fabric(const SvYDoc *doc, const SvYNode *up, const char *kind, SvHw *hw,
                            GError **error)
{
    gboolean p2p =
        strcmp(kind, "xgmi") == 0 || strcmp(kind, "hccs") == 0 || strcmp(kind, "roce") == 0;
    int topo = p2p ? SV_FABRIC_MESH : SV_FABRIC_SWITCH;
    const SvYNode *tn = up ? sv_ynode_get(up, "topology") : NULL;
    if (tn != NULL && !sv_ynode_enum(doc, tn, "scaleup.topology", topologies, &topo, error))
        return FALSE;
    hw->scaleup_topology = (SvFabricTopology)topo;
    const SvYNode *pn = up ? sv_ynode_get(up, "peer_bandwidth_gb_s") : NULL;
    if (pn != NULL && topo != SV_FABRIC_MESH)
        return sv_ydoc_error(
            doc, pn, error, SV_ERROR_INVALID,
            "scaleup.peer_bandwidth_gb_s applies to a mesh only (scaleup.topology: "
            "mesh); a switch gives every device its full bandwidth");
    double v = 0;
    if (topo == SV_FABRIC_MESH) {
        double def = hw->devices_per_node > 1
                         ? hw->scaleup_bw_bytes_per_s / 1e9 / (hw->devices_per_node - 1)
                         : hw->scaleup_bw_bytes_per_s / 1e9;
        if (!opt_double(doc, up, "peer_bandwidth_gb_s", "scaleup.peer_bandwidth_gb_s", 0, MAX_GB_S,
                        TRUE, def, &v, error))
            return FALSE;
        if (v * 1e9 > hw->scaleup_bw_bytes_per_s * (1 + 1e-9))
            return sv_ydoc_error(doc, pn, error, SV_ERROR_INVALID,
                                 "scaleup.peer_bandwidth_gb_s (%g) exceeds the device's "
                                 "scaleup.bandwidth_gb_s (%g)",
                                 v, hw->scaleup_bw_bytes_per_s / 1e9);
    }
    hw->scaleup_peer_bw_bytes_per_s = v * 1e9;
    const SvYNode *nn = up ? sv_ynode_get(up, "nvls") : NULL;
    hw->scaleup_nvls = FALSE;
    if (nn != NULL && !sv_ynode_bool(doc, nn, "scaleup.nvls", &hw->scaleup_nvls, error))
        return FALSE;
    if (hw->scaleup_nvls && (strcmp(kind, "nvlink") != 0 || topo != SV_FABRIC_SWITCH))
        return sv_ydoc_error(
            doc, nn, error, SV_ERROR_INVALID,
            "scaleup.nvls needs an NVLink switch (kind: nvlink, topology: switch)");
    return TRUE;
}

/* Scale-out bandwidth: per device (bandwidth_gb_s, the share of each device
 * when all of a node's devices talk at once) or as NICs (nics_per_node x
 * nic_gb_s), one of the two; nics_per_node alone splits bandwidth_gb_s x
 * devices_per_node over that many NICs. */
static gboolean read_nics(const SvYDoc *doc, const SvYNode *out, SvHw *hw, GError **error)
{
    const SvYNode *bn = out ? sv_ynode_get(out, "bandwidth_gb_s") : NULL;
    const SvYNode *nicn = out ? sv_ynode_get(out, "nic_gb_s") : NULL;
    if (bn != NULL && nicn != NULL)
        return sv_ydoc_error(doc, nicn, error, SV_ERROR_INVALID,
                             "give scaleout.bandwidth_gb_s (per device) or scaleout.nic_gb_s "
                             "(per NIC), not both");
    hw->scaleout_nics_per_node = hw->devices_per_node;
    const SvYNode *cn = out ? sv_ynode_get(out, "nics_per_node") : NULL;
    if (cn != NULL && !sv_ynode_int(doc, cn, "scaleout.nics_per_node", 1, 1024,
                                    &hw->scaleout_nics_per_node, error))
        return FALSE;
    if (nicn != NULL && cn == NULL)
        return sv_ydoc_error(doc, nicn, error, SV_ERROR_INVALID,
                             "scaleout.nic_gb_s needs scaleout.nics_per_node");
    double v;
    int nics = hw->scaleout_nics_per_node, dpn = hw->devices_per_node;
    if (nicn != NULL) {
        if (!opt_double(doc, out, "nic_gb_s", "scaleout.nic_gb_s", 0, MAX_GB_S, TRUE, 0, &v, error))
            return FALSE;
        hw->scaleout_nic_bw_bytes_per_s = v * 1e9;
        hw->scaleout_bw_bytes_per_s = v * 1e9 * nics / dpn;
        return TRUE;
    }
    if (!opt_double(doc, out, "bandwidth_gb_s", "scaleout.bandwidth_gb_s", 0, MAX_GB_S, TRUE,
                    DEFAULT_SCALEOUT_GB_S, &v, error))
        return FALSE;
    hw->scaleout_bw_bytes_per_s = v * 1e9;
    hw->scaleout_nic_bw_bytes_per_s = v * 1e9 * dpn / nics;
    return TRUE;
}

static gboolean read_links(const SvYDoc *doc, const SvYNode *root, SvHw *hw, GError **error)
{
    double v;
    if (!opt_double(doc, root, "host_link_gb_s", "host_link_gb_s", 0, MAX_GB_S, TRUE,
                    DEFAULT_HOST_LINK_GB_S, &v, error))
        return FALSE;
    hw->host_bw_bytes_per_s = v * 1e9;

    /* Without a scale-up fabric, peers talk over PCIe through the host. */
    const SvYNode *up;
    if (!opt_map(doc, root, "scaleup", scaleup_keys, &up, error))
        return FALSE;
    const char *kind = "pcie";
    if (up != NULL) {
        const SvYNode *kn = sv_ynode_get(up, "kind");
        int idx;
        if (kn == NULL)
            return sv_ydoc_error(doc, up, error, SV_ERROR_INVALID,
                                 "missing required key 'scaleup.kind'");
        if (!sv_ynode_enum(doc, kn, "scaleup.kind", link_kinds, &idx, error))
            return FALSE;
        kind = link_kinds[idx];
    }
    if (up == NULL) {
        hw->scaleup_bw_bytes_per_s = hw->host_bw_bytes_per_s;
    } else {
        const SvYNode *bn = sv_ynode_get(up, "bandwidth_gb_s");
        gboolean none = strcmp(kind, "none") == 0;
        if (!none && bn == NULL)
            return sv_ydoc_error(doc, up, error, SV_ERROR_INVALID,
                                 "missing required key 'scaleup.bandwidth_gb_s'");
        if (!opt_double(doc, up, "bandwidth_gb_s", "scaleup.bandwidth_gb_s", 0, MAX_GB_S, FALSE, 0,
                        &v, error))
            return FALSE;
        if (none && v > 0)
            return sv_ydoc_error(doc, bn, error, SV_ERROR_INVALID,
                                 "scaleup.bandwidth_gb_s must be 0 when scaleup.kind is none");
        if (!none && v <= 0)
            return sv_ydoc_error(doc, bn, error, SV_ERROR_INVALID,
                                 "scaleup.bandwidth_gb_s must be greater than 0 for kind %s "
                                 "(use kind: none for no scale-up fabric)",
                                 kind);
        hw->scaleup_bw_bytes_per_s = v * 1e9;
    }
    hw->scaleup_kind = g_strdup(kind);
    if (!opt_double(doc, up, "latency_us", "scaleup.latency_us", 0, MAX_US, FALSE,
                    DEFAULT_SCALEUP_LATENCY_US, &v, error))
        return FALSE;
    hw->scaleup_latency_s = v * 1e-6;
    hw->scaleup_domain_devices = hw->devices_per_node;
    const SvYNode *dn = up ? sv_ynode_get(up, "domain_devices") : NULL;
    if (dn != NULL && !sv_ynode_int(doc, dn, "scaleup.domain_devices", hw->devices_per_node,
                                    1 << 20, &hw->scaleup_domain_devices, error))
        return FALSE;
    if (!read_fabric(doc, up, kind, hw, error))
        return FALSE;

    const SvYNode *out;
    if (!opt_map(doc, root, "scaleout", scaleout_keys, &out, error))
        return FALSE;
    if (!read_nics(doc, out, hw, error))
        return FALSE;
    if (!opt_double(doc, out, "latency_us", "scaleout.latency_us", 0, MAX_US, FALSE,
                    DEFAULT_SCALEOUT_LATENCY_US, &v, error))
        return FALSE;
    hw->scaleout_latency_s = v * 1e-6;
    return TRUE;
}

static gboolean read_power(const SvYDoc *doc, const SvYNode *root, SvHw *hw, GError **error)
{
    const SvYNode *power = sv_ynode_get(root, "power");
    if (power == NULL)
        return sv_ydoc_error(doc, root, error, SV_ERROR_INVALID, "missing required key 'power'");
    if (!sv_ynode_check_keys(doc, power, "power", power_keys, error))
        return FALSE;
    if (!req_double(doc, power, "max_w", "power.max_w", 0, MAX_W, TRUE, &hw->max_power_w, error))
        return FALSE;
    if (!opt_double(doc, power, "idle_w", "power.idle_w", 0, MAX_W, TRUE,
                    DEFAULT_IDLE_FRACTION * hw->max_power_w, &hw->idle_power_w, error))
        return FALSE;
    if (hw->idle_power_w >= hw->max_power_w)
        return sv_ydoc_error(doc, sv_ynode_get(power, "idle_w"), error, SV_ERROR_INVALID,
                             "power.idle_w (%g W) must be below power.max_w (%g W)",
                             hw->idle_power_w, hw->max_power_w);
    /* The active-power model and the clock (hw-power.c). */
    return sv__hw_read_power_model(doc, power, hw, error);
}

/* overheads.profiles: NAME -> {iteration_us, per_device_us, per_request_us},
 * each term optional (0). "default" and "none" are taken: engine.host_overheads
 * uses them for the profile's own host terms and for no host time. */
static gboolean read_host_profiles(const SvYDoc *doc, const SvYNode *overheads, SvHw *hw,
                                   GError **error)
{
    const SvYNode *ps = sv_ynode_get(overheads, "profiles");
    if (ps == NULL)
        return TRUE;
    if (!sv_ynode_expect_map(doc, ps, "overheads.profiles", error))
        return FALSE;
    hw->host_profiles = g_new0(SvHostProfile, MAX(ps->keys->len, 1));
    for (guint i = 0; i < ps->keys->len; i++) {
        const SvYNode *key = g_ptr_array_index(ps->keys, i);
        const SvYNode *p = g_ptr_array_index(ps->items, i);
        if (strcmp(key->value, "default") == 0 || strcmp(key->value, "none") == 0)
            return sv_ydoc_error(doc, key, error, SV_ERROR_INVALID,
                                 "overheads.profiles: '%s' is reserved (engine.host_overheads: "
                                 "default selects the profile's own host terms, none no host "
                                 "time)",
                                 key->value);
        g_autofree char *where = g_strdup_printf("overheads.profiles.%s", key->value);
        if (!sv_ynode_expect_map(doc, p, where, error) ||
            !sv_ynode_check_keys(doc, p, where, host_profile_keys, error))
            return FALSE;
        SvHostProfile *hp = &hw->host_profiles[hw->num_host_profiles++];
        hp->name = g_strdup(key->value);
        static const char *const terms[] = {"iteration_us", "per_device_us", "per_request_us"};
        double *dst[] = {&hp->iteration_s, &hp->per_device_s, &hp->per_request_s};
        for (int t = 0; t < 3; t++) {
            g_autofree char *path = g_strdup_printf("%s.%s", where, terms[t]);
            double us;
            if (!opt_double(doc, p, terms[t], path, 0, MAX_US, FALSE, 0, &us, error))
                return FALSE;
            *dst[t] = us * 1e-6;
        }
    }
    return TRUE;
}

/* The key of a MoE setting for kernel family @b and expert weight width
 * @w (16, 8, 4 bits): STEM[_8bit|_4bit][_<backend>], no family suffix for
 * auto. (transfer full) */
static char *moe_family_key(const char *stem, int b, int w)
{
    static const char *const widths[] = {"", "_8bit", "_4bit"};
    if (b == SV_MOE_BACKEND_AUTO)
        return g_strdup_printf("%s%s", stem, widths[w]);
    return g_strdup_printf("%s%s_%s", stem, widths[w], sv_moe_backend_names[b]);
}

static gboolean read_tuning(const SvYDoc *doc, const SvYNode *root, SvHw *hw, GError **error)
{
    const SvYNode *m;
    double v;
    if (!opt_map(doc, root, "efficiency", efficiency_keys, &m, error))
        return FALSE;
    if (!opt_double(doc, m, "matmul", "efficiency.matmul", 0, 1, TRUE, DEFAULT_EFF_MATMUL,
                    &hw->eff_matmul, error) ||
        !opt_double(doc, m, "memory", "efficiency.memory", 0, 1, TRUE, DEFAULT_EFF_MEMORY,
                    &hw->eff_mem, error) ||
        !opt_double(doc, m, "link", "efficiency.link", 0, 1, TRUE, DEFAULT_EFF_LINK, &hw->eff_link,
                    error))
        return FALSE;
    /* Without a measurement, flash attention is taken to run as well as a
     * large GEMM (the roofline v0 assumed). */
    if (!opt_double(doc, m, "attention", "efficiency.attention", 0, 1, TRUE, hw->eff_matmul,
                    &hw->eff_attention, error))
        return FALSE;
    /* Without a fit, the fused MoE kernels run like dense GEMMs and streams,
     * whatever the format of the expert weights. */
    if (!opt_double(doc, m, "moe_matmul", "efficiency.moe_matmul", 0, 1, TRUE, hw->eff_matmul,
                    &hw->eff_moe_matmul, error) ||
        !opt_double(doc, m, "moe_memory", "efficiency.moe_memory", 0, 1, TRUE, hw->eff_mem,
                    &hw->eff_moe_mem, error) ||
        !opt_double(doc, m, "moe_memory_8bit", "efficiency.moe_memory_8bit", 0, 1, TRUE,
                    hw->eff_moe_mem, &hw->eff_moe_mem_8bit, error) ||
        !opt_double(doc, m, "moe_memory_4bit", "efficiency.moe_memory_4bit", 0, 1, TRUE,
                    hw->eff_moe_mem, &hw->eff_moe_mem_4bit, error))
        return FALSE;
    /* A kernel family's own fit, where the data ran it beside the default
     * (sv_hw_moe_mem_efficiency); absent: 0, the generic key. */
    for (int b = SV_MOE_BACKEND_AUTO + 1; b < SV_MOE_BACKEND_COUNT; b++)
        for (int w = 0; w < 3; w++) {
            g_autofree char *key = moe_family_key("moe_memory", b, w);
            g_autofree char *path = g_strconcat("efficiency.", key, NULL);
            if (!opt_double(doc, m, key, path, 0, 1, TRUE, 0, &hw->eff_moe_mem_backend[b][w],
                            error))
                return FALSE;
        }
    /* The grouped GEMMs' tile rows (sv_hw_moe_tile_rows; absent: 0, the next
     * more generic key) and which rows they compute (sv_hw_moe_workspace_grid;
     * absent: 0), generic, per weight width and per kernel family. */
    for (int b = SV_MOE_BACKEND_AUTO; b < SV_MOE_BACKEND_COUNT; b++)
        for (int w = 0; w < 3; w++) {
            g_autofree char *key = moe_family_key("moe_tile_rows", b, w);
            g_autofree char *path = g_strconcat("efficiency.", key, NULL);
            if (!opt_double(doc, m, key, path, 1, 1024, TRUE, 0, &hw->moe_tile_rows[b][w], error))
                return FALSE;
            g_autofree char *gkey = moe_family_key("moe_grid", b, w);
            g_autofree char *gpath = g_strconcat("efficiency.", gkey, NULL);
            const SvYNode *gn = m != NULL ? sv_ynode_get(m, gkey) : NULL;
            int grid = 0;
            if (gn != NULL && !sv_ynode_enum(doc, gn, gpath, moe_grids, &grid, error))
                return FALSE;
            hw->moe_grid[b][w] = gn != NULL ? grid + 1 : 0;
        }
    /* A streaming kernel with few thread blocks keeps too few loads in
     * flight to reach its bandwidth (predictor.c, push_moe). */
    if (!opt_double(doc, m, "moe_triton_full_ctas", "efficiency.moe_triton_full_ctas", 1, 1e6, TRUE,
                    0, &hw->moe_triton_full_ctas, error) ||
        !opt_double(doc, m, "moe_triton_ctas_exponent", "efficiency.moe_triton_ctas_exponent", 0, 4,
                    TRUE, 0.5, &hw->moe_triton_ctas_exponent, error))
        return FALSE;
    /* NVLS reduces inside the switch: each device sends its buffer once
     * and receives the sum once, so this is the algorithm bandwidth
     * (bytes / time), nearly the same for 5 to 8 GPUs (H200: 259-270 GB/s). */
    const SvYNode *ln = m != NULL ? sv_ynode_get(m, "link_nvls") : NULL;
    if (ln != NULL && !hw->scaleup_nvls)
        return sv_ydoc_error(doc, ln, error, SV_ERROR_INVALID,
                             "efficiency.link_nvls needs scaleup.nvls: true");
    if (hw->scaleup_nvls && ln == NULL)
        return sv_ydoc_error(doc, m != NULL ? m : root, error, SV_ERROR_INVALID,
                             "scaleup.nvls needs efficiency.link_nvls (the NVLS all-reduce "
                             "algorithm bandwidth as a fraction of scaleup.bandwidth_gb_s)");
    if (!opt_double(doc, m, "link_nvls", "efficiency.link_nvls", 0, 1, TRUE, 0, &hw->eff_link_nvls,
                    error))
        return FALSE;

    if (!opt_map(doc, root, "overheads", overhead_keys, &m, error))
        return FALSE;
    if (!opt_double(doc, m, "iteration_us", "overheads.iteration_us", 0, MAX_US, FALSE,
                    DEFAULT_ITERATION_US, &v, error))
        return FALSE;
    hw->host_overhead_iter_s = v * 1e-6;
    if (!opt_double(doc, m, "per_request_us", "overheads.per_request_us", 0, MAX_US, FALSE,
                    DEFAULT_PER_REQUEST_US, &v, error))
        return FALSE;
    hw->host_overhead_req_s = v * 1e-6;
    if (!opt_double(doc, m, "kernel_launch_us", "overheads.kernel_launch_us", 0, MAX_US, FALSE,
                    DEFAULT_KERNEL_LAUNCH_US, &v, error))
        return FALSE;
    hw->kernel_launch_s = v * 1e-6;
    if (!opt_double(doc, m, "moe_layer_us", "overheads.moe_layer_us", 0, MAX_US, FALSE, 0, &v,
                    error))
        return FALSE;
    hw->moe_layer_s = v * 1e-6;
    if (!opt_double(doc, m, "eager_us_per_layer", "overheads.eager_us_per_layer", 0, MAX_US, FALSE,
                    0, &v, error))
        return FALSE;
    hw->eager_layer_s = v * 1e-6;
    if (!opt_double(doc, m, "eager_us_per_moe_layer", "overheads.eager_us_per_moe_layer", 0, MAX_US,
                    FALSE, 0, &v, error))
        return FALSE;
    hw->eager_moe_layer_s = v * 1e-6;
    if (!read_host_profiles(doc, m, hw, error))
        return FALSE;

    if (!opt_map(doc, root, "memory_reserve", reserve_keys, &m, error))
        return FALSE;
    if (!opt_double(doc, m, "activation_gb", "memory_reserve.activation_gb", 0, MAX_GB, FALSE,
                    DEFAULT_ACTIVATION_GB, &v, error))
        return FALSE;
    hw->activation_workspace_bytes = v * 1e9;
    if (!opt_double(doc, m, "runtime_gb", "memory_reserve.runtime_gb", 0, MAX_GB, FALSE,
                    DEFAULT_RUNTIME_GB, &v, error))
        return FALSE;
    hw->runtime_reserve_bytes = v * 1e9;
    if (hw->activation_workspace_bytes + hw->runtime_reserve_bytes >= hw->mem_capacity_bytes)
        return sv_ydoc_error(doc, m != NULL ? m : root, error, SV_ERROR_INVALID,
                             "memory_reserve (%g GB) leaves no memory of the %g GB device",
                             (hw->activation_workspace_bytes + hw->runtime_reserve_bytes) / 1e9,
                             hw->mem_capacity_bytes / 1e9);
    return TRUE;
}

static SvHw *parse_profile(const SvYDoc *doc, GError **error)
{
    const SvYNode *root = doc->root;
    if (root == NULL) {
        sv_ydoc_error(doc, NULL, error, SV_ERROR_INVALID, "empty hardware profile");
        return NULL;
    }
    if (!sv_ynode_check_keys(doc, root, "hardware profile", top_keys, error))
        return NULL;

    g_autoptr(SvHw) hw = g_new0(SvHw, 1);
    hw->source = g_strdup(doc->path);
    const char *s;
    const SvYNode *n = sv_ynode_get(root, "name");
    if (n != NULL) {
        if (!sv_ynode_string(doc, n, "name", &s, error))
            return NULL;
        hw->name = g_strdup(s);
    } else {
        /* The file name is the name a study uses to pick the profile. */
        g_autofree char *base = g_path_get_basename(doc->path);
        if (g_str_has_suffix(base, ".yaml"))
            base[strlen(base) - 5] = '\0';
        hw->name = g_strdup(base);
    }
    n = sv_ynode_get(root, "description");
    if (n != NULL && !sv_ynode_string(doc, n, "description", &s, error))
        return NULL;
    hw->description = g_strdup(n != NULL ? s : hw->name);
    int vendor = (int)G_N_ELEMENTS(vendors) - 2; /* "other" */
    n = sv_ynode_get(root, "vendor");
    if (n != NULL && !sv_ynode_enum(doc, n, "vendor", vendors, &vendor, error))
        return NULL;
    hw->vendor = g_strdup(vendors[vendor]);

    if (!read_peaks(doc, root, hw, error))
        return NULL;
    double v, peak16 = hw->peak_flops[SV_DTYPE_BF16] > 0 ? hw->peak_flops[SV_DTYPE_BF16]
                                                         : hw->peak_flops[SV_DTYPE_FP16];
    if (!opt_double(doc, root, "vector_tflops", "vector_tflops", 0, MAX_TFLOPS, TRUE,
                    peak16 * DEFAULT_VECTOR_FRACTION / 1e12, &v, error))
        return NULL;
    hw->vector_flops = v * 1e12;
    if (!req_double(doc, root, "memory_gb", "memory_gb", 0, MAX_GB, TRUE, &v, error))
        return NULL;
    hw->mem_capacity_bytes = v * 1e9;
    /* The runtime sizes the KV cache from the total that cudaMemGetInfo
     * reports (vLLM logs it as total_gpu_memory), not from the datasheet's
     * rounded "80 GB": on an H100 that is 79.2 GiB = 85.1e9 B, 6 % more than
     * 80e9. A marketing GB is never above a GiB of what the runtime sees. */
    n = sv_ynode_get(root, "memory_runtime_gib");
    if (n != NULL) {
        double gib;
        if (!opt_double(doc, root, "memory_runtime_gib", "memory_runtime_gib", 0, MAX_GB, TRUE, 0,
                        &gib, error))
            return NULL;
        if (gib > v) {
            sv_ydoc_error(doc, n, error, SV_ERROR_INVALID,
                          "memory_runtime_gib (%g GiB) exceeds memory_gb (%g): the runtime "
                          "never sees more than the device's nominal size",
                          gib, v);
            return NULL;
        }
        hw->mem_capacity_bytes = gib * 1073741824.0;
    }
    if (!req_double(doc, root, "memory_bandwidth_gb_s", "memory_bandwidth_gb_s", 0, MAX_GB_S, TRUE,
                    &v, error))
        return NULL;
    hw->mem_bw_bytes_per_s = v * 1e9;
    hw->devices_per_node = DEFAULT_DEVICES_PER_NODE;
    n = sv_ynode_get(root, "devices_per_node");
    if (n != NULL &&
        !sv_ynode_int(doc, n, "devices_per_node", 1, 1024, &hw->devices_per_node, error))
        return NULL;
    if (!read_links(doc, root, hw, error) || !read_power(doc, root, hw, error) ||
        !read_tuning(doc, root, hw, error))
        return NULL;
    /* Last: the tables' utilisations are relative to the peaks read above. */
    n = sv_ynode_get(root, "calibration");
    if (n != NULL && (hw->calib = sv_calib_parse(doc, n, hw, error)) == NULL)
        return NULL;
    return g_steal_pointer(&hw);
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "'h100-sxm'" or "'a100-sxm-40g' or 'a100-sxm-80g'" for an unknown name, or
 * NULL. Profiles are named chip-first ("h100-sxm"), so a bare chip name is
 * best answered by the profiles it begins; only then an edit-distance typo
 * (sv_nearest alone would offer "b200" for "h100"). (transfer full) */
static char *suggest(const char *word, const char *const *names)
{
    GString *s = g_string_new(NULL);
    g_autofree char *stem = g_strconcat(word, "-", NULL);
    for (const char *const *n = names; n != NULL && *n != NULL; n++)
        if (g_str_has_prefix(*n, stem))
            g_string_append_printf(s, "%s'%s'", s->len > 0 ? " or " : "", *n);
    if (s->len > 0)
        return g_string_free(s, FALSE);
    g_string_free(s, TRUE);
    const char *near = sv_nearest(word, names);
    return near != NULL ? g_strdup_printf("'%s'", near) : NULL;
}

SvHw *sv_hw_load_from(const char *name_or_path, const char *rel_dir, GError **error)
{
    g_return_val_if_fail(name_or_path != NULL, NULL);
    g_autofree char *path = sv_data_find("hwprofiles", name_or_path, ".yaml", rel_dir);
    if (path == NULL) {
        g_auto(GStrv) names = sv_data_list("hwprofiles", ".yaml");
        /* Sorted so that hints and the list read the same on every file system. */
        qsort(names, g_strv_length(names), sizeof *names, cmp_names);
        gboolean is_path =
            strchr(name_or_path, '/') != NULL || g_str_has_suffix(name_or_path, ".yaml");
        g_autofree char *hint = suggest(name_or_path, (const char *const *)names);
        if (is_path)
            g_set_error(error, SV_HW_ERROR, SV_ERROR_NOT_FOUND,
                        "%s: hardware profile file not found", name_or_path);
        else if (hint != NULL)
            g_set_error(error, SV_HW_ERROR, SV_ERROR_NOT_FOUND,
                        "unknown hardware '%s' (did you mean %s?)", name_or_path, hint);
        else {
            g_autofree char *list = g_strjoinv(", ", names);
            g_set_error(error, SV_HW_ERROR, SV_ERROR_NOT_FOUND, "unknown hardware '%s' (known: %s)",
                        name_or_path, list);
        }
        return NULL;
    }
    GError *local = NULL;
    g_autoptr(SvYDoc) doc = sv_ydoc_load_file(path, SV_HW_ERROR, &local);
    if (doc == NULL) {
        /* Syntax errors arrive in the config domain; the profile is hardware input.
         */
        if (local->domain == SV_CONFIG_ERROR)
            local->domain = SV_HW_ERROR;
        g_propagate_error(error, local);
        return NULL;
    }
    return parse_profile(doc, error);
}

SvHw *sv_hw_load(const char *name_or_path, GError **error)
{
    return sv_hw_load_from(name_or_path, NULL, error);
}

/* The expert weights' width class of the MoE keys: 0 for 16 bits and
 * wider, 1 for 8, 2 for 4 (the "", "_8bit", "_4bit" key suffixes). */
static int moe_width(SvDtype wdtype)
{
    double wb = sv_dtype_bytes(wdtype);
    return wb >= 2 ? 0 : wb >= 1 ? 1 : 2;
}

double sv_hw_moe_mem_efficiency(const SvHw *hw, SvDtype wdtype, SvMoeBackend backend)
{
    g_return_val_if_fail(hw != NULL, 0);
    g_return_val_if_fail(backend >= 0 && backend < SV_MOE_BACKEND_COUNT, 0);
    int w = moe_width(wdtype);
    if (hw->eff_moe_mem_backend[backend][w] > 0)
        return hw->eff_moe_mem_backend[backend][w];
    double e = w == 0 ? hw->eff_moe_mem : w == 1 ? hw->eff_moe_mem_8bit : hw->eff_moe_mem_4bit;
    return e > 0 ? e : hw->eff_mem;
}

double sv_hw_moe_tile_rows(const SvHw *hw, SvDtype wdtype, SvMoeBackend backend)
{
    g_return_val_if_fail(hw != NULL, 16);
    g_return_val_if_fail(backend >= 0 && backend < SV_MOE_BACKEND_COUNT, 16);
    int w = moe_width(wdtype);
    const double *auto_rows = hw->moe_tile_rows[SV_MOE_BACKEND_AUTO];
    double rows[] = {hw->moe_tile_rows[backend][w], hw->moe_tile_rows[backend][0], auto_rows[w],
                     auto_rows[0]};
    for (size_t i = 0; i < G_N_ELEMENTS(rows); i++)
        if (rows[i] > 0)
            return rows[i];
    return 16;
}

gboolean sv_hw_moe_workspace_grid(const SvHw *hw, SvDtype wdtype, SvMoeBackend backend)
{
    g_return_val_if_fail(hw != NULL, FALSE);
    g_return_val_if_fail(backend >= 0 && backend < SV_MOE_BACKEND_COUNT, FALSE);
    int w = moe_width(wdtype);
    int grid = hw->moe_grid[backend][w] != 0 ? hw->moe_grid[backend][w] : hw->moe_grid[backend][0];
    return grid == SV_MOE_GRID_WORKSPACE;
}

double sv_hw_matmul_peak(const SvHw *hw, SvDtype wdtype, SvDtype adtype)
{
    g_return_val_if_fail(hw != NULL, 0);
    g_return_val_if_fail(wdtype >= 0 && wdtype < SV_DTYPE_COUNT, 0);
    g_return_val_if_fail(adtype >= 0 && adtype < SV_DTYPE_COUNT, 0);
    /* Both operands enter the tensor core in one format: the wider one.
     * Equal widths (fp8 x int8, bf16 x fp16) run in the activation format. */
    SvDtype compute = sv_dtype_bytes(wdtype) > sv_dtype_bytes(adtype) ? wdtype : adtype;
    if (hw->peak_flops[compute] > 0)
        return hw->peak_flops[compute];
    if (hw->peak_flops[SV_DTYPE_BF16] > 0)
        return hw->peak_flops[SV_DTYPE_BF16];
    return hw->peak_flops[SV_DTYPE_FP16];
}
