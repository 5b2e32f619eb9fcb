/* Helpers shared by the Check suites. */
#ifndef SV_TESTUTIL_H
#define SV_TESTUTIL_H

#include <check.h>
#include <glib.h>

#include "hw/hw.h"
#include "metrics/metrics.h"
#include "model/model.h"
#include "serve/sim.h"
#include "workload/workload.h"

/* Absolute path of a file under tests/ (transfer full). */
char *sv_test_path(const char *relative);
/* Absolute path of a file under the source root (transfer full). */
char *sv_test_src_path(const char *relative);
/* Write @text to a fresh temporary file with @suffix; returns its path (transfer full). */
char *sv_test_write_tmp(const char *text, const char *suffix);

/* The constant-cost iteration model of the hand-computed timelines:
 * 1 ms + 10 us per scheduled token (prefill tokens + decode sequences). */
SvTimeNs sv_test_toy_time(void *ctx, const SvBatchShape *shape);
/* Assert the balances every finished run keeps: KV blocks allocated = freed,
 * events scheduled = processed + cancelled with none pending, and arrived =
 * completed + rejected with none in flight. */
void sv_test_check_balance(SvSim *sim);

/* A study of toy parts for hand-computed timelines: one pool of @replicas
 * replicas of a toy model on toy hardware (TP = PP = EP = 1), @sched with
 * vLLM's engine defaults (chunked prefill except for orca and static, as
 * the config loader has it), serving the requests of @trace_csv at their
 * trace times. Tests adjust cfg before running it. */
typedef struct {
    SvConfig cfg;
    SvModel model;
    SvHw hw;
    SvPoolConfig pool;
    SvTrace *trace;
    char *trace_path; /* the temporary trace file, removed by the free */
} SvTestStudy;

SvTestStudy *sv_test_study_new(const char *trace_csv, SvSchedulerKind sched, int replicas);
void sv_test_study_free(SvTestStudy *st);
/* Run @st under sv_test_toy_time with @kv_blocks blocks per replica to the
 * end, and check the balances (sv_test_check_balance). */
SvSim *sv_test_study_run(SvTestStudy *st, int64_t kv_blocks);
/* The record of request @id (records are kept in finish order). */
const SvRequestRecord *sv_test_record_of(SvSim *sim, int64_t id);

/* One request's expected timeline, ns. */
typedef struct {
    SvTimeNs scheduled_ns; /* first time in a batch */
    SvTimeNs first_ns;     /* first token */
    SvTimeNs finish_ns;    /* last token */
    int preemptions;
} SvTestExpect;

/* Assert that requests 0..n-1 all completed with exactly @want's times. */
void sv_test_check_timeline(SvSim *sim, const SvTestExpect *want, int n);

/* A made-up model of @num_layers layers: hidden 1024, 16 heads of 64, 4 KV
 * heads, gated MLP 4096, untied vocabulary of 1000, bf16 (2 layers hold
 * 32,461,824 parameters). Strings are static. */
SvModel sv_test_tiny_model(int num_layers);

/* A made-up device with round numbers: 100 TFLOP/s bf16 and fp16, 200 fp8,
 * at 50 % efficiency; 1 TB/s at 100 %; 80 GB; 8 per node on a 100 GB/s,
 * 5 µs fabric, 10 GB/s, 20 µs between nodes; no launch or host overhead. */
SvHw sv_test_tiny_hw(void);

#endif
