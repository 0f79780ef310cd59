// osprey-sandbox: applies a Landlock ruleset to itself, then execs the agent.
//
//   osprey-sandbox [--landlock=auto|off|require] [--landlock-abi=N] [--broker=on|off]
//                  [--ro=PATH]... [--rx=PATH]...
//                  [--rw=PATH]... [--bind=PORT]... [--connect=PORT]... -- COMMAND [ARG]...
//
// --ro grants reading files and listing directories beneath PATH, --rx adds executing (and
// mapping executable) files there, --rw grants every file-system right beneath PATH. A PATH
// that does not exist is skipped (the permission set names runtime directories most hosts lack).
// --bind and --connect list the TCP ports the agent may bind and connect to (Landlock ABI 4 and
// later; older kernels leave TCP to Deno's checks). Every other file access, TCP bind and
// connect is refused by the kernel with EACCES, for every thread the command ever starts:
// the domain is inherited across execve and by every thread and child created afterwards.
//
// Probe: landlock_create_ruleset(NULL, 0, VERSION) gives the ABI. Rights the ABI lacks are
// left out of the ruleset (best effort). Without Landlock (ENOSYS, EOPNOTSUPP when built in
// but off) the command runs with Deno's checks alone unless --landlock=require was given.
// --landlock=off (or OSPREY_LANDLOCK=off in the environment) skips the sandbox on purpose.
// --landlock-abi=N (or OSPREY_LANDLOCK_ABI=N) overrides the probe: the launcher acts as on a
// kernel whose ABI is at most N, and N=0 as on a kernel without Landlock, which is how tests
// force that path (and the older ABIs' rules) on a kernel that has it.
//
// The broker (broker.c; --broker=on, the default): before it enters the domain, the launcher
// forks osprey-broker with one end of a SOCK_SEQPACKET socket pair, so the broker stays outside
// the domain and answers the few procfs reads Landlock's ptrace rule refuses inside it (another
// process's fd, ns and exe links, statfs beneath its root). The other end stays open across the
// exec; its number is in OSPREY_BROKER_FD. Only when the domain is entered: without Landlock the
// agent reads those files itself.
//
// The command learns what was applied from OSPREY_SANDBOX: "landlock:<abi>" or
// "none:<reason>". Exit status 125 means the launcher itself failed (bad argument, a ruleset
// the kernel refused, exec failed), with a line on stderr saying what it was doing.
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "broker.h"

// The system header may predate the network and scope fields; the kernel's ABI is stable, so
// the launcher spells out the parts it uses (struct layouts and bit values of the uAPI).
#ifndef __NR_landlock_create_ruleset
#define __NR_landlock_create_ruleset 444
#define __NR_landlock_add_rule 445
#define __NR_landlock_restrict_self 446
#endif

#define LL_CREATE_VERSION (1U << 0)
#define LL_RULE_PATH_BENEATH 1
#define LL_RULE_NET_PORT 2

#define FS_EXECUTE (1ULL << 0)
#define FS_WRITE_FILE (1ULL << 1)
#define FS_READ_FILE (1ULL << 2)
#define FS_READ_DIR (1ULL << 3)
#define FS_ABI1_ALL ((1ULL << 13) - 1) // EXECUTE .. MAKE_SYM
#define FS_REFER (1ULL << 13)          // ABI 2
#define FS_TRUNCATE (1ULL << 14)       // ABI 3
#define FS_IOCTL_DEV (1ULL << 15)      // ABI 5
#define NET_BIND_TCP (1ULL << 0)       // ABI 4
#define NET_CONNECT_TCP (1ULL << 1)    // ABI 4
#define SCOPE_ABSTRACT_UNIX (1ULL << 0) // ABI 6
#define SCOPE_SIGNAL (1ULL << 1)        // ABI 6

// rights that apply to a non-directory; a rule on a file with others is EINVAL
#define FS_FILE_RIGHTS (FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV)

struct ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;
	uint64_t scoped;
};

struct path_beneath_attr {
	uint64_t allowed_access;
	int32_t parent_fd;
} __attribute__((packed));

struct net_port_attr {
	uint64_t allowed_access;
	uint64_t port;
};

enum grant { GRANT_RO, GRANT_RX, GRANT_RW };

struct path_rule {
	const char *path;
	enum grant grant;
};

#define EXIT_LAUNCHER 125

static void usage(void)
{
	fprintf(stderr,
		"usage: osprey-sandbox [--landlock=auto|off|require] [--landlock-abi=N] [--broker=on|off]\n"
		"                      [--ro=PATH]... [--rx=PATH]... [--rw=PATH]... [--bind=PORT]...\n"
		"                      [--connect=PORT]...\n"
		"                      -- COMMAND [ARG]...\n");
}

static int parse_port(const char *s, uint64_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v > 65535 || s[0] == '-')
		return -1;
	*out = v;
	return 0;
}

static int parse_abi(const char *s, int *out)
{
	uint64_t v;

	if (parse_port(s, &v) != 0 || v > 99)
		return -1;
	*out = (int)v;
	return 0;
}

// The file-system rights an ABI knows: the best-effort mask.
static uint64_t fs_rights_for_abi(int abi)
{
	uint64_t r = FS_ABI1_ALL;

	if (abi >= 2)
		r |= FS_REFER;
	if (abi >= 3)
		r |= FS_TRUNCATE;
	if (abi >= 5)
		r |= FS_IOCTL_DEV;
	return r;
}

static uint64_t grant_rights(enum grant g, uint64_t handled)
{
	switch (g) {
	case GRANT_RO:
		return (FS_READ_FILE | FS_READ_DIR) & handled;
	case GRANT_RX:
		return (FS_READ_FILE | FS_READ_DIR | FS_EXECUTE) & handled;
	case GRANT_RW:
		return handled;
	}
	return 0;
}

static int add_path_rule(int ruleset, const struct path_rule *r, uint64_t handled)
{
	struct path_beneath_attr attr;
	struct stat st;
	int fd;

	fd = open(r->path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; // nothing there to grant
		fprintf(stderr, "osprey-sandbox: opening %s for a rule: %s\n", r->path,
			strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0) {
		fprintf(stderr, "osprey-sandbox: stat of %s: %s\n", r->path, strerror(errno));
		close(fd);
		return -1;
	}
	attr.allowed_access = grant_rights(r->grant, handled);
	if (!S_ISDIR(st.st_mode))
		attr.allowed_access &= FS_FILE_RIGHTS;
	attr.parent_fd = fd;
	if (syscall(__NR_landlock_add_rule, ruleset, LL_RULE_PATH_BENEATH, &attr, 0) != 0) {
		fprintf(stderr, "osprey-sandbox: adding the rule for %s: %s\n", r->path,
			strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

// Forks the broker with one end of a socket pair; the other end, kept open across exec, is
// returned (negative on failure, said on stderr).
static int start_broker(void)
{
	int sv[2], flags;
	pid_t parent = getpid(), child;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
		fprintf(stderr, "osprey-sandbox: creating the broker's socket: %s\n", strerror(errno));
		return -1;
	}
	fflush(stderr);
	child = fork();
	if (child < 0) {
		fprintf(stderr, "osprey-sandbox: starting the broker: %s\n", strerror(errno));
		return -1;
	}
	if (child == 0) {
		close(sv[0]);
		osp_broker_run(sv[1], parent);
	}
	close(sv[1]);
	flags = fcntl(sv[0], F_GETFD);
	if (flags < 0 || fcntl(sv[0], F_SETFD, flags & ~FD_CLOEXEC) != 0) {
		fprintf(stderr, "osprey-sandbox: keeping the broker's socket open: %s\n",
			strerror(errno));
		return -1;
	}
	return sv[0];
}

static int add_port_rule(int ruleset, uint64_t port, uint64_t access)
{
	struct net_port_attr attr = { .allowed_access = access, .port = port };

	if (syscall(__NR_landlock_add_rule, ruleset, LL_RULE_NET_PORT, &attr, 0) != 0) {
		fprintf(stderr, "osprey-sandbox: adding the TCP rule for port %llu: %s\n",
			(unsigned long long)port, strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct path_rule *paths;
	uint64_t *bind_ports, *connect_ports;
	size_t npaths = 0, nbind = 0, nconnect = 0;
	const char *mode = "auto", *broker = "on";
	const char *env_abi = getenv("OSPREY_LANDLOCK_ABI");
	int max_abi = -1;
	const char *env_mode = getenv("OSPREY_LANDLOCK");
	char state[64];
	int i, cmd = -1, abi, ruleset;
	size_t k;

	paths = calloc((size_t)argc, sizeof(*paths));
	bind_ports = calloc((size_t)argc, sizeof(*bind_ports));
	connect_ports = calloc((size_t)argc, sizeof(*connect_ports));
	if (paths == NULL || bind_ports == NULL || connect_ports == NULL) {
		fprintf(stderr, "osprey-sandbox: out of memory\n");
		return EXIT_LAUNCHER;
	}
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0) {
			cmd = i + 1;
			break;
		} else if (strncmp(a, "--ro=", 5) == 0) {
			paths[npaths++] = (struct path_rule){ a + 5, GRANT_RO };
		} else if (strncmp(a, "--rx=", 5) == 0) {
			paths[npaths++] = (struct path_rule){ a + 5, GRANT_RX };
		} else if (strncmp(a, "--rw=", 5) == 0) {
			paths[npaths++] = (struct path_rule){ a + 5, GRANT_RW };
		} else if (strncmp(a, "--bind=", 7) == 0) {
			if (parse_port(a + 7, &bind_ports[nbind++]) != 0)
				goto bad_port;
		} else if (strncmp(a, "--connect=", 10) == 0) {
			if (parse_port(a + 10, &connect_ports[nconnect++]) != 0)
				goto bad_port;
		} else if (strncmp(a, "--landlock=", 11) == 0) {
			mode = a + 11;
		} else if (strncmp(a, "--broker=", 9) == 0) {
			broker = a + 9;
		} else if (strncmp(a, "--landlock-abi=", 15) == 0) {
			if (parse_abi(a + 15, &max_abi) != 0)
				goto bad_abi;
		} else {
			fprintf(stderr, "osprey-sandbox: unknown argument %s\n", a);
			usage();
			return EXIT_LAUNCHER;
		}
		continue;
bad_port:
		fprintf(stderr, "osprey-sandbox: %s: not a TCP port (0-65535)\n", a);
		return EXIT_LAUNCHER;
bad_abi:
		fprintf(stderr, "osprey-sandbox: %s: not a Landlock ABI version (0-99)\n", a);
		return EXIT_LAUNCHER;
	}
	if (env_abi != NULL && env_abi[0] != '\0' && max_abi < 0 &&
	    parse_abi(env_abi, &max_abi) != 0) {
		fprintf(stderr, "osprey-sandbox: OSPREY_LANDLOCK_ABI=%s: not a Landlock ABI version (0-99)\n",
			env_abi);
		return EXIT_LAUNCHER;
	}
	if (cmd < 0 || cmd >= argc) {
		usage();
		return EXIT_LAUNCHER;
	}
	if (strcmp(mode, "auto") != 0 && strcmp(mode, "off") != 0 &&
	    strcmp(mode, "require") != 0) {
		fprintf(stderr, "osprey-sandbox: --landlock=%s: expected auto, off or require\n",
			mode);
		return EXIT_LAUNCHER;
	}
	if (strcmp(broker, "on") != 0 && strcmp(broker, "off") != 0) {
		fprintf(stderr, "osprey-sandbox: --broker=%s: expected on or off\n", broker);
		return EXIT_LAUNCHER;
	}
	unsetenv("OSPREY_BROKER_FD"); // only this launcher's broker, if it starts one
	if (env_mode != NULL && strcmp(env_mode, "off") == 0)
		mode = "off";

	if (strcmp(mode, "off") == 0) {
		snprintf(state, sizeof(state), "none:turned off");
		goto run;
	}
	abi = (int)syscall(__NR_landlock_create_ruleset, NULL, 0, LL_CREATE_VERSION);
	if (abi >= 1 && max_abi >= 0 && abi > max_abi) {
		// the probe overridden: as a kernel with that ABI (0: as one without Landlock)
		abi = max_abi;
		if (abi == 0)
			errno = ENOSYS;
	}
	if (abi < 1) {
		const char *why = max_abi == 0 ? "kernel without Landlock, probe overridden to ABI 0" :
				  errno == ENOSYS ? "kernel without Landlock" :
				  errno == EOPNOTSUPP ? "Landlock not enabled at boot (lsm=)" :
							"Landlock probe failed";
		if (strcmp(mode, "require") == 0) {
			fprintf(stderr, "osprey-sandbox: --landlock=require: %s (%s)\n", why,
				strerror(errno));
			return EXIT_LAUNCHER;
		}
		snprintf(state, sizeof(state), "none:%s", why);
		goto run;
	}

	if (strcmp(broker, "on") == 0) {
		char fd[16];
		int sock = start_broker();

		if (sock < 0)
			return EXIT_LAUNCHER;
		snprintf(fd, sizeof(fd), "%d", sock);
		if (setenv("OSPREY_BROKER_FD", fd, 1) != 0) {
			fprintf(stderr, "osprey-sandbox: setting OSPREY_BROKER_FD: %s\n",
				strerror(errno));
			return EXIT_LAUNCHER;
		}
	}
	{
		struct ruleset_attr attr = { 0 };
		size_t attr_size = sizeof(uint64_t);
		uint64_t handled = fs_rights_for_abi(abi);

		attr.handled_access_fs = handled;
		if (abi >= 4) {
			attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP;
			attr_size = 2 * sizeof(uint64_t);
		}
		if (abi >= 6) {
			attr.scoped = SCOPE_ABSTRACT_UNIX | SCOPE_SIGNAL;
			attr_size = sizeof(attr);
		}
		ruleset = (int)syscall(__NR_landlock_create_ruleset, &attr, attr_size, 0);
		if (ruleset < 0) {
			fprintf(stderr, "osprey-sandbox: creating the Landlock ruleset (ABI %d): %s\n",
				abi, strerror(errno));
			return EXIT_LAUNCHER;
		}
		for (k = 0; k < npaths; k++)
			if (add_path_rule(ruleset, &paths[k], handled) != 0)
				return EXIT_LAUNCHER;
		if (abi >= 4) {
			for (k = 0; k < nbind; k++)
				if (add_port_rule(ruleset, bind_ports[k], NET_BIND_TCP) != 0)
					return EXIT_LAUNCHER;
			for (k = 0; k < nconnect; k++)
				if (add_port_rule(ruleset, connect_ports[k], NET_CONNECT_TCP) != 0)
					return EXIT_LAUNCHER;
		}
		// Without no_new_privs an unprivileged caller may not restrict itself, and a
		// set-user-ID program could otherwise run with the domain it did not ask for.
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
			fprintf(stderr, "osprey-sandbox: setting no_new_privs: %s\n", strerror(errno));
			return EXIT_LAUNCHER;
		}
		if (syscall(__NR_landlock_restrict_self, ruleset, 0) != 0) {
			fprintf(stderr, "osprey-sandbox: entering the Landlock domain: %s\n",
				strerror(errno));
			return EXIT_LAUNCHER;
		}
		close(ruleset);
		snprintf(state, sizeof(state), "landlock:%d", abi);
	}
run:
	if (setenv("OSPREY_SANDBOX", state, 1) != 0) {
		fprintf(stderr, "osprey-sandbox: setting OSPREY_SANDBOX: %s\n", strerror(errno));
		return EXIT_LAUNCHER;
	}
	execvp(argv[cmd], &argv[cmd]);
	fprintf(stderr, "osprey-sandbox: running %s: %s\n", argv[cmd], strerror(errno));
	return EXIT_LAUNCHER;
}
