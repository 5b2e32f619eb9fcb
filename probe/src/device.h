/* The CUDA device being measured: what the CSV headers say about it, and the
 * peak rates derived from its attributes for the achieved-versus-peak
 * figures. Opening it is where "no CUDA device" is detected. */
#ifndef PROBE_DEVICE_H
#define PROBE_DEVICE_H

#include "plan.h"

G_BEGIN_DECLS

typedef struct {
    int index;              /* CUDA device index */
    int count;              /* visible devices */
    char name[256];         /* cudaDeviceProp.name */
    int cc_major, cc_minor; /* compute capability */
    int sm_count;           /* multiprocessors */
    int64_t mem_bytes;      /* global memory */
    int l2_bytes;           /* L2 cache */
    int sm_clock_khz;       /* peak SM clock */
    int mem_clock_khz;      /* peak memory clock */
    int bus_width_bits;     /* memory bus width */
    char pci_bus_id[32];    /* for NVML */
    int runtime_version;    /* e.g. 13000 */
    int driver_version;     /* CUDA version the driver supports, e.g. 12040 */
} ProbeDevice;

/* Select and describe device @index. Errors: PROBE_ERROR_NO_DEVICE "no CUDA
 * device (cudaGetDeviceCount: ...)" when there is no device or driver,
 * PROBE_ERROR_ARGS for an index past the last device. */
gboolean probe_device_open(int index, ProbeDevice *dev, GError **error);

/* Peak rates of @dev: dense bf16 FLOP/s = SMs x SM clock x FLOP per clock
 * per SM (2048 on sm_80, 1024 on sm_86/89, 4096 on sm_90; fp8 twice bf16 on
 * sm_89+), HBM = 2 x memory clock x bus width (double data rate). */
void probe_device_target(const ProbeDevice *dev, gboolean has_nccl, ProbeTarget *target);

/* "13.0" from 13000. (transfer full) */
char *probe_cuda_version_string(int version);

G_END_DECLS

#endif /* PROBE_DEVICE_H */
