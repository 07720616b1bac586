/* SPDX-License-Identifier: ISC */
/* noop.c: the session program of the benchmark's login chains (stands in
 * for qmail-pop3d): it does nothing and exits 0. Built static. */
int
main(void)
{
	return 0;
}
