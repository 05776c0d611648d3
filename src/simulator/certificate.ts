// The simulator signs its own certificate at start; clients trust it through the caFile setting.
import { generate } from 'selfsigned';

export interface SimulatorCertificate {
  key: string;
  cert: string;
}

export async function selfSignedCertificate(): Promise<SimulatorCertificate> {
  const now = Date.now();
  const pems = await generate([{ name: 'commonName', value: 'mde-alert-sync simulator' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now - 86_400_000),
    notAfterDate: new Date(now + 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }, { type: 7, ip: '::1' }] },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
