// Binary files that are never trusted: checksums, atomic writes, bounds-checked
// reads. Shared by the graph cache, the HNSW index files and (other modules)
// checkpoints.
//
//   checksum64 / Checksum64   XXH64 (libxxhash, the same digests as ember's earlier own code)
//   write_file_atomic         write `path.tmp.<pid>.<seq>`, fsync, rename
//   BinaryWriter / Reader     typed put/get; every read is bounds-checked and
//                             throws ember::Error naming the file and offset
//   Container files           64-byte header (magic, version, payload size,
//                             payload checksum, header checksum) + payload;
//                             ContainerFileWriter streams and commits
//                             atomically, ContainerFileReader validates the
//                             header against the real file size before any
//                             allocation and the checksum at finish().
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "core/array.h"
#include "core/error.h"

namespace ember {

// ---- checksums -----------------------------------------------------------------
// One-shot 64-bit hash of a byte range (XXH64 algorithm, seed 0 by default).
uint64_t checksum64(const void* data, size_t bytes, uint64_t seed = 0);

// Incremental version: feeding the same bytes in any chunking gives the same
// digest as checksum64.
class Checksum64 {
 public:
  explicit Checksum64(uint64_t seed = 0);
  ~Checksum64();
  Checksum64(Checksum64&&) noexcept;
  Checksum64& operator=(Checksum64&&) noexcept;
  void update(const void* data, size_t bytes);
  uint64_t digest() const;
  uint64_t total_bytes() const { return total_; }

 private:
  struct State;  // XXH64_state_t (engine/io/binary_io.cpp)
  std::unique_ptr<State> state_;
  uint64_t total_ = 0;
};

// ---- whole files ----------------------------------------------------------------
// Writes bytes to `path` atomically: a reader sees the old file or the complete
// new one, never a partial file. Throws ember::Error naming the path.
void write_file_atomic(const std::string& path, const void* data, size_t bytes);
// Removes the temporary files `<name>.tmp.<pid>.<seq>` in dir (not its
// subfolders) whose writer process no longer exists: what a SIGKILL during
// an atomic write leaves behind. Files of live processes (this one included)
// are kept. Returns how many were removed; a missing dir gives 0.
int remove_stale_temp_files(const std::string& dir);
inline void write_file_atomic(const std::string& path, const std::vector<uint8_t>& bytes) {
  write_file_atomic(path, bytes.data(), bytes.size());
}
// Whole file into memory; throws naming the path when missing or unreadable.
std::vector<uint8_t> read_file_bytes(const std::string& path);
std::string read_file_text(const std::string& path);
bool file_exists(const std::string& path);
// File size in bytes, -1 when the file does not exist.
int64_t file_size(const std::string& path);

// ---- typed writers --------------------------------------------------------------
// Arrays written with put_aligned_array start at a multiple of this many
// bytes of the payload (and of the file, for container files, whose header is
// 64 bytes), so a reader can map the file and view them in place.
constexpr size_t kArrayAlignment = 64;

class BinaryWriter {
 public:
  virtual ~BinaryWriter() = default;
  virtual void write_bytes(const void* data, size_t bytes) = 0;
  // Bytes written so far.
  virtual uint64_t position() const = 0;

  template <typename T> void put(const T& v) {
    static_assert(std::is_trivially_copyable<T>::value, "put() needs a trivially copyable type");
    write_bytes(&v, sizeof(T));
  }
  // u64 element count, then the elements.
  template <typename T> void put_array(const T* p, size_t n) {
    static_assert(std::is_trivially_copyable<T>::value, "put_array() needs a trivially copyable type");
    put<uint64_t>(n);
    if (n) write_bytes(p, n * sizeof(T));
  }
  template <typename T> void put_vector(const std::vector<T>& v) { put_array(v.data(), v.size()); }
  template <typename T> void put_vector(const Array<T>& v) { put_array(v.data(), v.size()); }
  // u64 element count, zero bytes up to the next multiple of kArrayAlignment,
  // then the elements: what MappedContainerReader::get_array views in place.
  template <typename T> void put_aligned_array(const T* p, size_t n) {
    static_assert(std::is_trivially_copyable<T>::value && kArrayAlignment % alignof(T) == 0,
                  "put_aligned_array() needs a trivially copyable type");
    put<uint64_t>(n);
    static const unsigned char zeros[kArrayAlignment] = {};
    const size_t pad = static_cast<size_t>((kArrayAlignment - position() % kArrayAlignment) % kArrayAlignment);
    if (pad) write_bytes(zeros, pad);
    if (n) write_bytes(p, n * sizeof(T));
  }
  template <typename T> void put_aligned_array(const Array<T>& v) { put_aligned_array(v.data(), v.size()); }
  void put_string(const std::string& s) { put_array(s.data(), s.size()); }
};

// Accumulates into memory; bytes() can then go to write_file_atomic.
class MemoryWriter final : public BinaryWriter {
 public:
  void write_bytes(const void* data, size_t bytes) override;
  uint64_t position() const override { return bytes_.size(); }
  const std::vector<uint8_t>& bytes() const { return bytes_; }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Streams bytes into `path.tmp.<pid>.<seq>`; commit() fsyncs and renames onto
// `path` (readers see the old file or the complete new one). Destroying an
// uncommitted writer removes the temporary file. For outputs too large to
// build in memory (candidate lists of every user).
class AtomicFileWriter final : public BinaryWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter() override;
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;
  void write_bytes(const void* data, size_t bytes) override;
  void write_text(const std::string& s) { write_bytes(s.data(), s.size()); }
  uint64_t position() const override { return written_; }
  void commit();
  uint64_t bytes_written() const { return written_; }

 private:
  void flush_buffer();
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
  uint64_t written_ = 0;
  std::vector<unsigned char> buf_;
};

// ---- typed readers --------------------------------------------------------------
class BinaryReader {
 public:
  virtual ~BinaryReader() = default;
  // Reads exactly `bytes` or throws ("truncated") naming source() and offset().
  virtual void read_bytes(void* out, size_t bytes, const char* what) = 0;
  virtual uint64_t remaining() const = 0;
  virtual uint64_t offset() const = 0;
  virtual const std::string& source() const = 0;

  template <typename T> T get(const char* what) {
    static_assert(std::is_trivially_copyable<T>::value, "get() needs a trivially copyable type");
    T v;
    read_bytes(&v, sizeof(T), what);
    return v;
  }
  // Reads a u64 count and the elements. The count is checked against the bytes
  // left (and max_count) BEFORE allocating, so a corrupted count cannot make
  // the reader allocate more than the file holds.
  template <typename T> std::vector<T> get_vector(const char* what, uint64_t max_count = UINT64_MAX) {
    static_assert(std::is_trivially_copyable<T>::value, "get_vector() needs a trivially copyable type");
    uint64_t n = get<uint64_t>(what);
    check_count(n, sizeof(T), max_count, what);
    std::vector<T> v(static_cast<size_t>(n));
    if (n) read_bytes(v.data(), static_cast<size_t>(n) * sizeof(T), what);
    return v;
  }
  std::string get_string(const char* what, uint64_t max_len = 1 << 20) {
    auto v = get_vector<char>(what, max_len);
    return std::string(v.begin(), v.end());
  }
  // Throws unless count * elem_size <= remaining() and count <= max_count.
  void check_count(uint64_t count, size_t elem_size, uint64_t max_count, const char* what) const;
};

// Reads from a byte range (not owned). `source` names it in errors.
class MemoryReader final : public BinaryReader {
 public:
  MemoryReader(const void* data, size_t bytes, std::string source);
  void read_bytes(void* out, size_t bytes, const char* what) override;
  uint64_t remaining() const override { return size_ - pos_; }
  uint64_t offset() const override { return pos_; }
  const std::string& source() const override { return source_; }

 private:
  const unsigned char* data_;
  size_t size_, pos_ = 0;
  std::string source_;
};

// ---- container files ------------------------------------------------------------
// Layout (little-endian):
//   0  char[8] magic   8 u32 format version   12 u32 header size (64)
//   16 u64 payload bytes   24 u64 payload checksum64   32..55 reserved (0)
//   56 u64 checksum64 of bytes 0..55
//   64 payload
constexpr size_t kContainerHeaderBytes = 64;

// Streams a payload into `path.tmp.<pid>.<seq>`; commit() writes the header,
// fsyncs and renames onto `path`. Destroying an uncommitted writer removes the
// temporary file (the target path is untouched).
class ContainerFileWriter final : public BinaryWriter {
 public:
  // magic: up to 8 characters (padded with zeros).
  ContainerFileWriter(std::string path, const std::string& magic, uint32_t version);
  ~ContainerFileWriter() override;
  ContainerFileWriter(const ContainerFileWriter&) = delete;
  ContainerFileWriter& operator=(const ContainerFileWriter&) = delete;
  void write_bytes(const void* data, size_t bytes) override;
  uint64_t position() const override { return payload_bytes_; }  // payload bytes
  void commit();

 private:
  void flush_buffer();
  std::string path_, tmp_;
  int fd_ = -1;
  bool committed_ = false;
  char magic_[8];
  uint32_t version_;
  Checksum64 hash_;
  uint64_t payload_bytes_ = 0;
  std::vector<unsigned char> buf_;
};

// What a valid container header says.
struct ContainerHeaderInfo {
  uint32_t version = 0;
  uint64_t payload_bytes = 0, payload_checksum = 0;
};
// Validates the first kContainerHeaderBytes bytes of a container file of
// `file_size` bytes: magic, header checksum, header size, version in
// [min_version, max_version], payload size == file_size - 64. Throws
// ember::Error naming `path`. Shared by ContainerFileReader and
// MappedContainerReader (engine/io/mapped_file.h).
ContainerHeaderInfo check_container_header(const void* header, uint64_t file_size, const std::string& path,
                                           const std::string& magic, uint32_t min_version, uint32_t max_version);

// Opens and validates a container file: size >= header, magic, header
// checksum, version in [min_version, max_version], payload size == file size -
// 64. Payload reads are bounds-checked and hashed; finish() throws unless the
// whole payload was read and its checksum matches. Nothing read before
// finish() returns may be trusted.
class ContainerFileReader final : public BinaryReader {
 public:
  ContainerFileReader(std::string path, const std::string& magic, uint32_t min_version,
                      uint32_t max_version);
  ~ContainerFileReader() override;
  ContainerFileReader(const ContainerFileReader&) = delete;
  ContainerFileReader& operator=(const ContainerFileReader&) = delete;
  void read_bytes(void* out, size_t bytes, const char* what) override;
  uint64_t remaining() const override { return payload_bytes_ - pos_; }
  uint64_t offset() const override { return kContainerHeaderBytes + pos_; }
  const std::string& source() const override { return path_; }
  uint32_t version() const { return version_; }
  uint64_t payload_bytes() const { return payload_bytes_; }
  void finish();

 private:
  std::string path_;
  int fd_ = -1;
  uint32_t version_ = 0;
  uint64_t payload_bytes_ = 0, payload_checksum_ = 0, pos_ = 0;
  Checksum64 hash_;
};

// One-shot helpers over the container format.
void write_container_file(const std::string& path, const std::string& magic, uint32_t version,
                          const void* payload, size_t bytes);
std::vector<uint8_t> read_container_file(const std::string& path, const std::string& magic,
                                         uint32_t min_version, uint32_t max_version,
                                         uint32_t* version_out = nullptr);

}  // namespace ember
