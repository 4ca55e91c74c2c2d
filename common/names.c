/* names.c: snapshot and node name rules (see names.h). */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "esc.h"
#include "names.h"
#include "banned.h"

int name_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN || s[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

int name_from_bak(const char *file, char *out, size_t outsz)
{
	size_t n = strlen(file);

	if (n < 5 || strcmp(file + n - 4, ".bak"))
		return err_set(ERR_INVAL, "%s: expected a file name ending in .bak",
		    esc(file));
	if (n - 4 >= outsz)
		return err_set(ERR_INVAL, "%s: name too long", esc(file));
	memcpy(out, file, n - 4);
	out[n - 4] = '\0';
	if (!name_valid(out))
		return err_set(ERR_INVAL, "%s: names are 1 to 64 of A-Za-z0-9._- "
		    "and do not start with a dot", esc(file));
	return 0;
}

int node_id_valid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (int i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' :
		    !((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	}
	return 1;
}

int name_is_bak_of(const char *file, const char *snapshot)
{
	size_t n = strlen(snapshot);

	return !strncmp(file, snapshot, n) && !strcmp(file + n, ".bak");
}
