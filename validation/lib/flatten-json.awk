# Flatten servesim's summary.json (one key per line, as servesim writes it)
# into "dotted.key value" lines, e.g. "itl_s.p50 0.0079". Only objects and
# scalars: arrays are skipped. POSIX awk (mawk and gawk alike).
{
    line = $0
    sub(/^[ \t]+/, "", line)
    if (arr > 0) { # inside an array: only follow its brackets
        opens = gsub(/\[/, "[", line)
        closes = gsub(/\]/, "]", line)
        arr += opens - closes
        next
    }
    if (line ~ /^}/) {
        if (depth > 0)
            depth--
        next
    }
    if (line !~ /^"/)
        next
    key = line
    sub(/^"/, "", key)
    sub(/".*$/, "", key)
    rest = line
    sub(/^"[^"]*"[ \t]*:[ \t]*/, "", rest)
    path = key
    for (i = depth; i >= 1; i--)
        path = stack[i] "." path
    if (rest ~ /^{/) {
        if (rest !~ /}/)
            stack[++depth] = key
        next
    }
    if (rest ~ /^\[/) {
        opens = gsub(/\[/, "[", rest)
        closes = gsub(/\]/, "]", rest)
        arr = opens - closes
        next
    }
    sub(/,[ \t]*$/, "", rest)
    gsub(/"/, "", rest)
    print path, rest
}
