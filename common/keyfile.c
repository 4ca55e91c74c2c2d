/* keyfile.c: a public key as key show prints it, or a bare PEM key
 * (keyfile.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "keyfile.h"
#include "xmalloc.h"
#include "banned.h"

#define KEYFILE_MAX 16384	/* sigkey_parse_public()'s limit */

/* In key show's output, the value of the line "<label> : <value>" before
 * the PEM block: 1 and out, 0 when there is none, or an error. */
static int keyfile_field(const char *text, size_t len, const char *label,
    char *out, size_t outsz, const char *what)
{
	const char *p = text, *end = text + len;
	size_t ll = strlen(label);
	int found = 0;

	while (p < end && strncmp(p, "-----BEGIN", 10)) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *v = p + ll;
		if ((size_t)(le - p) > ll && !strncmp(p, label, ll) &&
		    (*v == ' ' || *v == ':')) {
			size_t vl;
			while (v < le && *v == ' ')
				v++;
			if (v + 2 > le || v[0] != ':' || v[1] != ' ')
				return err_set(ERR_FORMAT, "%s: malformed %s line",
				    what, label);
			v += 2;
			vl = (size_t)(le - v);
			if (vl && v[vl - 1] == '\r')
				vl--;
			if (found++ || vl == 0 || vl >= outsz)
				return err_set(ERR_FORMAT, "%s: malformed or repeated "
				    "%s line", what, label);
			memcpy(out, v, vl);
			out[vl] = '\0';
		}
		p = le + (nl ? 1 : 0);
	}
	return found;
}

/* key show's "Node : <name> (<id>)" line, when text has one. */
static int keyfile_node(const char *text, size_t len, const char *what,
    struct keyfile_node *kn)
{
	char v[160], *open;
	size_t vl;
	int r;

	if ((r = keyfile_field(text, len, "Node", v, sizeof v, what)) <= 0)
		return r;
	vl = strlen(v);
	if ((open = strrchr(v, '(')) == NULL || open == v || open[-1] != ' ' ||
	    v[vl - 1] != ')' || (size_t)(v + vl - 1 - (open + 1)) != 36)
		return err_set(ERR_FORMAT, "%s: Node line is not '<name> (<node "
		    "id>)'", what);
	open[-1] = '\0';
	v[vl - 1] = '\0';
	if (!name_valid(v) || !node_id_valid(open + 1))
		return err_set(ERR_FORMAT, "%s: Node line has a bad name or node "
		    "id", what);
	memcpy(kn->name, v, strlen(v) + 1);
	memcpy(kn->id, open + 1, 37);
	return 0;
}

int keyfile_parse(const char *text, size_t len, const char *what,
    struct sigkey **key, struct keyfile_node *node)
{
	struct sigkey *k = NULL;
	char claimed[KEYID_HEX_LEN + 8];
	int r;

	*key = NULL;
	memset(node, 0, sizeof *node);
	if ((r = sigkey_parse_public(text, len, &k)) != 0)
		return err_prefix(r, "%s", what);
	if ((r = keyfile_field(text, len, "Key id", claimed, sizeof claimed,
	    what)) < 0)
		goto out;
	if (r == 1 && strcmp(claimed, sigkey_id(k))) {
		r = err_set(ERR_FORMAT, "%s: its Key id line says %s, the key's id "
		    "is %s", what, esc(claimed), sigkey_id(k));
		goto out;
	}
	if ((r = keyfile_node(text, len, what, node)) != 0)
		goto out;
	*key = k;
	k = NULL;
out:
	sigkey_free(k);
	if (r != 0)
		memset(node, 0, sizeof *node);
	return r;
}

int keyfile_load(const char *path, struct sigkey **key,
    struct keyfile_node *node)
{
	struct buf b = BUF_INIT(KEYFILE_MAX);
	int r;

	*key = NULL;
	memset(node, 0, sizeof *node);
	if ((r = fs_read_file(path, KEYFILE_MAX, &b)) == 0)
		r = keyfile_parse(buf_cstr(&b), b.len, esc(path), key, node);
	buf_free(&b);
	return r;
}

/* One "node <id> <name>" line of a .node file ("-": no name). */
static int nodes_line(const char *line, struct keyfile_node *kn)
{
	const char *name = line + 5 + 36 + 1;

	memset(kn, 0, sizeof *kn);
	if (strncmp(line, "node ", 5) || strlen(line) < 5 + 36 + 2 ||
	    line[5 + 36] != ' ')
		return -1;
	memcpy(kn->id, line + 5, 36);
	if (!node_id_valid(kn->id) || (strcmp(name, "-") && !name_valid(name)))
		return -1;
	if (strcmp(name, "-"))
		memcpy(kn->name, name, strlen(name) + 1);
	return 0;
}

int keyfile_load_nodes(const char *path, struct keyfile_node **nodes,
    size_t *n)
{
	struct buf b = BUF_INIT(16384);
	struct keyfile_node *v = NULL;
	size_t nv = 0;
	char *line, *next;
	int r, lineno = 0;

	*nodes = NULL;
	*n = 0;
	if ((r = fs_read_file(path, 16384, &b)) != 0)
		goto out;
	/* Every line up to the end, an empty one included (an error). */
	for (line = b.p; line && line < b.p + b.len; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		lineno++;
		if (line[0] == '#')
			continue;
		if (nv == KEYFILE_NODES_MAX) {
			r = err_set(ERR_TOOBIG, "%s: more than %d nodes", path,
			    KEYFILE_NODES_MAX);
			goto out;
		}
		v = xreallocarray(v, nv + 1, sizeof *v);
		if (next == NULL || nodes_line(line, &v[nv]) != 0) {
			r = err_set(ERR_FORMAT, "%s:%d: expected 'node <node id> "
			    "<name>'", path, lineno);
			goto out;
		}
		nv++;
	}
	*nodes = v;
	*n = nv;
	v = NULL;
out:
	free(v);
	buf_free(&b);
	return r;
}
