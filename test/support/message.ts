/** A reply Message for codec tests: an A question for web.default.svc.cluster.local, empty sections, `over` on top. */
import { CLASS, FLAG, TYPE } from '../../lib/dns/constants.js';
import type { Message } from '../../lib/dns/message.js';

export function replyMessage(over: Partial<Message> = {}): Message {
  return {
    id: 42,
    flags: FLAG.QR | FLAG.AA | FLAG.RD,
    question: [{ name: 'web.default.svc.cluster.local.', type: TYPE.A, class: CLASS.IN }],
    answer: [],
    authority: [],
    additional: [],
    ...over,
  };
}
