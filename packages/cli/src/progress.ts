/**
 * A one-line progress bar with an ETA on stderr, drawn only on a terminal (never into pipes,
 * logs or JSON output), redrawn at most ten times a second.
 */
export class ProgressBar {
  private readonly enabled: boolean;
  private started = Date.now();
  private lastDraw = 0;
  private phase = '';

  constructor(quiet = false, private readonly stream: NodeJS.WriteStream = process.stderr) {
    this.enabled = !quiet && stream.isTTY === true;
  }

  update(phase: string, done: number, total: number): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (phase !== this.phase) {
      this.phase = phase;
      this.started = now;
    } else if (now - this.lastDraw < 100 && done < total) {
      return;
    }
    this.lastDraw = now;
    const frac = total > 0 ? Math.min(1, done / total) : 1;
    const width = 30;
    const filled = Math.round(frac * width);
    const elapsed = (now - this.started) / 1000;
    const eta = frac > 0 && frac < 1 && elapsed > 1 ? ` ETA ${formatSeconds((elapsed / frac) * (1 - frac))}` : '';
    const line = `${phase.padEnd(12)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${(frac * 100).toFixed(0).padStart(3)}%${eta}`;
    this.stream.write(`\r${line}\x1b[K`);
  }

  done(): void {
    if (this.enabled && this.phase !== '') this.stream.write('\r\x1b[K');
    this.phase = '';
  }
}

function formatSeconds(s: number): string {
  if (s < 60) return `${Math.ceil(s)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.ceil(s % 60)).padStart(2, '0')}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}
