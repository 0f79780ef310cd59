// osprey-broker, forked by the launcher before it enters the Landlock domain (broker.c).
#ifndef OSPREY_LAUNCHER_BROKER_H
#define OSPREY_LAUNCHER_BROKER_H
#include <sys/types.h>

// the broker's exit status when it cannot confine itself
#define EXIT_BROKER 126

// Confines the calling (forked) process and answers requests on sock until the other end
// closes or parent exits; never returns.
void osp_broker_run(int sock, pid_t parent) __attribute__((noreturn));
#endif
