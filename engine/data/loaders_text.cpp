#include "engine/data/loaders_text.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "engine/io/binary_io.h"

namespace ember {
namespace text {

LineReader::LineReader(std::string path) : path_(std::move(path)) {
  EMBER_CHECK(file_exists(path_), "cannot open " << path_ << ": missing file (or not a regular file)");
  text_ = read_file_text(path_);
  EMBER_CHECK(!text_.empty(), path_ << ": empty file, expected at least one data line");
}

bool LineReader::next(std::string_view& line) {
  if (pos_ >= text_.size()) return false;
  size_t nl = text_.find('\n', pos_);
  size_t end = nl == std::string::npos ? text_.size() : nl;
  line = std::string_view(text_).substr(pos_, end - pos_);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pos_ = nl == std::string::npos ? text_.size() : nl + 1;
  ++line_no_;
  return true;
}

void LineReader::fail(const std::string& msg) const { EMBER_FAIL(path_ << ":" << line_no_ << ": " << msg); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool is_blank_or_comment(std::string_view line, char comment) {
  std::string_view t = trim(line);
  return t.empty() || (comment && t.front() == comment);
}

void split_ws(std::string_view line, std::vector<std::string_view>& out) {
  out.clear();
  size_t i = 0, n = line.size();
  while (i < n) {
    while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
    size_t b = i;
    while (i < n && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > b) out.push_back(line.substr(b, i - b));
  }
}

void split_char(std::string_view line, char sep, std::vector<std::string_view>& out) {
  out.clear();
  size_t b = 0;
  for (;;) {
    size_t e = line.find(sep, b);
    if (e == std::string_view::npos) {
      out.push_back(trim(line.substr(b)));
      return;
    }
    out.push_back(trim(line.substr(b, e - b)));
    b = e + 1;
  }
}

std::string quote(std::string_view tok) {
  std::string s = "'";
  for (size_t i = 0; i < tok.size() && i < 40; ++i) {
    char c = tok[i];
    s += (c >= 32 && c < 127) ? c : '?';
  }
  if (tok.size() > 40) s += "...";
  return s + "'";
}

int64_t parse_id(std::string_view tok, const LineReader& at, const char* what, bool allow_negative) {
  if (tok.empty()) at.fail(std::string("truncated line: missing ") + what);
  std::string_view t = tok;
  if (t.front() == '+') t.remove_prefix(1);
  int64_t v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec == std::errc::result_out_of_range)
    at.fail(std::string(what) + " " + quote(tok) + " overflows int64, expected an integer up to 9223372036854775807");
  if (r.ec != std::errc() || r.ptr != t.data() + t.size() || t.empty())
    at.fail(std::string("non-numeric ") + what + " " + quote(tok) + ", expected an integer");
  if (v < 0 && !allow_negative)
    at.fail(std::string("negative ") + what + " " + quote(tok) + ", expected an integer >= 0");
  return v;
}

double parse_number(std::string_view tok, const LineReader& at, const char* what) {
  if (tok.empty()) at.fail(std::string("truncated line: missing ") + what);
  std::string_view t = tok;
  if (t.front() == '+') t.remove_prefix(1);
  double v = 0;
  auto r = std::from_chars(t.data(), t.data() + t.size(), v);
  if (r.ec != std::errc() || r.ptr != t.data() + t.size() || t.empty() || !std::isfinite(v))
    at.fail(std::string("non-numeric ") + what + " " + quote(tok) + ", expected a finite number");
  return v;
}

}  // namespace text
}  // namespace ember
