/* CPU references of the probe's own kernels. The naive versions define what
 * the answer is; the blocked versions replay the CUDA kernels' algorithms
 * (tiling, online softmax with lazy rescaling, split-context decode with a
 * final combine) step for step, so the CPU tests check the algorithm and
 * the GPU check at start-up only has to catch the CUDA-specific mistakes.
 * Tensors are float, row-major, token-major: [tokens][heads][head_dim]. */
#ifndef PROBE_CPUREF_H
#define PROBE_CPUREF_H

#include <glib.h>
#include <stdint.h>

G_BEGIN_DECLS

/* bfloat16 <-> float, round to nearest even (what __float2bfloat16 does). */
uint16_t probe_bf16_from_float(float f);
float probe_bf16_to_float(uint16_t b);
static inline float probe_bf16_round(float f)
{
    return probe_bf16_to_float(probe_bf16_from_float(f));
}

/* Causal attention of one sequence: @chunk new queries at positions
 * @ctx .. @ctx+@chunk-1 attend to keys 0 .. their own position. q/out
 * [chunk][heads][d], k/v [ctx+chunk][kv_heads][d]; query head h reads KV
 * head h / (heads / kv_heads); softmax scale 1/sqrt(d). */
void probe_ref_attention_naive(const float *q, const float *k, const float *v, float *out,
                               int chunk, int ctx, int heads, int kv_heads, int d);

typedef struct {
    int64_t tiles;    /* key tiles processed (over all query blocks and heads) */
    int64_t rescales; /* tile steps where a warp had to rescale its accumulator */
} ProbeFlashStats;

/* The flash kernel's algorithm: query blocks of @br rows in warps of 16,
 * key tiles of @bc, base-2 online softmax whose running maximum is only
 * raised when a row's new maximum exceeds it by more than @tau_log2 (so the
 * unnormalised weights stay below 2^tau and most tiles skip the rescale),
 * P rounded to bf16 before P.V when @round_p. @stats may be NULL. */
void probe_ref_attention_flash(const float *q, const float *k, const float *v, float *out,
                               int chunk, int ctx, int heads, int kv_heads, int d, int br, int bc,
                               float tau_log2, gboolean round_p, ProbeFlashStats *stats);

/* Paged decode: one query per sequence (the newest token), attending to all
 * @seq_lens[s] tokens in the cache. q/out [batch][heads][d]; caches and
 * block table as paged.h. @partition > 0 splits each context into
 * partitions of that many tokens, each reduced to (max, sum, unnormalised
 * output) and combined at the end, as the CUDA kernel does; 0 = one pass. */
void probe_ref_paged_decode(const float *q, const float *k_cache, const float *v_cache,
                            const int32_t *block_table, int max_blocks, const int32_t *seq_lens,
                            int batch, int heads, int kv_heads, int d, int block_size,
                            int partition, float *out);

/* Fill @table ([nseq][max_blocks]) with a seeded random permutation of the
 * physical blocks 0 .. total-1, sequence by sequence (a long-running
 * server's fragmented cache); unused entries get -1. Returns the number of
 * physical blocks used, or -1 if a sequence needs more than @max_blocks. */
int64_t probe_paged_table_build(int nseq, const int32_t *seq_lens, int block_size, int max_blocks,
                                uint64_t seed, int32_t *table);

/* RMSNorm: y = x / sqrt(mean(x^2) + eps) * w, per token. */
void probe_ref_rmsnorm(const float *x, const float *w, float *y, int tokens, int width, float eps);
/* Rotary cache [max_pos][d]: cos(p f_i) in [0, d/2), sin(p f_i) in [d/2, d),
 * f_i = theta^(-2i/d). */
void probe_rope_cache(float *cache, int max_pos, int d, double theta);
/* Neox-style RoPE in place on x [tokens][heads][d] at positions @pos. */
void probe_ref_rope(float *x, const int32_t *pos, int tokens, int heads, int d, const float *cache);
/* SiLU-and-mul: in [tokens][2 width] = (gate | up), out [tokens][width]. */
void probe_ref_silu_mul(const float *in, float *out, int tokens, int width);
/* out = a + b over @n elements. */
void probe_ref_add(const float *a, const float *b, float *out, int64_t n);

G_END_DECLS

#endif /* PROBE_CPUREF_H */
