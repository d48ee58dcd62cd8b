/**
 * Domain name helpers on presentation-form strings (`web.default.svc.cluster.local.`). Names decoded from the
 * wire escape `.` and `\` inside labels as `\.`/`\\` and unprintable bytes as `\DDD` (as miekg/dns does), so a
 * dot preceded by an odd number of backslashes is not a label separator. All helpers are plain string scans.
 */

/** `s` made absolute: a trailing dot is added unless it is already there (an escaped final dot does not count). */
export function fqdn(s: string): string {
  return isFqdn(s) ? s : s + '.';
}

/** True when `s` ends with an unescaped dot. */
export function isFqdn(s: string): boolean {
  const n = s.length;
  if (n === 0 || s.charCodeAt(n - 1) !== 46) return false;
  return !isEscaped(s, n - 1);
}

// True when the character at `i` is escaped, i.e. preceded by an odd number of backslashes.
function isEscaped(s: string, i: number): boolean {
  let k = i - 1;
  while (k >= 0 && s.charCodeAt(k) === 92) k--;
  return ((i - 1 - k) & 1) === 1;
}

// Index of the next label-separating dot at or after `from`, or -1.
function nextDot(s: string, from: number): number {
  let i = s.indexOf('.', from);
  while (i > 0 && s.charCodeAt(i - 1) === 92 && isEscaped(s, i)) i = s.indexOf('.', i + 1);
  return i;
}

/**
 * True when `child` equals `parent` or lies below it. Both must be lower-case absolute names; `.` is the parent
 * of everything. Compares whole labels (`xcluster.local.` is not under `cluster.local.`).
 */
export function isSubdomain(child: string, parent: string): boolean {
  const pl = parent.length;
  if (pl === 1 && parent === '.') return true;
  const cl = child.length;
  if (cl === pl) return child === parent;
  if (cl < pl || !child.endsWith(parent)) return false;
  const sep = cl - pl - 1;
  return child.charCodeAt(sep) === 46 && !isEscaped(child, sep);
}

/** Number of labels in an absolute name: `.` → 0, `a.b.` → 2. Escaped dots do not split labels. */
export function labelCount(name: string): number {
  if (name === '.') return 0;
  let count = 0;
  let i = nextDot(name, 0);
  while (i !== -1) {
    count++;
    i = nextDot(name, i + 1);
  }
  // A relative name has one more label than dots.
  return isFqdn(name) ? count : count + 1;
}

/** Labels of a name in order, in presentation form (escapes kept): `a.b.c.` → ['a', 'b', 'c']; `.` → []. */
export function splitLabels(name: string): string[] {
  const out: string[] = [];
  if (name === '.' || name === '') return out;
  let start = 0;
  let i = nextDot(name, 0);
  while (i !== -1) {
    out.push(name.slice(start, i));
    start = i + 1;
    i = nextDot(name, start);
  }
  if (start < name.length) out.push(name.slice(start));
  return out;
}

/** The first label of a name (`web` for `web.default.svc.`); '' for the root. */
export function firstLabel(name: string): string {
  const i = nextDot(name, 0);
  return i === -1 ? name : name.slice(0, i);
}

/** The name with its first label removed (`default.svc.` for `web.default.svc.`); null for the root. */
export function parentName(name: string): string | null {
  if (name === '.' || name === '') return null;
  const i = nextDot(name, 0);
  if (i === -1 || i === name.length - 1) return '.';
  return name.slice(i + 1);
}

/**
 * The part of `name` left of `zone`, without the separating dot: `web.default.svc` for
 * (`web.default.svc.cluster.local.`, `cluster.local.`); '' when name is the zone; null when name is not in the
 * zone. Both arguments lower-case and absolute.
 */
export function stripZone(name: string, zone: string): string | null {
  if (!isSubdomain(name, zone)) return null;
  if (zone === '.') return name === '.' ? '' : name.slice(0, -1);
  if (name.length === zone.length) return '';
  return name.slice(0, name.length - zone.length - 1);
}

/**
 * Whether a name taken from a Kubernetes object (service, namespace, ExternalName, hostname) can be put on the
 * wire: non-empty labels of at most 63 octets, at most 255 octets in all, printable ASCII, no backslash (escapes
 * are not expected there). A trailing dot is optional.
 */
export function validName(s: string): boolean {
  let n = s.length;
  if (n === 0) return false;
  if (s.charCodeAt(n - 1) === 46) n--;
  if (n === 0) return false; // '.' alone is the root, not a usable name here
  // Wire length is the text length + 1 (first length byte) + 1 (root) for a name without escapes.
  if (n + 2 > 255) return false;
  let labelLen = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (labelLen === 0) return false;
      labelLen = 0;
      continue;
    }
    if (c <= 32 || c >= 127 || c === 92) return false;
    if (++labelLen > 63) return false;
  }
  return labelLen > 0;
}

/**
 * Length of a name on the wire without compression (sum of labels plus length bytes plus the root byte), counting
 * each `\DDD` or `\c` escape as one octet.
 */
export function nameWireLength(name: string): number {
  if (name === '.') return 1;
  let len = 1;
  const n = name.length;
  for (let i = 0; i < n; i++) {
    const c = name.charCodeAt(i);
    if (c === 92) {
      const d = name.charCodeAt(i + 1);
      i += d >= 48 && d <= 57 ? 3 : 1;
    }
    len++;
  }
  // Each label contributes its octets plus one length byte; a relative name needs one more length byte.
  return isFqdn(name) ? len : len + 1;
}
