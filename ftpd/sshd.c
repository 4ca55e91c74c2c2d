/* sshd.c: the SSH server of nodebak-ftpd on libssh (see sshd.h and
 * docs/sftp.md): host key, algorithms, logins, the session channel, and
 * the glue that runs sftp.c or the console (rconsole.c) on it. One
 * process per connection (the listener forks), so blocking calls are
 * fine here. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libssh/callbacks.h>
#include <libssh/libssh.h>
#include <libssh/server.h>

#include "err.h"
#include "gate.h"
#include "log.h"
#include "rconsole.h"
#include "sftp.h"
#include "sshd.h"
#include "xmalloc.h"
#include "banned.h"

/* Modern algorithms only: no SHA-1 key exchange or signatures, no CBC. */
#define KEX_ALGOS "curve25519-sha256,curve25519-sha256@libssh.org," \
	"ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521," \
	"diffie-hellman-group16-sha512,diffie-hellman-group18-sha512," \
	"diffie-hellman-group14-sha256"
#define CIPHERS "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com," \
	"aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr"
#define MACS "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com," \
	"hmac-sha2-256,hmac-sha2-512"
#define HOSTKEY_ALGOS "ssh-ed25519"
#define PUBKEY_ALGOS "ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384," \
	"ecdsa-sha2-nistp521,rsa-sha2-512,rsa-sha2-256"

#define END_GRACE_MS 3000	/* waiting for the client to close */

/* M_NOCONSOLE: an exec or shell request from a role without a console,
 * accepted only to say so on the channel. */
enum mode { M_NONE, M_SFTP, M_EXEC, M_SHELL, M_NOCONSOLE };

struct sess {
	const struct sshd_opts *o;
	ssh_session ssh;
	ssh_channel chan;
	char peer[64];
	char user[128];
	int authed, failures;
	enum role role;
	enum mode mode;
	char *command;		/* exec request */
	struct rconsole_pty pty;
	int want_pty;
	struct rconsole *con;	/* a running console */
	int con_failed;		/* writing its output to the channel failed */
	time_t last_io;		/* console traffic either way (monotonic s) */
	struct ssh_channel_callbacks_struct ccb;
};

static time_t now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

/* ---- host key ---- */

int sshd_fingerprint(const char *host_key_path, char *out, size_t outsz)
{
	ssh_key key = NULL;
	unsigned char *hash = NULL;
	size_t hlen = 0;
	char *fp = NULL;
	int r = 0;

	if (outsz)
		out[0] = '\0';
	if (ssh_pki_import_privkey_file(host_key_path, NULL, NULL, NULL,
	    &key) != SSH_OK)
		return err_set(ERR_CRYPTO, "%s: cannot read the host key",
		    host_key_path);
	if (ssh_get_publickey_hash(key, SSH_PUBLICKEY_HASH_SHA256, &hash,
	    &hlen) != 0 || !(fp = ssh_get_fingerprint_hash(
	    SSH_PUBLICKEY_HASH_SHA256, hash, hlen)))
		r = err_set(ERR_CRYPTO, "%s: cannot hash the host key",
		    host_key_path);
	else if ((size_t)snprintf(out, outsz, "%s", fp) >= outsz)
		r = err_set(ERR_TOOBIG, "fingerprint buffer too small");
	ssh_string_free_char(fp);
	ssh_clean_pubkey_hash(&hash);
	ssh_key_free(key);
	return r;
}

/* Create an Ed25519 key at path (mode 0600) through a temporary file,
 * and its public half at path.pub (as ssh-keygen does, so that tools
 * without the private key can show the fingerprint). */
static int host_key_create(const char *path)
{
	char tmp[4096], pub[4096];
	ssh_key key = NULL;
	mode_t old;
	int r = 0, rc;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.new", path) >= sizeof(tmp) ||
	    (size_t)snprintf(pub, sizeof(pub), "%s.pub", path) >= sizeof(pub))
		return err_set(ERR_INVAL, "%s: path too long", path);
	if (ssh_pki_generate(SSH_KEYTYPE_ED25519, 0, &key) != SSH_OK)
		return err_set(ERR_CRYPTO, "%s: cannot generate a key", path);
	unlink(tmp);
	old = umask(077);
	rc = ssh_pki_export_privkey_file(key, NULL, NULL, NULL, tmp);
	umask(old);
	if (rc != SSH_OK)
		r = err_set(ERR_IO, "%s: cannot write the host key", tmp);
	else if (chmod(tmp, 0600) != 0 || rename(tmp, path) != 0)
		r = err_sys("%s", path);
	if (r)
		unlink(tmp);
	else if (ssh_pki_export_pubkey_file(key, pub) != SSH_OK ||
	    chmod(pub, 0644) != 0)
		log_warn("ssh: %s: cannot write the public key", pub);
	ssh_key_free(key);
	return r;
}

int sshd_host_key(const char *path)
{
	char fp[128];
	int r;

	if (access(path, F_OK) != 0) {
		if (errno != ENOENT)
			return err_sys("%s", path);
		if ((r = host_key_create(path)) != 0)
			return r;
		log_info("ssh: created host key %s", path);
	}
	if ((r = sshd_fingerprint(path, fp, sizeof(fp))) != 0)
		return r;
	log_info("ssh: host key %s ED25519 %s", path, fp);
	return 0;
}

/* ---- logins ---- */

/* Before a password or a signature is checked: ask the listener. A
 * locked-out address or user name is told why in the disconnect message
 * (OpenSSH prints it: "Received disconnect from ...: 2: too many failed
 * logins ..."), even with the right key or password. A password check
 * then waits the listener's delay, the same whatever the check says; a
 * signature cannot be guessed, so its check is not delayed. 0: go ahead. */
static int gate_open(struct sess *s, const char *user, int delay)
{
	struct gate_answer a;
	char why[200];

	if (gate_ask(s->o->gate, user, &a) != 0) {
		log_warn("ssh: %s: %s", s->peer, err_msg());
		snprintf(why, sizeof why, "cannot check logins now; try again later");
	} else if (a.refused) {
		gate_why(&a, s->peer, user, why, sizeof why);
		log_info("ssh: %s: login refused: %s", s->peer, why);
	} else {
		if (delay)
			gate_delay(&a);
		return 0;
	}
	ssh_session_set_disconnect_message(s->ssh, why);
	ssh_disconnect(s->ssh);
	return -1;
}

/* Count a failed attempt and close the connection at the limit (key
 * probes count here too, not in the listener: they cost nothing). */
static void login_failed(struct sess *s)
{
	s->failures++;
	if (s->failures >= s->o->max_login_attempts) {
		log_warn("ssh: %s: too many failed logins (%d)", s->peer,
		    s->failures);
		ssh_disconnect(s->ssh);
	}
}

/* The outcome of a checked login: counted by the listener, logged.
 * Returns ok, or 0 when the listener could not count it (fail closed). */
static int login_done(struct sess *s, const char *user, const char *method,
    int ok, enum role role)
{
	struct gate_answer a;

	if (gate_report(s->o->gate, user, ok, &a) != 0) {
		log_warn("ssh: %s: %s", s->peer, err_msg());
		ssh_disconnect(s->ssh);
		return 0;
	}
	if (s->o->login_log)
		s->o->login_log(s->o->arg, user, s->peer, method, ok,
		    s->o->gate >= 0 ? a.addr_failures : -1, a.user_failures);
	if (!ok)
		return 0;
	s->authed = 1;
	s->role = role;
	snprintf(s->user, sizeof(s->user), "%s", user);
	return 1;
}

static int auth_password(ssh_session ssh, const char *user,
    const char *password, void *arg)
{
	struct sess *s = arg;
	enum role role = ROLE_NONE;

	int ok;

	(void)ssh;
	if (s->authed || gate_open(s, user, 1) != 0)
		return SSH_AUTH_DENIED;
	ok = s->o->password &&
	    s->o->password(s->o->arg, user, password, &role) == 0;
	if (login_done(s, user, "password", ok, role))
		return SSH_AUTH_SUCCESS;
	login_failed(s);
	return SSH_AUTH_DENIED;
}

/* The acceptability probe (state NONE) gets PK_OK only for a listed key;
 * a verified signature (VALID) for a listed key logs the user in. */
static int auth_pubkey(ssh_session ssh, const char *user,
    struct ssh_key_struct *pubkey, char signature_state, void *arg)
{
	struct sess *s = arg;
	char *b64 = NULL;
	const char *type = ssh_key_type_to_char(ssh_key_type(pubkey));
	enum role role = ROLE_NONE;
	int ok = 0;

	(void)ssh;
	if (!s->authed && s->o->pubkey && type &&
	    ssh_pki_export_pubkey_base64(pubkey, &b64) == SSH_OK)
		ok = s->o->pubkey(s->o->arg, user, type, b64, &role) == 0;
	ssh_string_free_char(b64);
	if (signature_state == SSH_PUBLICKEY_STATE_NONE) {
		if (ok)
			return SSH_AUTH_SUCCESS;
		login_failed(s);
		return SSH_AUTH_DENIED;
	}
	if (s->authed || gate_open(s, user, 0) != 0)
		return SSH_AUTH_DENIED;
	if (login_done(s, user, "publickey",
	    signature_state == SSH_PUBLICKEY_STATE_VALID && ok, role))
		return SSH_AUTH_SUCCESS;
	login_failed(s);
	return SSH_AUTH_DENIED;
}

/* ---- the session channel ---- */

static int on_data(ssh_session ssh, ssh_channel ch, void *data,
    uint32_t len, int is_stderr, void *arg)
{
	struct sess *s = arg;

	(void)ssh;
	(void)ch;
	/* SFTP reads the channel itself: leave the bytes buffered. */
	if (s->mode != M_EXEC && s->mode != M_SHELL)
		return 0;
	if (is_stderr)
		return (int)len;
	s->last_io = now_s();
	return rconsole_input(s->con, data, len);
}

static void on_eof(ssh_session ssh, ssh_channel ch, void *arg)
{
	struct sess *s = arg;

	(void)ssh;
	(void)ch;
	if (s->con)
		rconsole_input_eof(s->con);
}

static int on_pty(ssh_session ssh, ssh_channel ch, const char *term,
    int cols, int rows, int px, int py, void *arg)
{
	struct sess *s = arg;

	(void)ssh;
	(void)ch;
	(void)term;
	if (s->mode != M_NONE)
		return SSH_ERROR;
	s->want_pty = 1;
	s->pty.cols = cols;
	s->pty.rows = rows;
	s->pty.xpixel = px;
	s->pty.ypixel = py;
	return SSH_OK;
}

static int on_winch(ssh_session ssh, ssh_channel ch, int cols, int rows,
    int px, int py, void *arg)
{
	struct sess *s = arg;

	(void)ssh;
	(void)ch;
	s->pty.cols = cols;
	s->pty.rows = rows;
	s->pty.xpixel = px;
	s->pty.ypixel = py;
	if (s->con)
		rconsole_resize(s->con, &s->pty);
	return SSH_OK;
}

static int start_session(struct sess *s, enum mode mode);

static int on_shell(ssh_session ssh, ssh_channel ch, void *arg)
{
	struct sess *s = arg;

	(void)ssh;
	(void)ch;
	if (s->mode != M_NONE)
		return SSH_ERROR;
	return start_session(s, M_SHELL);
}

static int on_exec(ssh_session ssh, ssh_channel ch, const char *command,
    void *arg)
{
	struct sess *s = arg;

	(void)ssh;
	(void)ch;
	if (s->mode != M_NONE || strlen(command) > RCONSOLE_MAX_COMMAND)
		return SSH_ERROR;
	s->command = xstrdup(command);
	return start_session(s, M_EXEC);
}

static int on_subsystem(ssh_session ssh, ssh_channel ch,
    const char *subsystem, void *arg)
{
	struct sess *s = arg;

	(void)ssh;
	(void)ch;
	if (s->mode != M_NONE || strcmp(subsystem, "sftp"))
		return SSH_ERROR;
	return start_session(s, M_SFTP);
}

static int on_env(ssh_session ssh, ssh_channel ch, const char *name,
    const char *value, void *arg)
{
	(void)ssh;
	(void)ch;
	(void)name;
	(void)value;
	(void)arg;
	return SSH_ERROR;	/* no client environment reaches the console */
}

/* One session channel per connection; before login, none. */
static ssh_channel on_channel_open(ssh_session ssh, void *arg)
{
	struct sess *s = arg;

	if (!s->authed || s->chan)
		return NULL;
	if (!(s->chan = ssh_channel_new(ssh)))
		return NULL;
	memset(&s->ccb, 0, sizeof(s->ccb));
	s->ccb.userdata = s;
	s->ccb.channel_data_function = on_data;
	s->ccb.channel_eof_function = on_eof;
	s->ccb.channel_pty_request_function = on_pty;
	s->ccb.channel_pty_window_change_function = on_winch;
	s->ccb.channel_shell_request_function = on_shell;
	s->ccb.channel_exec_request_function = on_exec;
	s->ccb.channel_subsystem_request_function = on_subsystem;
	s->ccb.channel_env_request_function = on_env;
	ssh_callbacks_init(&s->ccb);
	ssh_set_channel_callbacks(s->chan, &s->ccb);
	return s->chan;
}

/* ---- SFTP on the channel ---- */

static int chan_read(void *ctx, void *p, size_t len, int timeout_ms)
{
	struct sess *s = ctx;
	int n;

	n = ssh_channel_read_timeout(s->chan, p, (uint32_t)len, 0, timeout_ms);
	if (n == SSH_ERROR)
		return err_set(ERR_IO, "ssh: %s", ssh_get_error(s->ssh));
	if (n == 0 && !ssh_channel_is_eof(s->chan) &&
	    ssh_channel_is_open(s->chan) && ssh_is_connected(s->ssh))
		return err_set(ERR_IO, "idle for %d seconds", timeout_ms / 1000);
	return n;
}

static int chan_write(void *ctx, const void *p, size_t len)
{
	struct sess *s = ctx;
	const char *c = p;
	int n;

	while (len > 0) {
		n = ssh_channel_write(s->chan, c, len > 0x100000 ? 0x100000 :
		    (uint32_t)len);
		if (n <= 0)
			return err_set(ERR_IO, "ssh: %s", ssh_get_error(s->ssh));
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static void xfer_line(void *arg, const char *vpath, int upload,
    unsigned long long bytes, double seconds, int complete)
{
	struct sess *s = arg;

	if (s->o->xfer_log)
		s->o->xfer_log(s->o->arg, s->user, s->peer, vpath, upload, bytes,
		    seconds, complete);
}

static int run_sftp(struct sess *s)
{
	struct sftp_io io = { s, chan_read, chan_write };
	struct sftp_params p;

	memset(&p, 0, sizeof(p));
	p.root = s->o->files_dir;
	p.user = s->user;
	p.peer = s->peer;
	p.role = s->role;
	p.max_handles = s->o->max_handles;
	p.idle_timeout = s->o->idle_timeout;
	p.umask = (mode_t)s->o->umask;
	p.lockdown = 1;
	p.xfer = xfer_line;
	p.xfer_arg = s;
	return sftp_serve(&io, &p);
}

/* ---- the console on the channel ---- */

static int con_output(void *arg, const void *p, size_t len, int is_stderr)
{
	struct sess *s = arg;
	int n;

	s->last_io = now_s();
	n = is_stderr ? ssh_channel_write_stderr(s->chan, p, (uint32_t)len) :
	    ssh_channel_write(s->chan, p, (uint32_t)len);
	return n == (int)len ? 0 : ERR_IO;
}

static int con_readable(socket_t fd, int revents, void *arg)
{
	struct sess *s = arg;

	(void)revents;
	if (rconsole_pump(s->con, fd) != 0)
		s->con_failed = 1;
	return 0;
}

/* Pump the console's output to the channel and the channel's input to
 * the console (on_data) until the console has finished or the client
 * has gone; *status: the console's exit code. */
static int run_console(struct sess *s, ssh_event ev, int *status)
{
	int fds[2], watched[2] = { -1, -1 }, i, gone = 0;

	s->last_io = now_s();
	rconsole_fds(s->con, fds);
	for (i = 0; i < 2; i++)
		if (fds[i] >= 0 && ssh_event_add_fd(ev, fds[i], POLLIN,
		    con_readable, s) == SSH_OK)
			watched[i] = fds[i];
	while (!rconsole_drained(s->con) && !s->con_failed) {
		rconsole_fds(s->con, fds);
		for (i = 0; i < 2; i++)
			if (watched[i] >= 0 && fds[i] < 0) {
				ssh_event_remove_fd(ev, watched[i]);
				watched[i] = -1;
			}
		if (rconsole_drained(s->con))
			break;
		if (ssh_event_dopoll(ev, 1000) == SSH_ERROR ||
		    !ssh_is_connected(s->ssh) || !ssh_channel_is_open(s->chan)) {
			gone = 1;
			break;
		}
		/* An interactive console nobody uses is ended; a command
		 * runs as long as it takes. */
		if (s->mode == M_SHELL && s->o->idle_timeout > 0 &&
		    now_s() - s->last_io > s->o->idle_timeout) {
			log_info("ssh: %s: %s: console idle for %ld seconds",
			    s->peer, s->user, s->o->idle_timeout);
			con_output(s, "\r\nidle timeout\r\n", 16, 1);
			gone = 1;
			break;
		}
	}
	for (i = 0; i < 2; i++)
		if (watched[i] >= 0)
			ssh_event_remove_fd(ev, watched[i]);
	rconsole_wait(s->con, gone || s->con_failed, status);
	rconsole_free(s->con);
	s->con = NULL;
	return 0;
}

/* ---- the connection ---- */

static void peer_name(int fd, char *out, size_t outsz)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[48];

	snprintf(out, outsz, "?");
	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return;
	if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), NULL,
	    0, NI_NUMERICHOST) == 0)
		snprintf(out, outsz, "%s", host);
}

static int bind_setup(ssh_bind b, const struct sshd_opts *o)
{
	int no = 0;

	if (ssh_bind_options_set(b, SSH_BIND_OPTIONS_PROCESS_CONFIG, &no) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_HOSTKEY, o->host_key) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_KEY_EXCHANGE, KEX_ALGOS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_CIPHERS_C_S, CIPHERS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_CIPHERS_S_C, CIPHERS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_HMAC_C_S, MACS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_HMAC_S_C, MACS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_HOSTKEY_ALGORITHMS,
	    HOSTKEY_ALGOS) < 0 ||
	    ssh_bind_options_set(b, SSH_BIND_OPTIONS_PUBKEY_ACCEPTED_KEY_TYPES,
	    PUBKEY_ALGOS) < 0)
		return err_set(ERR_INVAL, "ssh: %s", ssh_get_error(b));
	return 0;
}

/* Login, then wait for the channel's one request. The
 * login grace is an alarm: a client that has not started a session in
 * time is cut off by SIGALRM. */
static int handshake(struct sess *s, ssh_event ev)
{
	while (s->mode == M_NONE) {
		if (ssh_event_dopoll(ev, 1000) == SSH_ERROR ||
		    !ssh_is_connected(s->ssh))
			return err_set(ERR_IO, "ssh: %s: %s", s->peer,
			    s->authed ? "closed before a session" :
			    "closed before login");
	}
	return 0;
}

/* exit-status, EOF and close, then give the client a moment to close. */
static void finish(struct sess *s, ssh_event ev, int status)
{
	struct timespec t0, t;

	if (!s->chan || !ssh_channel_is_open(s->chan))
		return;
	ssh_channel_request_send_exit_status(s->chan, status);
	ssh_channel_send_eof(s->chan);
	ssh_channel_close(s->chan);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ssh_is_connected(s->ssh)) {
		if (ssh_event_dopoll(ev, 100) == SSH_ERROR)
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > END_GRACE_MS)
			break;
	}
}

/* The channel's request has been accepted: end the login grace, drop
 * privileges and, for the console, start it now, so that input arriving
 * in the same read as the request reaches it. SSH_OK or SSH_ERROR (the
 * request is refused). */
static int start_session(struct sess *s, enum mode mode)
{
	struct rconsole_spec spec;
	int r;

	alarm(0);
	if (s->o->drop && (r = s->o->drop(s->o->arg)) != 0) {
		log_warn("ssh: %s: %s: %s", s->peer, s->user, err_msg());
		return SSH_ERROR;
	}
	if (mode != M_SFTP && !role_has_console(s->role))
		mode = M_NOCONSOLE;
	if (mode == M_EXEC || mode == M_SHELL) {
		memset(&spec, 0, sizeof(spec));
		spec.console = s->o->console;
		spec.conf_file = s->o->conf_file;
		spec.readonly = s->role != ROLE_ADMIN;
		spec.command = mode == M_EXEC ? s->command : NULL;
		spec.pty = s->want_pty ? &s->pty : NULL;
		spec.output = con_output;
		spec.arg = s;
		if ((r = rconsole_start(&spec, &s->con)) != 0) {
			log_warn("ssh: %s: %s: console: %s", s->peer, s->user,
			    err_msg());
			return SSH_ERROR;
		}
	}
	s->mode = mode;
	return SSH_OK;
}

/* A role without a console asked for one (exec, shell, legacy scp, which
 * is an exec of "scp"): one line on stderr and exit status 1, so that the
 * client says why rather than "exec request failed". */
static int refuse_console(struct sess *s)
{
	char line[160];
	int n;

	log_info("ssh: %s: %s: console refused: %s role", s->peer, s->user,
	    role_name(s->role));
	n = snprintf(line, sizeof(line), "nodebak: %s users have no console, "
	    "only SFTP%s", role_name(s->role), s->want_pty ? "\r\n" : "\n");
	if (n > 0 && (size_t)n < sizeof(line))
		ssh_channel_write_stderr(s->chan, line, (uint32_t)n);
	return 1;
}

static int serve(struct sess *s, ssh_event ev)
{
	int r, status = 0;

	if ((r = handshake(s, ev)) != 0)
		return r;
	if (s->mode == M_SFTP) {
		log_info("ssh: %s: %s: sftp session", s->peer, s->user);
		ssh_event_remove_session(ev, s->ssh);
		r = run_sftp(s);
		if (r)
			log_info("ssh: %s: %s: sftp: %s", s->peer, s->user,
			    err_msg());
		ssh_event_add_session(ev, s->ssh);
		status = r ? 1 : 0;
	} else if (s->mode == M_NOCONSOLE) {
		status = refuse_console(s);
	} else {
		log_info("ssh: %s: %s: console %s%s", s->peer, s->user,
		    s->mode == M_EXEC ? "exec: " : "shell",
		    s->mode == M_EXEC ? s->command : "");
		if ((r = run_console(s, ev, &status)) != 0) {
			log_warn("ssh: %s: %s: console: %s", s->peer, s->user,
			    err_msg());
			status = 255;
		}
	}
	finish(s, ev, status);
	return 0;
}

int sshd_serve(int fd, const struct sshd_opts *o)
{
	struct ssh_server_callbacks_struct scb;
	struct sess s;
	ssh_bind b = NULL;
	ssh_event ev = NULL;
	long timeout;
	int one = 1, r;

	memset(&s, 0, sizeof(s));
	s.o = o;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, SIG_DFL);
	/* The listener may ignore SIGCHLD; the console's exit code needs it. */
	signal(SIGCHLD, SIG_DFL);
	alarm((unsigned)(o->login_timeout > 0 ? o->login_timeout : 60));
	peer_name(fd, s.peer, sizeof(s.peer));
	/* libssh 0.10 sets TCP_NODELAY only on the sockets it connects;
	 * without it Nagle holds back small STATUS replies to uploads. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (!(b = ssh_bind_new()) || !(s.ssh = ssh_new())) {
		r = err_set(ERR_NOMEM, "ssh: out of memory");
		goto out;
	}
	if ((r = bind_setup(b, o)) != 0)
		goto out;
	if (ssh_bind_accept_fd(b, s.ssh, fd) != SSH_OK) {
		r = err_set(ERR_PROTO, "ssh: %s", ssh_get_error(b));
		goto out;
	}
	fd = -1;	/* the session owns it now */
	/* Bounds every blocking libssh wait without its own timeout, such as
	 * a write to a client that has stopped reading. */
	timeout = o->idle_timeout > 0 ? o->idle_timeout : 300;
	ssh_options_set(s.ssh, SSH_OPTIONS_TIMEOUT, &timeout);
	memset(&scb, 0, sizeof(scb));
	scb.userdata = &s;
	scb.auth_password_function = auth_password;
	scb.auth_pubkey_function = auth_pubkey;
	scb.channel_open_request_session_function = on_channel_open;
	ssh_callbacks_init(&scb);
	ssh_set_server_callbacks(s.ssh, &scb);
	ssh_set_auth_methods(s.ssh, SSH_AUTH_METHOD_PASSWORD |
	    SSH_AUTH_METHOD_PUBLICKEY);
	if (ssh_handle_key_exchange(s.ssh) != SSH_OK) {
		r = err_set(ERR_PROTO, "ssh: %s: key exchange: %s", s.peer,
		    ssh_get_error(s.ssh));
		goto out;
	}
	if (!(ev = ssh_event_new()) || ssh_event_add_session(ev, s.ssh) != SSH_OK) {
		r = err_set(ERR_NOMEM, "ssh: cannot poll the session");
		goto out;
	}
	r = serve(&s, ev);
out:
	if (r)
		log_info("%s", err_msg());
	if (ev) {
		if (s.ssh)
			ssh_event_remove_session(ev, s.ssh);
		ssh_event_free(ev);
	}
	if (s.ssh) {
		ssh_disconnect(s.ssh);
		ssh_free(s.ssh);
	}
	if (b)
		ssh_bind_free(b);
	if (fd >= 0)
		close(fd);
	free(s.command);
	return r;
}
