# Sourced by the validation scripts (from the repository root): the servesim
# they run, as an absolute path. The one given (--bin), else a Release build
# of this tree in build-validation/, made or brought up to date first.
#   bin=$(servesim_bin "$bin" "$jobs")
servesim_bin() { # servesim_bin BIN_OR_EMPTY JOBS
    local bin=$1
    if [ -z "$bin" ]; then
        cmake -S . -B build-validation -DCMAKE_BUILD_TYPE=Release -DSERVESIM_WITH_CUDA=OFF >/dev/null
        cmake --build build-validation -j"$2" --target servesim >/dev/null
        bin=build-validation/servesim
    fi
    echo "$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")"
}

# What every validation script does once its options are read: the default
# job count ($jobs: the CPUs), the servesim it runs ($bin, as servesim_bin
# gives it), the C locale (awk's number formats), and a scratch folder
# ($work) removed when the script exits.
#   . validation/lib/servesim-bin.sh
#   servesim_setup
servesim_setup() {
    [ -n "$jobs" ] || jobs=$(nproc 2>/dev/null || echo 2)
    bin=$(servesim_bin "$bin" "$jobs")
    export LC_ALL=C
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
}
