import net from 'node:net';
import tls from 'node:tls';

/**
 * Asks the server for a TLS 1.2 renegotiation from the client side (what testssl.sh's
 * "client-initiated renegotiation" check and `openssl s_client -tls1_2` + `R` do).
 * 'accepted' when the new handshake completed, 'refused' when the server said no or closed.
 */
export function tryRenegotiate(socket: tls.TLSSocket, timeoutMs = 5_000): Promise<{ outcome: 'accepted' | 'refused'; detail: string }> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (outcome: 'accepted' | 'refused', detail: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ outcome, detail });
    };
    const timer = setTimeout(() => finish('refused', 'no answer'), timeoutMs);
    socket.on('error', (error: NodeJS.ErrnoException) => finish('refused', error.code ?? error.message));
    socket.on('close', () => finish('refused', 'closed'));
    const started = socket.renegotiate({ rejectUnauthorized: false }, (error) => {
      if (error) finish('refused', (error as NodeJS.ErrnoException).code ?? error.message);
      // Renegotiation done: prove the link still carries data after it.
      else finish('accepted', 'renegotiated');
    });
    if (!started) finish('refused', 'renegotiate() not started');
  });
}

/** STARTTLS on a plain SMTP port, then a TLS connection with the given options (e.g. TLS 1.2 only). */
export async function smtpStartTls(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  const plain = net.connect(port, '127.0.0.1');
  let buffer = '';
  const waitFor = (pattern: RegExp) => new Promise<void>((resolve, reject) => {
    const check = () => {
      if (pattern.test(buffer)) {
        plain.off('data', onData);
        resolve();
      }
    };
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      check();
    };
    plain.on('data', onData);
    plain.once('error', reject);
    check();
  });
  await waitFor(/^220 .*\r\n/m);
  buffer = '';
  plain.write('EHLO probe.test\r\n');
  await waitFor(/^250 .*\r\n/m);
  buffer = '';
  plain.write('STARTTLS\r\n');
  await waitFor(/^220 .*\r\n/m);
  return new Promise((resolve, reject) => {
    const secure = tls.connect({ socket: plain, rejectUnauthorized: false, ...options }, () => resolve(secure));
    secure.once('error', reject);
  });
}

/** Implicit TLS (port 465 style, the portal) with the given options. */
export function tlsDial(port: number, options: tls.ConnectionOptions = {}): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options }, () => resolve(socket));
    socket.once('error', reject);
  });
}
