// Where memcached 1.6's try_read_command_ascii (proto_text.c) ends a request line: at the first
// "\n", dropping a "\r" before it only when something precedes the "\r". Tokens and numbers are
// read with the SDK's strict fields (strict-fields.ts). No allocation.
import { Ascii, ByteView } from '../../sdk/index';

// Where a request or reply line ends: `lineEnd` excludes the "\r\n" (or "\n"), `next` is the
// offset after the "\n". found is false until the "\n" has arrived.
export class LineBounds {
  found: bool = false;
  lineEnd: i32 = 0;
  next: i32 = 0;

  locate(data: ByteView): void {
    const lf = data.indexOf(<u8>Ascii.LF, 0);
    this.found = lf >= 0;
    if (!this.found) return;
    // memcached drops the "\r" only when the line has something before it: (el - rcurr) > 1
    this.lineEnd = lf > 1 && data.byteAt(lf - 1) == Ascii.CR ? lf - 1 : lf;
    this.next = lf + 1;
  }
}
