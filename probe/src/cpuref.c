/* CPU references of the probe's kernels (see cpuref.h). Written for
 * clarity, not speed: the tests run them on small sizes. */
#include "cpuref.h"

#include "hostdev.h"

#include <math.h>
#include <string.h>

uint16_t probe_bf16_from_float(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu) != 0)
        return (uint16_t)((u >> 16) | 0x0040u); /* quiet NaN */
    uint32_t lsb = (u >> 16) & 1u;
    u += 0x7fffu + lsb; /* round half to even */
    return (uint16_t)(u >> 16);
}

float probe_bf16_to_float(uint16_t b)
{
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static float dot(const float *a, const float *b, int d)
{
    float s = 0;
    for (int i = 0; i < d; i++)
        s += a[i] * b[i];
    return s;
}

void probe_ref_attention_naive(const float *q, const float *k, const float *v, float *out,
                               int chunk, int ctx, int heads, int kv_heads, int d)
{
    int group = heads / kv_heads;
    int keys = ctx + chunk;
    double scale = 1.0 / sqrt((double)d);
    double *s = g_new(double, keys);
    for (int i = 0; i < chunk; i++) {
        for (int h = 0; h < heads; h++) {
            const float *qi = q + ((int64_t)i * heads + h) * d;
            int kvh = h / group;
            int last = ctx + i; /* causal: keys 0 .. own position */
            double mx = -INFINITY;
            for (int j = 0; j <= last; j++) {
                s[j] = dot(qi, k + ((int64_t)j * kv_heads + kvh) * d, d) * scale;
                mx = fmax(mx, s[j]);
            }
            double sum = 0;
            for (int j = 0; j <= last; j++) {
                s[j] = exp(s[j] - mx);
                sum += s[j];
            }
            float *o = out + ((int64_t)i * heads + h) * d;
            for (int e = 0; e < d; e++) {
                double acc = 0;
                for (int j = 0; j <= last; j++)
                    acc += s[j] * v[((int64_t)j * kv_heads + kvh) * d + e];
                o[e] = (float)(acc / sum);
            }
        }
    }
    g_free(s);
}

void probe_ref_attention_flash(const float *q, const float *k, const float *v, float *out,
                               int chunk, int ctx, int heads, int kv_heads, int d, int br, int bc,
                               float tau_log2, gboolean round_p, ProbeFlashStats *stats)
{
    const int warp_rows = 16;
    int group = heads / kv_heads;
    int keys = ctx + chunk;
    float scale_log2 = (float)(1.0 / sqrt((double)d) * M_LOG2E);
    float *m = g_new(float, br);             /* running (possibly stale) maximum, log2 domain */
    float *l = g_new(float, br);             /* running sum of weights */
    float *o = g_new(float, (size_t)br *d);  /* unnormalised output rows */
    float *s = g_new(float, (size_t)br *bc); /* one tile of scores */
    float *alpha = g_new(float, br);
    ProbeFlashStats st = {0};
    for (int h = 0; h < heads; h++) {
        int kvh = h / group;
        for (int q0 = 0; q0 < chunk; q0 += br) {
            int rows_end = MIN(q0 + br, chunk);
            int nkeys = ctx + rows_end; /* the block's last row sees this many keys */
            int ntiles = (nkeys + bc - 1) / bc;
            for (int r = 0; r < br; r++) {
                m[r] = -INFINITY;
                l[r] = 0;
            }
            memset(o, 0, sizeof(float) * (size_t)br * d);
            for (int t = 0; t < ntiles; t++) {
                int k0 = t * bc;
                st.tiles++;
                for (int r = 0; r < br; r++) {
                    int i = q0 + r;
                    float mx = -INFINITY;
                    for (int jj = 0; jj < bc; jj++) {
                        int kp = k0 + jj;
                        float x = -INFINITY;
                        if (i < chunk && kp < keys && kp <= ctx + i)
                            x = dot(q + ((int64_t)i * heads + h) * d,
                                    k + ((int64_t)kp * kv_heads + kvh) * d, d) *
                                scale_log2;
                        s[r * bc + jj] = x;
                        mx = fmaxf(mx, x);
                    }
                    /* Lazy rescaling: keep a stale maximum unless the new one
                     * is more than tau above it (or there was none yet). */
                    alpha[r] = 1.0f;
                    if (mx > m[r] + tau_log2) {
                        alpha[r] = m[r] == -INFINITY ? 0.0f : exp2f(m[r] - mx);
                        m[r] = mx;
                    }
                }
                /* Per warp of 16 rows: rescale only when some row needs it. */
                for (int w0 = 0; w0 < br; w0 += warp_rows) {
                    gboolean any = FALSE;
                    for (int r = w0; r < w0 + warp_rows && r < br; r++)
                        any |= alpha[r] != 1.0f;
                    if (any) {
                        st.rescales++;
                        for (int r = w0; r < w0 + warp_rows && r < br; r++)
                            for (int e = 0; e < d; e++)
                                o[(size_t)r * d + e] *= alpha[r];
                    }
                }
                for (int r = 0; r < br; r++) {
                    float sum = 0;
                    for (int jj = 0; jj < bc; jj++) {
                        float x = s[r * bc + jj];
                        float p = (m[r] == -INFINITY || x == -INFINITY) ? 0.0f : exp2f(x - m[r]);
                        sum += p;
                        if (round_p)
                            p = probe_bf16_round(p);
                        if (p == 0.0f)
                            continue;
                        const float *vj = v + ((int64_t)(k0 + jj) * kv_heads + kvh) * d;
                        for (int e = 0; e < d; e++)
                            o[(size_t)r * d + e] += p * vj[e];
                    }
                    l[r] = l[r] * alpha[r] + sum;
                }
            }
            for (int r = 0; r < rows_end - q0; r++)
                for (int e = 0; e < d; e++)
                    out[((int64_t)(q0 + r) * heads + h) * d + e] = o[(size_t)r * d + e] / l[r];
        }
    }
    if (stats != NULL)
        *stats = st;
    g_free(m);
    g_free(l);
    g_free(o);
    g_free(s);
    g_free(alpha);
}

void probe_ref_paged_decode(const float *q, const float *k_cache, const float *v_cache,
                            const int32_t *block_table, int max_blocks, const int32_t *seq_lens,
                            int batch, int heads, int kv_heads, int d, int block_size,
                            int partition, float *out)
{
    int group = heads / kv_heads;
    float scale = (float)(1.0 / sqrt((double)d));
    for (int b = 0; b < batch; b++) {
        int len = seq_lens[b];
        int part = partition > 0 ? partition : MAX(len, 1);
        int nparts = (len + part - 1) / part;
        float *pm = g_new(float, nparts);
        float *ps = g_new(float, nparts);
        float *pacc = g_new0(float, (size_t)nparts *d);
        float *logit = g_new(float, part);
        for (int h = 0; h < heads; h++) {
            int kvh = h / group;
            const float *qh = q + ((int64_t)b * heads + h) * d;
            for (int p = 0; p < nparts; p++) {
                int t0 = p * part, t1 = MIN(len, t0 + part);
                float mx = -INFINITY;
                for (int t = t0; t < t1; t++) {
                    int64_t off = probe_paged_offset(block_table, max_blocks, b, t, block_size,
                                                     kv_heads, kvh, d);
                    logit[t - t0] = dot(qh, k_cache + off, d) * scale;
                    mx = fmaxf(mx, logit[t - t0]);
                }
                float sum = 0;
                float *acc = pacc + (size_t)p * d;
                memset(acc, 0, sizeof(float) * d);
                for (int t = t0; t < t1; t++) {
                    float w = expf(logit[t - t0] - mx);
                    sum += w;
                    int64_t off = probe_paged_offset(block_table, max_blocks, b, t, block_size,
                                                     kv_heads, kvh, d);
                    for (int e = 0; e < d; e++)
                        acc[e] += w * v_cache[off + e];
                }
                pm[p] = mx;
                ps[p] = sum;
            }
            /* Combine the partitions: rescale each to the global maximum. */
            float gmax = -INFINITY;
            for (int p = 0; p < nparts; p++)
                gmax = fmaxf(gmax, pm[p]);
            float denom = 0;
            float *o = out + ((int64_t)b * heads + h) * d;
            memset(o, 0, sizeof(float) * d);
            for (int p = 0; p < nparts; p++) {
                float w = expf(pm[p] - gmax);
                denom += w * ps[p];
                for (int e = 0; e < d; e++)
                    o[e] += w * pacc[(size_t)p * d + e];
            }
            for (int e = 0; e < d; e++)
                o[e] = denom > 0 ? o[e] / denom : 0.0f;
        }
        g_free(pm);
        g_free(ps);
        g_free(pacc);
        g_free(logit);
    }
}

int64_t probe_paged_table_build(int nseq, const int32_t *seq_lens, int block_size, int max_blocks,
                                uint64_t seed, int32_t *table)
{
    int64_t total = 0;
    for (int s = 0; s < nseq; s++) {
        int64_t nb = probe_paged_blocks(seq_lens[s], block_size);
        if (nb > max_blocks)
            return -1;
        total += nb;
    }
    /* A seeded Fisher-Yates shuffle of 0 .. total-1 (hash as the RNG). */
    int32_t *perm = g_new(int32_t, MAX(total, 1));
    for (int64_t i = 0; i < total; i++)
        perm[i] = (int32_t)i;
    for (int64_t i = total - 1; i > 0; i--) {
        float u = probe_hash_uniform(seed, (uint64_t)i, 0.5f) + 0.5f; /* [0, 1) */
        int64_t j = (int64_t)(u * (float)(i + 1));
        if (j > i)
            j = i;
        int32_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
    int64_t next = 0;
    for (int s = 0; s < nseq; s++) {
        int64_t nb = probe_paged_blocks(seq_lens[s], block_size);
        for (int i = 0; i < max_blocks; i++)
            table[(int64_t)s * max_blocks + i] = i < nb ? perm[next++] : -1;
    }
    g_free(perm);
    return total;
}

void probe_ref_rmsnorm(const float *x, const float *w, float *y, int tokens, int width, float eps)
{
    for (int t = 0; t < tokens; t++) {
        const float *xt = x + (int64_t)t * width;
        double ss = 0;
        for (int i = 0; i < width; i++)
            ss += (double)xt[i] * xt[i];
        float inv = (float)(1.0 / sqrt(ss / width + eps));
        for (int i = 0; i < width; i++)
            y[(int64_t)t * width + i] = xt[i] * inv * w[i];
    }
}

void probe_rope_cache(float *cache, int max_pos, int d, double theta)
{
    int half = d / 2;
    for (int p = 0; p < max_pos; p++)
        for (int i = 0; i < half; i++) {
            double f = pow(theta, -2.0 * i / d);
            cache[(int64_t)p * d + i] = (float)cos(p * f);
            cache[(int64_t)p * d + half + i] = (float)sin(p * f);
        }
}

void probe_ref_rope(float *x, const int32_t *pos, int tokens, int heads, int d, const float *cache)
{
    int half = d / 2;
    for (int t = 0; t < tokens; t++) {
        const float *cs = cache + (int64_t)pos[t] * d;
        for (int h = 0; h < heads; h++) {
            float *xh = x + ((int64_t)t * heads + h) * d;
            for (int i = 0; i < half; i++) {
                float x1 = xh[i], x2 = xh[half + i];
                xh[i] = x1 * cs[i] - x2 * cs[half + i];
                xh[half + i] = x2 * cs[i] + x1 * cs[half + i];
            }
        }
    }
}

void probe_ref_silu_mul(const float *in, float *out, int tokens, int width)
{
    for (int t = 0; t < tokens; t++)
        for (int i = 0; i < width; i++) {
            float g = in[(int64_t)t * 2 * width + i];
            float u = in[(int64_t)t * 2 * width + width + i];
            out[(int64_t)t * width + i] = g / (1.0f + expf(-g)) * u;
        }
}

void probe_ref_add(const float *a, const float *b, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}
