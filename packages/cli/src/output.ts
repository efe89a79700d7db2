import { writeSync } from 'node:fs';

/** Thrown when stdout's reader went away (`fsconv ls | head`): stop producing, exit quietly. */
export class OutputClosed extends Error {}

/**
 * Buffered line output to a file descriptor: one write per 64 KiB rather than one per line
 * (`ls` on 300k entries), synchronous so that nothing is lost at exit.
 */
export class LineOutput {
  private buffer = '';
  constructor(private readonly fd = 1) {}

  line = (s: string): void => {
    this.buffer += `${s}\n`;
    if (this.buffer.length >= 65536) this.flush();
  };

  flush(): void {
    let data = Buffer.from(this.buffer, 'utf8');
    this.buffer = '';
    while (data.length > 0) {
      try {
        const n = writeSync(this.fd, data);
        data = data.subarray(n);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') continue;
        if (code === 'EPIPE') throw new OutputClosed();
        throw e;
      }
    }
  }
}
