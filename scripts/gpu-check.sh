#!/usr/bin/env bash
# Everything in this project that needs a GPU, in one run of at most 8 minutes on one H100, ending
# in one table (kernels/README.md, "GPU check"):
#
#   scripts/gpu-check.sh prepare     here, with Rust: builds what the GPU machine cannot (it has no
#                                    Rust toolchain and no network) into device/ (git-ignored)
#   scripts/gpu-check.sh run         on the GPU machine, from the repository root, with device/
#                                    carried: runs the checks below and prints the table
#   scripts/gpu-check.sh table [DIR] prints the table again from a results folder
#
# `run` does, in this order, each part within what is left of GPU_CHECK_BUDGET_S (480 s):
#   1. kernels/tests/gpu.rs (its test binary, ASI_EVOLVE_REQUIRE_GPU=1): the CUDA delta-rule
#      forward against the CPU reference on 16 small cases, max errors;
#   2. delta-bench: the CUDA forward on kernels/README.md's shapes (B4 T8192 H16 D128, B8 T2048
#      H16 D128), its max error there against the CPU f64 reference, its time, and fla's
#      chunk_delta_rule's forward and forward+backward time when fla is importable (the GPU
#      machine has no fla and no network: only the fla that `prepare` carried in device/pylib);
#      there is no CUDA backward to time;
#   3. rl-algorithm at the gpu scale, cut short: the real warm-up capped at 300 steps, 30 RL steps
#      of the seed from it (steps per second), held-out accuracy, peak memory;
#   4. linear-attention: one gpu-scale evaluation of the seed, stage by stage as the harness runs
#      it (score, wall time, peak GPU memory), with fla where step 2 ran it.
# Results and logs go to $GPU_CHECK_RESULTS, else $OUT (the device tool's folder that comes
# back), else device/results.
#
# Exit status of `run`: 0 every part passed; 1 a part failed, mismatched or ran out of time (the
# table says which); 2 device/ is missing or stale (run `prepare` again here); 3 no usable GPU on
# this machine (nothing was run; GPU_CHECK_WITHOUT_GPU=1 runs the parts anyway, to test this
# script: each then fails and the exit status is 1). `prepare`: 0, or non-zero when a build fails.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
DEV=$ROOT/device
FLA_VERSION=${FLA_VERSION:-0.6.0}

say() { echo "gpu-check: $*" >&2; }

# The sources the carried binaries were built from: `run` refuses binaries built from others.
source_hash() {
    find kernels/src kernels/cuda kernels/tests kernels/Cargo.toml Cargo.lock -type f -print0 | LC_ALL=C sort -z \
        | xargs -0 sha256sum | sha256sum | cut -d' ' -f1
}

prepare() {
    source scripts/env.sh
    rm -rf "$DEV"
    mkdir -p "$DEV/bin"
    say "building delta-bench (release)"
    cargo build --release --locked -p asi-evolve-kernels --bin delta-bench
    cp "$CARGO_TARGET_DIR/release/delta-bench" "$DEV/bin/delta-bench"
    say "building the kernels' test binaries (cargo test --no-run)"
    local gpu_test
    gpu_test=$(cargo test --locked -p asi-evolve-kernels --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "gpu" and m.get("executable"):
        print(m["executable"])')
    [ -n "$gpu_test" ] || { say "no test binary for kernels/tests/gpu.rs was built"; exit 1; }
    cp "$gpu_test" "$DEV/bin/kernels-gpu-test"
    strip --strip-debug "$DEV/bin/kernels-gpu-test" "$DEV/bin/delta-bench" 2>/dev/null || true
    # fla for the GPU machine, which cannot download it: pure-Python wheels (fla-core holds the
    # kernels, flash-linear-attention the layers users install it for), unpacked so that the run
    # needs only PYTHONPATH. Its other needs (torch, triton, einops, transformers, packaging) are
    # in that machine's image.
    local fla="none"
    if [ "${GPU_CHECK_NO_FLA:-0}" != 1 ] && python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
        -d "$DEV/wheels" "flash-linear-attention==$FLA_VERSION" "fla-core==$FLA_VERSION"; then
        python3 -c 'import sys, zipfile; [zipfile.ZipFile(w).extractall(sys.argv[1]) for w in sys.argv[2:]]' \
            "$DEV/pylib" "$DEV"/wheels/*.whl
        rm -rf "$DEV/wheels"
        fla="$FLA_VERSION"
    else
        say "fla $FLA_VERSION could not be downloaded (or GPU_CHECK_NO_FLA=1): the run will skip fla's column"
    fi
    {
        echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo +changes)"
        echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
        echo "sources $(source_hash)"
        echo "fla $fla"
    } >"$DEV/MANIFEST"
    cat "$DEV/MANIFEST" >&2
    say "device/ is ready ($(du -sh "$DEV" | cut -f1)); on the GPU machine: bash scripts/gpu-check.sh run (carry device)"
}

# Seconds left of the budget, less `reserve` for the parts after this one, at most `want`.
budget_for() {
    local want=$1 reserve=$2 left
    left=$((BUDGET - (SECONDS - START) - reserve))
    ((left < want)) && want=$left
    echo "$want"
}

# part NAME CAP_S LOG COMMAND...: runs COMMAND under `timeout`, appends to LOG, records the status.
part() {
    local name=$1 cap=$2 log=$3
    shift 3
    if ((cap < 20)); then
        printf '%s\t%s\t%s\t%s\n' "$name" skipped 0 "no time left of the ${BUDGET} s budget" >>"$RESULTS/status.tsv"
        say "$name: skipped, no time left"
        return
    fi
    say "$name (at most ${cap} s)"
    local t0=$SECONDS rc=0
    timeout --kill-after=15 "$cap" "$@" >>"$log" 2>&1 || rc=$?
    local note=""
    ((rc == 124 || rc == 137)) && note="timed out after ${cap} s"
    printf '%s\t%s\t%s\t%s\n' "$name" "$rc" $((SECONDS - t0)) "$note" >>"$RESULTS/status.tsv"
    say "$name: exit status $rc after $((SECONDS - t0)) s"
}

# The folder holding libnvrtc for cudarc (which loads it at run time), if the loader cannot find it.
nvrtc_dir() {
    ldconfig -p 2>/dev/null | grep -q 'libnvrtc\.so' && return 0
    local d
    for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-*/lib64 \
        $(python3 -c 'import glob, os, nvidia
for root in nvidia.__path__:
    print(*sorted({os.path.dirname(p) for p in glob.glob(os.path.join(root, "**", "libnvrtc.so*"), recursive=True)}))' \
            2>/dev/null); do
        if compgen -G "$d/libnvrtc.so*" >/dev/null; then
            echo "$d"
            return 0
        fi
    done
}

run() {
    if [ ! -f "$DEV/MANIFEST" ] || [ ! -f "$DEV/bin/delta-bench" ] || [ ! -f "$DEV/bin/kernels-gpu-test" ]; then
        say "device/ is missing or incomplete: run 'bash scripts/gpu-check.sh prepare' on a machine with Rust first (exit 2)"
        exit 2
    fi
    chmod +x "$DEV/bin/delta-bench" "$DEV/bin/kernels-gpu-test"
    local built now
    built=$(sed -n 's/^sources //p' "$DEV/MANIFEST")
    now=$(source_hash)
    if [ "$built" != "$now" ]; then
        say "device/ was built from other kernel sources ($built, these are $now): run prepare again (exit 2)"
        exit 2
    fi
    local why=""
    if ! command -v nvidia-smi >/dev/null 2>&1; then
        why="nvidia-smi is not installed"
    elif ! nvidia-smi -L >/dev/null 2>&1; then
        why="nvidia-smi finds no GPU ($(nvidia-smi -L 2>&1 | head -1))"
    elif ! python3 -c 'import torch, sys; sys.exit(not torch.cuda.is_available())' >/dev/null 2>&1; then
        why="python3's torch sees no CUDA device"
    fi
    if [ -n "$why" ] && [ "${GPU_CHECK_WITHOUT_GPU:-0}" = 1 ]; then
        say "no usable GPU on this machine: $why; GPU_CHECK_WITHOUT_GPU=1 runs the parts anyway (they fail: a test of this script)"
    elif [ -n "$why" ]; then
        say "no usable GPU on this machine: $why. Nothing was run (exit 3); run this on the GPU machine."
        exit 3
    fi

    RESULTS=${GPU_CHECK_RESULTS:-${OUT:-$DEV/results}}
    mkdir -p "$RESULTS"
    rm -f "$RESULTS"/{status.tsv,kernels.log,delta-bench.json,rl.log,rl.json,la.log,la.json,table.md}
    BUDGET=${GPU_CHECK_BUDGET_S:-480}
    START=$SECONDS
    export ASI_EVOLVE_REQUIRE_GPU=1 PYTHONUNBUFFERED=1
    export TRITON_CACHE_DIR=${TRITON_CACHE_DIR:-/tmp/gpu-check-triton}
    local nv
    nv=$(nvrtc_dir || true)
    [ -n "$nv" ] && export LD_LIBRARY_PATH="$nv${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    local pylib=""
    [ -d "$DEV/pylib" ] && pylib=$DEV/pylib
    {
        echo "manifest: $(tr '\n' ';' <"$DEV/MANIFEST")"
        nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
        python3 -c 'import sys, torch, triton; print("python", sys.version.split()[0], "torch", torch.__version__, "triton", triton.__version__)' || true
        echo "libnvrtc: ${nv:-found by the loader (ldconfig)}; fla: ${pylib:-not carried}"
    } >"$RESULTS/kernels.log" 2>&1
    cat "$RESULTS/kernels.log" >&2

    part "kernels-test" "$(budget_for 90 390)" "$RESULTS/kernels.log" \
        "$DEV/bin/kernels-gpu-test" --nocapture --test-threads=1
    part "delta-bench" "$(budget_for 150 300)" "$RESULTS/kernels.log" \
        env ${pylib:+PYTHONPATH=$pylib} ASI_EVOLVE_FLA_BENCH="$ROOT/kernels/bench/fla_bench.py" \
        "$DEV/bin/delta-bench" --json "$RESULTS/delta-bench.json"
    # linear-attention uses fla only if the bench ran it: a failing fla must not hide whether the
    # evaluation itself works (the table says which path ran).
    local la_fla=""
    if [ -n "$pylib" ] && python3 -c 'import json, sys; sys.exit(not json.load(open(sys.argv[1]))["fla"])' \
        "$RESULTS/delta-bench.json" 2>/dev/null; then
        la_fla=$pylib
    fi
    part "rl-algorithm" "$(budget_for 100 240)" "$RESULTS/rl.log" \
        python3 suites/rl-algorithm/evaluator/gpu_shape.py --scale gpu --warmup-steps 300 --rl-steps 30 \
        --json "$RESULTS/rl.json"
    # Landlock confines the candidate's process; a kernel without it gets the evaluation scored
    # unconfined (confined = 0 in the table) rather than not at all.
    if ! (cd suites/linear-attention && python3 -c 'from evaluator import confine; confine.abi()') >/dev/null 2>&1; then
        echo "Landlock unavailable: linear-attention runs unconfined (ASI_EVOLVE_UNCONFINED_OK=1)" >>"$RESULTS/la.log"
        export ASI_EVOLVE_UNCONFINED_OK=1
    fi
    local la_cap
    la_cap=$(budget_for 600 5)
    echo "fla for linear-attention: ${la_fla:-no (not carried, or it failed in delta-bench)}" >>"$RESULTS/la.log"
    part "linear-attention" "$la_cap" "$RESULTS/la.log" \
        env ${la_fla:+PYTHONPATH=$la_fla} python3 suites/linear-attention/gpu_shape.py --scale gpu \
        --timeout $((la_cap > 30 ? la_cap - 15 : 15)) --json "$RESULTS/la.json"
    table "$RESULTS" | tee "$RESULTS/table.md"
    say "total $((SECONDS - START)) s; results and logs in $RESULTS"
    # Exit 1 when any part failed or was skipped.
    ! awk -F'\t' '$2 != "0" { bad = 1 } END { exit !bad }' "$RESULTS/status.tsv"
}

table() {
    local dir=${1:-${GPU_CHECK_RESULTS:-${OUT:-$DEV/results}}}
    python3 - "$dir" <<'EOF'
import json, os, re, sys

d = sys.argv[1]
def load(name):
    try:
        with open(os.path.join(d, name)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
status = {}
try:
    for line in open(os.path.join(d, "status.tsv")):
        name, rc, secs, note = (line.rstrip("\n").split("\t") + [""] * 4)[:4]
        status[name] = (rc, secs, note)
except OSError:
    pass
def verdict(name, ok=True):
    rc, secs, note = status.get(name, ("not run", "0", ""))
    if rc == "0" and ok:
        return "ok", f"{secs} s"
    return ("FAIL" if rc not in ("skipped", "not run") else rc), f"{secs} s, exit {rc}{', ' + note if note else ''}"
GIB = 1 << 30
rows = []

log = open(os.path.join(d, "kernels.log")).read() if os.path.exists(os.path.join(d, "kernels.log")) else ""
errs = [(float(a), float(b)) for a, b in re.findall(r"max abs error o ([0-9.e+-]+), final state ([0-9.e+-]+)", log)]
passed = re.search(r"test result: (\w+)\. (\d+) passed; (\d+) failed", log)
v, t = verdict("kernels-test", bool(errs))
what = (f"{len(errs)} cases, max abs error o {max(e[0] for e in errs):.2e}, final state {max(e[1] for e in errs):.2e} "
        f"(limit 2e-3); tests {passed.group(2)} passed, {passed.group(3)} failed" if errs and passed else "no errors printed (see kernels.log)")
rows.append(("CUDA forward vs CPU reference, kernels/tests/gpu.rs", v, what, t))

bench = load("delta-bench.json")
v, t = verdict("delta-bench", bool(bench and bench.get("ok")))
if bench:
    for s in bench["shapes"]:
        b, T, h, dd = s["shape"]
        if s["fla_fwd_ms"] is not None:
            fla = (f"fla chunk_delta_rule forward {s['fla_fwd_ms']:.3f} ms (ours/fla {s['ours_ms'] / s['fla_fwd_ms']:.2f}x), "
                   f"forward+backward {s['fla_fwd_bwd_ms']:.3f} ms")
        elif "timed out" in status.get("delta-bench", ("", "", ""))[2]:
            fla = "fla: did not finish within the part's time (see kernels.log)"
        elif re.search(r"fla: /", log):
            fla = "fla: carried, but not importable or its benchmark failed (see kernels.log)"
        else:
            fla = "fla: not importable here (only a carried fla works on the GPU machine: prepare downloads it), skipped"
        rows.append((f"CUDA forward B{b} T{T} H{h} D{dd}, chunk {bench['chunk']}", v,
                     f"ours {s['ours_ms']:.3f} ms; max abs error vs CPU f64 o {s['err_o']:.2e}, state {s['err_state']:.2e} "
                     f"(limit {bench['tolerance']:g}); {fla}", t))
else:
    rows.append(("CUDA forward on kernels/README.md's shapes (delta-bench)", v, "no results (see kernels.log)", t))
rows.append(("CUDA backward", "n/a", "not implemented (kernels/README.md); fla's forward+backward is timed above", ""))

rl = load("rl.json")
v, t = verdict("rl-algorithm", bool(rl and rl.get("ok")))
if rl and "rl_steps_per_s" in rl:
    mem = rl.get("memory") or {}
    what = (f"warm-up {rl['warmup_steps']} steps (cap {rl['warmup_cap']}), {rl['warmup_steps_per_s']:.1f} steps/s, "
            f"held-out accuracy {rl['warmup_accuracy']:.3f} (target 0.40); RL {rl['rl_steps']} steps at "
            f"{rl['rl_steps_per_s']:.2f} steps/s, {rl['rl_updates']} updates, train reward {rl['rl_train_reward']:.3f}, "
            f"held-out accuracy {rl['rl_heldout_accuracy']:.3f}; peak allocated {rl['peak_gpu_bytes'] / GIB:.2f} GiB "
            f"(update estimate {mem.get('total_bytes', 0) / GIB:.2f} GiB)")
else:
    what = "; ".join((rl or {}).get("failures", [])) or "no results (see rl.log)"
rows.append(("rl-algorithm gpu scale, cut short (seed GRPO)", v, what, t))

la = load("la.json")
v, t = verdict("linear-attention", bool(la and la.get("ok")))
if la and la.get("stages"):
    st = {s["stage"]: s for s in la["stages"]}
    final = st.get(max(st))
    m3 = st.get(3, {}).get("metrics", {})
    m2 = st.get(2, {}).get("metrics", {})
    secs = ", ".join(f"stage {k} {s['seconds']:.0f} s" for k, s in sorted(st.items()))
    mem = la.get("memory") or {}
    def num(x, f=".4f"):
        return format(x, f) if isinstance(x, (int, float)) else str(x)
    what = (f"score {num(final['score'], '.6f')} (stage {final['stage']}); MQAR accuracy {num(m2.get('mqar_accuracy'))}, "
            f"held-out loss {num(m3.get('val_loss'))} nats/byte, L_DeltaNet/L {num(m3.get('lm_quality'))}, causal change "
            f"{num(m3.get('held_out_causal_max_change'), '.2g')}, confined {m3.get('confined', m2.get('confined'))}; {secs} "
            f"(wall {sum(s['seconds'] for s in st.values()):.0f} s); peak GPU memory {la.get('peak_gpu_mib')} MiB "
            f"(nvidia-smi, device-wide; one step measured {mem.get('peak_bytes', 0) / GIB:.2f} GiB)")
    if la.get("failures"):
        what += "; FAILED: " + "; ".join(la["failures"])
else:
    what = "; ".join((la or {}).get("failures", [])) or "no results (see la.log)"
fla_note = ""
if os.path.exists(os.path.join(d, "la.log")):
    m = re.search(r"fla for linear-attention: (.*)", open(os.path.join(d, "la.log")).read())
    fla_note = f" [fla: {m.group(1)}]" if m else ""
rows.append(("linear-attention gpu scale, seed (DeltaNet)" + fla_note, v, what, t))

print("| check | result | numbers | time |")
print("| --- | --- | --- | --- |")
for r in rows:
    print("| " + " | ".join(x.replace("|", "/") for x in r) + " |")
EOF
}

case "${1:-}" in
    prepare) prepare ;;
    run) run ;;
    table) table "${2:-}" ;;
    *)
        echo "usage: scripts/gpu-check.sh prepare | run | table [DIR]  (see the comment at its top)" >&2
        exit 2
        ;;
esac
