"""ftp_util.py: shared pieces of the FTP/FTPS scenario tests (ftp-*.t)."""
import ftplib
import ssl


def insecure_context():
    """A client TLS context that accepts the server's self-signed pair."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class ReuseFTP_TLS(ftplib.FTP_TLS):
    """ftplib's FTP_TLS, but data connections resume the control
    connection's TLS session, as nodebak-ftpd requires (and curl, lftp and
    FileZilla do); stock ftplib does not."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
        return conn, size
