#include "engine/io/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace ember {

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EMBER_CHECK(fd >= 0, "cannot open " << path << ": " << std::strerror(errno));
  std::shared_ptr<MappedFile> m(new MappedFile());
  m->path_ = path;
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    EMBER_FAIL(path << ": not a regular file");
  }
  m->size_ = static_cast<uint64_t>(st.st_size);
  if (m->size_ > 0) {
    // Private: a write through the mapping copies that page for this process
    // and never reaches the file. NORESERVE: the mapping charges no swap for
    // pages that are only read (all of them, in ember's use).
    void* p = ::mmap(nullptr, static_cast<size_t>(m->size_), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, fd,
                     0);
    const int err = errno;
    ::close(fd);
    EMBER_CHECK(p != MAP_FAILED, "cannot map " << path << " (" << m->size_ << " bytes): " << std::strerror(err));
    m->data_ = static_cast<unsigned char*>(p);
  } else {
    ::close(fd);
  }
  return m;
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(data_, static_cast<size_t>(size_));
}

MappedContainerReader::MappedContainerReader(const std::string& path, const std::string& magic,
                                             uint32_t min_version, uint32_t max_version)
    : file_(MappedFile::open(path)) {
  EMBER_CHECK(file_->size() >= kContainerHeaderBytes, path << ": truncated: " << file_->size() << " bytes, a "
                                                          << kContainerHeaderBytes << "-byte header expected");
  ContainerHeaderInfo h = check_container_header(file_->data(), file_->size(), path, magic, min_version, max_version);
  version_ = h.version;
  payload_bytes_ = h.payload_bytes;
  // Verified before anything is handed out: views of the payload are used
  // without a later finish() to vouch for them.
  EMBER_CHECK(checksum64(file_->data() + kContainerHeaderBytes, static_cast<size_t>(payload_bytes_)) ==
                  h.payload_checksum,
              path << ": payload checksum mismatch (corrupted file)");
}

void MappedContainerReader::read_bytes(void* out, size_t bytes, const char* what) {
  EMBER_CHECK(bytes <= remaining(), source() << ": truncated or corrupted: expected " << bytes << " bytes of " << what
                                             << " at byte offset " << offset() << ", only " << remaining()
                                             << " left");
  if (bytes) std::memcpy(out, file_->data() + kContainerHeaderBytes + pos_, bytes);
  pos_ += bytes;
}

void MappedContainerReader::skip_alignment_padding(const char* what) {
  const uint64_t pad = (kArrayAlignment - pos_ % kArrayAlignment) % kArrayAlignment;
  EMBER_CHECK(pad <= remaining(), source() << ": truncated or corrupted: padding before " << what
                                           << " at byte offset " << offset() << " runs past the end");
  pos_ += pad;
}

void MappedContainerReader::finish() {
  EMBER_CHECK(pos_ == payload_bytes_, source() << ": " << (payload_bytes_ - pos_)
                                               << " unexpected trailing payload bytes (corrupted or wrong version)");
}

}  // namespace ember
