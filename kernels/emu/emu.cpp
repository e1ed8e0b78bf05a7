// The kernel emulator runtime: block scheduler, fibers, barriers, warp
// collectives. See kernels/emu/emu.h for the model and docs/architecture.md.
//
// One launch runs on the calling OS thread. All state below is thread_local,
// so launches from different OS threads are independent; set_options() is the
// only process-wide (test-only) state.
#include "kernels/emu/emu.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <numeric>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define EMBER_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EMBER_EMU_ASAN 1
#endif
#endif
#if defined(EMBER_EMU_ASAN)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

// x86-64 uses the assembly switch below; elsewhere (or with
// -DEMBER_EMU_UCONTEXT, to test that path) glibc's ucontext.
#if defined(__x86_64__) && !defined(EMBER_EMU_UCONTEXT)
#define EMBER_EMU_ASM_SWITCH 1
#else
#include <ucontext.h>
#endif

// ---- context switch -------------------------------------------------------------
// x86-64 System V: push the callee-saved general registers, store the stack
// pointer, load the other one, pop and return. No syscall (swapcontext does a
// sigprocmask per switch). The MXCSR / x87 control words are not switched:
// fibers inherit the launching thread's and kernel code never changes them.
#if defined(EMBER_EMU_ASM_SWITCH)
extern "C" void ember_emu_switch(void** save_sp, void* new_sp);
extern "C" void ember_emu_trampoline();
asm(R"(
  .text
  .p2align 4
  .globl ember_emu_switch
  .hidden ember_emu_switch
  .type ember_emu_switch,@function
ember_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size ember_emu_switch, .-ember_emu_switch

  .p2align 4
  .globl ember_emu_trampoline
  .hidden ember_emu_trampoline
  .type ember_emu_trampoline,@function
ember_emu_trampoline:
  .cfi_startproc
  .cfi_undefined rip
  movq %r12, %rdi
  callq *%r13
  ud2
  .cfi_endproc
  .size ember_emu_trampoline, .-ember_emu_trampoline
)");
#endif

namespace ember {
namespace emu {

// ---- options ----------------------------------------------------------------------
namespace {
std::mutex g_options_mu;
Options g_options;
bool g_options_loaded = false;

void load_env_locked() {
  if (g_options_loaded) return;
  g_options_loaded = true;
  if (const char* s = std::getenv("EMBER_EMU_SEED")) {
    if (*s) {
      char* end = nullptr;
      unsigned long long v = std::strtoull(s, &end, 0);
      if (end && *end == '\0') {
        g_options.shuffle_blocks = true;
        g_options.shuffle_warps = true;
        g_options.seed = v;
      } else {
        std::fprintf(stderr, "ember: ignoring EMBER_EMU_SEED='%s' (not an integer)\n", s);
      }
    }
  }
}
}  // namespace

void set_options(const Options& o) {
  EMBER_CHECK(o.max_threads_per_block >= 1 && o.max_threads_per_block <= 1024,
              "emu::Options::max_threads_per_block must be in [1, 1024], got " << o.max_threads_per_block);
  EMBER_CHECK(o.stack_bytes >= 16 * 1024 && o.stack_bytes <= (size_t(64) << 20),
              "emu::Options::stack_bytes must be in [16 KiB, 64 MiB], got " << o.stack_bytes);
  std::lock_guard<std::mutex> lock(g_options_mu);
  g_options_loaded = true;
  g_options = o;
}

Options options() {
  std::lock_guard<std::mutex> lock(g_options_mu);
  load_env_locked();
  return g_options;
}

namespace detail {
namespace {

// ---- small helpers --------------------------------------------------------------------
uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::string dims(uint3 d) {
  std::ostringstream os;
  os << "(" << d.x << "," << d.y << "," << d.z << ")";
  return os.str();
}
std::string dims(dim3 d) { return dims(uint3{d.x, d.y, d.z}); }

std::string hex(unsigned m) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", m);
  return buf;
}

const char* op_name(int op) {
  switch (op) {
    case kShflIdx: return "__shfl_sync";
    case kShflUp: return "__shfl_up_sync";
    case kShflDown: return "__shfl_down_sync";
    case kShflXor: return "__shfl_xor_sync";
    case kBallot: return "__ballot_sync";
    case kAny: return "__any_sync";
    case kAll: return "__all_sync";
    case kSyncWarp: return "__syncwarp";
    case kReduceAdd: return "__reduce_add_sync";
    case kReduceMin: return "__reduce_min_sync";
    case kReduceMax: return "__reduce_max_sync";
    case kMatchAny: return "__match_any_sync";
  }
  return "warp collective";
}

const char* barrier_name(int kind) {
  switch (kind) {
    case 0: return "__syncthreads_count";
    case 1: return "__syncthreads_and";
    case 2: return "__syncthreads_or";
  }
  return "__syncthreads";
}

// Thrown into a suspended fiber to unwind its stack when the block is
// aborted. Not derived from std::exception: kernel code never catches it.
struct FiberCancelled {};

// ---- fiber stacks (pooled per OS thread) -----------------------------------------
struct StackPool {
  size_t bytes = 0;  // usable bytes per stack (a guard page lies below)
  size_t page = 4096;
  std::vector<char*> stacks;  // usable low addresses

  ~StackPool() { release(); }
  void release() {
    for (char* s : stacks) munmap(s - page, bytes + page);
    stacks.clear();
  }
  void ensure(size_t count, size_t want_bytes) {
    page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    want_bytes = (want_bytes + page - 1) / page * page;
    if (want_bytes != bytes) {
      release();
      bytes = want_bytes;
    }
    while (stacks.size() < count) {
      void* p = mmap(nullptr, bytes + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
      EMBER_CHECK(p != MAP_FAILED, "kernel emulator: cannot map a " << bytes << "-byte fiber stack");
      mprotect(p, page, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting
      stacks.push_back(static_cast<char*>(p) + page);
    }
  }
};

// ---- per-launch state -----------------------------------------------------------------
enum class FState : unsigned char { kReady, kRunning, kBarrier, kWarp, kDone };

struct Launch;

struct Fiber {
  ThreadCtx ctx{};
  unsigned warp = 0, lane = 0;
  FState state = FState::kReady;
  bool started = false;
  void* sp = nullptr;  // saved stack pointer while suspended
  char* stack_lo = nullptr;
  size_t stack_bytes = 0;
#if !defined(EMBER_EMU_ASM_SWITCH)
  ucontext_t uc;
#endif
  void* asan_fake_stack = nullptr;
  Launch* launch = nullptr;
  // What the fiber waits for.
  const char* file = nullptr;
  int line = 0;
  int op = 0;
  unsigned mask = 0;
  uint64_t in = 0, out = 0;
  int size = 4, param = 0, width = 32;
  int bar_result = 0;
};

struct Launch {
  const char* kernel = "";
  Thunk thunk{};
  Options opt;
  BlockCtx bctx{};
  unsigned nthreads = 0;
  std::vector<Fiber> fibers;
  // Per warp: lanes waiting in a collective / exited / waiting at the barrier.
  // `group_*`: the most recent collective being assembled in the warp (a
  // cache: lanes waiting in it are group_arrived; lanes may also wait in
  // other collectives of the warp, e.g. two half-warp shuffles).
  struct WarpBits {
    unsigned waiting = 0, exited = 0, at_barrier = 0;
    unsigned group_arrived = 0, group_mask = 0;
    int group_op = -1;
  };
  std::vector<WarpBits> warps;
  std::vector<unsigned> ready;  // FIFO (deterministic) or random pick (shuffle_warps)
  size_t ready_head = 0;
  unsigned live = 0;  // fibers not yet exited
  // The pending __syncthreads.
  unsigned bar_count = 0;
  const char* bar_file = nullptr;
  int bar_line = 0;
  int bar_kind = -1;
  int bar_acc = 0;
  bool cancelling = false;
  std::exception_ptr error;
  Fiber* current = nullptr;
  void* sched_sp = nullptr;
#if !defined(EMBER_EMU_ASM_SWITCH)
  ucontext_t sched_uc;
#endif
  void* sched_fake_stack = nullptr;
  bool from_scheduler = false;
  const void* sched_stack_bottom = nullptr;
  size_t sched_stack_size = 0;
  uint64_t rng = 0;
};

thread_local Launch* tls_launch = nullptr;
thread_local StackPool tls_pool;

std::string where(const Launch& L) {
  std::ostringstream os;
  os << "emulated kernel '" << L.kernel << "', block " << dims(L.bctx.block_idx);
  return os.str();
}
std::string thread_name(const Fiber& f) {
  std::ostringstream os;
  os << "thread " << dims(f.ctx.thread_idx) << " (warp " << f.warp << " lane " << f.lane << ")";
  return os.str();
}
std::string wait_desc(const Launch& L, const Fiber& f) {
  std::ostringstream os;
  switch (f.state) {
    case FState::kBarrier:
      os << "waits at " << barrier_name(L.bar_kind) << " at " << L.bar_file << ":" << L.bar_line;
      break;
    case FState::kWarp:
      os << "waits in " << op_name(f.op) << " (mask " << hex(f.mask) << ") at " << f.file << ":" << f.line;
      break;
    case FState::kDone: os << "has exited"; break;
    case FState::kReady: os << "is runnable"; break;
    case FState::kRunning: os << "is running"; break;
  }
  return os.str();
}

// Records an emulator-detected error and unwinds the calling fiber.
[[noreturn]] void fail(Launch& L, const std::string& msg) {
  if (!L.error) L.error = std::make_exception_ptr(Error(where(L) + ": " + msg));
  throw FiberCancelled{};
}

Launch& current_launch(const char* what) {
  Launch* L = tls_launch;
  if (!L || !L->current) outside_kernel(what);
  return *L;
}

void push_ready(Launch& L, unsigned id) {
  L.fibers[id].state = FState::kReady;
  L.ready.push_back(id);
}

// ---- switching ---------------------------------------------------------------------------
void fiber_main(Fiber* f);

#if defined(EMBER_EMU_ASM_SWITCH)
extern "C" void ember_emu_fiber_entry(void* f) { fiber_main(static_cast<Fiber*>(f)); }
#else
void fiber_entry_uc(unsigned lo, unsigned hi) {
  uintptr_t p = (uintptr_t(hi) << 32) | uintptr_t(lo);
  fiber_main(reinterpret_cast<Fiber*>(p));
}
#endif

void prepare_stack(Launch& L, Fiber& f) {
  (void)L;
  // Stacks are a power-of-two-ish distance apart, so without an offset the hot
  // top frames of all fibers would fall into the same cache sets ("coloring").
  // Stack i always serves linear thread i, so its color never changes.
  const size_t color = (f.ctx.linear % 61u) * 208u;
#if defined(EMBER_EMU_ASAN)
  // The previous fiber on this stack never returned from fiber_main /
  // switch_from, so their redzones are still poisoned. Everything deeper was
  // unwound normally or by an exception (which ASan unpoisons).
  __asan_unpoison_memory_region(f.stack_lo + f.stack_bytes - color - 8192, 8192 + color);
#endif
#if defined(EMBER_EMU_ASM_SWITCH)
  uintptr_t top = reinterpret_cast<uintptr_t>(f.stack_lo + f.stack_bytes - color) & ~uintptr_t(15);
  uintptr_t s = top - 16 - 56;  // six registers + return address; the trampoline starts with rsp = top - 16
  auto* w = reinterpret_cast<uint64_t*>(s);
  w[0] = 0;                                                     // r15
  w[1] = 0;                                                     // r14
  w[2] = reinterpret_cast<uint64_t>(&ember_emu_fiber_entry);    // r13
  w[3] = reinterpret_cast<uint64_t>(&f);                        // r12
  w[4] = 0;                                                     // rbx
  w[5] = 0;                                                     // rbp (ends frame-pointer chains)
  w[6] = reinterpret_cast<uint64_t>(&ember_emu_trampoline);     // return address
  f.sp = reinterpret_cast<void*>(s);
#else
  (void)color;
  getcontext(&f.uc);
  f.uc.uc_stack.ss_sp = f.stack_lo;
  f.uc.uc_stack.ss_size = f.stack_bytes;
  f.uc.uc_link = nullptr;
  uintptr_t p = reinterpret_cast<uintptr_t>(&f);
  makecontext(&f.uc, reinterpret_cast<void (*)()>(&fiber_entry_uc), 2, unsigned(p), unsigned(p >> 32));
#endif
}

// Takes the next runnable fiber off the ready queue (preparing its stack on
// first use), or returns nullptr when the scheduler must take over: nothing
// is runnable, an error was recorded, or the block is being cancelled.
Fiber* pick_next(Launch& L) {
  if (L.error || L.cancelling || L.ready_head == L.ready.size()) return nullptr;
  if (L.opt.shuffle_warps) {
    const size_t k = L.ready_head + splitmix64(L.rng) % (L.ready.size() - L.ready_head);
    std::swap(L.ready[L.ready_head], L.ready[k]);
  }
  const unsigned id = L.ready[L.ready_head++];
  if (L.ready_head > 4096 && L.ready_head * 2 > L.ready.size()) {
    L.ready.erase(L.ready.begin(), L.ready.begin() + static_cast<std::ptrdiff_t>(L.ready_head));
    L.ready_head = 0;
  }
  Fiber& f = L.fibers[id];
  f.state = FState::kRunning;
  if (!f.started) {
    f.started = true;
    prepare_stack(L, f);
  }
  return &f;
}

// Scheduler -> fiber; returns when some fiber switches back to the scheduler.
void resume(Launch& L, Fiber& f) {
  L.current = &f;
  tls_thread = &f.ctx;
#if defined(EMBER_EMU_ASAN)
  L.from_scheduler = true;
  __sanitizer_start_switch_fiber(&L.sched_fake_stack, f.stack_lo, f.stack_bytes);
#endif
#if defined(EMBER_EMU_ASM_SWITCH)
  ember_emu_switch(&L.sched_sp, f.sp);
#else
  swapcontext(&L.sched_uc, &f.uc);
#endif
#if defined(EMBER_EMU_ASAN)
  __sanitizer_finish_switch_fiber(L.sched_fake_stack, nullptr, nullptr);
#endif
  tls_thread = nullptr;
  L.current = nullptr;
}

// Called on the fiber's stack right after it was switched to.
inline void arrived_on_fiber(Launch& L, Fiber& f) {
#if defined(EMBER_EMU_ASAN)
  const void* bottom = nullptr;
  size_t size = 0;
  __sanitizer_finish_switch_fiber(f.asan_fake_stack, &bottom, &size);
  if (L.from_scheduler) {  // learn the scheduler's stack, to switch back to it later
    L.sched_stack_bottom = bottom;
    L.sched_stack_size = size;
    L.from_scheduler = false;
  }
#else
  (void)L;
  (void)f;
#endif
}

// The running fiber f gives up the CPU: switches straight to the next ready
// fiber (no round trip through the scheduler), or to the scheduler when none
// is. Returns when f is resumed. `final` when f has exited.
void switch_from(Launch& L, Fiber& f, bool final) {
  Fiber* next = pick_next(L);
  if (next == &f) return;  // f yielded and is the only runnable fiber
#if defined(EMBER_EMU_ASAN)
  __sanitizer_start_switch_fiber(final ? nullptr : &f.asan_fake_stack, next ? next->stack_lo : L.sched_stack_bottom,
                                 next ? next->stack_bytes : L.sched_stack_size);
#else
  (void)final;
#endif
  L.current = next;
  tls_thread = next ? &next->ctx : nullptr;
#if defined(EMBER_EMU_ASM_SWITCH)
  ember_emu_switch(&f.sp, next ? next->sp : L.sched_sp);
#else
  swapcontext(&f.uc, next ? &next->uc : &L.sched_uc);
#endif
  arrived_on_fiber(L, f);
}

// Suspends the running fiber (whose state was set to a waiting state or
// kReady); throws FiberCancelled if the block is being aborted.
void suspend(Launch& L, Fiber& f) {
  switch_from(L, f, false);
  if (L.cancelling) throw FiberCancelled{};
}

bool chance(Launch& L, unsigned one_in) { return splitmix64(L.rng) % one_in == 0; }

// Re-queues the running fiber and lets the scheduler pick another one.
void yield_now(Launch& L, Fiber& f) {
  push_ready(L, f.ctx.linear);
  suspend(L, f);
  f.state = FState::kRunning;
}

void release_barrier(Launch& L, Fiber* self) {
  int acc = L.bar_acc;
  int result = 0;
  switch (L.bar_kind) {
    case 0: result = acc; break;                                         // count
    case 1: result = (acc == static_cast<int>(L.bar_count)) ? 1 : 0; break;  // and
    case 2: result = acc > 0 ? 1 : 0; break;                             // or
    default: break;
  }
  for (Fiber& g : L.fibers) {
    if (g.state == FState::kBarrier) {
      g.bar_result = result;
      if (&g == self) {
        g.state = FState::kRunning;
      } else {
        push_ready(L, g.ctx.linear);
      }
    }
  }
  for (auto& w : L.warps) w.at_barrier = 0;
  L.bar_count = 0;
  L.bar_acc = 0;
  L.bar_kind = -1;
  L.bar_file = nullptr;
  L.bar_line = 0;
}

// Lanes of f's warp that exist in this block.
unsigned existing_lanes(const Launch& L, const Fiber& f) {
  unsigned base = f.warp * 32u;
  unsigned n = L.nthreads - base;
  return n >= 32 ? 0xffffffffu : ((1u << n) - 1u);
}

// Fails if a lane of f's warp waits in a collective whose mask contains f
// (f is about to do something else: exit or wait at a barrier).
template <class Doing>
void check_no_lane_waits_for(Launch& L, const Fiber& f, Doing doing) {
  const unsigned base = f.warp * 32u;
  for (unsigned bits = L.warps[f.warp].waiting & ~(1u << f.lane); bits; bits &= bits - 1) {
    const Fiber& g = L.fibers[base + static_cast<unsigned>(__builtin_ctz(bits))];
    if (g.mask & (1u << f.lane)) {
      fail(L, thread_name(f) + " " + doing() + " while " + thread_name(g) + " " + wait_desc(L, g) +
                  ", whose mask includes lane " + std::to_string(f.lane));
    }
  }
}

void fiber_main(Fiber* fp) {
  Fiber& f = *fp;
  Launch& L = *f.launch;
  arrived_on_fiber(L, f);
  try {
    if (!L.cancelling) {
      L.thunk.fn(L.thunk.ctx);
      // Normal exit.
      f.state = FState::kDone;
      L.live -= 1;
      L.warps[f.warp].exited |= 1u << f.lane;
      check_no_lane_waits_for(L, f, [] { return std::string("exited"); });
      if (L.bar_count > 0 && L.bar_count == L.live) release_barrier(L, nullptr);
    }
  } catch (const FiberCancelled&) {
  } catch (const Error& e) {
    if (!L.error) {
      L.error = std::make_exception_ptr(
          Error(std::string(e.what()) + " [thrown in " + where(L) + ", " + thread_name(f) + "]"));
    }
  } catch (...) {
    if (!L.error) L.error = std::current_exception();
  }
  if (f.state != FState::kDone) {
    f.state = FState::kDone;
    L.live -= 1;
    L.warps[f.warp].exited |= 1u << f.lane;
  }
  switch_from(L, f, true);
  std::abort();  // never resumed
}

std::string deadlock_report(const Launch& L) {
  std::ostringstream os;
  os << where(L) << ": deadlock: no thread can make progress;";
  int shown = 0;
  for (const Fiber& f : L.fibers) {
    if (f.state == FState::kDone) continue;
    if (shown++ == 8) {
      os << " ...";
      break;
    }
    os << " " << thread_name(f) << " " << wait_desc(L, f) << ";";
  }
  os << " (" << L.live << " of " << L.nthreads << " threads not exited)";
  return os.str();
}

void run_block(Launch& L) {
  const unsigned n = L.nthreads;
  const dim3 bd = L.bctx.block_dim;
  L.ready.clear();
  L.ready_head = 0;
  L.live = n;
  L.bar_count = 0;
  L.bar_acc = 0;
  L.bar_kind = -1;
  L.cancelling = false;
  L.warps.assign((n + 31) / 32, Launch::WarpBits{});
  for (unsigned i = 0; i < n; ++i) {
    Fiber& f = L.fibers[i];
    f.ctx.linear = i;
    f.ctx.thread_idx = uint3{i % bd.x, (i / bd.x) % bd.y, i / (bd.x * bd.y)};
    f.warp = i / 32u;
    f.lane = i % 32u;
    f.state = FState::kReady;
    f.started = false;
    f.asan_fake_stack = nullptr;
    L.ready.push_back(i);
  }
  if (L.bctx.dynamic_shared_bytes) std::memset(L.bctx.dynamic_shared, 0xFF, L.bctx.dynamic_shared_bytes);

  // Fibers hand the CPU to each other directly; control comes back here only
  // when nothing is runnable, or on an error.
  while (Fiber* f = pick_next(L)) resume(L, *f);
  if (!L.error && L.live != 0) L.error = std::make_exception_ptr(Error(deadlock_report(L)));
  if (L.error) {
    // Unwind every suspended fiber so destructors run and stacks are clean.
    L.cancelling = true;
    for (Fiber& f : L.fibers) {
      if (f.state == FState::kDone) continue;
      if (!f.started) {
        f.state = FState::kDone;
        continue;
      }
      resume(L, f);
    }
  }
}

struct LaunchGuard {
  Launch*& slot;
  ~LaunchGuard() {
    slot = nullptr;
    tls_thread = nullptr;
    tls_block = nullptr;
  }
};

}  // namespace

[[noreturn]] void outside_kernel(const char* what) {
  throw Error(std::string("kernel emulator: ") + what +
              " used outside an emulated kernel (only valid in code run by emu::launch)");
}

void launch_impl(const char* name, dim3 grid, dim3 block, size_t shmem, Thunk thunk) {
  EMBER_CHECK(tls_launch == nullptr, "emulated kernel '" << name << "': launching a kernel from inside a kernel "
                                                              "(dynamic parallelism) is not supported");
  Options opt = options();
  const std::string cfg = "grid " + dims(grid) + ", block " + dims(block) + ", " + std::to_string(shmem) +
                          " bytes of dynamic shared memory";
  EMBER_CHECK(grid.x >= 1 && grid.y >= 1 && grid.z >= 1,
              "emulated kernel '" << name << "': invalid launch configuration (" << cfg
                                  << "): every grid dimension must be >= 1");
  EMBER_CHECK(block.x >= 1 && block.y >= 1 && block.z >= 1,
              "emulated kernel '" << name << "': invalid launch configuration (" << cfg
                                  << "): every block dimension must be >= 1");
  EMBER_CHECK(grid.x <= 2147483647u && grid.y <= 65535u && grid.z <= 65535u,
              "emulated kernel '" << name << "': invalid launch configuration (" << cfg
                                  << "): grid dimensions are limited to (2^31-1, 65535, 65535)");
  EMBER_CHECK(block.x <= 1024u && block.y <= 1024u && block.z <= 64u,
              "emulated kernel '" << name << "': invalid launch configuration (" << cfg
                                  << "): block dimensions are limited to (1024, 1024, 64)");
  const uint64_t nthreads = uint64_t(block.x) * block.y * block.z;
  EMBER_CHECK(nthreads <= static_cast<uint64_t>(opt.max_threads_per_block),
              "emulated kernel '" << name << "': invalid launch configuration (" << cfg << "): " << nthreads
                                  << " threads per block, the limit is " << opt.max_threads_per_block);
  EMBER_CHECK(shmem <= kMaxDynamicSharedBytes,
              "emulated kernel '" << name << "': invalid launch configuration (" << cfg << "): " << shmem
                                  << " bytes of dynamic shared memory, the limit is " << kMaxDynamicSharedBytes);

  Launch L;
  L.kernel = name;
  L.thunk = thunk;
  L.opt = opt;
  L.nthreads = static_cast<unsigned>(nthreads);
  L.bctx.block_dim = block;
  L.bctx.grid_dim = grid;
  // Seeded per launch configuration, so the same launch is reproducible.
  L.rng = opt.seed ^ 0x6A09E667F3BCC908ull;
  for (const char* p = name; *p; ++p) L.rng = (L.rng ^ static_cast<unsigned char>(*p)) * 0x100000001B3ull;
  L.rng ^= (uint64_t(grid.x) << 32) ^ (uint64_t(grid.y) << 16) ^ grid.z ^ (uint64_t(nthreads) << 48);
  splitmix64(L.rng);

  // Dynamic shared memory: exactly `shmem` bytes, so ASan sees overruns.
  struct Shared {
    unsigned char* p;
    ~Shared() { ::operator delete(p, std::align_val_t(128)); }
  } smem{static_cast<unsigned char*>(::operator new(shmem ? shmem : 1, std::align_val_t(128)))};
  L.bctx.dynamic_shared = smem.p;
  L.bctx.dynamic_shared_bytes = shmem;

  tls_pool.ensure(L.nthreads, opt.stack_bytes);
  L.fibers.resize(L.nthreads);
  for (unsigned i = 0; i < L.nthreads; ++i) {
    L.fibers[i].launch = &L;
    L.fibers[i].stack_lo = tls_pool.stacks[i];
    L.fibers[i].stack_bytes = tls_pool.bytes;
  }
  L.ready.reserve(L.nthreads * 2);

  tls_launch = &L;
  tls_block = &L.bctx;
  LaunchGuard guard{tls_launch};

  const uint64_t nblocks = uint64_t(grid.x) * grid.y * grid.z;
  // Block order: identity, or a seeded permutation (Fisher-Yates up to 2^22
  // blocks, a seeded affine bijection beyond).
  std::vector<uint32_t> perm;
  uint64_t mul = 1, add = 0;
  if (opt.shuffle_blocks && nblocks > 1) {
    if (nblocks <= (uint64_t(1) << 22)) {
      perm.resize(nblocks);
      for (uint64_t i = 0; i < nblocks; ++i) perm[i] = static_cast<uint32_t>(i);
      for (uint64_t i = nblocks - 1; i > 0; --i) std::swap(perm[i], perm[splitmix64(L.rng) % (i + 1)]);
    } else {
      add = splitmix64(L.rng) % nblocks;
      do {
        mul = splitmix64(L.rng) % nblocks;
      } while (mul == 0 || std::gcd(mul, nblocks) != 1);
    }
  }
  for (uint64_t i = 0; i < nblocks; ++i) {
    uint64_t b = perm.empty() ? static_cast<uint64_t>((static_cast<unsigned __int128>(i) * mul + add) % nblocks)
                              : perm[i];
    L.bctx.block_idx = uint3{static_cast<unsigned>(b % grid.x), static_cast<unsigned>((b / grid.x) % grid.y),
                             static_cast<unsigned>(b / (uint64_t(grid.x) * grid.y))};
    run_block(L);
    if (L.error) std::rethrow_exception(L.error);
  }
}

void syncthreads(const char* file, int line) { syncthreads_reduce(-1, 0, file, line); }

int syncthreads_reduce(int kind, int pred, const char* file, int line) {
  Launch& L = current_launch(barrier_name(kind));
  Fiber& f = *L.current;
  check_no_lane_waits_for(L, f, [&] {
    return std::string("reached ") + barrier_name(kind) + " at " + file + ":" + std::to_string(line);
  });
  if (L.bar_count > 0) {
    if (L.bar_line != line || L.bar_kind != kind || std::strcmp(L.bar_file, file) != 0) {
      const Fiber* other = nullptr;
      for (const Fiber& g : L.fibers)
        if (g.state == FState::kBarrier) {
          other = &g;
          break;
        }
      fail(L, std::string("divergent ") + barrier_name(kind) + ": " + thread_name(f) + " reached " +
                  barrier_name(kind) + " at " + file + ":" + std::to_string(line) + " while " +
                  (other ? thread_name(*other) : std::string("another thread")) + " waits at " +
                  barrier_name(L.bar_kind) + " at " + L.bar_file + ":" + std::to_string(L.bar_line) +
                  " (every non-exited thread of the block must reach the same barrier)");
    }
  } else {
    L.bar_file = file;
    L.bar_line = line;
    L.bar_kind = kind;
  }
  f.state = FState::kBarrier;
  L.warps[f.warp].at_barrier |= 1u << f.lane;
  L.bar_count += 1;
  L.bar_acc += pred;
  if (L.bar_count == L.live) {
    // Release everybody and queue behind them, so that in the deterministic
    // mode threads leave the barrier in thread order.
    release_barrier(L, &f);
    yield_now(L, f);
  } else {
    suspend(L, f);
    f.state = FState::kRunning;
  }
  return f.bar_result;
}

unsigned active_mask() {
  Launch& L = current_launch("__activemask");
  const Fiber& f = *L.current;
  return existing_lanes(L, f) & ~L.warps[f.warp].exited;
}

void preempt_point() {
  Launch* L = tls_launch;
  if (!L || !L->current || !L->opt.shuffle_warps || L->cancelling) return;
  if (chance(*L, 4)) yield_now(*L, *L->current);
}

namespace {
uint64_t poison_bits(int size) { return size == 8 ? ~uint64_t(0) : uint64_t(0xFFFFFFFFu); }

bool same_value(uint64_t a, uint64_t b, int size) {
  return size == 8 ? a == b : static_cast<uint32_t>(a) == static_cast<uint32_t>(b);
}

// All lanes in `mask` have arrived at the same collective: compute results.
__attribute__((noinline)) void complete_collective(Launch& L, unsigned base, unsigned mask, int op) {
  Fiber* lanes[32] = {};
  for (unsigned j = 0; j < 32; ++j)
    if (mask & (1u << j)) lanes[j] = &L.fibers[base + j];
  unsigned ballot = 0;
  for (unsigned j = 0; j < 32; ++j)
    if (lanes[j] && static_cast<uint32_t>(lanes[j]->in) != 0) ballot |= 1u << j;
  for (unsigned j = 0; j < 32; ++j) {
    Fiber* g = lanes[j];
    if (!g) continue;
    const int w = g->width;
    const unsigned seg = j & ~unsigned(w - 1);
    long src = -1;  // -1: own value
    switch (op) {
      case kShflIdx: src = static_cast<long>(seg + (static_cast<unsigned>(g->param) & unsigned(w - 1))); break;
      case kShflUp: {
        unsigned d = static_cast<unsigned>(g->param);
        src = ((j & unsigned(w - 1)) < d) ? -1 : static_cast<long>(j - d);
        break;
      }
      case kShflDown: {
        unsigned d = static_cast<unsigned>(g->param);
        src = ((j & unsigned(w - 1)) + uint64_t(d) >= unsigned(w)) ? -1 : static_cast<long>(j + d);
        break;
      }
      case kShflXor: {
        unsigned s = j ^ static_cast<unsigned>(g->param);
        src = (s >= seg + unsigned(w) || s > 31) ? -1 : static_cast<long>(s);
        break;
      }
      default: break;
    }
    switch (op) {
      case kShflIdx:
      case kShflUp:
      case kShflDown:
      case kShflXor:
        if (src < 0) {
          g->out = g->in;
        } else if (lanes[src]) {
          g->out = lanes[src]->in;
        } else {
          g->out = poison_bits(g->size);  // source lane not in the mask: undefined in CUDA
        }
        break;
      case kBallot: g->out = ballot; break;
      case kAny: g->out = ballot != 0 ? 1 : 0; break;
      case kAll: g->out = ballot == mask ? 1 : 0; break;
      case kSyncWarp: g->out = 0; break;
      case kReduceAdd: {
        uint32_t s = 0;
        for (unsigned k = 0; k < 32; ++k)
          if (lanes[k]) s += static_cast<uint32_t>(lanes[k]->in);
        g->out = s;
        break;
      }
      case kReduceMin:
      case kReduceMax: {
        bool is_signed = g->param != 0;
        int64_t best = 0;
        bool first = true;
        for (unsigned k = 0; k < 32; ++k) {
          if (!lanes[k]) continue;
          uint32_t b = static_cast<uint32_t>(lanes[k]->in);
          int64_t v = is_signed ? int64_t(static_cast<int32_t>(b)) : int64_t(b);
          if (first || (op == kReduceMin ? v < best : v > best)) best = v;
          first = false;
        }
        g->out = static_cast<uint32_t>(best);
        break;
      }
      case kMatchAny: {
        unsigned m = 0;
        for (unsigned k = 0; k < 32; ++k)
          if (lanes[k] && same_value(lanes[k]->in, g->in, g->size)) m |= 1u << k;
        g->out = m;
        break;
      }
      default: break;
    }
  }
}
}  // namespace

namespace {
enum class CollErr { kSelfNotInMask, kBadWidth, kNoSuchLane, kLaneUnavailable, kInconsistent };

// Builds the message for a misused warp collective (kept out of the hot path).
[[noreturn]] __attribute__((noinline, cold)) void collective_error(Launch& L, const Fiber& f, CollErr e, int op,
                                                                    unsigned mask, int width, const char* file,
                                                                    int line, unsigned other_lane) {
  const std::string head = thread_name(f) + " called " + op_name(op) + " at " + file + ":" + std::to_string(line);
  const Fiber& g = L.fibers[f.warp * 32u + (other_lane & 31u)];
  switch (e) {
    case CollErr::kSelfNotInMask:
      fail(L, head + " with mask " + hex(mask) + " that does not include its own lane " + std::to_string(f.lane));
    case CollErr::kBadWidth:
      fail(L, head + " with width " + std::to_string(width) + " (must be a power of two in [1, 32])");
    case CollErr::kNoSuchLane:
      fail(L, head + " with mask " + hex(mask) + " naming lanes that do not exist (the block has " +
                  std::to_string(L.nthreads) + " threads, warp " + std::to_string(f.warp) + " has lanes " +
                  hex(existing_lanes(L, f)) + ")");
    case CollErr::kLaneUnavailable:
      fail(L, head + " with mask " + hex(mask) + " but lane " + std::to_string(other_lane) + " " + wait_desc(L, g));
    case CollErr::kInconsistent:
      fail(L, head + " with mask " + hex(mask) + " while " + thread_name(g) + " " + wait_desc(L, g) +
                  " (every lane in the mask must reach the same collective with the same mask)");
  }
  fail(L, head);
}
}  // namespace

uint64_t warp_collective(int op, unsigned mask, uint64_t bits, int size, int param, int width, const char* file,
                         int line) {
  Launch& L = current_launch(op_name(op));
  Fiber& f = *L.current;
  const unsigned me = 1u << f.lane;
  const unsigned base = f.warp * 32u;
  auto error = [&](CollErr e, unsigned other) { collective_error(L, f, e, op, mask, width, file, line, other); };
  if (!(mask & me)) error(CollErr::kSelfNotInMask, 0);
  if (op <= kShflXor && (width < 1 || width > 32 || (width & (width - 1)) != 0)) error(CollErr::kBadWidth, 0);
  if (mask & ~existing_lanes(L, f)) error(CollErr::kNoSuchLane, 0);
  f.file = file;
  f.line = line;
  f.op = op;
  f.mask = mask;
  f.in = bits;
  f.size = size;
  f.param = param;
  f.width = width;
  Launch::WarpBits& wb = L.warps[f.warp];
  if (unsigned bad = mask & (wb.exited | wb.at_barrier)) error(CollErr::kLaneUnavailable, __builtin_ctz(bad));
  // A collective completes when every lane of the mask waits in a collective
  // of the same kind with the same mask (any call site, as in PTX). Lanes of
  // the mask may meanwhile wait in other collectives that do not need this
  // lane; one that does (each waits for the other) is a deadlock.
  if (wb.group_arrived == 0 && (wb.group_op != op || wb.group_mask != mask)) {
    wb.group_op = op;
    wb.group_mask = mask;
    for (unsigned b = wb.waiting & mask; b; b &= b - 1) {  // lanes that arrived while another group was cached
      const Fiber& g = L.fibers[base + static_cast<unsigned>(__builtin_ctz(b))];
      if (g.op == op && g.mask == mask) wb.group_arrived |= b & (~b + 1);
    }
  }
  const bool in_group = wb.group_op == op && wb.group_mask == mask;
  unsigned matching = in_group ? wb.group_arrived : 0u;
  for (unsigned b = (wb.waiting & mask) & ~matching; b; b &= b - 1) {  // other collectives (rare)
    const unsigned j = static_cast<unsigned>(__builtin_ctz(b));
    const Fiber& g = L.fibers[base + j];
    if (g.op == op && g.mask == mask) {
      matching |= 1u << j;
    } else if (g.mask & me) {
      error(CollErr::kInconsistent, j);
    }
  }
  if ((matching | me) != mask) {
    f.state = FState::kWarp;
    wb.waiting |= me;
    if (in_group) wb.group_arrived |= me;
    suspend(L, f);
    f.state = FState::kRunning;
    return f.out;
  }
  wb.waiting &= ~mask;
  if (in_group) wb.group_arrived = 0;
  complete_collective(L, base, mask, op);
  for (unsigned b = mask & ~me; b; b &= b - 1) push_ready(L, base + static_cast<unsigned>(__builtin_ctz(b)));
  const uint64_t out = f.out;
  if (L.opt.shuffle_warps && chance(L, 2)) yield_now(L, f);
  return out;
}

}  // namespace detail
}  // namespace emu
}  // namespace ember
