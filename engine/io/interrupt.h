// Cooperative interruption of long work (Ctrl-C). The driver installs the
// SIGINT/SIGTERM handler; the trainer polls interrupt_requested() after each
// step, writes a checkpoint and returns with TrainResult::interrupted set, and
// the driver exits with status 130. The flag is process-wide by nature (a
// signal is), a documented part of the context like the allocators.
#pragma once

namespace ember {

// Installs handlers for SIGINT and SIGTERM that only set the flag.
void install_interrupt_handler();
bool interrupt_requested();
void clear_interrupt();
// For tests: behave as if the signal had arrived.
void request_interrupt();

}  // namespace ember
