/* Random-number streams. Each simulation component draws from its own GSL
 * generator seeded from (run seed, stream id), so adding a component or
 * drawing more numbers in one never shifts the sequence another sees. */
#ifndef SV_RNG_H
#define SV_RNG_H

#include "core/common.h"
#include <gsl/gsl_rng.h>

G_BEGIN_DECLS

/* Stream ids, fixed forever once published: renumbering changes every result. */
enum {
    SV_STREAM_ARRIVALS = 1,
    SV_STREAM_INPUT_LENGTHS = 2,
    SV_STREAM_OUTPUT_LENGTHS = 3,
    SV_STREAM_ROUTER = 4,
    SV_STREAM_TRACE_SAMPLE = 5,
    /* Sources of prefix sharing (workload/prefix-gen.c); numbered apart so
     * that streams added meanwhile elsewhere cannot take the same ids. */
    SV_STREAM_PREFIX_CHOICE = 16,
    SV_STREAM_SESSIONS = 17,
};

/* A Mersenne-Twister generator seeded by a SplitMix64 mix of @seed and
 * @stream_id. (transfer full) free with gsl_rng_free. */
gsl_rng *sv_rng_new(uint64_t seed, uint32_t stream_id);

G_END_DECLS

#endif /* SV_RNG_H */
