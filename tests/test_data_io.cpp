// binary_io: checksums, atomic writes, bounds-checked readers, container files.
#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>

#include "engine/io/binary_io.h"
#include "test_data_util.h"

using namespace ember;

TEST_CASE("checksum64: libxxhash gives the digests of ember's earlier own XXH64", "[data]") {
  // Known answers recorded from the previous implementation (engine/binary_io.cpp
  // before libxxhash) on bytes (i * 131 + 7) & 255: files written then still verify.
  struct KA {
    size_t n;
    uint64_t seed, digest;
  };
  const KA known[] = {
      {0, 0x0ull, 0xef46db3751d8e999ull},    {0, 0x7ull, 0x95f0626f6f0a4409ull},
      {1, 0x0ull, 0xa96c7f0ce858bbb7ull},                   {3, 0x7ull, 0xd0400c2b29151fc1ull},
      {32, 0x0ull, 0x07f7b8e3bc5d6e25ull},                 {33, 0x9e3779b97f4a7c15ull, 0xd7fe2bfee6e4cdedull},
      {100, 0x7ull, 0x5734ab74bed9b5d6ull},               {1000, 0x0ull, 0x0bf0bdbcc82eb373ull},
  };
  std::vector<unsigned char> b(1000);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<unsigned char>((i * 131 + 7) & 255);
  for (const KA& k : known) {
    INFO("n = " << k.n << ", seed = " << k.seed);
    REQUIRE(checksum64(b.data(), k.n, k.seed) == k.digest);
    Checksum64 inc(k.seed);
    for (size_t i = 0; i < k.n; i += 7) inc.update(b.data() + i, std::min<size_t>(7, k.n - i));
    REQUIRE(inc.digest() == k.digest);
  }
}

TEST_CASE("checksum64 matches XXH64 and is chunking independent", "[data]") {
  REQUIRE(checksum64("", 0) == 0xEF46DB3751D8E999ULL);  // XXH64 of the empty input, seed 0
  std::vector<uint8_t> buf(1000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<uint8_t>(i * 31 + 7);
  for (size_t len : {0, 1, 3, 4, 7, 8, 31, 32, 33, 63, 64, 100, 999, 1000}) {
    uint64_t one = checksum64(buf.data(), len);
    for (size_t chunk : {1, 5, 32, 33, 200}) {
      Checksum64 c;
      for (size_t o = 0; o < len; o += chunk) c.update(buf.data() + o, std::min(chunk, len - o));
      REQUIRE(c.digest() == one);
    }
  }
  // Any single bit flip changes the hash.
  uint64_t ref = checksum64(buf.data(), buf.size());
  for (size_t bit = 0; bit < buf.size() * 8; bit += 37) {
    buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    REQUIRE(checksum64(buf.data(), buf.size()) != ref);
    buf[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
  }
}

TEST_CASE("write_file_atomic replaces the file and leaves no temp file", "[data]") {
  ember_test::TempDir dir("atomic");
  std::string p = dir / "f.bin";
  write_file_atomic(p, std::vector<uint8_t>{1, 2, 3});
  write_file_atomic(p, std::vector<uint8_t>{4, 5});
  REQUIRE(read_file_bytes(p) == std::vector<uint8_t>{4, 5});
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path)) { (void)e; ++files; }
  REQUIRE(files == 1);
  REQUIRE_THROWS_WITH(read_file_bytes(dir / "missing.bin"), Catch::Contains("missing.bin"));
  REQUIRE_THROWS_WITH(write_file_atomic(dir / "no/such/dir/f", std::vector<uint8_t>{1}), Catch::Contains("cannot create"));
}

TEST_CASE("MemoryReader bounds checks name the source", "[data]") {
  MemoryWriter w;
  w.put<uint32_t>(7);
  w.put_vector(std::vector<int64_t>{1, 2, 3});
  w.put_string("hello");
  MemoryReader r(w.bytes().data(), w.bytes().size(), "mem.bin");
  REQUIRE(r.get<uint32_t>("u32") == 7);
  REQUIRE(r.get_vector<int64_t>("vec") == std::vector<int64_t>{1, 2, 3});
  REQUIRE(r.get_string("str") == "hello");
  REQUIRE(r.remaining() == 0);
  REQUIRE_THROWS_WITH(r.get<uint8_t>("byte"), Catch::Contains("mem.bin") && Catch::Contains("truncated"));

  // A count claiming more elements than bytes left is refused before allocating.
  MemoryWriter bad;
  bad.put<uint64_t>(uint64_t(1) << 60);
  MemoryReader rb(bad.bytes().data(), bad.bytes().size(), "bad.bin");
  REQUIRE_THROWS_WITH(rb.get_vector<double>("huge"), Catch::Contains("bad.bin") && Catch::Contains("claims"));
}

TEST_CASE("container files: round trip, corruption and truncation detected", "[data]") {
  ember_test::TempDir dir("container");
  std::string p = dir / "c.bin";
  std::vector<uint8_t> payload(5000);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(i);
  write_container_file(p, "TESTMAGI", 3, payload.data(), payload.size());
  uint32_t v = 0;
  REQUIRE(read_container_file(p, "TESTMAGI", 1, 3, &v) == payload);
  REQUIRE(v == 3);
  REQUIRE_THROWS_WITH(read_container_file(p, "OTHER", 1, 3), Catch::Contains("wrong magic"));
  REQUIRE_THROWS_WITH(read_container_file(p, "TESTMAGI", 4, 5), Catch::Contains("version 3 not supported"));

  auto bytes = read_file_bytes(p);
  SECTION("payload bit flip") {
    bytes[kContainerHeaderBytes + 1234] ^= 0x10;
    write_file_atomic(p, bytes);
    REQUIRE_THROWS_WITH(read_container_file(p, "TESTMAGI", 1, 3), Catch::Contains("checksum mismatch"));
  }
  SECTION("header bit flip") {
    bytes[17] ^= 0x01;  // payload size field
    write_file_atomic(p, bytes);
    REQUIRE_THROWS_WITH(read_container_file(p, "TESTMAGI", 1, 3), Catch::Contains("header checksum"));
  }
  SECTION("truncated") {
    bytes.resize(bytes.size() - 10);
    write_file_atomic(p, bytes);
    REQUIRE_THROWS_WITH(read_container_file(p, "TESTMAGI", 1, 3), Catch::Contains("truncated"));
    bytes.resize(20);
    write_file_atomic(p, bytes);
    REQUIRE_THROWS_WITH(read_container_file(p, "TESTMAGI", 1, 3), Catch::Contains("truncated"));
  }
  SECTION("empty") {
    write_file_atomic(p, std::vector<uint8_t>{});
    REQUIRE_THROWS_WITH(read_container_file(p, "TESTMAGI", 1, 3), Catch::Contains("truncated"));
  }
  SECTION("uncommitted writer leaves the old file") {
    {
      ContainerFileWriter w(p, "TESTMAGI", 3);
      w.put<int>(1);
    }
    REQUIRE(read_container_file(p, "TESTMAGI", 1, 3) == payload);
  }
}
