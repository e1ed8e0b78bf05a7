// NumPy .npy files (format version 1.0) for float32 matrices, so embeddings
// can be read by numpy.load. Written atomically. The format has its own magic
// ("\x93NUMPY") and version; it has no checksum, so the loader verifies the
// header, dtype, order, shape and that the file size matches exactly.
#pragma once
#include <string>

#include "core/tensor.h"

namespace ember {

// Writes a 2-D float32 tensor (any device) as '<f4' C-order [rows, cols].
void save_npy(const std::string& path, const Tensor& matrix);
// Reads a 2-D '<f4' C-order .npy into a CPU tensor. Throws ember::Error naming
// the file on a bad magic, version, dtype, Fortran order, shape or size.
Tensor load_npy(const std::string& path);

}  // namespace ember
