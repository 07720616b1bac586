/* prefault.h: the heap a pass will use, faulted in at once. */
#ifndef PREFAULT_H
#define PREFAULT_H

#include <stddef.h>

void prefault_heap(size_t bytes);
size_t prefault_tables(size_t records);
size_t prefault_estimate(size_t listbytes);

#endif
