/* Writers of a run's outputs: summary.json, requests.csv (one row per request,
 * in id order), timeseries.csv, and the table `run` prints. Every file goes to
 * "<name>.tmp" first and is renamed only when all three were written, so a
 * failed run never leaves a truncated file that looks complete. */
#include "metrics/metrics.h"
#include "metrics/quantile.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* ---- summary.json ---- */

/* ns -> s by division, which is correctly rounded (302030000000 ns prints as
 * 302.03), unlike a multiplication by the inexact 1e-9. */
static double ns_to_s(SvTimeNs t_ns)
{
    return (double)t_ns / 1e9;
}

static double finite_or_zero(double x)
{
    return isfinite(x) ? x : 0.0;
}

static void add_double(JsonBuilder *b, const char *name, double value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_double_value(b, finite_or_zero(value));
}

static void add_int(JsonBuilder *b, const char *name, int64_t value)
{
    json_builder_set_member_name(b, name);
    json_builder_add_int_value(b, value);
}

static void add_string(JsonBuilder *b, const char *name, const char *value)
{
    json_builder_set_member_name(b, name);
    if (value != NULL)
        json_builder_add_string_value(b, value);
    else
        json_builder_add_null_value(b);
}

static void add_dist(JsonBuilder *b, const char *name, const SvDist *d)
{
    json_builder_set_member_name(b, name);
    json_builder_begin_object(b);
    add_double(b, "mean", d->mean);
    add_double(b, "p50", d->p50);
    add_double(b, "p90", d->p90);
    add_double(b, "p99", d->p99);
    add_double(b, "max", d->max);
    json_builder_end_object(b);
}

static const char *scheduler_name(const SvConfig *config)
{
    int k = (int)config->engine.scheduler;
    return k >= 0 && k < SV_SCHED_COUNT ? sv_scheduler_names[k] : NULL;
}

static const char *router_name(const SvConfig *config)
{
    int k = (int)config->router;
    return k >= 0 && k < SV_ROUTER_COUNT ? sv_router_names[k] : NULL;
}

static const char *role_name(SvPoolRole role)
{
    return role >= SV_ROLE_MIXED && role <= SV_ROLE_DECODE ? sv_role_names[role] : NULL;
}

static void add_study(JsonBuilder *b, const SvConfig *config)
{
    json_builder_set_member_name(b, "study");
    if (config == NULL) {
        json_builder_add_null_value(b);
        return;
    }
    json_builder_begin_object(b);
    add_string(b, "config", config->path);
    add_string(b, "model", config->model_name);
    /* The seed is a uint64; JSON readers hold integers as int64 or double, and
     * a seed is an identifier, so anything above INT64_MAX is written as its
     * two's-complement twin rather than a rounded double. */
    add_int(b, "seed", (int64_t)config->seed);
    add_string(b, "scheduler", scheduler_name(config));
    add_string(b, "router", router_name(config));
    json_builder_set_member_name(b, "pools");
    json_builder_begin_array(b);
    for (guint i = 0; config->pools != NULL && i < config->pools->len; i++) {
        const SvPoolConfig *pool = g_ptr_array_index(config->pools, i);
        json_builder_begin_object(b);
        add_string(b, "name", pool->name);
        add_string(b, "hardware", pool->hardware_name);
        add_int(b, "replicas", pool->replicas);
        add_int(b, "tp", pool->tensor_parallel_size);
        add_int(b, "pp", pool->pipeline_parallel_size);
        add_int(b, "ep", pool->expert_parallel_size);
        add_string(b, "role", role_name(pool->role));
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
}

static int64_t completed_output_tokens(const SvMetrics *metrics)
{
    int64_t n = 0;
    size_t count = sv_metrics_num_requests(metrics);
    for (size_t i = 0; i < count; i++) {
        const SvRequestRecord *r = sv_metrics_request(metrics, i);
        if (r->outcome == SV_REQ_COMPLETED)
            n += r->output_tokens;
    }
    return n;
}

/* "slo_classes" or "tenants": one object per class or tenant, by name. */
static void add_groups(JsonBuilder *b, SvMetrics *metrics, SvGroupBy by)
{
    size_t n = 0;
    g_autofree SvGroupSummary *groups = sv_metrics_summarize_groups(metrics, by, &n);
    json_builder_set_member_name(b, by == SV_GROUP_TENANT ? "tenants" : "slo_classes");
    json_builder_begin_object(b);
    for (size_t i = 0; i < n; i++) {
        const SvGroupSummary *g = &groups[i];
        if (by == SV_GROUP_TENANT) {
            json_builder_set_member_name(b, sv_metrics_tenant_name(metrics, (int)i));
            json_builder_begin_object(b);
        } else {
            const SvSloClass *c = sv_metrics_slo_class(metrics, (int)i);
            json_builder_set_member_name(b, c->name);
            json_builder_begin_object(b);
            add_double(b, "target_ttft_s", c->ttft_s);
            add_double(b, "target_tpot_s", c->tpot_s);
            add_double(b, "target_e2e_s", c->e2e_s);
            add_int(b, "priority", c->priority);
        }
        add_int(b, "completed", g->completed);
        add_int(b, "rejected", g->rejected);
        add_dist(b, "ttft_s", &g->ttft_s);
        add_dist(b, "tpot_s", &g->tpot_s);
        add_dist(b, "e2e_s", &g->e2e_s);
        add_double(b, "slo_attainment", g->slo_attainment);
        add_double(b, "goodput_requests_per_s", g->goodput_requests_per_s);
        json_builder_set_member_name(b, "slo_met");
        json_builder_add_boolean_value(b, g->slo_met);
        json_builder_end_object(b);
    }
    json_builder_end_object(b);
}

static double ratio(int64_t num, int64_t den)
{
    return den > 0 ? (double)num / (double)den : 0.0;
}

/* "prefix_cache", "swaps", "preempted_s" and "queue_growth": the KV block
 * manager's figures (serve/kv-pool.h). */
static void add_kv_sections(JsonBuilder *b, const SvMetrics *metrics, const SvRunTotals *t)
{
    SvKvSummary k;
    sv_metrics_kv_summary(metrics, &k);
    json_builder_set_member_name(b, "prefix_cache");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "enabled");
    json_builder_add_boolean_value(b, t->prefix_caching);
    add_double(b, "hit_rate_tokens", ratio(t->prefix_hits_tokens, t->prefix_queries_tokens));
    add_double(b, "hit_rate_blocks", ratio(t->prefix_hits_blocks, t->prefix_queries_blocks));
    add_int(b, "hits_tokens", t->prefix_hits_tokens);
    add_int(b, "queries_tokens", t->prefix_queries_tokens);
    add_int(b, "hits_blocks", t->prefix_hits_blocks);
    add_int(b, "queries_blocks", t->prefix_queries_blocks);
    add_int(b, "evicted_blocks", t->prefix_evicted_blocks);
    add_int(b, "requests_with_hits", k.requests_with_hits);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "swaps");
    json_builder_begin_object(b);
    add_int(b, "out", t->swap_outs);
    add_int(b, "in", t->swap_ins);
    add_int(b, "blocks_out", t->swap_out_blocks);
    add_int(b, "blocks_in", t->swap_in_blocks);
    add_double(b, "copy_s", t->swap_copy_s);
    add_int(b, "recompute_fallbacks", t->swap_fallbacks);
    add_int(b, "cpu_blocks_per_replica", t->cpu_kv_blocks);
    json_builder_end_object(b);
    add_int(b, "requests_preempted", k.requests_preempted);
    add_dist(b, "preempted_s", &k.preempted_s);
    json_builder_set_member_name(b, "queue_growth");
    json_builder_begin_object(b);
    add_int(b, "waiting_peak", k.waiting_peak);
    add_double(b, "waiting_per_s", k.waiting_growth_per_s);
    json_builder_end_object(b);
}

/* "power": energy split, per-device figures, the cluster budget, cost and
 * carbon, and one object per pool (power/power.h says how each is made). */
static void add_power_section(JsonBuilder *b, const SvPowerTotals *p)
{
    json_builder_set_member_name(b, "power");
    json_builder_begin_object(b);
    json_builder_set_member_name(b, "modelled");
    json_builder_add_boolean_value(b, p->modelled);
    add_double(b, "span_s", p->span_s);
    add_double(b, "idle_energy_j", p->idle_energy_j);
    add_double(b, "attributed_energy_j", p->attributed_j);
    add_double(b, "unattributed_energy_j", p->unattributed_j);
    add_double(b, "device_mean_w", p->device_mean_w);
    add_double(b, "device_peak_w", p->device_peak_w);
    json_builder_set_member_name(b, "budget");
    json_builder_begin_object(b);
    add_double(b, "budget_w", p->budget_w);
    add_double(b, "oversubscription", p->oversubscription);
    add_string(b, "policy", p->policy != NULL ? p->policy : "none");
    add_double(b, "over_budget_s", p->over_budget_s);
    add_double(b, "over_budget_j", p->over_budget_j);
    add_int(b, "capping_events", p->capping_events);
    add_int(b, "release_events", p->release_events);
    add_double(b, "capped_s", p->capped_s);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "cost");
    json_builder_begin_object(b);
    add_double(b, "pue", p->pue);
    add_double(b, "facility_energy_kwh", p->facility_energy_j / 3.6e6);
    add_double(b, "energy_usd", p->energy_cost_usd);
    add_double(b, "devices_usd", p->device_cost_usd);
    add_double(b, "carbon_g", p->carbon_g);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "pools");
    json_builder_begin_array(b);
    for (int i = 0; i < p->num_pools; i++) {
        const SvPoolPowerTotals *q = &p->pools[i];
        json_builder_begin_object(b);
        add_string(b, "name", q->name);
        add_int(b, "devices", q->devices);
        add_double(b, "energy_j", q->energy_j);
        add_double(b, "mean_w", q->mean_w);
        add_double(b, "peak_w", q->peak_w);
        add_double(b, "device_mean_w", q->device_mean_w);
        add_double(b, "device_peak_w", q->device_peak_w);
        add_double(b, "active_device_w", q->active_device_w);
        add_double(b, "util_flops", q->util_flops);
        add_double(b, "util_mem", q->util_mem);
        add_double(b, "busy_s", q->busy_s);
        add_int(b, "iterations", q->iterations);
        add_int(b, "throttled_iterations", q->throttled);
        add_int(b, "cap_unmet_iterations", q->cap_unmet);
        add_double(b, "throttle_delay_s", q->throttle_delay_s);
        add_double(b, "device_hours", q->device_hours);
        add_double(b, "cost_usd", q->cost_usd);
        json_builder_end_object(b);
    }
    json_builder_end_array(b);
    json_builder_end_object(b);
}

/* "pipeline" (pipeline parallelism) and "kv_transfer" (disaggregated
 * prefill/decode): zeros when the cluster has neither. */
static void add_parallel_sections(JsonBuilder *b, const SvMetrics *metrics, const SvRunTotals *t)
{
    json_builder_set_member_name(b, "pipeline");
    json_builder_begin_object(b);
    add_int(b, "replicas", t->pipelined_replicas);
    add_double(b, "bubble_fraction", t->pipeline_bubble_fraction);
    add_double(b, "batches_in_flight_mean", t->pipeline_batches_in_flight);
    json_builder_end_object(b);
    SvTransferSummary x;
    sv_metrics_transfer_summary(metrics, &x);
    json_builder_set_member_name(b, "kv_transfer");
    json_builder_begin_object(b);
    add_int(b, "transfers", t->kv_transfers);
    add_double(b, "bytes", t->kv_transfer_bytes);
    add_int(b, "requests", x.requests);
    add_dist(b, "block_wait_s", &x.block_wait_s);
    add_dist(b, "link_wait_s", &x.link_wait_s);
    add_dist(b, "queue_s", &x.queue_s);
    add_dist(b, "transfer_s", &x.transfer_s);
    json_builder_end_object(b);
}

static JsonNode *build_summary(SvMetrics *metrics, const SvConfig *config,
                               const SvRunTotals *totals, const SvSummary *s)
{
    const SvSloConfig *slo = sv_metrics_slo(metrics);
    int64_t output_tokens = completed_output_tokens(metrics);
    g_autoptr(JsonBuilder) b = json_builder_new();
    json_builder_begin_object(b);
    add_int(b, "completed", s->completed);
    add_int(b, "rejected", s->rejected);
    add_int(b, "arrived", totals->arrived);
    add_int(b, "in_flight", MAX(0, totals->arrived - s->completed - s->rejected));
    add_double(b, "duration_s", s->duration_s);
    add_dist(b, "ttft_s", &s->ttft_s);
    add_dist(b, "tpot_s", &s->tpot_s);
    add_dist(b, "itl_s", &s->itl_s);
    add_dist(b, "e2e_s", &s->e2e_s);
    add_dist(b, "queue_s", &s->queue_s);
    json_builder_set_member_name(b, "throughput");
    json_builder_begin_object(b);
    add_double(b, "requests_per_s", s->requests_per_s);
    add_double(b, "input_tokens_per_s", s->input_tokens_per_s);
    add_double(b, "output_tokens_per_s", s->output_tokens_per_s);
    json_builder_end_object(b);
    add_double(b, "goodput_requests_per_s", s->goodput_requests_per_s);
    add_double(b, "slo_attainment", s->slo_attainment);
    json_builder_set_member_name(b, "slo_met");
    json_builder_add_boolean_value(b, s->slo_met);
    json_builder_set_member_name(b, "slo");
    json_builder_begin_object(b);
    add_double(b, "ttft_s", slo->ttft_s);
    add_double(b, "tpot_s", slo->tpot_s);
    add_double(b, "e2e_s", slo->e2e_s);
    add_double(b, "percentile", slo->percentile);
    json_builder_end_object(b);
    add_int(b, "preemptions", s->preemptions);
    add_double(b, "kv_utilization_mean", totals->kv_utilization_mean);
    add_double(b, "mfu_mean", totals->mfu_mean);
    add_double(b, "energy_j", totals->energy_j);
    add_double(b, "energy_per_output_token_j",
               output_tokens > 0 ? totals->energy_j / (double)output_tokens : 0.0);
    json_builder_set_member_name(b, "power_w");
    json_builder_begin_object(b);
    add_double(b, "mean", totals->power_mean_w);
    add_double(b, "peak", totals->power_peak_w);
    json_builder_end_object(b);
    add_double(b, "cost_usd", totals->cost_usd);
    add_double(b, "usd_per_million_output_tokens",
               output_tokens > 0 ? totals->cost_usd / (double)output_tokens * 1e6 : 0.0);
    add_double(b, "carbon_g", totals->power.carbon_g);
    add_double(b, "energy_per_slo_output_token_j",
               s->slo_output_tokens > 0 ? totals->energy_j / (double)s->slo_output_tokens : 0.0);
    add_power_section(b, &totals->power);
    json_builder_set_member_name(b, "sim");
    json_builder_begin_object(b);
    add_double(b, "wall_s", totals->wall_s);
    add_int(b, "events", totals->events);
    add_int(b, "iterations", totals->iterations);
    add_double(b, "simulated_s", ns_to_s(totals->end_ns));
    add_int(b, "replicas", totals->num_replicas);
    add_int(b, "devices", totals->num_devices);
    json_builder_end_object(b);
    json_builder_set_member_name(b, "rejected_by_reason");
    json_builder_begin_object(b);
    add_int(b, "too_long", sv_metrics_count_rejected(metrics, SV_REJECT_TOO_LONG));
    add_int(b, "kv_capacity", sv_metrics_count_rejected(metrics, SV_REJECT_KV_CAPACITY));
    add_int(b, "queue_full", sv_metrics_count_rejected(metrics, SV_REJECT_QUEUE_FULL));
    add_int(b, "rate_limited", sv_metrics_count_rejected(metrics, SV_REJECT_RATE_LIMITED));
    add_int(b, "slo_predicted_miss",
            sv_metrics_count_rejected(metrics, SV_REJECT_SLO_PREDICTED_MISS));
    json_builder_end_object(b);
    add_groups(b, metrics, SV_GROUP_SLO_CLASS);
    add_groups(b, metrics, SV_GROUP_TENANT);
    add_kv_sections(b, metrics, totals);
    add_parallel_sections(b, metrics, totals);
    add_study(b, config);
    json_builder_end_object(b);
    return json_builder_get_root(b);
}

/* JSON text is printed here rather than by JsonGenerator because json-glib
 * writes doubles with %.17g (0.1 becomes 0.10000000000000001). Values are
 * rounded to 12 significant digits, which hides the float noise of sums and
 * means (0.10996999999999961 -> 0.10997) while keeping nanoseconds for times
 * under 1000 s, then printed with the fewest digits that read back to that
 * rounded value, in plain notation between 1e-4 and 1e15. Deterministic. */
static void print_double(GString *out, double v)
{
    char buf[64];
    g_ascii_formatd(buf, sizeof(buf), "%.12g", v);
    double target = g_ascii_strtod(buf, NULL);
    int precision = 1;
    for (; precision < 12; precision++) {
        char format[8];
        g_snprintf(format, sizeof(format), "%%.%dg", precision);
        g_ascii_formatd(buf, sizeof(buf), format, v);
        if (g_ascii_strtod(buf, NULL) == target)
            break;
    }
    /* No shorter form reads back: keep all 12 digits, not the 11 tried last. */
    if (precision == 12)
        g_ascii_formatd(buf, sizeof(buf), "%.12g", v);
    double mag = fabs(target);
    if (strpbrk(buf, "eE") != NULL && mag >= 1e-4 && mag < 1e15) {
        int decimals = precision - 1 - (int)floor(log10(mag));
        char format[8];
        g_snprintf(format, sizeof(format), "%%.%df", MAX(decimals, 0));
        g_ascii_formatd(buf, sizeof(buf), format, target);
    }
    g_string_append(out, buf);
    /* Keep integral values typed as numbers with a fraction for strict readers. */
    if (strpbrk(buf, ".eE") == NULL)
        g_string_append(out, ".0");
}

static void print_string(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (*p == '"' || *p == '\\')
            g_string_append_printf(out, "\\%c", *p);
        else if (*p < 0x20)
            g_string_append_printf(out, "\\u%04x", *p);
        else
            g_string_append_c(out, (char)*p);
    }
    g_string_append_c(out, '"');
}

static void print_indent(GString *out, int depth)
{
    for (int i = 0; i < depth; i++)
        g_string_append(out, "  ");
}

static void print_node(GString *out, JsonNode *node, int depth)
{
    switch (json_node_get_node_type(node)) {
    case JSON_NODE_NULL:
        g_string_append(out, "null");
        break;
    case JSON_NODE_VALUE: {
        GType type = json_node_get_value_type(node);
        if (type == G_TYPE_BOOLEAN)
            g_string_append(out, json_node_get_boolean(node) ? "true" : "false");
        else if (type == G_TYPE_INT64)
            g_string_append_printf(out, "%" G_GINT64_FORMAT, json_node_get_int(node));
        else if (type == G_TYPE_DOUBLE)
            print_double(out, json_node_get_double(node));
        else
            print_string(out, json_node_get_string(node));
        break;
    }
    case JSON_NODE_ARRAY: {
        JsonArray *array = json_node_get_array(node);
        guint n = json_array_get_length(array);
        if (n == 0) {
            g_string_append(out, "[]");
            break;
        }
        g_string_append(out, "[\n");
        for (guint i = 0; i < n; i++) {
            print_indent(out, depth + 1);
            print_node(out, json_array_get_element(array, i), depth + 1);
            g_string_append(out, i + 1 < n ? ",\n" : "\n");
        }
        print_indent(out, depth);
        g_string_append_c(out, ']');
        break;
    }
    case JSON_NODE_OBJECT: {
        JsonObject *object = json_node_get_object(node);
        /* Insertion order: the order the builder added the members. */
        JsonObjectIter iter;
        const char *name;
        JsonNode *member;
        gboolean first = TRUE;
        json_object_iter_init_ordered(&iter, object);
        g_string_append_c(out, '{');
        while (json_object_iter_next_ordered(&iter, &name, &member)) {
            g_string_append(out, first ? "\n" : ",\n");
            first = FALSE;
            print_indent(out, depth + 1);
            print_string(out, name);
            g_string_append(out, ": ");
            print_node(out, member, depth + 1);
        }
        if (!first) {
            g_string_append_c(out, '\n');
            print_indent(out, depth);
        }
        g_string_append_c(out, '}');
        break;
    }
    }
}

/* ---- CSV ---- */

/* Simulated time printed exactly from integer nanoseconds ("%.9f" of a double
 * loses the last digits past about 10^7 s). */
static void put_seconds(FILE *f, SvTimeNs t_ns)
{
    uint64_t mag = t_ns < 0 ? (uint64_t)0 - (uint64_t)t_ns : (uint64_t)t_ns;
    fprintf(f, "%s%" G_GUINT64_FORMAT ".%09" G_GUINT64_FORMAT, t_ns < 0 ? "-" : "",
            mag / (uint64_t)SV_NS_PER_S, mag % (uint64_t)SV_NS_PER_S);
}

static void write_requests(FILE *f, const SvMetrics *metrics)
{
    size_t n = sv_metrics_num_requests(metrics);
    /* Records arrive in finish order; rows go out by id. The (id, record)
     * pairs go through the summaries' external sort, so that a 10 M-request
     * run does not hold 160 MB of them (ids are unique: the record index
     * only breaks impossible ties). Records already in id order need none. */
    gboolean sorted = TRUE;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = sv_metrics_request(metrics, i)->id >= sv_metrics_request(metrics, i - 1)->id;
    g_autoptr(SvPairSort) order = NULL;
    if (!sorted) {
        order = sv__metrics_pair_sort_new(metrics);
        for (size_t i = 0; i < n; i++)
            sv_pair_sort_add(order, (uint64_t)sv_metrics_request(metrics, i)->id, i);
    }

    fputs("id,arrival_s,input_tokens,output_tokens,outcome,reject_reason,replica,"
          "queue_s,ttft_s,"
          "tpot_s,e2e_s,max_itl_s,preemptions,tenant,slo_class,cached_tokens,preempted_s,"
          "energy_j,decode_replica,kv_block_wait_s,kv_link_wait_s,kv_transfer_s\n",
          f);
    for (size_t k = 0; k < n; k++) {
        SvSortPair next = {0, k};
        if (order != NULL)
            SV_ASSERT(sv_pair_sort_next(order, &next), "request row %zu of %zu lost", k, n);
        const SvRequestRecord *r = sv_metrics_request(metrics, (size_t)next.value);
        gboolean done = r->outcome == SV_REQ_COMPLETED;
        fprintf(f, "%d,", (int)r->id);
        put_seconds(f, r->arrival_ns);
        fprintf(f, ",%d,%d,%s,%s,", (int)r->input_tokens, (int)r->output_tokens,
                done ? "completed" : "rejected",
                done ? "" : sv_reject_reason_name((SvRejectReason)r->reject_reason));
        if (r->replica >= 0)
            fprintf(f, "%d", (int)r->replica);
        fputc(',', f);
        if (done) {
            put_seconds(f, r->first_scheduled_ns - r->arrival_ns);
            fputc(',', f);
            put_seconds(f, r->first_token_ns - r->arrival_ns);
            fputc(',', f);
            if (r->output_tokens > 1)
                fprintf(f, "%.9f",
                        ns_to_s(r->finish_ns - r->first_token_ns) / (double)(r->output_tokens - 1));
            fputc(',', f);
            put_seconds(f, r->finish_ns - r->arrival_ns);
            fputc(',', f);
            if (r->output_tokens > 1)
                put_seconds(f, r->max_itl_ns);
        } else {
            fputs(",,,,", f);
        }
        fprintf(f, ",%d,%s,%s", (int)r->preemptions, sv_metrics_tenant_name(metrics, r->tenant),
                sv_metrics_slo_class(metrics, r->slo_class)->name);
        SvRequestKv kv;
        sv_metrics_request_kv(metrics, r->id, &kv);
        fprintf(f, ",%d,", (int)kv.cached_tokens);
        put_seconds(f, kv.preempted_ns);
        fprintf(f, ",%.6f", finite_or_zero(sv_metrics_request_energy(metrics, r->id)));
        /* Disaggregation: empty unless a prefill replica handed it over. */
        SvRequestTransfer xt;
        if (sv_metrics_request_transfer(metrics, r->id, &xt)) {
            fprintf(f, ",%d,", (int)xt.decode_replica);
            put_seconds(f, xt.block_wait_ns);
            fputc(',', f);
            put_seconds(f, xt.link_wait_ns);
            fputc(',', f);
            put_seconds(f, xt.transfer_ns);
            fputc('\n', f);
        } else {
            fputs(",,,,\n", f);
        }
    }
}

static void write_timeseries(FILE *f, const SvMetrics *metrics)
{
    size_t n = 0;
    const SvSample *samples = sv_metrics_samples(metrics, &n);
    fputs("t_s,arrived,completed,rejected,running,waiting,kv_utilization,output_"
          "tokens,"
          "iterations,power_w,batch_seqs,batch_tokens",
          f);
    /* With several pools, each pool's power follows (power_w_<pool>). */
    int pools = 0;
    const double *pw = sv_metrics_pool_power(metrics, 0, &pools);
    for (int p = 0; pw != NULL && p < pools; p++)
        fprintf(f, ",power_w_%s", sv_metrics_power_pool_name(metrics, p));
    fputc('\n', f);
    for (size_t i = 0; i < n; i++) {
        const SvSample *s = &samples[i];
        put_seconds(f, s->t_ns);
        fprintf(f,
                ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT
                ",%d,%d,%.6f,%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT ",%.3f,%.3f,%.1f",
                s->arrived, s->completed, s->rejected, (int)s->running, (int)s->waiting,
                finite_or_zero(s->kv_utilization), s->output_tokens, s->iterations,
                finite_or_zero(s->power_w), finite_or_zero(s->batch_seqs),
                finite_or_zero(s->batch_tokens));
        pw = sv_metrics_pool_power(metrics, i, &pools);
        for (int p = 0; pw != NULL && p < pools; p++)
            fprintf(f, ",%.3f", finite_or_zero(pw[p]));
        fputc('\n', f);
        if ((i & 4095) == 4095) /* a spilled run's rows leave memory as they go */
            sv_metrics_samples_read(metrics, i);
    }
    sv_metrics_samples_read(metrics, n);
}

/* ---- file plumbing ---- */

typedef enum { OUT_SUMMARY, OUT_REQUESTS, OUT_TIMESERIES, OUT_COUNT } OutFile;
static const char *const out_names[OUT_COUNT] = {"summary.json", "requests.csv", "timeseries.csv"};

static void set_file_error(GError **error, const char *path, int errsv)
{
    g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(errsv), "%s: %s", path,
                g_strerror(errsv));
}

/* Write one temporary file through stdio; FALSE with @error naming @final_path.
 */
static gboolean write_tmp(const char *tmp_path, const char *final_path, OutFile which,
                          const SvMetrics *metrics, const GString *summary_text, gboolean *created,
                          GError **error)
{
    FILE *f = fopen(tmp_path, "w");
    if (f == NULL) {
        set_file_error(error, final_path, errno);
        return FALSE;
    }
    *created = TRUE;
    switch (which) {
    case OUT_SUMMARY:
        fwrite(summary_text->str, 1, summary_text->len, f);
        break;
    case OUT_REQUESTS:
        write_requests(f, metrics);
        break;
    case OUT_TIMESERIES:
        write_timeseries(f, metrics);
        break;
    case OUT_COUNT:
        break;
    }
    int errsv = 0;
    if (fflush(f) != 0 || ferror(f))
        errsv = errno != 0 ? errno : EIO;
    if (fclose(f) != 0 && errsv == 0)
        errsv = errno != 0 ? errno : EIO;
    if (errsv != 0) {
        set_file_error(error, final_path, errsv);
        return FALSE;
    }
    return TRUE;
}

gboolean sv_metrics_write(SvMetrics *metrics, const SvConfig *config, const SvRunTotals *totals,
                          const char *dir, GError **error)
{
    g_return_val_if_fail(metrics != NULL && totals != NULL && dir != NULL, FALSE);
    g_return_val_if_fail(error == NULL || *error == NULL, FALSE);

    if (g_mkdir_with_parents(dir, 0755) != 0) {
        set_file_error(error, dir, errno);
        return FALSE;
    }

    SvSummary summary;
    sv_metrics_summarize(metrics, totals, &summary);
    g_autoptr(JsonNode) root = build_summary(metrics, config, totals, &summary);
    g_autoptr(GString) text = g_string_new(NULL);
    print_node(text, root, 0);
    g_string_append_c(text, '\n');

    char *final_paths[OUT_COUNT] = {NULL};
    char *tmp_paths[OUT_COUNT] = {NULL};
    gboolean created[OUT_COUNT] = {FALSE};
    gboolean ok = TRUE;
    for (int i = 0; i < OUT_COUNT; i++) {
        final_paths[i] = g_build_filename(dir, out_names[i], NULL);
        tmp_paths[i] = g_strconcat(final_paths[i], ".tmp", NULL);
    }
    for (int i = 0; ok && i < OUT_COUNT; i++)
        ok = write_tmp(tmp_paths[i], final_paths[i], (OutFile)i, metrics, text, &created[i], error);
    /* Rename only once every file is complete. A rename can still fail (a
     * directory in the way); the files renamed before it are complete. */
    for (int i = 0; ok && i < OUT_COUNT; i++) {
        if (g_rename(tmp_paths[i], final_paths[i]) != 0) {
            set_file_error(error, final_paths[i], errno);
            ok = FALSE;
        } else {
            created[i] = FALSE;
        }
    }
    for (int i = 0; i < OUT_COUNT; i++) {
        if (created[i])
            g_unlink(tmp_paths[i]);
        g_free(final_paths[i]);
        g_free(tmp_paths[i]);
    }
    return ok;
}

/* ---- stdout table ---- */

/* 3650.4 -> "3,650": whole numbers with thousands separators. */
static void append_grouped(GString *out, double value)
{
    double rounded = floor(finite_or_zero(value) + 0.5);
    char digits[32];
    g_snprintf(digits, sizeof(digits), "%.0f", fabs(rounded));
    if (rounded < 0)
        g_string_append_c(out, '-');
    size_t len = strlen(digits);
    for (size_t i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            g_string_append_c(out, ',');
        g_string_append_c(out, digits[i]);
    }
}

/* 1234567 -> "1.2 M", 45200 -> "45.2 k", 812 -> "812". */
static void append_count(GString *out, double value)
{
    if (value >= 1e9)
        g_string_append_printf(out, "%.1f G", value / 1e9);
    else if (value >= 1e6)
        g_string_append_printf(out, "%.1f M", value / 1e6);
    else if (value >= 1e4)
        g_string_append_printf(out, "%.1f k", value / 1e3);
    else
        g_string_append_printf(out, "%.0f", value);
}

static void append_dist_row(GString *out, const char *label, const SvDist *d)
{
    g_string_append_printf(out, "%-12s %9.4f %9.4f %9.4f %9.4f %9.4f\n", label, d->mean, d->p50,
                           d->p90, d->p99, d->max);
}

static void append_plan(GString *out, const SvConfig *config)
{
    for (guint i = 0; config->pools != NULL && i < config->pools->len; i++) {
        const SvPoolConfig *pool = g_ptr_array_index(config->pools, i);
        if (i > 0)
            g_string_append(out, " + ");
        if (config->pools->len > 1 && pool->name != NULL)
            g_string_append_printf(out, "%s: ", pool->name);
        g_string_append_printf(out, "%d x %s TP%d", pool->replicas,
                               pool->hardware_name != NULL ? pool->hardware_name : "?",
                               pool->tensor_parallel_size);
        if (pool->pipeline_parallel_size > 1)
            g_string_append_printf(out, " PP%d", pool->pipeline_parallel_size);
        if (pool->data_parallel_size > 1)
            g_string_append_printf(out, " DP%d", pool->data_parallel_size);
        if (pool->expert_parallel_size > 1)
            g_string_append_printf(out, " EP%d", pool->expert_parallel_size);
        if (pool->role != SV_ROLE_MIXED && role_name(pool->role) != NULL)
            g_string_append_printf(out, " (%s)", role_name(pool->role));
    }
}

char *sv_metrics_format_table(SvMetrics *metrics, const SvConfig *config, const SvRunTotals *totals)
{
    g_return_val_if_fail(metrics != NULL && totals != NULL, NULL);
    SvSummary s;
    sv_metrics_summarize(metrics, totals, &s);
    const SvSloConfig *slo = sv_metrics_slo(metrics);
    GString *out = g_string_new(NULL);

    if (config != NULL) {
        const char *sched = scheduler_name(config);
        const char *router = router_name(config);
        g_string_append_printf(out, "servesim run: %s  (%s on ", config->path ? config->path : "-",
                               config->model_name ? config->model_name : "?");
        append_plan(out, config);
        g_string_append_printf(out, ", %s, %s)\n", sched ? sched : "?", router ? router : "?");
    }

    g_string_append_printf(out,
                           "requests     %" G_GINT64_FORMAT " completed, %" G_GINT64_FORMAT
                           " rejected in %.1f s simulated (%.2f s wall, ",
                           s.completed, s.rejected, s.duration_s, totals->wall_s);
    append_count(out, (double)totals->events);
    g_string_append(out, " events)\n");
    if (s.rejected > 0) {
        /* Every rejection has a reason; say which. */
        g_string_append(out, "rejected    ");
        for (int reason = SV_REJECT_TOO_LONG; reason <= SV_REJECT_SLO_PREDICTED_MISS; reason++) {
            int64_t n = sv_metrics_count_rejected(metrics, (SvRejectReason)reason);
            if (n > 0)
                g_string_append_printf(out, " %s %" G_GINT64_FORMAT,
                                       sv_reject_reason_name((SvRejectReason)reason), n);
        }
        g_string_append_c(out, '\n');
    }

    g_string_append_printf(out, "throughput   %.2f req/s   ", s.requests_per_s);
    append_grouped(out, s.input_tokens_per_s);
    g_string_append(out, " input tok/s   ");
    append_grouped(out, s.output_tokens_per_s);
    g_string_append_printf(out, " output tok/s   goodput %.2f req/s\n", s.goodput_requests_per_s);

    g_string_append_printf(out, "%-12s %9s %9s %9s %9s %9s\n", "", "mean", "p50", "p90", "p99",
                           "max");
    append_dist_row(out, "TTFT (s)", &s.ttft_s);
    append_dist_row(out, "TPOT (s)", &s.tpot_s);
    append_dist_row(out, "ITL (s)", &s.itl_s);
    append_dist_row(out, "E2E (s)", &s.e2e_s);
    append_dist_row(out, "queue (s)", &s.queue_s);

    g_string_append(out, "SLO         ");
    if (sv_metrics_num_slo_classes(metrics) > 1) {
        /* Each class against its own targets; classes without requests
         * are left out. */
        size_t n = 0;
        g_autofree SvGroupSummary *groups =
            sv_metrics_summarize_groups(metrics, SV_GROUP_SLO_CLASS, &n);
        g_string_append_printf(out, " per class at p%g: %s (attainment %.1f %%)\n",
                               slo->percentile > 0 ? slo->percentile : 90.0,
                               s.slo_met ? "met" : "NOT met", 100.0 * s.slo_attainment);
        for (size_t i = 0; i < n; i++) {
            const SvSloClass *c = sv_metrics_slo_class(metrics, (int)i);
            if (groups[i].completed + groups[i].rejected == 0)
                continue;
            g_string_append_printf(out, "  class %-12s", c->name);
            if (c->ttft_s > 0)
                g_string_append_printf(out, " ttft<=%gs", c->ttft_s);
            if (c->tpot_s > 0)
                g_string_append_printf(out, " tpot<=%gs", c->tpot_s);
            if (c->e2e_s > 0)
                g_string_append_printf(out, " e2e<=%gs", c->e2e_s);
            g_string_append_printf(out, ": %s (attainment %.1f %%)\n",
                                   groups[i].slo_met ? "met" : "NOT met",
                                   100.0 * groups[i].slo_attainment);
        }
    } else if (slo->ttft_s > 0 || slo->tpot_s > 0 || slo->e2e_s > 0) {
        if (slo->ttft_s > 0)
            g_string_append_printf(out, " ttft<=%gs", slo->ttft_s);
        if (slo->tpot_s > 0)
            g_string_append_printf(out, " tpot<=%gs", slo->tpot_s);
        if (slo->e2e_s > 0)
            g_string_append_printf(out, " e2e<=%gs", slo->e2e_s);
        g_string_append_printf(out, " at p%g: %s (attainment %.1f %%)\n",
                               slo->percentile > 0 ? slo->percentile : 90.0,
                               s.slo_met ? "met" : "NOT met", 100.0 * s.slo_attainment);
    } else {
        g_string_append(out, " no targets set\n");
    }
    if (sv_metrics_num_tenants(metrics) > 1) {
        size_t n = 0;
        g_autofree SvGroupSummary *groups =
            sv_metrics_summarize_groups(metrics, SV_GROUP_TENANT, &n);
        for (size_t i = 0; i < n; i++)
            g_string_append_printf(out,
                                   "tenant %-12s %" G_GINT64_FORMAT " completed, %" G_GINT64_FORMAT
                                   " rejected   TTFT p90 %.4f s   TPOT p90 %.4f s   SLO "
                                   "attainment %.1f %%\n",
                                   sv_metrics_tenant_name(metrics, (int)i), groups[i].completed,
                                   groups[i].rejected, groups[i].ttft_s.p90, groups[i].tpot_s.p90,
                                   100.0 * groups[i].slo_attainment);
    }

    g_string_append_printf(
        out, "KV use       mean %.1f %%   preemptions %" G_GINT64_FORMAT "   MFU %.1f %%\n",
        100.0 * totals->kv_utilization_mean, s.preemptions, 100.0 * totals->mfu_mean);
    if (totals->prefix_caching)
        g_string_append_printf(
            out,
            "prefix cache hit rate %.1f %% of prompt tokens (%.1f %% of blocks)   "
            "%" G_GINT64_FORMAT " blocks evicted\n",
            100.0 * ratio(totals->prefix_hits_tokens, totals->prefix_queries_tokens),
            100.0 * ratio(totals->prefix_hits_blocks, totals->prefix_queries_blocks),
            totals->prefix_evicted_blocks);
    if (totals->swap_outs > 0 || totals->swap_fallbacks > 0)
        g_string_append_printf(
            out,
            "swaps        %" G_GINT64_FORMAT " out, %" G_GINT64_FORMAT
            " in, %.3f s of copies   %" G_GINT64_FORMAT " recomputed (CPU tier full)\n",
            totals->swap_outs, totals->swap_ins, totals->swap_copy_s, totals->swap_fallbacks);
    if (totals->pipelined_replicas > 0)
        g_string_append_printf(out,
                               "pipeline     %d replicas   bubbles %.1f %% of stage time   %.2f "
                               "batches in flight\n",
                               totals->pipelined_replicas, 100.0 * totals->pipeline_bubble_fraction,
                               totals->pipeline_batches_in_flight);
    if (totals->kv_transfers > 0) {
        SvTransferSummary x;
        sv_metrics_transfer_summary(metrics, &x);
        g_string_append_printf(out,
                               "KV transfer  %" G_GINT64_FORMAT " (%.1f GB)   mean %.4f s   p99 "
                               "%.4f s   queued mean %.4f s (for blocks %.4f s)\n",
                               totals->kv_transfers, totals->kv_transfer_bytes / 1e9,
                               x.transfer_s.mean, x.transfer_s.p99, x.queue_s.mean,
                               x.block_wait_s.mean);
    }
    if (totals->energy_j > 0) {
        int64_t tokens = completed_output_tokens(metrics);
        g_string_append_printf(out,
                               "energy       %.1f kJ   %.3f J/output tok   power mean %.1f kW"
                               "   peak %.1f kW",
                               totals->energy_j / 1e3,
                               tokens > 0 ? totals->energy_j / (double)tokens : 0.0,
                               totals->power_mean_w / 1e3, totals->power_peak_w / 1e3);
        g_string_append_c(out, '\n');
    }
    const SvPowerTotals *pw = &totals->power;
    if (totals->cost_usd > 0 || pw->carbon_g > 0) {
        int64_t tokens = completed_output_tokens(metrics);
        g_string_append_printf(
            out, "cost         $%.2f   $%.3f per M output tok   %.2f kg CO2\n", totals->cost_usd,
            tokens > 0 ? totals->cost_usd / (double)tokens * 1e6 : 0.0, pw->carbon_g / 1e3);
    }
    if (pw->budget_w > 0)
        g_string_append_printf(out,
                               "power budget %.1f kW (%s)   over it %.2f s   %" G_GINT64_FORMAT
                               " capping events   capped %.1f s\n",
                               pw->budget_w / 1e3, pw->policy != NULL ? pw->policy : "none",
                               pw->over_budget_s, pw->capping_events, pw->capped_s);
    return g_string_free(out, FALSE);
}
