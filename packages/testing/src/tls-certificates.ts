import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsCertificates {
  /** The private CA's certificate, to trust (NODE_EXTRA_CA_CERTS, redis-cli --cacert). */
  ca: string;
  /** The server's certificate and key, signed by that CA, for redis-server's tls-cert-file and tls-key-file. */
  cert: string;
  key: string;
}

/**
 * A private CA and a server certificate it signs, made with `openssl` in `dir`, valid one day.
 * `subjectAltName` says what the certificate names, e.g. `DNS:localhost,IP:127.0.0.1`.
 */
export function makeTlsCertificates(dir: string, subjectAltName: string): TlsCertificates {
  const openssl = (...args: string[]) => {
    const run = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${run.error?.message ?? run.stderr}`);
  };
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=conveyor-test-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=${subjectAltName}\n`);
  openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
  return { ca: join(dir, 'ca.pem'), cert: join(dir, 'server.pem'), key: join(dir, 'server.key') };
}
