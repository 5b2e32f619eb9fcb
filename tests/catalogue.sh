#!/usr/bin/env bash
# The bad-input catalogue: every fixture under tests/fixtures/ (each a bad
# input that must exit 2 with one line and no output files; run-fixtures.sh
# checks that) as a Markdown table per kind of input, with what is wrong
# (the fixture's description comment) and what servesim says, plus a
# coverage matrix of the kinds of mistake every input kind must survive.
#   bash tests/catalogue.sh [SERVESIM] > docs/bad-input.md
# With SERVESIM each fixture is run and the table shows its whole message;
# without, the fixture's `# expect:` text (the part the test requires).
# --check makes it exit 1 when an applicable cell of the matrix is empty.
set -u
cd "$(dirname "$0")/.."
check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
bin=${1:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The input kind a fixture exercises, from where it lives and its name.
kind_of() {
  case $1 in
  config/set-* | cli/* | calib/cli-*) echo cli ;;
  model/*) echo model ;;
  hw/* | calib/section-*) echo hw ;;
  trace/* | kv/mooncake-* | tenants/tenant-trace-bad.yaml) echo trace ;;
  calib/*) echo calib ;;
  plot/*) echo plot ;;
  *) echo study ;;
  esac
}
kinds=(study model hw trace calib cli plot)
declare -A title=(
  [study]="Study YAML"
  [model]="Model YAML and Hugging Face config.json"
  [hw]="Hardware profile (including calibrated tables)"
  [trace]="Request trace (servesim CSV, Azure 2023 CSV, Mooncake JSON Lines, Vidur CSV)"
  [calib]="Profiling CSV (servesim calibrate: Vidur profiles, probe CSVs)"
  [cli]="Command line (options, --set, --batch, arguments)"
  [plot]="Run and search outputs read back (servesim plot)"
)

# One line per fixture: kind, path, description, message.
: >"$tmp/rows"
while IFS= read -r f; do
  rel=${f#tests/fixtures/}
  kind=$(kind_of "$rel")
  expect=$(sed -n 's/^# expect: //p' "$f" | head -1 | tr -d '\000')
  # The description: the first comment that is not a directive.
  desc=$(grep -a -m1 -E '^# ' "$f" | grep -avE '^# (expect|args|command):|^# raw$' || true)
  [ -z "$desc" ] && desc=$(grep -aE '^# ' "$f" | grep -avE '^# (expect|args|command):|^# raw$' | head -1)
  desc=${desc#\# }
  # Generic descriptions of "a study naming a bad file": the file says more.
  case $desc in
  "A study whose"* | "Bad calibration input"* | "")
    desc="$(basename "$rel" .yaml | tr '-' ' ')" ;;
  esac
  msg=$expect
  if [ -n "$bin" ]; then
    args=$(sed -n 's/^# args: //p' "$f" | head -1)
    verb=$(sed -n 's/^# command: //p' "$f" | head -1)
    verb=${verb:-run}
    out="$tmp/out"
    rm -rf "$out"
    if [ "$verb" = run ] && ! grep -q '^# raw$' "$f"; then
      (cd "$(dirname "$f")" && eval "\"$bin\" run \"$(basename "$f")\" -o \"$out\" $args") \
        >/dev/null 2>"$tmp/err" </dev/null
    else
      (cd "$(dirname "$f")" && eval "\"$bin\" $verb $args") >/dev/null 2>"$tmp/err" </dev/null
    fi
    # Paths as a user in the fixture's folder would see them, minus ../..
    msg=$(head -1 "$tmp/err" | sed -e 's/^servesim: //' -e "s|$tmp/out|DIR|g" \
      -e "s|$PWD/||g" -e 's|\(\.\./\)*data/[a-z-]*/||g' -e 's|/tmp/[A-Za-z0-9._-]*|TMP|g')
  fi
  printf '%s\t%s\t%s\t%s\n' "$kind" "$rel" "$desc" "$msg" >>"$tmp/rows"
done < <(find tests/fixtures -name '*.yaml' | sort)

# The coverage matrix: kinds of mistake (regular expressions over the
# fixture's name, or its message for suggestions) and the input kinds they
# apply to.
items=(syntax empty binary type nan sign absurd divide context unknown unsorted negtime neglen missing ragged)
declare -A item_title=(
  [syntax]="YAML/JSON syntax errors"
  [empty]="Empty file"
  [binary]="Binary file, invalid UTF-8"
  [type]="Wrong types"
  [nan]="NaN or infinity"
  [sign]="Negative or zero rates, lengths, counts"
  [absurd]="Absurdly large counts"
  [divide]="TP/PP/EP that do not divide the model"
  [context]="Context above the model's maximum"
  [unknown]="Unknown names, with a suggestion"
  [unsorted]="Unsorted times"
  [negtime]="Negative times"
  [neglen]="Negative lengths"
  [missing]="Missing columns or keys"
  [ragged]="Ragged rows"
)
declare -A item_re=(
  [syntax]='syntax|bad-indent|missing-comma|unclosed|not-json|unterminated|alias|anchor|two-documents|custom-tag|complex-key|trailing-text|duplicate-key'
  [empty]='(^|[-/])empty(-profile|-model|-timeseries)?$|header-only|blank|no-csv|no-rows'
  [binary]='binary|utf8'
  [type]='type|string-number|map-for|not-a-map|not-map|not-list|not-bool|not-number|not-object|scalar-top|quoted-number|fraction|bad-bool|non-numeric|not-a-number|string-length|pools-not-list|bad-number'
  [nan]='(^|[-/])(nan|inf)(-|$)'
  [sign]='negative|zero'
  [absurd]='absurd|huge|too-many|too-large|rate-duration|sample-interval-tiny|classes-too-many'
  [divide]='not-dividing|over-layers|heads-tp|kv-heads|ep-not|tp-not|dp-on-dense'
  [context]='longer-than|too-long|max-model-len|context-above|min-too-long'
  [unknown]='MESSAGE:did you mean'
  [unsorted]='unsorted|backwards|lines-unsorted'
  [negtime]='negative-time'
  [neglen]='negative-length|negative-heads|negative-vocab'
  [missing]='missing-column|missing-key|missing-meta|missing-(model|hardware|vocab|memory|power|peak)|bad-header'
  [ragged]='ragged|extra-field|bad-width'
)
# Where a kind of mistake cannot happen, the cell says n/a.
declare -A applies=(
  [syntax]="study model hw trace"
  [empty]="study model hw trace calib plot"
  [binary]="study model hw trace calib cli"
  [type]="study model hw trace calib cli plot"
  [nan]="study model hw trace calib cli"
  [sign]="study model hw trace calib cli"
  [absurd]="study model hw trace calib cli"
  [divide]="study model calib cli"
  [context]="study cli"
  [unknown]="study model hw trace calib cli"
  [unsorted]="hw trace"
  [negtime]="trace calib"
  [neglen]="model trace"
  [missing]="study model hw trace calib plot"
  [ragged]="trace calib plot"
)

matches() { # matches ITEM -> the matching rows
  local re=${item_re[$1]}
  if [[ $re == MESSAGE:* ]]; then
    awk -F'\t' -v s="${re#MESSAGE:}" 'index($4, s) > 0' "$tmp/rows"
  else
    awk -F'\t' -v re="$re" '{ n = $2; sub(/\.yaml$/, "", n); if (n ~ re) print }' "$tmp/rows"
  fi
}

echo "# Bad input: what servesim refuses and what it says"
echo
echo "<!-- Generated by \`bash tests/catalogue.sh BUILD/servesim > docs/bad-input.md\` from"
echo "the fixtures in tests/fixtures/: do not edit by hand. -->"
echo
echo "Every case below is a fixture under \`tests/fixtures/\` that the test suite runs"
echo "(\`tests/run-fixtures.sh\`): servesim must exit with status 2, print exactly one"
echo "line on stderr, starting \`servesim: \` and naming the file (with line and column"
echo "where the input has them), print nothing on stdout, and leave no output file."
echo "Never a crash, a hang or a silently wrong result: the fuzz harnesses"
echo "(\`tests/fuzz/\`) look for those on random inputs."
echo
total=$(wc -l <"$tmp/rows")
echo "$total cases. Paths in the messages are shown relative to the file's folder."
echo
echo "## Coverage"
echo
echo "Cases per kind of mistake and kind of input (n/a: the mistake cannot be"
echo "made in that input)."
echo
printf '| mistake |'
for k in "${kinds[@]}"; do printf ' %s |' "$k"; done
printf '\n|---|'
for _ in "${kinds[@]}"; do printf '%s' '---:|'; done
printf '\n'
gaps=0
for it in "${items[@]}"; do
  printf '| %s |' "${item_title[$it]}"
  matches "$it" >"$tmp/m"
  for k in "${kinds[@]}"; do
    n=$(awk -F'\t' -v k="$k" '$1 == k' "$tmp/m" | wc -l)
    if [[ " ${applies[$it]} " != *" $k "* ]]; then
      [ "$n" -gt 0 ] && printf ' %d |' "$n" || printf ' n/a |'
    elif [ "$n" = 0 ]; then
      printf ' **none** |'
      gaps=$((gaps+1))
    else
      printf ' %d |' "$n"
    fi
  done
  printf '\n'
done
echo
echo "Columns: $(for k in "${kinds[@]}"; do printf '%s = %s; ' "$k" "${title[$k]}"; done | sed 's/; $//')."

for k in "${kinds[@]}"; do
  n=$(awk -F'\t' -v k="$k" '$1 == k' "$tmp/rows" | wc -l)
  [ "$n" = 0 ] && continue
  echo
  echo "## ${title[$k]}"
  echo
  echo "| fixture | what is wrong | what servesim says |"
  echo "|---|---|---|"
  awk -F'\t' -v k="$k" '$1 == k {
    gsub(/\|/, "\\|", $3); gsub(/\|/, "\\|", $4)
    printf "| `%s` | %s | `servesim: %s` |\n", $2, $3, $4 }' "$tmp/rows"
done
if [ "$check" = 1 ] && [ "$gaps" -gt 0 ]; then
  echo "catalogue: $gaps applicable cells of the coverage matrix have no fixture" >&2
  exit 1
fi
exit 0
