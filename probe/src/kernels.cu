/* The probe's CUDA kernels (see kernels.h). The two attention kernels are
 * the ones whose algorithms cpuref.c replays on the CPU:
 *  - prefill: flash-style, one block per (64 queries, head), four warps of
 *    16 query rows each; S = Q K^T and O += P V on tensor cores through
 *    WMMA (bf16 in, fp32 accumulate), online softmax in base 2 whose
 *    running maximum is only raised when a row's new maximum exceeds it by
 *    more than 2^8, so most key tiles skip rescaling the accumulator;
 *  - decode: vLLM-v2-style split context over a paged cache, one block per
 *    (partition, KV head, sequence) serving every query head of the group
 *    so each K/V byte is read once, then a combine kernel.
 * WMMA rather than hand-written mma.sync: its fragment layouts are the
 * compiler's business, which keeps the kernel portable across sm_80/89/90
 * at some cost in speed (the accumulator makes a round trip through shared
 * memory when a row's maximum moves). */
#include "hostdev.h"
#include "kernels.h"

#include <cuda_bf16.h>
#include <cuda_fp8.h>
#include <mma.h>

namespace
{

using namespace nvcuda;
typedef __nv_bfloat16 bf16;

constexpr int FILL_THREADS = 256;

int grid_for(int64_t n, int threads)
{
    int64_t blocks = (n + threads - 1) / threads;
    if (blocks > 65536)
        blocks = 65536; /* grid-stride loops cover the rest */
    return (int)(blocks < 1 ? 1 : blocks);
}

__global__ void fill_bf16_kernel(bf16 *dst, int64_t n, uint64_t seed, float scale)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16(probe_hash_uniform(seed, (uint64_t)i, scale));
}

__global__ void fill_fp8_kernel(__nv_fp8_e4m3 *dst, int64_t n, uint64_t seed, float scale)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = __nv_fp8_e4m3(probe_hash_uniform(seed, (uint64_t)i, scale));
}

__global__ void fill_f32_kernel(float *dst, int64_t n, uint64_t seed, float scale)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = probe_hash_uniform(seed, (uint64_t)i, scale);
}

/* ------------------------------------------------------------ prefill -- */

constexpr int FA_BR = PROBE_FA_BR;   /* query rows per block */
constexpr int FA_BC = PROBE_FA_BC;   /* keys per tile */
constexpr int FA_WARPS = FA_BR / 16; /* one warp per 16 query rows */
constexpr float FA_TAU = PROBE_FA_TAU;
constexpr int VEC = 8; /* bf16 per 16-byte vector */

/* Shared-memory layout; every region and fragment pointer stays 32-byte
 * aligned as WMMA requires (row pitches padded against bank conflicts). */
template <int D> struct FaLayout {
    static constexpr int KV_LD = D + 8;                              /* bf16 per K/V row */
    static constexpr int S_LD = FA_BC + 4;                           /* floats per score row */
    static constexpr int O_LD = D + 4;                               /* floats per output row */
    static constexpr int P_LD = FA_BC + 8;                           /* bf16 per weight row */
    static constexpr int SCRATCH = 16 * (S_LD > O_LD ? S_LD : O_LD); /* floats per warp */
    static constexpr size_t KV_BYTES = (size_t)FA_BC * KV_LD * sizeof(bf16);
    static constexpr size_t BYTES = 2 * KV_BYTES + FA_WARPS * SCRATCH * sizeof(float) +
                                    (size_t)FA_WARPS * 16 * P_LD * sizeof(bf16);
};

template <int D> __global__ void __launch_bounds__(FA_WARPS * 32) prefill_kernel(ProbePrefillArgs p)
{
    typedef FaLayout<D> L;
    extern __shared__ __align__(128) unsigned char smem[];
    bf16 *ks = reinterpret_cast<bf16 *>(smem);
    bf16 *vs = ks + FA_BC * L::KV_LD;
    float *scr = reinterpret_cast<float *>(smem + 2 * L::KV_BYTES);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    bf16 *pw = reinterpret_cast<bf16 *>(scr + FA_WARPS * L::SCRATCH) + warp * 16 * L::P_LD;
    scr += warp * L::SCRATCH;

    const bf16 *Q = static_cast<const bf16 *>(p.q);
    const bf16 *K = static_cast<const bf16 *>(p.k);
    const bf16 *V = static_cast<const bf16 *>(p.v);
    bf16 *O = static_cast<bf16 *>(p.o);
    const int h = blockIdx.y;
    const int kvh = h / (p.heads / p.kv_heads);
    const int q0 = blockIdx.x * FA_BR;
    const int keys = p.ctx + p.chunk;
    const uint4 zero = make_uint4(0, 0, 0, 0);

    /* Stage the block's queries through the K buffer into fragments. */
    for (int idx = threadIdx.x; idx < FA_BR * D / VEC; idx += blockDim.x) {
        int r = idx / (D / VEC), c = (idx % (D / VEC)) * VEC;
        int i = q0 + r;
        uint4 val = zero;
        if (i < p.chunk)
            val =
                *reinterpret_cast<const uint4 *>(Q + (int64_t)i * p.q_stride + (int64_t)h * D + c);
        *reinterpret_cast<uint4 *>(ks + r * L::KV_LD + c) = val;
    }
    __syncthreads();
    wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> qf[D / 16];
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++)
        wmma::load_matrix_sync(qf[kk], ks + warp * 16 * L::KV_LD + kk * 16, L::KV_LD);
    __syncthreads();

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> of[D / 16];
#pragma unroll
    for (int n = 0; n < D / 16; n++)
        wmma::fill_fragment(of[n], 0.0f);

    /* Softmax bookkeeping: lane pairs own a row, each lane half its columns. */
    const int row = lane / 2, half = lane % 2;
    const int i_row = q0 + warp * 16 + row;
    const bool row_valid = i_row < p.chunk;
    const int qpos = p.ctx + i_row;
    const float scale_log2 = rsqrtf((float)D) * 1.4426950408889634f;
    float m_run = -INFINITY, l_run = 0.0f;

    const int rows_end = min(q0 + FA_BR, p.chunk);
    const int ntiles = (p.ctx + rows_end + FA_BC - 1) / FA_BC;
    for (int t = 0; t < ntiles; t++) {
        const int k0 = t * FA_BC;
        for (int idx = threadIdx.x; idx < FA_BC * D / VEC; idx += blockDim.x) {
            int r = idx / (D / VEC), c = (idx % (D / VEC)) * VEC;
            int j = k0 + r;
            uint4 kv = zero, vv = zero;
            if (j < keys) {
                int64_t off = (int64_t)j * p.kv_stride + (int64_t)kvh * D + c;
                kv = *reinterpret_cast<const uint4 *>(K + off);
                vv = *reinterpret_cast<const uint4 *>(V + off);
            }
            *reinterpret_cast<uint4 *>(ks + r * L::KV_LD + c) = kv;
            *reinterpret_cast<uint4 *>(vs + r * L::KV_LD + c) = vv;
        }
        __syncthreads();

        /* S = Q K^T for this warp's 16 rows. */
#pragma unroll
        for (int c = 0; c < FA_BC / 16; c++) {
            wmma::fragment<wmma::accumulator, 16, 16, 16, float> sf;
            wmma::fill_fragment(sf, 0.0f);
#pragma unroll
            for (int kk = 0; kk < D / 16; kk++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::col_major> kf;
                wmma::load_matrix_sync(kf, ks + c * 16 * L::KV_LD + kk * 16, L::KV_LD);
                wmma::mma_sync(sf, qf[kk], kf, sf);
            }
            wmma::store_matrix_sync(scr + c * 16, sf, L::S_LD, wmma::mem_row_major);
        }
        __syncwarp();

        float sv[FA_BC / 2];
        float mx = -INFINITY;
#pragma unroll
        for (int jj = 0; jj < FA_BC / 2; jj++) {
            int col = half * (FA_BC / 2) + jj;
            int kp = k0 + col;
            float x = scr[row * L::S_LD + col] * scale_log2;
            if (!row_valid || kp >= keys || kp > qpos)
                x = -INFINITY;
            sv[jj] = x;
            mx = fmaxf(mx, x);
        }
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        /* Lazy rescaling: keep a stale maximum unless the new one exceeds
         * it by more than tau, so weights stay below 2^tau. */
        float alpha = 1.0f;
        if (mx > m_run + FA_TAU) {
            alpha = m_run == -INFINITY ? 0.0f : exp2f(m_run - mx);
            m_run = mx;
        }
        float sum = 0.0f;
#pragma unroll
        for (int jj = 0; jj < FA_BC / 2; jj++) {
            float pj = (m_run == -INFINITY || sv[jj] == -INFINITY) ? 0.0f : exp2f(sv[jj] - m_run);
            sum += pj;
            pw[row * L::P_LD + half * (FA_BC / 2) + jj] = __float2bfloat16(pj);
        }
        sum += __shfl_xor_sync(0xffffffffu, sum, 1);
        l_run = l_run * alpha + sum;
        const bool any = __any_sync(0xffffffffu, alpha != 1.0f);
        __syncwarp();
        if (any) {
            /* The accumulator's element layout is opaque: rescale its rows
             * through shared memory. */
#pragma unroll
            for (int n = 0; n < D / 16; n++)
                wmma::store_matrix_sync(scr + n * 16, of[n], L::O_LD, wmma::mem_row_major);
            __syncwarp();
            for (int e = half * (D / 2); e < (half + 1) * (D / 2); e++)
                scr[row * L::O_LD + e] *= alpha;
            __syncwarp();
#pragma unroll
            for (int n = 0; n < D / 16; n++)
                wmma::load_matrix_sync(of[n], scr + n * 16, L::O_LD, wmma::mem_row_major);
        }

        /* O += P V. */
#pragma unroll
        for (int kk = 0; kk < FA_BC / 16; kk++) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, bf16, wmma::row_major> pf;
            wmma::load_matrix_sync(pf, pw + kk * 16, L::P_LD);
#pragma unroll
            for (int n = 0; n < D / 16; n++) {
                wmma::fragment<wmma::matrix_b, 16, 16, 16, bf16, wmma::row_major> vf;
                wmma::load_matrix_sync(vf, vs + kk * 16 * L::KV_LD + n * 16, L::KV_LD);
                wmma::mma_sync(of[n], pf, vf, of[n]);
            }
        }
        __syncthreads(); /* every warp is done with this K/V tile */
    }

#pragma unroll
    for (int n = 0; n < D / 16; n++)
        wmma::store_matrix_sync(scr + n * 16, of[n], L::O_LD, wmma::mem_row_major);
    __syncwarp();
    if (row_valid) {
        float inv = 1.0f / l_run;
        bf16 *out = O + (int64_t)i_row * p.o_stride + (int64_t)h * D;
        for (int e = half * (D / 2); e < (half + 1) * (D / 2); e += 2)
            *reinterpret_cast<__nv_bfloat162 *>(out + e) = __floats2bfloat162_rn(
                scr[row * L::O_LD + e] * inv, scr[row * L::O_LD + e + 1] * inv);
    }
}

/* ------------------------------------------------------------- decode -- */

constexpr int DEC_WARPS = 4;
constexpr int DEC_MAXG = PROBE_DECODE_MAX_GROUP;

size_t decode_smem_bytes(int group, int head_dim)
{
    /* q (scaled), logits of one partition, per-warp partial outputs, stats. */
    return sizeof(float) * ((size_t)group * head_dim + (size_t)group * PROBE_DECODE_MAX_PART +
                            (size_t)DEC_WARPS * group * head_dim + 2 * (size_t)group);
}

__device__ __forceinline__ float warp_max(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

__device__ __forceinline__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <int D>
__global__ void __launch_bounds__(DEC_WARPS * 32) decode_kernel(ProbeDecodeArgs p, int part)
{
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const int group = p.heads / p.kv_heads;
    float *qs = reinterpret_cast<float *>(smem_raw);     /* [group][D] */
    float *logits = qs + group * D;                      /* [group][MAX_PART] */
    float *red = logits + group * PROBE_DECODE_MAX_PART; /* [warps][group][D] */
    float *stats = red + DEC_WARPS * group * D;          /* [group][2]: max, sum */
    const bf16 *Q = static_cast<const bf16 *>(p.q);
    const bf16 *Kc = static_cast<const bf16 *>(p.k_cache);
    const bf16 *Vc = static_cast<const bf16 *>(p.v_cache);
    const int pi = blockIdx.x, kvh = blockIdx.y, b = blockIdx.z;
    const int nparts = gridDim.x;
    const int len = p.seq_lens[b];
    const int t0 = pi * part, t1 = min(len, t0 + part);
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const int h0 = kvh * group;
    float *ws_out = static_cast<float *>(p.workspace);
    float *ws_ml = ws_out + (int64_t)p.batch * p.heads * nparts * D;

    if (t0 >= t1) {
        /* Past this sequence's end: an empty partial result. */
        if (nparts > 1)
            for (int idx = threadIdx.x; idx < group * D; idx += blockDim.x) {
                int g = idx / D, e = idx % D;
                int64_t slot = ((int64_t)b * p.heads + h0 + g) * nparts + pi;
                ws_out[slot * D + e] = 0.0f;
                if (e == 0) {
                    ws_ml[slot * 2] = -INFINITY;
                    ws_ml[slot * 2 + 1] = 0.0f;
                }
            }
        return;
    }

    /* Logits: groups of TG = D/8 lanes read one token's K row, 8 values
     * each. The query is stored element-major (q[g][i][lane]) so that the
     * TG lanes read consecutive words, free of bank conflicts. */
    constexpr int TG = D / VEC;
    const float scale = rsqrtf((float)D);
    for (int idx = threadIdx.x; idx < group * D; idx += blockDim.x) {
        int g = idx / D, e = idx % D;
        qs[g * D + (e % VEC) * TG + e / VEC] =
            __bfloat162float(Q[(int64_t)b * p.q_stride + (int64_t)(h0 + g) * D + e]) * scale;
    }
    __syncthreads();

    constexpr int TPW = 32 / TG;
    const int sub = lane / TG, gl = lane % TG;
    for (int tb = t0 + warp * TPW; tb < t1; tb += DEC_WARPS * TPW) {
        const int t = tb + sub;
        const bool valid = t < t1;
        float kf[VEC];
        if (valid) {
            int64_t off = probe_paged_offset(p.block_table, p.max_blocks, b, t, p.block_size,
                                             p.kv_heads, kvh, D);
            uint4 raw = *reinterpret_cast<const uint4 *>(Kc + off + gl * VEC);
            const bf16 *kb = reinterpret_cast<const bf16 *>(&raw);
#pragma unroll
            for (int i = 0; i < VEC; i++)
                kf[i] = __bfloat162float(kb[i]);
        } else {
#pragma unroll
            for (int i = 0; i < VEC; i++)
                kf[i] = 0.0f;
        }
        for (int g = 0; g < group; g++) {
            const float *qg = qs + g * D + gl;
            float s = 0.0f;
#pragma unroll
            for (int i = 0; i < VEC; i++)
                s += qg[i * TG] * kf[i];
#pragma unroll
            for (int o = TG / 2; o > 0; o >>= 1)
                s += __shfl_xor_sync(0xffffffffu, s, o);
            if (valid && gl == 0)
                logits[g * PROBE_DECODE_MAX_PART + (t - t0)] = s;
        }
    }
    __syncthreads();

    /* Softmax over the partition, one warp per head. */
    const int n = t1 - t0;
    for (int g = warp; g < group; g += DEC_WARPS) {
        float *lg = logits + g * PROBE_DECODE_MAX_PART;
        float mx = -INFINITY;
        for (int i = lane; i < n; i += 32)
            mx = fmaxf(mx, lg[i]);
        mx = warp_max(mx);
        float sum = 0.0f;
        for (int i = lane; i < n; i += 32) {
            float w = expf(lg[i] - mx);
            lg[i] = w;
            sum += w;
        }
        sum = warp_sum(sum);
        if (lane == 0) {
            stats[2 * g] = mx;
            stats[2 * g + 1] = sum;
        }
    }
    __syncthreads();

    /* P V: warps take tokens in turn, lanes D/32 consecutive values each,
     * so one warp reads a whole V row per token. */
    constexpr int EPL = D / 32;
    float acc[DEC_MAXG][EPL];
#pragma unroll
    for (int g = 0; g < DEC_MAXG; g++)
#pragma unroll
        for (int e = 0; e < EPL; e++)
            acc[g][e] = 0.0f;
    for (int t = t0 + warp; t < t1; t += DEC_WARPS) {
        int64_t off =
            probe_paged_offset(p.block_table, p.max_blocks, b, t, p.block_size, p.kv_heads, kvh, D);
        float vf[EPL];
        if constexpr (EPL == 4) {
            uint2 raw = *reinterpret_cast<const uint2 *>(Vc + off + lane * EPL);
            const bf16 *vb = reinterpret_cast<const bf16 *>(&raw);
#pragma unroll
            for (int e = 0; e < EPL; e++)
                vf[e] = __bfloat162float(vb[e]);
        } else {
            __nv_bfloat162 raw = *reinterpret_cast<const __nv_bfloat162 *>(Vc + off + lane * EPL);
            vf[0] = __low2float(raw);
            vf[EPL - 1] = __high2float(raw);
        }
#pragma unroll
        for (int g = 0; g < DEC_MAXG; g++) {
            if (g < group) {
                float w = logits[g * PROBE_DECODE_MAX_PART + (t - t0)];
#pragma unroll
                for (int e = 0; e < EPL; e++)
                    acc[g][e] += w * vf[e];
            }
        }
    }
#pragma unroll
    for (int g = 0; g < DEC_MAXG; g++)
        if (g < group)
#pragma unroll
            for (int e = 0; e < EPL; e++)
                red[(warp * group + g) * D + lane * EPL + e] = acc[g][e];
    __syncthreads();

    bf16 *O = static_cast<bf16 *>(p.o);
    for (int idx = threadIdx.x; idx < group * D; idx += blockDim.x) {
        int g = idx / D, e = idx % D;
        float s = 0.0f;
#pragma unroll
        for (int w = 0; w < DEC_WARPS; w++)
            s += red[(w * group + g) * D + e];
        if (nparts == 1) {
            O[(int64_t)b * p.o_stride + (int64_t)(h0 + g) * D + e] =
                __float2bfloat16(s / stats[2 * g + 1]);
        } else {
            int64_t slot = ((int64_t)b * p.heads + h0 + g) * nparts + pi;
            ws_out[slot * D + e] = s;
            if (e == 0) {
                ws_ml[slot * 2] = stats[2 * g];
                ws_ml[slot * 2 + 1] = stats[2 * g + 1];
            }
        }
    }
}

/* Combine the partitions of one (head, sequence): rescale each partial
 * result to the global maximum (cpuref.c does the same). */
__global__ void decode_combine_kernel(ProbeDecodeArgs p, int nparts)
{
    const int h = blockIdx.x, b = blockIdx.y, e = threadIdx.x;
    const int D = p.head_dim;
    const float *ws_out = static_cast<const float *>(p.workspace);
    const float *ws_ml = ws_out + (int64_t)p.batch * p.heads * nparts * D;
    const int64_t base = ((int64_t)b * p.heads + h) * nparts;
    float gmax = -INFINITY;
    for (int i = 0; i < nparts; i++)
        gmax = fmaxf(gmax, ws_ml[(base + i) * 2]);
    float num = 0.0f, den = 0.0f;
    for (int i = 0; i < nparts; i++) {
        float m = ws_ml[(base + i) * 2];
        if (m == -INFINITY)
            continue;
        float w = expf(m - gmax);
        num += w * ws_out[(base + i) * D + e];
        den += w * ws_ml[(base + i) * 2 + 1];
    }
    bf16 *O = static_cast<bf16 *>(p.o);
    O[(int64_t)b * p.o_stride + (int64_t)h * D + e] = __float2bfloat16(den > 0 ? num / den : 0.0f);
}

/* -------------------------------------------------------- elementwise -- */

constexpr int EW_THREADS = 256;

/* One warp per row: a sum of squares, then the scaled write (the second
 * read of the row comes from L1/L2). */
__global__ void rmsnorm_kernel(const bf16 *x, const bf16 *w, bf16 *y, int64_t rows, int width,
                               int rows_per_token, int64_t token_stride, float eps)
{
    const int64_t r = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
    const int lane = threadIdx.x % 32;
    if (r >= rows)
        return;
    const int64_t base =
        (r / rows_per_token) * token_stride + (r % rows_per_token) * (int64_t)width;
    float ss = 0.0f;
    for (int c = lane * VEC; c < width; c += 32 * VEC) {
        uint4 raw = *reinterpret_cast<const uint4 *>(x + base + c);
        const __nv_bfloat162 *v2 = reinterpret_cast<const __nv_bfloat162 *>(&raw);
#pragma unroll
        for (int i = 0; i < VEC / 2; i++) {
            float2 f = __bfloat1622float2(v2[i]);
            ss += f.x * f.x + f.y * f.y;
        }
    }
    ss = warp_sum(ss);
    const float inv = rsqrtf(ss / width + eps);
    for (int c = lane * VEC; c < width; c += 32 * VEC) {
        uint4 raw = *reinterpret_cast<const uint4 *>(x + base + c);
        uint4 wraw = *reinterpret_cast<const uint4 *>(w + c);
        const __nv_bfloat162 *v2 = reinterpret_cast<const __nv_bfloat162 *>(&raw);
        const __nv_bfloat162 *w2 = reinterpret_cast<const __nv_bfloat162 *>(&wraw);
        uint4 out;
        __nv_bfloat162 *o2 = reinterpret_cast<__nv_bfloat162 *>(&out);
#pragma unroll
        for (int i = 0; i < VEC / 2; i++) {
            float2 f = __bfloat1622float2(v2[i]);
            float2 g = __bfloat1622float2(w2[i]);
            o2[i] = __floats2bfloat162_rn(f.x * inv * g.x, f.y * inv * g.y);
        }
        *reinterpret_cast<uint4 *>(y + base + c) = out;
    }
}

/* Neox RoPE: element i pairs with i + d/2; each thread rotates two
 * neighbouring pairs (bf16x2 loads). */
__global__ void rope_kernel(bf16 *qk, int64_t tokens, int64_t token_stride, int heads, int head_dim,
                            const int32_t *pos, const float *cos_sin)
{
    const int half = head_dim / 2;
    const int64_t per_token = (int64_t)heads * (half / 2);
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < tokens * per_token;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = idx / per_token;
        const int rem = (int)(idx % per_token);
        const int h = rem / (half / 2), i = (rem % (half / 2)) * 2;
        bf16 *xh = qk + t * token_stride + (int64_t)h * head_dim;
        const float *cs = cos_sin + (int64_t)pos[t] * head_dim;
        float2 x1 = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162 *>(xh + i));
        float2 x2 = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162 *>(xh + half + i));
        float c0 = cs[i], c1 = cs[i + 1], s0 = cs[half + i], s1 = cs[half + i + 1];
        *reinterpret_cast<__nv_bfloat162 *>(xh + i) =
            __floats2bfloat162_rn(x1.x * c0 - x2.x * s0, x1.y * c1 - x2.y * s1);
        *reinterpret_cast<__nv_bfloat162 *>(xh + half + i) =
            __floats2bfloat162_rn(x2.x * c0 + x1.x * s0, x2.y * c1 + x1.y * s1);
    }
}

__global__ void silu_mul_kernel(const bf16 *in, bf16 *out, int64_t tokens, int width)
{
    const int64_t per_token = width / VEC;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < tokens * per_token;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = idx / per_token;
        const int c = (int)(idx % per_token) * VEC;
        uint4 graw = *reinterpret_cast<const uint4 *>(in + t * 2 * width + c);
        uint4 uraw = *reinterpret_cast<const uint4 *>(in + t * 2 * width + width + c);
        const __nv_bfloat162 *g2 = reinterpret_cast<const __nv_bfloat162 *>(&graw);
        const __nv_bfloat162 *u2 = reinterpret_cast<const __nv_bfloat162 *>(&uraw);
        uint4 res;
        __nv_bfloat162 *o2 = reinterpret_cast<__nv_bfloat162 *>(&res);
#pragma unroll
        for (int i = 0; i < VEC / 2; i++) {
            float2 g = __bfloat1622float2(g2[i]), u = __bfloat1622float2(u2[i]);
            o2[i] = __floats2bfloat162_rn(g.x / (1.0f + __expf(-g.x)) * u.x,
                                          g.y / (1.0f + __expf(-g.y)) * u.y);
        }
        *reinterpret_cast<uint4 *>(out + t * width + c) = res;
    }
}

__global__ void add_kernel(const bf16 *a, const bf16 *b, bf16 *out, int64_t n)
{
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < n / VEC;
         idx += (int64_t)gridDim.x * blockDim.x) {
        uint4 araw = reinterpret_cast<const uint4 *>(a)[idx];
        uint4 braw = reinterpret_cast<const uint4 *>(b)[idx];
        const __nv_bfloat162 *a2 = reinterpret_cast<const __nv_bfloat162 *>(&araw);
        const __nv_bfloat162 *b2 = reinterpret_cast<const __nv_bfloat162 *>(&braw);
        uint4 res;
        __nv_bfloat162 *o2 = reinterpret_cast<__nv_bfloat162 *>(&res);
#pragma unroll
        for (int i = 0; i < VEC / 2; i++)
            o2[i] = __hadd2(a2[i], b2[i]);
        reinterpret_cast<uint4 *>(out)[idx] = res;
    }
}

__global__ void kv_store_kernel(const bf16 *qkv, int64_t token_stride, int64_t k_offset,
                                int64_t v_offset, bf16 *kc, bf16 *vc, const int64_t *slots,
                                int64_t tokens, int kv_heads, int head_dim)
{
    const int64_t per_token = (int64_t)kv_heads * head_dim / VEC;
    for (int64_t idx = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; idx < tokens * per_token;
         idx += (int64_t)gridDim.x * blockDim.x) {
        const int64_t t = idx / per_token;
        const int64_t c = (idx % per_token) * VEC; /* kv head * head_dim + element */
        const bf16 *src = qkv + t * token_stride;
        const int64_t dst = slots[t] * kv_heads * (int64_t)head_dim + c;
        *reinterpret_cast<uint4 *>(kc + dst) = *reinterpret_cast<const uint4 *>(src + k_offset + c);
        *reinterpret_cast<uint4 *>(vc + dst) = *reinterpret_cast<const uint4 *>(src + v_offset + c);
    }
}

__global__ void copy_kernel(uint4 *dst, const uint4 *src, int64_t n)
{
    for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n;
         i += (int64_t)gridDim.x * blockDim.x)
        dst[i] = src[i];
}

bool aligned16(const void *p)
{
    return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

} /* namespace */

extern "C" {

cudaError_t probe_k_init(void)
{
    cudaError_t e;
    e = cudaFuncSetAttribute(prefill_kernel<64>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             (int)FaLayout<64>::BYTES);
    if (e != cudaSuccess)
        return e;
    e = cudaFuncSetAttribute(prefill_kernel<128>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             (int)FaLayout<128>::BYTES);
    if (e != cudaSuccess)
        return e;
    e = cudaFuncSetAttribute(decode_kernel<64>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             (int)decode_smem_bytes(DEC_MAXG, 64));
    if (e != cudaSuccess)
        return e;
    return cudaFuncSetAttribute(decode_kernel<128>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                (int)decode_smem_bytes(DEC_MAXG, 128));
}

cudaError_t probe_k_fill_bf16(void *dst, int64_t n, uint64_t seed, float scale, cudaStream_t s)
{
    fill_bf16_kernel<<<grid_for(n, FILL_THREADS), FILL_THREADS, 0, s>>>(static_cast<bf16 *>(dst), n,
                                                                        seed, scale);
    return cudaGetLastError();
}

cudaError_t probe_k_fill_fp8(void *dst, int64_t n, uint64_t seed, float scale, cudaStream_t s)
{
    fill_fp8_kernel<<<grid_for(n, FILL_THREADS), FILL_THREADS, 0, s>>>(
        static_cast<__nv_fp8_e4m3 *>(dst), n, seed, scale);
    return cudaGetLastError();
}

cudaError_t probe_k_fill_f32(float *dst, int64_t n, uint64_t seed, float scale, cudaStream_t s)
{
    fill_f32_kernel<<<grid_for(n, FILL_THREADS), FILL_THREADS, 0, s>>>(dst, n, seed, scale);
    return cudaGetLastError();
}

cudaError_t probe_k_prefill(const ProbePrefillArgs *a, cudaStream_t s)
{
    if (a->chunk < 1 || a->ctx < 0 || a->kv_heads < 1 || a->heads % a->kv_heads != 0 ||
        a->q_stride % VEC || a->kv_stride % VEC || a->o_stride % 2 || !aligned16(a->q) ||
        !aligned16(a->k) || !aligned16(a->v) || a->heads > 65535)
        return cudaErrorInvalidValue;
    dim3 grid((a->chunk + FA_BR - 1) / FA_BR, a->heads);
    if (a->head_dim == 128)
        prefill_kernel<128><<<grid, FA_WARPS * 32, FaLayout<128>::BYTES, s>>>(*a);
    else if (a->head_dim == 64)
        prefill_kernel<64><<<grid, FA_WARPS * 32, FaLayout<64>::BYTES, s>>>(*a);
    else
        return cudaErrorInvalidValue;
    return cudaGetLastError();
}

cudaError_t probe_k_decode(const ProbeDecodeArgs *a, cudaStream_t s)
{
    if (a->batch < 1 || a->kv_heads < 1 || a->heads % a->kv_heads != 0 ||
        a->heads / a->kv_heads > DEC_MAXG || a->max_seq_len < 1 || a->block_size < 1 ||
        a->kv_heads > 65535 || a->batch > 65535 || !aligned16(a->k_cache) ||
        !aligned16(a->v_cache) || (a->head_dim != 64 && a->head_dim != 128))
        return cudaErrorInvalidValue;
    const int part = probe_decode_partition(a->batch, a->kv_heads, a->max_seq_len, a->num_sms);
    const int nparts = (a->max_seq_len + part - 1) / part;
    const int group = a->heads / a->kv_heads;
    dim3 grid(nparts, a->kv_heads, a->batch);
    size_t smem = decode_smem_bytes(group, a->head_dim);
    if (a->head_dim == 128)
        decode_kernel<128><<<grid, DEC_WARPS * 32, smem, s>>>(*a, part);
    else
        decode_kernel<64><<<grid, DEC_WARPS * 32, smem, s>>>(*a, part);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess || nparts == 1)
        return e;
    decode_combine_kernel<<<dim3(a->heads, a->batch), a->head_dim, 0, s>>>(*a, nparts);
    return cudaGetLastError();
}

cudaError_t probe_k_rmsnorm(const void *x, const void *w, void *y, int64_t rows, int width,
                            int rows_per_token, int64_t token_stride, float eps, cudaStream_t s)
{
    if (rows < 1 || width % VEC || rows_per_token < 1 || token_stride % VEC || !aligned16(x) ||
        !aligned16(w) || !aligned16(y))
        return cudaErrorInvalidValue;
    const int rows_per_block = EW_THREADS / 32;
    int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
    if (blocks > 2147483647LL)
        return cudaErrorInvalidValue;
    rmsnorm_kernel<<<(unsigned)blocks, EW_THREADS, 0, s>>>(
        static_cast<const bf16 *>(x), static_cast<const bf16 *>(w), static_cast<bf16 *>(y), rows,
        width, rows_per_token, token_stride, eps);
    return cudaGetLastError();
}

cudaError_t probe_k_rope(void *qk, int64_t tokens, int64_t token_stride, int heads, int head_dim,
                         const int32_t *pos, const float *cos_sin, cudaStream_t s)
{
    if (tokens < 1 || head_dim % 4 || token_stride % 2)
        return cudaErrorInvalidValue;
    int64_t n = tokens * heads * (head_dim / 4);
    rope_kernel<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(
        static_cast<bf16 *>(qk), tokens, token_stride, heads, head_dim, pos, cos_sin);
    return cudaGetLastError();
}

cudaError_t probe_k_silu_mul(const void *in, void *out, int64_t tokens, int width, cudaStream_t s)
{
    if (tokens < 1 || width % VEC || !aligned16(in) || !aligned16(out))
        return cudaErrorInvalidValue;
    int64_t n = tokens * (width / VEC);
    silu_mul_kernel<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(
        static_cast<const bf16 *>(in), static_cast<bf16 *>(out), tokens, width);
    return cudaGetLastError();
}

cudaError_t probe_k_add(const void *a, const void *b, void *out, int64_t n, cudaStream_t s)
{
    if (n < 1 || n % VEC || !aligned16(a) || !aligned16(b) || !aligned16(out))
        return cudaErrorInvalidValue;
    add_kernel<<<grid_for(n / VEC, EW_THREADS), EW_THREADS, 0, s>>>(
        static_cast<const bf16 *>(a), static_cast<const bf16 *>(b), static_cast<bf16 *>(out), n);
    return cudaGetLastError();
}

cudaError_t probe_k_kv_store(const void *qkv, int64_t token_stride, int64_t k_offset,
                             int64_t v_offset, void *k_cache, void *v_cache, const int64_t *slots,
                             int64_t tokens, int kv_heads, int head_dim, cudaStream_t s)
{
    if (tokens < 1 || ((int64_t)kv_heads * head_dim) % VEC || token_stride % VEC ||
        k_offset % VEC || v_offset % VEC || !aligned16(qkv) || !aligned16(k_cache) ||
        !aligned16(v_cache))
        return cudaErrorInvalidValue;
    int64_t n = tokens * kv_heads * head_dim / VEC;
    kv_store_kernel<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(
        static_cast<const bf16 *>(qkv), token_stride, k_offset, v_offset,
        static_cast<bf16 *>(k_cache), static_cast<bf16 *>(v_cache), slots, tokens, kv_heads,
        head_dim);
    return cudaGetLastError();
}

cudaError_t probe_k_copy(void *dst, const void *src, int64_t bytes, cudaStream_t s)
{
    if (bytes < 16 || bytes % 16 || !aligned16(dst) || !aligned16(src))
        return cudaErrorInvalidValue;
    int64_t n = bytes / 16;
    copy_kernel<<<grid_for(n, EW_THREADS), EW_THREADS, 0, s>>>(static_cast<uint4 *>(dst),
                                                               static_cast<const uint4 *>(src), n);
    return cudaGetLastError();
}

} /* extern "C" */
