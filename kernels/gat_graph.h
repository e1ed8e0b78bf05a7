// Message-passing graph construction on a device (kernel level; the public
// API is ops/message_graph.h).
//
// The CSR is by DESTINATION: the in-edges of node i are col[row_ptr[i] ..
// row_ptr[i+1]), sorted by source id (duplicates adjacent), so every backend
// builds exactly the same arrays for the same edge list.
//
// Backends: cpu (counting sort, OpenMP); cuda (CUB DeviceRadixSort +
// DeviceScan + small kernels); emu: the CPU code on the EMU tensors (CUB's
// device-wide algorithms are not emulated).
#pragma once
#include "kernels/backend.h"

EMBER_DECLARE_BACKENDS(
    // src, dst: int32 or int64 [E] on one device (edge e: src[e] -> dst[e]).
    // Allocates row_ptr int64 [N+1] and col int32 [E'] on that device.
    // add_self_loops: add (i, i) for every node that has none;
    // merge_duplicates: keep one copy of repeated (src, dst) pairs.
    // Throws ember::Error naming the first edge with an id outside [0, N).
    void build_message_csr(const Tensor& src, const Tensor& dst, int64_t num_nodes,
                           bool add_self_loops, bool merge_duplicates, Tensor& row_ptr,
                           Tensor& col);
    // The transpose (CSR by source) of a CSR by destination: out-edges of j
    // are t_dst[t_row_ptr[j] .. t_row_ptr[j+1]) in increasing edge order;
    // t_eid gives each one's position in `col`. Allocates the outputs.
    void transpose_message_csr(const Tensor& row_ptr, const Tensor& col, int64_t num_nodes,
                               Tensor& t_row_ptr, Tensor& t_dst, Tensor& t_eid);)
