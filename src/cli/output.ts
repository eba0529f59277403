/**
 * Everything the CLI prints goes through here: buffered stdout lines, one-JSON-object-per-line
 * output (bigints as numbers when exact, else strings), colours that honour NO_COLOR and only
 * appear on a terminal, and escaping of arbitrary bytes into printable text.
 */

/** Styles used by the commands; each maps to an SGR code. */
const STYLES = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, dim: 2, bold: 1 } as const;
export type Style = keyof typeof STYLES;

/** Whether colours are wanted on a stream: a terminal, NO_COLOR unset (any value disables), no --no-color. */
export function colourEnabled(stream: NodeJS.WriteStream, noColorFlag: boolean): boolean {
  if (noColorFlag) return false;
  // https://no-color.org: present and not empty disables colour.
  if ((process.env['NO_COLOR'] ?? '') !== '') return false;
  if (process.env['FORCE_COLOR'] !== undefined && process.env['FORCE_COLOR'] !== '0') return true;
  return stream.isTTY === true;
}

/** Buffered writer for stdout. Lines are flushed in 64 KiB chunks; a closed pipe ends the process quietly. */
export class Output {
  private chunks: string[] = [];
  private pending = 0;

  constructor(
    /** Emit one JSON object per line instead of text. */
    readonly json: boolean,
    /** Colour text output. */
    readonly colour: boolean,
    private readonly stream: NodeJS.WriteStream = process.stdout,
  ) {}

  /** Wraps `text` in a colour when colours are on. */
  paint(style: Style, text: string): string {
    return this.colour ? `\x1b[${STYLES[style]}m${text}\x1b[0m` : text;
  }

  /** A text line (ignored in --json mode, where only `record` output is printed). */
  line(text = ''): void {
    if (this.json) return;
    this.push(`${text}\n`);
  }

  /** One JSON object on its own line (ignored in text mode). */
  record(obj: Record<string, unknown>): void {
    if (!this.json) return;
    this.push(`${toJson(obj)}\n`);
  }

  private push(s: string): void {
    this.chunks.push(s);
    this.pending += s.length;
    if (this.pending >= 65536) this.flush();
  }

  /** Writes what is buffered. */
  flush(): void {
    if (this.chunks.length === 0) return;
    const data = this.chunks.join('');
    this.chunks = [];
    this.pending = 0;
    this.stream.write(data);
  }
}

/** JSON.stringify with bigints as numbers when exactly representable, else decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (typeof v === 'bigint')
      return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
    if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
    return v;
  });
}

/**
 * Bytes as printable ASCII: printable characters stay (backslash doubled), common controls become
 * \n \r \t, everything else \xNN. At most `max` input bytes are shown; the rest is summarised.
 */
export function escapeBytes(bytes: Uint8Array, max = Infinity): string {
  const n = Math.min(bytes.length, max);
  let out = '';
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x22) out += '\\"';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  if (n < bytes.length) out += `...(+${bytes.length - n} bytes)`;
  return out;
}

/** Bytes in a human unit: 512 B, 4.0 KiB, 61.0 MiB. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

/** A 32-bit value as 0x-prefixed, 8 hex digits. */
export function hex32(v: number): string {
  return `0x${(v >>> 0).toString(16).padStart(8, '0')}`;
}

/** `1 snapshot`, `2 snapshots`, `1,024 records`: a grouped count and the word in the right number. */
export function count(n: number | bigint, singular: string, plural = `${singular}s`): string {
  return `${grouped(n)} ${n === 1 || n === 1n ? singular : plural}`;
}

/** A number with thousands separators (1,234,567), independent of locale. */
export function grouped(n: number | bigint): string {
  const s = typeof n === 'bigint' ? n.toString() : Math.round(n).toString();
  return s.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
