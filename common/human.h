/* human.h: numbers as people read them in listings and progress lines. */
#ifndef NODEBAK_HUMAN_H
#define NODEBAK_HUMAN_H
#include <stddef.h>

/* "512 B", "1.5 KiB", "3.0 GiB" (binary units, one decimal). */
void human_size(unsigned long long n, char *out, size_t outsz);

#endif
