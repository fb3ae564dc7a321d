// The agent's last-resort abort handler (the build passes --use abort=agentAbort): an
// AssemblyScript abort becomes a trap that fails the agent VM, so log why at critical first.
// Parsers keep enforcing the last published policy; nothing updates it until Envoy restarts.
import { LogLevel } from '../sdk/abi/imports';
import { logText } from '../sdk/abi/host';

let aborting = false;

// @ts-ignore: decorator
@global
export function agentAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  if (!aborting) {
    aborting = true;
    const where = (fileName === null ? '?' : fileName) + ':' + line.toString() + ':' + column.toString();
    logText(LogLevel.Critical, 'weir agent: trapped: ' + (message === null ? 'abort' : message) + ' at ' + where + '; policy updates stop, parsers keep the last published policy');
  }
  unreachable();
}
