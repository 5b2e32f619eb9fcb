/* Helpers shared by the Check suites. */
#ifndef SV_TESTUTIL_H
#define SV_TESTUTIL_H

#include <check.h>
#include <glib.h>

#include "serve/sim.h"

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

#endif
