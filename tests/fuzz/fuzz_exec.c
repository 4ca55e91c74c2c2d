/* fuzz_exec.c: libFuzzer target for what an SSH client's console requests
 * carry besides SFTP packets: an exec request's command, split into the
 * console's arguments by rconsole_split() (ftpd/rconsole.c), and a line
 * typed into the console's shell, split by console_split()
 * (client/console.c). The input up to its first NUL is the command (as
 * libssh hands it over), up to its first line feed the shell line (as the
 * console reads it, without a final carriage return). Both are checked
 * against small reference splitters with several word limits; any
 * difference aborts. Built by `make fuzz`; run:
 *   tests/bin/fuzz_exec -max_total_time=60 tests/fuzz/corpus/exec */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "console.h"
#include "err.h"
#include "rconsole.h"

#define CHECK(c) do { if (!(c)) { \
	fprintf(stderr, "fuzz_exec: %s:%d: %s\n", __FILE__, __LINE__, #c); \
	abort(); } } while (0)

#define MAX_LINE 4096		/* the console's LINE_MAX_LEN */
#define MAX_WORDS 72

/* Reference exec splitter: the runs of bytes other than a space, each
 * copied to words[] (at most MAX_WORDS + 1 counted). */
static size_t ref_exec(const char *s, char **words)
{
	size_t n = 0, i = 0, len = strlen(s);

	while (i < len) {
		size_t j;
		if (s[i] == ' ') {
			i++;
			continue;
		}
		for (j = i; j < len && s[j] != ' '; j++)
			;
		if (n <= MAX_WORDS)
			CHECK((words[n] = strndup(s + i, j - i)) != NULL);
		n++;
		i = j;
	}
	return n;
}

static void check_exec(const char *cmd)
{
	static const size_t maxes[] = { 0, 1, 3, 64, 65, 67 };
	char *ref[MAX_WORDS + 1];
	size_t nref = ref_exec(cmd, ref);

	for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
		const char *words[MAX_WORDS + 1];
		char *copy = strdup(cmd);
		int n;

		CHECK(copy != NULL);
		n = rconsole_split(copy, words, maxes[m]);
		if (nref > maxes[m]) {
			CHECK(n == ERR_INVAL);
		} else {
			CHECK(n >= 0 && (size_t)n == nref);
			for (int i = 0; i < n; i++) {
				CHECK(words[i] >= copy && words[i] < copy + strlen(cmd));
				CHECK(!strcmp(words[i], ref[i]));
			}
		}
		free(copy);
	}
	for (size_t i = 0; i < nref && i <= MAX_WORDS; i++)
		free(ref[i]);
}

static int ref_fail(char **words, int n)
{
	while (n > 0)
		free(words[--n]);
	return -1;
}

/* Reference shell line splitter: blanks (space, tab) separate words; a
 * word starting with '"' runs to the next '"' (which must be there) and
 * may be empty; the next word may start right after it. -1 (and no
 * words) when unbalanced or more than max. */
static int ref_shell(const char *s, char **words, int max)
{
	size_t i = 0, len = strlen(s);
	int n = 0;

	for (;;) {
		size_t j;
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i == len)
			return n;
		if (n == max)
			return ref_fail(words, n);
		if (s[i] == '"') {
			const char *q = memchr(s + i + 1, '"', len - i - 1);
			if (q == NULL)
				return ref_fail(words, n);
			j = (size_t)(q - s);
			CHECK((words[n++] = strndup(s + i + 1, j - i - 1)) != NULL);
			i = j + 1;
		} else {
			for (j = i; j < len && s[j] != ' ' && s[j] != '\t'; j++)
				;
			CHECK((words[n++] = strndup(s + i, j - i)) != NULL);
			i = j < len ? j + 1 : j;
		}
	}
}

static void check_shell(const char *line)
{
	static const int maxes[] = { 0, 1, 3, 64 };

	for (size_t m = 0; m < sizeof maxes / sizeof maxes[0]; m++) {
		char *words[MAX_WORDS], *ref[MAX_WORDS], *copy = strdup(line);
		int n, nref;

		CHECK(copy != NULL);
		n = console_split(copy, words, maxes[m]);
		nref = ref_shell(line, ref, maxes[m]);
		CHECK(n == nref);
		for (int i = 0; i < n; i++) {
			CHECK(words[i] >= copy && words[i] <= copy + strlen(line));
			CHECK(!strcmp(words[i], ref[i]));
		}
		for (int i = 0; i < nref; i++)
			free(ref[i]);
		free(copy);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *cmd, *line;
	size_t len;

	if (size > 2 * MAX_LINE)
		return 0;
	cmd = strndup((const char *)data, size);
	CHECK(cmd != NULL);
	check_exec(cmd);	/* sshd refuses longer ones; split them anyway */
	free(cmd);

	len = size;
	if (memchr(data, '\n', size))
		len = (size_t)((const uint8_t *)memchr(data, '\n', size) - data);
	if (len > MAX_LINE)
		return 0;	/* the console refuses the line */
	if (len && data[len - 1] == '\r')
		len--;
	line = strndup((const char *)data, len);
	CHECK(line != NULL);
	check_shell(line);
	free(line);
	return 0;
}
