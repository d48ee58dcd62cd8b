/** The self-query loop sends: one UDP HINFO query to our own listener, waiting for any reply. */
import dgram from 'node:dgram';
import { CLASS, TYPE } from '../../dns/constants.js';
import { encodeMessage } from '../../dns/wire.js';

/** Send `HINFO qname` to host:port over UDP; resolves true when any reply arrives within `timeoutMs`. */
export function probe(host: string, port: number, qname: string, timeoutMs = 2000): Promise<boolean> {
  const wire = encodeMessage({
    id: Math.floor(Math.random() * 0x10000),
    flags: 0x0100,
    question: [{ name: qname, type: TYPE.HINFO, class: CLASS.IN }],
    answer: [],
    authority: [],
    additional: [],
  });
  const v6 = host.includes(':');
  return new Promise((resolve) => {
    const s = dgram.createSocket(v6 ? 'udp6' : 'udp4');
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on('error', () => done(false));
    s.on('message', () => done(true));
    s.send(wire, port, host);
  });
}
