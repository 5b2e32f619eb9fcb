/* The study's power: section: per-pool caps, locked clocks, priorities and
 * prices; the cluster budget and its capping policy; energy prices. Read
 * after the pools' hardware is loaded, so that a cap below a device's idle
 * power, a clock the device does not have or a budget below what the
 * cluster draws idle are refused with the numbers, before a run starts. */
#include "power/power.h"

#include <string.h>

const char *const sv_cap_policy_names[] = {"uniform", "prefill-first", "lowest-priority-first",
                                           NULL};

static const char *const power_keys[] = {"pools", "cluster", "cost", NULL};
static const char *const pool_keys[] = {"name",     "power_cap_w",         "sm_clock_mhz",
                                        "priority", "usd_per_device_hour", NULL};
static const char *const cluster_keys[] = {"budget_w",         "oversubscription", "policy",
                                           "reaction_delay_s", "release_fraction", NULL};
static const char *const cost_keys[] = {"usd_per_kwh", "pue", "carbon_g_per_kwh", NULL};

/* Defaults. The reaction delay is an assumption: POLCA's capping acts
 * through the servers' management controllers, which take on the order of
 * a second to enforce a new limit (Patel et al., "POLCA", ASPLOS 2024,
 * discuss out-of-band capping latencies of seconds). The release fraction
 * leaves 10 % of hysteresis so that caps do not flap at the budget. */
#define DEFAULT_REACTION_DELAY_S 1.0
#define DEFAULT_RELEASE_FRACTION 0.9

/* Limits that catch unit slips (kW typed as W x 1000), not physics. */
#define MAX_POWER_W   1e9
#define MAX_CLOCK_MHZ 1e5
#define MAX_PRICE     1e6

void sv_power_config_clear(SvPowerConfig *config)
{
    if (config == NULL)
        return;
    g_free(config->pools);
    config->pools = NULL;
    config->num_pools = 0;
}

/* An optional number in [0, max] ((0, max] with @positive); *@mark gets its node. */
static gboolean number(const SvYDoc *doc, const SvYNode *map, const char *where, const char *key,
                       gboolean positive, double max, double *out, const SvYNode **mark,
                       GError **error)
{
    const SvYNode *n = sv_ynode_get(map, key);
    if (mark != NULL)
        *mark = n;
    if (n == NULL)
        return TRUE;
    g_autofree char *path = g_strdup_printf("%s.%s", where, key);
    return sv_ynode_bounded(doc, n, path, positive, 0, max, out, error);
}

/* @node, or NULL when it is absent or null: `--set power.cluster=null`
 * takes a section out, as a study without it would be. */
static const SvYNode *present(const SvYNode *node)
{
    return node != NULL && node->kind == SV_YNODE_SCALAR && node->is_null ? NULL : node;
}

static int find_pool(const SvConfig *config, const char *name)
{
    for (guint i = 0; i < config->pools->len; i++)
        if (strcmp(((const SvPoolConfig *)g_ptr_array_index(config->pools, i))->name, name) == 0)
            return (int)i;
    return -1;
}

static gboolean read_pool(const SvYDoc *doc, const SvYNode *node, int index, SvConfig *config,
                          gboolean *seen, GError **error)
{
    g_autofree char *where = g_strdup_printf("power.pools[%d]", index);
    if (!sv_ynode_expect_map(doc, node, where, error) ||
        !sv_ynode_check_keys(doc, node, where, pool_keys, error))
        return FALSE;
    const SvYNode *nn = sv_ynode_get(node, "name");
    if (nn == NULL)
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                             "%s needs 'name': the cluster pool it applies to", where);
    const char *name;
    g_autofree char *nk = g_strdup_printf("%s.name", where);
    if (!sv_ynode_string(doc, nn, nk, &name, error))
        return FALSE;
    int p = find_pool(config, name);
    if (p < 0) {
        const char **names = g_new0(const char *, config->pools->len + 1);
        for (guint i = 0; i < config->pools->len; i++)
            names[i] = ((const SvPoolConfig *)g_ptr_array_index(config->pools, i))->name;
        const char *near = sv_nearest(name, names);
        gboolean ok = sv_ydoc_error(
            doc, nn, error, SV_ERROR_INVALID, "%s: no cluster pool is named '%s'%s%s%s", nk, name,
            near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
        g_free(names);
        return ok;
    }
    if (seen[p])
        return sv_ydoc_error(doc, nn, error, SV_ERROR_INVALID,
                             "pool '%s' has two entries in power.pools", name);
    seen[p] = TRUE;
    const SvPoolConfig *pool = g_ptr_array_index(config->pools, p);
    const SvHw *hw = pool->hw;
    SvPoolPowerConfig *c = &config->power.pools[p];
    const SvYNode *cap_mark, *clock_mark;
    if (!number(doc, node, where, "power_cap_w", TRUE, MAX_POWER_W, &c->power_cap_w, &cap_mark,
                error) ||
        !number(doc, node, where, "sm_clock_mhz", TRUE, MAX_CLOCK_MHZ, &c->sm_clock_mhz,
                &clock_mark, error) ||
        !number(doc, node, where, "usd_per_device_hour", FALSE, MAX_PRICE, &c->usd_per_device_hour,
                NULL, error))
        return FALSE;
    const SvYNode *pn = sv_ynode_get(node, "priority");
    g_autofree char *pk = g_strdup_printf("%s.priority", where);
    if (pn != NULL && !sv_ynode_int(doc, pn, pk, -1000000, 1000000, &c->priority, error))
        return FALSE;
    if (cap_mark != NULL && c->power_cap_w <= hw->idle_power_w)
        return sv_ydoc_error(doc, cap_mark, error, SV_ERROR_INVALID,
                             "%s.power_cap_w %g W is not above the idle power of %s (%g W): "
                             "the device could never run",
                             where, c->power_cap_w, hw->name, hw->idle_power_w);
    if (cap_mark != NULL && c->power_cap_w > hw->max_power_w)
        return sv_ydoc_error(doc, cap_mark, error, SV_ERROR_INVALID,
                             "%s.power_cap_w %g W is above the board limit of %s (power.max_w "
                             "%g W); leave it out for the board's own limit",
                             where, c->power_cap_w, hw->name, hw->max_power_w);
    if (clock_mark != NULL) {
        double max = hw->max_sm_clock_mhz;
        if (max <= 0)
            return sv_ydoc_error(doc, clock_mark, error, SV_ERROR_INVALID,
                                 "%s.sm_clock_mhz: hardware profile %s gives no maximum clock "
                                 "(power.sm_clock_mhz) to scale from",
                                 where, hw->name);
        if (c->sm_clock_mhz > max)
            return sv_ydoc_error(doc, clock_mark, error, SV_ERROR_INVALID,
                                 "%s.sm_clock_mhz %g MHz is above the %g MHz maximum of %s", where,
                                 c->sm_clock_mhz, max, hw->name);
        if (c->sm_clock_mhz < SV_POWER_MIN_CLOCK * max)
            return sv_ydoc_error(doc, clock_mark, error, SV_ERROR_INVALID,
                                 "%s.sm_clock_mhz %g MHz is below %g MHz, the lowest clock the "
                                 "model covers on %s (%g of its %g MHz)",
                                 where, c->sm_clock_mhz, SV_POWER_MIN_CLOCK * max, hw->name,
                                 SV_POWER_MIN_CLOCK, max);
    }
    return TRUE;
}

static gboolean read_cluster(const SvYDoc *doc, const SvYNode *map, SvConfig *config,
                             GError **error)
{
    SvPowerConfig *pc = &config->power;
    const SvYNode *budget_mark, *over_mark;
    if (!sv_ynode_check_keys(doc, map, "power.cluster", cluster_keys, error) ||
        !number(doc, map, "power.cluster", "budget_w", TRUE, MAX_POWER_W, &pc->budget_w,
                &budget_mark, error) ||
        !number(doc, map, "power.cluster", "oversubscription", FALSE, 100, &pc->oversubscription,
                &over_mark, error) ||
        !number(doc, map, "power.cluster", "reaction_delay_s", TRUE, 1e6, &pc->reaction_delay_s,
                NULL, error) ||
        !number(doc, map, "power.cluster", "release_fraction", TRUE, 1.0, &pc->release_fraction,
                NULL, error))
        return FALSE;
    int policy = SV_CAP_UNIFORM;
    const SvYNode *pn = sv_ynode_get(map, "policy");
    if (pn != NULL &&
        !sv_ynode_enum(doc, pn, "power.cluster.policy", sv_cap_policy_names, &policy, error))
        return FALSE;
    pc->policy = (SvCapPolicy)policy;
    if (budget_mark != NULL && over_mark != NULL)
        return sv_ydoc_error(doc, over_mark, error, SV_ERROR_INVALID,
                             "power.cluster: give budget_w or oversubscription, not both "
                             "(oversubscription sets the budget to the nameplate power / (1 + "
                             "oversubscription))");
    double nameplate = 0, idle = 0;
    int devices = 0;
    for (guint i = 0; i < config->pools->len; i++) {
        const SvPoolConfig *p = g_ptr_array_index(config->pools, i);
        int n = p->replicas * p->tensor_parallel_size * p->pipeline_parallel_size *
                MAX(p->data_parallel_size, 1);
        devices += n;
        nameplate += n * p->hw->max_power_w;
        idle += n * p->hw->idle_power_w;
    }
    const SvYNode *mark = budget_mark;
    if (over_mark != NULL) {
        pc->budget_w = nameplate / (1.0 + pc->oversubscription);
        mark = over_mark;
    }
    if (mark == NULL)
        return sv_ydoc_error(doc, map, error, SV_ERROR_INVALID,
                             "power.cluster needs budget_w (W) or oversubscription (nameplate "
                             "power / budget - 1)");
    if (pc->budget_w <= idle)
        return sv_ydoc_error(doc, mark, error, SV_ERROR_INVALID,
                             "power.cluster: the budget of %g W is not above the cluster's idle "
                             "draw of %g W (%d devices): it would be exceeded with nothing "
                             "running",
                             pc->budget_w, idle, devices);
    if (budget_mark != NULL)
        pc->oversubscription = nameplate / pc->budget_w - 1.0;
    return TRUE;
}

gboolean sv__power_config_read(const SvYDoc *doc, const SvYNode *root, SvConfig *config,
                               GError **error)
{
    g_return_val_if_fail(doc != NULL && config != NULL, FALSE);
    SvPowerConfig *pc = &config->power;
    sv_power_config_clear(pc);
    memset(pc, 0, sizeof *pc);
    pc->num_pools = (int)config->pools->len;
    pc->pools = g_new0(SvPoolPowerConfig, pc->num_pools);
    pc->reaction_delay_s = DEFAULT_REACTION_DELAY_S;
    pc->release_fraction = DEFAULT_RELEASE_FRACTION;
    pc->pue = 1.0;
    const SvYNode *map = present(root != NULL ? sv_ynode_get(root, "power") : NULL);
    if (map == NULL)
        return TRUE;
    if (!sv_ynode_expect_map(doc, map, "power", error) ||
        !sv_ynode_check_keys(doc, map, "power", power_keys, error))
        return FALSE;

    const SvYNode *pools = present(sv_ynode_get(map, "pools"));
    if (pools != NULL) {
        if (!sv_ynode_expect_seq(doc, pools, "power.pools", error))
            return FALSE;
        g_autofree gboolean *seen = g_new0(gboolean, pc->num_pools);
        for (guint i = 0; i < pools->items->len; i++)
            if (!read_pool(doc, g_ptr_array_index(pools->items, i), (int)i, config, seen, error))
                return FALSE;
    }
    const SvYNode *cluster = present(sv_ynode_get(map, "cluster"));
    if (cluster != NULL && (!sv_ynode_expect_map(doc, cluster, "power.cluster", error) ||
                            !read_cluster(doc, cluster, config, error)))
        return FALSE;
    const SvYNode *cost = present(sv_ynode_get(map, "cost"));
    if (cost != NULL) {
        const SvYNode *pue_mark;
        if (!sv_ynode_expect_map(doc, cost, "power.cost", error) ||
            !sv_ynode_check_keys(doc, cost, "power.cost", cost_keys, error) ||
            !number(doc, cost, "power.cost", "usd_per_kwh", FALSE, MAX_PRICE, &pc->usd_per_kwh,
                    NULL, error) ||
            !number(doc, cost, "power.cost", "pue", TRUE, 10, &pc->pue, &pue_mark, error) ||
            !number(doc, cost, "power.cost", "carbon_g_per_kwh", FALSE, 1e5, &pc->carbon_g_per_kwh,
                    NULL, error))
            return FALSE;
        /* PUE counts the facility's overhead on top of the IT load. */
        if (pue_mark != NULL && pc->pue < 1)
            return sv_ydoc_error(doc, pue_mark, error, SV_ERROR_INVALID,
                                 "power.cost.pue must be at least 1 (facility energy / IT "
                                 "energy), got %s",
                                 pue_mark->value);
    }
    return TRUE;
}
