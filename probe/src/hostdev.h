/* Code compiled both for the host (C) and the device (CUDA), so that what
 * the CPU tests check is what the GPU runs: paged KV-cache addressing and
 * the hash that fills tensors with reproducible values.
 * The paged cache is laid out [num_blocks][block_size][kv_heads][head_dim]
 * for K and again for V (vLLM's flash layout); a sequence's logical block i
 * lives in physical block block_table[seq][i]. */
#ifndef PROBE_HOSTDEV_H
#define PROBE_HOSTDEV_H

#include <stdint.h>

#ifdef __CUDACC__
#define PROBE_HD __host__ __device__ __forceinline__
#else
#define PROBE_HD static inline
#endif

/* Element offset of token @t of sequence @seq, KV head @kvh, in the K (or V)
 * cache. @max_blocks is the block table's row length. */
PROBE_HD int64_t probe_paged_offset(const int32_t *block_table, int max_blocks, int seq, int64_t t,
                                    int block_size, int kv_heads, int kvh, int head_dim)
{
    int64_t phys = block_table[(int64_t)seq * max_blocks + t / block_size];
    return ((phys * block_size + t % block_size) * kv_heads + kvh) * (int64_t)head_dim;
}

/* Cache slot of token @t of sequence @seq (what vLLM calls slot_mapping):
 * physical block x block_size + offset in the block. */
PROBE_HD int64_t probe_paged_slot(const int32_t *block_table, int max_blocks, int seq, int64_t t,
                                  int block_size)
{
    int64_t phys = block_table[(int64_t)seq * max_blocks + t / block_size];
    return phys * block_size + t % block_size;
}

/* Blocks that @tokens tokens occupy. */
PROBE_HD int64_t probe_paged_blocks(int64_t tokens, int block_size)
{
    return (tokens + block_size - 1) / block_size;
}

/* Split-context decode: each sequence's context is cut into partitions of
 * at most PROBE_DECODE_MAX_PART tokens (vLLM's paged attention v2 uses 512);
 * when batch x KV heads x partitions would not give every SM two blocks,
 * the partitions are halved (down to 64 tokens) so that short batches still
 * spread over the whole GPU, as flash-decoding does. */
#define PROBE_DECODE_MAX_PART  512
#define PROBE_DECODE_MIN_PART  64
#define PROBE_DECODE_MAX_GROUP 16

PROBE_HD int probe_decode_partition(int batch, int kv_heads, int max_seq_len, int num_sms)
{
    int part = PROBE_DECODE_MAX_PART;
    while (part > PROBE_DECODE_MIN_PART &&
           (int64_t)batch * kv_heads * ((max_seq_len + part - 1) / part) < 2LL * num_sms)
        part /= 2;
    return part;
}

/* Bytes of the decode workspace: per sequence, query head and partition,
 * the unnormalised output (head_dim floats), the maximum and the sum. */
PROBE_HD int64_t probe_decode_workspace_bytes(int batch, int heads, int kv_heads, int head_dim,
                                              int max_seq_len, int num_sms)
{
    int part = probe_decode_partition(batch, kv_heads, max_seq_len, num_sms);
    int64_t parts = (max_seq_len + part - 1) / part;
    return (int64_t)batch * heads * parts * (head_dim + 2) * (int64_t)sizeof(float);
}

/* Uniform value in [-scale, scale) from (seed, index): splitmix64 of the
 * pair, top 24 bits as a fraction (exact in float). */
PROBE_HD float probe_hash_uniform(uint64_t seed, uint64_t index, float scale)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + index + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    float u = (float)(z >> 40) * (1.0f / 16777216.0f); /* [0, 1) */
    return (2.0f * u - 1.0f) * scale;
}

#endif /* PROBE_HOSTDEV_H */
