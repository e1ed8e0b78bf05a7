#include "engine/io/interrupt.h"

#include <atomic>
#include <csignal>

namespace ember {

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void ember_on_signal(int) { g_interrupted.store(true); }
}  // namespace

void install_interrupt_handler() {
  struct sigaction sa {};
  sa.sa_handler = ember_on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

bool interrupt_requested() { return g_interrupted.load(); }
void clear_interrupt() { g_interrupted.store(false); }
void request_interrupt() { g_interrupted.store(true); }

}  // namespace ember
