/** Rendering helpers: bordered tables, label/value blocks, JSON. */

export type Cell = string | number;

/** A table with `+---+` borders; numbers are right-aligned. */
export function renderTable(headers: readonly string[], rows: readonly (readonly Cell[])[]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => String(row[i]).length)));
  const border = `+${widths.map((w) => '-'.repeat(w + 2)).join('+')}+`;
  const line = (cells: readonly Cell[]) =>
    `|${cells
      .map((cell, i) => ` ${typeof cell === 'number' ? String(cell).padStart(widths[i]) : cell.padEnd(widths[i])} `)
      .join('|')}|`;
  return [border, line(headers), border, ...rows.map(line), border].join('\n') + '\n';
}

/** `label  value` lines with the values aligned. */
export function renderFields(fields: readonly (readonly [string, string])[], indent = '  '): string {
  const width = Math.max(...fields.map(([label]) => label.length));
  return fields.map(([label, value]) => `${indent}${label.padEnd(width)}  ${value}`).join('\n') + '\n';
}

/** The stable JSON form of a report: two-space indent, newline-terminated. */
export function renderJson(report: unknown): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

export const plural = (count: number, one: string, many = `${one}s`): string =>
  `${count} ${count === 1 ? one : many}`;

export const usd = (amount: number): string => `$${amount.toFixed(4)}`;

/** An ISO timestamp without seconds' fractions, or `-`. */
export const isoOrDash = (iso: string | null): string => (iso ? iso.replace(/\.\d{3}Z$/, 'Z') : '-');

export const roundTo = (value: number, decimals: number): number => {
  const factor = 10 ** decimals;
  return Math.round(value * factor) / factor;
};

/** A word as a POSIX shell reads it back unchanged: bare when it is safe, else in single quotes. */
export const shellQuote = (word: string): string => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);
