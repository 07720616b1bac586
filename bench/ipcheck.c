/* SPDX-License-Identifier: ISC */
/* ipcheck.c: counts the addresses of a run that did not make it
 * (benchmark only): those missing from an open list, and those for which
 * the rules database has no record that sets RELAYCLIENT.
 *
 * Usage: ipcheck CDB IPFILE [NAME=LIST ...]
 * Prints "cdb=N" and then " NAME=N" for each LIST: how many of the IPv4
 * addresses of IPFILE (one a line) are missing. A LIST is read line by
 * line, the address being the text before the first ':', TAB or space, so
 * both open-smtp (open-smtp(5)) and the output of clearopensmtp -l do. Exit
 * 0, or 111 if a file cannot be read. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cdb.h>

static int
cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
fatal(const char *file)
{
	fprintf(stderr, "ipcheck: fatal: unable to read %s\n", file);
	exit(111);
}

/* A list's addresses, sorted: each line's text before ':', TAB or space. */
static char **
list_ips(const char *file, size_t *n)
{
	char line[1024], **v = 0;
	size_t cap = 0;
	FILE *f;

	*n = 0;
	if (!(f = fopen(file, "r")))
		fatal(file);
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, ": \t\n")] = '\0';
		if (!*line)
			continue;
		if (*n == cap) {
			char **t;

			cap = cap ? 2 * cap : 1024;
			if (!(t = realloc(v, cap * sizeof *t)))
				exit(111);
			v = t;
		}
		if (!(v[(*n)++] = strdup(line)))
			exit(111);
	}
	fclose(f);
	if (*n)
		qsort(v, *n, sizeof *v, cmp);
	return v;
}

static int
relays(struct cdb *c, const char *ip)
{
	unsigned len;
	const char *d;

	if (cdb_find(c, ip, (unsigned)strlen(ip)) <= 0)
		return 0;
	len = cdb_datalen(c);
	d = cdb_get(c, len, cdb_datapos(c));
	return d && memmem(d, len, "+RELAYCLIENT=", 13) != 0;
}

int
main(int argc, char **argv)
{
	char ip[256], *key = ip;
	size_t lost_cdb = 0, nips = 0, i;
	char **ips = 0;
	struct cdb c;
	FILE *f;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: ipcheck CDB IPFILE [NAME=LIST ...]\n");
		return 100;
	}
	if ((fd = open(argv[1], O_RDONLY)) == -1 || cdb_init(&c, fd) != 0)
		fatal(argv[1]);
	if (!(f = fopen(argv[2], "r")))
		fatal(argv[2]);
	while (fgets(ip, sizeof ip, f)) {
		ip[strcspn(ip, "\n")] = '\0';
		if (!*ip)
			continue;
		char **t = realloc(ips, (nips + 1) * sizeof *ips);

		if (!t || !(t[nips++] = strdup(ip)))
			exit(111);
		ips = t;
		if (!relays(&c, ip))
			lost_cdb++;
	}
	fclose(f);
	printf("cdb=%zu", lost_cdb);
	for (i = 3; i < (size_t)argc; i++) {
		char *eq = strchr(argv[i], '=');
		size_t n, k, lost = 0;
		char **v;

		if (!eq) {
			fprintf(stderr, "ipcheck: fatal: not NAME=LIST: %s\n",
				argv[i]);
			return 100;
		}
		*eq = '\0';
		v = list_ips(eq + 1, &n);
		for (k = 0; k < nips; k++) {
			key = ips[k];
			if (!n || !bsearch(&key, v, n, sizeof *v, cmp))
				lost++;
		}
		printf(" %s=%zu", argv[i], lost);
	}
	printf("\n");
	return 0;
}
