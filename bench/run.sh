#!/usr/bin/env bash
# Times envk on the peer benchmark's workload (bench/README.md).
#
#   bench/run.sh                  N = 10 100 1000 5000 10000, 5 runs each
#   SIZES="10 1000" RUNS=3 bench/run.sh
#
# For each N, writes the workload in its compact (`for team in [...]`) and
# explicit (one env family per team) forms with bench/gen.py, then measures
#   check                       envk check
#   build (tree)                envk build, one file per object
#   build (stream)              envk build --layout stream
# and prints one Markdown row per case: the median wall time of RUNS runs
# (hyperfine, after one warm-up; a build starts from an empty folder each
# time), the peak RSS (GNU time's "Maximum resident set size", the median of
# three runs) and the bytes written. The tree layout of the explicit form is
# skipped: it writes the same files as the compact form.
#
# A tree build's earlier output is moved aside, not deleted, before each
# run, and deleted only at the end: on ext4 without a journal (as on our
# machines) the kernel does not reuse an inode for 60 s after it is freed
# (300 s while its inode table block is unwritten), and a build creating
# 30,000 files just after 30,000 were deleted spends seconds skipping them
# (fs/ext4/ialloc.c, recently_deleted). That would time the harness's
# `rm -rf`, not envk.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
sizes=${SIZES:-10 100 1000 5000 10000}
runs=${RUNS:-5}
work=${WORK:-$(mktemp -d)}
keep=${KEEP:-}
[ -n "$keep" ] || trap 'rm -rf "$work"' EXIT
aside="$work/aside"
mkdir -p "$aside"

need() {
    command -v "$1" >/dev/null 2>&1 && return
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "installing $2 (Debian)" >&2
        { apt-get install -y "$2" || { apt-get update && apt-get install -y "$2"; }; } >/dev/null 2>&1
    fi
    command -v "$1" >/dev/null 2>&1 || { echo "bench/run.sh needs $1 (Debian package $2)" >&2; exit 1; }
}
need hyperfine hyperfine
need python3 python3
[ -x /usr/bin/time ] || need /usr/bin/time time

echo "building envk (release)" >&2
cargo build --release --quiet --manifest-path "$root/Cargo.toml"
envk="$root/target/release/envk"

# The median of numbers on stdin.
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Empties the output folder: a tree is moved aside (see above), anything
# else deleted. As one command line, for hyperfine's --prepare.
clear_out() {
    if [ -d "$1/argocd/applications" ]; then
        mv "$1" "$aside/$(date +%s%N)"
    else
        rm -rf "$1"
    fi
}
export -f clear_out
export aside

# Median peak RSS in MiB of three runs of "$@", each from an empty folder.
peak_rss() {
    local out=$1; shift
    for _ in 1 2 3; do
        clear_out "$out"
        /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F: '/Maximum resident set size/ { print $2 / 1024 }'
    done | median
}

# Median wall time in ms of $runs runs of the command in $2.
wall_ms() {
    local out=$1 command=$2 json="$work/hyperfine.json"
    hyperfine --shell=none --warmup 1 --runs "$runs" --prepare "bash -c 'clear_out $out'" \
        --export-json "$json" "$command" >/dev/null 2>&1
    python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][0]["median"] * 1000))' "$json"
}

printf '| N | form | lines | command | median wall (ms) | peak RSS (MiB) | output |\n'
printf '|---:|---|---:|---|---:|---:|---:|\n'
for n in $sizes; do
    for form in compact explicit; do
        program="$work/fleet-$n-$form.env.k"
        python3 "$here/gen.py" "$n" --form "$form" >"$program"
        lines=$(wc -l <"$program")
        out="$work/out"
        cases=("check" "build --layout stream")
        [ "$form" = compact ] && cases+=("build --layout tree")
        for case in "${cases[@]}"; do
            if [ "$case" = check ]; then
                command="$envk check $program"
            else
                command="$envk $case $program -o $out"
            fi
            clear_out "$out"
            # shellcheck disable=SC2086
            $command >/dev/null 2>&1 || { echo "failed: $command" >&2; exit 1; }
            if [ "$case" = check ]; then
                bytes="—"
            else
                bytes=$(find "$out" -type f -printf '%s\n' |
                    awk '{ s += $1; n++ } END { printf "%.1f MB, %d files", s / 1e6, n }')
            fi
            ms=$(wall_ms "$out" "$command")
            # shellcheck disable=SC2086
            rss=$(peak_rss "$out" $command)
            printf '| %s | %s | %s | %s | %s | %.0f | %s |\n' "$n" "$form" "$lines" "envk $case" "$ms" "$rss" "$bytes"
        done
    done
done
clear_out "$work/out"
