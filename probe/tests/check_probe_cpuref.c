/* CPU references: the flash algorithm (tiles, online softmax, lazy
 * rescaling) against naive attention, the split-context paged decode
 * against naive attention over the gathered cache, paged indexing, and the
 * elementwise references against hand-computed values. */
#include "cpuref.h"
#include "hostdev.h"

#include <check.h>
#include <math.h>
#include <string.h>

static float *random_tensor(int64_t n, uint64_t seed, float scale, gboolean bf16)
{
    float *x = g_new(float, n);
    for (int64_t i = 0; i < n; i++) {
        x[i] = probe_hash_uniform(seed, (uint64_t)i, scale);
        if (bf16)
            x[i] = probe_bf16_round(x[i]);
    }
    return x;
}

static double max_abs_diff(const float *a, const float *b, int64_t n)
{
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i]))
            return INFINITY;
        m = fmax(m, fabs((double)a[i] - b[i]));
    }
    return m;
}

START_TEST(test_bf16_rounding)
{
    ck_assert_uint_eq(probe_bf16_from_float(1.0f), 0x3f80);
    ck_assert_uint_eq(probe_bf16_from_float(-2.0f), 0xc000);
    /* 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even 1. */
    ck_assert_float_eq(probe_bf16_round(1.00390625f), 1.0f);
    /* 1 + 3 x 2^-8 is halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even). */
    ck_assert_float_eq(probe_bf16_round(1.01171875f), 1.015625f);
    /* Just above the tie rounds up. */
    ck_assert_float_eq(probe_bf16_round(1.0040f), 1.0078125f);
    ck_assert(isnan(probe_bf16_round(NAN)));
    ck_assert(isinf(probe_bf16_round(INFINITY)));
    ck_assert_float_eq(probe_bf16_to_float(0x4049), 3.140625f);
}
END_TEST

START_TEST(test_hash_uniform)
{
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        float u = probe_hash_uniform(7, (uint64_t)i, 2.0f);
        ck_assert(u >= -2.0f && u < 2.0f);
        sum += u;
    }
    ck_assert_double_lt(fabs(sum / 100000), 0.02);
    ck_assert_float_eq(probe_hash_uniform(7, 5, 1), probe_hash_uniform(7, 5, 1));
    ck_assert_float_ne(probe_hash_uniform(7, 5, 1), probe_hash_uniform(8, 5, 1));
}
END_TEST

typedef struct {
    int chunk, ctx, heads, kv_heads, d, br, bc;
    float qscale;
} FlashCase;

static void run_flash_case(const FlashCase *c)
{
    int keys = c->ctx + c->chunk;
    int64_t nq = (int64_t)c->chunk * c->heads * c->d;
    int64_t nk = (int64_t)keys * c->kv_heads * c->d;
    g_autofree float *q = random_tensor(nq, 1, c->qscale, TRUE);
    g_autofree float *k = random_tensor(nk, 2, 1, TRUE);
    g_autofree float *v = random_tensor(nk, 3, 1, TRUE);
    g_autofree float *ref = g_new(float, nq);
    g_autofree float *out = g_new(float, nq);
    probe_ref_attention_naive(q, k, v, ref, c->chunk, c->ctx, c->heads, c->kv_heads, c->d);
    /* Eager (tau 0) and lazy (tau 8) rescaling give the same answer. */
    ProbeFlashStats eager, lazy;
    probe_ref_attention_flash(q, k, v, out, c->chunk, c->ctx, c->heads, c->kv_heads, c->d, c->br,
                              c->bc, 0.0f, FALSE, &eager);
    ck_assert_msg(max_abs_diff(out, ref, nq) < 1e-5, "eager: %g", max_abs_diff(out, ref, nq));
    probe_ref_attention_flash(q, k, v, out, c->chunk, c->ctx, c->heads, c->kv_heads, c->d, c->br,
                              c->bc, 8.0f, FALSE, &lazy);
    ck_assert_msg(max_abs_diff(out, ref, nq) < 1e-5, "lazy: %g", max_abs_diff(out, ref, nq));
    ck_assert_int_eq(lazy.tiles, eager.tiles);
    ck_assert_int_le(lazy.rescales, eager.rescales);
    /* With P rounded to bf16 (as the tensor cores take it) within 1e-2. */
    probe_ref_attention_flash(q, k, v, out, c->chunk, c->ctx, c->heads, c->kv_heads, c->d, c->br,
                              c->bc, 8.0f, TRUE, NULL);
    ck_assert_msg(max_abs_diff(out, ref, nq) < 1e-2, "bf16 P: %g", max_abs_diff(out, ref, nq));
}

START_TEST(test_flash_matches_naive)
{
    const FlashCase cases[] = {
        {70, 33, 4, 2, 16, 64, 64, 1.0f},  /* partial query and key tiles, GQA 2 */
        {1, 0, 2, 2, 8, 64, 64, 1.0f},     /* one token, no context */
        {130, 0, 2, 1, 8, 64, 32, 1.0f},   /* three query blocks, pure causal */
        {17, 200, 8, 1, 8, 64, 64, 4.0f},  /* decode-like: long context, MQA */
        {64, 64, 2, 2, 16, 64, 64, 40.0f}, /* very peaked scores (logits ~ +-100) */
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++)
        run_flash_case(&cases[i]);
}
END_TEST

START_TEST(test_flash_lazy_rescale_is_rare)
{
    /* A long context: once a row's maximum is established, new tiles
     * seldom raise it by more than 2^8, so most tiles skip the rescale that
     * eager online softmax does whenever the maximum moves at all. */
    int chunk = 64, ctx = 2048, heads = 1, d = 16;
    int64_t nq = (int64_t)chunk * heads * d, nk = (int64_t)(ctx + chunk) * d;
    g_autofree float *q = random_tensor(nq, 4, 2, TRUE);
    g_autofree float *k = random_tensor(nk, 5, 1, TRUE);
    g_autofree float *v = random_tensor(nk, 6, 1, TRUE);
    g_autofree float *out = g_new(float, nq);
    ProbeFlashStats eager, lazy;
    probe_ref_attention_flash(q, k, v, out, chunk, ctx, heads, 1, d, 64, 64, 0, FALSE, &eager);
    probe_ref_attention_flash(q, k, v, out, chunk, ctx, heads, 1, d, 64, 64, 8, FALSE, &lazy);
    ck_assert_int_eq(lazy.tiles, 33);   /* (2048 + 64) / 64 */
    ck_assert_int_le(lazy.rescales, 4); /* the first tile of each of the 4 warps */
    ck_assert_int_gt(eager.rescales, lazy.rescales);
}
END_TEST

START_TEST(test_paged_offset)
{
    /* Sequence 0 holds physical blocks 5 then 2. Token 17 of it is in its
     * second block (2), slot 1: ((2 x 16 + 1) x 2 KV heads + head 1) x 4. */
    int32_t table[] = {5, 2};
    ck_assert_int_eq(probe_paged_offset(table, 2, 0, 17, 16, 2, 1, 4), ((2 * 16 + 1) * 2 + 1) * 4);
    ck_assert_int_eq(probe_paged_offset(table, 2, 0, 0, 16, 2, 0, 4), 5 * 16 * 2 * 4);
    ck_assert_int_eq(probe_paged_slot(table, 2, 0, 17, 16), 33);
    ck_assert_int_eq(probe_paged_blocks(16, 16), 1);
    ck_assert_int_eq(probe_paged_blocks(17, 16), 2);
    ck_assert_int_eq(probe_paged_blocks(0, 16), 0);
}
END_TEST

START_TEST(test_paged_table)
{
    int32_t lens[] = {1, 16, 17, 100};
    int max_blocks = 8, bs = 16;
    int32_t table[4 * 8];
    int64_t total = probe_paged_table_build(4, lens, bs, max_blocks, 11, table);
    ck_assert_int_eq(total, 1 + 1 + 2 + 7);
    /* Every physical block used exactly once; unused entries -1. */
    int seen[11] = {0};
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < max_blocks; i++) {
            int32_t b = table[s * max_blocks + i];
            if (i < probe_paged_blocks(lens[s], bs)) {
                ck_assert(b >= 0 && b < total);
                seen[b]++;
            } else {
                ck_assert_int_eq(b, -1);
            }
        }
    for (int i = 0; i < total; i++)
        ck_assert_int_eq(seen[i], 1);
    /* Shuffled, not the identity. */
    int identity = 1, next = 0;
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < probe_paged_blocks(lens[s], bs); i++)
            identity &= table[s * max_blocks + i] == next++;
    ck_assert(!identity);
    int32_t too_long[] = {200};
    ck_assert_int_eq(probe_paged_table_build(1, too_long, bs, max_blocks, 1, table), -1);
}
END_TEST

START_TEST(test_paged_decode_matches_naive)
{
    int32_t lens[] = {1, 17, 64, 100, 33};
    int batch = 5, heads = 8, kv_heads = 2, d = 16, bs = 16, max_blocks = 7;
    int32_t table[5 * 7];
    int64_t total = probe_paged_table_build(batch, lens, bs, max_blocks, 3, table);
    ck_assert_int_gt(total, 0);
    int64_t cache_n = total * bs * kv_heads * d;
    g_autofree float *kc = random_tensor(cache_n, 7, 1, TRUE);
    g_autofree float *vc = random_tensor(cache_n, 8, 1, TRUE);
    g_autofree float *q = random_tensor((int64_t)batch * heads * d, 9, 3, TRUE);
    g_autofree float *ref = g_new(float, (int64_t)batch *heads *d);
    /* Naive: gather each sequence's cache into contiguous K/V; its one query
     * sits at position len-1 (chunk 1 after len-1 cached tokens). */
    for (int b = 0; b < batch; b++) {
        int len = lens[b];
        g_autofree float *k = g_new(float, (int64_t)len *kv_heads *d);
        g_autofree float *v = g_new(float, (int64_t)len *kv_heads *d);
        for (int t = 0; t < len; t++)
            for (int h = 0; h < kv_heads; h++) {
                int64_t off = probe_paged_offset(table, max_blocks, b, t, bs, kv_heads, h, d);
                memcpy(k + ((int64_t)t * kv_heads + h) * d, kc + off, sizeof(float) * d);
                memcpy(v + ((int64_t)t * kv_heads + h) * d, vc + off, sizeof(float) * d);
            }
        probe_ref_attention_naive(q + (int64_t)b * heads * d, k, v, ref + (int64_t)b * heads * d, 1,
                                  len - 1, heads, kv_heads, d);
    }
    g_autofree float *out = g_new(float, (int64_t)batch *heads *d);
    const int partitions[] = {0, 16, 7, 512};
    for (size_t i = 0; i < G_N_ELEMENTS(partitions); i++) {
        probe_ref_paged_decode(q, kc, vc, table, max_blocks, lens, batch, heads, kv_heads, d, bs,
                               partitions[i], out);
        double err = max_abs_diff(out, ref, (int64_t)batch * heads * d);
        ck_assert_msg(err < 1e-5, "partition %d: %g", partitions[i], err);
    }
}
END_TEST

START_TEST(test_rmsnorm)
{
    /* rms of (3, 4) = sqrt(12.5): y = (3, 4) / sqrt(12.5) x (1, 2). */
    float x[] = {3, 4, 0, 0}, w[] = {1, 2}, y[4];
    probe_ref_rmsnorm(x, w, y, 2, 2, 0.0f);
    ck_assert_float_eq_tol(y[0], 3 / sqrtf(12.5f), 1e-6f);
    ck_assert_float_eq_tol(y[1], 8 / sqrtf(12.5f), 1e-6f);
    probe_ref_rmsnorm(x + 2, w, y, 1, 2, 1e-6f); /* all zero: eps keeps it finite */
    ck_assert_float_eq(y[0], 0);
}
END_TEST

START_TEST(test_rope)
{
    int d = 4, max_pos = 3;
    float cache[3 * 4];
    probe_rope_cache(cache, max_pos, d, 10000.0);
    /* f_0 = 1, f_1 = 10000^(-1/2) = 0.01. */
    ck_assert_float_eq_tol(cache[1 * d + 0], cosf(1.0f), 1e-6f);
    ck_assert_float_eq_tol(cache[1 * d + 1], cosf(0.01f), 1e-6f);
    ck_assert_float_eq_tol(cache[2 * d + 2], sinf(2.0f), 1e-6f);
    /* Position 0 is the identity; position 1 rotates the pair (x0, x2) by 1 rad. */
    float x[] = {1, 5, 0, 7, 1, 5, 0, 7};
    int32_t pos[] = {0, 1};
    probe_ref_rope(x, pos, 2, 1, d, cache);
    ck_assert_float_eq(x[0], 1);
    ck_assert_float_eq(x[1], 5);
    ck_assert_float_eq(x[3], 7);
    ck_assert_float_eq_tol(x[4], cosf(1.0f), 1e-6f);
    ck_assert_float_eq_tol(x[6], sinf(1.0f), 1e-6f);
    /* Rotations keep each pair's length: |(5, 7)| after 0.01 rad. */
    ck_assert_float_eq_tol(x[5] * x[5] + x[7] * x[7], 74.0f, 1e-4f);
}
END_TEST

START_TEST(test_silu_mul_and_add)
{
    /* gate | up for 2 tokens of width 2. */
    float in[] = {0, 1, 3, 2, -1, 2, 1, 1}, out[4];
    probe_ref_silu_mul(in, out, 2, 2);
    ck_assert_float_eq(out[0], 0);
    ck_assert_float_eq_tol(out[1], 1.0f / (1.0f + expf(-1.0f)) * 2, 1e-6f);
    ck_assert_float_eq_tol(out[2], -1.0f / (1.0f + expf(1.0f)) * 1, 1e-6f);
    float a[] = {1, 2}, b[] = {0.5f, -2}, c[2];
    probe_ref_add(a, b, c, 2);
    ck_assert_float_eq(c[0], 1.5f);
    ck_assert_float_eq(c[1], 0);
}
END_TEST

Suite *probe_cpuref_suite(void)
{
    Suite *s = suite_create("probe_cpuref");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bf16_rounding);
    tcase_add_test(tc, test_hash_uniform);
    tcase_add_test(tc, test_flash_matches_naive);
    tcase_add_test(tc, test_flash_lazy_rescale_is_rare);
    tcase_add_test(tc, test_paged_offset);
    tcase_add_test(tc, test_paged_table);
    tcase_add_test(tc, test_paged_decode_matches_naive);
    tcase_add_test(tc, test_rmsnorm);
    tcase_add_test(tc, test_rope);
    tcase_add_test(tc, test_silu_mul_and_add);
    suite_add_tcase(s, tc);
    return s;
}
