/* Hardware profiles: one accelerator kind (GPU/NPU/TPU) with its peak
 * throughput per dtype, memory, links, power, the achievable-efficiency
 * factors of the roofline, and, where kernels were measured, calibrated
 * tables (hw/calib.h). Loaded from hwprofiles/<name>.yaml; every number
 * there cites its source. */
#ifndef SV_HW_H
#define SV_HW_H

#include "core/common.h"

G_BEGIN_DECLS

/* How the scale-up fabric joins the devices of a node: through a switch
 * (NVSwitch, a PCIe switch; every device reaches any group of peers at its
 * full bandwidth) or point to point (AMD XGMI, Huawei HCCS, Gaudi's RoCE
 * ports: a fixed share of the bandwidth goes to each peer, so a group of g
 * devices gets (g - 1) peer links). TPU ICI tori are taken as switches. */
typedef enum { SV_FABRIC_SWITCH, SV_FABRIC_MESH } SvFabricTopology;

/* The fused MoE kernel family an engine runs (engine.moe_backend), named
 * as in later vLLM's --moe-backend (KernelConfig.moe_backend); vLLM 0.11
 * chose it through environment variables. AUTO is what vLLM picks
 * with none set: on NVIDIA GPUs Triton's fused_moe for 16-bit experts,
 * DeepGEMM or CUTLASS grouped GEMMs for block-fp8 ones (Triton below 128
 * tokens on Hopper), FlashInfer for mxfp4 on Blackwell, Triton or Marlin on
 * Hopper. FLASHINFER is FlashInfer's fused MoE (VLLM_USE_FLASHINFER_MOE_FP8,
 * _FP4, _MXFP4_MXFP8, _MXFP4_BF16), TRITON vLLM's Triton fused_moe. */
typedef enum {
    SV_MOE_BACKEND_AUTO,
    SV_MOE_BACKEND_TRITON,
    SV_MOE_BACKEND_FLASHINFER,
    SV_MOE_BACKEND_COUNT
} SvMoeBackend;

/* "auto", "triton", "flashinfer", NULL-terminated, by SvMoeBackend. */
extern const char *const sv_moe_backend_names[];

/* A named set of host (CPU) costs per engine step (overheads.profiles.NAME)
 * that replaces the calibrated or default host overhead when a study picks
 * it with engine.host_overheads. It describes an engine whose step differs
 * from the one the tables were measured on, e.g. vLLM 0.5's synchronous
 * Python step, where every sequence's scheduling, input preparation,
 * sampling and detokenisation run on the CPU between GPU steps. */
typedef struct {
    char *name;           /* e.g. "vllm-0.5" */
    double iteration_s;   /* s per step */
    double per_device_s;  /* s per step per device of the replica (tp x pp x dp) */
    double per_request_s; /* s per step per sequence in the batch */
} SvHostProfile;

typedef struct SvHw SvHw;
struct SvHw {
    char *name;                        /* profile name, e.g. "h100-sxm" */
    char *description;                 /* e.g. "NVIDIA H100 SXM 80GB" */
    char *source;                      /* file it came from */
    char *vendor;                      /* "nvidia", "amd", "intel", "huawei", "google", "other" */
    double peak_flops[SV_DTYPE_COUNT]; /* dense matrix FLOP/s per dtype; 0 = unsupported */
    double vector_flops;           /* non-matrix (CUDA core/vector) FLOP/s for elementwise ops */
    double mem_capacity_bytes;     /* bytes of device memory */
    double mem_bw_bytes_per_s;     /* B/s, peak memory bandwidth */
    int devices_per_node;          /* accelerators in one node / host */
    double scaleup_bw_bytes_per_s; /* B/s per device, per direction; 0 = no fabric */
    double scaleup_latency_s;      /* s, one message on the scale-up fabric */
    char *scaleup_kind;            /* "nvlink", "xgmi", "hccs", "ici", "roce", "pcie", "none" */
    int scaleup_domain_devices;    /* devices one scale-up fabric joins (8 HGX, 256 TPU pod) */
    SvFabricTopology scaleup_topology;  /* switch (NVSwitch, PCIe switch) or point-to-point mesh */
    double scaleup_peer_bw_bytes_per_s; /* B/s to one peer on a mesh, per direction; 0 = no limit */
    gboolean scaleup_nvls;              /* the switch reduces in-network (NVLink SHARP, NVLS) */
    double scaleout_bw_bytes_per_s;     /* B/s per device, per direction (IB/RoCE/DCN), all busy */
    double scaleout_latency_s;          /* s, one inter-node message */
    int scaleout_nics_per_node;         /* NICs of a node; 0 = one per device */
    double scaleout_nic_bw_bytes_per_s; /* B/s of one NIC per direction; 0 = scaleout_bw */
    double host_bw_bytes_per_s;         /* B/s device<->host per direction (PCIe) */
    double idle_power_w;                /* W, idle board power */
    double max_power_w;                 /* W, TDP / TGP */
    /* Power while an iteration runs (power/power.h): idle + active +
     * compute x FLOP utilisation + memory x bandwidth utilisation, each
     * fitted to measurements (validation/power/); and how the SM clock
     * changes time and power (hwprofiles/README.md gives the sources). */
    double active_power_w;           /* W above idle whenever an iteration runs */
    double moe_active_power_w;       /* W added to active_power_w for mixture-of-experts models */
    double host_power_w;             /* W above active through an iteration's host time */
    double compute_power_w;          /* W at 100 % of the matrix peak FLOP/s */
    double memory_power_w;           /* W at 100 % of the peak memory bandwidth */
    double max_sm_clock_mhz;         /* MHz, the clock the peaks hold at; 0 = not given */
    double clock_power_exponent;     /* SM power scales as f^this at clock fraction f */
    double clock_memory_sensitivity; /* memory-bound time grows by this x (1/f - 1) */
    /* Achievable fractions of peak for the roofline (from measured tables). */
    double eff_matmul;    /* large dense GEMM, fraction of peak FLOP/s */
    double eff_mem;       /* streaming, fraction of peak memory bandwidth */
    double eff_link;      /* collective bus bandwidth, fraction of link peak */
    double eff_link_nvls; /* NVLS all-reduce algorithm bandwidth / link peak; 0 = no NVLS */
    double eff_attention; /* flash-attention prefill, fraction of the matrix peak */
    /* Fused MoE expert kernels (grouped GEMMs over the experts a step
     * touches): their own fractions, as they run well below dense GEMMs. */
    double eff_moe_matmul;   /* fraction of the weight dtype's matrix peak */
    double eff_moe_mem;      /* fraction of peak memory bandwidth, 16-bit expert weights */
    double eff_moe_mem_8bit; /* the same for 8-bit (fp8, int8) expert weights */
    double eff_moe_mem_4bit; /* the same for 4-bit (fp4, int4) expert weights */
    /* The same three for one fused MoE kernel family (engine.moe_backend),
     * [backend][16-, 8-, 4-bit], from efficiency.moe_memory[_8bit|_4bit]_<name>;
     * 0 (and the whole AUTO row) = the generic key above. */
    double eff_moe_mem_backend[SV_MOE_BACKEND_COUNT][3];
    /* Rows of the matrix tile each touched expert's grouped GEMM computes
     * (its rows are padded up to whole tiles), [backend][16-, 8-, 4-bit],
     * from efficiency.moe_tile_rows[_8bit|_4bit][_<backend>]; 0 = the next
     * more generic key, and [AUTO][0] (moe_tile_rows) defaults to 16. */
    double moe_tile_rows[SV_MOE_BACKEND_COUNT][3];
    /* Which rows the grouped GEMM computes, [backend][16-, 8-, 4-bit], from
     * efficiency.moe_grid[_8bit|_4bit][_<backend>] (sv_hw_moe_workspace_grid):
     * 0 unset, SV_MOE_GRID_TOUCHED or SV_MOE_GRID_WORKSPACE. */
    int moe_grid[SV_MOE_BACKEND_COUNT][3];
    /* vLLM's Triton fused_moe with its default tiles, 16-bit experts: the
     * thread blocks (CTAs) that stream weights, per kernel, from which it
     * reaches efficiency.moe_memory (efficiency.moe_triton_full_ctas; 0 =
     * always), and the exponent of the shortfall below
     * (moe_triton_ctas_exponent): efficiency x (CTAs / full)^exponent. */
    double moe_triton_full_ctas;
    double moe_triton_ctas_exponent;
    /* Host-side overheads (framework, scheduler, sampling launch). */
    double host_overhead_iter_s;       /* s per iteration */
    double host_overhead_req_s;        /* s per request in the batch, per iteration */
    double kernel_launch_s;            /* s, fixed cost per kernel (latency floor) */
    double moe_layer_s;                /* s per MoE layer: routing, sorting, quantizing, summing */
    double eager_layer_s;              /* s per layer of an eager step (no CUDA graph), unhidden */
    double eager_moe_layer_s;          /* s more per MoE layer of such a step (0 = none measured) */
    int num_host_profiles;             /* named host overheads (overheads.profiles) */
    SvHostProfile *host_profiles;      /* (owned) in file order */
    double activation_workspace_bytes; /* bytes reserved for activations per device */
    double runtime_reserve_bytes;      /* bytes: CUDA context, NCCL buffers, graphs */
    /* Measured kernel-time tables (hw/calib.h), NULL when the profile has
     * none: then every op is a roofline with the factors above. Shared by
     * copies (reference counted), never modified after loading. */
    struct SvCalib *calib;
};

/* Load hwprofiles/<name>.yaml or a path. Errors in SV_HW_ERROR with
 * "FILE:LINE:COL: message"; an unknown name suggests the nearest profile.
 * (transfer full) */
SvHw *sv_hw_load(const char *name_or_path, GError **error);
/* Same, but a relative path is also tried relative to @rel_dir (the folder of
 * the study config that names it); @rel_dir may be NULL. (transfer full) */
SvHw *sv_hw_load_from(const char *name_or_path, const char *rel_dir, GError **error);
SvHw *sv_hw_copy(const SvHw *hw);
void sv_hw_free(SvHw *hw);
/* The host overhead profile @name of @hw, or NULL when it has none of that
 * name. (transfer none) */
const SvHostProfile *sv_hw_host_profile(const SvHw *hw, const char *name);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvHw, sv_hw_free)

/* Peak FLOP/s for a GEMM whose weights are @wdtype and activations @adtype.
 * The tensor cores run one format for both operands, and a weight-only
 * quantised GEMM dequantises the weights to the activation format first, so
 * the GEMM runs in the wider (slower) of the two: fp8 weights with bf16
 * activations run at the bf16 rate (W8A8 fp8 runs at the fp8 rate); W4A16 runs
 * at the activation rate; W8A8 int8 at the int8 rate. None of the shipped
 * devices has a faster mixed-precision path. When the chosen format has no
 * peak on this device (0 = unsupported, e.g. fp8 on A100) the GEMM falls back
 * to bf16, then fp16 (as vLLM falls back to W8A16 kernels). */
double sv_hw_matmul_peak(const SvHw *hw, SvDtype wdtype, SvDtype adtype);

/* The fraction of peak memory bandwidth at which the fused MoE expert
 * kernels of @backend stream expert weights of @wdtype: the backend's own
 * efficiency.moe_memory[_8bit|_4bit]_<backend> when the profile has it, else
 * the generic efficiency.moe_memory for 16-bit weights, moe_memory_8bit for
 * 8-bit, moe_memory_4bit below (fitted on what vLLM runs by default on the
 * device: SV_MOE_BACKEND_AUTO); eff_mem when the profile was built in code
 * and left them 0. */
double sv_hw_moe_mem_efficiency(const SvHw *hw, SvDtype wdtype, SvMoeBackend backend);

/* The rows of the matrix tile a touched expert of @backend computes for
 * expert weights of @wdtype: efficiency.moe_tile_rows[_8bit|_4bit]_<backend>,
 * else moe_tile_rows[_8bit|_4bit], else moe_tile_rows, else 16 (tl.dot's
 * minimum, what vLLM's Triton fused_moe pads to at small batches). */
double sv_hw_moe_tile_rows(const SvHw *hw, SvDtype wdtype, SvMoeBackend backend);

/* The values of efficiency.moe_grid*: "touched" (each touched expert's rows
 * padded to whole tiles, as vLLM's Triton fused_moe and FlashInfer's
 * kernels run them) or "workspace" (every tile of a workspace sized for the
 * worst case, T x top_k + local experts x (tile - 1) rows rounded up to a
 * tile, as DeepGEMM's contiguous grouped GEMM does on SM100 under vLLM 0.11:
 * vLLM sizes the workspace without the per-expert counts, which a CUDA graph
 * cannot read back, and the SM100 kernel computes its padding tiles against
 * expert 0's weights instead of skipping them). */
enum { SV_MOE_GRID_TOUCHED = 1, SV_MOE_GRID_WORKSPACE = 2 };

/* Whether the grouped GEMMs of @backend run the worst-case workspace for
 * expert weights of @wdtype: efficiency.moe_grid[_8bit|_4bit]_<backend>,
 * else moe_grid_<backend>; for SV_MOE_BACKEND_AUTO moe_grid[_8bit|_4bit],
 * else moe_grid. Unlike the tile and the efficiencies, a named family does
 * not fall back to the plain keys: those describe the kernel vLLM picks by
 * default, and "workspace" is one kernel's behaviour. Unset: touched. */
gboolean sv_hw_moe_workspace_grid(const SvHw *hw, SvDtype wdtype, SvMoeBackend backend);

G_END_DECLS

#endif /* SV_HW_H */
