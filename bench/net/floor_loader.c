// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * Loads and attaches every program of a BPF object file (bench/net/floor.bpf.c),
 * prints "ready", and keeps them attached until stdin reaches EOF. Everything
 * it attached goes away with the process.
 *
 * usage: floor_loader <object.bpf.o>
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *prog;
	char buf[64];

	if (argc != 2) {
		fprintf(stderr, "usage: floor_loader <object.bpf.o>\n");
		return 2;
	}
	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		fprintf(stderr, "floor_loader: open %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	if (bpf_object__load(obj) != 0) {
		fprintf(stderr, "floor_loader: load %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	bpf_object__for_each_program(prog, obj) {
		if (!bpf_program__attach(prog)) {
			fprintf(stderr, "floor_loader: attach %s: %s\n", bpf_program__name(prog),
				strerror(errno));
			return 1;
		}
	}
	printf("ready\n");
	fflush(stdout);
	while (read(0, buf, sizeof(buf)) > 0) {
	}
	bpf_object__close(obj);
	return 0;
}
