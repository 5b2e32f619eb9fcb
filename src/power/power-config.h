/* The study's power: section as plain data: per-pool power caps, locked
 * clocks and prices, the cluster power budget with its capping policy
 * (POLCA), and the energy prices of cost and carbon. Kept apart from
 * power.h so that config.h can hold it without depending on the engine;
 * power.c reads it (sv__power_config_read) and runs it. */
#ifndef SV_POWER_CONFIG_H
#define SV_POWER_CONFIG_H

#include "core/common.h"

G_BEGIN_DECLS

/* Which devices a cluster budget caps first when the draw goes over it. */
typedef enum {
    SV_CAP_UNIFORM,               /* one per-device cap for every device */
    SV_CAP_PREFILL_FIRST,         /* prefill pools and prefill-heavy iterations first */
    SV_CAP_LOWEST_PRIORITY_FIRST, /* pools in rising power.pools[].priority */
    SV_CAP_COUNT
} SvCapPolicy;
extern const char *const sv_cap_policy_names[]; /* NULL-terminated, index = SvCapPolicy */

/* One cluster pool's settings (power.pools[], matched by name). */
typedef struct {
    double power_cap_w;         /* per-device power limit, W; 0 = the board's own (max_w) */
    double sm_clock_mhz;        /* locked SM clock, MHz; 0 = not locked */
    int priority;               /* capping order under lowest-priority-first (lowest first) */
    double usd_per_device_hour; /* $ per device-hour of the pool; 0 = not priced */
} SvPoolPowerConfig;

typedef struct {
    SvPoolPowerConfig *pools; /* one per cluster pool, in cluster order (owned); NULL: defaults */
    int num_pools;
    /* Cluster power budget (power.cluster), accelerator power only. */
    double budget_w;         /* W; 0 = no budget */
    double oversubscription; /* nameplate (devices x max_w) / budget - 1 */
    SvCapPolicy policy;      /* who is capped first */
    double reaction_delay_s; /* s from going over the budget to the caps taking effect */
    double release_fraction; /* caps are lifted when the uncapped draw is below this x budget */
    /* Energy prices (power.cost). */
    double usd_per_kwh;      /* $ per facility kWh; 0 = not priced */
    double pue;              /* facility energy / accelerator energy (>= 1; 1 by default) */
    double carbon_g_per_kwh; /* gCO2 per facility kWh; 0 = not counted */
} SvPowerConfig;

/* Free what @config owns (not @config itself). */
void sv_power_config_clear(SvPowerConfig *config);

G_END_DECLS

#endif /* SV_POWER_CONFIG_H */
