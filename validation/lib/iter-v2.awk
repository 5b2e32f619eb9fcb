# ML.ENERGY v2's throughput and Avg TPOT of a servesim run, from its
# iteration events (run --trace-events; one "X" event per iteration on
# thread 1 of replica 1, its batch in args; per stage under PP). ML.ENERGY v2 derived both from
# vLLM 0.5.4's per-iteration stats (ml-energy/benchmark,
# benchmark/llm_text_generation/chat/scripts/aggregate_leaderboard_data.py):
#   steady state = iterations before the first one (from the third on) with
#                  no request waiting; Token tput = tokens generated in them
#                  (decode tokens plus the first token of each prefill) over
#                  their time;
#   Avg TPOT     = mean over all iterations with decode tokens of the mean,
#                  over the iteration's decoding sequences, of the time since
#                  that sequence's previous token.
# -v want=tput prints tokens/s, -v want=tpot milliseconds. POSIX awk.

function num(key,    s) {
    if (!match($0, "\"" key "\":-?[0-9.]+"))
        return 0
    s = substr($0, RSTART, RLENGTH)
    sub(/^"[^"]*":/, "", s)
    return s + 0
}

/"ph":"X"/ && /"tid":1,/ && /"args":\{"seqs":/ && /"pid":1,/ {
    n++
    t0[n] = num("ts") / 1e6
    t1[n] = t0[n] + num("dur") / 1e6
    pre[n] = num("prefill_seqs")
    dec[n] = num("decode_seqs")
    wait[n] = num("waiting")
}

# A pipelined replica writes one slice per stage of each micro-batch (all
# of a batch's stages together, at its launch): the iteration runs from its
# start on stage 0 to its end on the last stage.
/"ph":"X"/ && /"args":\{"stage":/ && /"pid":1,/ {
    if (num("stage") == 0) {
        n++
        batch[n] = num("batch")
        t0[n] = num("ts") / 1e6
        t1[n] = t0[n] + num("dur") / 1e6
        pre[n] = num("prefill_seqs")
        dec[n] = num("decode_seqs")
        wait[n] = num("waiting")
    } else if (n > 0 && num("batch") == batch[n]) {
        e = (num("ts") + num("dur")) / 1e6
        if (e > t1[n])
            t1[n] = e
    }
}

END {
    if (n < 1)
        exit 1
    if (want == "tput") {
        end = n + 1
        for (i = 3; i <= n; i++)
            if (wait[i] == 0) { end = i; break }
        tokens = 0
        for (i = 1; i < end; i++)
            tokens += dec[i] + pre[i]
        span = (end <= n ? t0[end] : t1[n]) - t0[1]
        if (span <= 0)
            exit 1
        printf "%.6g\n", tokens / span
        exit 0
    }
    # Avg TPOT. Sequences that decoded in the last decode iteration wait
    # from its end; sequences whose prompt ran since then, from the end of
    # their prefill iteration (prefill-only iterations carry no decode).
    last = -1; npend = 0; sum = 0; cnt = 0
    for (i = 1; i <= n; i++) {
        if (dec[i] > 0) {
            fresh = 0; acc = 0
            for (j = 1; j <= npend; j++) {
                fresh += pcount[j]
                acc += pcount[j] * (t1[i] - pend[j])
            }
            old = dec[i] - fresh
            if (old < 0) old = 0
            if (last >= 0)
                acc += old * (t1[i] - last)
            else
                acc += old * (t1[i] - t0[i])
            sum += acc / (old + fresh > 0 ? old + fresh : 1)
            cnt++
            last = t1[i]; npend = 0
        }
        if (pre[i] > 0) {
            pend[++npend] = t1[i]
            pcount[npend] = pre[i]
        }
    }
    if (cnt == 0)
        exit 1
    printf "%.6g\n", sum / cnt * 1000
}
