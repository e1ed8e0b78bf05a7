// NCCL all-reduce of CUDA tensors (EMBER_WITH_NCCL), bootstrapped over MPI:
// rank 0 makes the unique id, MPI broadcasts it, every rank joins the
// communicator on GPU (local rank mod GPU count). This file is the only NCCL
// code of ember and cannot run under the kernel emulator or on a machine
// without a GPU: scripts/gpu_checks.sh exercises it (docs/distributed.md).
#if EMBER_WITH_MPI && EMBER_WITH_NCCL
#include <cuda_runtime.h>
#include <nccl.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "engine/dist/communicator.h"

namespace ember {

struct NcclState {
  ncclComm_t comm = nullptr;
};

namespace {
void nccl_check(ncclResult_t rc, const char* what) {
  EMBER_CHECK(rc == ncclSuccess, what << ": " << ncclGetErrorString(rc));
}
void cuda_check(cudaError_t rc, const char* what) {
  EMBER_CHECK(rc == cudaSuccess, what << ": " << cudaGetErrorString(rc));
}
}  // namespace

NcclState* nccl_create(Communicator& comm) {
  int devices = 0;
  cuda_check(cudaGetDeviceCount(&devices), "cudaGetDeviceCount");
  EMBER_CHECK(devices > 0, "NCCL: no CUDA device on this machine");
  cuda_check(cudaSetDevice(local_rank(comm) % devices), "cudaSetDevice");
  ncclUniqueId id;
  std::vector<char> bytes(sizeof id);
  if (comm.is_root()) {
    nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    std::memcpy(bytes.data(), &id, sizeof id);
  }
  comm.broadcast(bytes, 0);
  std::memcpy(&id, bytes.data(), sizeof id);
  auto* s = new NcclState;
  const ncclResult_t rc = ncclCommInitRank(&s->comm, comm.size(), id, comm.rank());
  if (rc != ncclSuccess) {
    delete s;
    nccl_check(rc, "ncclCommInitRank");
  }
  return s;
}

void nccl_destroy(NcclState* s) {
  if (s == nullptr) return;
  if (s->comm) ncclCommDestroy(s->comm);
  delete s;
}

// On the default stream, where every kernel of ember runs: ordered after the
// backward pass that wrote the gradients, before the optimizer that reads them.
void nccl_allreduce_sum(NcclState* s, Tensor& t) {
  const ncclDataType_t type = t.dtype() == DType::F64 ? ncclFloat64 : ncclFloat32;
  nccl_check(ncclAllReduce(t.raw_data(), t.raw_data(), static_cast<size_t>(t.numel()), type, ncclSum, s->comm,
                           /*stream=*/0),
             "ncclAllReduce");
}

}  // namespace ember
#endif

#if EMBER_WITH_MPI && !EMBER_WITH_NCCL
#include "engine/dist/communicator.h"
namespace ember {
// A build without NCCL: CUDA tensors are all-reduced by MPI through host copies.
struct NcclState {};
NcclState* nccl_create(Communicator&) { return nullptr; }
void nccl_destroy(NcclState*) {}
void nccl_allreduce_sum(NcclState*, Tensor&) {}
}  // namespace ember
#endif
