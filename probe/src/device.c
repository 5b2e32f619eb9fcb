/* The measured CUDA device (see device.h). */
#include "device.h"

#include <cuda_runtime_api.h>
#include <string.h>

gboolean probe_device_open(int index, ProbeDevice *d, GError **error)
{
    memset(d, 0, sizeof *d);
    cudaError_t e = cudaGetDeviceCount(&d->count);
    if (e != cudaSuccess || d->count == 0) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_NO_DEVICE,
                    "no CUDA device (cudaGetDeviceCount: %s)",
                    e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
        return FALSE;
    }
    if (index >= d->count) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_ARGS,
                    "--device %d: only %d CUDA device(s) visible", index, d->count);
        return FALSE;
    }
    struct cudaDeviceProp prop;
    if ((e = cudaSetDevice(index)) != cudaSuccess ||
        (e = cudaGetDeviceProperties(&prop, index)) != cudaSuccess) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_NO_DEVICE, "CUDA device %d unusable: %s", index,
                    cudaGetErrorString(e));
        return FALSE;
    }
    d->index = index;
    g_strlcpy(d->name, prop.name, sizeof d->name);
    d->cc_major = prop.major;
    d->cc_minor = prop.minor;
    d->sm_count = prop.multiProcessorCount;
    d->mem_bytes = (int64_t)prop.totalGlobalMem;
    d->l2_bytes = prop.l2CacheSize;
    cudaDeviceGetAttribute(&d->sm_clock_khz, cudaDevAttrClockRate, index);
    cudaDeviceGetAttribute(&d->mem_clock_khz, cudaDevAttrMemoryClockRate, index);
    cudaDeviceGetAttribute(&d->bus_width_bits, cudaDevAttrGlobalMemoryBusWidth, index);
    if (cudaDeviceGetPCIBusId(d->pci_bus_id, sizeof d->pci_bus_id, index) != cudaSuccess)
        d->pci_bus_id[0] = '\0';
    cudaRuntimeGetVersion(&d->runtime_version);
    cudaDriverGetVersion(&d->driver_version);
    return TRUE;
}

void probe_device_target(const ProbeDevice *d, gboolean has_nccl, ProbeTarget *t)
{
    memset(t, 0, sizeof *t);
    g_strlcpy(t->name, d->name, sizeof t->name);
    t->sm = d->cc_major * 10 + d->cc_minor;
    t->gpus = d->count;
    t->mem_bytes = (double)d->mem_bytes;
    t->l2_bytes = d->l2_bytes;
    t->has_nccl = has_nccl;
    double per_clk = t->sm >= 90 ? 4096 : (t->sm == 80 || t->sm == 87 ? 2048 : 1024);
    t->peak_bf16_flops = (double)d->sm_count * d->sm_clock_khz * 1e3 * per_clk;
    t->peak_fp8_flops = t->sm >= 89 ? 2 * t->peak_bf16_flops : 0;
    t->peak_mem_bw = 2.0 * d->mem_clock_khz * 1e3 * d->bus_width_bits / 8.0;
    /* PCIe Gen5 x16 on Hopper hosts, Gen4 before (per direction). */
    t->host_bw = t->sm >= 90 ? 64e9 : 32e9;
}

char *probe_cuda_version_string(int v)
{
    return g_strdup_printf("%d.%d", v / 1000, (v % 1000) / 10);
}
