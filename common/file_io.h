// Whole-file reads and crash-safe writes for small files (config, keyring, subnet.env).
//
// read_file_limited refuses files larger than `max_bytes` instead of reading them, so a
// wrong path (a log, a device) cannot exhaust memory. write_file_atomically writes a
// temporary file beside the target, fsyncs it, renames it over the target and fsyncs the
// directory: a reader sees the old content or the new, never a mix, even after a crash.
// Both return errors as text that names the path; they never throw.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

namespace shoal {

// The file's content, or an error message naming the path.
std::variant<std::string, std::string> read_file_limited(const std::string& path, size_t max_bytes);
// Empty on success, else an error message naming the path. Missing parent directories
// are created (mode 0755). `mode` applies to the new file.
std::string write_file_atomically(const std::string& path, std::string_view content,
                                  mode_t mode = 0644);

}  // namespace shoal
