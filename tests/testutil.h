/* Helpers shared by the Check suites. */
#ifndef SV_TESTUTIL_H
#define SV_TESTUTIL_H

#include <check.h>
#include <glib.h>

/* Absolute path of a file under tests/ (transfer full). */
char *sv_test_path(const char *relative);
/* Absolute path of a file under the source root (transfer full). */
char *sv_test_src_path(const char *relative);
/* Write @text to a fresh temporary file with @suffix; returns its path (transfer full). */
char *sv_test_write_tmp(const char *text, const char *suffix);

#endif
