/**
 * A Node.js that can bind with SO_REUSEPORT, for the multi-worker tests: the suite itself runs on Node 20, which
 * cannot. CLUSTERDNS_TEST_NODE names one; otherwise Node 24 from the npm registry's `node` package, through npx (its
 * cache makes later runs fast). Tests skip, with this reason, when none can be had.
 */
import { execFile } from 'node:child_process';

export type ReusePortNode = { path: string; skip?: undefined } | { path?: undefined; skip: string };

let found: Promise<ReusePortNode> | undefined;

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  const { NODE_OPTIONS: _hooks, ...env } = process.env;
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { timeout: timeoutMs, env }, (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout.trim()))),
  );
}

/** The path of a Node.js with reusePort, or why there is none. */
export function reusePortNode(): Promise<ReusePortNode> {
  found ??= (async () => {
    try {
      const path = process.env.CLUSTERDNS_TEST_NODE || (await run('npx', ['-y', '-p', 'node@24', 'node', '-p', 'process.execPath'], 180_000));
      const version = await run(path, ['-p', 'process.version'], 30_000);
      const [major, minor] = version.slice(1).split('.').map(Number) as [number, number];
      if (major < 22 || (major === 22 && minor < 12)) return { skip: `${path} is Node.js ${version}, which has no reusePort` };
      return { path };
    } catch (err) {
      return { skip: `no Node.js with reusePort: npx -p node@24 failed (${(err as Error).message.split('\n')[0]})` };
    }
  })();
  return found;
}
