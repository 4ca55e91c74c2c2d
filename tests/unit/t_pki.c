/* t_pki.c: pki.c's days left and the words status and pki inspect print. */
#include <string.h>
#include <time.h>

#include "pki.h"
#include "tap.h"

#define T0 ((time_t)1772619443)
#define DAY 86400

void t_pki(void)
{
	static const struct { long long left; long days; const char *words; } c[] = {
		{ 12 * DAY + 5, 12, "(expires in 12 days)" },
		{ 2 * DAY - 1, 1, "(expires in 1 day)" },
		{ DAY, 1, "(expires in 1 day)" },
		{ DAY - 1, 0, "(expires today)" },
		{ 1, 0, "(expires today)" },
		{ 0, 0, "(expired)" },
		{ -1, -1, "(expired)" },
		{ -DAY, -1, "(expired)" },
		{ -DAY - 1, -2, "(expired)" },
	};
	char w[64];

	for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
		time_t na = T0 + (time_t)c[i].left;

		pki_expiry_words(na, T0, w, sizeof w);
		ok(pki_days_left(na, T0) == c[i].days && !strcmp(w, c[i].words),
		    "pki: %lld s left: %ld days, %s", c[i].left, c[i].days,
		    c[i].words);
	}
}
