// The udp tunnel's TUN device: opened with IFF_VNET_HDR so every read and write carries a
// virtio_net_hdr, and with as many offloads as the kernel accepts (TUNSETOFFLOAD: checksum,
// TSO4/6, USO4/6), probed from the most to the least and reported in TunOffloads. With TSO
// on, one read() returns a TCP super-packet of up to 64 KiB; offload.h splits it.
//
// The device is made persistent: if the agent dies, the device and its route stay and pod
// traffic stops at the device instead of leaking out of the default route unencrypted. A
// restart attaches to it again; remove_tun() deletes it (`shoal leave`).
#pragma once

#include <string>

#include "common/fd.h"
#include "common/status.h"

namespace shoal::udp {

struct TunOffloads {
  bool checksum = false;         // TUN_F_CSUM: packets may carry a partial checksum
  bool tso = false;              // TUN_F_TSO4|TSO6: TCP super-packets
  bool uso = false;              // TUN_F_USO4|USO6: UDP super-packets (kernel 6.2+)
  std::string describe() const;  // "csum tso4 tso6 uso4 uso6", or "none"
};

struct OpenedTun {
  Fd fd;  // non-blocking, close-on-exec
  std::string name;
  TunOffloads offloads;
};

// Creates (or attaches to) the TUN device `name`. An error names what failed (no
// /dev/net/tun, no CAP_NET_ADMIN, a non-TUN device of that name).
Result<OpenedTun> open_tun(const std::string& name);

// Deletes the persistent device `name`, if it exists.
Status remove_tun(const std::string& name);

}  // namespace shoal::udp
