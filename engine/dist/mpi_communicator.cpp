// The MPI communicator (EMBER_WITH_MPI): host collectives over MPI_COMM_WORLD,
// and, for CUDA tensors once the job runs on a GPU, NCCL's all-reduce
// (nccl_allreduce.cpp) bootstrapped through MPI. Messages larger than an
// int's count are sent in pieces.
#if EMBER_WITH_MPI
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "engine/dist/communicator.h"

namespace ember {

// nccl_allreduce.cpp
struct NcclState;
NcclState* nccl_create(Communicator& comm);
void nccl_destroy(NcclState* s);
void nccl_allreduce_sum(NcclState* s, Tensor& t);

namespace {

constexpr int64_t kChunk = int64_t(1) << 30;  // elements (or bytes) per MPI call

void mpi_check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  EMBER_CHECK(false, what << ": " << std::string(text, static_cast<size_t>(len)));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    // Errors come back as codes and become ember::Error (naming the call);
    // the driver prints it and calls abort(): never a hang on a half-failed collective.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  ~MpiCommunicator() override {
    if (nccl_) nccl_destroy(nccl_);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string backend() const override { return nccl_ ? "mpi+nccl" : "mpi"; }

  void allreduce_sum(Tensor& t) override {
    EMBER_CHECK(t.is_contiguous() && (t.dtype() == DType::F32 || t.dtype() == DType::F64),
                "allreduce_sum: needs a contiguous float32/float64 tensor, got " << t.describe());
    if (t.device() == Device::CUDA && nccl_) {
      nccl_allreduce_sum(nccl_, t);
      return;
    }
    if (t.device() == Device::CPU) {
      host_allreduce(t.raw_data(), t.numel(), t.dtype());
      return;
    }
    Tensor host = t.to(Device::CPU);
    host_allreduce(host.raw_data(), host.numel(), host.dtype());
    t.copy_from(host);
  }
  void allreduce_sum(std::vector<double>& v) override { host_reduce(v, MPI_SUM, "MPI_Allreduce(sum)"); }
  void allreduce_max(std::vector<double>& v) override { host_reduce(v, MPI_MAX, "MPI_Allreduce(max)"); }

  void broadcast(std::vector<char>& bytes, int root) override {
    uint64_t n = bytes.size();
    mpi_check(MPI_Bcast(&n, 1, MPI_UINT64_T, root, MPI_COMM_WORLD), "MPI_Bcast(size)");
    bytes.resize(n);
    for (uint64_t off = 0; off < n; off += kChunk) {
      const int c = static_cast<int>(std::min<uint64_t>(kChunk, n - off));
      mpi_check(MPI_Bcast(bytes.data() + off, c, MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
    }
  }

  std::vector<std::vector<char>> allgather(const std::vector<char>& mine) override {
    std::vector<std::vector<char>> all(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r) {
      std::vector<char> b = r == rank_ ? mine : std::vector<char>();
      broadcast(b, r);
      all[static_cast<size_t>(r)] = std::move(b);
    }
    return all;
  }

  // Sizes first (one MPI_Alltoall), then the payloads with point-to-point
  // messages in pieces (MPI_Alltoallv's int counts would cap a pair at 2 GiB).
  std::vector<std::vector<char>> alltoallv(const std::vector<std::vector<char>>& send) override {
    EMBER_CHECK(static_cast<int>(send.size()) == size_, "alltoallv: " << send.size() << " buffers for " << size_ << " ranks");
    std::vector<uint64_t> out_n(static_cast<size_t>(size_)), in_n(static_cast<size_t>(size_));
    for (int q = 0; q < size_; ++q) out_n[q] = send[q].size();
    mpi_check(MPI_Alltoall(out_n.data(), 1, MPI_UINT64_T, in_n.data(), 1, MPI_UINT64_T, MPI_COMM_WORLD), "MPI_Alltoall");
    std::vector<std::vector<char>> recv(static_cast<size_t>(size_));
    std::vector<MPI_Request> reqs;
    for (int q = 0; q < size_; ++q) {
      recv[q].resize(in_n[q]);
      if (q == rank_) {
        recv[q] = send[q];
        continue;
      }
      for (uint64_t off = 0; off < in_n[q]; off += kChunk) {
        reqs.emplace_back();
        mpi_check(MPI_Irecv(recv[q].data() + off, static_cast<int>(std::min<uint64_t>(kChunk, in_n[q] - off)), MPI_BYTE,
                            q, kTag + 1, MPI_COMM_WORLD, &reqs.back()), "MPI_Irecv");
      }
      for (uint64_t off = 0; off < out_n[q]; off += kChunk) {
        reqs.emplace_back();
        mpi_check(MPI_Isend(send[q].data() + off, static_cast<int>(std::min<uint64_t>(kChunk, out_n[q] - off)),
                            MPI_BYTE, q, kTag + 1, MPI_COMM_WORLD, &reqs.back()), "MPI_Isend");
      }
    }
    if (!reqs.empty())
      mpi_check(MPI_Waitall(static_cast<int>(reqs.size()), reqs.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
    return recv;
  }

  std::vector<std::vector<char>> gather(const std::vector<char>& mine, int root) override {
    std::vector<std::vector<char>> all;
    if (rank_ != root) {
      const uint64_t n = mine.size();
      mpi_check(MPI_Send(&n, 1, MPI_UINT64_T, root, kTag, MPI_COMM_WORLD), "MPI_Send(size)");
      for (uint64_t off = 0; off < n; off += kChunk) {
        const int c = static_cast<int>(std::min<uint64_t>(kChunk, n - off));
        mpi_check(MPI_Send(mine.data() + off, c, MPI_BYTE, root, kTag, MPI_COMM_WORLD), "MPI_Send");
      }
      return all;
    }
    all.resize(static_cast<size_t>(size_));
    for (int r = 0; r < size_; ++r) {
      if (r == root) {
        all[static_cast<size_t>(r)] = mine;
        continue;
      }
      uint64_t n = 0;
      mpi_check(MPI_Recv(&n, 1, MPI_UINT64_T, r, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv(size)");
      std::vector<char>& b = all[static_cast<size_t>(r)];
      b.resize(n);
      for (uint64_t off = 0; off < n; off += kChunk) {
        const int c = static_cast<int>(std::min<uint64_t>(kChunk, n - off));
        mpi_check(MPI_Recv(b.data() + off, c, MPI_BYTE, r, kTag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
      }
    }
    return all;
  }

  void barrier() override { mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier"); }

  [[noreturn]] void abort(int code) override {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);  // MPI_Abort does not return; if it did, still never hang
  }

  void enable_nccl() {
    if (!nccl_) nccl_ = nccl_create(*this);
  }

 private:
  static constexpr int kTag = 0x656d;
  void host_allreduce(void* data, int64_t n, DType dtype) {
    const MPI_Datatype type = dtype == DType::F64 ? MPI_DOUBLE : MPI_FLOAT;
    const size_t elem = dtype == DType::F64 ? 8 : 4;
    for (int64_t off = 0; off < n; off += kChunk) {
      const int c = static_cast<int>(std::min<int64_t>(kChunk, n - off));
      mpi_check(MPI_Allreduce(MPI_IN_PLACE, static_cast<char*>(data) + off * elem, c, type, MPI_SUM, MPI_COMM_WORLD),
                "MPI_Allreduce");
    }
  }
  void host_reduce(std::vector<double>& v, MPI_Op op, const char* what) {
    if (v.empty()) return;
    mpi_check(MPI_Allreduce(MPI_IN_PLACE, v.data(), static_cast<int>(v.size()), MPI_DOUBLE, op, MPI_COMM_WORLD), what);
  }
  int rank_ = 0, size_ = 1;
  NcclState* nccl_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> mpi_init_world(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    // Prefetch workers never call MPI: the training thread alone does.
    mpi_check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  }
  return std::make_unique<MpiCommunicator>();
}

void mpi_finalize() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void mpi_enable_cuda(Communicator& comm) {
  auto* mpi = dynamic_cast<MpiCommunicator*>(&comm);
  if (mpi != nullptr) mpi->enable_nccl();
}

}  // namespace ember
#endif  // EMBER_WITH_MPI
