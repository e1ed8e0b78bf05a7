// Memory-mapped, read-only-by-contract files: the graph cache is mapped, not
// read, so the processes of one machine (the ranks of an mpirun job) share one
// page-cache copy of the graph and its feature matrix instead of each holding
// its own (docs/distributed.md, "Memory per rank").
//
//   MappedFile             RAII mapping of a whole file (private, so a write
//                          through it copies that page for this process only
//                          and the file never changes); shared_ptr-owned, so
//                          Array views (core/array.h) keep it alive.
//   MappedContainerReader  a container file (engine/io/binary_io.h) read
//                          through a mapping: header checked as
//                          ContainerFileReader does, the payload checksum
//                          verified before any value is handed out, and
//                          get_array() returning views of arrays written by
//                          BinaryWriter::put_aligned_array.
//
// A file replaced by write_file_atomic / ContainerFileWriter (a rename) while
// mapped keeps the old contents for the mapping; a file truncated in place
// while mapped would fault, which is why ember's writers never do that.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "core/array.h"
#include "engine/io/binary_io.h"

namespace ember {

class MappedFile {
 public:
  // Maps all of `path`. Throws ember::Error naming the path when it is
  // missing, not a regular file or cannot be mapped.
  static std::shared_ptr<MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  unsigned char* data() const { return data_; }
  uint64_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  unsigned char* data_ = nullptr;
  uint64_t size_ = 0;
  std::string path_;
};

class MappedContainerReader final : public BinaryReader {
 public:
  // Maps `path`, checks the header and verifies the payload checksum; throws
  // ember::Error naming the file on any problem.
  MappedContainerReader(const std::string& path, const std::string& magic, uint32_t min_version,
                        uint32_t max_version);

  void read_bytes(void* out, size_t bytes, const char* what) override;
  uint64_t remaining() const override { return payload_bytes_ - pos_; }
  uint64_t offset() const override { return kContainerHeaderBytes + pos_; }
  const std::string& source() const override { return file_->path(); }
  uint32_t version() const { return version_; }

  // An array written by put_aligned_array, viewed in place (no copy): the
  // count is checked against the bytes left and max_count.
  template <typename T>
  Array<T> get_array(const char* what, uint64_t max_count = UINT64_MAX) {
    static_assert(kArrayAlignment % alignof(T) == 0, "get_array() needs an alignment dividing kArrayAlignment");
    const uint64_t n = get<uint64_t>(what);
    check_count(n, sizeof(T), max_count, what);  // a hostile count is named before the padding is looked at
    skip_alignment_padding(what);
    check_count(n, sizeof(T), max_count, what);
    T* p = reinterpret_cast<T*>(file_->data() + kContainerHeaderBytes + pos_);
    pos_ += n * sizeof(T);
    return Array<T>::view(p, static_cast<size_t>(n), file_);
  }
  // Throws unless the whole payload was read (no trailing bytes).
  void finish();

 private:
  void skip_alignment_padding(const char* what);
  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t payload_bytes_ = 0, pos_ = 0;
};

}  // namespace ember
