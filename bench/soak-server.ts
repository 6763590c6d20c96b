/**
 * `genai-ledger serve` for the soak bench: the real serve command, plus the process's own memory figures
 * (RSS, V8 heap, external/array buffers) sent to the parent over the IPC channel every SOAK_SAMPLE_MS, since
 * the V8 heap cannot be read from outside the process.
 */
import { runServe } from '../src/cli/serve-command.js';

const every = Number(process.env.SOAK_SAMPLE_MS ?? 5000);
const report = () => process.send?.({ at: Date.now(), ...process.memoryUsage() });
report();
setInterval(report, every).unref();
process.exitCode = await runServe(process.argv.slice(2));
process.disconnect?.();
