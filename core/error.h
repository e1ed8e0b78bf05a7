// ember::Error and the checking macros used everywhere.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace ember {

// The one exception type of the engine. Every misuse (shape, dtype, device,
// index, file format, CUDA failure) throws it with a readable message.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& msg) : std::runtime_error(msg) {}
};

namespace detail {
[[noreturn]] inline void throw_error(const char* file, int line, const std::string& msg) {
  std::ostringstream os;
  os << msg << " [" << file << ":" << line << "]";
  throw Error(os.str());
}
}  // namespace detail

}  // namespace ember

// EMBER_CHECK(cond, "message " << value): throws ember::Error naming file:line.
#define EMBER_CHECK(cond, msg)                                   \
  do {                                                           \
    if (!(cond)) {                                               \
      std::ostringstream ember_check_os_;                        \
      ember_check_os_ << msg;                                    \
      ::ember::detail::throw_error(__FILE__, __LINE__, ember_check_os_.str()); \
    }                                                            \
  } while (0)

#define EMBER_FAIL(msg)                                                        \
  do {                                                                         \
    std::ostringstream ember_fail_os_;                                         \
    ember_fail_os_ << msg;                                                     \
    ::ember::detail::throw_error(__FILE__, __LINE__, ember_fail_os_.str());    \
  } while (0)
