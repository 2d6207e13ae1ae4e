/**
 * Entry point of the adapter probe child process (see adapter-probe.ts): probes the backend
 * named in argv and prints one marked JSON line. Driver messages go to stderr on their own.
 */
import { BACKENDS, type Backend } from './dawn.ts';
import { PROBE_MARK, probeBackendHere } from './adapter-probe.ts';

const backend = process.argv[2] as Backend;
if (!BACKENDS.includes(backend)) {
  console.error(`adapter-probe: unknown backend '${process.argv[2]}'; expected one of ${BACKENDS.join(', ')}`);
  process.exit(2);
}
const report = await probeBackendHere(backend);
process.stdout.write(PROBE_MARK + JSON.stringify(report) + '\n');
