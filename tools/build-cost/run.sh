#!/usr/bin/env bash
# Build cost of #[flowcoro::pooled] against #[async_trait::async_trait] on the
# same generated code. See tools/build-cost/README.md.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
fns=400
runs=5
flowcoro=$root
out=$root/target/build-cost
gen_flags=()
crate=build_cost_gen
forms=(async-trait pooled)

usage() {
    echo "usage: bash tools/build-cost/run.sh [--fns N] [--runs K] [--flowcoro PATH] [--out DIR] [--pool-free]" >&2
    exit 2
}
die() {
    echo "run.sh: $*" >&2
    exit 1
}

while (($#)); do
    case $1 in
        --fns) fns=${2:?--fns needs a value} && shift ;;
        --runs) runs=${2:?--runs needs a value} && shift ;;
        --flowcoro) flowcoro=${2:?--flowcoro needs a path} && shift ;;
        --out) out=${2:?--out needs a path} && shift ;;
        --pool-free) gen_flags+=(--pool-free) ;;
        *) usage ;;
    esac
    shift
done
[[ $fns =~ ^[0-9]+$ && $runs =~ ^[1-9][0-9]*$ ]] || usage

/usr/bin/time --version 2>&1 | grep -q GNU ||
    die "needs GNU time as /usr/bin/time (Debian/Ubuntu: apt-get install time)"
for tool in cargo rustc strip python3 awk; do
    command -v "$tool" >/dev/null || die "needs $tool"
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
python3 "$here/gen.py" --fns "$fns" --flowcoro "$flowcoro" --out "$out" "${gen_flags[@]}"

# Cargo runs every rustc through this wrapper; it times the one that compiles
# the generated crate, when BUILD_COST_LOG names a file, and nothing else.
cat >"$out/rustc-wrapper" <<EOF
#!/usr/bin/env bash
if [[ -n \${BUILD_COST_LOG:-} && " \$* " == *" --crate-name $crate "* ]]; then
    exec /usr/bin/time -a -o "\$BUILD_COST_LOG" -f '%U %S %M' "\$@"
fi
exec "\$@"
EOF
chmod +x "$out/rustc-wrapper"
export RUSTC_WRAPPER=$out/rustc-wrapper CARGO_INCREMENTAL=0
unset CARGO_TARGET_DIR CARGO_BUILD_TARGET_DIR BUILD_COST_LOG

# cargo_mode <form> <mode> [log]: check / build the crate of <form>, timed into [log].
cargo_mode() {
    local args
    case $2 in
        check) args=(check) ;;
        debug) args=(build) ;;
        release) args=(build --release) ;;
    esac
    (cd "$out/$1" && BUILD_COST_LOG=${3:-} cargo "${args[@]}" --quiet)
}

# Dependencies, once per form and profile; the crate must build warning-free.
for form in "${forms[@]}"; do
    for mode in check debug release; do
        echo "run.sh: $form: $mode (dependencies)" >&2
        touch "$out/$form/src/main.rs"
        cargo_mode "$form" "$mode" "" 2>"$out/$form/warmup.log" || {
            cat "$out/$form/warmup.log" >&2
            die "$form: cargo $mode failed"
        }
        if grep -q -- "--> src/main.rs" "$out/$form/warmup.log"; then
            cat "$out/$form/warmup.log" >&2
            die "$form: the generated crate has warnings"
        fi
    done
done

# The timed runs: the crate alone, the two forms alternating.
results=$out/results
rm -rf "$results"
mkdir -p "$results"
for ((run = 1; run <= runs; run++)); do
    order=("${forms[@]}")
    ((run % 2)) || order=(pooled async-trait)
    for mode in check debug release; do
        for form in "${order[@]}"; do
            log=$out/$form/time.log
            rm -f "$log"
            touch "$out/$form/src/main.rs"
            cargo_mode "$form" "$mode" "$log"
            [[ -s $log && $(wc -l <"$log") == 1 ]] || die "$form: cargo $mode did not compile $crate once"
            awk '{print $1 + $2 >> (f ".cpu"); print $3 / 1024 >> (f ".rss")}' \
                f="$results/$form.$mode" "$log"
        done
    done
    echo "run.sh: run $run/$runs done" >&2
done

# Sizes: the stripped release binary (a stripped copy) and the unoptimised IR
# of the crate (its own target dir, after the timings).
declare -A size ir_lines ir_fns output
for form in "${forms[@]}"; do
    bin=$out/$form/target/release/$crate
    output[$form]=$("$bin") || die "$form: $bin failed"
    cp "$bin" "$out/$form.stripped"
    strip "$out/$form.stripped"
    size[$form]=$(stat -c %s "$out/$form.stripped")

    echo "run.sh: $form: LLVM IR" >&2
    ir=$out/$form/target-ir
    rm -f "$ir/debug/deps/$crate"-*.ll
    touch "$out/$form/src/main.rs"
    (cd "$out/$form" && cargo rustc --quiet --profile dev --bin "$crate" --target-dir "$ir" -- --emit=llvm-ir)
    ll=("$ir/debug/deps/$crate"-*.ll)
    [[ -f ${ll[0]} ]] || die "$form: no LLVM IR in $ir/debug/deps"
    ir_lines[$form]=$(wc -l <"${ll[0]}")
    ir_fns[$form]=$(grep -c '^define ' "${ll[0]}")
done
[[ ${output[async-trait]} == "${output[pooled]}" ]] ||
    die "the two binaries disagree: '${output[async-trait]}' / '${output[pooled]}'"

median() {
    sort -g "$1" | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
# row <label> <printf format> <async-trait> <pooled>
row() {
    awk -v l="$1" -v f="$2" -v a="$3" -v p="$4" \
        'BEGIN {printf "%-30s %12" f " %12" f " %8.2fx\n", l, a, p, a ? p / a : 0}'
}
per() { awk -v a="$1" -v b="$2" 'BEGIN {print a / b}'; }
medians() { row "$1" "$2" "$(median "$results/async-trait.$3")" "$(median "$results/pooled.$3")"; }

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//' || true)
async_trait=$(grep -A1 '^name = "async-trait"' "$out/async-trait/Cargo.lock" | sed -n 's/^version = "\(.*\)"/\1/p')
{
    echo "machine:     $(nproc) cpus, ${cpu:-unknown cpu}, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "rustc:       $(cd "$out/pooled" && rustc -V)"
    echo "date:        $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "flowcoro:    $flowcoro ($(git -C "$flowcoro" describe --always --dirty 2>/dev/null || echo 'not a git checkout'))"
    echo "async-trait: $async_trait"
    echo "crates:      $fns async fns${gen_flags[*]:+ (${gen_flags[*]})}, medians of $runs runs, in $out"
    echo
    printf '%-30s %12s %12s %9s\n' figure async-trait pooled ratio
    medians "cargo check (CPU s)" .2f check.cpu
    medians "debug build (CPU s)" .2f debug.cpu
    medians "release build (CPU s)" .2f release.cpu
    medians "peak RSS check (MiB)" .1f check.rss
    medians "peak RSS debug (MiB)" .1f debug.rss
    medians "peak RSS release (MiB)" .1f release.rss
    row "stripped release binary (KiB)" .1f "$(per "${size[async-trait]}" 1024)" "$(per "${size[pooled]}" 1024)"
    row "bytes per async fn" .0f "$(per "${size[async-trait]}" "$fns")" "$(per "${size[pooled]}" "$fns")"
    row "LLVM IR lines (debug)" .0f "${ir_lines[async-trait]}" "${ir_lines[pooled]}"
    row "LLVM IR functions (debug)" .0f "${ir_fns[async-trait]}" "${ir_fns[pooled]}"
} | tee "$out/table.txt"
