/* envelope.c: the signed ENVELOPE of a sealed archive (envelope.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "envelope.h"
#include "err.h"
#include "esc.h"
#include "manifest.h"
#include "names.h"
#include "banned.h"

void envelope_from_manifest(struct envelope *e, const struct manifest *mf)
{
	memset(e, 0, sizeof *e);
	memcpy(e->node_name, mf->node_name, sizeof e->node_name);
	memcpy(e->node_id, mf->node_id, sizeof e->node_id);
	memcpy(e->software, mf->software, sizeof e->software);
	memcpy(e->engine, mf->engine, sizeof e->engine);
	e->schema = mf->schema;
	memcpy(e->snapshot, mf->snapshot, sizeof e->snapshot);
	e->created = mf->created;
	memcpy(e->key_id, mf->key_id, sizeof e->key_id);
}

void envelope_to_manifest(const struct envelope *e, struct manifest *mf)
{
	manifest_init(mf);
	memcpy(mf->node_name, e->node_name, sizeof mf->node_name);
	memcpy(mf->node_id, e->node_id, sizeof mf->node_id);
	memcpy(mf->software, e->software, sizeof mf->software);
	memcpy(mf->engine, e->engine, sizeof mf->engine);
	mf->schema = e->schema;
	memcpy(mf->snapshot, e->snapshot, sizeof mf->snapshot);
	mf->created = e->created;
	memcpy(mf->key_id, e->key_id, sizeof mf->key_id);
}

int envelope_matches(const struct envelope *e, const struct manifest *mf)
{
	return !strcmp(e->node_name, mf->node_name) &&
	    !strcmp(e->node_id, mf->node_id) &&
	    !strcmp(e->software, mf->software) &&
	    !strcmp(e->engine, mf->engine) && e->schema == mf->schema &&
	    !strcmp(e->snapshot, mf->snapshot) && e->created == mf->created &&
	    !strcmp(e->key_id, mf->key_id);
}

int envelope_format(const struct envelope *e, struct buf *b)
{
	char ts[21], rec[AGE_RECIPIENT_MAX];
	int r;

	manifest_time(e->created, ts);
	if ((r = buf_addf(b, "nodebak-envelope %d\nnode-name %s\nnode-id %s\n"
	    "software nodebak %s\nengine %s\nschema %ld\nsnapshot %s\n"
	    "created %s\nkey-id %s\nmanifest-sha256 %s\n"
	    "payload age-v1 %llu %s\nrecipients %zu\n", ENVELOPE_VERSION,
	    e->node_name, e->node_id, e->software, e->engine, e->schema,
	    e->snapshot, ts, e->key_id, e->manifest_sha256,
	    (unsigned long long)e->payload_size, e->payload_sha256, e->nrec)) != 0)
		return r;
	for (size_t i = 0; i < e->nrec; i++) {
		age_recipient_format(&e->rec[i], rec);
		if ((r = buf_addf(b, "recipient %s\n", rec)) != 0)
			return r;
	}
	return buf_adds(b, "end\n");
}

/* The value of line "key value" (one word), or NULL. */
static const char *value(const char *line, const char *key)
{
	size_t kl = strlen(key);

	if (strncmp(line, key, kl) || line[kl] != ' ' || line[kl + 1] == '\0')
		return NULL;
	return line + kl + 1;
}

static int copy(char *out, size_t outsz, const char *v)
{
	if (v == NULL || strlen(v) >= outsz || strchr(v, ' '))
		return -1;
	memcpy(out, v, strlen(v) + 1);
	return 0;
}

static int hex64(const char *v)
{
	if (v == NULL || strlen(v) != SHA256_HEX_LEN)
		return 0;
	for (const char *p = v; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

/* Parse into e field by field, then require the text to be exactly what
 * envelope_format() makes of e: one canonical form only. */
int envelope_parse(const char *text, size_t len, struct envelope *e)
{
	struct buf back = BUF_INIT(ENVELOPE_MAX_BYTES + 1024);
	char *copyt, *line, *next, ts[32], size[24], psha[SHA256_HEX_LEN + 1];
	const char *v;
	char *endp;
	int lineno = 0, r = ERR_FORMAT;
	unsigned long long n;

	memset(e, 0, sizeof *e);
	if (len > ENVELOPE_MAX_BYTES || memchr(text, '\0', len))
		return err_set(ERR_FORMAT, "ENVELOPE: larger than %d bytes or "
		    "holds a NUL byte", ENVELOPE_MAX_BYTES);
	copyt = malloc(len + 1);
	if (copyt == NULL)
		return err_set(ERR_NOMEM, "out of memory");
	memcpy(copyt, text, len);
	copyt[len] = '\0';
#define LINE() do { \
	line = next; lineno++; \
	if (line == NULL || (next = strchr(line, '\n')) == NULL) goto bad; \
	*next++ = '\0'; \
} while (0)
	next = copyt;
	LINE();
	if (strcmp(line, "nodebak-envelope 2"))
		goto bad;
	LINE(); if (copy(e->node_name, sizeof e->node_name, value(line, "node-name")) ||
	    !name_valid(e->node_name)) goto bad;
	LINE(); if (copy(e->node_id, sizeof e->node_id, value(line, "node-id")) ||
	    strlen(e->node_id) != 36) goto bad;
	LINE(); if (copy(e->software, sizeof e->software,
	    value(line, "software nodebak"))) goto bad;
	LINE(); if (copy(e->engine, sizeof e->engine, value(line, "engine")) ||
	    (strcmp(e->engine, "sqlite") && strcmp(e->engine, "postgresql")))
		goto bad;
	LINE(); if ((v = value(line, "schema")) == NULL) goto bad;
	n = strtoull(v, &endp, 10);
	if (*endp || n > 1000000) goto bad;
	e->schema = (long)n;
	LINE(); if (copy(e->snapshot, sizeof e->snapshot, value(line, "snapshot")) ||
	    !name_valid(e->snapshot)) goto bad;
	LINE(); if (copy(ts, sizeof ts, value(line, "created")) ||
	    manifest_parse_time(ts, &e->created)) goto bad;
	LINE(); if (copy(e->key_id, sizeof e->key_id, value(line, "key-id")) ||
	    strlen(e->key_id) != KEYID_HEX_LEN) goto bad;
	LINE(); if (!hex64(value(line, "manifest-sha256"))) goto bad;
	memcpy(e->manifest_sha256, value(line, "manifest-sha256"), SHA256_HEX_LEN + 1);
	LINE(); if ((v = value(line, "payload age-v1")) == NULL ||
	    sscanf(v, "%23s %64s", size, psha) != 2 || !hex64(psha)) goto bad;
	n = strtoull(size, &endp, 10);
	if (*endp || size[0] == '-') goto bad;
	e->payload_size = n;
	memcpy(e->payload_sha256, psha, sizeof psha);
	LINE(); if ((v = value(line, "recipients")) == NULL) goto bad;
	n = strtoull(v, &endp, 10);
	if (*endp || n == 0 || n > AGE_MAX_RECIPIENTS) goto bad;
	e->nrec = (size_t)n;
	for (size_t i = 0; i < e->nrec; i++) {
		LINE();
		if ((v = value(line, "recipient")) == NULL ||
		    age_recipient_parse(v, &e->rec[i]) != 0)
			goto bad;
	}
	LINE(); if (strcmp(line, "end") || *next) goto bad;
#undef LINE
	/* Canonical: numbers without leading zeros, nothing else anywhere. */
	if (envelope_format(e, &back) != 0 || back.len != len ||
	    memcmp(back.p, text, len)) {
		lineno = 0;
		goto bad;
	}
	r = 0;
	goto out;
bad:
	if (lineno)
		r = err_set(ERR_FORMAT, "ENVELOPE line %d is malformed", lineno);
	else
		r = err_set(ERR_FORMAT, "ENVELOPE is not in its canonical form");
	memset(e, 0, sizeof *e);
out:
	free(copyt);
	buf_free(&back);
	return r;
}
