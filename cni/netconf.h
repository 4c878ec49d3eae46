// What shoal-cni is asked to do, checked before anything touches the host: the runtime's
// CNI_* environment and the network configuration on stdin (CNI spec 1.0/1.1), and the
// configuration it hands to the standard `bridge` plugin with `host-local` IPAM, built from
// subnet.env the way flannel's plugin builds it.
//
// Every refusal is a CniError: the code the spec assigns (1 incompatible version, 4 bad
// environment, 6 undecodable input, 7 bad network config, 11 try again later, ...) and a
// message that says what to change. Nothing here throws past its caller or reads a file.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/subnet_env.h"

namespace shoal::cni {

// CNI's error codes (the spec's "Well-known Error Codes").
enum class ErrorCode : int {
  kIncompatibleVersion = 1,
  kUnsupportedField = 2,
  kUnknownContainer = 3,
  kInvalidEnvironment = 4,
  kIoFailure = 5,
  kDecodeFailure = 6,
  kInvalidNetworkConfig = 7,
  kTryAgainLater = 11,
  kPluginNotAvailable = 50,
};

struct CniError {
  ErrorCode code = ErrorCode::kInvalidNetworkConfig;
  std::string msg;      // one line: what is wrong
  std::string details;  // what to do about it, or the underlying error
};

// The error as CNI prints it on stdout: {"cniVersion", "code", "msg", "details"}.
std::string render_error(const CniError& error, std::string_view cni_version);

inline constexpr std::string_view kSpecVersion = "1.1.0";
// The versions shoal-cni speaks, oldest first (VERSION prints them).
const std::vector<std::string>& supported_versions();
// The VERSION answer.
std::string render_version_info(std::string_view cni_version);

enum class Command { kAdd, kDel, kCheck, kVersion, kStatus, kGc };

// The CNI_* variables of the call.
struct Invocation {
  Command command = Command::kVersion;
  std::string container_id;  // CNI_CONTAINERID
  std::string netns;         // CNI_NETNS
  std::string ifname;        // CNI_IFNAME
  std::string path;          // CNI_PATH: where the delegate plugins are
};
// Reads them through `getenv` (std::getenv in the program, a map in tests) and checks that
// the command has what it needs: a container id of letters, digits, '_', '.', '-'; an
// interface name the kernel takes; CNI_PATH for the commands that run a delegate.
using GetEnv = const char* (*)(const char*);
Result<Invocation, CniError> read_invocation(GetEnv getenv);

// One attachment the runtime still uses (GC's cni.dev/valid-attachments).
struct Attachment {
  std::string container_id;
  std::string ifname;
  bool operator==(const Attachment&) const = default;
};

// The network configuration on stdin, with shoal's own keys:
//   "subnetFile"   where the agent writes subnet.env (default /run/shoal/subnet.env)
//   "dataDir"      where each attachment's delegate config is kept (default
//                  /var/lib/cni/shoal), so DEL works after subnet.env changed or went
//   "waitSeconds"  how long ADD waits for subnet.env while the agent starts (default 30)
//   "delegate"     keys merged over the bridge configuration (flannel's "delegate")
struct NetConf {
  std::string cni_version;
  std::string name;
  std::string subnet_file = "/run/shoal/subnet.env";
  std::string data_dir = "/var/lib/cni/shoal";
  int wait_seconds = 30;
  nlohmann::json delegate = nlohmann::json::object();
  nlohmann::json passthrough = nlohmann::json::object();  // runtimeConfig, args, prevResult
  std::vector<Attachment> valid_attachments;              // GC only
};
inline constexpr size_t kMaxNetConfSize = 1 << 20;
inline constexpr int kMaxWaitSeconds = 600;
Result<NetConf, CniError> parse_netconf(std::string_view text, Command command);

// The version the delegate is asked to speak: Debian 12's plugins stop at 1.0.0, whose
// results are the same as 1.1.0's, so 1.1.0 is asked as 1.0.0 and the answer relabelled.
std::string delegate_version(std::string_view cni_version);

// The `bridge` + `host-local` configuration for this host's subnet: bridge cni0, gateway
// and default gateway, hairpin, ipMasq the opposite of FLANNEL_IPMASQ (the agent masquerades
// when that is true), the MTU of subnet.env, and a route to the overlay network; then the
// "delegate" keys merged over it.
nlohmann::json delegate_config(const NetConf& conf, const SubnetEnv& env);

}  // namespace shoal::cni
