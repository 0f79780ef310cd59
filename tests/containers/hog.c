/*
 * hog: allocates and touches memory until the kernel kills it. Built static into the test
 * root filesystem (tests/containers/rootfs.ts) because busybox alone has no predictable way
 * to allocate a given amount.
 *
 *   hog <MiB> [trigger-file]
 *
 * With a trigger file, waits (polling every 50 ms) until that file exists, removes it, then
 * allocates. The test creates the file from the host through /proc/<pid>/root once the agent
 * sees the container, so the OOM kill never races the agent's discovery; removing it means a
 * restarted container waits again. Exits 3 if it allocated everything and was not killed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
  long mib = argc > 1 ? atol(argv[1]) : 50;
  const char *trigger = argc > 2 ? argv[2] : NULL;
  if (trigger) {
    printf("hog: waiting for %s\n", trigger);
    fflush(stdout);
    while (access(trigger, F_OK) != 0) {
      struct timespec ts = {0, 50 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    unlink(trigger);
  }
  printf("hog: allocating %ld MiB\n", mib);
  fflush(stdout);
  for (long i = 0; i < mib; i++) {
    char *p = malloc(1 << 20);
    if (!p) return 2;
    memset(p, 0x5a, 1 << 20);
  }
  fprintf(stderr, "hog: allocated %ld MiB and was not killed\n", mib);
  return 3;
}
