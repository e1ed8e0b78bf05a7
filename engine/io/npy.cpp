#include "engine/io/npy.h"

#include <cstring>
#include <vector>

#include "engine/io/binary_io.h"

namespace ember {

NpyWriter::NpyWriter(const std::string& path, DType dtype, int64_t rows, int64_t cols)
    : out_(path), dtype_(dtype), rows_(rows), cols_(cols) {
  EMBER_CHECK(dtype == DType::F32 || dtype == DType::I64,
              "NpyWriter " << path << ": float32 or int64 only, got " << dtype_name(dtype));
  EMBER_CHECK(rows >= 0 && cols >= 0, "NpyWriter " << path << ": negative shape");
  std::string header = std::string("{'descr': '") + (dtype == DType::F32 ? "<f4" : "<i8") +
                       "', 'fortran_order': False, 'shape': (" + std::to_string(rows) + ", " + std::to_string(cols) +
                       "), }";
  // Pad with spaces so magic(6) + version(2) + len(2) + header + '\n' is a multiple of 64.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header.push_back('\n');
  const char magic[] = "\x93NUMPY";
  out_.write_bytes(magic, 6);
  const uint8_t version[2] = {1, 0};
  out_.write_bytes(version, 2);
  const uint16_t hlen = static_cast<uint16_t>(header.size());
  const uint8_t len[2] = {static_cast<uint8_t>(hlen & 0xff), static_cast<uint8_t>(hlen >> 8)};
  out_.write_bytes(len, 2);
  out_.write_text(header);
}

void NpyWriter::append_rows(const void* data, int64_t n) {
  EMBER_CHECK(n >= 0 && written_ + n <= rows_, "NpyWriter: " << written_ + n << " rows for a shape of " << rows_);
  out_.write_bytes(data, static_cast<size_t>(n * cols_) * dtype_size(dtype_));
  written_ += n;
}

void NpyWriter::commit() {
  EMBER_CHECK(written_ == rows_, "NpyWriter: " << written_ << " of " << rows_ << " rows written");
  out_.commit();
}

void save_npy(const std::string& path, const Tensor& matrix) {
  EMBER_CHECK(matrix.dim() == 2, "save_npy " << path << ": expected a 2-D tensor, got " << matrix.describe());
  Tensor m = matrix.to_dtype(DType::F32).to(Device::CPU).contiguous();
  NpyWriter w(path, DType::F32, m.size(0), m.size(1));
  w.append_rows(m.raw_data(), m.size(0));
  w.commit();
}

namespace {
// "'shape': (<rows>, <cols>)" with plain decimal numbers of at most 19 digits
// (so they fit in 64 bits). Replaces std::regex (recursive per character) and
// std::stoull (std::out_of_range on 20+ digits, found by fuzz_npy).
bool parse_shape(const std::string& h, unsigned long long& rows, unsigned long long& cols) {
  const std::string key = "'shape': (";
  size_t p = h.find(key);
  if (p == std::string::npos) return false;
  p += key.size();
  auto number = [&](unsigned long long& v) {
    const size_t b = p;
    v = 0;
    while (p < h.size() && h[p] >= '0' && h[p] <= '9' && p - b < 19) v = v * 10 + static_cast<unsigned>(h[p++] - '0');
    return p > b && !(p < h.size() && h[p] >= '0' && h[p] <= '9');
  };
  if (!number(rows) || h.compare(p, 2, ", ") != 0) return false;
  p += 2;
  return number(cols) && p < h.size() && h[p] == ')';
}
}  // namespace

Tensor load_npy(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  EMBER_CHECK(bytes.size() >= 10 && std::memcmp(bytes.data(), "\x93NUMPY", 6) == 0,
              path << ": not a .npy file (bad magic)");
  EMBER_CHECK(bytes[6] == 1 && bytes[7] == 0, path << ": unsupported .npy version " << int(bytes[6]) << "."
                                                   << int(bytes[7]) << " (expected 1.0)");
  const size_t hlen = bytes[8] | (static_cast<size_t>(bytes[9]) << 8);
  EMBER_CHECK(10 + hlen <= bytes.size(), path << ": truncated .npy header");
  const std::string header(bytes.begin() + 10, bytes.begin() + 10 + hlen);
  EMBER_CHECK(header.find("'descr': '<f4'") != std::string::npos,
              path << ": expected float32 little-endian data ('<f4'), header " << header);
  EMBER_CHECK(header.find("'fortran_order': False") != std::string::npos,
              path << ": Fortran-order arrays are not supported");
  unsigned long long rows = 0, cols = 0;
  EMBER_CHECK(parse_shape(header, rows, cols),
              path << ": expected a 2-D shape '(rows, cols)' of at most 19 digits each, header "
                   << header.substr(0, 200) << (header.size() > 200 ? "..." : ""));
  const size_t payload = bytes.size() - 10 - hlen;
  EMBER_CHECK(rows < (1ull << 40) && cols < (1ull << 20) && rows * cols * 4 == payload,
              path << ": shape (" << rows << ", " << cols << ") needs " << rows * cols * 4
                   << " bytes of data, file has " << payload << " (truncated or corrupt)");
  Tensor t = Tensor::empty({static_cast<int64_t>(rows), static_cast<int64_t>(cols)}, DType::F32);
  std::memcpy(t.raw_data(), bytes.data() + 10 + hlen, payload);
  return t;
}

}  // namespace ember
