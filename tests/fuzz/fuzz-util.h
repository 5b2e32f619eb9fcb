/* Shared helpers of the fuzz harnesses (tests/fuzz/fuzz_*.c). Every loader
 * under test reads a named file, so a harness writes the fuzzer's bytes into
 * a private temporary folder, made once per process and removed at exit. A
 * harness is also built without libFuzzer, linked with replay-main.c, to
 * replay the seed corpus and the crash regressions as an ordinary test. */
#ifndef SV_FUZZ_UTIL_H
#define SV_FUZZ_UTIL_H

#include "core/common.h"

#include <stddef.h>
#include <stdint.h>

/* libFuzzer's entry points (replay-main.c calls them the same way). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Make the process fit for fuzzing: GLib criticals and warnings abort (a
 * g_return_if_fail tripped by bad input is a bug), nothing is printed by
 * GLib's default handlers, and the GSL error handler is off as in main(). */
void sv_fuzz_setup(void);

/* Write @size bytes of @data to @name inside the process's temporary folder
 * (created on first use) and return its path. @name may contain one '/'
 * level (a sub-folder, created too). (transfer none: valid until the next
 * call with the same name) */
const char *sv_fuzz_write(const char *name, const uint8_t *data, size_t size);

/* The process's temporary folder. (transfer none) */
const char *sv_fuzz_dir(void);

/* Remove every file sv_fuzz_write put under sub-folder @sub (not the folder). */
void sv_fuzz_clear(const char *sub);

#endif
