/* The probe's own CUDA kernels, behind C launchers so that all host code can
 * stay C: tensor filling, flash-style prefill attention, paged decode
 * attention, RMSNorm, RoPE, SiLU-and-mul, residual add, KV-cache store and
 * a copy kernel. Tensors are bf16 unless said otherwise; every launcher
 * returns the launch's cudaError_t (cudaErrorInvalidValue for arguments the
 * kernels do not support) and is safe inside CUDA-graph capture. */
#ifndef PROBE_KERNELS_H
#define PROBE_KERNELS_H

#include <cuda_runtime_api.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Raise the dynamic shared-memory limit of the kernels that need more than
 * 48 KiB. Call once per device before any launch. */
cudaError_t probe_k_init(void);

/* Fill @n elements with probe_hash_uniform(seed, i, scale) (hostdev.h),
 * converted to bf16, fp8 e4m3 or kept as float. */
cudaError_t probe_k_fill_bf16(void *dst, int64_t n, uint64_t seed, float scale, cudaStream_t s);
cudaError_t probe_k_fill_fp8(void *dst, int64_t n, uint64_t seed, float scale, cudaStream_t s);
cudaError_t probe_k_fill_f32(float *dst, int64_t n, uint64_t seed, float scale, cudaStream_t s);

/* Causal prefill attention of one sequence (cpuref.h's probe_ref_attention_*):
 * @chunk queries at positions ctx..ctx+chunk-1 over keys 0..own position.
 * Query head h of token t is at q + t * q_stride + h * head_dim; K/V of token
 * j, KV head g at k/v + j * kv_stride + g * head_dim; output like q with
 * o_stride. head_dim 64 or 128; strides multiples of 8 elements; pointers
 * 16-byte aligned; heads a multiple of kv_heads. */
typedef struct {
    const void *q;
    int64_t q_stride;
    const void *k;
    const void *v;
    int64_t kv_stride;
    void *o;
    int64_t o_stride;
    int chunk;
    int ctx;
    int heads;
    int kv_heads;
    int head_dim;
} ProbePrefillArgs;
cudaError_t probe_k_prefill(const ProbePrefillArgs *a, cudaStream_t s);
/* Tile sizes of the prefill kernel (for the CPU replay of its algorithm). */
#define PROBE_FA_BR  64
#define PROBE_FA_BC  64
#define PROBE_FA_TAU 8.0f

/* Paged decode attention: one query per sequence over its seq_lens[b]
 * cached tokens (paged layout of hostdev.h). Contexts are split into
 * partitions (probe_decode_partition in hostdev.h) whose partial results a second kernel
 * combines; @workspace holds them (probe_decode_workspace_bytes in
 * hostdev.h). heads / kv_heads at most PROBE_DECODE_MAX_GROUP; head_dim 64 or 128; every
 * seq_lens[b] in 1..max_seq_len. */
typedef struct {
    const void *q;
    int64_t q_stride;
    const void *k_cache;
    const void *v_cache;
    const int32_t *block_table;
    int max_blocks;
    const int32_t *seq_lens;
    int max_seq_len;
    void *o;
    int64_t o_stride;
    int batch;
    int heads;
    int kv_heads;
    int head_dim;
    int block_size;
    int num_sms;
    void *workspace;
} ProbeDecodeArgs;
cudaError_t probe_k_decode(const ProbeDecodeArgs *a, cudaStream_t s);

/* RMSNorm over @rows rows of @width (a multiple of 8): row r is token
 * r / rows_per_token, sub-row r % rows_per_token, at
 * x + token * token_stride + sub * width (rows_per_token 1 and token_stride
 * = width for a plain [T][width] tensor; heads per token for Qwen3's q/k
 * norm inside a fused QKV tensor). y has the same layout (may be x). */
cudaError_t probe_k_rmsnorm(const void *x, const void *w, void *y, int64_t rows, int width,
                            int rows_per_token, int64_t token_stride, float eps, cudaStream_t s);
/* Neox RoPE in place on the first @heads heads of each token (q then k of a
 * fused QKV tensor), token t at qk + t * token_stride, position pos[t],
 * float cos/sin cache [max_pos][head_dim] (cpuref.h's probe_rope_cache). */
cudaError_t probe_k_rope(void *qk, int64_t tokens, int64_t token_stride, int heads, int head_dim,
                         const int32_t *pos, const float *cos_sin, cudaStream_t s);
/* out[t][i] = silu(in[t][i]) * in[t][width + i]; width a multiple of 8. */
cudaError_t probe_k_silu_mul(const void *in, void *out, int64_t tokens, int width, cudaStream_t s);
/* out = a + b over @n elements (a multiple of 8); out may alias a or b. */
cudaError_t probe_k_add(const void *a, const void *b, void *out, int64_t n, cudaStream_t s);
/* Write K and V of @tokens tokens into the paged caches at slots[t]: token
 * t's K head g is read at qkv + t * token_stride + k_offset + g * head_dim
 * (V at v_offset). */
cudaError_t probe_k_kv_store(const void *qkv, int64_t token_stride, int64_t k_offset,
                             int64_t v_offset, void *k_cache, void *v_cache, const int64_t *slots,
                             int64_t tokens, int kv_heads, int head_dim, cudaStream_t s);
/* Copy @bytes (a multiple of 16, 16-byte aligned) with a vectorised kernel. */
cudaError_t probe_k_copy(void *dst, const void *src, int64_t bytes, cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif /* PROBE_KERNELS_H */
