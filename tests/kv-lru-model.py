#!/usr/bin/env python3
"""Independent model of servesim's prefix cache, for tests/check_kv.c
(test_mooncake_lru_model): replays the first N rows of a Mooncake trace one
request at a time (arrivals far enough apart that requests never overlap)
on one replica under vLLM v1's step rules, with an LRU cache of 512-token
units of 32 16-token blocks, and prints the prefix-cache counters the engine
must report. Written apart from the C code, in the plainest way (dicts and
an OrderedDict), so that the two agreeing means something.

    python3 tests/kv-lru-model.py traces/mooncake_conversation.jsonl 2000 4000
"""
import json
import sys
from collections import OrderedDict

BLOCK = 16          # engine.block_size
UNIT = 512          # Mooncake hash block (workload.hash_block_tokens)
UNIT_BLOCKS = UNIT // BLOCK
BUDGET = 8192       # max_num_batched_tokens
MAX_LEN = 40960     # max_model_len of the test's model


def blocks_for(tokens):
    return (tokens + BLOCK - 1) // BLOCK


def main():
    path, n_rows, total = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    rows = [json.loads(line) for line in open(path) if line.strip()][:n_rows]
    unused = total            # free blocks no unit holds
    lru = OrderedDict()       # unreferenced cached units, oldest first
    referenced = set()        # units some request holds
    q_tokens = h_tokens = q_blocks = h_blocks = evicted = 0

    def alloc(n):
        nonlocal unused, evicted
        assert n <= unused + UNIT_BLOCKS * len(lru)
        while unused < n:
            lru.popitem(last=False)
            unused += UNIT_BLOCKS
            evicted += UNIT_BLOCKS
        unused -= n

    for r in rows:
        inp, out, ids = r["input_length"], r["output_length"], r.get("hash_ids", [])
        if inp + out > MAX_LEN or blocks_for(inp + out - 1) > total:
            continue  # rejected at arrival: never touches the cache
        keys = [tuple(ids[: j + 1]) for j in range(len(ids))]
        max_units = min(inp, len(ids) * UNIT) // UNIT
        known = inp
        limit = min(max_units, (known - 1) // UNIT)
        hits = 0
        while hits < limit and keys[hits] in lru:
            hits += 1
        q_tokens += known
        h_tokens += hits * UNIT
        q_blocks += blocks_for(known)
        h_blocks += hits * UNIT_BLOCKS
        for j in range(hits):
            del lru[keys[j]]
            referenced.add(keys[j])
        cached = hits
        computed = hits * UNIT
        blocks = hits * UNIT_BLOCKS
        generated = 0
        first = True
        while True:
            n = min(known - computed, BUDGET) if not first else min(min(known, BUDGET), known - computed)
            first = False
            need = blocks_for(computed + n) - blocks
            if need > 0:
                alloc(need)
                blocks += need
            computed += n
            full = min(max_units, computed // UNIT)
            while cached < full:
                k = keys[cached]
                if k in lru:  # computed again by this request: share the cached copy
                    del lru[k]
                    unused += UNIT_BLOCKS
                referenced.add(k)
                cached += 1
            if computed == known:
                generated += 1
                known += 1
                if generated == out:
                    break
        unused += blocks - cached * UNIT_BLOCKS
        for j in reversed(range(cached)):
            referenced.discard(keys[j])
            lru[keys[j]] = True
    print(f"queries_tokens {q_tokens} hits_tokens {h_tokens} queries_blocks {q_blocks} "
          f"hits_blocks {h_blocks} evicted_blocks {evicted}")


main()
