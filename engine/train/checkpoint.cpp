#include "engine/train/checkpoint.h"

#include "engine/io/binary_io.h"

namespace ember {

namespace {
constexpr const char* kMagic = "EMBRCKPT";
constexpr uint64_t kMaxTensors = 1 << 20;

void put_tensor(BinaryWriter& w, const Tensor& t_in) {
  Tensor t = t_in.to(Device::CPU).contiguous();
  w.put<int32_t>(static_cast<int32_t>(t.dtype()));
  w.put_vector(t.shape());
  w.put_array(static_cast<const uint8_t*>(t.raw_data()), t.nbytes());
}

Tensor get_tensor(BinaryReader& r) {
  const int32_t dt = r.get<int32_t>("tensor dtype");
  EMBER_CHECK(dt >= 0 && dt <= 3, r.source() << ": invalid tensor dtype code " << dt);
  const DType dtype = static_cast<DType>(dt);
  Shape shape = r.get_vector<int64_t>("tensor shape", 8);
  // The product of the dimensions (zeros counted as 1, so that the strides of
  // [0, 2^33, 2^32] cannot overflow either) stays below 2^40; checked before
  // multiplying ([10^12, 10^12] overflowed int64: UBSan, corpus and fuzz_checkpoint).
  int64_t span = 1;
  bool empty = false;
  for (int64_t d : shape) {
    EMBER_CHECK(d >= 0 && d < (int64_t(1) << 40), r.source() << ": invalid tensor dimension " << d);
    const int64_t f = d == 0 ? 1 : d;
    EMBER_CHECK(span < ((int64_t(1) << 40) + f - 1) / f, r.source() << ": tensor too large");
    span *= f;
    empty = empty || d == 0;
  }
  const int64_t numel = empty ? 0 : span;
  const uint64_t bytes = r.get<uint64_t>("tensor bytes");
  EMBER_CHECK(bytes == static_cast<uint64_t>(numel) * dtype_size(dtype),
              r.source() << ": tensor of shape " << shape_str(shape) << " has " << bytes << " data bytes");
  r.check_count(bytes, 1, UINT64_MAX, "tensor data");
  Tensor t = Tensor::empty(shape, dtype, Device::CPU);
  if (bytes) r.read_bytes(t.raw_data(), bytes, "tensor data");
  return t;
}
}  // namespace

void save_checkpoint(const std::string& path, const Checkpoint& c) {
  ContainerFileWriter w(path, kMagic, kCheckpointVersion);
  w.put(c.config_hash);
  w.put(c.epoch);
  w.put(c.step);
  w.put(c.step_in_epoch);
  w.put(c.rng_seed);
  w.put(c.rng_stream);
  w.put(c.rng_counter);
  w.put(c.best_metric);
  w.put(c.best_epoch);
  w.put(c.epochs_without_improvement);
  w.put_string(c.meta_json);
  w.put<uint64_t>(c.params.size());
  for (const auto& [name, t] : c.params) {
    w.put_string(name);
    put_tensor(w, t);
  }
  w.put<uint64_t>(c.optimizer_state.size());
  for (const Tensor& t : c.optimizer_state) put_tensor(w, t);
  w.put(c.optimizer_steps);
  w.put(c.users_hash);
  w.put(c.ranks);
  w.commit();
}

Checkpoint load_checkpoint(const std::string& path, uint64_t expected_hash) {
  ContainerFileReader r(path, kMagic, 1, kCheckpointVersion);
  Checkpoint c;
  c.config_hash = r.get<uint64_t>("config hash");
  c.epoch = r.get<int64_t>("epoch");
  c.step = r.get<int64_t>("step");
  c.step_in_epoch = r.get<int64_t>("step in epoch");
  c.rng_seed = r.get<uint64_t>("rng seed");
  c.rng_stream = r.get<uint64_t>("rng stream");
  c.rng_counter = r.get<uint64_t>("rng counter");
  c.best_metric = r.get<double>("best metric");
  c.best_epoch = r.get<int64_t>("best epoch");
  c.epochs_without_improvement = r.get<int64_t>("epochs without improvement");
  c.meta_json = r.get_string("meta", 1 << 24);
  const uint64_t np = r.get<uint64_t>("parameter count");
  EMBER_CHECK(np <= kMaxTensors, path << ": implausible parameter count " << np);
  for (uint64_t i = 0; i < np; ++i) {
    std::string name = r.get_string("parameter name", 4096);
    c.params.emplace_back(std::move(name), get_tensor(r));
  }
  const uint64_t ns = r.get<uint64_t>("optimizer state count");
  EMBER_CHECK(ns <= kMaxTensors, path << ": implausible optimizer state count " << ns);
  for (uint64_t i = 0; i < ns; ++i) c.optimizer_state.push_back(get_tensor(r));
  c.optimizer_steps = r.get<int64_t>("optimizer steps");
  if (r.version() >= 2) c.users_hash = r.get<uint64_t>("users hash");
  if (r.version() >= 3) c.ranks = r.get<int64_t>("ranks");
  r.finish();  // checksum: nothing above is trusted until this passes
  EMBER_CHECK(expected_hash == 0 || c.config_hash == expected_hash,
              path << ": checkpoint was written for a different model configuration (hash " << std::hex
                   << c.config_hash << ", expected " << expected_hash
                   << "); use the config it was trained with or start a new run");
  return c;
}

}  // namespace ember
