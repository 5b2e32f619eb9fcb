/* NVML, loaded at run time with dlopen: the probe must build on machines
 * with no NVIDIA driver (CI) and still start there, so it never links
 * libnvidia-ml. Only the handful of calls the probe needs are resolved:
 * power (instantaneous where the driver offers it, else the driver's
 * average), SM and memory clocks, temperature, throttle reasons, the energy
 * counter, and clock locking. */
#ifndef PROBE_NVML_H
#define PROBE_NVML_H

#include "probe.h"

G_BEGIN_DECLS

typedef struct ProbeNvml ProbeNvml;

/* One reading of the device's sensors. A field NVML cannot give is NaN
 * (or 0 for the masks). */
typedef struct {
    double t_s;                /* probe_now_s() when read */
    double power_w;            /* board power, W */
    double sm_clock_mhz;       /* current SM clock, MHz */
    double mem_clock_mhz;      /* current memory clock, MHz */
    double temperature_c;      /* GPU temperature, degrees C */
    double energy_j;           /* total energy counter since driver load, J */
    uint64_t throttle_reasons; /* NVML clocks-event reason bit mask */
} ProbeReading;

/* Load NVML from the first of @lib_names (NULL-terminated; NULL = the usual
 * "libnvidia-ml.so.1", "libnvidia-ml.so") that opens, initialise it and pick
 * the device whose PCI bus id is @pci_bus_id (as cudaDeviceGetPCIBusId
 * writes it; NULL = index 0). Errors (PROBE_ERROR_NVML) say which step
 * failed: no library, a missing symbol, nvmlInit, no such device. The probe
 * then runs without power and clock readings and says so in its CSV
 * headers. (transfer full) */
ProbeNvml *probe_nvml_open(const char *const *lib_names, const char *pci_bus_id, GError **error);
void probe_nvml_close(ProbeNvml *nvml);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ProbeNvml, probe_nvml_close)

/* Read every sensor into @out; FALSE only if the power reading failed. */
gboolean probe_nvml_read(ProbeNvml *nvml, ProbeReading *out);
/* "nvml-instant" or "nvml-average" (nvmlDeviceGetPowerUsage, which Ampere
 * and later average over about one second). (transfer none) */
const char *probe_nvml_power_source(const ProbeNvml *nvml);
/* Driver version string, "" if unknown. (transfer none) */
const char *probe_nvml_driver_version(const ProbeNvml *nvml);
/* Maximum SM / memory clock (MHz) and enforced power limit (W); 0 if unknown. */
unsigned probe_nvml_max_sm_clock_mhz(const ProbeNvml *nvml);
unsigned probe_nvml_max_mem_clock_mhz(const ProbeNvml *nvml);
double probe_nvml_power_limit_w(const ProbeNvml *nvml);
/* Lock the SM clock to @mhz (nvmlDeviceSetGpuLockedClocks, root only).
 * Errors (PROBE_ERROR_NVML) carry NVML's reason ("Insufficient Permissions"). */
gboolean probe_nvml_lock_sm_clock(ProbeNvml *nvml, unsigned mhz, GError **error);
/* Undo a lock made by this process; a no-op otherwise. */
void probe_nvml_unlock(ProbeNvml *nvml);

/* Names of the bits of a throttle-reason mask, '+' separated ("none" for 0):
 * sw_power_cap, hw_slowdown, sw_thermal, hw_thermal, hw_power_brake, ...
 * (transfer full) */
char *probe_throttle_reasons_string(uint64_t mask);

G_END_DECLS

#endif /* PROBE_NVML_H */
