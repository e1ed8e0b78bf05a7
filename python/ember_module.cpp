// The Python package `ember` (pybind11): train, load a run, query, recommend,
// evaluate. The GIL is released while ember works; ember::Error becomes
// ember.Error with ember's message. README.md has a five-line example;
// python/tests/test_ember.py the tests.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "engine/data/prepare.h"
#include "engine/io/npy.h"
#include "engine/retrieval/baselines.h"
#include "engine/retrieval/candidates.h"
#include "engine/retrieval/hnsw_index.h"
#include "engine/retrieval/metrics.h"
#include "engine/train/run_dir.h"
#include "engine/train/trainer.h"

namespace py = pybind11;
using namespace ember;

namespace {

// Python values <-> JSON (configs in, metrics out).
nlohmann::json to_json(const py::handle& obj) {
  const py::module_ json = py::module_::import("json");
  return nlohmann::json::parse(py::str(json.attr("dumps")(obj)).cast<std::string>());
}
py::object to_python(const nlohmann::json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}

TrainConfig config_from(const py::object& config) {
  if (py::isinstance<py::dict>(config)) return TrainConfig::from_json_text(to_json(config).dump(), "config (dict)");
  if (py::isinstance<py::str>(config) || py::hasattr(config, "__fspath__"))
    return TrainConfig::from_file(py::str(config).cast<std::string>());
  throw py::type_error("config must be a dict or a path to a JSON config");
}

// ember.train: the ember_train driver as a function.
py::dict train(const py::object& config, const std::string& out_dir, bool resume) {
  TrainConfig cfg = resume ? RunDir{out_dir}.load_config() : config_from(config);
  TrainResult r;
  {
    py::gil_scoped_release nogil;
    cfg.validate();
    PreparedData data = prepare_data(cfg.data, cfg.seed, out_dir);
    Trainer trainer(cfg, data.split.train, data.val, RunDir{out_dir});
    r = trainer.fit(resume);
    if (!r.interrupted) write_embeddings(RunDir{out_dir}, trainer.embed_all(), data.full.ids);
  }
  py::dict out;
  out["steps"] = r.steps;
  out["epochs_run"] = r.epochs_run;
  out["best_val_recall50"] = r.best_val_recall50;
  out["best_epoch"] = r.best_epoch + 1;
  out["seconds"] = r.seconds;
  out["stopped_early"] = r.stopped_early;
  out["interrupted"] = r.interrupted;
  out["run"] = out_dir;
  return out;
}

// A trained run directory: its graph, split, embeddings and (when built) index.
class PyRun {
 public:
  explicit PyRun(const std::string& dir) : run_{dir} {
    EMBER_CHECK(std::filesystem::is_directory(dir), "ember.Run: " << dir << " is not a directory");
    py::gil_scoped_release nogil;
    cfg_ = run_.load_config();
    data_ = prepare_data(cfg_.data, cfg_.seed, "", false);
    emb_ = load_npy(run_.embeddings());
    EMBER_CHECK(emb_.size(0) == data_.full.num_nodes(),
                run_.embeddings() << " has " << emb_.size(0) << " rows, the graph has " << data_.full.num_nodes());
    if (std::filesystem::exists(run_.index())) index_ = std::make_unique<HnswIndex>(HnswIndex::load(run_.index(), emb_.size(1)));
    const Graph& friends = data_.split.train;
    default_gen_ = std::make_unique<CandidateGenerator>(emb_.data<float>(), emb_.size(0), emb_.size(1), friends, friends,
                                                        cfg_.retrieval, index_.get(), cfg_.seed);
  }

  const std::string& path() const { return run_.path; }
  int64_t num_users() const { return emb_.size(0); }
  bool has_index() const { return index_ != nullptr; }

  std::vector<int64_t> node_ids() const { return data_.full.ids.originals(); }

  // Candidates of one user: [(user, score), ...], friends excluded.
  std::vector<std::pair<int64_t, float>> query(int64_t user, int32_t k, const py::object& retrieval) const {
    const int64_t dense = dense_of(user);
    Rankings r;
    if (retrieval.is_none()) {
      py::gil_scoped_release nogil;
      r = default_gen_->generate({static_cast<int32_t>(dense)}, k);
    } else {
      const RetrievalConfig rc = retrieval_config(retrieval);
      py::gil_scoped_release nogil;
      r = generator(rc).generate({static_cast<int32_t>(dense)}, k);
    }
    std::vector<std::pair<int64_t, float>> out;
    for (int32_t j = 0; j < k; ++j) {
      const int32_t c = r.row(0)[j];
      if (c < 0) break;
      out.emplace_back(data_.full.ids.original(c), r.row_scores(0)[j]);
    }
    return out;
  }

  // Candidates of many users: (candidates int64 [N, K] original ids, -1 padded; scores float32 [N, K]).
  py::tuple recommend(const std::vector<int64_t>& users, int32_t k, const py::object& retrieval) const {
    std::vector<int32_t> dense;
    for (int64_t u : users) dense.push_back(static_cast<int32_t>(dense_of(u)));
    Rankings r;
    if (retrieval.is_none()) {
      py::gil_scoped_release nogil;
      r = default_gen_->generate(dense, k);
    } else {
      const RetrievalConfig rc = retrieval_config(retrieval);
      py::gil_scoped_release nogil;
      r = generator(rc).generate(dense, k);
    }
    const py::ssize_t N = static_cast<py::ssize_t>(users.size());
    py::array_t<int64_t> cand({N, static_cast<py::ssize_t>(k)});
    py::array_t<float> scores({N, static_cast<py::ssize_t>(k)});
    auto c = cand.mutable_unchecked<2>();
    auto s = scores.mutable_unchecked<2>();
    for (py::ssize_t i = 0; i < N; ++i)
      for (int32_t j = 0; j < k; ++j) {
        const int32_t x = r.row(static_cast<size_t>(i))[j];
        c(i, j) = x >= 0 ? data_.full.ids.original(x) : -1;
        s(i, j) = r.row_scores(static_cast<size_t>(i))[j];
      }
    return py::make_tuple(cand, scores);
  }

  // The metrics of ember_evaluate as a dict: {"method": report, ...}.
  py::dict evaluate(const std::string& split, bool baselines, const py::object& retrieval) const {
    const RetrievalConfig rc = retrieval_config(retrieval);
    std::vector<EvalReport> reports;
    {
      py::gil_scoped_release nogil;
      const HeldOut& truth = data_.truth(split);
      const Graph& train = data_.split.train;
      const Graph& excluded = data_.excluded(split);
      const std::vector<int32_t> queries = truth.users();
      reports.push_back(evaluate_embeddings(emb_.data<float>(), emb_.size(0), emb_.size(1), train, excluded, truth, "ember"));
      if (rc.expansion.enabled() || rc.blend.enabled()) {
        CandidateGenerator gen(emb_.data<float>(), emb_.size(0), emb_.size(1), train, excluded, rc, nullptr, cfg_.seed);
        reports.push_back(evaluate_rankings(gen.generate(queries, 100, rc.blend.enabled() ? nullptr : &truth), train,
                                            truth, "ember served"));
      }
      if (baselines) {
        HeuristicOptions ho;
        ho.seed = cfg_.seed;
        ho.truth = &truth;
        reports.push_back(evaluate_rankings(fof_rankings(train, excluded, queries, FofScore::AdamicAdar, ho), train,
                                            truth, "FoF Adamic-Adar"));
        reports.push_back(evaluate_rankings(fof_rankings(train, excluded, queries, FofScore::CommonNeighbours, ho),
                                            train, truth, "FoF common neighbours"));
        reports.push_back(evaluate_rankings(popularity_rankings(train, excluded, queries, ho), train, truth, "popularity"));
      }
    }
    py::dict out;
    for (const EvalReport& r : reports) out[py::str(r.method)] = to_python(r.to_json());
    return out;
  }

  // The embeddings without a copy: the array keeps this Run alive.
  static py::array embeddings(py::object self) {
    const PyRun& r = self.cast<const PyRun&>();
    const py::ssize_t n = r.emb_.size(0), d = r.emb_.size(1);
    py::array_t<float> a({n, d}, {static_cast<py::ssize_t>(d * sizeof(float)), static_cast<py::ssize_t>(sizeof(float))},
                         r.emb_.data<float>(), self);
    py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;  // read-only view
    return a;
  }

 private:
  int64_t dense_of(int64_t user) const {
    const int64_t d = data_.full.ids.dense(user);
    EMBER_CHECK(d >= 0, "user " << user << " is not a user of this graph (" << data_.full.num_nodes() << " users)");
    return d;
  }
  RetrievalConfig retrieval_config(const py::object& overrides) const {
    if (overrides.is_none()) return cfg_.retrieval;
    // The run's config with a "retrieval" section replaced: parsed and validated like a config file.
    nlohmann::json j = nlohmann::json::parse(cfg_.to_json_text());
    const nlohmann::json o = to_json(overrides);
    EMBER_CHECK(o.is_object(), "retrieval must be a dict like {\"expansion\": {...}, \"blend\": {...}}");
    j["retrieval"].merge_patch(o);
    return TrainConfig::from_json_text(j.dump(), "retrieval (dict)").retrieval;
  }
  CandidateGenerator generator(const RetrievalConfig& rc) const {
    const Graph& friends = data_.split.train;
    return CandidateGenerator(emb_.data<float>(), emb_.size(0), emb_.size(1), friends, friends, rc, index_.get(),
                              cfg_.seed);
  }

  RunDir run_;
  TrainConfig cfg_;
  PreparedData data_;
  Tensor emb_;
  std::unique_ptr<HnswIndex> index_;
  std::unique_ptr<CandidateGenerator> default_gen_;  // the run's own retrieval settings
};

}  // namespace

PYBIND11_MODULE(ember, m) {
  m.doc() = "ember: GNN embedding-based retrieval for friend recommendation (train, query, recommend, evaluate)";
  static py::exception<ember::Error> error(m, "Error", PyExc_RuntimeError);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const ember::Error& e) {
      error(e.what());
    }
  });
  m.def("train", &train, py::arg("config"), py::arg("out_dir"), py::arg("resume") = false,
        "Trains a model (config: a dict or a JSON file path) into out_dir, writes its embeddings, "
        "and returns a dict (steps, best_val_recall50, seconds, ...). The GIL is released while it trains.");
  py::class_<PyRun>(m, "Run", "A trained run directory (config, split, embeddings, and index.hnsw when built)")
      .def(py::init<const std::string&>(), py::arg("dir"))
      .def_property_readonly("path", &PyRun::path)
      .def_property_readonly("num_users", &PyRun::num_users)
      .def_property_readonly("has_index", &PyRun::has_index)
      .def_property_readonly("embeddings", &PyRun::embeddings,
                             "float32 [users, d], a read-only view of the run's embeddings (no copy)")
      .def_property_readonly("node_ids", &PyRun::node_ids, "the original id of each embedding row")
      .def("query", &PyRun::query, py::arg("user"), py::arg("k") = 10, py::arg("retrieval") = py::none(),
           "Friend candidates [(user, score), ...] of one user (original id), friends excluded; from the index "
           "when the run has one, else exact. retrieval: overrides of the run's retrieval section (a dict)")
      .def("recommend", &PyRun::recommend, py::arg("users"), py::arg("k") = 10, py::arg("retrieval") = py::none(),
           "(candidates int64 [N, k], scores float32 [N, k]) for a list of users")
      .def("evaluate", &PyRun::evaluate, py::arg("split") = "test", py::arg("baselines") = false,
           py::arg("retrieval") = py::none(), "Recall/HitRate@K and MRR by training-degree bucket, as a dict per method");
}
