/** whoami: tells the client its own address, port and transport (CoreDNS plugin/whoami). */
import { FLAG, TYPE } from '../../dns/constants.js';
import type { RR } from '../../dns/message.js';
import type { Handler } from '../../plugin.js';
import type { Query } from '../../query.js';

export class WhoamiHandler implements Handler {
  readonly name = 'whoami';

  serve(q: Query): number {
    const m = q.newReply(0, true);
    const owner = q.question.name;
    const addr: RR = q.remote.family === 6
      ? { name: owner, type: TYPE.AAAA, class: q.qclass, ttl: 0, data: q.remote.address }
      : { name: owner, type: TYPE.A, class: q.qclass, ttl: 0, data: q.remote.address };
    // The SRV owner is `_<proto>.<qname>`; for the root the dot is not doubled.
    const srvName = owner === '.' ? `_${q.proto}.` : `_${q.proto}.${owner}`;
    m.additional.push(addr, { name: srvName, type: TYPE.SRV, class: q.qclass, ttl: 0, data: { priority: 0, weight: 0, port: q.remote.port, target: '.' } });
    m.flags |= FLAG.AA;
    return q.reply(m, this.name);
  }
}
