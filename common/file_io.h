// Whole-file reads and crash-safe writes for small files (config, keyring, subnet.env).
//
// read_file_limited refuses files larger than `max_bytes` instead of reading them, so a
// wrong path (a log, a device) cannot exhaust memory. write_file_atomically writes a
// temporary file beside the target, fsyncs it, renames it over the target and fsyncs the
// directory: a reader sees the old content or the new, never a mix, even after a crash.
// Both return a Status whose message names the path; they never throw.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace shoal {

// The file's content. Errors: not_found (no such file), io_error, invalid_argument (not a
// regular file, or too large).
Result<std::string> read_file_limited(const std::string& path, size_t max_bytes);
// Missing parent directories are created (mode 0755). `mode` applies to the new file.
Status write_file_atomically(const std::string& path, std::string_view content, mode_t mode = 0644);

}  // namespace shoal
