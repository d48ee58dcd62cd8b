/** Version strings printed by `-version` and at start-up. */
import { readFileSync } from 'node:fs';

/** The package version, read once from package.json next to the sources or the build. */
export const VERSION: string = (() => {
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      return (JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next layout (sources vs dist/)
    }
  }
  return '0.0.0';
})();

/** `clusterdns-0.1.0` and `linux/x64, node v20.x`: the two lines CoreDNS prints as `CoreDNS-x` and `os/arch, go`. */
export function versionLines(): string[] {
  return [`clusterdns-${VERSION}`, `${process.platform}/${process.arch}, node ${process.version}`];
}
