/* GEMMs through cuBLASLt, laid out as PyTorch's linear layers are:
 * Y[M, N] = X[M, K] W[N, K]^T, row-major, which is cuBLASLt's column-major
 * "TN" problem (N x M) = W^T-op (N x K) times X (K x M) -- also the only
 * layout fp8 accepts on Hopper. bf16 in/out with fp32 accumulation; fp8
 * e4m3 in, bf16 out, unit scales. The algorithm is cuBLASLt's first
 * heuristic choice, as PyTorch (and so vLLM) takes it. */
#ifndef PROBE_GEMM_H
#define PROBE_GEMM_H

#include "plan.h"

#include <cuda_runtime_api.h>

G_BEGIN_DECLS

typedef struct ProbeGemm ProbeGemm;
typedef struct ProbeGemmOp ProbeGemmOp;

/* A cuBLASLt handle and a 32 MiB workspace. (transfer full) */
ProbeGemm *probe_gemm_new(GError **error);
void probe_gemm_free(ProbeGemm *g);
/* cublasLtGetVersion(), e.g. 130000. */
size_t probe_gemm_version(void);

/* Describe Y[m,n] = X[m,k] W[n,k]^T in @dtype and pick its algorithm.
 * Errors: PROBE_ERROR_UNSUPPORTED when cuBLASLt has no algorithm for it
 * (fp8 wants K a multiple of 16), PROBE_ERROR_CUDA otherwise. */
ProbeGemmOp *probe_gemm_op_new(ProbeGemm *g, ProbeGemmDtype dtype, int64_t m, int64_t n, int64_t k,
                               GError **error);
/* Enqueue one GEMM (capturable). */
gboolean probe_gemm_op_run(ProbeGemmOp *op, const void *w, const void *x, void *y,
                           cudaStream_t stream, GError **error);
void probe_gemm_op_free(ProbeGemmOp *op);

G_END_DECLS

#endif /* PROBE_GEMM_H */
