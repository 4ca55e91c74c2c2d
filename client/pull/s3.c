/* s3.c: the S3 API client (s3.h) on libcurl (AWS Signature V4 signing,
 * HTTP) and libxml2 (the XML replies): the only file that includes
 * either. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "buf.h"
#include "crypto.h"
#include "err.h"
#include "esc.h"
#include "fsutil.h"
#include "s3.h"
#include "xmalloc.h"
#include "banned.h"

#define XML_MAX (4 << 20)	/* the largest XML reply we read */
#define CRED_MAX 4096

struct s3 {
	CURL *h;
	char *endpoint, *region, *bucket, *shown, *sigv4;
	char *userpwd;		/* "access:secret", wiped on close */
	int path_style;
	long timeout;
	void (*on_bytes)(void *arg, size_t n);
	void *arg;
};

/* One request and what came back. */
struct req {
	const char *method;	/* GET HEAD PUT POST DELETE */
	const char *key;	/* NULL: the bucket */
	/* Already encoded (curl_easy_escape) and sorted by name, with "="
	 * after a bare name: libcurl 7.88 signs the query as it is given,
	 * while the store canonicalises it before checking. NULL: none. */
	const char *query;
	const void *body;	/* PUT/POST */
	size_t len;
	const struct s3_put_meta *pm;
	int out_fd;		/* GET: the body goes here; -1: into xml */
	uint64_t max;		/* ... at most */
	/* reply */
	long status;
	struct buf xml;
	struct s3_meta meta;
	char etag[80];
	size_t sent;
	uint64_t got;
	int too_big, write_failed;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int global_ok;

static void global_init(void)
{
	global_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
	xmlInitParser();
}

/* ---- credentials ---- */

static int cred_value(const char *line, const char *const *names,
    char **out)
{
	for (; *names; names++) {
		size_t n = strlen(*names);
		const char *p = line;
		if (strncmp(p, *names, n))
			continue;
		p += n;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p++ != '=')
			continue;
		while (*p == ' ' || *p == '\t')
			p++;
		free(*out);
		*out = xstrndup(p, strcspn(p, " \t\r"));
		return 1;
	}
	return 0;
}

static int read_credentials(const char *path, char **userpwd)
{
	static const char *const ak[] = { "access_key", "aws_access_key_id",
	    NULL };
	static const char *const sk[] = { "secret_key",
	    "aws_secret_access_key", NULL };
	struct buf b = BUF_INIT(CRED_MAX);
	char *a = NULL, *s = NULL, *p;
	struct stat st;
	int r;

	if (stat(path, &st) != 0)
		return err_sys("s3_credentials %s", esc(path));
	if (st.st_mode & 077)
		return err_set(ERR_REFUSED, "s3_credentials %s: mode %04o: the "
		    "file holds a secret and must be 0600 (chmod 600 %s)",
		    esc(path), (unsigned)(st.st_mode & 07777), esc(path));
	if ((r = fs_read_file(path, CRED_MAX, &b)) != 0)
		return r;
	for (p = b.p; p && *p; ) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (!cred_value(p, ak, &a))
			cred_value(p, sk, &s);
		p = nl ? nl + 1 : NULL;
	}
	if (a && s && *a && *s) {
		size_t n = strlen(a) + strlen(s) + 2;
		*userpwd = xmalloc(n);
		snprintf(*userpwd, n, "%s:%s", a, s);
	} else
		r = err_set(ERR_INVAL, "s3_credentials %s: needs the lines "
		    "access_key = ... and secret_key = ...", esc(path));
	if (a)
		freezero(a, strlen(a));
	if (s)
		freezero(s, strlen(s));
	buf_free_secret(&b);
	return r;
}

/* ---- set-up ---- */

int s3_open(const struct s3_opts *o, struct s3 **out)
{
	struct s3 *s;
	struct buf sig = BUF_INIT(256);
	int r;

	*out = NULL;
	pthread_once(&once, global_init);
	if (!global_ok)
		return err_set(ERR_IO, "libcurl: global initialisation failed");
	s = xcalloc(1, sizeof *s);
	if ((r = read_credentials(o->credentials, &s->userpwd)) != 0) {
		free(s);
		return r;
	}
	s->endpoint = xstrdup(o->endpoint);
	if (s->endpoint[0] && s->endpoint[strlen(s->endpoint) - 1] == '/')
		s->endpoint[strlen(s->endpoint) - 1] = '\0';
	s->region = xstrdup(o->region);
	s->bucket = xstrdup(o->bucket);
	s->shown = xstrdup(o->shown);
	s->path_style = o->path_style;
	s->timeout = o->timeout > 0 ? o->timeout : 60;
	s->on_bytes = o->on_bytes;
	s->arg = o->arg;
	buf_addf(&sig, "aws:amz:%s:s3", o->region);
	s->sigv4 = buf_detach(&sig, NULL);
	if ((s->h = curl_easy_init()) == NULL) {
		s3_close(s);
		return err_set(ERR_IO, "libcurl: cannot make a handle");
	}
	*out = s;
	return 0;
}

void s3_close(struct s3 *s)
{
	if (s == NULL)
		return;
	if (s->h)
		curl_easy_cleanup(s->h);
	if (s->userpwd)
		freezero(s->userpwd, strlen(s->userpwd));
	free(s->endpoint);
	free(s->region);
	free(s->bucket);
	free(s->shown);
	free(s->sigv4);
	free(s);
}

/* ---- one request ---- */

static char *url_of(const struct s3 *s, const char *key, const char *query)
{
	struct buf b = BUF_INIT(1 << 16);
	const char *host = strstr(s->endpoint, "://");

	if (s->path_style || host == NULL)
		buf_addf(&b, "%s/%s/", s->endpoint, s->bucket);
	else
		buf_addf(&b, "%.*s%s.%s/", (int)(host + 3 - s->endpoint),
		    s->endpoint, s->bucket, host + 3);
	if (key)
		buf_adds(&b, key);	/* keys are [A-Za-z0-9._/-] only */
	if (query)
		buf_addf(&b, "?%s", query);
	return buf_detach(&b, NULL);
}

static size_t on_read(char *p, size_t size, size_t nmemb, void *arg)
{
	struct req *q = arg;
	size_t n = size * nmemb, left = q->len - q->sent;

	if (n > left)
		n = left;
	if (n)
		memcpy(p, (const char *)q->body + q->sent, n);
	q->sent += n;
	return n;
}

struct ctx {
	struct s3 *s;
	struct req *q;
};

static size_t on_read_ctx(char *p, size_t size, size_t nmemb, void *arg)
{
	struct ctx *c = arg;
	size_t n = on_read(p, size, nmemb, c->q);

	if (n && c->s->on_bytes)
		c->s->on_bytes(c->s->arg, n);
	return n;
}

static size_t on_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct ctx *c = arg;
	struct req *q = c->q;
	size_t n = size * nmemb;

	if (q->out_fd >= 0 && q->status / 100 == 2) {
		if (q->got + n > q->max) {
			q->too_big = 1;
			return 0;
		}
		if (fs_write_all(q->out_fd, p, n, "download") != 0) {
			q->write_failed = 1;
			return 0;
		}
		q->got += n;
		if (c->s->on_bytes)
			c->s->on_bytes(c->s->arg, n);
		return n;
	}
	if (buf_add(&q->xml, p, n) != 0) {
		q->too_big = 1;
		return 0;
	}
	return n;
}

static void copy_value(char *dst, size_t dstsz, const char *v, size_t n)
{
	while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' '))
		n--;
	if (n >= dstsz)
		n = dstsz - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

static size_t on_header(char *p, size_t size, size_t nmemb, void *arg)
{
	struct ctx *c = arg;
	struct req *q = c->q;
	size_t n = size * nmemb, k;
	static const struct {
		const char *name;
		size_t off, size;
	} h[] = {
		{ "x-amz-meta-sha256", offsetof(struct s3_meta, sha256), 65 },
		{ "x-amz-meta-key-id", offsetof(struct s3_meta, key_id), 33 },
		{ "x-amz-meta-created", offsetof(struct s3_meta, created), 32 },
		{ "x-amz-version-id", offsetof(struct s3_meta, version), 128 },
	};

	if (n > 5 && !strncmp(p, "HTTP/", 5)) {
		/* a new response (after 100 Continue): forget the last */
		memset(&q->meta, 0, sizeof q->meta);
		q->etag[0] = '\0';
		if (sscanf(p, "HTTP/%*s %ld", &q->status) != 1)
			q->status = 0;
		return n;
	}
	for (k = 0; k < sizeof h / sizeof h[0]; k++) {
		size_t l = strlen(h[k].name);
		if (n > l + 1 && !strncasecmp(p, h[k].name, l) && p[l] == ':') {
			const char *v = p + l + 1;
			while (*v == ' ')
				v++;
			copy_value((char *)&q->meta + h[k].off, h[k].size, v,
			    n - (size_t)(v - p));
		}
	}
	if (n > 15 && !strncasecmp(p, "content-length:", 15))
		q->meta.size = strtoull(p + 15, NULL, 10);
	if (n > 5 && !strncasecmp(p, "etag:", 5)) {
		const char *v = p + 5;
		while (*v == ' ')
			v++;
		copy_value(q->etag, sizeof q->etag, v, n - (size_t)(v - p));
	}
	return n;
}

static void add_header(struct curl_slist **l, const char *fmt, const char *v)
{
	struct buf b = BUF_INIT(1024);

	buf_addf(&b, fmt, v);
	*l = curl_slist_append(*l, buf_cstr(&b));
	buf_free(&b);
}

static struct curl_slist *headers_of(const struct req *q, const char *hash)
{
	struct curl_slist *l = NULL;
	const struct s3_put_meta *pm = q->pm;

	/* Not "Expect:" to drop libcurl's 100-continue: libcurl 7.88 signs
	 * the emptied header although it never sends it. */
	add_header(&l, "x-amz-content-sha256: %s", hash);
	if (pm && pm->sha256)
		add_header(&l, "x-amz-meta-sha256: %s", pm->sha256);
	if (pm && pm->key_id)
		add_header(&l, "x-amz-meta-key-id: %s", pm->key_id);
	if (pm && pm->created)
		add_header(&l, "x-amz-meta-created: %s", pm->created);
	if (pm && pm->lock_mode && pm->lock_until > 0) {
		char when[32];
		time_t t = (time_t)pm->lock_until;
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		add_header(&l, "x-amz-object-lock-mode: %s", pm->lock_mode);
		add_header(&l, "x-amz-object-lock-retain-until-date: %s", when);
	}
	return l;
}

/* The S3 error code of an XML error body, "" when there is none. */
static void xml_error_code(const struct buf *b, char *code, size_t n)
{
	xmlDocPtr doc;
	xmlNodePtr e;

	code[0] = '\0';
	if (b->len == 0 || (doc = xmlReadMemory(b->p, (int)b->len, NULL, NULL,
	    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)) == NULL)
		return;
	if ((e = xmlDocGetRootElement(doc)) != NULL)
		for (e = e->children; e; e = e->next)
			if (e->type == XML_ELEMENT_NODE &&
			    !strcmp((const char *)e->name, "Code")) {
				xmlChar *v = xmlNodeGetContent(e);
				snprintf(code, n, "%s", v ? (const char *)v : "");
				for (char *c = code; *c; c++)
					if (!isalnum((unsigned char)*c))
						*c = '_';
				xmlFree(v);
				break;
			}
	xmlFreeDoc(doc);
}

/* The one line for a failed reply. */
static int http_error(struct s3 *s, const struct req *q)
{
	char code[64];
	const char *what = q->key ? q->key : "the bucket";

	xml_error_code(&q->xml, code, sizeof code);
	if (!strcmp(code, "InvalidAccessKeyId") ||
	    !strcmp(code, "SignatureDoesNotMatch") ||
	    (q->status == 403 && !code[0] && !strcmp(q->method, "HEAD") &&
	    q->key == NULL))
		return err_set(ERR_REFUSED, "store %s (%s): the store refused the "
		    "access key or its secret (%s): check s3_credentials",
		    s->shown, s->endpoint, code[0] ? code : "HTTP 403");
	if (!strcmp(code, "RequestTimeTooSkewed"))
		return err_set(ERR_REFUSED, "store %s (%s): this host's clock and "
		    "the store's differ too much (RequestTimeTooSkewed): check "
		    "the clock and NTP on this host", s->shown, s->endpoint);
	if (!strcmp(code, "AuthorizationHeaderMalformed") ||
	    !strcmp(code, "PermanentRedirect") ||
	    !strcmp(code, "IllegalLocationConstraintException"))
		return err_set(ERR_REFUSED, "store %s (%s): the bucket is in "
		    "another region, or the endpoint is not the bucket's (%s): "
		    "check s3_region and s3_endpoint", s->shown, s->endpoint, code);
	if (!strcmp(code, "NoSuchBucket"))
		return err_set(ERR_REFUSED, "store %s (%s): bucket %s does not "
		    "exist (NoSuchBucket): check the bucket in [pull] store, or "
		    "create it", s->shown, s->endpoint, s->bucket);
	if (q->status == 404)
		return err_set(ERR_NOTFOUND, "store %s: %s: no such object%s%s",
		    s->shown, esc(what), code[0] ? " or upload: " : "", code);
	if (q->status == 403)
		return err_set(ERR_DENIED, "store %s: %s %s: refused by the store "
		    "(%s)", s->shown, q->method, esc(what),
		    code[0] ? code : "HTTP 403");
	return err_set(ERR_IO, "store %s (%s): %s %s: HTTP %ld%s%s", s->shown,
	    s->endpoint, q->method, esc(what), q->status, code[0] ? " " : "",
	    code);
}

static int transport_error(struct s3 *s, const struct req *q, CURLcode cc,
    const char *detail)
{
	if (q->too_big)
		return err_set(ERR_TOOBIG, "store %s: %s: larger than expected",
		    s->shown, q->key ? esc(q->key) : "reply");
	if (q->write_failed)
		return ERR_IO;	/* fs_write_all() said why */
	if (cc == CURLE_COULDNT_CONNECT || cc == CURLE_COULDNT_RESOLVE_HOST ||
	    cc == CURLE_OPERATION_TIMEDOUT || cc == CURLE_RECV_ERROR ||
	    cc == CURLE_SEND_ERROR || cc == CURLE_GOT_NOTHING ||
	    cc == CURLE_SSL_CONNECT_ERROR)
		return err_set(ERR_IO, "store %s (%s): %s: check s3_endpoint and "
		    "that the store is up and reachable", s->shown, s->endpoint,
		    detail[0] ? detail : curl_easy_strerror(cc));
	return err_set(ERR_IO, "store %s (%s): %s", s->shown, s->endpoint,
	    detail[0] ? detail : curl_easy_strerror(cc));
}

static int perform(struct s3 *s, struct req *q)
{
	CURL *h = s->h;
	struct ctx c = { s, q };
	char hash[SHA256_HEX_LEN + 1], errbuf[CURL_ERROR_SIZE] = "";
	char *url = url_of(s, q->key, q->query);
	struct curl_slist *hdr;
	struct sha256 *sh;
	CURLcode cc;
	int r = 0;

	if ((sh = sha256_new()) == NULL) {
		free(url);
		return err_set(ERR_CRYPTO, "SHA-256: cannot start");
	}
	if (q->len)
		sha256_update(sh, q->body, q->len);
	sha256_final_hex(sh, hash);
	hdr = headers_of(q, hash);
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s->sigv4);
	curl_easy_setopt(h, CURLOPT_USERPWD, s->userpwd);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, s->timeout);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, s->timeout);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &c);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c);
	if (!strcmp(q->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read_ctx);
		curl_easy_setopt(h, CURLOPT_READDATA, &c);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
		    (curl_off_t)q->len);
	} else if (!strcmp(q->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, q->len ? q->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)q->len);
	} else if (!strcmp(q->method, "HEAD"))
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	else if (!strcmp(q->method, "DELETE"))
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, "DELETE");
	cc = curl_easy_perform(h);
	/* the secret stays only in the handle until the next reset */
	if (cc != CURLE_OK)
		r = transport_error(s, q, cc, errbuf);
	else if (q->status / 100 != 2)
		r = http_error(s, q);
	curl_slist_free_all(hdr);
	free(url);
	return r;
}

static void req_init(struct req *q, const char *method, const char *key,
    const char *query)
{
	memset(q, 0, sizeof *q);
	q->method = method;
	q->key = key;
	q->query = query;
	q->out_fd = -1;
	buf_init(&q->xml, XML_MAX);
}

/* ---- XML ---- */

static xmlDocPtr xml_parse_mem(const char *shown, const void *p, size_t len)
{
	xmlDocPtr doc = NULL;

	if (len == 0 || len > XML_MAX || (doc = xmlReadMemory(p, (int)len,
	    NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOERROR |
	    XML_PARSE_NOWARNING)) == NULL || xmlDocGetRootElement(doc) == NULL) {
		if (doc)
			xmlFreeDoc(doc);
		err_set(ERR_PROTO, "store %s: a reply that is not XML", shown);
		return NULL;
	}
	return doc;
}

static xmlDocPtr xml_parse(struct s3 *s, const struct buf *b)
{
	return xml_parse_mem(s->shown, b->p, b->len);
}

static int is_el(xmlNodePtr e, const char *name)
{
	return e->type == XML_ELEMENT_NODE && !strcmp((const char *)e->name,
	    name);
}

/* The text of parent's first child element name, malloc'd ("" none). */
static char *child_text(xmlNodePtr parent, const char *name)
{
	for (xmlNodePtr e = parent->children; e; e = e->next)
		if (is_el(e, name)) {
			xmlChar *v = xmlNodeGetContent(e);
			char *r = xstrdup(v ? (const char *)v : "");
			xmlFree(v);
			return r;
		}
	return xstrdup("");
}

static char *query_escape(struct s3 *s, const char *v)
{
	char *e = curl_easy_escape(s->h, v, 0), *r;

	r = xstrdup(e ? e : "");
	curl_free(e);
	return r;
}

/* ---- the operations ---- */

int s3_check(struct s3 *s)
{
	struct req q;
	int r;

	req_init(&q, "GET", NULL, "list-type=2&max-keys=1");
	r = perform(s, &q);
	buf_free(&q.xml);
	return r;
}

int s3_head(struct s3 *s, const char *key, struct s3_meta *m)
{
	struct req q;
	int r;

	memset(m, 0, sizeof *m);
	req_init(&q, "HEAD", key, NULL);
	if ((r = perform(s, &q)) == 0)
		*m = q.meta;
	buf_free(&q.xml);
	return r;
}

int s3_put(struct s3 *s, const char *key, const void *data, size_t len,
    const struct s3_put_meta *pm)
{
	struct req q;
	int r;

	req_init(&q, "PUT", key, NULL);
	q.body = data;
	q.len = len;
	q.pm = pm;
	r = perform(s, &q);
	buf_free(&q.xml);
	return r;
}

int s3_get_fd(struct s3 *s, const char *key, int fd, uint64_t max)
{
	struct req q;
	int r;

	req_init(&q, "GET", key, NULL);
	q.out_fd = fd;
	q.max = max;
	r = perform(s, &q);
	buf_free(&q.xml);
	return r;
}

int s3_delete(struct s3 *s, const char *key, const char *version)
{
	struct buf qs = BUF_INIT(1024);
	struct req q;
	char *v = NULL;
	int r;

	if (version && *version) {
		v = query_escape(s, version);
		buf_addf(&qs, "versionId=%s", v);
	}
	req_init(&q, "DELETE", key, qs.len ? buf_cstr(&qs) : NULL);
	r = perform(s, &q);
	buf_free(&q.xml);
	buf_free(&qs);
	free(v);
	return r;
}

int s3_xml_objects(const char *shown, const void *xml, size_t len,
    struct s3_object **out, size_t *n, char **next)
{
	xmlDocPtr doc = xml_parse_mem(shown, xml, len);
	xmlNodePtr root;
	char *trunc;

	*next = NULL;
	if (doc == NULL)
		return ERR_PROTO;
	root = xmlDocGetRootElement(doc);
	trunc = child_text(root, "IsTruncated");
	for (xmlNodePtr e = root->children; e; e = e->next) {
		char *k, *sz;
		if (!is_el(e, "Contents"))
			continue;
		k = child_text(e, "Key");
		sz = child_text(e, "Size");
		*out = xreallocarray(*out, *n + 1, sizeof **out);
		(*out)[*n].key = k;
		(*out)[*n].size = strtoull(sz, NULL, 10);
		(*n)++;
		free(sz);
	}
	if (!strcmp(trunc, "true")) {
		*next = child_text(root, "NextContinuationToken");
		if (!**next) {
			free(*next);
			*next = NULL;
			free(trunc);
			xmlFreeDoc(doc);
			return err_set(ERR_PROTO, "store %s: a truncated listing "
			    "without a continuation token", shown);
		}
	}
	free(trunc);
	xmlFreeDoc(doc);
	return 0;
}

int s3_list(struct s3 *s, const char *prefix, struct s3_object **out,
    size_t *n)
{
	char *pfx = query_escape(s, prefix), *token = NULL, *next = NULL;
	int r = 0;

	*out = NULL;
	*n = 0;
	do {
		struct buf qs = BUF_INIT(8192);
		struct req q;

		if (token) {
			char *t = query_escape(s, token);
			buf_addf(&qs, "continuation-token=%s&", t);
			free(t);
		}
		buf_addf(&qs, "list-type=2&prefix=%s", pfx);
		req_init(&q, "GET", NULL, buf_cstr(&qs));
		if ((r = perform(s, &q)) == 0)
			r = s3_xml_objects(s->shown, q.xml.p, q.xml.len, out, n,
			    &next);
		buf_free(&q.xml);
		buf_free(&qs);
		free(token);
		token = next;
		next = NULL;
	} while (r == 0 && token);
	free(token);
	free(pfx);
	if (r != 0) {
		s3_objects_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return r;
}

void s3_objects_free(struct s3_object *o, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(o[i].key);
	free(o);
}

int s3_mpu_find(struct s3 *s, const char *key, char **id)
{
	char *pfx = query_escape(s, key);
	struct buf qs = BUF_INIT(8192);
	struct req q;
	xmlDocPtr doc;
	int r;

	*id = NULL;
	buf_addf(&qs, "prefix=%s&uploads=", pfx);
	req_init(&q, "GET", NULL, buf_cstr(&qs));
	if ((r = perform(s, &q)) == 0) {
		if ((doc = xml_parse(s, &q.xml)) == NULL)
			r = ERR_PROTO;
		else {
			xmlNodePtr root = xmlDocGetRootElement(doc);
			/* the last listed one: uploads come oldest first */
			for (xmlNodePtr e = root->children; e; e = e->next) {
				char *k, *u;
				if (!is_el(e, "Upload"))
					continue;
				k = child_text(e, "Key");
				u = child_text(e, "UploadId");
				if (!strcmp(k, key) && *u) {
					free(*id);
					*id = u;
					u = NULL;
				}
				free(k);
				free(u);
			}
			xmlFreeDoc(doc);
			if (*id == NULL)
				r = ERR_NOTFOUND;
		}
	}
	buf_free(&q.xml);
	buf_free(&qs);
	free(pfx);
	return r;
}

int s3_mpu_create(struct s3 *s, const char *key,
    const struct s3_put_meta *pm, char **id)
{
	struct req q;
	xmlDocPtr doc;
	int r;

	*id = NULL;
	req_init(&q, "POST", key, "uploads=");
	q.pm = pm;
	if ((r = perform(s, &q)) == 0) {
		if ((doc = xml_parse(s, &q.xml)) == NULL)
			r = ERR_PROTO;
		else {
			*id = child_text(xmlDocGetRootElement(doc), "UploadId");
			xmlFreeDoc(doc);
			if (!**id) {
				free(*id);
				*id = NULL;
				r = err_set(ERR_PROTO, "store %s: %s: no UploadId in "
				    "the reply", s->shown, esc(key));
			}
		}
	}
	buf_free(&q.xml);
	return r;
}

static int cmp_part(const void *a, const void *b)
{
	return ((const struct s3_part *)a)->number -
	    ((const struct s3_part *)b)->number;
}

int s3_xml_parts(const char *shown, const void *xml, size_t len,
    struct s3_part **out, size_t *n, char **marker)
{
	xmlDocPtr doc = xml_parse_mem(shown, xml, len);
	xmlNodePtr root;
	char *t;

	*marker = NULL;
	if (doc == NULL)
		return ERR_PROTO;
	root = xmlDocGetRootElement(doc);
	t = child_text(root, "IsTruncated");
	for (xmlNodePtr e = root->children; e; e = e->next) {
		char *num, *sz, *et;
		struct s3_part *p;
		if (!is_el(e, "Part"))
			continue;
		num = child_text(e, "PartNumber");
		sz = child_text(e, "Size");
		et = child_text(e, "ETag");
		*out = xreallocarray(*out, *n + 1, sizeof **out);
		p = &(*out)[(*n)++];
		p->number = (int)strtol(num, NULL, 10);
		p->size = strtoull(sz, NULL, 10);
		snprintf(p->etag, sizeof p->etag, "%s", et);
		free(num);
		free(sz);
		free(et);
	}
	if (!strcmp(t, "true")) {
		*marker = child_text(root, "NextPartNumberMarker");
		if (strspn(*marker, "0123456789") != strlen(*marker) ||
		    !**marker) {
			free(*marker);
			*marker = NULL;
			free(t);
			xmlFreeDoc(doc);
			return err_set(ERR_PROTO, "store %s: a truncated list of "
			    "parts without a valid next marker", shown);
		}
	}
	free(t);
	xmlFreeDoc(doc);
	return 0;
}

int s3_mpu_parts(struct s3 *s, const char *key, const char *id,
    struct s3_part **out, size_t *n)
{
	char *uid = query_escape(s, id), *marker = NULL;
	int r = 0, more;

	*out = NULL;
	*n = 0;
	do {
		struct buf qs = BUF_INIT(8192);
		struct req q;

		more = 0;
		if (marker)
			buf_addf(&qs, "part-number-marker=%s&", marker);
		buf_addf(&qs, "uploadId=%s", uid);
		req_init(&q, "GET", key, buf_cstr(&qs));
		free(marker);
		marker = NULL;
		if ((r = perform(s, &q)) == 0 &&
		    (r = s3_xml_parts(s->shown, q.xml.p, q.xml.len, out, n,
		    &marker)) == 0)
			more = marker != NULL;
		buf_free(&q.xml);
		buf_free(&qs);
	} while (r == 0 && more);
	free(marker);
	free(uid);
	if (r == 0 && *n)
		qsort(*out, *n, sizeof **out, cmp_part);
	return r;
}

int s3_mpu_put(struct s3 *s, const char *key, const char *id, int number,
    const void *data, size_t len, struct s3_part *part)
{
	char *uid = query_escape(s, id);
	struct buf qs = BUF_INIT(8192);
	struct req q;
	int r;

	memset(part, 0, sizeof *part);
	buf_addf(&qs, "partNumber=%d&uploadId=%s", number, uid);
	req_init(&q, "PUT", key, buf_cstr(&qs));
	q.body = data;
	q.len = len;
	if ((r = perform(s, &q)) == 0) {
		if (!q.etag[0])
			r = err_set(ERR_PROTO, "store %s: %s: part %d: no ETag in "
			    "the reply", s->shown, esc(key), number);
		part->number = number;
		part->size = len;
		snprintf(part->etag, sizeof part->etag, "%s", q.etag);
	}
	buf_free(&q.xml);
	buf_free(&qs);
	free(uid);
	return r;
}

int s3_mpu_complete(struct s3 *s, const char *key, const char *id,
    const struct s3_part *parts, size_t n)
{
	char *uid = query_escape(s, id);
	struct buf qs = BUF_INIT(8192), body = BUF_INIT(1 << 22);
	struct req q;
	int r;

	buf_addf(&qs, "uploadId=%s", uid);
	buf_adds(&body, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < n; i++)
		buf_addf(&body, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag>"
		    "</Part>", parts[i].number, parts[i].etag);
	if ((r = buf_adds(&body, "</CompleteMultipartUpload>")) != 0) {
		err_set(r, "store %s: %s: too many parts", s->shown, esc(key));
		goto out;
	}
	req_init(&q, "POST", key, buf_cstr(&qs));
	q.body = body.p;
	q.len = body.len;
	r = perform(s, &q);
	/* A 200 reply may still carry an <Error> (S3's documented quirk). */
	if (r == 0 && q.xml.len && strstr(buf_cstr(&q.xml), "<Error>")) {
		char code[64];
		xml_error_code(&q.xml, code, sizeof code);
		r = err_set(ERR_IO, "store %s: %s: completing the upload failed "
		    "(%s)", s->shown, esc(key), code);
	}
	buf_free(&q.xml);
out:
	buf_free(&qs);
	buf_free(&body);
	free(uid);
	return r;
}

int s3_mpu_abort(struct s3 *s, const char *key, const char *id)
{
	char *uid = query_escape(s, id);
	struct buf qs = BUF_INIT(8192);
	struct req q;
	int r;

	buf_addf(&qs, "uploadId=%s", uid);
	req_init(&q, "DELETE", key, buf_cstr(&qs));
	r = perform(s, &q);
	buf_free(&q.xml);
	buf_free(&qs);
	free(uid);
	return r;
}
