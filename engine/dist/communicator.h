// The ranks of one job and their collectives (docs/distributed.md).
//
// A job is one process (LocalCommunicator: every collective is the identity)
// or R processes launched by `mpirun` (MPI: OpenMPI's launcher, host
// collectives; NCCL for the all-reduce of CUDA tensors when the build has it
// and the job trains on a GPU). The trainer and the drivers take a
// Communicator&; nothing here is global except MPI's own state, which DistJob
// owns (MPI_Init in its constructor, MPI_Finalize in its destructor).
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/tensor.h"

namespace ember {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "local", "mpi", "mpi+nccl": what carries the collectives.
  virtual std::string backend() const = 0;
  // In place, the element-wise sum over ranks of a contiguous F32 or F64
  // tensor on any device (NCCL for CUDA tensors when enabled, otherwise MPI
  // through a host copy). Every rank passes the same shape.
  virtual void allreduce_sum(Tensor& t) = 0;
  // Host values, in place: the sum / the maximum over ranks.
  virtual void allreduce_sum(std::vector<double>& v) = 0;
  virtual void allreduce_max(std::vector<double>& v) = 0;
  // Root's bytes on every rank (the others' vectors are resized).
  virtual void broadcast(std::vector<char>& bytes, int root) = 0;
  // Every rank's bytes on every rank, in rank order.
  virtual std::vector<std::vector<char>> allgather(const std::vector<char>& mine) = 0;
  // send[q] goes to rank q; returns what every rank sent to this one, in rank order.
  virtual std::vector<std::vector<char>> alltoallv(const std::vector<std::vector<char>>& send) = 0;
  // Every rank's bytes on `root` in rank order (empty on the others).
  virtual std::vector<std::vector<char>> gather(const std::vector<char>& mine, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job with exit code `code`; the caller prints the
  // reason first. A local job exits.
  [[noreturn]] virtual void abort(int code) = 0;

  bool is_root() const { return rank() == 0; }
  bool distributed() const { return size() > 1; }
};

// This process's rank among the ranks of its machine, from the launcher
// (OMPI_COMM_WORLD_LOCAL_RANK, MPI_LOCALRANKID or SLURM_LOCALID); comm.rank()
// when none says. Picks the GPU, and the rank that builds a machine's graph cache.
int local_rank(const Communicator& comm);

// One process: size 1, collectives are the identity.
std::unique_ptr<Communicator> make_local_communicator();

// True when this process was started by an MPI launcher (mpirun / mpiexec /
// srun with PMI): OMPI_COMM_WORLD_SIZE, PMI_SIZE or PMIX_RANK is set.
bool launched_by_mpi();
// Whether the library was built with MPI (EMBER_MPI) and NCCL (EMBER_NCCL).
bool built_with_mpi();
bool built_with_nccl();

// The job of this process. Under an MPI launcher (and a build with MPI),
// initialises MPI; otherwise a local job. A launch by mpirun of a build
// without MPI is refused (each rank would train alone).
class DistJob {
 public:
  DistJob(int* argc, char*** argv);
  ~DistJob();
  DistJob(const DistJob&) = delete;
  DistJob& operator=(const DistJob&) = delete;
  Communicator& comm() { return *comm_; }
  // Called once the job's device is known: on "cuda", each rank takes GPU
  // (local rank mod GPU count) and, with NCCL, CUDA tensors are all-reduced
  // by NCCL. A no-op for a local job or another device.
  void use_device(Device device);
  // "rank 1/4" (empty for a local job): the prefix of every rank's messages.
  std::string who() const;

 private:
  std::unique_ptr<Communicator> comm_;
  bool mpi_ = false;
};

// A driver's main under a DistJob: runs body(job) and returns its exit code.
// An exception is printed as "<program>: rank r/R: error: <what>" and, in a
// job of several ranks, ends every rank through MPI_Abort (exit code 1),
// so a failing rank never leaves the others waiting in a collective.
int run_job(const char* program, int* argc, char*** argv, const std::function<int(DistJob&)>& body);

// ---- helpers built on the collectives -------------------------------------------

// Root's tensor on every rank (same shape and dtype required; the values are
// copied into each rank's tensor, on its device).
void broadcast_tensor(Communicator& comm, Tensor& t, int root);
// Root's string on every rank.
std::string broadcast_string(Communicator& comm, const std::string& s, int root);
// A 64-bit checksum of the bytes of CPU copies of the tensors.
uint64_t tensors_checksum(const std::vector<Tensor>& tensors);
// Throws (naming this rank) unless `value` is the same on every rank.
void check_same_on_all_ranks(Communicator& comm, uint64_t value, const std::string& what);

}  // namespace ember
