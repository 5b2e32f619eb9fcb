/* GEMMs through cuBLASLt (see gemm.h). */
#include "gemm.h"

#include "timer.h"

#include <cublasLt.h>

#define WORKSPACE_BYTES (32u << 20)

struct ProbeGemm {
    cublasLtHandle_t lt; /* library handle */
    void *workspace;     /* device scratch shared by every GEMM (one stream) */
};

struct ProbeGemmOp {
    ProbeGemm *g;                   /* (not owned) */
    cublasLtMatmulDesc_t desc;      /* operation */
    cublasLtMatrixLayout_t a, b, c; /* W (K x N, op T), X (K x M), Y (N x M) */
    cublasLtMatmulHeuristicResult_t algo;
};

static gboolean lt_fail(GError **error, const char *what, cublasStatus_t st)
{
    g_set_error(error, PROBE_ERROR, PROBE_ERROR_CUDA, "%s: cuBLAS status %d", what, (int)st);
    return FALSE;
}

#define LT(call, error)                                                                            \
    do {                                                                                           \
        cublasStatus_t st_ = (call);                                                               \
        if (st_ != CUBLAS_STATUS_SUCCESS) {                                                        \
            lt_fail(error, #call, st_);                                                            \
            goto fail;                                                                             \
        }                                                                                          \
    } while (0)

ProbeGemm *probe_gemm_new(GError **error)
{
    ProbeGemm *g = g_new0(ProbeGemm, 1);
    LT(cublasLtCreate(&g->lt), error);
    cudaError_t e = cudaMalloc(&g->workspace, WORKSPACE_BYTES);
    if (e != cudaSuccess) {
        probe_cuda_fail(error, "cudaMalloc(cuBLASLt workspace)", e);
        goto fail;
    }
    return g;
fail:
    probe_gemm_free(g);
    return NULL;
}

void probe_gemm_free(ProbeGemm *g)
{
    if (g == NULL)
        return;
    if (g->workspace != NULL)
        cudaFree(g->workspace);
    if (g->lt != NULL)
        cublasLtDestroy(g->lt);
    g_free(g);
}

size_t probe_gemm_version(void)
{
    return cublasLtGetVersion();
}

ProbeGemmOp *probe_gemm_op_new(ProbeGemm *g, ProbeGemmDtype dtype, int64_t m, int64_t n, int64_t k,
                               GError **error)
{
    ProbeGemmOp *op = g_new0(ProbeGemmOp, 1);
    op->g = g;
    cublasLtMatmulPreference_t pref = NULL;
    cudaDataType_t in = dtype == PROBE_DT_FP8 ? CUDA_R_8F_E4M3 : CUDA_R_16BF;
    cublasOperation_t ta = CUBLAS_OP_T, tb = CUBLAS_OP_N;
    LT(cublasLtMatmulDescCreate(&op->desc, CUBLAS_COMPUTE_32F, CUDA_R_32F), error);
    LT(cublasLtMatmulDescSetAttribute(op->desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta),
       error);
    LT(cublasLtMatmulDescSetAttribute(op->desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb),
       error);
    LT(cublasLtMatrixLayoutCreate(&op->a, in, (uint64_t)k, (uint64_t)n, k), error);
    LT(cublasLtMatrixLayoutCreate(&op->b, in, (uint64_t)k, (uint64_t)m, k), error);
    LT(cublasLtMatrixLayoutCreate(&op->c, CUDA_R_16BF, (uint64_t)n, (uint64_t)m, n), error);
    LT(cublasLtMatmulPreferenceCreate(&pref), error);
    size_t ws = WORKSPACE_BYTES;
    LT(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws,
                                            sizeof ws),
       error);
    int found = 0;
    cublasStatus_t st = cublasLtMatmulAlgoGetHeuristic(g->lt, op->desc, op->a, op->b, op->c, op->c,
                                                       pref, 1, &op->algo, &found);
    if (st != CUBLAS_STATUS_SUCCESS && st != CUBLAS_STATUS_NOT_SUPPORTED) {
        lt_fail(error, "cublasLtMatmulAlgoGetHeuristic", st);
        goto fail;
    }
    if (st == CUBLAS_STATUS_NOT_SUPPORTED || found < 1) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_UNSUPPORTED,
                    "cuBLASLt has no %s algorithm for m=%" G_GINT64_FORMAT " n=%" G_GINT64_FORMAT
                    " k=%" G_GINT64_FORMAT,
                    probe_gemm_dtype_name(dtype), (gint64)m, (gint64)n, (gint64)k);
        goto fail;
    }
    cublasLtMatmulPreferenceDestroy(pref);
    return op;
fail:
    if (pref != NULL)
        cublasLtMatmulPreferenceDestroy(pref);
    probe_gemm_op_free(op);
    return NULL;
}

gboolean probe_gemm_op_run(ProbeGemmOp *op, const void *w, const void *x, void *y,
                           cudaStream_t stream, GError **error)
{
    const float alpha = 1.0f, beta = 0.0f;
    cublasStatus_t st =
        cublasLtMatmul(op->g->lt, op->desc, &alpha, w, op->a, x, op->b, &beta, y, op->c, y, op->c,
                       &op->algo.algo, op->g->workspace, WORKSPACE_BYTES, stream);
    if (st != CUBLAS_STATUS_SUCCESS)
        return lt_fail(error, "cublasLtMatmul", st);
    return TRUE;
}

void probe_gemm_op_free(ProbeGemmOp *op)
{
    if (op == NULL)
        return;
    if (op->a != NULL)
        cublasLtMatrixLayoutDestroy(op->a);
    if (op->b != NULL)
        cublasLtMatrixLayoutDestroy(op->b);
    if (op->c != NULL)
        cublasLtMatrixLayoutDestroy(op->c);
    if (op->desc != NULL)
        cublasLtMatmulDescDestroy(op->desc);
    g_free(op);
}
