#include "engine/dist/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "engine/io/binary_io.h"

namespace ember {

// mpi_communicator.cpp (EMBER_WITH_MPI): MPI_Init / MPI_Finalize and the MPI
// communicator; nccl_allreduce.cpp (EMBER_WITH_NCCL) the NCCL one.
std::unique_ptr<Communicator> mpi_init_world(int* argc, char*** argv);
void mpi_finalize();
void mpi_enable_cuda(Communicator& comm);

namespace {

class LocalCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string backend() const override { return "local"; }
  void allreduce_sum(Tensor&) override {}
  void allreduce_sum(std::vector<double>&) override {}
  void allreduce_max(std::vector<double>&) override {}
  void broadcast(std::vector<char>&, int root) override {
    EMBER_CHECK(root == 0, "broadcast: root " << root << " in a job of 1 rank");
  }
  std::vector<std::vector<char>> allgather(const std::vector<char>& mine) override { return {mine}; }
  std::vector<std::vector<char>> alltoallv(const std::vector<std::vector<char>>& send) override {
    EMBER_CHECK(send.size() == 1, "alltoallv: " << send.size() << " buffers in a job of 1 rank");
    return send;
  }
  std::vector<std::vector<char>> gather(const std::vector<char>& mine, int root) override {
    EMBER_CHECK(root == 0, "gather: root " << root << " in a job of 1 rank");
    return {mine};
  }
  void barrier() override {}
  [[noreturn]] void abort(int code) override { std::exit(code); }
};

bool env_set(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0';
}

}  // namespace

std::unique_ptr<Communicator> make_local_communicator() { return std::make_unique<LocalCommunicator>(); }

bool launched_by_mpi() {
  return env_set("OMPI_COMM_WORLD_SIZE") || env_set("PMI_SIZE") || env_set("PMIX_RANK");
}

bool built_with_mpi() {
#if EMBER_WITH_MPI
  return true;
#else
  return false;
#endif
}

bool built_with_nccl() {
#if EMBER_WITH_NCCL
  return true;
#else
  return false;
#endif
}

DistJob::DistJob(int* argc, char*** argv) {
  if (!launched_by_mpi()) {
    comm_ = make_local_communicator();
    return;
  }
#if EMBER_WITH_MPI
  comm_ = mpi_init_world(argc, argv);
  mpi_ = true;
#else
  const char* size = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (size != nullptr && std::strcmp(size, "1") != 0)
    EMBER_CHECK(false, "this process was started by an MPI launcher (" << size << " ranks) but ember was built "
                "without MPI (EMBER_MPI=OFF or no MPI found at configure time): each rank would train alone. "
                "Install OpenMPI (scripts/setup.sh) and rebuild, or run without mpirun");
  comm_ = make_local_communicator();
#endif
}

DistJob::~DistJob() {
  comm_.reset();
#if EMBER_WITH_MPI
  if (mpi_) mpi_finalize();
#endif
}

void DistJob::use_device(Device device) {
  if (!mpi_ || device != Device::CUDA) return;
#if EMBER_WITH_MPI
  mpi_enable_cuda(*comm_);
#endif
}

std::string DistJob::who() const {
  if (comm_->size() == 1) return "";
  return "rank " + std::to_string(comm_->rank()) + "/" + std::to_string(comm_->size());
}

int run_job(const char* program, int* argc, char*** argv, const std::function<int(DistJob&)>& body) {
  std::unique_ptr<DistJob> job;
  try {
    job = std::make_unique<DistJob>(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
    return 1;
  }
  try {
    return body(*job);
  } catch (const std::exception& e) {
    const std::string who = job->who();
    std::fprintf(stderr, "%s: %s%serror: %s\n", program, who.c_str(), who.empty() ? "" : ": ", e.what());
    if (job->comm().distributed()) {
      std::fprintf(stderr, "%s: %s: stopping every rank of the job (MPI_Abort)\n", program, who.c_str());
      job->comm().abort(1);
    }
    return 1;
  }
}

void broadcast_tensor(Communicator& comm, Tensor& t, int root) {
  if (!comm.distributed()) return;
  const Tensor host = t.to(Device::CPU);
  std::vector<char> bytes(host.nbytes());
  if (comm.rank() == root) std::memcpy(bytes.data(), host.raw_data(), bytes.size());
  comm.broadcast(bytes, root);
  EMBER_CHECK(bytes.size() == host.nbytes(), "broadcast_tensor: rank " << root << " sent " << bytes.size()
                                                  << " bytes for " << t.describe());
  Tensor in = Tensor::empty(t.shape(), t.dtype(), Device::CPU);
  std::memcpy(in.raw_data(), bytes.data(), bytes.size());
  t.copy_from(in);
}

std::string broadcast_string(Communicator& comm, const std::string& s, int root) {
  std::vector<char> bytes(s.begin(), s.end());
  comm.broadcast(bytes, root);
  return std::string(bytes.begin(), bytes.end());
}

uint64_t tensors_checksum(const std::vector<Tensor>& tensors) {
  uint64_t h = 0x656d626572ull;  // "ember"
  for (const Tensor& t : tensors) {
    if (!t.defined()) continue;
    const Tensor c = t.to(Device::CPU);
    h = checksum64(c.raw_data(), c.nbytes(), h);
  }
  return h;
}

void check_same_on_all_ranks(Communicator& comm, uint64_t value, const std::string& what) {
  if (!comm.distributed()) return;
  // Two 32-bit halves are exact as doubles; max == -(max of negatives) <=> equal everywhere.
  std::vector<double> v{double(value >> 32), double(value & 0xffffffffu), -double(value >> 32),
                        -double(value & 0xffffffffu)};
  comm.allreduce_max(v);
  const bool same = v[0] == -v[2] && v[1] == -v[3];
  EMBER_CHECK(same, "rank " << comm.rank() << "/" << comm.size() << ": " << what
                            << " differs between ranks (this rank: " << std::hex << value << ")");
}

int local_rank(const Communicator& comm) {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID"}) {
    const char* v = std::getenv(name);
    if (v != nullptr && *v != '\0') return std::atoi(v);
  }
  return comm.rank();
}

}  // namespace ember
