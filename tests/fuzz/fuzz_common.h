// Shared helpers of the libFuzzer targets (docs/reliability.md, "Fuzzing").
//
// Contract of every target: the input becomes a file, the loader runs on it,
// and the only acceptable outcomes are a result or ember::Error. Anything else
// (a crash or sanitizer report, another exception type escaping, a hang past
// -timeout, an allocation past -malloc_limit_mb / -rss_limit_mb) is a finding.
#pragma once
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/io/binary_io.h"

namespace ember_fuzz {

// A per-process scratch directory (tmpfs when available).
inline const std::string& scratch_dir() {
  static const std::string dir = [] {
    struct stat st;
    std::string base = (::stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && ::access("/dev/shm", W_OK) == 0)
                           ? "/dev/shm"
                           : "/tmp";
    std::string d = base + "/ember_fuzz_" + std::to_string(::getpid());
    ::mkdir(d.c_str(), 0755);
    return d;
  }();
  return dir;
}

// Writes bytes to <scratch>/<name> (plain write: the loaders must cope with any file).
inline std::string write_input(const std::string& name, const uint8_t* data, size_t size) {
  std::string path = scratch_dir() + "/" + name;
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) __builtin_trap();
  size_t done = 0;
  while (done < size) {
    ssize_t w = ::write(fd, data + done, size - done);
    if (w <= 0) __builtin_trap();
    done += static_cast<size_t>(w);
  }
  ::close(fd);
  return path;
}

// A container file (engine/io/binary_io.h) around `payload` with a valid header
// and checksums, so the fuzzer reaches the payload parser past the checksum.
inline std::vector<uint8_t> wrap_container(const char* magic, uint32_t version, const uint8_t* payload, size_t size) {
  std::vector<uint8_t> out(ember::kContainerHeaderBytes + size, 0);
  std::memcpy(out.data(), magic, std::min<size_t>(8, std::strlen(magic)));
  const uint32_t header_bytes = ember::kContainerHeaderBytes;
  const uint64_t payload_bytes = size;
  const uint64_t payload_sum = ember::checksum64(payload, size);
  std::memcpy(out.data() + 8, &version, 4);
  std::memcpy(out.data() + 12, &header_bytes, 4);
  std::memcpy(out.data() + 16, &payload_bytes, 8);
  std::memcpy(out.data() + 24, &payload_sum, 8);
  const uint64_t header_sum = ember::checksum64(out.data(), 56);
  std::memcpy(out.data() + 56, &header_sum, 8);
  if (size) std::memcpy(out.data() + ember::kContainerHeaderBytes, payload, size);
  return out;
}

// Inputs starting with 'W' are payloads to wrap in a valid container header;
// anything else is the whole file. Returns the path of the file to load.
inline std::string container_input(const std::string& name, const char* magic, uint32_t version, const uint8_t* data,
                                   size_t size) {
  if (size >= 1 && data[0] == 'W') {
    std::vector<uint8_t> f = wrap_container(magic, version, data + 1, size - 1);
    return write_input(name, f.data(), f.size());
  }
  return write_input(name, data, size);
}

// Runs fn; ember::Error is an accepted outcome, any other exception escapes
// (libFuzzer reports it as a crash: "deadly signal" after std::terminate).
template <class Fn>
inline void accept_error(Fn&& fn) {
  try {
    fn();
  } catch (const ember::Error&) {
  }
}

}  // namespace ember_fuzz
