// main() of kernel_tests: tests that program a real kernel through netlink. Each run gets a
// network namespace of its own (unshare), so nothing it creates is seen outside it, and the
// kernel takes everything away when the process exits, even when a test fails. Needs root;
// without it, prints one skip line and exits 77 (ctest's SKIP_RETURN_CODE).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  if (::geteuid() != 0) {
    std::printf("SKIP kernel_tests: needs root (netlink changes in a private network namespace)\n");
    return 77;
  }
  if (::unshare(CLONE_NEWNET) != 0) {
    std::printf("SKIP kernel_tests: cannot create a network namespace: %s\n", std::strerror(errno));
    return 77;
  }
  doctest::Context context(argc, argv);
  return context.run();
}
