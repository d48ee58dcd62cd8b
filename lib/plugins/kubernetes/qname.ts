/**
 * The kubernetes name grammar (CoreDNS plugin/kubernetes/parse.go parseRequest) as a pure function over the part
 * of the query name left of the zone, lower-cased and without the trailing dot:
 *
 *   ''  'svc'  'pod'                       apex-like: no records, no error
 *   <ns>.svc | <ns>.pod                    namespace only
 *   <svc>.<ns>.svc                         service (pod name for `pod`)
 *   <ep>.<svc>.<ns>.svc                    endpoint name
 *   <port>.<proto>.<svc>.<ns>.svc          port and protocol, one leading `_` stripped from each
 *   anything longer, or a last label other than svc/pod: invalid
 */
import { splitLabels } from '../../dns/name.js';

/** What a parsed name is. */
export const NAME_KIND = {
  /** The zone itself, `svc.<zone>` or `pod.<zone>`: exists, answers nothing (TXT aside). */
  APEX: 0,
  /** Not a kubernetes name: NXDOMAIN. */
  INVALID: 1,
  /** A name under `svc`. */
  SVC: 2,
  /** A name under `pod`. */
  POD: 3,
} as const;

/**
 * A parsed name. Reused by the handler for every query (filled in place by {@link parseName}) so that parsing
 * allocates only the label substrings it needs.
 */
export class ParsedName {
  kind: number = NAME_KIND.APEX;
  namespace = '';
  /** Service name (or pod name under `pod`); '' for a namespace-only name. */
  service = '';
  /** `service.namespace`, the index key; '' when there is no service label. */
  key = '';
  /** Endpoint label; '' when absent. */
  endpoint = '';
  /** Port name and protocol with one leading `_` stripped; '' when absent (or when the label was a bare `_`). */
  port = '';
  proto = '';
}

function stripUnderscore(s: string): string {
  return s.charCodeAt(0) === 95 /* _ */ ? s.slice(1) : s;
}

/** Fills `out` from `rel` (the query name without the zone, lower case, no trailing dot; '' for the apex). */
export function parseName(rel: string, out: ParsedName): void {
  out.kind = NAME_KIND.APEX;
  out.namespace = '';
  out.service = '';
  out.key = '';
  out.endpoint = '';
  out.port = '';
  out.proto = '';
  if (rel === '' || rel === 'svc' || rel === 'pod') return;
  // Escaped dots (`a\.b`) do not separate labels: take the careful path for such names.
  if (rel.indexOf('\\') !== -1) return parseLabels(splitLabels(rel), out);

  let dot = rel.lastIndexOf('.');
  const last = dot === -1 ? rel : rel.slice(dot + 1);
  if (last === 'svc') out.kind = NAME_KIND.SVC;
  else if (last === 'pod') out.kind = NAME_KIND.POD;
  else {
    out.kind = NAME_KIND.INVALID;
    return;
  }
  if (dot === -1) return;

  const nsEnd = dot;
  dot = rel.lastIndexOf('.', nsEnd - 1);
  out.namespace = rel.slice(dot + 1, nsEnd);
  if (dot === -1) return;

  const svcEnd = dot;
  dot = rel.lastIndexOf('.', svcEnd - 1);
  out.service = rel.slice(dot + 1, svcEnd);
  out.key = rel.slice(dot + 1, nsEnd);
  if (dot === -1) return;

  const restEnd = dot;
  const first = rel.indexOf('.');
  if (first === restEnd) {
    out.endpoint = rel.slice(0, restEnd);
    return;
  }
  if (rel.indexOf('.', first + 1) === restEnd) {
    out.port = stripUnderscore(rel.slice(0, first));
    out.proto = stripUnderscore(rel.slice(first + 1, restEnd));
    return;
  }
  // CoreDNS: "too long to answer" (zonal and multicluster names are not supported).
  out.kind = NAME_KIND.INVALID;
}

function parseLabels(labels: string[], out: ParsedName): void {
  let i = labels.length - 1;
  const last = labels[i];
  if (last === 'svc') out.kind = NAME_KIND.SVC;
  else if (last === 'pod') out.kind = NAME_KIND.POD;
  else {
    out.kind = NAME_KIND.INVALID;
    return;
  }
  if (--i < 0) return;
  out.namespace = labels[i]!;
  if (--i < 0) return;
  out.service = labels[i]!;
  out.key = `${out.service}.${out.namespace}`;
  if (--i < 0) return;
  if (i === 0) out.endpoint = labels[0]!;
  else if (i === 1) {
    out.port = stripUnderscore(labels[0]!);
    out.proto = stripUnderscore(labels[1]!);
  } else out.kind = NAME_KIND.INVALID;
}

/**
 * The IP text in a pod-name label as CoreDNS derives it before parsing (kubernetes.go findPods): exactly three
 * dashes and no `--` reads as IPv4 (dashes become dots), anything else as IPv6 (dashes become colons). Not
 * validated or canonicalised: `pods verified` compares this text with the Pod's `status.podIP` as is.
 */
export function podIPText(label: string): string {
  let dashes = 0;
  for (let i = 0; i < label.length; i++) if (label.charCodeAt(i) === 45) dashes++;
  return dashes === 3 && label.indexOf('--') === -1 ? label.replaceAll('-', '.') : label.replaceAll('-', ':');
}
