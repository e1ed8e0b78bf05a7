// NumPy .npy files (format version 1.0) for float32 matrices, so embeddings
// can be read by numpy.load. Written atomically. The format has its own magic
// ("\x93NUMPY") and version; it has no checksum, so the loader verifies the
// header, dtype, order, shape and that the file size matches exactly.
#pragma once
#include <string>

#include "core/tensor.h"
#include "engine/io/binary_io.h"

namespace ember {

// Writes a 2-D float32 tensor (any device) as '<f4' C-order [rows, cols].
void save_npy(const std::string& path, const Tensor& matrix);

// Streams a 2-D C-order array of float32 ('<f4') or int64 ('<i8') with a
// known shape, rows appended in order, into `path` atomically (commit() after
// the last row; an uncommitted writer leaves no file). For outputs too large
// to hold in memory (every user's candidate list).
class NpyWriter {
 public:
  NpyWriter(const std::string& path, DType dtype, int64_t rows, int64_t cols);
  // `n` rows of `cols` values of the writer's dtype.
  void append_rows(const void* data, int64_t n);
  void commit();

 private:
  AtomicFileWriter out_;
  DType dtype_;
  int64_t rows_, cols_, written_ = 0;
};
// Reads a 2-D '<f4' C-order .npy into a CPU tensor. Throws ember::Error naming
// the file on a bad magic, version, dtype, Fortran order, shape or size.
Tensor load_npy(const std::string& path);

}  // namespace ember
