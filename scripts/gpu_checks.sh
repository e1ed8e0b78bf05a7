#!/usr/bin/env bash
# GPU checks for a lent GPU machine (no package registry there): carry .deps
# (made here by scripts/fetch_device_deps.sh) and run from the repo root:
#
#   bash scripts/gpu_checks.sh            # writes logs under $OUT (or /tmp/ember_gpu)
#
# 1. Release build with CUDA for the GPU's architecture (EMBER_CUDA_ARCH,
#    default 90 = H100/H200), dependencies from .deps/root/usr;
# 2. the whole test suite: every kernel family CPU vs CUDA (and vs the
#    emulator) within the stated tolerances, the GAT and objective tests;
# 3. compute-sanitizer memcheck and racecheck over the test cases that run
#    CUDA kernels (issue 10), errors fail the script;
# 4. the kernel benchmarks on the GPU (figures for docs/performance.md);
# 5. data-parallel training over NCCL (tests/dist/dist_checks.cpp --device
#    cuda, 2 ranks), when the build has MPI + NCCL and the machine 2 GPUs
#    (skipped with the reason otherwise).
# Prints a short summary table last.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/ember_gpu}
mkdir -p "$out"
[ -d .deps/root/usr ] || { echo "no .deps/root/usr: run scripts/fetch_device_deps.sh here and carry .deps" >&2; exit 2; }
# Outside the source tree: CMake refuses an installable target whose include
# directory lies inside it (ember_hnswlib).
rm -rf /tmp/ember_deps && cp -r .deps/root /tmp/ember_deps
deps=/tmp/ember_deps/usr
arch=${EMBER_CUDA_ARCH:-90}
jobs=$(nproc)
summary=()
step() {  # step NAME LOGFILE CMD...
  local name=$1 log=$2; shift 2
  local t0=$SECONDS
  if "$@" >"$out/$log" 2>&1; then summary+=("$name|ok|$((SECONDS - t0)) s|$log"); return 0; fi
  summary+=("$name|FAILED|$((SECONDS - t0)) s|$log"); return 1
}
step configure configure.log cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBER_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$arch" -DCMAKE_PREFIX_PATH="$deps;$deps/share/eigen3/cmake" \
  -DHNSWLIB_INCLUDE_DIR="$deps/include" || { tail -30 "$out/configure.log"; exit 1; }
step build build.log cmake --build build-gpu -j"$jobs" || { tail -40 "$out/build.log"; exit 1; }
nvidia-smi >"$out/nvidia-smi.txt" 2>&1 || true
step ctest ctest.log bash -c "cd build-gpu && ctest -j4 --output-on-failure --timeout 900"
# Test cases that launch CUDA kernels: the backend comparisons ([emu] cases
# also run on CUDA when a GPU is present), GAT and objective kernels.
cases='[emu],[kernels],[optim],[gat],[objectives]'
for tool in memcheck racecheck; do
  step "compute-sanitizer $tool" "sanitizer_$tool.log" \
    compute-sanitizer --tool "$tool" --error-exitcode 1 --print-limit 20 build-gpu/tests/ember_tests "$cases"
done
for b in bench_linear bench_gat_layer bench_objectives; do
  step "$b" "$b.log" "build-gpu/bench/$b" --device cuda
done
# Whole training steps (issue 16): phases and host<->device copies per step.
for obj in retrieval ssmtl; do
  step "bench_train_step $obj" "bench_train_step_$obj.log" build-gpu/bench/bench_train_step --device cuda \
    --users 200000 --communities 2000 --batch 1024 --fanouts 10,5 --steps 20 --warmup 3 --objectives "$obj"
done
# Data-parallel training over NCCL (issue 17): two ranks, one GPU each. Needs
# a build with MPI + NCCL (OpenMPI installed where this runs) and 2 GPUs.
gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if grep -q "MPI ON, NCCL ON" "$out/configure.log" && command -v mpirun >/dev/null && [ "${gpus:-0}" -ge 2 ]; then
  step "dist_checks nccl (2 ranks)" dist_checks_nccl.log mpirun --oversubscribe --allow-run-as-root -np 2 \
    build-gpu/tests/dist_checks --device cuda
else
  why="needs MPI + NCCL in the build ($(grep -o 'MPI [A-Z]*, NCCL [A-Z]*' "$out/configure.log" || echo '?')), mpirun and 2 GPUs (found ${gpus:-0})"
  echo "dist_checks nccl: skipped: $why" | tee "$out/dist_checks_nccl.log"
  summary+=("dist_checks nccl (2 ranks)|skipped|0 s|dist_checks_nccl.log")
fi
echo
printf '%-32s %-7s %-8s %s\n' step result time log
for s in "${summary[@]}"; do IFS='|' read -r n r t l <<<"$s"; printf '%-32s %-7s %-8s %s\n' "$n" "$r" "$t" "$l"; done
grep -h "tests passed\|ERROR SUMMARY\|RACECHECK SUMMARY" "$out"/ctest.log "$out"/sanitizer_*.log 2>/dev/null
