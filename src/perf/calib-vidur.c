/* Loader for Vidur's profiling CSVs (microsoft/vidur, data/profiling/...;
 * ../shared/data/vidur/PROVENANCE.md describes them). All times are
 * milliseconds (medians of Vidur's repetitions are used); all were taken in
 * fp16. Vidur profiles ops per model, sharded as tensor parallelism shards
 * them; this loader turns each row into device-level points that no longer
 * name the model:
 *   mlp.csv        -> GEMMs (qkv, o, up, down: M = num_tokens, N and K from
 *                     the geometry / TP) and elementwise ops (norms, rope,
 *                     activation, add, embedding) by bytes moved;
 *   attention.csv  -> attention prefill (chunk, context) and decode (batch,
 *                     context) for the per-device head geometry;
 *   all_reduce.csv, send_recv.csv -> collectives (bytes, ranks, link);
 *   cpu_overheads.csv -> host terms per step (model, TP, batch).
 * Columns are found by name, so extra columns are ignored and missing ones
 * are reported at the header. */
#include "perf/calib-private.h"

#include <math.h>
#include <string.h>

static const char *const vidur_files[] = {"mlp.csv",       "attention.csv",     "all_reduce.csv",
                                          "send_recv.csv", "cpu_overheads.csv", NULL};

static gboolean detect(const char *path, const char *first)
{
    g_autofree char *base = g_path_get_basename(path);
    if (first[0] == '#')
        return FALSE;
    for (int i = 0; vidur_files[i] != NULL; i++)
        if (strcmp(base, vidur_files[i]) == 0)
            return TRUE;
    return FALSE;
}

/* @src: the row's sweep coordinates and column, as one number. */
static void add_obs(SvCalibSet *set, SvObsKind kind, SvDtype dtype, const double *a, const int *h,
                    double t_s, int file, int line, int group, double src)
{
    SvObs o = {.kind = kind,
               .dtype = dtype,
               .t_s = t_s,
               .file = file,
               .line = line,
               .group = group,
               .src = src};
    for (int i = 0; i < 4; i++)
        o.a[i] = a != NULL ? a[i] : 0;
    for (int i = 0; i < 3; i++)
        o.h[i] = h != NULL ? h[i] : 0;
    g_array_append_val(set->obs, o);
}

static gboolean read_bool(const SvCsv *csv, int idx, gboolean *out, GError **error)
{
    const char *s = sv__csv_cell(csv, idx);
    if (g_ascii_strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0) {
        *out = TRUE;
        return TRUE;
    }
    if (g_ascii_strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0) {
        *out = FALSE;
        return TRUE;
    }
    return sv__csv_error(csv, idx, error, "'%s' is not True or False (column '%s')", s,
                         csv->cols[idx]);
}

/* "time_stats.<op>.median", in ms. */
static int median_col(const SvCsv *csv, const char *op)
{
    g_autofree char *name = g_strdup_printf("time_stats.%s.median", op);
    return sv__csv_col(csv, name);
}

/* Model dimensions, head counts and tensor-parallel degrees above 2^24
 * (ten times any model's) are typos or garbage, and would not fit the int
 * fields of an observation: refuse them by name. */
#define MAX_DIM (1 << 24)
static gboolean dims_ok(const SvCsv *csv, const int *cols, const double *v, int n, GError **error)
{
    for (int i = 0; i < n; i++)
        if (v[i] > MAX_DIM)
            return sv__csv_error(csv, cols[i], error, "%g is out of range in column '%s'", v[i],
                                 csv->cols[cols[i]]);
    return TRUE;
}

/* Heads per device under TP @tp; KV heads are replicated when tp exceeds
 * them, as vLLM does. */
static gboolean shard(const SvCsv *csv, int col, double heads, double tp, double *out,
                      gboolean replicate, GError **error)
{
    if (fmod(heads, tp) != 0 && !(replicate && tp > heads && fmod(tp, heads) == 0))
        return sv__csv_error(csv, col, error, "%g heads do not split over %g tensor-parallel ranks",
                             heads, tp);
    *out = MAX(1.0, heads / tp);
    return TRUE;
}

/* ------------------------------------------------------------- mlp.csv -- */

static gboolean load_mlp(SvCsv *csv, SvCalibSet *set, int file, GError **error)
{
    static const char *const what = "Vidur mlp.csv";
    int c_q, c_kv, c_h, c_i, c_g, c_m, c_tp;
    if (!sv__csv_require(csv, "n_head", what, &c_q, error) ||
        !sv__csv_require(csv, "n_kv_head", what, &c_kv, error) ||
        !sv__csv_require(csv, "n_embd", what, &c_h, error) ||
        !sv__csv_require(csv, "n_expanded_embd", what, &c_i, error) ||
        !sv__csv_require(csv, "use_gated_mlp", what, &c_g, error) ||
        !sv__csv_require(csv, "num_tokens", what, &c_m, error) ||
        !sv__csv_require(csv, "num_tensor_parallel_workers", what, &c_tp, error))
        return FALSE;
    /* The four GEMMs are required; the elementwise ops are taken when there. */
    static const char *const gemm_ops[] = {"attn_pre_proj", "attn_post_proj", "mlp_up_proj",
                                           "mlp_down_proj"};
    int c_gemm[4];
    for (int i = 0; i < 4; i++) {
        g_autofree char *name = g_strdup_printf("time_stats.%s.median", gemm_ops[i]);
        if (!sv__csv_require(csv, name, what, &c_gemm[i], error))
            return FALSE;
    }
    static const char *const elt_ops[] = {
        "emb", "input_layernorm", "post_attention_layernorm", "attn_rope", "mlp_act", "add"};
    static const int elt_index[] = {0, 1, 1, 2, 4, 5}; /* into sv_calib_elt_ops */
    int c_elt[6];
    for (int i = 0; i < 6; i++)
        c_elt[i] = median_col(csv, elt_ops[i]);

    /* The model is the folder the file sits in (Vidur's <org>/<model>/). */
    g_autofree char *dir = g_path_get_dirname(csv->path);
    g_autofree char *model = g_path_get_basename(dir);
    int group = sv__calib_set_group(set, model);
    int rows = 0;
    GError *local = NULL;
    while (sv__csv_next(csv, &local)) {
        double q, kv, h, inter, m, tp;
        gboolean gated;
        if (!sv__csv_count(csv, c_q, 1, &q, error) || !sv__csv_count(csv, c_kv, 1, &kv, error) ||
            !sv__csv_count(csv, c_h, 1, &h, error) || !sv__csv_count(csv, c_i, 1, &inter, error) ||
            !read_bool(csv, c_g, &gated, error) || !sv__csv_count(csv, c_m, 1, &m, error) ||
            !sv__csv_count(csv, c_tp, 1, &tp, error) ||
            !dims_ok(csv, (const int[]){c_q, c_kv, c_h, c_i, c_tp},
                     (const double[]){q, kv, h, inter, tp}, 5, error))
            return FALSE;
        if (fmod(h, q) != 0)
            return sv__csv_error(csv, c_h, error, "n_embd %g is not a multiple of n_head %g", h, q);
        if (fmod(inter, tp) != 0)
            return sv__csv_error(csv, c_i, error,
                                 "n_expanded_embd %g does not split over %g tensor-parallel ranks",
                                 inter, tp);
        double hd = h / q, qd = 0, kvd = 0;
        if (!shard(csv, c_q, q, tp, &qd, FALSE, error) ||
            !shard(csv, c_kv, kv, tp, &kvd, TRUE, error))
            return FALSE;
        double g = gated ? 2.0 : 1.0, id = inter / tp;
        double shapes[4][2] = {
            {(qd + 2.0 * kvd) * hd, h}, /* qkv */
            {h, qd * hd},               /* o */
            {g * id, h},                /* gate + up */
            {h, id},                    /* down */
        };
        for (int i = 0; i < 4; i++) {
            double t;
            if (!sv__csv_time(csv, c_gemm[i], 1e-3, &t, error))
                return FALSE;
            double a[4] = {m, shapes[i][0], shapes[i][1], 0};
            add_obs(set, SV_OBS_GEMM, SV_DTYPE_FP16, a, NULL, t, file, csv->line, group,
                    (m * 1024 + tp) * 16 + i);
        }
        /* Bytes read plus written, fp16, as the predictor counts them. */
        double bytes[6] = {
            2.0 * m * h * 2.0,               /* embedding: gather rows, write them */
            2.0 * m * h * 2.0 + h * 2.0,     /* norm: read x and weight, write y */
            2.0 * m * h * 2.0 + h * 2.0,     /* the second norm */
            2.0 * m * (qd + kvd) * hd * 2.0, /* rope: q and k in place */
            (g + 1.0) * m * id * 2.0,        /* activation: read gate (and up), write */
            3.0 * m * h * 2.0,               /* residual add */
        };
        for (int i = 0; i < 6; i++) {
            double t;
            if (c_elt[i] < 0)
                continue;
            if (!sv__csv_time(csv, c_elt[i], 1e-3, &t, error))
                return FALSE;
            double a[4] = {bytes[i], m, 0, 0};
            int hh[3] = {elt_index[i], 0, 0};
            add_obs(set, SV_OBS_ELT, SV_DTYPE_FP16, a, hh, t, file, csv->line, group,
                    (m * 1024 + tp) * 16 + 4 + i);
        }
        rows++;
    }
    if (local != NULL) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (rows == 0)
        return sv__csv_header_error(csv, error, "no data rows");
    return TRUE;
}

/* ------------------------------------------------------- attention.csv -- */

static gboolean load_attention(SvCsv *csv, SvCalibSet *set, int file, GError **error)
{
    static const char *const what = "Vidur attention.csv";
    int c_h, c_q, c_kv, c_tp, c_b, c_chunk, c_ctx, c_pre, c_tpre, c_tdec;
    if (!sv__csv_require(csv, "n_embd", what, &c_h, error) ||
        !sv__csv_require(csv, "n_q_head", what, &c_q, error) ||
        !sv__csv_require(csv, "n_kv_head", what, &c_kv, error) ||
        !sv__csv_require(csv, "num_tensor_parallel_workers", what, &c_tp, error) ||
        !sv__csv_require(csv, "batch_size", what, &c_b, error) ||
        !sv__csv_require(csv, "prefill_chunk_size", what, &c_chunk, error) ||
        !sv__csv_require(csv, "kv_cache_size", what, &c_ctx, error) ||
        !sv__csv_require(csv, "is_prefill", what, &c_pre, error) ||
        !sv__csv_require(csv, "time_stats.attn_prefill.median", what, &c_tpre, error) ||
        !sv__csv_require(csv, "time_stats.attn_decode.median", what, &c_tdec, error))
        return FALSE;
    int rows = 0;
    GError *local = NULL;
    while (sv__csv_next(csv, &local)) {
        double h, q, kv, tp, b, chunk, ctx, qd = 0, kvd = 0, t;
        gboolean prefill;
        if (!sv__csv_count(csv, c_h, 1, &h, error) || !sv__csv_count(csv, c_q, 1, &q, error) ||
            !sv__csv_count(csv, c_kv, 1, &kv, error) || !sv__csv_count(csv, c_tp, 1, &tp, error) ||
            !sv__csv_count(csv, c_b, 1, &b, error) ||
            !sv__csv_count(csv, c_chunk, 0, &chunk, error) ||
            !sv__csv_count(csv, c_ctx, 0, &ctx, error) || !read_bool(csv, c_pre, &prefill, error) ||
            !dims_ok(csv, (const int[]){c_h, c_q, c_kv, c_tp}, (const double[]){h, q, kv, tp}, 4,
                     error))
            return FALSE;
        if (fmod(h, q) != 0)
            return sv__csv_error(csv, c_h, error, "n_embd %g is not a multiple of n_q_head %g", h,
                                 q);
        if (!shard(csv, c_q, q, tp, &qd, FALSE, error) ||
            !shard(csv, c_kv, kv, tp, &kvd, TRUE, error))
            return FALSE;
        int heads[3] = {(int)qd, (int)kvd, (int)(h / q)};
        g_autofree char *geometry =
            g_strdup_printf("attention %d/%d heads x %d per device", heads[0], heads[1], heads[2]);
        int group = sv__calib_set_group(set, geometry);
        if (prefill) {
            if (b != 1)
                return sv__csv_error(csv, c_b, error,
                                     "prefill rows with batch_size %g: only one sequence per "
                                     "prefill measurement is supported",
                                     b);
            if (chunk < 1)
                return sv__csv_error(csv, c_chunk, error, "prefill row with prefill_chunk_size 0");
            if (!sv__csv_time(csv, c_tpre, 1e-3, &t, error))
                return FALSE;
            double a[4] = {chunk, ctx, 0, 0};
            add_obs(set, SV_OBS_PREFILL, SV_DTYPE_FP16, a, heads, t, file, csv->line, group,
                    ((h * 1024 + q) * 1024 + kv) * 1024 + tp);
        } else {
            if (!sv__csv_time(csv, c_tdec, 1e-3, &t, error))
                return FALSE;
            double a[4] = {b, ctx, 0, 0};
            add_obs(set, SV_OBS_DECODE, SV_DTYPE_FP16, a, heads, t, file, csv->line, group,
                    ((h * 1024 + q) * 1024 + kv) * 1024 + tp);
        }
        rows++;
    }
    if (local != NULL) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (rows == 0)
        return sv__csv_header_error(csv, error, "no data rows");
    return TRUE;
}

/* ----------------------------------------------------------- network -- */

static gboolean load_network(SvCsv *csv, SvCalibSet *set, int file, SvCollOp op, GError **error)
{
    g_autofree char *what = g_strdup_printf("Vidur %s.csv", sv_coll_op_name(op));
    g_autofree char *tcol = g_strdup_printf("time_stats.%s.median", sv_coll_op_name(op));
    int c_t, c_n, c_size, c_dpn;
    if (!sv__csv_require(csv, tcol, what, &c_t, error) ||
        !sv__csv_require(csv, "num_workers", what, &c_n, error) ||
        !sv__csv_require(csv, "size", what, &c_size, error) ||
        !sv__csv_require(csv, "devices_per_node", what, &c_dpn, error))
        return FALSE;
    int rows = 0;
    GError *local = NULL;
    while (sv__csv_next(csv, &local)) {
        double n, size, dpn, t;
        if (!sv__csv_count(csv, c_n, 2, &n, error) ||
            !sv__csv_count(csv, c_size, 1, &size, error) ||
            !sv__csv_count(csv, c_dpn, 1, &dpn, error) || !sv__csv_time(csv, c_t, 1e-3, &t, error))
            return FALSE;
        if (n > 1e6)
            return sv__csv_error(csv, c_n, error, "num_workers %g is out of range", n);
        /* A group that spans nodes talks over the scale-out network. */
        int h[3] = {op, (int)n, n <= dpn ? SV_LINK_SCALEUP : SV_LINK_SCALEOUT};
        double a[4] = {size, 0, 0, 0};
        add_obs(set, SV_OBS_COLL, SV_DTYPE_FP16, a, h, t, file, csv->line, -1, dpn);
        rows++;
    }
    if (local != NULL) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (rows == 0)
        return sv__csv_header_error(csv, error, "no data rows");
    return TRUE;
}

/* ------------------------------------------------------- cpu_overheads -- */

static gboolean load_cpu(SvCsv *csv, SvCalibSet *set, int file, GError **error)
{
    static const char *const what = "Vidur cpu_overheads.csv";
    /* Per step: scheduling, input preparation, sampling and output
     * processing, end to end as the host sees them (the *_e2e columns
     * include waiting for the launched work; the *_launch ones do not). */
    static const char *const cols[SV_HOST_TERM_COUNT] = {
        "schedule_median", "prepare_inputs_e2e_median", "sampler_e2e_median",
        "process_model_outputs_median"};
    int c_model, c_b, c_tp, c_t[SV_HOST_TERM_COUNT];
    if (!sv__csv_require(csv, "model_name", what, &c_model, error) ||
        !sv__csv_require(csv, "batch_size", what, &c_b, error) ||
        !sv__csv_require(csv, "tensor_parallel_degree", what, &c_tp, error))
        return FALSE;
    for (int i = 0; i < SV_HOST_TERM_COUNT; i++)
        if (!sv__csv_require(csv, cols[i], what, &c_t[i], error))
            return FALSE;
    int rows = 0;
    GError *local = NULL;
    while (sv__csv_next(csv, &local)) {
        double b, tp;
        const char *model = sv__csv_cell(csv, c_model);
        if (*model == '\0')
            return sv__csv_error(csv, c_model, error, "empty model_name");
        if (!sv__csv_count(csv, c_b, 1, &b, error) || !sv__csv_count(csv, c_tp, 1, &tp, error))
            return FALSE;
        if (tp > 1 << 20)
            return sv__csv_error(csv, c_tp, error, "tensor_parallel_degree %g is out of range", tp);
        if (b > 1 << 20) /* max_num_seqs' own limit */
            return sv__csv_error(csv, c_b, error, "batch_size %g is out of range", b);
        int group = sv__calib_set_group(set, model);
        for (int i = 0; i < SV_HOST_TERM_COUNT; i++) {
            double t;
            if (!sv__csv_time(csv, c_t[i], 1e-3, &t, error))
                return FALSE;
            int h[3] = {i, (int)tp, group};
            double a[4] = {b, 0, 0, 0};
            add_obs(set, SV_OBS_HOST, SV_DTYPE_FP16, a, h, t, file, csv->line, group, 0);
        }
        rows++;
    }
    if (local != NULL) {
        g_propagate_error(error, local);
        return FALSE;
    }
    if (rows == 0)
        return sv__csv_header_error(csv, error, "no data rows");
    return TRUE;
}

static gboolean load(const char *path, SvCalibSet *set, GError **error)
{
    g_autoptr(SvCsv) csv = sv__csv_open(path, FALSE, error);
    if (csv == NULL)
        return FALSE;
    int file = sv__calib_set_file(set, path);
    g_autofree char *base = g_path_get_basename(path);
    if (strcmp(base, "mlp.csv") == 0)
        return load_mlp(csv, set, file, error);
    if (strcmp(base, "attention.csv") == 0)
        return load_attention(csv, set, file, error);
    if (strcmp(base, "all_reduce.csv") == 0)
        return load_network(csv, set, file, SV_COLL_ALL_REDUCE, error);
    if (strcmp(base, "send_recv.csv") == 0)
        return load_network(csv, set, file, SV_COLL_SEND_RECV, error);
    return load_cpu(csv, set, file, error);
}

const SvCalibLoader sv__calib_loader_vidur = {"Vidur profile", detect, load};
