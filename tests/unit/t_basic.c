/* t_basic.c: buf, names, conf. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "conf.h"
#include "err.h"
#include "esc.h"
#include "names.h"
#include "tap.h"

void t_buf(void)
{
	struct buf b = BUF_INIT(8);

	ok(buf_adds(&b, "abcd") == 0 && b.len == 4, "buf: append within cap");
	ok(buf_adds(&b, "efghi") == ERR_TOOBIG && b.len == 4 &&
	    !strcmp(buf_cstr(&b), "abcd"), "buf: append past cap fails, unchanged");
	ok(buf_addf(&b, "%d", 1234) == 0 && !strcmp(buf_cstr(&b), "abcd1234"),
	    "buf: formatted append up to cap");
	buf_consume(&b, 2);
	ok(!strcmp(buf_cstr(&b), "cd1234") && b.len == 6, "buf: consume");
	buf_free(&b);
	ok(!strcmp(buf_cstr(&b), "") && b.len == 0, "buf: empty after free");
}

void t_names(void)
{
	static const char *good[] = { "nightly", "a", "pre-rollback-2026.1_x",
		"0123456789012345678901234567890123456789012345678901234567890123" };
	static const char *bad[] = { "", ".hidden", "a/b", "a b", "x\n", "é",
		"01234567890123456789012345678901234567890123456789012345678901234",
		"..", "a\\b" };
	char out[80];

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		ok(name_valid(good[i]), "name valid: '%s'", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(!name_valid(bad[i]), "name refused: bad[%zu]", i);
	ok(name_from_bak("nightly.bak", out, sizeof out) == 0 &&
	    !strcmp(out, "nightly"), "name_from_bak strips .bak");
	ok(name_from_bak("nightly", out, sizeof out) == ERR_INVAL,
	    "name_from_bak wants .bak");
	ok(name_from_bak(".x.bak", out, sizeof out) == ERR_INVAL,
	    "name_from_bak refuses hidden names");
	ok(!strcmp(esc("files/a b.cer"), "files/a b.cer"), "esc keeps printable");
	ok(!strcmp(esc("a\nb\x1b[2J\\\t\r\x7f\xc3\xa9"),
	    "a\\nb\\x1b[2J\\\\\\t\\r\\x7f\\xc3\\xa9"),
	    "esc: newline, ESC, backslash, tab, CR, DEL and high bytes escaped");
	{
		char big[2000];
		memset(big, '\n', sizeof big - 1);
		big[sizeof big - 1] = '\0';
		const char *e = esc(big);
		ok(strlen(e) <= 403 && !strcmp(e + strlen(e) - 3, "..."),
		    "esc cuts a long name with ...");
	}
	ok(!strcmp(esc(NULL), ""), "esc(NULL) is empty");
	ok(name_from_bak("a\nb\x1b[2J.bak", out, sizeof out) == ERR_INVAL &&
	    !strchr(err_msg(), '\n') && !strchr(err_msg(), '\x1b') &&
	    strstr(err_msg(), "a\\nb\\x1b[2J.bak"),
	    "name_from_bak's message shows the name escaped");
	ok(node_id_valid("cb496dcf-76cd-4742-8e2a-a808f63409ae"),
	    "node id valid: a uuid_new() id");
	ok(!node_id_valid("CB496DCF-76CD-4742-8E2A-A808F63409AE") &&
	    !node_id_valid("cb496dcf-76cd-4742-8e2a-a808f63409a") &&
	    !node_id_valid("cb496dcf-76cd-4742-8e2a-a808f63409aef") &&
	    !node_id_valid("cb496dcf776cd-4742-8e2a-a808f63409ae") &&
	    !node_id_valid("\x1b[2J\x1b[31mfffffffffffffffffffffffffff"),
	    "node id refused: upper case, short, long, dash missing, ESC");
	ok(name_is_bak_of("nightly.bak", "nightly") &&
	    !name_is_bak_of("nightly.bak", "old") &&
	    !name_is_bak_of("nightly.bak", "night") &&
	    !name_is_bak_of("nightly.bak.bak", "nightly") &&
	    !name_is_bak_of("nightly", "nightly"),
	    "name_is_bak_of: only <snapshot>.bak");
}

static int conf_text(const char *text, struct conf **c)
{
	char path[] = "/tmp/nodebak-unit-conf-XXXXXX";
	int fd = mkstemp(path), r;
	FILE *f = fdopen(fd, "w");

	fputs(text, f);
	fclose(f);
	r = conf_load(path, c);
	unlink(path);
	return r;
}

void t_conf(void)
{
	struct conf *c = NULL;

	ok(conf_text("[node]\nname = n1\nstate_dir = st\n[database]\nengine = sqlite\n"
	    "[cluster]\ninterface_a = 127.0.0.1\n", &c) == 0 && c,
	    "conf: minimal file loads");
	if (c) {
		ok(!strcmp(c->node_name, "n1"), "conf: node name");
		ok(!strcmp(c->state_dir, "/tmp/st"), "conf: relative path resolved "
		    "against the file's folder (%s)", c->state_dir);
		ok(c->compression_level == 6, "conf: default compression level");
		ok(conf_iface(c, "a") && !strcmp(conf_iface(c, "a"), "127.0.0.1"),
		    "conf: interface_a");
		conf_free(c);
	}
	ok(conf_text("[node]\nname = n1\nbogus = 1\n", &c) == ERR_INVAL &&
	    strstr(err_msg(), ":3: unknown key"), "conf: unknown key with line: %s",
	    err_msg());
	ok(conf_text("[node]\nname = n1\n[nodes]\n", &c) == ERR_INVAL &&
	    strstr(err_msg(), ":3: unknown section"), "conf: unknown section: %s",
	    err_msg());
	ok(conf_text("[node]\nname = n1\nname = n2\n", &c) == ERR_INVAL &&
	    strstr(err_msg(), ":3: duplicate key"), "conf: duplicate key: %s",
	    err_msg());
	ok(conf_text("[node]\nname = n1\n[snapshotd]\ncompression_level = 11\n",
	    &c) == ERR_INVAL && strstr(err_msg(), ":4: expected a number"),
	    "conf: out-of-range number: %s", err_msg());
	ok(conf_text("[node]\nname = .bad\n", &c) == ERR_INVAL &&
	    strstr(err_msg(), ":2:"), "conf: bad node name: %s", err_msg());
	ok(conf_text("[database]\nengine = oracle\n[node]\nname=x\n", &c) ==
	    ERR_INVAL && strstr(err_msg(), ":2: not one of"),
	    "conf: bad enum: %s", err_msg());
	ok(conf_text("[ftpd]\nftp_listen = 127.0.0.1\n[node]\nname=x\n", &c) ==
	    ERR_INVAL && strstr(err_msg(), ":2: expected ADDRESS:PORT"),
	    "conf: listen without port: %s", err_msg());
	ok(conf_text("[ftpd]\npasv_ports = 50000-40000\n[node]\nname=x\n", &c) ==
	    ERR_INVAL, "conf: inverted port range refused");
	ok(conf_text("[node]\nstate_dir = /x\n", &c) == ERR_INVAL &&
	    strstr(err_msg(), "name is required"), "conf: name required: %s",
	    err_msg());
	ok(conf_text("name = x\n", &c) == ERR_INVAL &&
	    strstr(err_msg(), ":1: key outside"), "conf: key outside section");
	ok(conf_load("conf/nodebak.conf", &c) == 0, "conf: the shipped example "
	    "conf/nodebak.conf loads (%s)", err_msg());
	conf_free(c);
	c = NULL;
	ok(conf_load("/nonexistent/nodebak.conf", &c) != 0 &&
	    strstr(err_msg(), "/nonexistent/nodebak.conf"),
	    "conf: missing file named: %s", err_msg());
}
