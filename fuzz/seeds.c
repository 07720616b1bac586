/* SPDX-License-Identifier: ISC */
/* seeds.c: writes the unit tests' tables as seed inputs for the fuzzers:
 * seeds DIR writes DIR/ip/, DIR/rules/, DIR/openlist/ and DIR/outbox/ files. The unit
 * tests' main becomes an unused static function, dropped with the tests
 * it calls, so nothing needs linking but the tables. */
#define main static unit_main
#include "../tests/unit/unit.c" /* NOLINT(bugprone-suspicious-include) */
#undef main

int main(int argc, char **argv);

static void
seed(const char *dir, const char *kind, size_t i, const char *s)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/unit-%03zu", dir, kind, i);
	if (!(f = fopen(path, "w")) ||
	    fwrite(s, 1, strlen(s), f) != strlen(s) || fclose(f) != 0) {
		perror(path);
		exit(111);
	}
}

int
main(int argc, char **argv)
{
	size_t i;

	if (argc != 2) {
		fprintf(stderr, "usage: seeds DIR\n");
		return 100;
	}
	for (i = 0; i < sizeof ips / sizeof ips[0]; i++)
		seed(argv[1], "ip", i, ips[i][0]);
	for (i = 0; i < sizeof rules / sizeof rules[0]; i++)
		seed(argv[1], "rules", i, rules[i].line);
	for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
		seed(argv[1], "openlist", i, lines[i].line);
	for (i = 0; i < sizeof outbox_lines / sizeof outbox_lines[0]; i++)
		seed(argv[1], "outbox", i, outbox_lines[i].line);
	return 0;
}
