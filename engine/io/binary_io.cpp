#include "engine/io/binary_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#define XXH_INLINE_ALL  // header-only: no link dependency for the library or the installed package
#include <xxhash.h>

namespace ember {
namespace fs = std::filesystem;

// ---- checksum64: XXH64 from libxxhash (Debian libxxhash-dev), inlined ------------------
// The digests are those of ember's earlier own XXH64 implementation, so files
// written before keep verifying (tests/test_data_io.cpp pins known answers).
struct Checksum64::State {
  XXH64_state_t s;
};

Checksum64::Checksum64(uint64_t seed) : state_(new State) { XXH64_reset(&state_->s, seed); }
Checksum64::~Checksum64() = default;
Checksum64::Checksum64(Checksum64&&) noexcept = default;
Checksum64& Checksum64::operator=(Checksum64&&) noexcept = default;

void Checksum64::update(const void* data, size_t bytes) {
  if (bytes) XXH64_update(&state_->s, data, bytes);
  total_ += bytes;
}

uint64_t Checksum64::digest() const { return XXH64_digest(&state_->s); }

uint64_t checksum64(const void* data, size_t bytes, uint64_t seed) { return XXH64(data, bytes, seed); }

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

// ---- whole files ----------------------------------------------------------------------
namespace {
std::atomic<uint64_t> g_tmp_seq{0};

std::string temp_path_for(const std::string& path) {
  return path + ".tmp." + std::to_string(static_cast<long long>(::getpid())) + "." +
         std::to_string(g_tmp_seq.fetch_add(1));
}

void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t w = ::write(fd, p, std::min<size_t>(bytes, size_t(1) << 30));
    if (w < 0 && errno == EINTR) continue;
    EMBER_CHECK(w > 0, "cannot write " << path << ": " << errno_text());
    p += w;
    bytes -= static_cast<size_t>(w);
  }
}

void pwrite_all(int fd, const void* data, size_t bytes, off_t off, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t w = ::pwrite(fd, p, bytes, off);
    if (w < 0 && errno == EINTR) continue;
    EMBER_CHECK(w > 0, "cannot write " << path << ": " << errno_text());
    p += w; off += w;
    bytes -= static_cast<size_t>(w);
  }
}

void fsync_parent_dir(const std::string& path) {
  std::string dir = ".";
  size_t slash = path.find_last_of('/');
  if (slash != std::string::npos) dir = slash == 0 ? "/" : path.substr(0, slash);
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);  // best effort: some file systems refuse fsync on directories
    ::close(dfd);
  }
}

// fsync + close + rename tmp onto path; removes tmp on failure.
void commit_temp(int fd, const std::string& tmp, const std::string& path) {
  if (::fsync(fd) != 0) {
    std::string why = errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    EMBER_FAIL("cannot fsync " << tmp << ": " << why);
  }
  if (::close(fd) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    EMBER_FAIL("cannot close " << tmp << ": " << why);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(tmp.c_str());
    EMBER_FAIL("cannot rename " << tmp << " to " << path << ": " << why);
  }
  fsync_parent_dir(path);
}

int open_temp(const std::string& tmp) {
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  EMBER_CHECK(fd >= 0, "cannot create " << tmp << ": " << errno_text());
  return fd;
}
}  // namespace

int remove_stale_temp_files(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return 0;
  int removed = 0;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const size_t at = name.rfind(".tmp.");
    if (at == std::string::npos) continue;
    // "<pid>.<seq>", both decimal.
    const std::string rest = name.substr(at + 5);
    const size_t dot = rest.find('.');
    if (dot == 0 || dot == std::string::npos || dot + 1 == rest.size() || dot > 9) continue;
    const std::string pid_s = rest.substr(0, dot), seq_s = rest.substr(dot + 1);
    const auto digits = [](const std::string& t) { return t.find_first_not_of("0123456789") == std::string::npos; };
    if (!digits(pid_s) || !digits(seq_s) || seq_s.size() > 19) continue;
    const long pid = std::stol(pid_s);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno != ESRCH) continue;  // alive (or not ours to judge)
    if (fs::remove(e.path(), ec)) ++removed;
  }
  return removed;
}

void write_file_atomic(const std::string& path, const void* data, size_t bytes) {
  std::string tmp = temp_path_for(path);
  int fd = open_temp(tmp);
  try {
    write_all(fd, data, bytes, tmp);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp.c_str());
    throw;
  }
  commit_temp(fd, tmp, path);
}

bool file_exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

int64_t file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  return static_cast<int64_t>(st.st_size);
}

namespace {
template <typename Buf> Buf read_whole(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EMBER_CHECK(fd >= 0, "cannot open " << path << ": " << errno_text());
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    EMBER_FAIL("cannot read " << path << ": not a regular file");
  }
  Buf out;
  out.resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out.size()) {
    ssize_t r = ::read(fd, &out[got], out.size() - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      std::string why = r < 0 ? errno_text() : "file shrank while reading";
      ::close(fd);
      EMBER_FAIL("cannot read " << path << ": " << why);
    }
    got += static_cast<size_t>(r);
  }
  ::close(fd);
  return out;
}
}  // namespace

std::vector<uint8_t> read_file_bytes(const std::string& path) { return read_whole<std::vector<uint8_t>>(path); }
std::string read_file_text(const std::string& path) { return read_whole<std::string>(path); }

// ---- writers / readers -------------------------------------------------------------------
void MemoryWriter::write_bytes(const void* data, size_t bytes) {
  const unsigned char* p = static_cast<const unsigned char*>(data);
  bytes_.insert(bytes_.end(), p, p + bytes);
}

void BinaryReader::check_count(uint64_t count, size_t elem_size, uint64_t max_count,
                               const char* what) const {
  EMBER_CHECK(count <= max_count, source() << ": corrupt " << what << " count " << count
                                           << " at byte offset " << offset() << " (at most " << max_count
                                           << " expected)");
  EMBER_CHECK(elem_size == 0 || count <= remaining() / elem_size,
              source() << ": corrupt or truncated: " << what << " claims " << count << " elements of "
                       << elem_size << " bytes at byte offset " << offset() << ", only " << remaining()
                       << " bytes left");
}

MemoryReader::MemoryReader(const void* data, size_t bytes, std::string source)
    : data_(static_cast<const unsigned char*>(data)), size_(bytes), source_(std::move(source)) {}

void MemoryReader::read_bytes(void* out, size_t bytes, const char* what) {
  EMBER_CHECK(bytes <= size_ - pos_, source_ << ": truncated: expected " << bytes << " bytes of " << what
                                             << " at byte offset " << pos_ << ", only " << (size_ - pos_)
                                             << " left");
  std::memcpy(out, data_ + pos_, bytes);
  pos_ += bytes;
}

// ---- container files ---------------------------------------------------------------------
namespace {
struct RawHeader {
  char magic[8];
  uint32_t version;
  uint32_t header_bytes;
  uint64_t payload_bytes;
  uint64_t payload_checksum;
  uint64_t reserved[3];
  uint64_t header_checksum;
};
static_assert(sizeof(RawHeader) == kContainerHeaderBytes, "container header must be 64 bytes");

void fill_magic(char out[8], const std::string& magic) {
  EMBER_CHECK(!magic.empty() && magic.size() <= 8, "container magic must be 1..8 characters, got '" << magic << "'");
  std::memset(out, 0, 8);
  std::memcpy(out, magic.data(), magic.size());
}

std::string printable_magic(const char m[8]) {
  std::string s;
  for (int i = 0; i < 8 && m[i]; ++i) s += (m[i] >= 32 && m[i] < 127) ? m[i] : '?';
  return s;
}
}  // namespace

AtomicFileWriter::AtomicFileWriter(std::string path) : path_(std::move(path)) {
  tmp_ = temp_path_for(path_);
  fd_ = open_temp(tmp_);
  buf_.reserve(1 << 20);
}

AtomicFileWriter::~AtomicFileWriter() {
  if (!committed_ && fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void AtomicFileWriter::flush_buffer() {
  if (!buf_.empty()) write_all(fd_, buf_.data(), buf_.size(), tmp_);
  buf_.clear();
}

void AtomicFileWriter::write_bytes(const void* data, size_t bytes) {
  EMBER_CHECK(!committed_ && fd_ >= 0, "write to " << path_ << " after commit()");
  written_ += bytes;
  if (buf_.size() + bytes > (1u << 20)) {
    flush_buffer();
    if (bytes >= (1u << 20)) {
      write_all(fd_, data, bytes, tmp_);
      return;
    }
  }
  const unsigned char* p = static_cast<const unsigned char*>(data);
  buf_.insert(buf_.end(), p, p + bytes);
}

void AtomicFileWriter::commit() {
  EMBER_CHECK(!committed_ && fd_ >= 0, path_ << ": commit() twice");
  const int fd = fd_;
  try {
    flush_buffer();
  } catch (...) {
    ::close(fd);
    ::unlink(tmp_.c_str());
    fd_ = -1;
    throw;
  }
  fd_ = -1;
  committed_ = true;  // commit_temp closes and cleans up on its own
  commit_temp(fd, tmp_, path_);
}

ContainerFileWriter::ContainerFileWriter(std::string path, const std::string& magic, uint32_t version)
    : path_(std::move(path)), version_(version) {
  fill_magic(magic_, magic);
  tmp_ = temp_path_for(path_);
  fd_ = open_temp(tmp_);
  RawHeader zero{};
  try {
    write_all(fd_, &zero, sizeof(zero), tmp_);  // placeholder, rewritten by commit()
  } catch (...) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
    fd_ = -1;
    throw;
  }
  buf_.reserve(1 << 20);
}

ContainerFileWriter::~ContainerFileWriter() {
  if (!committed_ && fd_ >= 0) {
    ::close(fd_);
    ::unlink(tmp_.c_str());
  }
}

void ContainerFileWriter::flush_buffer() {
  if (!buf_.empty()) write_all(fd_, buf_.data(), buf_.size(), tmp_);
  buf_.clear();
}

void ContainerFileWriter::write_bytes(const void* data, size_t bytes) {
  EMBER_CHECK(!committed_ && fd_ >= 0, "write to " << path_ << " after commit()");
  hash_.update(data, bytes);
  payload_bytes_ += bytes;
  if (buf_.size() + bytes > (1u << 20)) {
    flush_buffer();
    if (bytes >= (1u << 20)) {
      write_all(fd_, data, bytes, tmp_);
      return;
    }
  }
  const unsigned char* p = static_cast<const unsigned char*>(data);
  buf_.insert(buf_.end(), p, p + bytes);
}

void ContainerFileWriter::commit() {
  EMBER_CHECK(!committed_ && fd_ >= 0, "commit() twice on " << path_);
  RawHeader h{};
  std::memcpy(h.magic, magic_, 8);
  h.version = version_;
  h.header_bytes = kContainerHeaderBytes;
  h.payload_bytes = payload_bytes_;
  h.payload_checksum = hash_.digest();
  h.header_checksum = checksum64(&h, offsetof(RawHeader, header_checksum));
  int fd = fd_;
  try {
    flush_buffer();
    pwrite_all(fd, &h, sizeof(h), 0, tmp_);
  } catch (...) {
    ::close(fd);
    ::unlink(tmp_.c_str());
    fd_ = -1;
    throw;
  }
  fd_ = -1;
  committed_ = true;  // commit_temp closes and cleans up on its own
  commit_temp(fd, tmp_, path_);
}

ContainerHeaderInfo check_container_header(const void* header, uint64_t size, const std::string& path,
                                           const std::string& magic, uint32_t min_version, uint32_t max_version) {
  char want[8];
  fill_magic(want, magic);
  EMBER_CHECK(size >= kContainerHeaderBytes, path << ": truncated: " << size << " bytes, a "
                                                   << kContainerHeaderBytes << "-byte header expected");
  RawHeader h;
  std::memcpy(&h, header, sizeof(h));
  EMBER_CHECK(std::memcmp(h.magic, want, 8) == 0, path << ": wrong magic '" << printable_magic(h.magic)
                                                       << "', expected '" << magic << "' (not this kind of file)");
  EMBER_CHECK(h.header_checksum == checksum64(&h, offsetof(RawHeader, header_checksum)),
              path << ": header checksum mismatch (corrupted header)");
  EMBER_CHECK(h.header_bytes == kContainerHeaderBytes,
              path << ": header size " << h.header_bytes << ", expected " << kContainerHeaderBytes);
  EMBER_CHECK(h.version >= min_version && h.version <= max_version,
              path << ": format version " << h.version << " not supported (expected " << min_version
                   << (max_version != min_version ? ".." + std::to_string(max_version) : std::string()) << ")");
  EMBER_CHECK(h.payload_bytes == size - kContainerHeaderBytes,
              path << ": header claims " << h.payload_bytes << " payload bytes but the file has "
                   << (size - kContainerHeaderBytes) << " (truncated or corrupted)");
  ContainerHeaderInfo info;
  info.version = h.version;
  info.payload_bytes = h.payload_bytes;
  info.payload_checksum = h.payload_checksum;
  return info;
}

ContainerFileReader::ContainerFileReader(std::string path, const std::string& magic, uint32_t min_version,
                                         uint32_t max_version)
    : path_(std::move(path)) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  EMBER_CHECK(fd_ >= 0, "cannot open " << path_ << ": " << errno_text());
  try {
    struct stat st;
    EMBER_CHECK(::fstat(fd_, &st) == 0 && S_ISREG(st.st_mode), path_ << ": not a regular file");
    uint64_t size = static_cast<uint64_t>(st.st_size);
    EMBER_CHECK(size >= kContainerHeaderBytes, path_ << ": truncated: " << size << " bytes, a "
                                                      << kContainerHeaderBytes << "-byte header expected");
    RawHeader h;
    size_t got = 0;
    while (got < sizeof(h)) {
      ssize_t r = ::read(fd_, reinterpret_cast<char*>(&h) + got, sizeof(h) - got);
      if (r < 0 && errno == EINTR) continue;
      EMBER_CHECK(r > 0, path_ << ": cannot read header: " << (r < 0 ? errno_text() : "end of file"));
      got += static_cast<size_t>(r);
    }
    ContainerHeaderInfo info = check_container_header(&h, size, path_, magic, min_version, max_version);
    version_ = info.version;
    payload_bytes_ = info.payload_bytes;
    payload_checksum_ = info.payload_checksum;
  } catch (...) {
    ::close(fd_);
    fd_ = -1;
    throw;
  }
}

ContainerFileReader::~ContainerFileReader() {
  if (fd_ >= 0) ::close(fd_);
}

void ContainerFileReader::read_bytes(void* out, size_t bytes, const char* what) {
  EMBER_CHECK(bytes <= remaining(), path_ << ": truncated or corrupted: expected " << bytes << " bytes of "
                                          << what << " at byte offset " << offset() << ", only "
                                          << remaining() << " left");
  char* p = static_cast<char*>(out);
  size_t left = bytes;
  while (left > 0) {
    ssize_t r = ::read(fd_, p, std::min<size_t>(left, size_t(1) << 30));
    if (r < 0 && errno == EINTR) continue;
    EMBER_CHECK(r > 0, path_ << ": read failed at byte offset " << offset() << ": "
                             << (r < 0 ? errno_text() : "unexpected end of file"));
    p += r;
    left -= static_cast<size_t>(r);
  }
  hash_.update(out, bytes);
  pos_ += bytes;
}

void ContainerFileReader::finish() {
  EMBER_CHECK(pos_ == payload_bytes_, path_ << ": " << (payload_bytes_ - pos_)
                                            << " unexpected trailing payload bytes (corrupted or wrong version)");
  EMBER_CHECK(hash_.digest() == payload_checksum_, path_ << ": payload checksum mismatch (corrupted file)");
}

void write_container_file(const std::string& path, const std::string& magic, uint32_t version,
                          const void* payload, size_t bytes) {
  ContainerFileWriter w(path, magic, version);
  w.write_bytes(payload, bytes);
  w.commit();
}

std::vector<uint8_t> read_container_file(const std::string& path, const std::string& magic,
                                         uint32_t min_version, uint32_t max_version, uint32_t* version_out) {
  ContainerFileReader r(path, magic, min_version, max_version);
  std::vector<uint8_t> out(static_cast<size_t>(r.payload_bytes()));
  if (!out.empty()) r.read_bytes(out.data(), out.size(), "payload");
  r.finish();
  if (version_out) *version_out = r.version();
  return out;
}

}  // namespace ember
