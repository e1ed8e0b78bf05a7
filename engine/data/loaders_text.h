// Line-oriented text parsing for the loaders: a line reader that knows the
// file name and line number, field splitting, and number parsing whose errors
// read "<file>:<line>: <what went wrong>, expected <what was expected>".
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace ember {
namespace text {

class LineReader {
 public:
  // Reads the whole file; throws naming the path when it is missing, and
  // "empty file" when it has no bytes.
  explicit LineReader(std::string path);
  // Next line without its '\n' / "\r\n"; false at end of file.
  bool next(std::string_view& line);
  int64_t line_no() const { return line_no_; }
  const std::string& path() const { return path_; }
  // Throws ember::Error "<path>:<line>: msg".
  [[noreturn]] void fail(const std::string& msg) const;

 private:
  std::string path_, text_;
  size_t pos_ = 0;
  int64_t line_no_ = 0;
};

// Skips blank lines and (when comment != 0) lines whose first non-blank
// character is `comment`.
bool is_blank_or_comment(std::string_view line, char comment);
std::string_view trim(std::string_view s);
// Splits on runs of spaces / tabs.
void split_ws(std::string_view line, std::vector<std::string_view>& out);
// Splits on `sep` (fields trimmed of spaces); "a,,b" gives an empty field.
void split_char(std::string_view line, char sep, std::vector<std::string_view>& out);

// Integer node id. Errors: empty ("missing"), non-numeric, overflow beyond
// int64, negative (unless allow_negative).
int64_t parse_id(std::string_view tok, const LineReader& at, const char* what, bool allow_negative = false);
// Finite floating-point number.
double parse_number(std::string_view tok, const LineReader& at, const char* what);
// Shortens a token for error messages.
std::string quote(std::string_view tok);

}  // namespace text
}  // namespace ember
