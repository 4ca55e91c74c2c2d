/* human.c: numbers as people read them (human.h). */
#include <stdio.h>

#include "human.h"
#include "banned.h"

void human_size(unsigned long long n, char *out, size_t outsz)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, outsz, "%llu B", n);
	else
		snprintf(out, outsz, "%.1f %s", v, unit[u]);
}
