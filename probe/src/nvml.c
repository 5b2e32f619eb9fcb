/* NVML through dlopen (see nvml.h). The few NVML types used are declared
 * here with the layouts of the public nvml.h, because the header is not
 * installed on machines without the driver. */
#include "nvml.h"

#include <dlfcn.h>
#include <math.h>
#include <string.h>

typedef int nvmlReturn_t; /* 0 = NVML_SUCCESS */
typedef void *nvmlDevice_t;

#define NVML_CLOCK_SM                1
#define NVML_CLOCK_MEM               2
#define NVML_TEMPERATURE_GPU         0
#define NVML_FI_DEV_POWER_INSTANT    186
#define NVML_VALUE_TYPE_UNSIGNED_INT 1

typedef union {
    double dVal;
    unsigned int uiVal;
    unsigned long ulVal;
    unsigned long long ullVal;
    long long sllVal;
    int siVal;
    unsigned short usVal;
} NvmlValue;

typedef struct {
    unsigned int fieldId;
    unsigned int scopeId;
    long long timestamp;
    long long latencyUsec;
    int valueType;
    nvmlReturn_t nvmlReturn;
    NvmlValue value;
} NvmlFieldValue;

typedef struct {
    nvmlReturn_t (*init)(void);
    nvmlReturn_t (*shutdown)(void);
    const char *(*error_string)(nvmlReturn_t);
    nvmlReturn_t (*by_index)(unsigned int, nvmlDevice_t *);
    nvmlReturn_t (*by_pci)(const char *, nvmlDevice_t *);
    nvmlReturn_t (*power_usage)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*field_values)(nvmlDevice_t, int, NvmlFieldValue *);
    nvmlReturn_t (*clock_info)(nvmlDevice_t, int, unsigned int *);
    nvmlReturn_t (*max_clock_info)(nvmlDevice_t, int, unsigned int *);
    nvmlReturn_t (*temperature)(nvmlDevice_t, int, unsigned int *);
    nvmlReturn_t (*power_limit)(nvmlDevice_t, unsigned int *);
    nvmlReturn_t (*energy)(nvmlDevice_t, unsigned long long *);
    nvmlReturn_t (*throttle)(nvmlDevice_t, unsigned long long *);
    nvmlReturn_t (*lock_clocks)(nvmlDevice_t, unsigned int, unsigned int);
    nvmlReturn_t (*reset_clocks)(nvmlDevice_t);
    nvmlReturn_t (*driver_version)(char *, unsigned int);
} NvmlApi;

struct ProbeNvml {
    void *lib;        /* dlopen handle */
    NvmlApi api;      /* resolved entry points (optional ones may be NULL) */
    nvmlDevice_t dev; /* the device being measured */
    gboolean instant; /* the instantaneous power field works */
    gboolean locked;  /* this process locked the clocks */
    char driver[96];  /* driver version */
};

static const char *const default_libs[] = {"libnvidia-ml.so.1", "libnvidia-ml.so", NULL};

static const char *err_str(const ProbeNvml *n, nvmlReturn_t rc)
{
    const char *s = n->api.error_string ? n->api.error_string(rc) : NULL;
    return s ? s : "unknown NVML error";
}

ProbeNvml *probe_nvml_open(const char *const *lib_names, const char *pci_bus_id, GError **error)
{
    if (lib_names == NULL)
        lib_names = default_libs;
    void *lib = NULL;
    const char *tried = NULL;
    for (int i = 0; lib_names[i] != NULL && lib == NULL; i++) {
        lib = dlopen(lib_names[i], RTLD_NOW | RTLD_LOCAL);
        tried = lib_names[i];
    }
    if (lib == NULL) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_NVML,
                    "NVML not available (cannot load %s: %s); power and clocks are not recorded",
                    tried ? tried : "libnvidia-ml", dlerror());
        return NULL;
    }
    ProbeNvml *n = g_new0(ProbeNvml, 1);
    n->lib = lib;
    /* Required symbols; the optional ones below only lose a column. */
    struct {
        const char *name;
        void **slot;
        gboolean required;
    } syms[] = {
        {"nvmlInit_v2", (void **)&n->api.init, TRUE},
        {"nvmlShutdown", (void **)&n->api.shutdown, TRUE},
        {"nvmlErrorString", (void **)&n->api.error_string, TRUE},
        {"nvmlDeviceGetHandleByIndex_v2", (void **)&n->api.by_index, TRUE},
        {"nvmlDeviceGetHandleByPciBusId_v2", (void **)&n->api.by_pci, FALSE},
        {"nvmlDeviceGetPowerUsage", (void **)&n->api.power_usage, TRUE},
        {"nvmlDeviceGetFieldValues", (void **)&n->api.field_values, FALSE},
        {"nvmlDeviceGetClockInfo", (void **)&n->api.clock_info, FALSE},
        {"nvmlDeviceGetMaxClockInfo", (void **)&n->api.max_clock_info, FALSE},
        {"nvmlDeviceGetTemperature", (void **)&n->api.temperature, FALSE},
        {"nvmlDeviceGetEnforcedPowerLimit", (void **)&n->api.power_limit, FALSE},
        {"nvmlDeviceGetTotalEnergyConsumption", (void **)&n->api.energy, FALSE},
        {"nvmlDeviceGetCurrentClocksEventReasons", (void **)&n->api.throttle, FALSE},
        {"nvmlDeviceSetGpuLockedClocks", (void **)&n->api.lock_clocks, FALSE},
        {"nvmlDeviceResetGpuLockedClocks", (void **)&n->api.reset_clocks, FALSE},
        {"nvmlSystemGetDriverVersion", (void **)&n->api.driver_version, FALSE},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(syms); i++) {
        *syms[i].slot = dlsym(lib, syms[i].name);
        if (*syms[i].slot == NULL && syms[i].required) {
            g_set_error(error, PROBE_ERROR, PROBE_ERROR_NVML,
                        "NVML not usable (%s has no %s); power and clocks are not recorded", tried,
                        syms[i].name);
            dlclose(lib);
            g_free(n);
            return NULL;
        }
    }
    if (n->api.throttle == NULL) /* the name before driver 535 */
        n->api.throttle = dlsym(lib, "nvmlDeviceGetCurrentClocksThrottleReasons");
    nvmlReturn_t rc = n->api.init();
    if (rc != 0) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_NVML,
                    "NVML not usable (nvmlInit: %s); power and clocks are not recorded",
                    err_str(n, rc));
        dlclose(lib);
        g_free(n);
        return NULL;
    }
    if (pci_bus_id != NULL && n->api.by_pci != NULL)
        rc = n->api.by_pci(pci_bus_id, &n->dev);
    else
        rc = n->api.by_index(0, &n->dev);
    if (rc != 0) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_NVML,
                    "NVML has no device at %s (%s); power and clocks are not recorded",
                    pci_bus_id ? pci_bus_id : "index 0", err_str(n, rc));
        n->api.shutdown();
        dlclose(lib);
        g_free(n);
        return NULL;
    }
    if (n->api.driver_version != NULL && n->api.driver_version(n->driver, sizeof n->driver) != 0)
        n->driver[0] = '\0';
    /* Prefer the instantaneous power field: nvmlDeviceGetPowerUsage averages
     * over about a second on Ampere and later, which would smear each
     * benchmark point into its neighbours. */
    if (n->api.field_values != NULL) {
        NvmlFieldValue fv = {0};
        fv.fieldId = NVML_FI_DEV_POWER_INSTANT;
        n->instant = n->api.field_values(n->dev, 1, &fv) == 0 && fv.nvmlReturn == 0;
    }
    return n;
}

void probe_nvml_close(ProbeNvml *n)
{
    if (n == NULL)
        return;
    probe_nvml_unlock(n);
    n->api.shutdown();
    dlclose(n->lib);
    g_free(n);
}

gboolean probe_nvml_read(ProbeNvml *n, ProbeReading *out)
{
    memset(out, 0, sizeof *out);
    out->power_w = out->sm_clock_mhz = out->mem_clock_mhz = NAN;
    out->temperature_c = out->energy_j = NAN;
    gboolean ok = FALSE;
    if (n->instant) {
        NvmlFieldValue fv = {0};
        fv.fieldId = NVML_FI_DEV_POWER_INSTANT;
        if (n->api.field_values(n->dev, 1, &fv) == 0 && fv.nvmlReturn == 0) {
            double mw = fv.valueType == NVML_VALUE_TYPE_UNSIGNED_INT ? fv.value.uiVal
                                                                     : (double)fv.value.ullVal;
            out->power_w = mw * 1e-3;
            ok = TRUE;
        }
    }
    unsigned int v;
    if (!ok && n->api.power_usage(n->dev, &v) == 0) {
        out->power_w = v * 1e-3;
        ok = TRUE;
    }
    if (n->api.clock_info != NULL && n->api.clock_info(n->dev, NVML_CLOCK_SM, &v) == 0)
        out->sm_clock_mhz = v;
    if (n->api.clock_info != NULL && n->api.clock_info(n->dev, NVML_CLOCK_MEM, &v) == 0)
        out->mem_clock_mhz = v;
    if (n->api.temperature != NULL && n->api.temperature(n->dev, NVML_TEMPERATURE_GPU, &v) == 0)
        out->temperature_c = v;
    unsigned long long ull;
    if (n->api.energy != NULL && n->api.energy(n->dev, &ull) == 0)
        out->energy_j = (double)ull * 1e-3;
    if (n->api.throttle != NULL && n->api.throttle(n->dev, &ull) == 0)
        out->throttle_reasons = ull;
    return ok;
}

const char *probe_nvml_power_source(const ProbeNvml *n)
{
    return n->instant ? "nvml-instant" : "nvml-average";
}

const char *probe_nvml_driver_version(const ProbeNvml *n)
{
    return n->driver;
}

static unsigned max_clock(const ProbeNvml *n, int type)
{
    unsigned v = 0;
    if (n->api.max_clock_info == NULL || n->api.max_clock_info(n->dev, type, &v) != 0)
        return 0;
    return v;
}

unsigned probe_nvml_max_sm_clock_mhz(const ProbeNvml *n)
{
    return max_clock(n, NVML_CLOCK_SM);
}

unsigned probe_nvml_max_mem_clock_mhz(const ProbeNvml *n)
{
    return max_clock(n, NVML_CLOCK_MEM);
}

double probe_nvml_power_limit_w(const ProbeNvml *n)
{
    unsigned v = 0;
    if (n->api.power_limit == NULL || n->api.power_limit(n->dev, &v) != 0)
        return 0;
    return v * 1e-3;
}

gboolean probe_nvml_lock_sm_clock(ProbeNvml *n, unsigned mhz, GError **error)
{
    if (n->api.lock_clocks == NULL) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_NVML,
                    "this NVML cannot lock clocks (no nvmlDeviceSetGpuLockedClocks)");
        return FALSE;
    }
    nvmlReturn_t rc = n->api.lock_clocks(n->dev, mhz, mhz);
    if (rc != 0) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_NVML, "nvmlDeviceSetGpuLockedClocks: %s",
                    err_str(n, rc));
        return FALSE;
    }
    n->locked = TRUE;
    return TRUE;
}

void probe_nvml_unlock(ProbeNvml *n)
{
    if (n->locked && n->api.reset_clocks != NULL)
        n->api.reset_clocks(n->dev);
    n->locked = FALSE;
}

char *probe_throttle_reasons_string(uint64_t mask)
{
    static const struct {
        uint64_t bit;
        const char *name;
    } names[] = {
        {0x1, "gpu_idle"},    {0x2, "app_clocks"},      {0x4, "sw_power_cap"},
        {0x8, "hw_slowdown"}, {0x10, "sync_boost"},     {0x20, "sw_thermal"},
        {0x40, "hw_thermal"}, {0x80, "hw_power_brake"}, {0x100, "display_clocks"},
    };
    if (mask == 0)
        return g_strdup("none");
    GString *s = g_string_new(NULL);
    uint64_t known = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        known |= names[i].bit;
        if (mask & names[i].bit)
            g_string_append_printf(s, "%s%s", s->len ? "+" : "", names[i].name);
    }
    if (mask & ~known)
        g_string_append_printf(s, "%s0x%" G_GINT64_MODIFIER "x", s->len ? "+" : "",
                               (guint64)(mask & ~known));
    return g_string_free(s, FALSE);
}
