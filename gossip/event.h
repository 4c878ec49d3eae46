// What the core tells the layer above: membership changes and user messages.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/bytes.h"
#include "gossip/member.h"

namespace shoal::gossip {

struct Event {
  enum class Kind : uint8_t {
    kJoined,       // a member we did not know, alive
    kUpdated,      // a known member changed its address, name or meta
    kSuspect,      // a member became suspect
    kAlive,        // a suspect, dead or left member is alive again
    kDead,         // a member was declared dead (failed)
    kLeft,         // a member left on purpose
    kReaped,       // a dead or left member was forgotten
    kUserMessage,  // another module's update arrived (data holds it)
  };

  Kind kind;
  Member member;  // a snapshot; for kUserMessage, the member that sent the packet if known
  Bytes data;
};

std::string_view to_string(Event::Kind k);

}  // namespace shoal::gossip
