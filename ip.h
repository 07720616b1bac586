/* SPDX-License-Identifier: ISC */
/* ip.h: client addresses, parsed strictly and printed as tcpserver does. */
#ifndef IP_H
#define IP_H

#include <stddef.h>

/* Longest canonical text ("ffff:...:ffff") plus its NUL. */
#define IP_FMTLEN 46

size_t ip_canonical(char out[IP_FMTLEN], const char *s, size_t len);
size_t ip6_fmt(char out[IP_FMTLEN], const unsigned char ip[16]);
int ip_alone(const char *canonical);

#endif
