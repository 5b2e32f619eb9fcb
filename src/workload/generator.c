/* Workload generator: turns a workload config (and maybe a loaded trace) into
 * a stream of requests, one at a time. Arrival gaps, input lengths, output
 * lengths and trace sampling each draw from their own RNG stream, so changing
 * how one is drawn never shifts the numbers another sees. */
#include "core/rng.h"
#include "workload/workload-private.h"

#include <gsl/gsl_randist.h>
#include <math.h>

struct SvWorkload {
    SvWorkloadConfig config; /* copy; trace_path is not used (the trace is loaded) */
    const SvTrace *trace;    /* (transfer none) or NULL */
    gsl_rng *arrival_rng;    /* SV_STREAM_ARRIVALS */
    gsl_rng *input_rng;      /* SV_STREAM_INPUT_LENGTHS */
    gsl_rng *output_rng;     /* SV_STREAM_OUTPUT_LENGTHS */
    gsl_rng *sample_rng;     /* SV_STREAM_TRACE_SAMPLE */
    int64_t produced;        /* requests handed out so far */
    double t_s;              /* poisson/gamma: the last arrival, seconds */
    SvTraceCursor *cursor;   /* (owned) the trace's rows in file order, or NULL */
    SvRequestSpec row;       /* the cursor's current row */
    const int64_t *row_ids;  /* its hash ids (loaded traces only), row_num_ids of them */
    size_t row_num_ids;
    GError *error;        /* (owned) why the trace stopped reading, or NULL */
    SvTimeNs trace_t0_ns; /* trace replay: the first row's arrival */
    SvTimeNs duration_ns; /* arrivals stop at this time; SV_TIME_NEVER = unbounded */
    gboolean exhausted;   /* once FALSE, always FALSE */
    SvSharing *sharing;   /* (owned) shared prompts and sessions, or NULL */
};

static gboolean length_spec_ok(const SvLengthSpec *spec, const char *what, const SvTrace *trace,
                               GError **error)
{
    switch (spec->dist) {
    case SV_LEN_FIXED:
        if (spec->value < 1 || spec->value > INT32_MAX) {
            g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                        "workload.lengths.%s: fixed value %" G_GINT64_FORMAT
                        " is outside [1, 2^31)",
                        what, spec->value);
            return FALSE;
        }
        return TRUE;
    case SV_LEN_UNIFORM:
        if (spec->min < 1 || spec->max < spec->min || spec->max > INT32_MAX) {
            g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                        "workload.lengths.%s: uniform needs 1 <= min <= max < 2^31, "
                        "got [%" G_GINT64_FORMAT ", %" G_GINT64_FORMAT "]",
                        what, spec->min, spec->max);
            return FALSE;
        }
        return TRUE;
    case SV_LEN_LOGNORMAL:
        if (!(spec->mean >= 1.0) || !isfinite(spec->mean) || !(spec->sigma >= 0.0) ||
            !isfinite(spec->sigma) || spec->min < 0 || (spec->max != 0 && spec->max < spec->min)) {
            g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                        "workload.lengths.%s: lognormal needs mean >= 1, sigma >= 0 and "
                        "min <= max",
                        what);
            return FALSE;
        }
        return TRUE;
    case SV_LEN_TRACE:
        if (trace == NULL) {
            g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                        "workload.lengths.%s: 'dist: trace' needs workload.trace", what);
            return FALSE;
        }
        return TRUE;
    }
    g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID, "workload.lengths.%s: unknown dist",
                what);
    return FALSE;
}

SvWorkload *sv_workload_new(const SvWorkloadConfig *config, const SvTrace *trace, uint64_t seed,
                            GError **error)
{
    g_return_val_if_fail(config != NULL, NULL);
    const SvWorkloadConfig *c = config;
    /* Lengths drawn at random need the rows at hand (sv_trace_load_for). */
    g_return_val_if_fail(trace == NULL || !sv_trace_streamed(trace) || !c->has_lengths ||
                             (c->input.dist != SV_LEN_TRACE && c->output.dist != SV_LEN_TRACE),
                         NULL);
    gboolean open_synthetic = c->process == SV_ARRIVAL_POISSON || c->process == SV_ARRIVAL_GAMMA ||
                              c->process == SV_ARRIVAL_CONSTANT;

    if (c->trace_path != NULL && trace == NULL) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "workload.trace: %s is named but no trace was loaded", c->trace_path);
        return NULL;
    }
    if (trace != NULL && sv_trace_len(trace) == 0) {
        g_set_error(error, SV_TRACE_ERROR, SV_ERROR_INVALID, "%s: the trace has no rows",
                    sv_trace_path(trace));
        return NULL;
    }
    if (trace != NULL && !sv_trace_has_arrivals(trace) && c->process == SV_ARRIVAL_TRACE) {
        g_set_error(error, SV_TRACE_ERROR, SV_ERROR_INVALID,
                    "%s:%d:1: this trace has lengths but no arrival times (no arrived_at "
                    "column): give workload.arrival a process (poisson, gamma, constant or "
                    "closed-loop)",
                    sv_trace_path(trace), sv_trace_header_line(trace));
        return NULL;
    }
    if (c->process == SV_ARRIVAL_TRACE && trace == NULL) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "workload.arrival: process 'trace' needs workload.trace");
        return NULL;
    }
    if (!c->has_lengths && trace == NULL) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "workload: give workload.lengths or workload.trace");
        return NULL;
    }
    if (c->has_lengths && (!length_spec_ok(&c->input, "input", trace, error) ||
                           !length_spec_ok(&c->output, "output", trace, error)))
        return NULL;
    if (open_synthetic && !(c->rate_per_s > 0 && isfinite(c->rate_per_s))) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "workload.arrival.rate_per_s must be > 0, got %g", c->rate_per_s);
        return NULL;
    }
    if (c->process == SV_ARRIVAL_GAMMA && !(c->cv > 0 && isfinite(c->cv))) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "workload.arrival.cv must be > 0 for a gamma process, got %g", c->cv);
        return NULL;
    }
    if (c->process == SV_ARRIVAL_CLOSED_LOOP && c->concurrency < 1) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "workload.arrival.concurrency must be >= 1 for closed-loop, got %d",
                    c->concurrency);
        return NULL;
    }
    if (c->num_requests < 0 || !(c->duration_s >= 0) || !isfinite(c->duration_s)) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "workload: num_requests and duration_s must be >= 0");
        return NULL;
    }
    /* Only a trace replay ends by itself; anything else would run forever. */
    if (c->process != SV_ARRIVAL_TRACE && c->num_requests == 0 && c->duration_s == 0) {
        g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_INVALID,
                    "workload: set num_requests or duration_s, or the workload never ends");
        return NULL;
    }

    SvWorkload *w = g_new0(SvWorkload, 1);
    w->config = *config;
    w->config.trace_path = NULL;
    w->trace = trace;
    w->arrival_rng = sv_rng_new(seed, SV_STREAM_ARRIVALS);
    w->input_rng = sv_rng_new(seed, SV_STREAM_INPUT_LENGTHS);
    w->output_rng = sv_rng_new(seed, SV_STREAM_OUTPUT_LENGTHS);
    w->sample_rng = sv_rng_new(seed, SV_STREAM_TRACE_SAMPLE);
    w->trace_t0_ns = trace != NULL ? sv_trace_first_arrival_ns(trace) : 0;
    /* Rows in file order: a replay, or lengths that wrap around. */
    if (trace != NULL && (c->process == SV_ARRIVAL_TRACE || !c->has_lengths)) {
        w->cursor = sv_trace_cursor_new(trace, error);
        if (w->cursor == NULL) {
            sv_workload_free(w);
            return NULL;
        }
    }
    w->duration_ns = c->duration_s > 0 ? sv_s_to_ns(c->duration_s) : SV_TIME_NEVER;
    w->sharing = sv__sharing_new(c, seed);
    return w;
}

void sv_workload_free(SvWorkload *workload)
{
    if (workload == NULL)
        return;
    gsl_rng_free(workload->arrival_rng);
    gsl_rng_free(workload->input_rng);
    gsl_rng_free(workload->output_rng);
    gsl_rng_free(workload->sample_rng);
    sv__sharing_free(workload->sharing);
    sv_trace_cursor_free(workload->cursor);
    g_clear_error(&workload->error);
    g_free(workload);
}

int sv_workload_concurrency(const SvWorkload *workload)
{
    g_return_val_if_fail(workload != NULL, 0);
    return workload->config.process == SV_ARRIVAL_CLOSED_LOOP ? workload->config.concurrency : 0;
}

static int32_t clamp_tokens(double v, int64_t lo, int64_t hi)
{
    if (lo < 1)
        lo = 1;
    if (hi <= 0 || hi > INT32_MAX)
        hi = INT32_MAX;
    if (!(v >= (double)lo)) /* also catches NaN */
        return (int32_t)lo;
    if (v >= (double)hi)
        return (int32_t)hi;
    return (int32_t)v;
}

/* One length from a synthetic distribution (not SV_LEN_TRACE). */
static int32_t draw_length(const SvLengthSpec *spec, gsl_rng *rng)
{
    switch (spec->dist) {
    case SV_LEN_FIXED:
        return clamp_tokens((double)spec->value, 1, 0);
    case SV_LEN_UNIFORM: {
        unsigned long span = (unsigned long)(spec->max - spec->min + 1);
        return clamp_tokens((double)(spec->min + (int64_t)gsl_rng_uniform_int(rng, span)),
                            spec->min, spec->max);
    }
    case SV_LEN_LOGNORMAL: {
        /* E[exp(N(mu, s^2))] = exp(mu + s^2/2), so this mu makes the mean
         * length spec->mean before rounding and clamping. */
        double mu = log(spec->mean) - 0.5 * spec->sigma * spec->sigma;
        double x = gsl_ran_lognormal(rng, mu, spec->sigma);
        return clamp_tokens(round(x), spec->min, spec->max);
    }
    case SV_LEN_TRACE:
        break;
    }
    SV_ASSERT(FALSE, "dist %d is not synthetic", (int)spec->dist);
    return 1; /* not reached; some compilers cannot see that */
}

static const SvRequestSpec *sample_row(SvWorkload *w)
{
    size_t n = sv_trace_len(w->trace);
    return sv_trace_row(w->trace, (size_t)gsl_rng_uniform_int(w->sample_rng, n));
}

/* Copy a trace row's per-request attributes (not the arrival) into @out. */
static void take_row_attrs(SvRequestSpec *out, const SvRequestSpec *row)
{
    out->session = row->session;
    out->tenant = row->tenant;
    out->slo_class = row->slo_class;
    out->trace_row = row->trace_row;
}

/* The prompt content of a trace row (its @n hash @ids), for the request
 * whose input length it gave. */
static void take_row_prefix(const SvWorkload *w, SvRequestSpec *out, const int64_t *ids, size_t n)
{
    out->prefix = (SvPrefixSource){0};
    if (ids != NULL && n > 0) {
        out->prefix.hash_ids = ids;
        out->prefix.num_hash_ids = (int32_t)MIN(n, (size_t)INT32_MAX);
        out->prefix.hash_block_tokens = w->config.hash_block_tokens;
    }
}

/* A sampled row's hash ids into @out's prefix. */
static void take_sampled_prefix(const SvWorkload *w, SvRequestSpec *out, const SvRequestSpec *row)
{
    size_t n = 0;
    const int64_t *ids = sv_trace_hash_ids(w->trace, (size_t)row->trace_row, &n);
    take_row_prefix(w, out, ids, n);
}

/* Advance the cursor to the next row in file order into w->row; with @wrap,
 * start again from the first row after the last. FALSE at the end (without
 * @wrap) or when the file stopped reading as it did (w->error set). */
static gboolean next_row(SvWorkload *w, gboolean wrap)
{
    if (w->error != NULL)
        return FALSE;
    if (sv_trace_cursor_next(w->cursor, &w->row, &w->row_ids, &w->row_num_ids, &w->error))
        return TRUE;
    if (w->error != NULL || !wrap)
        return FALSE;
    return sv_trace_cursor_rewind(w->cursor, &w->error) &&
           sv_trace_cursor_next(w->cursor, &w->row, &w->row_ids, &w->row_num_ids, &w->error);
}

/* Input and output lengths of @out: from the arrival row (w->row) on a
 * trace replay (@arrival_row), else from the workload's length rules. FALSE
 * when the trace stopped reading (w->error). */
static gboolean draw_lengths(SvWorkload *w, gboolean arrival_row, SvRequestSpec *out)
{
    const SvWorkloadConfig *c = &w->config;
    if (!c->has_lengths) {
        /* The trace's rows in file order: the arrival row itself on replay,
         * else the next row, wrapping around at the end. */
        if (!arrival_row) {
            if (!next_row(w, TRUE))
                return FALSE;
            take_row_attrs(out, &w->row);
        }
        out->input_tokens = w->row.input_tokens;
        out->output_tokens = w->row.output_tokens;
        take_row_prefix(w, out, w->row_ids, w->row_num_ids);
    } else if (c->input.dist == SV_LEN_TRACE && c->output.dist == SV_LEN_TRACE) {
        /* Both from the trace: one row for both keeps their correlation. */
        const SvRequestSpec *row = sample_row(w);
        out->input_tokens = row->input_tokens;
        out->output_tokens = row->output_tokens;
        take_sampled_prefix(w, out, row);
        if (!arrival_row)
            take_row_attrs(out, row);
    } else {
        if (c->input.dist == SV_LEN_TRACE) {
            const SvRequestSpec *row = sample_row(w);
            out->input_tokens = row->input_tokens;
            take_sampled_prefix(w, out, row);
        } else {
            out->input_tokens = draw_length(&c->input, w->input_rng);
        }
        out->output_tokens = c->output.dist == SV_LEN_TRACE
                                 ? sample_row(w)->output_tokens
                                 : draw_length(&c->output, w->output_rng);
    }
    SV_ASSERT(out->input_tokens >= 1 && out->output_tokens >= 1, "lengths %d %d", out->input_tokens,
              out->output_tokens);
    return TRUE;
}

gboolean sv__workload_draw_lengths(SvWorkload *w, SvRequestSpec *out)
{
    return draw_lengths(w, FALSE, out);
}

SvTimeNs sv__workload_duration_ns(const SvWorkload *w)
{
    return w->duration_ns;
}

int64_t sv__workload_num_requests(const SvWorkload *w)
{
    return w->config.num_requests;
}

gboolean sv_workload_next(SvWorkload *w, SvRequestSpec *out)
{
    g_return_val_if_fail(w != NULL && out != NULL, FALSE);
    if (w->sharing != NULL)
        return sv__sharing_next(w->sharing, w, out);
    return sv__workload_next_base(w, out);
}

gboolean sv__workload_next_base(SvWorkload *w, SvRequestSpec *out)
{
    g_return_val_if_fail(w != NULL && out != NULL, FALSE);
    const SvWorkloadConfig *c = &w->config;
    if (w->exhausted || (c->num_requests > 0 && w->produced >= c->num_requests)) {
        w->exhausted = TRUE;
        return FALSE;
    }

    *out = (SvRequestSpec){.session = -1, .trace_row = -1};
    gboolean arrival_row = FALSE;
    SvTimeNs t_ns = 0;
    switch (c->process) {
    case SV_ARRIVAL_TRACE:
        if (!next_row(w, FALSE)) {
            w->exhausted = TRUE;
            return FALSE;
        }
        arrival_row = TRUE;
        t_ns = w->row.arrival_ns - w->trace_t0_ns;
        break;
    case SV_ARRIVAL_POISSON:
        if (w->produced > 0)
            w->t_s += gsl_ran_exponential(w->arrival_rng, 1.0 / c->rate_per_s);
        t_ns = sv_s_to_ns(w->t_s);
        break;
    case SV_ARRIVAL_GAMMA:
        if (w->produced > 0) {
            /* shape k = 1/cv^2 gives the gap's cv; scale 1/(rate k) its mean 1/rate.
             */
            double k = 1.0 / (c->cv * c->cv);
            w->t_s += gsl_ran_gamma(w->arrival_rng, k, 1.0 / (c->rate_per_s * k));
        }
        t_ns = sv_s_to_ns(w->t_s);
        break;
    case SV_ARRIVAL_CONSTANT:
        /* n / rate, not a running sum, so no rounding drift over long runs. */
        t_ns = sv_s_to_ns((double)w->produced / c->rate_per_s);
        break;
    case SV_ARRIVAL_CLOSED_LOOP:
        t_ns = 0;
        break;
    }
    if (c->process != SV_ARRIVAL_CLOSED_LOOP && t_ns >= w->duration_ns) {
        w->exhausted = TRUE;
        return FALSE;
    }
    out->arrival_ns = t_ns;
    if (arrival_row)
        take_row_attrs(out, &w->row);
    if (!draw_lengths(w, arrival_row, out)) {
        w->exhausted = TRUE;
        return FALSE;
    }
    w->produced++;
    return TRUE;
}

gboolean sv_workload_next_at(SvWorkload *w, SvTimeNs now_ns, SvRequestSpec *out)
{
    g_return_val_if_fail(w != NULL && out != NULL, FALSE);
    if (w->config.process != SV_ARRIVAL_CLOSED_LOOP)
        return sv_workload_next(w, out);
    if (now_ns >= w->duration_ns) {
        w->exhausted = TRUE;
        return FALSE;
    }
    if (!sv_workload_next(w, out))
        return FALSE;
    out->arrival_ns = now_ns;
    return TRUE;
}

const GError *sv_workload_error(const SvWorkload *w)
{
    g_return_val_if_fail(w != NULL, NULL);
    return w->error;
}

void sv_workload_set_key_space(SvWorkload *w, uint32_t key_space)
{
    g_return_if_fail(w != NULL);
    if (w->sharing != NULL)
        sv__sharing_set_key_space(w->sharing, key_space);
}
