// The last-resort abort handler the build routes every AssemblyScript abort to
// (`--use abort=weirAbort`): a failed bounds check, allocation failure or throw. It cannot
// recover (a trap follows and Envoy fails the VM; FAIL_RELOAD starts a new one for new
// connections), so it only makes the failure diagnosable: a critical log line with the message
// and source position, and a Denied access-log entry for the connection being served.
import { LogLevel } from '../abi/imports';
import { logText } from '../abi/host';
import { EntryType } from '../access-log/access-log';
import { runningConnection } from '../contract/running-connection';
import { flushAccessLogNow } from '../access-log/access-log-queue';

let aborting = false;

// @ts-ignore: decorator
@global
export function weirAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  if (!aborting) {
    aborting = true; // an abort while reporting (e.g. out of memory again) must not recurse
    const where = (fileName === null ? '?' : fileName) + ':' + line.toString() + ':' + column.toString();
    const what = message === null ? 'abort' : message;
    const reason = 'filter trapped: ' + what + ' at ' + where + '; the VM is restarted for new connections (FAIL_RELOAD)';
    logText(LogLevel.Critical, 'weir: ' + reason);
    const connection = runningConnection();
    if (connection !== null) {
      connection.fields.clear();
      connection.logAsIs(EntryType.Denied, reason);
    }
    flushAccessLogNow(); // send what was collected, the Denied entry included
  }
  unreachable();
}
